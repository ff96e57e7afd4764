// run_transform (transform.h): what every transforming command shares.
#include "transform.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "analysis/shape_propagation.h"
#include "onnx/model_io.h"
#include "pass/manager.h"
#include "prune_summary.h"
#include "quantize_summary.h"
#include "report/fidelity_report.h"
#include "report/file_stats.h"
#include "report/run_report.h"
#include "support/atomic_file.h"
#include "support/mapped_file.h"
#include "support/shell_quote.h"

namespace effopt::cli {

// tools/cmd_report.cpp: before/after footprint table (stderr) and report block,
// with the --shape bindings applied to each model that has the name.
Expected<nlohmann::json> footprint_before_after(const GlobalOptions& g, const std::string& input,
                                                const std::string& output, bool with_report,
                                                const std::vector<std::string>& shapes);

void add_pass_flags(CLI::App& sub, PassFlags& f) {
  sub.add_flag("--verify-each", f.verify_each, "verify the graph after every pass (names the pass that broke it)");
  sub.add_flag("--check-outputs", f.check_outputs,
               "run effopt's executor on seeded random inputs before the pipeline and after every lossless pass; "
               "name the pass that changed outputs (symbolic input dims need --shape)");
  sub.add_option("--check-tolerance", f.tolerance, "--check-outputs: relative L2 tolerance for float32 outputs (1e-5)")
      ->check(CLI::Range(0.0, 1.0));
  sub.add_option("--check-half-tolerance", f.half_tolerance,
                 "--check-outputs: relative L2 tolerance for float16/bfloat16 outputs (5e-3)")
      ->check(CLI::Range(0.0, 1.0));
  sub.add_option("--check-seed", f.seed, "--check-outputs: seed of the random inputs (0)");
  sub.add_flag("--print-pipeline", f.print_pipeline,
               "print the expanded pipeline (every option with its value) to stdout and exit without reading a model");
}

Expected<std::string> file_sha256(const std::string& path) {
  EFFOPT_TRY_ASSIGN(auto f, MappedFile::open(path));
  return sha256_hex(std::span<const std::byte>(f->data(), f->size()));
}

Expected<pass::Pipeline> build_pipeline(const std::string& text) { return pass::parse_pipeline(text); }

Status run_or_print(const GlobalOptions& g, const PipelineOpts& o, const char* command, const char* suffix,
                    pass::Pipeline pipeline) {
  if (o.flags.print_pipeline) {
    if (!o.model.empty()) return usage_error(std::string(command) + " --print-pipeline reads no model; drop " + o.model);
    // The expanded text on stdout, no model read or written.
    std::string text = pass::print_pipeline(pipeline) + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return ok();
  }
  if (o.model.empty()) return usage_error(std::string(command) + ": give a MODEL (or --print-pipeline)");
  TransformJob job;
  job.command = command;
  job.input = o.model;
  job.suffix = suffix;
  job.pipeline = std::move(pipeline);
  job.budgets = &o.budgets;
  job.flags = o.flags;
  job.record = true;
  SampleFlags samples = o.samples;
  samples.shapes = o.budgets.shapes;  // --shape is the budget flags' (and sizes --random inputs)
  if (o.with_data) {
    job.calibration = &o.calibration;
    job.samples = &samples;
  }
  return run_transform(g, job);
}

namespace {

std::string counters_text(const pass::PassResult& r) {
  std::string out;
  for (const auto& [k, v] : r.counters) out += (out.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return out;
}

nlohmann::json pass_json(const pass::PassRun& p, const FidelitySubjects& subjects) {
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [k, v] : p.result.counters) counters[k] = v;
  nlohmann::json j = {{"name", p.name},
                      {"options", p.options},
                      {"group", p.group},
                      {"seconds", p.seconds},
                      {"changed", p.result.changed},
                      {"counters", counters},
                      {"notes", p.result.notes},
                      {"nodes_before", p.nodes_before},
                      {"nodes_after", p.nodes_after},
                      {"outputs_checked", p.outputs_checked}};
  if (p.outputs_checked) j["max_rel_l2"] = p.max_rel_l2;
  if (p.result.quality_guard) j["quality_guard"] = quality_guard_block(*p.result.quality_guard, subjects);
  return j;
}

// One line per quality guard, its warnings, and the failures (exit 3 once the output is written).
std::string log_quality_guards(const pass::PipelineRun& run) {
  std::string failures;
  for (const pass::PassRun& p : run.passes) {
    const GuardResult* q = p.result.quality_guard.get();
    if (!q) continue;
    for (const std::string& w : q->warnings) spdlog::warn("{}: {}", p.name, w);
    size_t stepped = 0;
    for (const GuardUnitResult& u : q->units) stepped += u.level > 0;
    spdlog::info("{}: quality guard {} on {}: {} of {} unit{} stepped back, {} candidate{} measured", p.name,
                 q->passed ? "passed" : "failed", q->samples, stepped, q->units.size(), q->units.size() == 1 ? "" : "s",
                 q->evaluations, q->evaluations == 1 ? "" : "s");
    if (!q->passed) failures += "\n  pass '" + p.name + "': " + q->failure;
  }
  return failures;
}

void add_fix_shapes_bindings(const std::vector<pass::PipelineItem>& items,
                             std::vector<std::pair<std::string, std::vector<int64_t>>>& out) {
  for (const pass::PipelineItem& item : items) {
    if (item.kind == pass::PipelineItem::Kind::Repeat) {
      add_fix_shapes_bindings(item.body, out);
      continue;
    }
    if (item.pass->name != "fix-shapes") continue;
    const std::string& spec = item.options.get_string("shapes");
    for (size_t start = 0; start <= spec.size();) {
      size_t end = std::min(spec.find(';', start), spec.size());
      auto b = parse_shape_binding(spec.substr(start, end - start));
      if (b) out.emplace_back(b->name, b->dims);
      start = end + 1;
    }
  }
}

}  // namespace

Status run_transform(const GlobalOptions& g, const TransformJob& job) {
  auto t0 = std::chrono::steady_clock::now();
  static const BudgetFlags kNoBudgets;
  const BudgetFlags& bf = job.budgets ? *job.budgets : kNoBudgets;
  EFFOPT_TRY_ASSIGN(Budgets budgets, parse_budget_flags(bf));
  EFFOPT_TRY_ASSIGN(std::string out, resolve_output(g, job.input, job.suffix));
  if (budgets.any() && out == "-") return usage_error("budgets (--max-*) need an output file, not -o -");
  // Open the report before anything is written: an unwritable --report
  // must fail the run while no output exists yet.
  std::unique_ptr<AtomicFile> report_file;
  if (!g.report.empty()) {
    EFFOPT_TRY_ASSIGN(report_file, AtomicFile::create(g.report));
  }
  ImportStats is;
  EFFOPT_TRY_ASSIGN(auto model, load_model(job.input, {}, &is));
  if (!is.was_sorted) spdlog::info("{}: nodes were not in topological order; sorted them", job.input);
  RunReport report(job.command, job.input, out);
  std::vector<pass::PassRun> passes_run;
  // The pipeline with its data options filled in from the flags (pass_data.h).
  pass::Pipeline pipeline = job.pipeline;
  static const CalibrationFlags kNoCalibration;
  static const SampleFlags kNoSamples;
  EFFOPT_TRY_ASSIGN(std::unique_ptr<PassData> data,
                    bind_pass_data(pipeline, job.calibration ? *job.calibration : kNoCalibration,
                                   job.samples ? *job.samples : kNoSamples, *model->graph));
  std::string guard_failures;
  nlohmann::json guard_fidelity;  // the last quality guard's fidelity block, for the report's top level
  if (job.record || !pipeline.empty()) {
    pass::ManagerOptions mo;
    mo.threads = g.threads > 0 ? g.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    mo.samples = &data->samples;
    mo.verify_each = job.flags.verify_each;
    mo.check_outputs = job.flags.check_outputs;
    mo.tolerance = job.flags.tolerance;
    mo.half_tolerance = job.flags.half_tolerance;
    mo.seed = job.flags.seed;
    for (const std::string& s : bf.shapes) {
      EFFOPT_TRY_ASSIGN(ShapeBinding b, parse_shape_binding(s));
      mo.input_shapes.emplace_back(b.name, b.dims);
    }
    // Bindings of fix-shapes in the pipeline size the random inputs too
    // (after --shape, which wins).
    add_fix_shapes_bindings(pipeline.items, mo.input_shapes);
    mo.file_digest = file_sha256;
    mo.on_pass = [](const pass::PassRun& p) {
      std::string counters = counters_text(p.result);
      // Passes that changed something (or had their outputs checked) at info;
      // the no-op runs of a fixed-point group would bury them, so at debug.
      auto level = p.result.changed || p.outputs_checked ? spdlog::level::info : spdlog::level::debug;
      spdlog::log(level, "pass {}{}: {:.3f} s, {}, nodes {} -> {}{}{}", p.name, p.group.empty() ? "" : " (" + p.group + ")",
                   p.seconds, p.result.changed ? "changed" : "no change", p.nodes_before, p.nodes_after,
                   counters.empty() ? "" : ", " + counters,
                   p.outputs_checked ? ", outputs checked (rel-L2 " + fmt::format("{:.2g}", p.max_rel_l2) + ")" : "");
      for (const std::string& n : p.result.notes) spdlog::debug("  {}: {}", p.name, n);
    };
    mo.on_group = [](const pass::GroupRun& gr) {
      if (gr.limit_reached)
        spdlog::warn("{}: reached its limit of {} iterations with passes still changing the model "
                     "(raise max-iterations to go on)", gr.name, gr.max_iterations);
      else
        spdlog::info("{}: fixed point after {} iteration{}", gr.name, gr.iterations, gr.iterations == 1 ? "" : "s");
    };
    EFFOPT_TRY_ASSIGN(pass::PipelineRun run, pass::run_pipeline(pipeline, *model, mo));
    EFFOPT_TRY_ASSIGN(std::string recorded, pass::record_pipeline(pipeline, file_sha256));
    guard_failures = log_quality_guards(run);
    model->set_metadata("effopt.version", EFFOPT_VERSION);
    model->set_metadata("effopt.pipeline", recorded);
    report.set_pipeline(recorded);
    const FidelitySubjects subjects{job.input, out};
    for (const pass::PassRun& p : run.passes) {
      report.add_pass(pass_json(p, subjects));
      if (p.result.quality_guard)
        guard_fidelity = fidelity_block(p.result.quality_guard->fidelity, p.result.quality_guard->checks, subjects);
      if (p.name == "convert-opset" && p.result.changed)
        report.add_change("opset", {{"from", p.result.counter("from-opset")},
                                    {"to", p.result.counter("to-opset")},
                                    {"changes", p.result.notes}});
    }
    for (const pass::GroupRun& gr : run.groups)
      report.add_group({{"name", gr.name},
                        {"max_iterations", gr.max_iterations},
                        {"iterations", gr.iterations},
                        {"limit_reached", gr.limit_reached}});
    nlohmann::json checks = {{"verify_each", mo.verify_each}, {"check_outputs", mo.check_outputs}};
    if (mo.check_outputs) {
      checks["tolerance"] = mo.tolerance;
      checks["half_tolerance"] = mo.half_tolerance;
      checks["seed"] = mo.seed;
    }
    report.set_checks(checks);
    passes_run = std::move(run.passes);
  }
  ExportOptions eo;
  eo.external = g.external_data ? ExternalData::Always : ExternalData::Auto;
  eo.overwrite_external = g.force || g.in_place;  // OUT.data is an output like OUT
  ExportStats es;
  EFFOPT_TRY(save_model(*model, out, eo, &es));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out != "-")
    spdlog::info("wrote {} ({} bytes{}) in {:.2f} s", out, es.model_bytes,
                 es.external_path.empty() ? "" : ", external data " + es.external_path + " " +
                                                     std::to_string(es.external_bytes) + " bytes",
                 secs);
  std::optional<nlohmann::json> quantization;
  {
    std::error_code ec;
    uint64_t in_bytes = job.input == "-" ? 0 : std::filesystem::file_size(job.input, ec);
    if (ec) in_bytes = 0;
    quantization = quantization_summary(passes_run, in_bytes, out == "-" ? 0 : es.model_bytes + es.external_bytes);
    if (quantization) {
      spdlog::info("{}", quantization_line(*quantization));
      for (const auto& w : (*quantization)["why"])  // e.g. mode=static calibrated on random inputs
        if (w.get<std::string>().rfind("warning: ", 0) == 0) spdlog::warn("quantize: {}", w.get<std::string>().substr(9));
    }
  }
  std::optional<nlohmann::json> pruning = pruning_summary(passes_run);
  if (pruning) spdlog::info("{}", pruning_line(*pruning));
  auto footprint = footprint_before_after(g, job.input, out, report_file != nullptr, bf.shapes);
  if (!footprint) spdlog::warn("footprint report: {}", footprint.error().message);
  if (report_file) {
    report.set_output_bytes(es.model_bytes, es.external_bytes);
    report.set_seconds(secs);
    nlohmann::json rj = report.to_json();
    if (!bf.shapes.empty()) rj["shape_bindings"] = bf.shapes;
    if (!g.argv.empty()) {  // so a run (a sweep's point) can be repeated from its report alone
      std::string line = "effopt";
      for (const std::string& a : g.argv) line += " " + shell_quote(a);
      rj["command_line"] = line;
    }
    if (quantization) rj["quantization"] = *quantization;
    if (pruning) rj["pruning"] = *pruning;
    if (!guard_fidelity.is_null()) rj["fidelity"] = guard_fidelity;
    if (footprint && !footprint->is_null()) {
      rj["input"]["sha256"] = (*footprint)["before"]["sha256"];
      rj["output"]["sha256"] = (*footprint)["after"]["sha256"];
      for (auto it = footprint->begin(); it != footprint->end(); ++it) rj[it.key()] = it.value();
    }
    std::string text = json_text(rj);
    Status st = report_file->write(text.data(), text.size());
    if (st) st = report_file->commit();
    if (!st) {  // a failed run leaves no output behind
      std::error_code ec;
      if (out != "-") std::filesystem::remove(out, ec);
      if (!es.external_path.empty()) std::filesystem::remove(es.external_path, ec);
      return st;
    }
  }
  // Budgets are checked on the written output (exit 3; output and report stay), quality guards reported with them.
  Status budget_status = budgets.any() ? check_model_budgets(g, out, budgets, bf) : ok();
  if (!guard_failures.empty()) {
    std::string msg = "the quality guard failed:" + guard_failures;
    if (!budget_status) msg += "\n" + budget_status.error().message;
    return make_error(ErrorKind::CheckFailed, msg);
  }
  return budget_status;
}

}  // namespace effopt::cli
