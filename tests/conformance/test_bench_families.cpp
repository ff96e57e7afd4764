// The tiny instance of every bench family (bench/families/families.h), at
// opsets 13 and 17: the model passes ONNX's checker and strict shape
// inference; effopt's executor (default options, and with its internal
// rewrites off as calibration and --check-outputs run it) matches ONNX Runtime
// 1.30 within the executor's usual tolerances (atol 1e-5, rtol 1e-4) and gives
// bit-identical results with 1 and 2 threads; and `effopt fuse`'s pipeline
// keeps ONNX Runtime's outputs (relative L2 1e-4, as for the corpus). Calls
// test::skip when ONNX Runtime is absent.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "exec/executor.h"
#include "families/families.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "pass/manager.h"
#include "pass/named_pipelines.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;

namespace {

std::vector<std::pair<std::string, onnx::TensorProto>> ort_inputs(const bench::FamilyCase& c) {
  std::vector<std::pair<std::string, onnx::TensorProto>> in;
  for (auto& [name, t] : c.inputs)
    in.emplace_back(name, test::make_tensor_raw(name, static_cast<int32_t>(t.dtype()), t.dims(),
                                                std::string(reinterpret_cast<const char*>(t.raw()), t.byte_size())));
  return in;
}

// Every element within atol + rtol * |want|; the outputs must also be large enough for the bounds to mean
// something (random weights can make a deep model's outputs vanish).
void check_close(const exec::TensorValue& got, const exec::TensorValue& want, double atol, double rtol) {
  REQUIRE(got.dtype() == DataType::Float);
  REQUIRE(want.dtype() == DataType::Float);
  REQUIRE(got.dims() == want.dims());
  double worst = 0, largest = 0;
  bool ok = true;
  for (uint64_t i = 0; i < want.element_count(); ++i) {
    const double x = got.data<float>()[i], y = want.data<float>()[i];
    const double d = std::isfinite(x) ? std::fabs(x - y) : INFINITY;
    worst = std::max(worst, d);
    largest = std::max(largest, std::fabs(y));
    ok = ok && d <= atol + rtol * std::fabs(y);
  }
  INFO("max abs diff " << worst << ", largest |output| " << largest);
  CHECK(ok);
  CHECK(largest > 1e-2);
}

}  // namespace

TEST_CASE("bench families: every tiny instance passes ONNX's checker at opsets 13 and 17", "[families]") {
  for (const std::string& name : bench::family_names(/*tiny=*/true)) {
    for (int64_t opset : {13, 17}) {
      INFO(name << " at opset " << opset);
      auto c = bench::build_family(name, {opset, 1});
      INFO((c ? "" : c.error().message));
      REQUIRE(c);
      CHECK(c->model->opset("") == opset);
      CHECK(test::onnx_check(*c->model) == "");
    }
  }
}

TEST_CASE("bench families: the opsets write LayerNormalization, HardSwish and the causal mask as PyTorch does",
          "[families]") {
  auto count = [](const std::string& name, int64_t opset, const std::string& op) {
    auto c = bench::build_family(name, {opset, 1});
    REQUIRE(c);
    size_t n = 0;
    for (auto& node : c->model->graph->nodes()) n += node->op_type == op;
    return n;
  };
  // gpt_tiny: 2 layers, so 5 LayerNorms (ln_1 and ln_2 per layer, ln_f) and one mask per layer.
  CHECK(count("gpt_tiny", 17, "LayerNormalization") == 5);
  CHECK(count("gpt_tiny", 13, "LayerNormalization") == 0);
  CHECK(count("gpt_tiny", 13, "ReduceMean") == 10);
  CHECK(count("gpt_tiny", 17, "Trilu") == 2);
  CHECK(count("gpt_tiny", 17, "Where") == 2);
  CHECK(count("gpt_tiny", 13, "Trilu") == 0);
  CHECK(count("gpt_tiny", 13, "Tanh") == 2);
  CHECK(count("vit_tiny", 17, "Erf") == 2);
  CHECK(count("mobilenetv3_tiny", 13, "HardSwish") == 0);
  CHECK(count("mobilenetv3_tiny", 17, "HardSwish") > 0);
  CHECK(count("mobilenetv3_tiny", 13, "HardSigmoid") > count("mobilenetv3_tiny", 17, "HardSigmoid"));
  CHECK(count("mobilenetv3_tiny", 17, "Clip") == 1);
  CHECK(count("shufflenetv2_tiny", 17, "Split") > 0);
  CHECK(count("shufflenetv2_tiny", 17, "Slice") > 0);
  CHECK_FALSE(bench::build_family("resnet_tiny", {17, 1}));
  CHECK_FALSE(bench::build_family("gpt_tiny", {15, 1}));
}

TEST_CASE("bench families: the executor matches ONNX Runtime on every tiny instance, and fuse keeps its outputs",
          "[families][conformance]") {
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  test::TempDir tmp;
  for (const std::string& name : bench::family_names(/*tiny=*/true)) {
    for (int64_t opset : {13, 17}) {
      INFO(name << " at opset " << opset);
      auto c = bench::build_family(name, {opset, 1});
      REQUIRE(c);
      const std::string path = tmp.file(name + "_" + std::to_string(opset) + ".onnx");
      REQUIRE(save_model(*c->model, path));
      auto want = ort->run(path, ort_inputs(*c));
      INFO("ONNX Runtime: " << want.error);
      REQUIRE(want.ok);
      REQUIRE(want->outputs.size() == 1);
      const exec::TensorValue ort_out = test::value_from_proto(want->outputs[0]);
      for (bool rewrites : {true, false}) {
        INFO("executor internal rewrites " << (rewrites ? "on" : "off"));
        exec::RunOptions ro;
        ro.internal_rewrites = rewrites;
        ro.fold_batch_norm = rewrites;
        auto s = exec::Session::create(*c->model, ro);
        INFO((s ? "" : s.error().message));
        REQUIRE(s);
        auto out = (*s)->run(c->inputs);
        INFO((out ? "" : out.error().message));
        REQUIRE(out);
        REQUIRE(out->size() == 1);
        check_close((*out)[0], ort_out, 1e-5, 1e-4);
      }
      auto pipeline = pass::parse_pipeline(pass::fuse_pipeline_text(0, {}));
      REQUIRE(pipeline);
      auto run = pass::run_pipeline(*pipeline, *c->model);
      INFO((run ? "" : run.error().message));
      REQUIRE(run);
      const std::string fused_path = tmp.file(name + "_" + std::to_string(opset) + ".fused.onnx");
      REQUIRE(save_model(*c->model, fused_path));
      auto fused = ort->run(fused_path, ort_inputs(*c));
      INFO("ONNX Runtime on the fused model: " << fused.error);
      REQUIRE(fused.ok);
      REQUIRE(fused->outputs.size() == 1);
      CHECK(test::rel_l2(fused->outputs[0], want->outputs[0]) <= 1e-4);
    }
  }
}

TEST_CASE("bench families: the executor's outputs are bit-identical with 1 and 2 threads on every tiny instance",
          "[families]") {
  for (const std::string& name : bench::family_names(/*tiny=*/true)) {
    for (int64_t opset : {13, 17}) {
      INFO(name << " at opset " << opset);
      auto c = bench::build_family(name, {opset, 1});
      REQUIRE(c);
      std::vector<exec::TensorValue> outs;
      for (int threads : {1, 2}) {
        auto s = exec::Session::create(*c->model, {threads});
        REQUIRE(s);
        auto out = (*s)->run(c->inputs);
        REQUIRE(out);
        REQUIRE(out->size() == 1);
        const exec::TensorValue& t = (*out)[0];  // copied out: the session may own the buffer
        outs.push_back(exec::TensorValue::from_bytes(t.dtype(), t.dims(), {t.raw(), t.byte_size()}));
      }
      REQUIRE(outs[0].byte_size() == outs[1].byte_size());
      CHECK(std::memcmp(outs[0].raw(), outs[1].raw(), outs[0].byte_size()) == 0);
    }
  }
}
