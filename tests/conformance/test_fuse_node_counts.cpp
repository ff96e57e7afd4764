// `effopt fuse` against ONNX Runtime 1.30's own optimizer at its basic level
// (issue 18): on every model under ../shared/corpus/models, the fused model has
// at most as many work nodes (count_work_nodes: nodes that depend on a graph
// input, plus their subgraphs' nodes) as ONNX Runtime's offline-optimized
// model, while staying standard ONNX (every op in the default domain), and it
// runs in ONNX Runtime with its optimizer disabled, giving the original's
// answers (rel-l2 <= 1e-4). Calls test::skip when the corpus or ONNX Runtime
// is absent.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "analysis/node_count.h"
#include "onnx/model_io.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

double rel_l2(const onnx::TensorProto& ref, const onnx::TensorProto& got) {
  auto a = test::tensor_values(ref), b = test::tensor_values(got);
  if (a.size() != b.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (b[i] - a[i]) * (b[i] - a[i]), den += a[i] * a[i];
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

}  // namespace

TEST_CASE("effopt fuse leaves at most ONNX Runtime basic's node count on every corpus model", "[conformance][fuse]") {
  auto* ort = test::ort_or_skip();
  if (!ort) return;
  test::TempDir tmp;
  for (const char* name : {"digits_cnn", "resnet18", "mobilenet_v2", "tiny_bert", "ppocr_det_v4", "ppocr_cls_v2"}) {
    auto case_dir = test::corpus_case_or_skip(std::string("models/") + name);
    if (!case_dir) continue;
    fs::path dir = *case_dir, model = dir / "model.onnx";
    INFO(name);
    std::string fused = tmp.file(std::string(name) + ".fused.onnx");
    auto r = test::run_effopt({"fuse", model.string(), "-o", fused, "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);

    auto proto = test::load_model(model.string());
    auto inputs = test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()));
    test::OrtOptions basic;
    basic.opt_level = "basic";
    basic.optimized_model_path = tmp.file(std::string(name) + ".ort-basic.onnx");
    auto rb = ort->run(model.string(), inputs, basic);
    INFO(rb.error);
    REQUIRE(rb.ok);

    auto mf = load_model(fused);
    auto mo = load_model(basic.optimized_model_path);
    REQUIRE(mf);
    REQUIRE(mo);
    uint64_t n_fused = count_work_nodes(**mf).work_nodes, n_ort = count_work_nodes(**mo).work_nodes;
    auto m0 = load_model(model.string());
    REQUIRE(m0);
    WARN(name << ": work nodes " << count_work_nodes(**m0).work_nodes << " before, " << n_fused
              << " after effopt fuse, " << n_ort << " after ONNX Runtime basic");
    CHECK(n_fused <= n_ort);
    for (const auto& n : (*mf)->graph->nodes()) {
      INFO("node " << n->name << " " << n->domain << "::" << n->op_type);
      CHECK(is_onnx_domain(n->domain));
    }

    test::OrtOptions off;
    off.opt_level = "disabled";
    auto r0 = ort->run(model.string(), inputs, off);
    auto r1 = ort->run(fused, inputs, off);
    REQUIRE(r0.ok);
    INFO(r1.error);
    REQUIRE(r1.ok);
    REQUIRE(r1->outputs.size() == r0->outputs.size());
    for (size_t i = 0; i < r0->outputs.size(); ++i) CHECK(rel_l2(r0->outputs[i], r1->outputs[i]) <= 1e-4);
  }
}
