// The executor's measured peak of live intermediates equals the footprint
// report's peak activation bytes exactly when its internal rewrites are off
// (RunOptions::internal_rewrites = false), on the corpus models; with them on
// it can only be lower, and the difference (what the rewrites save) is
// reported. Calls test::skip when ../shared/corpus is absent.
#include <catch2/catch.hpp>

#include <filesystem>

#include "analysis/footprint.h"
#include "analysis/shape_propagation.h"
#include "exec/executor.h"
#include "exec/tensor_io.h"
#include "onnx/model_io.h"
#include "util/test_util.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

exec::TensorValue read_input(const fs::path& p) {
  auto v = exec::read_tensor_pb(p.string());
  if (!v) FAIL(v.error().message);
  return *v;
}

}  // namespace

TEST_CASE("exec: peak live bytes equal the footprint report's peak activation without internal rewrites",
          "[exec][corpus][footprint]") {
  for (std::string name : {"resnet18", "mobilenet_v2", "tiny_bert", "digits_cnn"}) {
    auto case_dir = test::corpus_case_or_skip("models/" + name);
    if (!case_dir) continue;
    fs::path dir = *case_dir;
    INFO(name);
    auto m = load_model((dir / "model.onnx").string());
    REQUIRE(m);
    // The real test inputs; their shapes bind the symbolic dims (digits_cnn's batch of 360) for the report.
    std::vector<std::pair<std::string, exec::TensorValue>> inputs;
    std::vector<ShapeBinding> bindings;
    size_t k = 0;
    for (Value* in : (*m)->graph->inputs()) {
      if (in->initializer) continue;
      exec::TensorValue t = read_input(dir / "test_data_set_0" / ("input_" + std::to_string(k++) + ".pb"));
      bindings.push_back({in->name(), t.dims()});
      inputs.emplace_back(in->name(), std::move(t));
    }
    REQUIRE(infer_shapes_with_bindings(**m, bindings));
    Footprint f = compute_footprint(**m, {.read_tensor_bytes = false});
    REQUIRE(f.activations_complete());

    exec::RunOptions plain;
    plain.internal_rewrites = false;
    auto s = exec::Session::create(**m, plain);
    if (!s) FAIL(s.error().message);
    REQUIRE((*s)->run(inputs));
    uint64_t measured = (*s)->last_stats().peak_live_bytes;
    CHECK(measured == f.peak_activation_bytes);

    auto fused = exec::Session::create(**m);
    REQUIRE(fused);
    REQUIRE((*fused)->run(inputs));
    uint64_t with_rewrites = (*fused)->last_stats().peak_live_bytes;
    CHECK(with_rewrites <= measured);
    WARN(name << ": peak live " << measured << " bytes without rewrites (footprint report: " << f.peak_activation_bytes
              << "), " << with_rewrites << " with them: the rewrites save " << measured - with_rewrites << " bytes ("
              << (measured ? 100.0 * static_cast<double>(measured - with_rewrites) / static_cast<double>(measured) : 0.0)
              << "%)");
  }
}
