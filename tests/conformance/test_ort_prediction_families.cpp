// effopt's prediction of ONNX Runtime 1.30's CPU optimizer (ort/ort_prediction.h) on models its rules were
// not tuned on: the tiny instance of every bench family (bench/families/families.h: EfficientNet-,
// MobileNetV3-, RegNet-, ShuffleNet-style CNNs, a GPT-style decoder, a ViT-style encoder) at opsets 13
// (LayerNorm decomposed, HardSwish as HardSigmoid + Mul, tanh-Gelu written out) and 17, at levels basic,
// extended and all; and each of them quantized by effopt's quantize (mode=static), at basic and extended. The predicted op counts must equal those of the graph ORT saves
// (optimized_model_path), and the predicted producer of every node's first output must be ORT's. ORT's
// graphs are kept in tests/ort/reference/ort_prediction_families.json (from an AVX-512F host, see
// tests/util/ort_reference.h): the prediction is compared with that file on every host, and live ORT with
// the file where this host reproduces it (level all needs AVX-512F). Where the prediction is knowingly
// wrong, the case is listed below with the ORT behaviour behind it and its exact differences, which the
// test requires.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "analysis/fidelity.h"
#include "analysis/shape_propagation.h"
#include "families/families.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "pass/pass.h"
#include "ort/ort_prediction.h"
#include "support/ort_harness.h"
#include "util/ort_reference.h"
#include "util/test_util.h"

using namespace effopt;

namespace {

// "family_tiny/opsetN/level" -> why the prediction differs, and exactly how.
const std::map<std::string, test::KnownDifference>& known_differences() {
  // Levels basic and extended agree everywhere; these are NCHWc (level all) cases the prediction does not
  // match yet (measured against ORT 1.30 on an AVX-512F host).
  static const std::map<std::string, test::KnownDifference> m = {
{"efficientnet_tiny/opset13/all",
 {"level all only (NCHWc, not yet encoded for this pattern): ORT keeps the SiLU (QuickGelu) outputs and the squeeze-excitation GlobalAveragePools in NCHWc (5 nchwc GlobalAveragePool, 9 ReorderInput fewer) and fuses the residual Add into the Conv; the prediction's NchwcTransformer reorders back to NCHW in front of every QuickGelu",
  {{"Add", {1, 0}}, {"GlobalAveragePool", {6, 1}}, {"com.microsoft.nchwc.GlobalAveragePool", {0, 5}}, {"com.microsoft.nchwc.ReorderInput", {13, 4}}, {"com.microsoft.nchwc.ReorderOutput", {24, 19}}},
  {{"Add: predicted Add, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.1.0/Add"},
   {"Conv: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/features.0.0/Conv /features.1.0/block.0/Conv /features.1.0/block.1/fc1/Conv /features.1.0/block.2/Conv /features.2.0/block.0/Conv /features.2.0/block.1/Conv /features.2.0/block.2/fc1/Conv /features.2.1/block.0/Conv /features.2.1/block.1/Conv /features.2.1/block.2/fc1/Conv /features.3.0/block.0/Conv /features.3.0/block.1/Conv /features.3.0/block.2/fc1/Conv /features.3.1/block.0/Conv /features.3.1/block.1/Conv /features.3.1/block.2/fc1/Conv /features.4.0/Conv"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT -",
   "/features.2.0/block.2/GlobalAveragePool /features.2.1/block.2/GlobalAveragePool /features.3.0/block.2/GlobalAveragePool /features.3.1/block.2/GlobalAveragePool"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT com.microsoft.nchwc.ReorderOutput",
   "/GlobalAveragePool"},
   {"Mul: predicted com.microsoft.QuickGelu, ORT -",
   "/Mul /features.2.0/Mul /features.2.1/Mul /features.3.0/Mul /features.3.1/Mul /Mul_1"},
   {"Mul: predicted com.microsoft.QuickGelu, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.1.0/Mul /features.1.0/block.1/Mul /features.2.0/Mul_1 /features.2.0/block.2/Mul /features.2.1/Mul_1 /features.2.1/block.2/Mul /features.3.0/Mul_1 /features.3.0/block.2/Mul /features.3.1/Mul_1 /features.3.1/block.2/Mul"}}}},
{"efficientnet_tiny/opset17/all",
 {"level all only: as at opset 13 (NCHWc through QuickGelu and the squeeze-excitation pools), and the residual Adds (Add-14) go into the NCHWc Conv in ORT",
  {{"Add", {3, 0}}, {"GlobalAveragePool", {6, 1}}, {"com.microsoft.nchwc.GlobalAveragePool", {0, 5}}, {"com.microsoft.nchwc.ReorderInput", {14, 4}}, {"com.microsoft.nchwc.ReorderOutput", {26, 19}}},
  {{"Add: predicted Add, ORT -",
   "/features.3.1/Add"},
   {"Add: predicted Add, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.1.0/Add /features.2.1/Add"},
   {"Conv: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/features.0.0/Conv /features.1.0/block.0/Conv /features.1.0/block.1/fc1/Conv /features.1.0/block.2/Conv /features.2.0/block.0/Conv /features.2.0/block.1/Conv /features.2.0/block.2/fc1/Conv /features.2.1/block.0/Conv /features.2.1/block.1/Conv /features.2.1/block.2/fc1/Conv /features.2.1/block.3/Conv /features.3.0/block.0/Conv /features.3.0/block.1/Conv /features.3.0/block.2/fc1/Conv /features.3.0/block.3/Conv /features.3.1/block.0/Conv /features.3.1/block.1/Conv /features.3.1/block.2/fc1/Conv /features.3.1/block.3/Conv /features.4.0/Conv"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT -",
   "/features.2.0/block.2/GlobalAveragePool /features.2.1/block.2/GlobalAveragePool /features.3.0/block.2/GlobalAveragePool /features.3.1/block.2/GlobalAveragePool"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT com.microsoft.nchwc.ReorderOutput",
   "/GlobalAveragePool"},
   {"Mul: predicted com.microsoft.QuickGelu, ORT -",
   "/Mul /features.2.0/Mul /features.2.1/Mul /features.3.0/Mul /features.3.1/Mul /Mul_1"},
   {"Mul: predicted com.microsoft.QuickGelu, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.1.0/Mul /features.1.0/block.1/Mul /features.2.0/Mul_1 /features.2.0/block.2/Mul /features.2.1/Mul_1 /features.2.1/block.2/Mul /features.3.0/Mul_1 /features.3.0/block.2/Mul /features.3.1/Mul_1 /features.3.1/block.2/Mul"}}}},
{"mobilenetv3_tiny/opset13/all",
 {"level all only: ORT keeps the hard-swish (HardSigmoid + Mul) and squeeze-excitation blocks in NCHWc (22 nchwc Conv, HardSigmoid fused into them); the prediction's NchwcTransformer stops at HardSigmoid",
  {{"Add", {3, 1}}, {"Conv", {3, 0}}, {"GlobalAveragePool", {4, 2}}, {"HardSigmoid", {6, 0}}, {"Mul", {10, 4}}, {"com.microsoft.FusedConv", {2, 0}}, {"com.microsoft.nchwc.Conv", {17, 22}}, {"com.microsoft.nchwc.GlobalAveragePool", {0, 2}}, {"com.microsoft.nchwc.ReorderInput", {7, 3}}, {"com.microsoft.nchwc.ReorderOutput", {14, 11}}},
  {{"Add: predicted Add, ORT -",
   "/features.5/Add"},
   {"Add: predicted Add, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.3/Add"},
   {"Conv: predicted Conv, ORT -",
   "/features.3/block.2/Conv /features.4/block.1/Conv /features.4/block.3/Conv"},
   {"Conv: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/features.0.0/Conv /features.4/block.0/Conv /features.5/block.0/Conv /features.5/block.1/Conv /features.5/block.3/Conv /features.6/Conv"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT -",
   "/features.5/block.2/GlobalAveragePool"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT com.microsoft.nchwc.ReorderOutput",
   "/GlobalAveragePool"},
   {"HardSigmoid: predicted HardSigmoid, ORT -",
   "/HardSigmoid /features.4/HardSigmoid /features.4/HardSigmoid_1 /features.5/HardSigmoid /features.5/HardSigmoid_1 /HardSigmoid_1"},
   {"Mul: predicted Mul, ORT -",
   "/Mul /features.4/Mul /features.5/Mul /Mul_1"},
   {"Mul: predicted Mul, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.4/Mul_1 /features.5/Mul_1"},
   {"Relu: predicted com.microsoft.FusedConv, ORT -",
   "/features.3/Relu_1 /features.4/block.2/Relu"},
   {"Relu: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/features.3/Relu"}}}},
{"mobilenetv3_tiny/opset17/all",
 {"level all only: the same as at opset 13 (HardSwish is inlined to HardSigmoid + Mul at load, so the graphs match)",
  {{"Add", {3, 1}}, {"Conv", {3, 0}}, {"GlobalAveragePool", {4, 2}}, {"HardSigmoid", {6, 0}}, {"Mul", {10, 4}}, {"com.microsoft.FusedConv", {2, 0}}, {"com.microsoft.nchwc.Conv", {17, 22}}, {"com.microsoft.nchwc.GlobalAveragePool", {0, 2}}, {"com.microsoft.nchwc.ReorderInput", {7, 3}}, {"com.microsoft.nchwc.ReorderOutput", {14, 11}}},
  {{"Add: predicted Add, ORT -",
   "/features.5/Add"},
   {"Add: predicted Add, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.3/Add"},
   {"Conv: predicted Conv, ORT -",
   "/features.3/block.2/Conv /features.4/block.1/Conv /features.4/block.3/Conv"},
   {"Conv: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/features.0.0/Conv /features.4/block.0/Conv /features.5/block.0/Conv /features.5/block.1/Conv /features.5/block.3/Conv /features.6/Conv"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT -",
   "/features.5/block.2/GlobalAveragePool"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT com.microsoft.nchwc.ReorderOutput",
   "/GlobalAveragePool"},
   {"HardSwish: predicted Mul, ORT -",
   "/HardSwish /features.4/HardSwish /features.5/HardSwish /HardSwish_1"},
   {"HardSwish: predicted Mul, ORT com.microsoft.nchwc.ReorderOutput",
   "/features.4/HardSwish_1 /features.5/HardSwish_1"},
   {"Relu: predicted com.microsoft.FusedConv, ORT -",
   "/features.3/Relu_1 /features.4/block.2/Relu"},
   {"Relu: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/features.3/Relu"}}}},
{"regnety_tiny/opset13/all",
 {"level all only: ORT leaves the squeeze-excitation Conv -> Relu -> Conv -> Sigmoid of 3 blocks in NCHW (FusedConv, GlobalAveragePool) where the prediction rewrites them to NCHWc",
  {{"GlobalAveragePool", {0, 3}}, {"com.microsoft.FusedConv", {0, 3}}, {"com.microsoft.nchwc.Conv", {18, 15}}, {"com.microsoft.nchwc.GlobalAveragePool", {4, 1}}, {"com.microsoft.nchwc.ReorderInput", {3, 6}}},
  {{"GlobalAveragePool: predicted -, ORT GlobalAveragePool",
   "/trunk_output.block1.block1-0/f/se/GlobalAveragePool /trunk_output.block2.block2-0/f/se/GlobalAveragePool /trunk_output.block2.block2-1/f/se/GlobalAveragePool"},
   {"Relu: predicted -, ORT com.microsoft.nchwc.ReorderOutput",
   "/trunk_output.block1.block1-0/f/Relu /trunk_output.block2.block2-0/f/Relu /trunk_output.block2.block2-1/f/Relu"},
   {"Relu: predicted com.microsoft.nchwc.ReorderOutput, ORT com.microsoft.FusedConv",
   "/trunk_output.block1.block1-0/f/Relu_1 /trunk_output.block2.block2-0/f/Relu_1 /trunk_output.block2.block2-1/f/Relu_1"}}}},
{"regnety_tiny/opset17/all",
 {"level all only: as at opset 13, and ORT fuses the residual Add + Relu into the NCHWc Conv",
  {{"Add", {3, 0}}, {"GlobalAveragePool", {1, 3}}, {"Relu", {3, 0}}, {"com.microsoft.FusedConv", {0, 3}}, {"com.microsoft.nchwc.Conv", {18, 15}}, {"com.microsoft.nchwc.GlobalAveragePool", {3, 1}}, {"com.microsoft.nchwc.ReorderInput", {5, 6}}, {"com.microsoft.nchwc.ReorderOutput", {15, 11}}},
  {{"Add: predicted Add, ORT -",
   "/trunk_output.block1.block1-0/f/Add /trunk_output.block2.block2-0/f/Add /trunk_output.block2.block2-1/f/Add"},
   {"Conv: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/trunk_output.block1.block1-0/proj/Conv /trunk_output.block1.block1-0/f/c/Conv /trunk_output.block2.block2-0/proj/Conv /trunk_output.block2.block2-0/f/c/Conv /trunk_output.block2.block2-1/f/c/Conv"},
   {"GlobalAveragePool: predicted -, ORT GlobalAveragePool",
   "/trunk_output.block1.block1-0/f/se/GlobalAveragePool /trunk_output.block2.block2-0/f/se/GlobalAveragePool /trunk_output.block2.block2-1/f/se/GlobalAveragePool"},
   {"GlobalAveragePool: predicted GlobalAveragePool, ORT com.microsoft.nchwc.ReorderOutput",
   "/GlobalAveragePool"},
   {"Relu: predicted -, ORT com.microsoft.nchwc.ReorderOutput",
   "/trunk_output.block1.block1-0/f/Relu /trunk_output.block2.block2-0/f/Relu /trunk_output.block2.block2-1/f/Relu"},
   {"Relu: predicted Relu, ORT -",
   "/trunk_output.block1.block1-0/f/Relu_2 /trunk_output.block2.block2-0/f/Relu_2 /trunk_output.block2.block2-1/f/Relu_2"},
   {"Relu: predicted com.microsoft.nchwc.ReorderOutput, ORT com.microsoft.FusedConv",
   "/trunk_output.block1.block1-0/f/Relu_1 /trunk_output.block2.block2-0/f/Relu_1 /trunk_output.block2.block2-1/f/Relu_1"}}}},
{"shufflenetv2_tiny/opset17/all",
 {"level all only: one ReorderOutput fewer in ORT around a Concat (Concat-13 at opset 17)",
  {{"com.microsoft.nchwc.ReorderOutput", {13, 12}}},
  {{"Concat: predicted Concat, ORT com.microsoft.nchwc.ReorderOutput",
   "/stage3.0/Concat"},
   {"Relu: predicted com.microsoft.nchwc.ReorderOutput, ORT -",
   "/stage3.0/Relu /stage3.0/Relu_2"}}}},
  };
  return m;
}

std::vector<std::pair<std::string, onnx::TensorProto>> ort_inputs(const bench::FamilyCase& c) {
  std::vector<std::pair<std::string, onnx::TensorProto>> in;
  for (auto& [name, t] : c.inputs)
    in.emplace_back(name, test::make_tensor_raw(name, static_cast<int32_t>(t.dtype()), t.dims(),
                                                std::string(reinterpret_cast<const char*>(t.raw()), t.byte_size())));
  return in;
}

// "family_tiny/opsetN/qdq/level" -> why the prediction of the quantized family differs, and exactly how.
// One family case at one level: the prediction against real ONNX Runtime's optimized graph (or the checked-in
// reference), exactly or as the listed known difference.
void check_family_case(const bench::FamilyCase& c, const onnx::ModelProto& proto, const std::string& model_digest,
                       const std::string& key, OrtOptLevel level,
                       const std::map<std::string, test::KnownDifference>& known, std::set<std::string>& known_seen,
                       size_t& compared, size_t& agreeing) {
  const std::string lname = ort_opt_level_name(level);
  OrtPredictionOptions po;
  po.level = level;
  const OrtPrediction p = predict_ort_optimization(*c.model, po);
  auto run_ort = [&](test::OrtHarness& ort) -> std::unique_ptr<Model> {
    test::TempDir tmp;
    test::OrtOptions oo;
    oo.opt_level = lname;
    oo.optimized_model_path = tmp.file("ort_optimized.onnx");
    auto r = ort.run_model(proto, ort_inputs(c), oo);
    INFO(r.error);
    REQUIRE(r.ok);
    auto opt = load_model(oo.optimized_model_path);
    REQUIRE(opt);
    return std::move(*opt);
  };
  const test::OrtGraphSummary ort = test::ort_reference_summary(
      "ort_prediction_families.json", key, test::digest_of(model_digest + lname), level, *c.model, run_ort);
  const test::PredictionDiff d = test::diff_prediction(p, *c.model, ort);
  ++compared;
  agreeing += d.empty() && p.node_count == ort.nodes;
  INFO("predicted " << p.node_count << " nodes, ORT " << ort.nodes << "; differences:\n" << test::describe(d, 1000));
  auto kw = known.find(key);
  if (kw != known.end()) {
    INFO("known to differ: " << kw->second.reason);
    known_seen.insert(key);
    CHECK(d.op_differences == kw->second.op_differences);
    CHECK(test::grouped(d.fate_mismatches) == kw->second.fate_mismatches);
    return;
  }
  CHECK(d.op_differences.empty());
  CHECK(p.node_count == ort.nodes);
  CHECK(d.fate_mismatches.empty());
}

const std::map<std::string, test::KnownDifference>& qdq_known_differences() {
  // Measured against ORT 1.30; every entry is QDQPropagationTransformer, which the prediction does not encode.
  static const std::map<std::string, test::KnownDifference> m = {
{"gpt_tiny/opset13/qdq/basic",
 {"QDQPropagationTransformer (level 1, qdq_propagation.cc: Q/DQ pairs with the same scalar parameters inserted along Reshape/Transpose/Squeeze/Unsqueeze/Slice/MaxPool chains) is not encoded: ORT inserts pairs on the attention's head Split -> Reshape edges and after the position Gather's Q (11 Q, 12 DQ more), renaming those outputs",
  {{"DequantizeLinear", {74, 86}}, {"QuantizeLinear", {52, 63}}},
  {{"QuantizeLinear: predicted QuantizeLinear, ORT -",
   "/transformer/Gather_1_output_0_QuantizeLinear"},
   {"Reshape: predicted Reshape, ORT -",
   "/transformer/h.0/attn/Reshape /transformer/h.0/attn/Reshape_1 /transformer/h.0/attn/Reshape_2 /transformer/h.1/attn/Reshape /transformer/h.1/attn/Reshape_1 /transformer/h.1/attn/Reshape_2"},
   {"Split: predicted Split, ORT -",
   "/transformer/h.0/attn/Split /transformer/h.1/attn/Split"}}}},
{"gpt_tiny/opset13/qdq/extended",
 {"QDQPropagationTransformer not encoded (see basic): after the inserted pairs the head Reshape/Transpose run on the quantized tensors (drop DQ/Q), so the Transposes output what were their Qs' values",
  {{"QuantizeLinear", {27, 26}}},
  {{"QuantizeLinear: predicted QuantizeLinear, ORT -",
   "/transformer/Gather_1_output_0_QuantizeLinear"},
   {"QuantizeLinear: predicted QuantizeLinear, ORT Transpose",
   "/transformer/h.0/attn/Transpose_output_0_QuantizeLinear /transformer/h.0/attn/Transpose_1_output_0_QuantizeLinear /transformer/h.0/attn/Transpose_2_output_0_QuantizeLinear /transformer/h.1/attn/Transpose_output_0_QuantizeLinear /transformer/h.1/attn/Transpose_1_output_0_QuantizeLinear /transformer/h.1/attn/Transpose_2_output_0_QuantizeLinear"},
   {"Reshape: predicted Reshape, ORT -",
   "/transformer/h.0/attn/Reshape /transformer/h.0/attn/Reshape_1 /transformer/h.0/attn/Reshape_2 /transformer/h.1/attn/Reshape /transformer/h.1/attn/Reshape_1 /transformer/h.1/attn/Reshape_2"},
   {"Split: predicted Split, ORT -",
   "/transformer/h.0/attn/Split /transformer/h.1/attn/Split"},
   {"Transpose: predicted Transpose, ORT -",
   "/transformer/h.0/attn/Transpose /transformer/h.0/attn/Transpose_1 /transformer/h.0/attn/Transpose_2 /transformer/h.1/attn/Transpose /transformer/h.1/attn/Transpose_1 /transformer/h.1/attn/Transpose_2"}}}},
{"gpt_tiny/opset17/qdq/basic",
 {"QDQPropagationTransformer (level 1, qdq_propagation.cc: Q/DQ pairs with the same scalar parameters inserted along Reshape/Transpose/Squeeze/Unsqueeze/Slice/MaxPool chains) is not encoded: ORT inserts pairs on the attention's head Split -> Reshape edges and after the position Gather's Q (11 Q, 12 DQ more), renaming those outputs",
  {{"DequantizeLinear", {69, 81}}, {"QuantizeLinear", {52, 63}}},
  {{"QuantizeLinear: predicted QuantizeLinear, ORT -",
   "/transformer/Gather_1_output_0_QuantizeLinear"},
   {"Reshape: predicted Reshape, ORT -",
   "/transformer/h.0/attn/Reshape /transformer/h.0/attn/Reshape_1 /transformer/h.0/attn/Reshape_2 /transformer/h.1/attn/Reshape /transformer/h.1/attn/Reshape_1 /transformer/h.1/attn/Reshape_2"},
   {"Split: predicted Split, ORT -",
   "/transformer/h.0/attn/Split /transformer/h.1/attn/Split"}}}},
{"gpt_tiny/opset17/qdq/extended",
 {"QDQPropagationTransformer not encoded (see basic): after the inserted pairs the head Reshape/Transpose run on the quantized tensors (drop DQ/Q), so the Transposes output what were their Qs' values",
  {{"QuantizeLinear", {27, 26}}},
  {{"QuantizeLinear: predicted QuantizeLinear, ORT -",
   "/transformer/Gather_1_output_0_QuantizeLinear"},
   {"QuantizeLinear: predicted QuantizeLinear, ORT Transpose",
   "/transformer/h.0/attn/Transpose_output_0_QuantizeLinear /transformer/h.0/attn/Transpose_1_output_0_QuantizeLinear /transformer/h.0/attn/Transpose_2_output_0_QuantizeLinear /transformer/h.1/attn/Transpose_output_0_QuantizeLinear /transformer/h.1/attn/Transpose_1_output_0_QuantizeLinear /transformer/h.1/attn/Transpose_2_output_0_QuantizeLinear"},
   {"Reshape: predicted Reshape, ORT -",
   "/transformer/h.0/attn/Reshape /transformer/h.0/attn/Reshape_1 /transformer/h.0/attn/Reshape_2 /transformer/h.1/attn/Reshape /transformer/h.1/attn/Reshape_1 /transformer/h.1/attn/Reshape_2"},
   {"Split: predicted Split, ORT -",
   "/transformer/h.0/attn/Split /transformer/h.1/attn/Split"},
   {"Transpose: predicted Transpose, ORT -",
   "/transformer/h.0/attn/Transpose /transformer/h.0/attn/Transpose_1 /transformer/h.0/attn/Transpose_2 /transformer/h.1/attn/Transpose /transformer/h.1/attn/Transpose_1 /transformer/h.1/attn/Transpose_2"}}}},
{"vit_tiny/opset13/qdq/basic",
 {"QDQPropagationTransformer (level 1, qdq_propagation.cc: Q/DQ pairs with the same scalar parameters inserted along Reshape/Transpose/Squeeze/Unsqueeze/Slice/MaxPool chains) is not encoded: ORT inserts pairs after the key/value head Reshapes (8 Q, 8 DQ more), renaming their outputs",
  {{"DequantizeLinear", {73, 81}}, {"QuantizeLinear", {50, 58}}},
  {{"Reshape: predicted Reshape, ORT -",
   "/blocks.0/attn/Reshape_1 /blocks.0/attn/Reshape_2 /blocks.1/attn/Reshape_1 /blocks.1/attn/Reshape_2"}}}},
{"vit_tiny/opset13/qdq/extended",
 {"QDQPropagationTransformer not encoded (see basic): the same op counts, but the key/value head Reshape and Transpose run on the quantized tensors (drop DQ/Q), so the Transposes output what were their Qs' values",
  {},
  {{"QuantizeLinear: predicted QuantizeLinear, ORT Transpose",
   "/blocks.0/attn/Transpose_1_output_0_QuantizeLinear /blocks.0/attn/Transpose_2_output_0_QuantizeLinear /blocks.1/attn/Transpose_1_output_0_QuantizeLinear /blocks.1/attn/Transpose_2_output_0_QuantizeLinear"},
   {"Reshape: predicted Reshape, ORT -",
   "/blocks.0/attn/Reshape_1 /blocks.0/attn/Reshape_2 /blocks.1/attn/Reshape_1 /blocks.1/attn/Reshape_2"},
   {"Transpose: predicted Transpose, ORT -",
   "/blocks.0/attn/Transpose_1 /blocks.0/attn/Transpose_2 /blocks.1/attn/Transpose_1 /blocks.1/attn/Transpose_2"}}}},
{"vit_tiny/opset17/qdq/basic",
 {"QDQPropagationTransformer (level 1, qdq_propagation.cc: Q/DQ pairs with the same scalar parameters inserted along Reshape/Transpose/Squeeze/Unsqueeze/Slice/MaxPool chains) is not encoded: ORT inserts pairs after the key/value head Reshapes (8 Q, 8 DQ more), renaming their outputs",
  {{"DequantizeLinear", {68, 76}}, {"QuantizeLinear", {50, 58}}},
  {{"Reshape: predicted Reshape, ORT -",
   "/blocks.0/attn/Reshape_1 /blocks.0/attn/Reshape_2 /blocks.1/attn/Reshape_1 /blocks.1/attn/Reshape_2"}}}},
{"vit_tiny/opset17/qdq/extended",
 {"QDQPropagationTransformer not encoded (see basic): the same op counts, but the key/value head Reshape and Transpose run on the quantized tensors (drop DQ/Q), so the Transposes output what were their Qs' values",
  {},
  {{"QuantizeLinear: predicted QuantizeLinear, ORT Transpose",
   "/blocks.0/attn/Transpose_1_output_0_QuantizeLinear /blocks.0/attn/Transpose_2_output_0_QuantizeLinear /blocks.1/attn/Transpose_1_output_0_QuantizeLinear /blocks.1/attn/Transpose_2_output_0_QuantizeLinear"},
   {"Reshape: predicted Reshape, ORT -",
   "/blocks.0/attn/Reshape_1 /blocks.0/attn/Reshape_2 /blocks.1/attn/Reshape_1 /blocks.1/attn/Reshape_2"},
   {"Transpose: predicted Transpose, ORT -",
   "/blocks.0/attn/Transpose_1 /blocks.0/attn/Transpose_2 /blocks.1/attn/Transpose_1 /blocks.1/attn/Transpose_2"}}}},
  };
  return m;
}

// The quantized graph's structure: its nodes' op types, attributes and value names, its initializers' names,
// types and shapes, not their values. Calibrated scales may differ in their last bits between hosts (the
// executor's kernels differ by ISA) while the graph ORT and the prediction see stays the same.
std::string qdq_structure_digest(const onnx::ModelProto& proto) {
  std::string s;
  for (const onnx::NodeProto& n : proto.graph().node()) {
    s += n.domain() + "." + n.op_type() + "(";
    for (const std::string& i : n.input()) s += i + ",";
    s += ")->(";
    for (const std::string& o : n.output()) s += o + ",";
    s += ")";
    for (const onnx::AttributeProto& a : n.attribute()) s += a.name() + "=" + std::to_string(a.i()) + ";";
    s += "\n";
  }
  for (const onnx::TensorProto& t : proto.graph().initializer()) {
    s += t.name() + ":" + std::to_string(t.data_type()) + "[";
    for (int64_t d : t.dims()) s += std::to_string(d) + ",";
    s += "]\n";
  }
  return test::digest_of(s);
}

// The family's own inputs as the one calibration sample.
class FamilyInputsSource : public SampleSource {
 public:
  explicit FamilyInputsSource(const bench::FamilyCase& c) : inputs_(c.inputs) {}
  size_t size() const override { return 1; }
  std::string describe() const override { return "the family's inputs"; }
  Expected<Sample> load(size_t) const override {
    Sample s;
    s.label = "family inputs";
    s.inputs = inputs_;
    return s;
  }

 private:
  std::vector<std::pair<std::string, exec::TensorValue>> inputs_;
};

}  // namespace

TEST_CASE("ORT prediction matches real ONNX Runtime on every tiny bench family at opsets 13 and 17 at opsets 13 and 17",
          "[conformance][ort-prediction][families]") {
  std::set<std::string> known_seen;
  size_t agreeing = 0, compared = 0;
  for (const std::string& name : bench::family_names(/*tiny=*/true)) {
    for (int64_t opset : {13, 17}) {
      auto c = bench::build_family(name, {opset, 1});
      INFO(name << " at opset " << opset << (c ? "" : ": " + c.error().message));
      REQUIRE(c);
      const onnx::ModelProto proto = to_proto_inline(*c->model);
      const std::string model_digest = test::digest_of(proto.SerializeAsString());
      REQUIRE(infer_shapes_with_bindings(*c->model, {}));
      for (OrtOptLevel level : {OrtOptLevel::Basic, OrtOptLevel::Extended, OrtOptLevel::All}) {
        const std::string lname = ort_opt_level_name(level);
        const std::string key = name + "/opset" + std::to_string(opset) + "/" + lname;
        INFO(key);
        check_family_case(*c, proto, model_digest, key, level, known_differences(), known_seen, compared, agreeing);
      }
    }
  }
  INFO(agreeing << " of " << compared << " cases agree exactly");
  CHECK(compared == bench::family_names(true).size() * 2 * 3);
  for (auto& [key, known] : known_differences()) {
    INFO("listed as a known difference but not met: " << key);
    CHECK(known_seen.count(key) == 1);
  }
}

// The same families quantized by effopt's own quantize (mode=static, calibrated on the family's inputs): the
// QDQ graphs quantize writes, at levels basic and extended (the QDQ rules run at extended).
TEST_CASE("ORT prediction matches real ONNX Runtime on the tiny bench families quantized by quantize mode=static",
          "[conformance][ort-prediction][families][qdq]") {
  std::set<std::string> known_seen;
  size_t agreeing = 0, compared = 0;
  for (const std::string& name : bench::family_names(/*tiny=*/true)) {
    for (int64_t opset : {13, 17}) {
      auto c = bench::build_family(name, {opset, 1});
      INFO(name << " at opset " << opset << (c ? "" : ": " + c.error().message));
      REQUIRE(c);
      REQUIRE(infer_shapes_with_bindings(*c->model, {}));
      FamilyInputsSource calibration(*c);
      pass::PassSamples samples;
      samples.calibration = &calibration;
      const std::string float_digest = test::digest_of(to_proto_inline(*c->model).SerializeAsString());
      auto q = pass::apply_pass(test::pass_info("quantize"), *c->model, test::pass_options("quantize", "mode=static"),
                                1, &samples);
      INFO((q ? "" : "quantize: " + q.error().message));
      REQUIRE(q);
      const onnx::ModelProto proto = to_proto_inline(*c->model);
      const std::string model_digest = float_digest + qdq_structure_digest(proto);
      REQUIRE(infer_shapes_with_bindings(*c->model, {}));
      for (OrtOptLevel level : {OrtOptLevel::Basic, OrtOptLevel::Extended}) {
        const std::string lname = ort_opt_level_name(level);
        const std::string key = name + "/opset" + std::to_string(opset) + "/qdq/" + lname;
        INFO(key);
        check_family_case(*c, proto, model_digest, key, level, qdq_known_differences(), known_seen, compared, agreeing);
      }
    }
  }
  INFO(agreeing << " of " << compared << " cases agree exactly");
  CHECK(compared == bench::family_names(true).size() * 2 * 2);
  for (auto& [key, known] : qdq_known_differences()) {
    INFO("listed as a known difference but not met: " << key);
    CHECK(known_seen.count(key) == 1);
  }
}
