// Helpers shared by the cleanup passes (fold-constants, hoist-constants,
// eliminate-*, fold-shapes, fuse-reshape-chain, dedup-initializers,
// eliminate-common-subexpressions): which constants a pass may rely on,
// static shapes, and IR surgery that keeps the names of graph outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "ir/ir.h"
#include "pass/pass.h"

namespace effopt::passes::cleanup {

// True when `v` is an initializer a caller can replace at run time: in the
// main graph of an IR >= 4 model, an initializer also listed among the graph
// inputs is only a default (ONNX Runtime lets feeds override it; for IR < 4
// it treats such initializers as constants). Initializers that are inputs of
// a subgraph or function are treated as overridable too (conservative).
bool is_overridable_initializer(const Value* v, const Model& m);

// The constant tensor behind `v` (initializer, Constant node, Identity chain
// of those) that a pass may fold with, or nullptr: overridable initializers
// and sparse initializers are not constants here.
TensorPtr fixed_constant(const Value* v, const Model& m);

// True when `g` is (inside) a model-local function body: functions have no
// initializers, so passes that create initializers skip them.
bool in_function_body(const Graph& g, const Model& m);

// All dims of a tensor value, when every one is known.
std::optional<std::vector<int64_t>> static_shape(const Value* v);
// The rank of a tensor value, when known.
std::optional<size_t> known_rank(const Value* v);
// Elements of an int32/int64 tensor as int64 (scalars and 1-D alike).
std::optional<std::vector<int64_t>> tensor_ints(const Tensor& t);
// Every element of a numeric tensor equals `x` (float types compared as
// double; float16/bfloat16 decoded). False for strings and empty tensors.
bool tensor_all_equal(const Tensor& t, double x);

// "Op 'name'" (or "Op #index" when unnamed) for notes.
std::string node_label(const Node& n);

// A new int64 1-D (or scalar when `scalar`) tensor named `name`.
TensorPtr make_int64_tensor(std::string name, const std::vector<int64_t>& values, bool scalar = false);

// Values of a graph that must keep their identity: its graph outputs, and
// values a subgraph below it returns directly as one of its own outputs
// (ONNX lets an If branch return an outer-scope value). Built once per pass
// run; values stay valid while the run edits the graph.
class Pinned {
 public:
  explicit Pinned(Graph& g);
  bool operator()(const Value* v) const { return v->is_graph_output() || outer_.count(v) > 0; }
  // Pinned, or read by a node.
  bool is_read(const Value* v) const { return !v->uses().empty() || (*this)(v); }

 private:
  std::unordered_set<const Value*> outer_;
};

// Moves every node use of `v` elsewhere: returns the uses (and sets those
// inputs to nullptr) so the caller can give them back with restore_uses.
std::vector<Use> detach_uses(Value* v);
void restore_uses(Value* v, const std::vector<Use>& uses);

// Erases `n` after clearing the inputs of every node in its subgraphs, so
// outer-scope values keep exact use lists. Outputs of `n` must be unused.
void erase_node_deep(Graph& g, Node* n);

// Replaces node `n` by initializers of `g` holding `tensors` (one per output,
// in order; null outputs skipped): each output value becomes the initializer
// of the same name, so uses and names stay. Tensors are renamed to the output
// names (a shallow copy shares the bytes).
void replace_node_by_initializers(Graph& g, Node* n, const std::vector<TensorPtr>& tensors);

// Removes `n`, whose output `out_index` computes exactly the value `in` (and
// whose other outputs are unused). When that output is a graph output, its
// name is kept by making `in`'s producer write it instead, which needs `in`
// to be produced by a node of `g` and to be neither a graph input nor a graph
// output; otherwise nothing changes and false is returned (with *why set).
bool bypass_node(Graph& g, Node* n, size_t out_index, Value* in, const Pinned& pinned, std::string* why = nullptr);

// Erases `n` if none of its outputs is used or a graph output, then the
// producers of its inputs (in `g`) that became dead the same way. Returns how
// many nodes were erased.
size_t erase_if_dead(Graph& g, Node* n, const Pinned& pinned);

// True if the op is an ONNX op whose results are random (never merged or folded).
bool is_nondeterministic_op(const Node& n);

}  // namespace effopt::passes::cleanup

namespace effopt::passes::cleanup {

// Runs node `n` on the executor with constant `inputs` (one per input slot,
// nullptr for absent optional inputs) and returns one tensor per output
// (nullptr for absent outputs). Errors when the executor has no kernel for
// the op, or the kernel refuses the inputs. Nodes with subgraphs are refused.
Expected<std::vector<TensorPtr>> evaluate_node(const Node& n, const std::vector<TensorPtr>& inputs,
                                               const pass::PassContext& ctx);

// Folds `n` when every input is a fixed constant and every output is at most
// `max_bytes`: evaluates it and replaces it by initializers. Returns false
// (and notes why when the node was a candidate) otherwise. Never folds
// Constant, Identity, nondeterministic ops, Q/DQ, nodes with subgraphs or
// nodes writing a graph output. Counts tensors-folded and bytes-folded.
bool try_fold_node(Graph& g, Node* n, pass::PassContext& ctx, uint64_t max_bytes, const Pinned& pinned,
                   pass::PassResult& r);

// The checks and the evaluation of try_fold_node without changing the graph:
// `n`'s results given constant `inputs` (one per input slot, nullptr for
// absent ones; at least one present), or nullopt (with a note when `n` was a
// candidate). fold-constants decides itself which results to store.
std::optional<std::vector<TensorPtr>> fold_results(Node* n, const std::vector<TensorPtr>& inputs,
                                                   pass::PassContext& ctx, uint64_t max_bytes, const Pinned& pinned,
                                                   pass::PassResult& r);

}  // namespace effopt::passes::cleanup

namespace effopt::passes::cleanup {

// IR < 4 requires every initializer of the main graph to be listed among its
// inputs. Passes that add initializers call this first: it moves the model to
// IR 4 and detaches the initializer inputs (ONNX Runtime treats initializer
// inputs of IR < 4 models as constants, which plain initializers of IR 4 are
// too, so nothing a caller can feed changes). Counts "ir-version-raised".
void allow_plain_initializers(Model& m, pass::PassResult& r);

}  // namespace effopt::passes::cleanup

namespace effopt::passes::cleanup {

// A value name derived from `hint` that is free in `g`, its enclosing graphs
// and every subgraph below it (the verifier forbids shadowing).
std::string fresh_name(Graph& g, std::string_view hint);

}  // namespace effopt::passes::cleanup
