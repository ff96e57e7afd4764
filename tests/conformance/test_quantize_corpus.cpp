// `effopt quantize` (the @quantize pipeline) on the corpus models and on a
// MatMul-only model built by effopt's own IR, measured in ONNX Runtime 1.30:
// every output loads and runs, is smaller on disk by the targets
// (issue 25's acceptance: weight >= 3.7x for resnet18 and tiny_bert, int4 >=
// 7.2x on the MatMul model and >= 5.4x on tiny_bert, dynamic >= 3x on
// tiny_bert, fp16 >= 1.9x on resnet18) and stays close to the original
// (rel-l2 0.05 for int8 weight and dynamic, 0.01 for fp16; digits_cnn's
// accuracy on its labels within 0.5 points). The ORT prediction must agree
// with the graph ONNX Runtime saves for the quantized models (op counts at
// level extended), except where listed as knowingly different. The numbers
// are printed (WARN) for docs/benchmarks.md.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "ort/ort_prediction.h"
#include "analysis/fidelity.h"
#include "analysis/footprint.h"
#include "analysis/shape_propagation.h"
#include "ir/dtype.h"
#include "onnx/model_io.h"
#include "pass/manager.h"
#include "pass/named_pipelines.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

// The share of rows whose arg-max equals the label.
double accuracy(const onnx::TensorProto& logits, const onnx::TensorProto& labels) {
  return static_cast<double>(test::top1_correct(logits, labels)) / static_cast<double>(logits.dims(0));
}

// (model/options) pairs whose ORT prediction is known to differ from real ONNX Runtime, and why.
const std::map<std::string, std::string>& known_wrong() {
  static const std::map<std::string, std::string> m = {
      {"resnet18 {mode=fp16 keep-io-types=true}",
       "ORT casts around float16 nodes that have no x86 CPU kernel (InsertCastTransformer); not predicted"},
      {"tiny_bert {mode=fp16 keep-io-types=true}",
       "ORT casts around float16 nodes that have no x86 CPU kernel, which also blocks its LayerNormalization "
       "fusion; not predicted"},
      {"matmul-model {bits=4}",
       "real ORT fuses only one of the two int4 DequantizeLinear -> MatMul pairs into MatMulNBits; the "
       "prediction fuses both (cause not found)"},
  };
  return m;
}

struct Case {
  std::string model;     // corpus case under models/, or "" for the generated MatMul model
  std::string options;   // quantize pass options
  double min_ratio;      // file bytes before / after
  double max_error;      // rel-l2 of every output in ONNX Runtime (0: not checked)
};

struct Measured {
  double ratio = 0, error = 0;
};

Measured run_case(test::OrtHarness& ort, const fs::path& model_path, const fs::path& data_dir, const Case& c,
                  const test::TempDir& tmp) {
  std::string label = (c.model.empty() ? "matmul-model" : c.model) + " {" + c.options + "}";
  INFO(label);
  auto proto = test::load_model(model_path.string());
  auto inputs = fs::exists(data_dir / "input_0.pb")
                    ? test::bind_inputs(proto, test::load_test_data_set(data_dir.string()))
                    : test::random_inputs(proto, 1);
  auto orig = ort.run(model_path.string(), inputs);
  INFO(orig.error);
  REQUIRE(orig);
  auto m = load_model(model_path.string());
  REQUIRE(m);
  auto pipeline = pass::parse_pipeline(pass::quantize_pipeline_text(0, {}, c.options));
  INFO((pipeline ? "" : pipeline.error().message));
  REQUIRE(pipeline);
  auto run = pass::run_pipeline(*pipeline, **m);
  INFO((run ? "" : run.error().message));
  REQUIRE(run);
  fs::path out = tmp.path() / ((c.model.empty() ? std::string("matmul") : c.model) + "." +
                      std::to_string(std::hash<std::string>()(c.options)) + ".onnx");
  REQUIRE(save_model(**m, out.string()));
  test::OrtOptions oo;
  oo.opt_level = "extended";
  oo.optimized_model_path = out.string() + ".ort.onnx";
  auto q = ort.run(out.string(), inputs, oo);
  INFO(q.error);
  REQUIRE(q);
  REQUIRE(q->outputs.size() == orig->outputs.size());
  Measured r;
  r.ratio = static_cast<double>(fs::file_size(model_path)) / static_cast<double>(fs::file_size(out));
  for (size_t i = 0; i < q->outputs.size(); ++i) r.error = std::max(r.error, test::rel_l2(q->outputs[i], orig->outputs[i]));
  // The prediction of what ONNX Runtime makes of the quantized model.
  auto qm = load_model(out.string());
  REQUIRE(qm);
  REQUIRE(infer_shapes_with_bindings(**qm, {}));
  OrtPredictionOptions po;
  po.level = OrtOptLevel::Extended;
  OrtPrediction p = predict_ort_optimization(**qm, po);
  auto opt = load_model(oo.optimized_model_path);
  REQUIRE(opt);
  OrtPredictionCheck pc = check_prediction(p, **qm, **opt);
  std::string diffs;
  for (auto& [op, pa] : pc.op_differences)
    diffs += op + ": predicted " + std::to_string(pa.first) + ", ORT " + std::to_string(pa.second) + "; ";
  WARN(label << ": file " << fs::file_size(model_path) << " -> " << fs::file_size(out) << " bytes (" << r.ratio
             << "x), rel-l2 in ONNX Runtime " << r.error << ", load+run ok; prediction "
             << (diffs.empty() ? "matches" : "differs: " + diffs));
  CHECK(r.ratio >= c.min_ratio);
  if (c.max_error > 0) CHECK(r.error <= c.max_error);
  if (c.options.find("mode=static") != std::string::npos) {
    // Issue 25: >= 95% of the Conv/MatMul MACs in integer kernels at level extended, in real ONNX Runtime,
    // equal to the prediction. Real: the MACs of the quantized model's Conv/MatMul/Gemm nodes whose output
    // ONNX Runtime's saved graph still computes with a float Conv/MatMul/Gemm (matched by value name).
    Footprint f = compute_footprint(**qm);
    std::vector<std::optional<uint64_t>> macs;
    std::map<std::string, uint64_t> macs_by_output;
    for (size_t i = 0; i < f.nodes.size(); ++i) {
      macs.push_back(f.nodes[i].macs);
      const Node& n = *(*qm)->graph->nodes()[i];
      if (n.output(0)) macs_by_output[n.output(0)->name()] = f.nodes[i].macs.value_or(0);
    }
    IntegerKernelMacs ik = integer_kernel_macs(p, **qm, macs);
    REQUIRE(ik.total_macs > 0);
    uint64_t float_macs = 0;
    for (const auto& n : (*opt)->graph->nodes())
      if ((n->op_type == "Conv" || n->op_type == "MatMul" || n->op_type == "Gemm") && n->output(0))
        float_macs += macs_by_output[n->output(0)->name()];
    double predicted = static_cast<double>(ik.integer_macs) / static_cast<double>(ik.total_macs);
    double real = 1.0 - static_cast<double>(float_macs) / static_cast<double>(ik.total_macs);
    WARN(label << ": integer-kernel MAC fraction at level extended: ONNX Runtime " << real << ", predicted "
               << predicted);
    CHECK(real >= 0.95);
    CHECK(predicted == real);
  }
  auto kw = known_wrong().find(label);
  if (kw != known_wrong().end()) {
    INFO("known to differ: " << kw->second);
    CHECK_FALSE(pc.op_counts_equal());
  } else {
    CHECK(diffs.empty());
  }
  return r;
}

}  // namespace

TEST_CASE("effopt quantize on the corpus models: smaller, running in ONNX Runtime, close to the original",
          "[conformance][quantize]") {
  auto corpus = test::corpus_or_skip();
  if (!corpus) return;
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  test::TempDir tmp;
  const std::vector<Case> cases = {
      {"resnet18", "", 3.7, 0.05},
      {"tiny_bert", "", 3.7, 0.05},
      {"mobilenet_v2", "", 3.5, 0.05},
      {"tiny_bert", "bits=4", 5.4, 0.1},
      {"tiny_bert", "bits=4 emit=ort", 5.4, 0.1},
      {"tiny_bert", "mode=dynamic", 3.0, 0.05},
      {"resnet18", "mode=fp16 keep-io-types=true", 1.9, 0.01},
      {"tiny_bert", "mode=fp16 keep-io-types=true", 1.9, 0.01},
      // Static mode on seeded random calibration (random-init models: for speed; fidelity proper is
      // digits_cnn's accuracy below).
      {"resnet18", "mode=static", 3.7, 0.05},
      {"mobilenet_v2", "mode=static", 3.5, 0.05},
  };
  for (const Case& c : cases) {
    fs::path dir = *corpus / "models" / c.model;
    if (!fs::exists(dir / "model.onnx")) {
      test::skip(test::Needs::Corpus, "no " + (dir / "model.onnx").string());
      continue;
    }
    run_case(*ort, dir / "model.onnx", dir / "test_data_set_0", c, tmp);
  }
}

TEST_CASE("effopt quantize keeps digits_cnn's accuracy (weight, dynamic, fp16 and calibrated static modes)", "[conformance][quantize]") {
  auto dir = test::corpus_case_or_skip("models/digits_cnn");
  if (!dir) return;
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  fs::path model_path = *dir / "model.onnx";
  auto proto = test::load_model(model_path.string());
  auto inputs = test::bind_inputs(proto, test::load_test_data_set((*dir / "test_data_set_0").string()));
  test::TempDir tmp;
  fs::copy_file(*dir / "test_data_set_0" / "labels.pb", tmp.path() / "labels0.pb");  // the loader reads NAME0.pb
  auto labels = test::load_test_data_set(tmp.path().string(), "labels");
  REQUIRE(labels.size() == 1);
  auto orig = ort->run(model_path.string(), inputs);
  REQUIRE(orig);
  double base = accuracy(orig->outputs[0], labels[0]);
  for (const std::string options : {"", "mode=dynamic", "mode=fp16 keep-io-types=true", "mode=static",
                                    "mode=static calibration-method=percentile", "mode=static calibration-method=entropy"}) {
    INFO("options " << options);
    auto m = load_model(model_path.string());
    REQUIRE(m);
    auto pipeline = pass::parse_pipeline(pass::quantize_pipeline_text(0, {}, options));
    REQUIRE(pipeline);
    // Static mode calibrates on the case's calibration_set (kept apart from test_data_set_0), one row per image.
    auto cal = data_samples({(*dir / "calibration_set").string()}, *(*m)->graph, "--calibration");
    REQUIRE(cal);
    auto rows = split_rows(std::move(*cal), *(*m)->graph, 0);
    REQUIRE(rows);
    pass::PassSamples ps;
    ps.calibration = rows->get();
    pass::ManagerOptions mo;
    mo.samples = &ps;
    auto run = pass::run_pipeline(*pipeline, **m, mo);
    INFO((run ? "" : run.error().message));
    REQUIRE(run);
    std::string out = tmp.file("digits.onnx");
    fs::remove(out);
    REQUIRE(save_model(**m, out));
    auto q = ort->run(out, inputs);
    INFO(q.error);
    REQUIRE(q);
    double acc = accuracy(q->outputs[0], labels[0]);
    WARN("digits_cnn {" << options << "}: accuracy " << base << " -> " << acc << ", file "
                        << fs::file_size(model_path) << " -> " << fs::file_size(out) << " bytes");
    CHECK(acc >= base - 0.005);
  }
}

TEST_CASE("effopt quantize bits=4 on a MatMul-only model built by effopt: >= 7.2x smaller, runs in ONNX Runtime",
          "[conformance][quantize]") {
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  test::TempDir tmp;
  // Two 1024x1024 MatMul + Relu layers, seeded weights in [-1, 1).
  Model m;
  m.ir_version = 8;
  m.opset_imports = {{"", 13}};
  m.graph = std::make_unique<Graph>();
  Graph& g = *m.graph;
  Value* x = g.create_value("x");
  x->type = Type::tensor(DataType::Float, std::vector<Dim>{Dim::known(8), Dim::known(1024)});
  g.add_input(x);
  Value* h = x;
  uint64_t state = 1;
  for (int layer = 0; layer < 2; ++layer) {
    std::vector<double> w(1024 * 1024);
    for (double& v : w) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      v = static_cast<double>(state >> 11) / 9007199254740992.0 * 2 - 1;
    }
    TensorPtr t = tensor_from_values(DataType::Float, {1024, 1024}, w);
    t->name = "W" + std::to_string(layer);
    Value* wv = g.add_initializer(t);
    Node* mm = g.create_node("MatMul", {h, wv}, {"t" + std::to_string(layer)});
    Node* relu = g.create_node("Relu", {mm->output(0)}, {"h" + std::to_string(layer)});
    h = relu->output(0);
  }
  h->type = Type::tensor(DataType::Float, std::vector<Dim>{Dim::known(8), Dim::known(1024)});
  g.add_output(h);
  std::string path = tmp.file("matmul.onnx");
  REQUIRE(save_model(m, path));
  // Uniform weights in int4: each layer's rel-l2 is about (2/15)/sqrt(12)/(1/sqrt(3)) ~ 0.067; two layers.
  for (const char* options : {"bits=4", "bits=4 emit=ort"}) {
    Measured r = run_case(*ort, path, tmp.path() / "no-data", {"", options, 7.2, 0}, tmp);
    CHECK(r.error < 0.15);
  }
}
