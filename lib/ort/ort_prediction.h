// A prediction of what ONNX Runtime 1.30's CPU graph optimizer does to a
// model: which nodes it folds, fuses, runs in integer kernels or rewrites to
// its NCHWc layout, and the op-type counts that result. effopt does not run
// ONNX Runtime here: it replays its own table of ORT's transformer rules on a
// copy of the graph (lib/ort/sim_graph.h; the rules by level in lib/ort/rules.h). Every figure is a
// prediction for "onnxruntime 1.30 CPU"; tests/unit/test_ort_prediction.cpp
// and tests/conformance/test_ort_prediction_corpus.cpp check it against real
// ORT (its optimized_model_path output).
//
// Encoded (ORT transformer names; conditions are documented at each rule):
//   at partitioning (every level, after level 1): HardSwish inlined to HardSigmoid + Mul (no CPU kernel).
//   level basic (1): Constant nodes -> initializers, ConstantFolding (Shape of
//     a static shape too; DequantizeLinear is not folded while QDQ fusion is
//     on), IdentityElimination, DropoutElimination, ConvBNFusion,
//     ConvMulFusion, ConvAddFusion, MatMulAddFusion (2-D, and 3-D wrapped in
//     Reshapes the way ORT 1.30 does), ReshapeFusion (a Reshape whose shape
//     is a Concat of constants and Slices of the Shape of its own input; and
//     a chain of contiguous Reshape/Squeeze/Unsqueeze nodes into one Reshape),
//     EnsureUniqueDQForNodeUnit (a DequantizeLinear read by several node
//     inputs is copied per reader), ConstantSharing (equal constant
//     initializers of at most 8 elements become one) and
//     CommonSubexpressionElimination (equal nodes on equal inputs merge;
//     tensor attributes compared by value; the last one in node order kept).
//   level extended (2): QDQS8ToU8Transformer (x86), QDQSelectorActionTransformer (Conv -> QLinearConv,
//     MatMul -> QLinearMatMul / MatMulIntegerToFloat, Concat -> QLinearConcat (Gemm stays float:
//     ORT 1.30 left QDQ Gemm unfused here),
//     Add/Mul -> QLinearAdd/QLinearMul, AveragePool/GlobalAveragePool/
//     LeakyRelu/Sigmoid/Softmax -> QLinear*, DQ/Q dropped around MaxPool/
//     Reshape/Transpose/Flatten/Squeeze/Unsqueeze/Expand/Gather/
//     GatherElements/Slice/Tile with equal quantization parameters; x86: uint8
//     activations (int8 ones converted first), nothing between the op and
//     its QuantizeLinear),
//     DQMatMulToMatMulNBits (4-bit block-wise constant weight, axis 0),
//     MatMulIntegerToFloatFusion and DynamicQuantizeMatMulFusion (the
//     DynamicQuantizeLinear + MatMulInteger + Cast + Mul [+ bias Add] graphs
//     of dynamic quantization), GemmActivationFusion, ConvActivationFusion,
//     LayerNormFusion (axes attribute or opset-18 input), SimplifiedLayerNormFusion
//     (RMSNorm -> SimplifiedLayerNormalization), SkipLayerNormFusion,
//     GeluFusion (Erf form; ai.onnx Gelu from opset 20), BiasGeluFusion
//     (Add -> Gelu, and Add -> FastGelu into FastGelu's bias), FastGeluFusion
//     (both tanh-Gelu formulas), QuickGeluFusion (SiLU / x * Sigmoid(alpha * x)),
//     MatMulScaleFusion, MatMulNBitsFusion (a bias Add into MatMulNBits),
//     MatmulTransposeFusion (transA/B, transBatchA/B),
//     GatherSliceToSplitFusion (opset >= 13: Gather/Slice readers of one
//     value that cover one axis without overlap become a Split). The level-2
//     list repeats until nothing changes, as ORT's GraphTransformerManager does.
//   Not predicted: where an unencoded level-2 transformer's pattern starts
//     (AttentionFusion: a LayerNormalization read by one Add and three
//     MatMuls; EmbedLayerNormFusion: the Gather embedding Adds in front of
//     such a LayerNormalization), the nodes are reported "not predicted"
//     (PredictedNodeFate::not_predicted, OrtPrediction::not_predicted_nodes).
//   level all (3): NchwcTransformer (block size 16, as ORT behaves on this
//     project's AVX-512 machines; configurable): Conv/FusedConv, MaxPool/AveragePool, and on NCHWc inputs
//     Add/Sum (fused into the Conv as its Sum input when possible, else kept,
//     wrapped in Reshapes when shapes cannot be proven equal), Mul, Concat,
//     Relu/Sigmoid/Tanh (fused into the Conv when possible),
//     BatchNormalization, Transpose to NHWC, Resize (nearest, integer scales),
//     GlobalAveragePool/GlobalMaxPool; ReorderInput/ReorderOutput inserted.
//
// NOT encoded (their effect on a model shows up as a disagreement in the
// conformance test and benchmark): NoopElimination, DivMulFusion,
// FuseReluClip, PadFusion, CastElimination, SliceElimination,
// ExpandElimination, UnsqueezeElimination beyond folding, ReshapeFusion's Gather/Unsqueeze forms,
// ConcatSliceElimination, TransposeOptimizer, GemmTransposeFusion,
// GemmSumFusion,
// GatherToSplitFusion, AttentionFusion, EmbedLayerNormFusion (both marked
// "not predicted" where their patterns start),
// BiasSoftmaxFusion, QDQ propagation and DoubleQDQPairsRemover,
// the QDQ selectors for Resize/Split/ReduceMax/ReduceMin/Where/ArgMax,
// the InsertCastTransformer for float16, and every
// execution-provider-specific transformer. Subgraph bodies (If/Loop/Scan)
// are left as they are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/ir.h"

namespace effopt {

enum class OrtOptLevel { Basic = 1, Extended = 2, All = 3 };
const char* ort_opt_level_name(OrtOptLevel l);  // "basic", "extended", "all"

struct OrtPredictionOptions {
  OrtOptLevel level = OrtOptLevel::All;
  // MLAS's NCHWc block (level all only): 16 floats with AVX-512F, 8 with
  // AVX2. A Conv's channels (input channels when at least a block, output
  // channels when grouped) need to be a multiple of
  // nchwc_conv_input_alignment; pools, BN and Concat need whole blocks. 16 and 8 are what ORT 1.30
  // does on this project's AVX-512 machines, found by agreement with real ORT
  // on the corpus (the source we read asks for whole blocks everywhere, but
  // ORT 1.30 rewrites mobilenet_v2's 24-channel 1x1 convs and ppocr_cls_v2's
  // 8-channel depthwise convs, and keeps its 8- and 200-channel pools in NCHW).
  // The defaults predict an x86 CPU with AVX-512F (the only kind the level-all rules were checked on); the
  // tests compare level all with real ORT only on such a CPU.
  int nchwc_block_size = 16;
  int nchwc_conv_input_alignment = 8;
  // QDQ int8 activations: ORT allows them in its integer kernels only where
  // MLAS has fast signed-signed kernels (ARM). On x86 its
  // QDQS8ToU8Transformer first turns every int8 QuantizeLinear ->
  // DequantizeLinear pair with constant parameters into uint8 (zero point
  // + 128), so int8-activation QDQ models still reach QLinearConv (seen in
  // real ORT here, unlike the note in shared/facts.md).
  bool int8_activations_allowed = false;
  bool s8_to_u8_activations = true;
};

// What ORT is predicted to do with one node of the input model.
struct PredictedNodeFate {
  std::string node;     // name in the input model (or "#index (op)" when unnamed)
  std::string op_type;  // its op ("domain.op" outside ai.onnx)
  // "kept" (same kernel), "rewritten" (it becomes node `into` of kind
  // `into_op`, e.g. Conv -> com.microsoft.FusedConv), "fused" (absorbed
  // into node `into` of kind `into_op`), "folded" (constant-folded away),
  // "eliminated" (removed as a no-op).
  std::string fate;
  std::string into, into_op;
  std::string rule;            // the ORT transformer that decided it
  bool integer_kernel = false; // ends up in an integer kernel (QLinear*, MatMulInteger*, MatMulNBits, ...)
  bool nchwc = false;          // ends up in a com.microsoft.nchwc kernel
  // Not predicted: the ORT transformer, not encoded here, whose pattern starts at (or takes in) this node
  // in the predicted graph ("" when the fate above is a prediction). Such a node's fate is reported as
  // "not predicted" (see mark_not_predicted in rules_extended.cpp for the patterns).
  std::string not_predicted;
  // The kind of node predicted to produce this node's first output value in
  // the optimized graph ("" when nothing does: folded, fused away, or the
  // value now only exists in another layout). Compared with real ORT by name.
  std::string output_producer;
};

struct OrtPrediction {
  std::string runtime = "onnxruntime";
  std::string runtime_version = "1.30";
  std::string device = "CPU";
  OrtOptLevel level = OrtOptLevel::All;
  int nchwc_block_size = 16;
  std::map<std::string, uint64_t> op_counts;  // main graph after optimization, "domain.op" outside ai.onnx
  uint64_t node_count = 0;
  uint64_t integer_kernel_nodes = 0;  // nodes of the optimized graph that run integer kernels
  uint64_t nchwc_nodes = 0;           // nodes of the optimized graph in the com.microsoft.nchwc domain
  uint64_t inserted_nodes = 0;        // nodes ORT adds (ReorderInput/Output, Reshape around Gemm/Add, ...)
  uint64_t not_predicted_nodes = 0;   // input-model nodes whose fate depends on a transformer not encoded
  std::map<std::string, uint64_t> rule_applications;  // ORT transformer name -> times it fired
  std::vector<PredictedNodeFate> nodes;               // one per node of the input's main graph, in order
  // Final optimized graph: (name, op) in order, and for each the input-model
  // nodes it came from.
  struct FinalNode {
    std::string name, op_type;
    std::vector<std::string> from;
  };
  std::vector<FinalNode> final_nodes;
};

// Shapes should be inferred first (infer_shapes_with_bindings): several rules
// need static shapes, as ORT's do. Never fails: what it cannot tell it keeps.
OrtPrediction predict_ort_optimization(const Model& model, const OrtPredictionOptions& opts = {});

// A prediction next to the graph real ONNX Runtime saved (its
// optimized_model_path output, loaded into the IR).
struct OrtPredictionCheck {
  uint64_t predicted_nodes = 0, actual_nodes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> op_differences;  // op -> (predicted, actual), where they differ
  bool op_counts_equal() const { return op_differences.empty(); }
  // Per input-model node: does the predicted producer of its first output
  // (PredictedNodeFate::output_producer) match ORT's?
  uint64_t fates_compared = 0, fates_matching = 0;
  std::vector<std::string> fate_mismatches;  // "node: predicted X, ORT Y"
};
OrtPredictionCheck check_prediction(const OrtPrediction& p, const Model& model, const Model& ort_optimized);

// The report's `runtime_prediction` block: {"prediction": true, "runtime",
// "runtime_version", "device", "optimization_level", "op_counts", ...}.
nlohmann::json to_json(const OrtPrediction& p, bool per_node = true);

// The MACs ORT is predicted to run in integer kernels: the MACs (`node_macs`,
// the footprint's per main-graph node, in order; nullopt = not a MAC op or
// unknown) of nodes whose fate has integer_kernel. A MAC node fed through a
// DequantizeLinear whose QDQ fusion rule is not encoded (ConvTranspose, ...)
// is "not predicted": listed, its MACs counted apart, never as float.
struct IntegerKernelMacs {
  uint64_t integer_macs = 0, total_macs = 0, not_predicted_macs = 0;
  std::vector<std::string> not_predicted;  // "name (op)"
  bool macs_unknown = false;               // some MAC node's count is unknown
};
IntegerKernelMacs integer_kernel_macs(const OrtPrediction& p, const Model& model,
                                      const std::vector<std::optional<uint64_t>>& node_macs);

// Both levels the report shows: to_json(level all) with {"extended": ...}
// (level extended, without per_node). With `node_macs` (see
// integer_kernel_macs) both also hold integer_kernel_macs and
// integer_kernel_mac_fraction (and integer_kernel_not_predicted when some
// node's fusion is not predicted).
nlohmann::json runtime_prediction_block(const Model& model, bool per_node = true,
                                        const std::vector<std::optional<uint64_t>>* node_macs = nullptr);

}  // namespace effopt
