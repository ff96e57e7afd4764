// effopt report MODEL [AFTER] [--json] [--shape NAME=DIMS ...] [--zstd-level N]
//               [--latency [N] [--data PATH | --random 1 --seed S --range ...]]
// The footprint report of one model, or the difference between two; with
// --latency also the latency of each on effopt's executor.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "analysis/latency.h"
#include "cli.h"
#include "fidelity_flags.h"
#include "ir/constants.h"
#include "onnx/model_io.h"
#include "ort/ort_prediction.h"
#include "report/footprint_report.h"
#include "report/run_report.h"
#include "support/shell_quote.h"

namespace effopt::cli {

// Shared by report, check and transforming commands.
Expected<AnalysisOptions> analysis_options(const std::vector<std::string>& shapes, int zstd_level, int threads) {
  AnalysisOptions ao;
  for (const std::string& s : shapes) {
    EFFOPT_TRY_ASSIGN(ShapeBinding b, parse_shape_binding(s));
    ao.shapes.push_back(std::move(b));
  }
  if (zstd_level < 1 || zstd_level > 19)
    return usage_error("--zstd-level " + std::to_string(zstd_level) + " is out of range (1..19)");
  ao.compress.zstd_level = zstd_level;
  ao.compress.threads = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return ao;
}

// "effopt report BEFORE AFTER [--shape ...]": the command that counts what the
// before/after table left unknown once the suggested --shape flags are added.
std::string report_command(const std::string& before, const std::string& after, const std::vector<std::string>& shapes) {
  std::string c = "effopt report " + shell_quote(before) + " " + shell_quote(after);
  for (const std::string& s : shapes) c += " --shape " + shell_quote(s);
  return c;
}

namespace {

// Latency of one model file on the first sample of `sf` (seeded random inputs
// unless --data).
Expected<LatencyStats> model_latency(const std::string& path, const SampleFlags& sf, int runs, int threads) {
  EFFOPT_TRY_ASSIGN(auto model, load_model(path));
  detach_initializer_inputs(*model->graph);
  EFFOPT_TRY_ASSIGN(auto samples, make_samples(sf, *model->graph, 1));
  if (samples->size() == 0) return usage_error("--latency: no input sample");
  EFFOPT_TRY_ASSIGN(Sample sample, samples->load(0));
  LatencyOptions lo;
  lo.runs = runs;
  lo.threads = threads;
  auto r = measure_latency(*model, sample.inputs, lo);
  if (!r) return std::move(r).error().context(path + ": --latency");
  return r;
}

std::string latency_text(const LatencyStats& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "  latency (effopt's executor on this machine, %d thread%s): median %.3f ms, p90 %.3f ms over %d runs\n",
                s.threads, s.threads == 1 ? "" : "s", s.median_ms, s.p90_ms, s.runs);
  return buf;
}

}  // namespace

std::function<Status()> setup_report(CLI::App& sub, GlobalOptions& g) {
  struct Opts {
    std::vector<std::string> models;
    bool json = false;
    std::vector<std::string> shapes;
    int zstd_level = 3;
    std::vector<std::string> latency;  // [N]
    SampleFlags samples;
  };
  auto o = std::make_shared<Opts>();
  sub.add_option("models", o->models, "MODEL, or BEFORE AFTER for a diff")->required()->expected(1, 2);
  sub.add_flag("--json", o->json, "print the versioned JSON report (docs/report.md)");
  sub.add_option("--shape", o->shapes, "bind an input's shape (NAME=1,3,224,224) or a symbolic dim (N=1)");
  sub.add_option("--zstd-level", o->zstd_level, "zstd level for the compressed size (1..19, default 3)");
  CLI::Option* latency_opt =
      sub.add_option("--latency", o->latency,
                     "also measure latency on effopt's executor: N timed runs (default 20) after 3 warm-ups, median "
                     "and p90 at --threads; inputs from --data or seeded random ones (write --latency=N before "
                     "the models)")
          ->expected(0, 1);
  add_sample_flags(sub, o->samples, /*with_shape=*/false);
  return [o, &g, latency_opt]() -> Status {
    int runs = 0;
    if (latency_opt->count() > 0) {
      runs = 20;
      if (!o->latency.empty() && !o->latency[0].empty()) {
        const std::string& v = o->latency[0];
        char* end = nullptr;
        long n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n < 1 || n > 100000)
          return usage_error("--latency " + v + ": the number of timed runs must be an integer in 1..100000");
        runs = static_cast<int>(n);
      }
    } else if (!o->samples.data.empty() || o->samples.random || o->samples.seed_given || !o->samples.ranges.empty()) {
      return usage_error("--data, --random, --seed and --range choose the inputs of --latency: give --latency too");
    }
    o->samples.shapes = o->shapes;
    EFFOPT_TRY_ASSIGN(AnalysisOptions ao, analysis_options(o->shapes, o->zstd_level, g.threads));
    std::vector<ModelAnalysis> models;
    ao.skip_unmatched_bindings = o->models.size() > 1;  // a diff: a binding may name one model's input only
    for (const std::string& path : o->models) {
      EFFOPT_TRY_ASSIGN(ModelAnalysis a, analyze_model_file(path, ao));
      models.push_back(std::move(a));
    }
    for (size_t i = 0; i < ao.shapes.size() && ao.skip_unmatched_bindings; ++i)
      if (!models[0].bindings_used[i] && !models[1].bindings_used[i])
        return usage_error("--shape " + o->shapes[i] + ": names no graph input or symbolic dim of either model");
    std::string text;
    if (models.size() == 1) {
      const ModelAnalysis& a = models[0];
      if (o->json) {
        nlohmann::json j = model_report(o->models[0], a.footprint, a.files ? &*a.files : nullptr, o->shapes);
        j["runtime_prediction"] = runtime_prediction_block(*a.model);
        text = json_text(j);
      } else {
        text = model_text(o->models[0], a.footprint, a.files ? &*a.files : nullptr);
      }
    } else {
      const ModelAnalysis &b = models[0], &a = models[1];
      const ModelFileStats* bf = b.files ? &*b.files : nullptr;
      const ModelFileStats* af = a.files ? &*a.files : nullptr;
      if (o->json) {
        nlohmann::json sb = model_section(o->models[0], b.footprint, bf);
        nlohmann::json sa = model_section(o->models[1], a.footprint, af);
        sb["runtime_prediction"] = runtime_prediction_block(*b.model);
        sa["runtime_prediction"] = runtime_prediction_block(*a.model);
        text = json_text(diff_report(sb, sa));
      } else {
        text = o->models[0] + " -> " + o->models[1] + "\n" +
               compact_table(b.footprint, a.footprint, isatty(STDOUT_FILENO) != 0, bf, af,
                             report_command(o->models[0], o->models[1], o->shapes));
      }
    }
    if (runs > 0) {
      std::vector<LatencyStats> lat;
      for (const std::string& path : o->models) {
        EFFOPT_TRY_ASSIGN(LatencyStats st, model_latency(path, o->samples, runs, executor_threads(g)));
        lat.push_back(std::move(st));
      }
      if (o->json) {
        auto j = nlohmann::json::parse(text);
        if (lat.size() == 1) {
          j["latency"] = latency_block(lat[0]);
        } else {
          j["before"]["latency"] = latency_block(lat[0]);
          j["after"]["latency"] = latency_block(lat[1]);
        }
        text = json_text(j);
      } else {
        for (size_t i = 0; i < lat.size(); ++i)
          text += (lat.size() > 1 ? (i == 0 ? "before " : "after  ") : "") + latency_text(lat[i]).substr(lat.size() > 1 ? 2 : 0);
      }
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return ok();
  };
}

}  // namespace effopt::cli

namespace effopt::cli {

// For transforming commands: the before/after footprint of `input` and
// `output` (both files). Prints the compact table to stderr unless -q; when
// `with_report`, also computes file sizes, hashes and nonzero counts (a full
// pass over both files) and returns the report block
// {"before", "after", "delta", "op_count_changes"}; otherwise returns null.
Expected<nlohmann::json> footprint_before_after(const GlobalOptions& g, const std::string& input,
                                                const std::string& output, bool with_report,
                                                const std::vector<std::string>& shapes) {
  if (input == "-" || output == "-" || (g.quiet && !with_report)) return nlohmann::json();
  // Only regular files are read again (an output may be a FIFO or a device).
  std::error_code ec;
  if (!std::filesystem::is_regular_file(input, ec) || !std::filesystem::is_regular_file(output, ec))
    return nlohmann::json();
  EFFOPT_TRY_ASSIGN(AnalysisOptions ao, analysis_options(shapes, 3, g.threads));
  ao.skip_unmatched_bindings = true;  // as in a report diff: fix-shapes may have bound a dim in the output
  ao.file_stats = with_report;
  ao.read_tensor_bytes = with_report;
  EFFOPT_TRY_ASSIGN(ModelAnalysis before, analyze_model_file(input, ao));
  EFFOPT_TRY_ASSIGN(ModelAnalysis after, analyze_model_file(output, ao));
  const ModelFileStats* bf = before.files ? &*before.files : nullptr;
  const ModelFileStats* af = after.files ? &*after.files : nullptr;
  if (!g.quiet) {
    std::string table = compact_table(before.footprint, after.footprint, isatty(STDERR_FILENO) != 0, bf, af,
                                      report_command(input, output, shapes));
    std::fwrite(table.data(), 1, table.size(), stderr);
  }
  if (!with_report) return nlohmann::json();
  nlohmann::json sb = model_section(input, before.footprint, bf);
  nlohmann::json sa = model_section(output, after.footprint, af);
  sb["runtime_prediction"] = runtime_prediction_block(*before.model);
  sa["runtime_prediction"] = runtime_prediction_block(*after.model);
  return diff_block(sb, sa);
}

}  // namespace effopt::cli
