// Shared machinery of the layer-fusion passes (passes/fuse-*.cpp): a small
// pattern driver (iterate nodes, match, rewrite, count, repeat to a fixed
// point), the checks every fusion needs (single consumer, not a graph output,
// constant operands, dtypes, static shapes, opset-dependent attribute/input
// forms) and the rewrites (replace a chain of nodes by one node that keeps the
// last node's output value, so downstream names stay; add a folded constant).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ir/constants.h"
#include "ir/ir.h"
#include "pass/pass.h"

namespace effopt::passes::fusion {

// ---- matching helpers

// `n` is a default-domain node of type `op`.
bool is_op(const Node* n, std::string_view op);
// The producer of `v` if it is a default-domain `op`, else nullptr.
Node* producer_of(const Value* v, std::string_view op);
// `v` is an output of its graph or, directly, of a subgraph below it.
bool is_any_graph_output(const Value* v);
// `v` feeds exactly one input slot, of `consumer` in `v`'s own graph, and is
// not a graph output (of its graph or, directly, of a subgraph): the
// intermediate value of a fusion may then disappear. Every link of a pattern
// goes through this (or an equivalent check), so patterns never span graphs.
bool only_feeds(const Value* v, const Node* consumer);
// Every use of `v` is by one of `nodes`, and `v` is not a graph output.
bool used_only_by(const Value* v, const std::vector<const Node*>& nodes);
// The node's outputs other than output 0 are absent or unused (and not graph outputs).
bool only_first_output_used(const Node* n);
// The other input of a two-input node, given one of them (nullptr if `v` is not an input).
Value* other_input(const Node* n, const Value* v);

// Float element types the fusions fold in double precision.
bool is_foldable_float(DataType t);  // float, double, float16
// The element type of a tensor value, Undefined if unknown.
DataType elem_type(const Value* v);
// Rank and dims of `v`'s type; nullopt when the rank is unknown.
std::optional<std::vector<Dim>> shape_of(const Value* v);
// Fully static dims of `v`, or nullopt.
std::optional<std::vector<int64_t>> static_shape(const Value* v);

// A constant's elements as doubles (float, double, float16, bfloat16, ints,
// bool); nullopt for other types or when `v` is not constant.
std::optional<std::vector<double>> constant_doubles(const Value* v);
std::optional<std::vector<int64_t>> constant_ints(const Value* v);  // int32/int64 constants
// A constant whose every element equals one value (any shape; at least one element).
std::optional<double> constant_splat(const Value* v);
// A constant operand of an elementwise op on an [N, C, ...] tensor of rank
// `rank` that varies at most along axis 1 (numpy broadcasting: [C, 1, 1],
// [1, C, 1, 1], scalars, all-ones shapes), expanded to one value per channel;
// nullopt otherwise (also when it would broadcast the result to a larger shape).
std::optional<std::vector<double>> per_channel_constant(const Value* v, size_t rank, int64_t channels);
// |a - b| <= rel * |b|.
bool near(double a, double b, double rel);

// Axes of a Squeeze/Unsqueeze/Reduce*/Pad-style node: from attribute `attr`
// before `input_since` (opset), from input `input_index` from then on.
// nullopt: not given (absent attribute / empty input). `ok` false: given but
// not constant.
struct AxesForm {
  std::optional<std::vector<int64_t>> axes;
  bool ok = true;
};
AxesForm node_axes(const Node* n, int64_t opset, int64_t input_since, size_t input_index, std::string_view attr = "axes");

// ---- rewriting helpers

// A new constant tensor of `dtype` from doubles, each rounded once (float16:
// directly from double, not through float).
TensorPtr tensor_from_doubles(DataType dtype, std::vector<int64_t> dims, const std::vector<double>& vals);
TensorPtr tensor_from_ints(std::vector<int64_t> dims, const std::vector<int64_t>& vals);
// Adds `t` as a constant of `g` named uniquely after `hint`: an initializer,
// or a Constant node placed first in a model-local function body (function
// bodies, and graphs inside them, have no initializers).
Value* add_constant(Graph& g, const pass::PassContext& ctx, TensorPtr t, std::string_view hint);
uint16_t double_to_half(double d);

// Replaces `pattern` (nodes of `g`; the last one in graph order produces `out`)
// by one new node producing `out`, placed where the last pattern node was.
// Every pattern output except `out` must be used only inside the pattern.
// Constants and Identity-of-constant chains left unused are removed.
Node* replace_with_node(Graph& g, const std::vector<Node*>& pattern, Value* out, std::string op_type,
                        std::vector<Value*> inputs, std::vector<Attribute> attrs, std::string name);
// Removes `pattern` whose result `out` equals the existing value `same`
// (an identity composition): uses of `out` read `same`. If `out` is a graph
// output its name must stay, so one Identity(same) -> out is left instead.
void replace_with_value(Graph& g, const std::vector<Node*>& pattern, Value* out, Value* same);
// Copies of every attribute of `n` except the ones named in `skip`.
std::vector<Attribute> copy_attributes(const Node* n, Graph& g, const std::vector<std::string>& skip = {});
// Removes `v` if it is an unused constant (initializer, Constant node, or an
// Identity chain of one) that is not a graph input/output.
void drop_if_dead(Graph& g, Value* v);

// ---- the driver

// Why a candidate was not fused, recorded once (first round only) as a note.
class SkipNotes {
 public:
  explicit SkipNotes(pass::PassResult* r) : r_(r) {}
  // Returns nullopt so matchers can `return notes.skip(...)`.
  std::nullopt_t skip(const Node& n, const std::string& why) {
    if (r_) r_->note(n.op_type + " '" + n.name + "': " + why);
    return std::nullopt;
  }

 private:
  pass::PassResult* r_;
};

// Runs one pattern over `g` to a fixed point: for each live node (in order),
// `match(node, ctx, notes)` returns an optional match; `rewrite(g, ctx, match)`
// applies it. Counts every rewrite under `counter`. Intermediate values left
// dead are pruned at the end.
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
      rewrite(g, ctx, *m);
      result.count(counter);
      result.changed = any = true;
      alive.clear();
      for (auto& x : g.nodes()) alive.insert(x.get());
    }
    if (!any) break;
  }
  if (result.changed) g.prune_dead_values();
  return result;
}

}  // namespace effopt::passes::fusion

// ---- No growth (issue 24, "lossless passes never make a model bigger").
namespace effopt::passes::fusion {

// True when the constant `w` (through any Identity chain) is read by `reader`
// alone and is no graph output: a fusion that rewrites it then stores the new
// tensor instead of the old one. Fusions that fold maths into a weight (Conv
// W, MatMul/Gemm B) require it, so a weight shared by two layers is never
// stored twice; per-channel vectors (bias, scale) may be shared.
bool weight_read_only_by(const Value* w, const Node* reader);

}  // namespace effopt::passes::fusion
