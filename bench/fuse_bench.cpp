// What `effopt fuse` leaves of a model, side by side with ONNX Runtime 1.30's
// own offline optimizer at its basic level, and what it saves a runtime
// without an optimizer. Results and command: docs/benchmarks.md.
//
//   fuse_bench --effopt BIN [--repeat R] [--warmup W] MODEL_DIR...
//
// Per model (MODEL_DIR/model.onnx, inputs from test_data_set_0, or seeded
// random ones where a dim is dynamic and no data set exists):
//   nodes: before / after effopt fuse / after ORT basic (ORT's optimized model
//          saved with optimizedModelFilePath), counted with count_work_nodes
//          (nodes that depend on a graph input, plus their subgraphs' nodes);
//   ORT latency, one thread, graphOptimizationLevel 'disabled', before and
//          after effopt fuse (fastest of R runs after W warm-ups), as CPU time
//          of the runner process (far less disturbed by a loaded machine than
//          wall time);
//   file bytes before and after effopt fuse (the report's file_bytes: model
//          plus external data);
//   seconds effopt fuse took (wall, including process start).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/node_count.h"
#include "onnx/model_io.h"
#include "report/file_stats.h"
#include "support/ort_harness.h"

using namespace effopt;
namespace fs = std::filesystem;

namespace {

double fastest(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

// Runs BIN fuse IN -o OUT --force -q; returns the exit code.
int run_fuse(const std::string& bin, const fs::path& in, const fs::path& out) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execl(bin.c_str(), bin.c_str(), "fuse", in.c_str(), "-o", out.c_str(), "--force", "-q", (char*)nullptr);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int64_t work_nodes(const fs::path& p) {
  auto m = load_model(p.string());
  if (!m) {
    std::fprintf(stderr, "%s: %s\n", p.c_str(), m.error().message.c_str());
    return -1;
  }
  return static_cast<int64_t>(count_work_nodes(**m).work_nodes);
}

int64_t file_bytes(const fs::path& p) {
  auto m = load_model(p.string());
  if (!m) return -1;
  auto n = model_file_bytes(p.string(), **m);
  return n ? static_cast<int64_t>(*n) : -1;
}

std::string ms(double v) {
  if (v <= 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bin;
  int repeat = 20, warmup = 3;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--effopt" && i + 1 < argc) bin = argv[++i];
    else if (a == "--repeat" && i + 1 < argc) repeat = std::atoi(argv[++i]);
    else if (a == "--warmup" && i + 1 < argc) warmup = std::atoi(argv[++i]);
    else dirs.push_back(a);
  }
  if (bin.empty() || dirs.empty()) {
    std::fprintf(stderr, "usage: fuse_bench --effopt BIN [--repeat R] [--warmup W] MODEL_DIR...\n");
    return 1;
  }
  auto* ort = test::OrtHarness::get();
  if (!ort) {
    std::fprintf(stderr, "ONNX Runtime unavailable: %s\n", test::OrtHarness::unavailable_reason().c_str());
    return 1;
  }
  char tmpl[] = "/tmp/fuse_bench.XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  fs::path tmp(tmpl);
  std::printf(
      "| model | nodes before | after effopt fuse | after ORT basic | ORT CPU ms (optimizer off) before | after "
      "effopt fuse | file bytes before | after effopt fuse | effopt fuse s |\n|---|---|---|---|---|---|---|---|---|\n");
  for (auto& d : dirs) {
    fs::path dir(d), model = dir / "model.onnx";
    std::string name = dir.filename().string();
    fs::path fused = tmp / (name + ".fused.onnx"), ort_basic = tmp / (name + ".ort-basic.onnx");
    auto t0 = std::chrono::steady_clock::now();
    int rc = run_fuse(bin, model, fused);
    double fuse_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc != 0) {
      std::printf("| %s | effopt fuse failed (exit %d) | | | | | | | |\n", name.c_str(), rc);
      continue;
    }
    onnx::ModelProto proto = test::load_model(model.string());
    std::vector<std::pair<std::string, onnx::TensorProto>> inputs;
    if (fs::exists(dir / "test_data_set_0" / "input_0.pb"))
      inputs = test::bind_inputs(proto, test::load_test_data_set((dir / "test_data_set_0").string()));
    else
      inputs = test::random_inputs(proto, 1);

    test::OrtOptions basic;
    basic.opt_level = "basic";
    basic.optimized_model_path = ort_basic.string();
    auto rb = ort->run(model.string(), inputs, basic);
    int64_t n_ort = rb ? work_nodes(ort_basic) : -1;
    if (!rb) std::fprintf(stderr, "%s: ORT basic: %s\n", name.c_str(), rb.error.c_str());

    test::OrtOptions off;
    off.opt_level = "disabled";
    off.warmup = warmup;
    off.repeat = repeat;
    auto r0 = ort->run(model.string(), inputs, off);
    auto r1 = ort->run(fused.string(), inputs, off);
    if (!r1) std::fprintf(stderr, "%s: ORT on the fused model: %s\n", name.c_str(), r1.error.c_str());
    std::printf("| %s | %lld | %lld | %s | %s | %s | %lld | %lld | %.2f |\n", name.c_str(),
                (long long)work_nodes(model), (long long)work_nodes(fused),
                n_ort >= 0 ? std::to_string(n_ort).c_str() : "n/a", ms(r0 ? fastest(r0->cpu_ms) : 0).c_str(),
                ms(r1 ? fastest(r1->cpu_ms) : 0).c_str(), (long long)file_bytes(model), (long long)file_bytes(fused),
                fuse_s);
    std::fflush(stdout);
    fs::remove(ort_basic);
  }
  fs::remove_all(tmp);
  return 0;
}
