// effopt convert MODEL [-o OUT] [--opset N] [--external-data]
// A lossless round trip, or a move to another opset (7..21).
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "budget_flags.h"
#include "cli.h"
#include "analysis/shape_inference.h"
#include "ir/verifier.h"
#include "onnx/model_io.h"
#include "onnx/opset_convert.h"
#include "report/run_report.h"
#include "support/atomic_file.h"

namespace effopt::cli {

// tools/cmd_report.cpp: before/after footprint table (stderr) and report block.
Expected<nlohmann::json> footprint_before_after(const GlobalOptions& g, const std::string& input,
                                                const std::string& output, bool with_report);

std::function<Status()> setup_convert(CLI::App& sub, GlobalOptions& g) {
  struct Opts { std::string model; int64_t opset = 0; };
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "input model (.onnx, or - for standard input)")->required();
  sub.add_option("--opset", o->opset, "target opset of the default domain (7..21); omitted = keep")
      ->check(CLI::Range(1, 1000));
  auto budget_flags = std::make_shared<BudgetFlags>();
  add_budget_flags(sub, *budget_flags);
  return [o, &g, budget_flags]() -> Status {
    auto t0 = std::chrono::steady_clock::now();
    EFFOPT_TRY_ASSIGN(Budgets budgets, parse_budget_flags(*budget_flags));
    EFFOPT_TRY_ASSIGN(std::string out, resolve_output(g, o->model, "converted"));
    if (budgets.any() && out == "-") return usage_error("budgets (--max-*) need an output file, not -o -");
    // Open the report before anything is written: an unwritable --report
    // must fail the run while no output exists yet.
    std::unique_ptr<AtomicFile> report_file;
    if (!g.report.empty()) {
      EFFOPT_TRY_ASSIGN(report_file, AtomicFile::create(g.report));
    }
    ImportStats is;
    EFFOPT_TRY_ASSIGN(auto model, load_model(o->model, {}, &is));
    if (!is.was_sorted) spdlog::info("{}: nodes were not in topological order; sorted them", o->model);
    int64_t from = model->opset();
    RunReport report("convert", o->model, out);
    if (o->opset && o->opset != from) {
      if (o->opset < 7 || o->opset > 21)
        return usage_error("--opset " + std::to_string(o->opset) + " is out of range: effopt converts to opsets 7..21");
      // Known ranks let adapters pick the simplest rewrite (e.g. Softmax on
      // its last axis needs no Flatten/Reshape).
      ShapeInferenceStats ss;
      EFFOPT_TRY(infer_shapes(*model, {}, &ss));
      for (auto& n : ss.notes) spdlog::debug("shape inference: {}", n);
      OpsetConvertStats cs;
      EFFOPT_TRY(convert_opset(*model, o->opset, &cs));
      for (auto& c : cs.changes) spdlog::debug("  {}", c);
      spdlog::info("converted opset {} -> {} ({} node changes)", from, o->opset, cs.changes.size());
      if (auto v = verify(*model); !v)
        return internal_error("opset conversion produced an invalid graph (a bug in effopt): " + v.error().message);
      std::string pipeline = "convert-opset{opset=" + std::to_string(o->opset) + "}";
      model->set_metadata("effopt.version", EFFOPT_VERSION);
      model->set_metadata("effopt.pipeline", pipeline);
      report.set_pipeline(pipeline);
      report.add_change("opset", {{"from", from}, {"to", o->opset}, {"changes", cs.changes}});
    }
    ExportOptions eo;
    eo.external = g.external_data ? ExternalData::Always : ExternalData::Auto;
    ExportStats es;
    EFFOPT_TRY(save_model(*model, out, eo, &es));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (out != "-")
      spdlog::info("wrote {} ({} bytes{}) in {:.2f} s", out, es.model_bytes,
                   es.external_path.empty() ? "" : ", external data " + es.external_path + " " +
                                                       std::to_string(es.external_bytes) + " bytes",
                   secs);
    auto footprint = footprint_before_after(g, o->model, out, report_file != nullptr);
    if (!footprint) spdlog::warn("footprint report: {}", footprint.error().message);
    if (report_file) {
      report.set_output_bytes(es.model_bytes, es.external_bytes);
      report.set_seconds(secs);
      nlohmann::json rj = report.to_json();
      if (footprint && !footprint->is_null()) {
        rj["input"]["sha256"] = (*footprint)["before"]["sha256"];
        rj["output"]["sha256"] = (*footprint)["after"]["sha256"];
        for (auto it = footprint->begin(); it != footprint->end(); ++it) rj[it.key()] = it.value();
      }
      std::string text = rj.dump(2) + "\n";
      Status st = report_file->write(text.data(), text.size());
      if (st) st = report_file->commit();
      if (!st) {  // a failed run leaves no output behind
        std::error_code ec;
        if (out != "-") std::filesystem::remove(out, ec);
        if (!es.external_path.empty()) std::filesystem::remove(es.external_path, ec);
        return st;
      }
    }
    // Budgets are checked on the written output (exit 3; output and report stay).
    if (budgets.any()) EFFOPT_TRY(check_model_budgets(g, out, budgets, *budget_flags));
    return ok();
  };
}

}  // namespace effopt::cli
