// What a model costs: parameters, weight bytes, MACs, activation memory and
// estimated inference RAM. Figures come from dims only; only the nonzero and
// deduplicated parameter counts read tensor bytes (FootprintOptions).
//
// Conventions (docs/report.md):
// - One MAC = one multiply-accumulate. Conv: output elements x Cin/group x
//   kernel size. ConvTranspose: input elements x Cout/group x kernel size.
//   MatMul / Gemm: M x K x N per batch (batched MatMul too). The integer and
//   QLinear forms count the same. Einsum: product of every index's size.
//   LSTM/GRU/RNN: seq x batch x directions x gates*H x (input + H).
// - If / Loop / Scan: the outer node carries its bodies' MACs (nested
//   bodies compose). Scan: body x iterations (the scan axis length of its
//   scan inputs). Loop: body x M when M is known before run time (a
//   constant, or computed from known dims: static_scalar_int); an upper
//   bound when the condition can end the loop earlier; not counted (the
//   node named) otherwise. If: the larger branch, an upper bound unless
//   both cost the same; a constant condition picks its branch, exactly.
//   A body is counted with the shapes of one iteration: loop / scan state
//   keeps its shape only if an iteration leaves it unchanged
//   (shape_propagation.h), or the nodes reading it stay unknown.
//   Upper bounds are listed (macs_upper_bound_nodes); they still satisfy a
//   maximum budget. Element-wise work in bodies is multiplied the same way
//   (unknown when the count is unknown); per-node params of the outer node
//   include the constants read in its bodies.
// - Bias adds and every other element-wise op are element-wise work
//   (`elementwise_ops`), counted separately, not MACs.
// - Activation memory: tensors produced by nodes of the main graph (not
//   graph inputs, not weights / Constant outputs). A tensor is live from the
//   node that produces it to its last use (graph outputs to the end), under
//   the graph's topological order, no in-place reuse.
// - A dim that is not known is never counted as 1: the figure is reported as
//   incomplete, with the nodes at fault. A total that is not fully known is
//   read through the *_total() accessors (Total): unknown, with a reason and
//   a lower bound where one is proven; never a plain number.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/ir.h"

namespace effopt {

// How an If / Loop / Scan node's MACs were derived from its bodies.
struct SubgraphMacs {
  std::string derivation;              // one sentence, numbers included
  bool upper_bound = false;
  std::optional<uint64_t> body_macs;   // Loop / Scan: one iteration (nullopt: unknown)
  std::optional<int64_t> iterations;   // Loop: M; Scan: the scan axis length
  std::optional<uint64_t> then_macs, else_macs;  // If
};

// A whole-model figure that may not be known. `value` when every part of it
// was counted; otherwise nullopt, with `unknown_reason` (one sentence naming
// the nodes at fault, and the --shape that binds the graph inputs' unknown
// dims when there are any) and `lower_bound` (what was counted when that is
// provably a lower bound of the real figure; 0 when nothing is known).
struct Total {
  std::optional<uint64_t> value;
  uint64_t lower_bound = 0;
  std::string unknown_reason;
  bool known() const { return value.has_value(); }
};

// A graph input of the main graph whose shape is not fully known, and the
// `--shape` binding that would fix it: known dims kept, every unknown dim 1.
struct UnboundInput {
  std::string input;
  std::optional<std::vector<Dim>> shape;  // nullopt: the rank is unknown
  std::string suggested_binding;          // "x=1,3,48,192"; empty when no binding can be built (rank unknown)
};

struct NodeFootprint {
  std::string name, op_type;
  std::vector<std::string> output_shapes;  // Type::to_string()
  std::optional<uint64_t> macs;            // nullopt: not a MAC op, or unknown (see macs_unknown)
  bool macs_unknown = false;
  std::string unknown_reason;
  uint64_t elementwise_ops = 0;            // what was counted
  bool elementwise_unknown = false;        // some of its element-wise work could not be counted
  std::optional<uint64_t> output_bytes;    // nullopt if some output's size is unknown
  uint64_t params = 0;                     // elements of the constant inputs it reads (bodies included)
  std::optional<SubgraphMacs> subgraph_macs;  // If / Loop / Scan whose bodies hold MAC ops
};

struct LayerParams {  // a prunable layer (Conv, ConvTranspose, Gemm, MatMul with a constant weight, ...)
  std::string node, op_type, tensor;
  uint64_t params = 0;
  std::optional<uint64_t> nonzero;
};

struct Footprint {
  // Parameters.
  uint64_t params = 0;               // elements of every stored constant tensor, each once
  uint64_t stored_tensors = 0;
  std::optional<uint64_t> params_dedup;    // identical contents merged (needs tensor bytes)
  std::optional<uint64_t> params_nonzero;  // (needs tensor bytes)
  std::map<std::string, uint64_t> weight_bytes_by_type;
  uint64_t weight_bytes = 0;
  std::vector<LayerParams> layers;
  // Compute. The raw fields hold what was counted; print or compare the
  // *_total() figures, which say when a total is not known.
  uint64_t macs = 0;  // counted MACs (complete only if macs_unknown_nodes is empty)
  uint64_t macs_lower_bound = 0;  // a proven lower bound of the real MACs (If: the smaller branch; Loop that may stop early: 0)
  std::map<std::string, uint64_t> macs_by_op;
  uint64_t elementwise_ops = 0;  // counted element-wise work (complete only if elementwise_unknown_nodes is empty)
  std::vector<std::string> macs_unknown_nodes;  // "name (op): reason"; inside bodies "outer (Loop) > body > name (op): reason"
  std::vector<std::string> macs_upper_bound_nodes;  // "name (op): why" for If / Loop figures that are upper bounds
  std::vector<std::string> elementwise_unknown_nodes;  // "name (op)"; inside bodies by path, as above
  // Activations (counted; complete only if activation_unknown_nodes is empty).
  uint64_t activation_bytes = 0;       // sum over intermediate tensors
  uint64_t peak_activation_bytes = 0;
  std::string peak_after_node;         // the node after which the peak is reached
  std::vector<std::string> activation_unknown_nodes;
  // Weight bytes + peak activation bytes.
  uint64_t inference_ram_bytes = 0;
  // Graph inputs with unknown dims (what --shape would bind).
  std::vector<UnboundInput> unbound_inputs;
  std::map<std::string, uint64_t> op_counts;  // main graph, subgraphs and functions
  uint64_t node_count = 0;
  std::vector<NodeFootprint> nodes;    // main graph, in order (bodies are summed into their outer node)
  bool macs_complete() const { return macs_unknown_nodes.empty(); }
  bool activations_complete() const { return activation_unknown_nodes.empty(); }
  bool elementwise_complete() const { return elementwise_unknown_nodes.empty(); }
  // The totals as far as they are known (Total).
  Total macs_total() const;
  Total elementwise_total() const;
  Total activation_total() const;
  Total peak_activation_total() const;
  Total inference_ram_total() const;
  // True when some total above is unknown.
  bool any_total_unknown() const { return !macs_complete() || !activations_complete() || !elementwise_complete(); }
};

// The main graph's inputs whose shapes are not fully known (compute_footprint fills Footprint::unbound_inputs).
std::vector<UnboundInput> unbound_inputs(const Graph& main);
// "N (x[0]), H (x[2]), W (x[3])": the unknown dims of the inputs (unnamed ones as "?").
std::string unbound_dims_text(const std::vector<UnboundInput>& inputs);
// "--shape x=1,3,1,1 --shape mask=1,1" (shell-quoted where needed), ready to
// paste; inputs of unknown rank as "--shape NAME=D0,D1,..." to fill in.
std::string suggested_shape_flags(const std::vector<UnboundInput>& inputs);

struct FootprintOptions {
  // Read tensor bytes for the nonzero and deduplicated counts (a full pass
  // over the weights). Off: those stay nullopt.
  bool read_tensor_bytes = true;
};

// Shapes must already be inferred (infer_shapes_with_bindings); this only reads them.
Footprint compute_footprint(const Model& model, const FootprintOptions& opts = {});

nlohmann::json to_json(const Footprint& f, bool per_node = true);

}  // namespace effopt
