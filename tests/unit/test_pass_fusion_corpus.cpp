// Every fusion pass, in sequence, on every corpus model: the IR verifies and
// ONNX Runtime gives the same outputs before and after (rel-l2 <= 1e-4 on the
// corpus inputs). Calls test::skip when the corpus or ONNX Runtime is absent.
#include "fusion_test_util.h"

#include "ir/constants.h"
#include "onnx/model_io.h"

using namespace effopt;
using namespace effopt::test::fusion;

TEST_CASE("fusion passes keep every corpus model's outputs (ONNX Runtime)", "[pass][corpus]") {
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  const char* passes[] = {"fuse-pad", "fuse-conv-bn", "fuse-conv-mul", "fuse-conv-add", "fuse-matmul-bn",
                          "fuse-consecutive-transposes", "fuse-transpose-into-gemm", "fuse-matmul-add",
                          "fuse-consecutive-reshapes", "fuse-layer-norm", "fuse-gelu"};
  for (const char* name : {"digits_cnn", "resnet18", "mobilenet_v2", "tiny_bert", "ppocr_cls_v2", "ppocr_det_v4"}) {
    auto dir = test::corpus_case_or_skip(std::string("models/") + name);
    if (!dir) continue;
    std::string case_dir = dir->string();
    INFO(name);
    auto m = load_model(case_dir + "/model.onnx");
    REQUIRE(m);
    detach_initializer_inputs(*(*m)->graph);
    onnx::ModelProto before = to_proto_inline(**m);
    size_t nodes0 = (*m)->graph->nodes().size();
    std::string fired;
    for (const char* p : passes) {
      auto r = apply(p, **m);
      if (r.counter("fused")) fired += std::string(" ") + p + "=" + std::to_string(r.counter("fused"));
    }
    onnx::ModelProto after = to_proto_inline(**m);
    auto inputs = test::bind_inputs(before, test::load_test_data_set(case_dir + "/test_data_set_0"));
    auto ra = ort->run_model(before, inputs), rb = ort->run_model(after, inputs);
    REQUIRE(ra.ok);
    if (!rb.ok) FAIL("ONNX Runtime refuses the fused " << name << ": " << rb.error);
    double worst = 0;
    for (size_t i = 0; i < ra->outputs.size(); ++i)
      worst = std::max(worst, rel_l2(test::tensor_values(ra->outputs[i]), test::tensor_values(rb->outputs[i])));
    WARN(name << ": nodes " << nodes0 << " -> " << (*m)->graph->nodes().size() << ";" << (fired.empty() ? " nothing fired" : fired)
              << "; rel-l2 " << worst);
    CHECK(worst <= 1e-4);
  }
}
