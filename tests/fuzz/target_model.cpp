// Fuzz targets on model bytes: model_roundtrip and model_report.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "analysis/footprint.h"
#include "analysis/model_summary.h"
#include "ort/ort_prediction.h"
#include "analysis/shape_propagation.h"
#include "fuzz_targets.h"
#include "ir/verifier.h"
#include "onnx/model_io.h"
#include "report/footprint_report.h"
#include "report/run_report.h"

namespace effopt::fuzz {

namespace {

namespace fs = std::filesystem;

std::vector<std::byte> to_bytes(const uint8_t* data, size_t size) {
  std::vector<std::byte> b(size);
  if (size) std::memcpy(b.data(), data, size);
  return b;
}

// A folder of this process for the exported files, removed at exit.
const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path base = fs::temp_directory_path() / ("effopt-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(base);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("effopt-fuzz-" + std::to_string(::getpid())), ec);
    });
    return base;
  }();
  return dir;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Exports with the CLI's writer (save_model: the structure serialized, tensor bytes spliced in).
std::string export_bytes(const Model& m, const char* file) {
  fs::path out = scratch_dir() / file;
  auto st = save_model(m, out.string());
  if (!st) invariant_broken("model_roundtrip", std::string("a verified model does not export: ") + st.error().message);
  return read_all(out);
}

}  // namespace

int model_roundtrip(const uint8_t* data, size_t size) {
  // No base folder: external data is refused, never read from the machine.
  auto m1 = load_model_from_bytes(to_bytes(data, size), "<fuzz>");
  if (!m1) return refused("model_roundtrip", m1.error().message);
  // The importer keeps some models the verifier refuses (shadowed names); passes start with verify.
  if (auto v = verify(**m1); !v) return refused("model_roundtrip", v.error().message);
  std::string first = export_bytes(**m1, "first.onnx");
  std::vector<std::byte> again(first.size());
  if (!first.empty()) std::memcpy(again.data(), first.data(), first.size());
  auto m2 = load_model_from_bytes(std::move(again), "<fuzz export>");
  if (!m2) invariant_broken("model_roundtrip", "effopt's export does not import: " + m2.error().message);
  if (auto v = verify(**m2); !v)
    invariant_broken("model_roundtrip", "effopt's export of a verified model does not verify: " + v.error().message);
  std::string second = export_bytes(**m2, "second.onnx");
  if (first != second)
    invariant_broken("model_roundtrip", "the second export differs from the first (" + std::to_string(first.size()) +
                                            " vs " + std::to_string(second.size()) + " bytes)");
  return 0;
}

int model_report(const uint8_t* data, size_t size) {
  auto m = load_model_from_bytes(to_bytes(data, size), "<fuzz>");
  if (!m) return refused("model_report", m.error().message);
  Model& model = **m;
  // inspect
  ModelSummary s = summarize(model);
  (void)to_text(s);
  (void)json_text(to_json(s));  // as the CLI prints JSON
  // report
  if (auto st = infer_shapes_with_bindings(model, {}); !st) return refused("model_report", st.error().message);
  Footprint f = compute_footprint(model);
  (void)model_text("<fuzz>", f, nullptr);
  nlohmann::json j = model_report("<fuzz>", f, nullptr, {});
  j["runtime_prediction"] = runtime_prediction_block(model);
  (void)json_text(j);
  return 0;
}

}  // namespace effopt::fuzz
