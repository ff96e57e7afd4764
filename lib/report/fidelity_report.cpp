// JSON fidelity block and text table (fidelity_report.h).
#include "report/fidelity_report.h"

#include <cmath>
#include <cstdio>

#include "exec/tensor_value.h"
#include "report/footprint_report.h"

namespace effopt {

using nlohmann::json;

json json_metric(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

namespace {

json metrics_json(const ErrorMetrics& m) {
  return {{"elements", m.elements},
          {"max_abs_error", json_metric(m.max_abs_error)},
          {"mean_abs_error", json_metric(m.mean_abs_error)},
          {"rel_l2_error", json_metric(m.rel_l2_error)},
          {"cosine_similarity", json_metric(m.cosine_similarity)},
          {"sqnr_db", json_metric(m.sqnr_db)},
          {"nonfinite_mismatches", m.nonfinite_mismatches}};
}

std::string num(double v, const char* f = "%.3g") {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[32];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string percent(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

// Left-aligned columns, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<size_t> w;
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::string s;
  for (auto& r : rows) {
    std::string line = indent;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    s += line + "\n";
  }
  return s;
}

}  // namespace

json fidelity_block(const FidelityResult& r, const std::vector<LimitCheck>& checks, const FidelitySubjects& subjects) {
  json j;
  j["reference"] = r.against_expected ? json{{"kind", "expected-outputs"}}
                                      : json{{"kind", "model"}, {"path", subjects.reference}};
  j["candidate"] = {{"path", subjects.candidate}};
  j["inputs"] = {{"description", r.inputs}, {"samples", r.sample_labels.size()}, {"sample_labels", r.sample_labels}};
  json outs = json::array();
  for (const OutputFidelity& o : r.outputs) {
    json e = metrics_json(o.metrics);
    e["name"] = o.name;
    if (o.candidate_name != o.name) e["candidate_name"] = o.candidate_name;
    e["dtype"] = data_type_name(o.dtype);
    e["shape"] = o.dims;
    e["samples"] = o.samples;
    e["rel_l2_error_worst_sample"] = {{"value", json_metric(o.worst_sample_rel_l2)},
                                      {"sample", o.worst_sample},
                                      {"label", o.worst_sample < r.sample_labels.size() ? r.sample_labels[o.worst_sample] : ""}};
    e["classifier"] = o.classifier;
    if (o.classifier) {
      e["rows"] = o.rows;
      e["top1_agreement"] = o.top1_agreement();
      e["top1_mismatch"] = 1 - o.top1_agreement();
    }
    outs.push_back(std::move(e));
  }
  j["outputs"] = std::move(outs);
  json skipped = json::array();
  for (auto& [name, why] : r.skipped_outputs) skipped.push_back({{"name", name}, {"reason", why}});
  j["skipped_outputs"] = std::move(skipped);
  if (r.accuracy) {
    const AccuracyResult& a = *r.accuracy;
    json acc = {{"output", a.output}, {"rows", a.rows}, {"candidate", a.candidate()},
                {"candidate_correct", a.candidate_correct}};
    if (a.has_reference) {
      acc["reference"] = a.reference();
      acc["reference_correct"] = a.reference_correct;
      acc["drop"] = a.drop();
    }
    j["accuracy"] = std::move(acc);
  }
  if (r.per_node) {
    json values = json::array();
    for (const ValueFidelity& v : r.values) {
      json e = v.skipped.empty() ? metrics_json(v.metrics) : json::object();
      e["value"] = v.value;
      e["node"] = v.node;
      e["op_type"] = v.op_type;
      e["node_index"] = v.node_index;
      if (v.skipped.empty()) {
        e["dtype"] = data_type_name(v.dtype);
        e["shape"] = v.dims;
      } else {
        e["skipped"] = v.skipped;
      }
      e["over_limit"] = v.over_limit;
      e["first_over_limit"] = v.first_over_limit;
      values.push_back(std::move(e));
    }
    j["per_node"] = std::move(values);
  }
  json limits = json::array();
  bool passed = true;
  for (const LimitCheck& c : checks) {
    limits.push_back({{"output", c.output}, {"metric", c.metric}, {"value", json_metric(c.value)},
                      {"limit", c.limit}, {"at_least", c.at_least}, {"passed", c.passed}});
    passed = passed && c.passed;
  }
  j["limits"] = std::move(limits);
  j["passed"] = passed;
  j["warnings"] = r.warnings;
  return j;
}

json quality_guard_block(const GuardResult& r, const FidelitySubjects& subjects) {
  json units = json::array();
  for (const GuardUnitResult& u : r.units) {
    units.push_back({{"name", u.name},
                     {"levels", u.levels},
                     {"level", u.levels[u.level]},
                     {"level_index", u.level},
                     {"macs", u.macs},
                     {"sensitivity", u.sensitivity ? json_metric(*u.sensitivity) : json(nullptr)},
                     {"rank", u.rank ? json(u.rank) : json(nullptr)},
                     {"reason", u.reason}});
  }
  json steps = json::array();
  for (const GuardStep& s : r.steps) {
    const GuardUnitResult& u = r.units[s.unit];
    steps.push_back({{"unit", u.name},
                     {"level", u.levels[s.level]},
                     {"value", s.value ? json_metric(*s.value) : json(nullptr)},
                     {"passed", s.passed}});
  }
  return {{"passed", r.passed},
          {"failure", r.failure},
          {"metric", r.metric},
          {"higher_is_worse", r.higher_is_worse},
          {"data", {{"origin", r.origin}, {"description", r.samples}}},
          {"first_value", json_metric(r.first_value)},
          {"evaluations", r.evaluations},
          {"top_fraction", r.top_fraction},
          {"max_top_fraction", r.max_top_fraction ? json(*r.max_top_fraction) : json(nullptr)},
          {"units", std::move(units)},
          {"steps", std::move(steps)},
          {"warnings", r.warnings},
          {"fidelity", fidelity_block(r.fidelity, r.checks, subjects)}};
}

json fidelity_report(const FidelityResult& r, const std::vector<LimitCheck>& checks, const FidelitySubjects& subjects) {
  json j;
  j["schema"] = "effopt.report";
  j["schema_version"] = kFootprintSchemaVersion;
  j["effopt_version"] = EFFOPT_VERSION;
  j["command"] = "compare";
  j["fidelity"] = fidelity_block(r, checks, subjects);
  return j;
}

std::string fidelity_text(const FidelityResult& r, const std::vector<LimitCheck>& checks,
                          const FidelitySubjects& subjects, bool color) {
  const std::string red = color ? "\033[1;31m" : "", green = color ? "\033[32m" : "", off = color ? "\033[0m" : "";
  std::string s;
  if (r.against_expected) s += subjects.candidate + " vs the expected outputs";
  else s += subjects.reference + " (reference) vs " + subjects.candidate;
  s += ", " + r.inputs + "\n";

  std::vector<std::vector<std::string>> rows = {
      {"output", "shape", "max abs", "mean abs", "rel L2", "worst sample", "cosine", "SQNR dB", "top-1 agree"}};
  for (const OutputFidelity& o : r.outputs) {
    const ErrorMetrics& m = o.metrics;
    // The worst single sample says something only when there are several.
    std::string worst = o.samples > 1 ? num(o.worst_sample_rel_l2) + " (#" + std::to_string(o.worst_sample) + ")" : "-";
    std::string top = o.classifier ? percent(o.top1_agreement()) + " of " + std::to_string(o.rows) : "-";
    rows.push_back({o.name, exec::dims_to_string(o.dims), num(m.max_abs_error), num(m.mean_abs_error),
                    num(m.rel_l2_error), worst, num(m.cosine_similarity, "%.6f"), num(m.sqnr_db, "%.1f"), top});
  }
  s += table(rows, "  ");
  for (const OutputFidelity& o : r.outputs)
    if (o.metrics.nonfinite_mismatches)
      s += "  " + red + o.name + ": " + std::to_string(o.metrics.nonfinite_mismatches) +
           " elements are NaN or Inf on one side only" + off + "\n";
  for (auto& [name, why] : r.skipped_outputs) s += "  skipped " + name + ": " + why + "\n";
  if (r.accuracy) {
    const AccuracyResult& a = *r.accuracy;
    s += "accuracy (" + a.output + ", " + std::to_string(a.rows) + " labels): ";
    if (a.has_reference)
      s += (r.against_expected ? "expected outputs " : "reference ") + num(a.reference(), "%.4f") + " (" +
           std::to_string(a.reference_correct) + "), ";
    s += (r.against_expected ? "model " : "candidate ") + num(a.candidate(), "%.4f") + " (" +
         std::to_string(a.candidate_correct) + ")";
    if (a.has_reference) s += ", drop " + num(a.drop(), "%.4f");
    s += "\n";
  }
  if (r.per_node) {
    s += "per node (" + std::to_string(r.values.size()) + " values in both models, reference graph order):\n";
    std::vector<std::vector<std::string>> v = {{"", "node", "value", "op", "shape", "max abs", "rel L2", "cosine", "SQNR dB", ""}};
    for (const ValueFidelity& x : r.values) {
      if (!x.skipped.empty()) {
        v.push_back({"", "#" + std::to_string(x.node_index), x.value, x.op_type, "-", "skipped: " + x.skipped});
        continue;
      }
      const ErrorMetrics& m = x.metrics;
      v.push_back({x.first_over_limit ? ">>" : "", "#" + std::to_string(x.node_index), x.value, x.op_type,
                   exec::dims_to_string(x.dims), num(m.max_abs_error), num(m.rel_l2_error),
                   num(m.cosine_similarity, "%.6f"), num(m.sqnr_db, "%.1f"),
                   x.first_over_limit ? "<- first over the limit" : x.over_limit ? "over" : ""});
    }
    std::string t = table(v, "  ");
    if (color) {
      // Highlight the marked line.
      size_t p = t.find("<- first over the limit");
      if (p != std::string::npos) {
        size_t b = t.rfind('\n', p);
        b = b == std::string::npos ? 0 : b + 1;
        size_t e = t.find('\n', p);
        t = t.substr(0, b) + red + t.substr(b, e - b) + off + t.substr(e);
      }
    }
    s += t;
  }
  for (const LimitCheck& c : checks) {
    s += "limit " + c.metric + (c.at_least ? " >= " : " <= ") + num(c.limit, "%g") + " on " + c.output + ": " +
         num(c.value, "%.4g") + " ";
    s += c.passed ? green + "ok" + off : red + "BROKEN" + off;
    s += "\n";
  }
  return s;
}

}  // namespace effopt
