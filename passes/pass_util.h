// The helper layer every pass in passes/ is written on: one answer to each
// question a pass asks, and the pattern driver run_pattern.
//
// - Which constants may a pass fold or rely on? fixed_constant (below) and
//   every helper reading a constant's value through it; never
//   ir/constants.h's constant_tensor, which also sees overridable
//   initializers.
// - IR < 4 models (initializers listed among the main graph's inputs): the
//   rule is pass::allow_plain_initializers (lib/pass/pass.h); add_constant and
//   replace_node_by_initializers apply it, so passes never handle that form.
// - Which values must keep their names? pass::Pinned (lib/pass/pass.h),
//   computed once per graph and pass run: PassContext::pinned. The helpers
//   below that remove or bypass values take it.
// - New names: Graph::unique_name (free in enclosing and nested graphs too).
// - Function bodies have no initializers: in_function_body; add_constant
//   writes a Constant node there.
//
// Implemented in pass_util.cpp (constants, matching, surgery), pass_util_tensor.cpp
// (tensor values) and pass_util_fold.cpp (evaluating nodes on the executor).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "ir/dtype.h"
#include "ir/ir.h"
#include "pass/pass.h"

namespace effopt::passes::util {

using pass::Pinned;

// ---------------------------------------------------------------- constants

// True when `v` is an initializer a caller can replace at run time: one
// listed among its own graph's inputs. In the main graph (IR >= 4, which is
// all a pass sees: pass::allow_plain_initializers) it is only a default that a
// feed of the same name overrides, in ONNX Runtime too (whose fusions refuse
// such initializers); inputs of a subgraph are bound by its caller.
bool is_overridable_initializer(const Value* v);

// The constant tensor behind `v` that a pass may fold or rely on: a plain
// initializer (not overridable), a Constant node (not one whose value is a
// function attribute reference), or an Identity chain ending in one. nullptr
// for anything else, including sparse initializers. Every helper below that
// reads a constant goes through it.
TensorPtr fixed_constant(const Value* v);
bool is_fixed_constant(const Value* v);

// A constant's elements as doubles (float, double, float16, bfloat16, ints,
// bool); nullopt for other types or when `v` is not a fixed constant.
std::optional<std::vector<double>> constant_doubles(const Value* v);
std::optional<std::vector<int64_t>> constant_ints(const Value* v);  // int32/int64 constants
// A constant whose every element equals one value (any shape; at least one element).
std::optional<double> constant_splat(const Value* v);
// A constant operand of an elementwise op on an [N, C, ...] tensor of rank
// `rank` that varies at most along axis 1 (numpy broadcasting: [C, 1, 1],
// [1, C, 1, 1], scalars, all-ones shapes), expanded to one value per channel;
// nullopt otherwise (also when it would broadcast the result to a larger shape).
std::optional<std::vector<double>> per_channel_constant(const Value* v, size_t rank, int64_t channels);

// |a - b| <= rel * |b|: a constant close enough to the value a pattern wants.
bool near(double a, double b, double rel);

// Axes of a Squeeze/Unsqueeze/Reduce*/Pad-style node: from attribute `attr`
// before `input_since` (opset), from input `input_index` from then on.
// nullopt: not given (absent attribute / empty input). `ok` false: given but
// not constant.
struct AxesForm {
  std::optional<std::vector<int64_t>> axes;
  bool ok = true;
};
AxesForm node_axes(const Node* n, int64_t opset, int64_t input_since, size_t input_index,
                   std::string_view attr = "axes");

// A stored constant tensor a lossy pass may rewrite: a plain initializer (not
// one listed among its graph's inputs, which a caller could feed) or a
// Constant node's `value` (not a function attribute reference), in `graph`.
struct StoredConstant {
  Graph* graph;
  Value* value;
  TensorPtr tensor;
};
// Every stored constant of `g` and of the subgraphs below it (initializers
// first, then Constant nodes in node order, each followed by its subgraphs').
// quantize and prune plan over these.
std::vector<StoredConstant> stored_constants(Graph& g);

// True when `g` is (inside) a model-local function body: functions have no
// initializers, so passes that would create initializers there skip them or
// (add_constant) write Constant nodes.
bool in_function_body(const Graph& g, const Model& m);

// ---------------------------------------------------------------- matching

// `n` is a default-domain node of type `op`.
bool is_op(const Node* n, std::string_view op);
// The producer of `v` if it is a default-domain `op`, else nullptr.
Node* producer_of(const Value* v, std::string_view op);
// `v` feeds exactly one input slot, of `consumer` in `v`'s own graph, and is
// not pinned: the intermediate value of a pattern may then disappear. Every
// link of a pattern goes through this (or an equivalent check), so patterns
// never span graphs.
bool only_feeds(const Value* v, const Node* consumer, const Pinned& pinned);
// True when the constant `w` (through any Identity chain) is read by `reader`
// alone and is not pinned: a fusion that rewrites it then stores the new
// tensor instead of the old one. Fusions that fold maths into a weight (Conv
// W, MatMul/Gemm B) require it, so a weight shared by two layers is never
// stored twice (lossless passes never grow a file); per-channel vectors
// (bias, scale) may be shared.
bool weight_read_only_by(const Value* w, const Node* reader, const Pinned& pinned);
// Every use of `v` is by one of `nodes`, and `v` is not pinned.
bool used_only_by(const Value* v, const std::vector<const Node*>& nodes, const Pinned& pinned);
// The single consumer of `v`: exactly one use, in `v`'s graph, and `v` not pinned (else nullptr).
Node* sole_consumer(const Value* v, const Pinned& pinned);
// The node's outputs other than output 0 are absent or unread (and not pinned).
bool only_first_output_used(const Node* n, const Pinned& pinned);
// The other input of a two-input node, given one of them (nullptr if `v` is not an input).
Value* other_input(const Node* n, const Value* v);
// True if the op is an ONNX op whose results are random (never merged or folded).
bool is_nondeterministic_op(const Node& n);
// "Op 'name'" (or "Op #index" when unnamed), for notes.
std::string node_label(const Node& n);

// ---------------------------------------------------------------- types and shapes

// Element types: ir/dtype.h (is_ieee_float_type is the set the fusions fold
// in double precision; to_doubles / to_ints / tensor_from_values read and
// write elements).
// The element type of a tensor value, Undefined if unknown.
DataType elem_type(const Value* v);
// Dims of `v`: a fixed constant's, else its declared type's; nullopt when the rank is unknown.
std::optional<std::vector<Dim>> shape_of(const Value* v);
// Fully static dims of `v` (as shape_of), or nullopt.
std::optional<std::vector<int64_t>> static_shape(const Value* v);
// The rank of `v`'s declared type, when known (then v->type.shape is set).
std::optional<size_t> known_rank(const Value* v);

// ---------------------------------------------------------------- tensors

// Elements of an int32/int64 tensor as int64 (scalars and 1-D alike).
std::optional<std::vector<int64_t>> tensor_ints(const Tensor& t);
// Every element of a numeric tensor equals `x` (float types compared as
// double; float16/bfloat16 decoded). False for strings and empty tensors.
bool tensor_all_equal(const Tensor& t, double x);
// A new int64 tensor (dims {} for a scalar).
TensorPtr tensor_from_ints(std::vector<int64_t> dims, const std::vector<int64_t>& vals);

// ---------------------------------------------------------------- graph surgery

// Adds `t` as a constant of `g` named uniquely after `hint`: an initializer
// (after pass::allow_plain_initializers), or a Constant node placed first in a
// model-local function body (function bodies, and graphs inside them, have no
// initializers).
Value* add_constant(Graph& g, pass::PassContext& ctx, TensorPtr t, std::string_view hint);
// Copies of every attribute of `n` except the ones named in `skip`.
std::vector<Attribute> copy_attributes(const Node* n, Graph& g, const std::vector<std::string>& skip = {});

// Moves every node use of `v` elsewhere: returns the uses (and sets those
// inputs to nullptr) so the caller can give them back with restore_uses.
std::vector<Use> detach_uses(Value* v);
void restore_uses(Value* v, const std::vector<Use>& uses);

// Erases `n` after clearing the inputs of every node in its subgraphs, so
// outer-scope values keep exact use lists. Outputs of `n` must be unused.
void erase_node_deep(Graph& g, Node* n);
// Erases `n` if none of its outputs is read or pinned, then the producers of
// its inputs (in `g`) that became dead the same way. Returns how many nodes
// were erased.
size_t erase_if_dead(Graph& g, Node* n, const Pinned& pinned);
// Removes `v` if it is an unread, unpinned constant of `g` (initializer,
// Constant node, or an Identity chain of one) that is not a graph input.
void drop_if_dead(Graph& g, Value* v, const Pinned& pinned);

// Replaces node `n` by initializers of `g` holding `tensors` (one per output,
// in order; null outputs skipped): each output value becomes the initializer
// of the same name, so uses and names stay. Tensors are renamed to the output
// names (a shallow copy shares the bytes). Applies
// pass::allow_plain_initializers first.
void replace_node_by_initializers(Graph& g, Node* n, const std::vector<TensorPtr>& tensors, pass::PassContext& ctx);

// Whether node `n`, whose output `out_index` computes exactly the value
// `in`, can be removed by bypass_node; if not, *why says why.
bool can_bypass(const Graph& g, const Node* n, size_t out_index, const Value* in, const Pinned& pinned,
                std::string* why = nullptr);
// Removes `n` (can_bypass must hold; its other outputs are unused): readers
// of that output read `in`. When the output is pinned, its name is kept by
// making `in`'s producer write it instead.
void bypass_node(Graph& g, Node* n, size_t out_index, Value* in, const Pinned& pinned);

// Replaces `pattern` (nodes of `g`; the last one in graph order produces `out`)
// by one new node producing `out`, placed where the last pattern node was.
// Every pattern output except `out` must be used only inside the pattern.
// Constants and Identity-of-constant chains left unused are removed.
Node* replace_with_node(Graph& g, const Pinned& pinned, const std::vector<Node*>& pattern, Value* out,
                        std::string op_type, std::vector<Value*> inputs, std::vector<Attribute> attrs,
                        std::string name);
// Removes `pattern` whose result `out` equals the existing value `same`
// (an identity composition): uses of `out` read `same`. If `out` is pinned
// its name must stay, so one Identity(same) -> out is left instead.
void replace_with_value(Graph& g, const Pinned& pinned, const std::vector<Node*>& pattern, Value* out, Value* same);

// ---------------------------------------------------------------- folding (pass_util_fold.cpp)

// Runs node `n` on the executor with constant `inputs` (one per input slot,
// nullptr for absent optional inputs) and returns one tensor per output
// (nullptr for absent outputs). Errors when the executor has no kernel for
// the op, or the kernel refuses the inputs. Nodes with subgraphs are refused.
Expected<std::vector<TensorPtr>> evaluate_node(const Node& n, const std::vector<TensorPtr>& inputs,
                                               const pass::PassContext& ctx);

// What folding `n` gives when every input is a fixed constant and every
// output is at most `max_bytes`: its results, one per output, checked against
// the declared types. nullopt otherwise (noted in `r` when the node was a
// candidate; "folds-skipped-size" counted). Never folds Constant, Identity,
// nondeterministic ops, Q/DQ, nodes with subgraphs, nodes writing a pinned
// value or nodes nobody reads.
std::optional<std::vector<TensorPtr>> fold_node(const Node& n, pass::PassContext& ctx, uint64_t max_bytes,
                                                pass::PassResult& r);
// The checks and the evaluation of fold_node for given constant `inputs` (one
// per input slot, nullptr for absent ones; at least one present), which may
// be results not yet stored in the graph; `pinned` is that of the graph
// holding `n`'s readers. fold-constants decides itself which results to store.
std::optional<std::vector<TensorPtr>> fold_results(const Node& n, const std::vector<TensorPtr>& inputs,
                                                   pass::PassContext& ctx, uint64_t max_bytes, const Pinned& pinned,
                                                   pass::PassResult& r);
// fold_node, then replace_node_by_initializers; counts tensors-folded and
// bytes-folded. Returns whether `n` was folded.
bool try_fold_node(Graph& g, Node* n, pass::PassContext& ctx, uint64_t max_bytes, pass::PassResult& r);

// ---------------------------------------------------------------- the pattern driver

// Why a candidate was not rewritten, recorded once (first round only) as a note.
class SkipNotes {
 public:
  explicit SkipNotes(pass::PassResult* r) : r_(r) {}
  // Returns nullopt so matchers can `return notes.skip(...)`.
  std::nullopt_t skip(const Node& n, const std::string& why) {
    if (r_) r_->note(node_label(n) + ": " + why);
    return std::nullopt;
  }

 private:
  pass::PassResult* r_;
};

// Runs one pattern over `g` to a fixed point: for each live node (in order),
// `match(node, ctx, notes)` returns an optional match (deciding everything,
// so the rewrite cannot fail); `rewrite(g, ctx, match)` or
// `rewrite(g, ctx, match, result)` (to count more) applies it. Counts every
// rewrite under `counter` (unless empty). The pinned values are ctx.pinned.
// Values left dead are pruned at the end.
template <class MatchFn, class RewriteFn>
pass::PassResult run_pattern(Graph& g, pass::PassContext& ctx, std::string_view counter, MatchFn match,
                             RewriteFn rewrite) {
  pass::PassResult result;
  for (int round = 0; round < 16; ++round) {
    bool any = false;
    std::vector<Node*> snapshot;
    for (auto& n : g.nodes()) snapshot.push_back(n.get());
    std::unordered_set<const Node*> alive(snapshot.begin(), snapshot.end());
    SkipNotes notes(round == 0 ? &result : nullptr);
    for (Node* n : snapshot) {
      if (!alive.count(n)) continue;
      auto m = match(*n, ctx, notes);
      if (!m) continue;
      if constexpr (std::is_invocable_v<RewriteFn&, Graph&, pass::PassContext&, decltype(*m), pass::PassResult&>)
        rewrite(g, ctx, *m, result);
      else
        rewrite(g, ctx, *m);
      if (!counter.empty()) result.count(counter);
      result.changed = any = true;
      alive.clear();
      for (auto& x : g.nodes()) alive.insert(x.get());
    }
    if (!any) break;
  }
  if (result.changed) g.prune_dead_values();
  return result;
}

}  // namespace effopt::passes::util
