#include "report/footprint_report.h"

#include <cstdio>
#include <set>

namespace effopt {

using nlohmann::json;

const std::vector<std::string>& total_keys() {
  static const std::vector<std::string> k = {
      "params",        "params_deduplicated",   "params_nonzero",   "macs",
      "elementwise_ops", "weight_bytes",        "activation_bytes", "peak_activation_bytes",
      "inference_ram_bytes", "nodes",           "file_bytes",       "gzip_bytes",
      "zstd_bytes"};
  return k;
}

namespace {

json file_json(const FileStats& f) {
  return {{"path", f.path}, {"bytes", f.bytes}, {"gzip_bytes", f.gzip_bytes}, {"zstd_bytes", f.zstd_bytes},
          {"sha256", f.sha256}};
}

}  // namespace

json model_section(const std::string& path, const Footprint& f, const ModelFileStats* files, bool per_node) {
  json j;
  j["path"] = path;
  j["params"] = f.params;
  if (f.params_dedup) j["params_deduplicated"] = *f.params_dedup;
  if (f.params_nonzero) {
    j["params_nonzero"] = *f.params_nonzero;
    j["sparsity"] = f.params ? 1.0 - static_cast<double>(*f.params_nonzero) / static_cast<double>(f.params) : 0.0;
  }
  j["macs"] = f.macs;
  j["macs_complete"] = f.macs_complete();
  j["macs_upper_bound"] = !f.macs_upper_bound_nodes.empty();
  j["elementwise_ops"] = f.elementwise_ops;
  j["weight_bytes"] = f.weight_bytes;
  j["activation_bytes"] = f.activation_bytes;
  j["peak_activation_bytes"] = f.peak_activation_bytes;
  j["activations_complete"] = f.activations_complete();
  j["inference_ram_bytes"] = f.inference_ram_bytes;
  j["nodes"] = f.node_count;
  if (files) {
    j["file_bytes"] = files->total_bytes();
    j["gzip_bytes"] = files->total_gzip_bytes();
    j["zstd_bytes"] = files->total_zstd_bytes();
    j["zstd_level"] = files->zstd_level;
    j["sha256"] = files->model.sha256;
    json fl = json::array();
    fl.push_back(file_json(files->model));
    for (auto& e : files->external) fl.push_back(file_json(e));
    j["files"] = fl;
  }
  j["footprint"] = to_json(f, per_node);
  return j;
}

json model_report(const std::string& path, const Footprint& f, const ModelFileStats* files,
                  const std::vector<std::string>& shape_bindings) {
  json j;
  j["schema"] = "effopt.report";
  j["schema_version"] = kFootprintSchemaVersion;
  j["effopt_version"] = EFFOPT_VERSION;
  j["command"] = "report";
  j["shape_bindings"] = shape_bindings;
  json s = model_section(path, f, files);
  for (auto it = s.begin(); it != s.end(); ++it) j[it.key()] = it.value();
  return j;
}

json diff_block(const json& before, const json& after) {
  json d = json::object();
  for (const std::string& k : total_keys()) {
    if (!before.contains(k) || !after.contains(k)) continue;
    d[k] = after[k].get<int64_t>() - before[k].get<int64_t>();
  }
  json ops = json::object();
  const json& bo = before["footprint"]["op_counts"];
  const json& ao = after["footprint"]["op_counts"];
  std::set<std::string> names;
  for (auto it = bo.begin(); it != bo.end(); ++it) names.insert(it.key());
  for (auto it = ao.begin(); it != ao.end(); ++it) names.insert(it.key());
  for (const std::string& n : names) {
    int64_t b = bo.contains(n) ? bo[n].get<int64_t>() : 0, a = ao.contains(n) ? ao[n].get<int64_t>() : 0;
    if (a != b) ops[n] = {{"before", b}, {"after", a}};
  }
  json j;
  j["before"] = before;
  j["after"] = after;
  j["delta"] = d;
  j["op_count_changes"] = ops;
  return j;
}

json diff_report(const json& before, const json& after) {
  json j;
  j["schema"] = "effopt.report";
  j["schema_version"] = kFootprintSchemaVersion;
  j["effopt_version"] = EFFOPT_VERSION;
  j["command"] = "report-diff";
  json b = diff_block(before, after);
  for (auto it = b.begin(); it != b.end(); ++it) j[it.key()] = it.value();
  return j;
}

std::string human_bytes(uint64_t b) {
  char buf[64];
  if (b < 1000) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else if (b < 1000000) std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(b) / 1e3);
  else if (b < 1000000000) std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(b) / 1e9);
  return buf;
}

std::string human_count(uint64_t n) {
  char buf[64];
  if (n < 1000) std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
  else if (n < 1000000) std::snprintf(buf, sizeof buf, "%.1f K", static_cast<double>(n) / 1e3);
  else if (n < 1000000000) std::snprintf(buf, sizeof buf, "%.2f M", static_cast<double>(n) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.3f G", static_cast<double>(n) / 1e9);
  return buf;
}

std::string model_text(const std::string& path, const Footprint& f, const ModelFileStats* files) {
  std::string s;
  auto line = [&](const std::string& k, const std::string& v) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "  %-24s %s\n", k.c_str(), v.c_str());
    s += buf;
  };
  s += path + "\n";
  if (files) {
    line("file bytes", std::to_string(files->total_bytes()) + " (" + human_bytes(files->total_bytes()) + ")");
    line("gzip -6 bytes", std::to_string(files->total_gzip_bytes()) + " (" + human_bytes(files->total_gzip_bytes()) + ")");
    line("zstd -" + std::to_string(files->zstd_level) + " bytes",
         std::to_string(files->total_zstd_bytes()) + " (" + human_bytes(files->total_zstd_bytes()) + ")");
    line("sha256", files->model.sha256);
  }
  line("parameters", std::to_string(f.params) + " (" + human_count(f.params) + ")");
  if (f.params_dedup) line("  deduplicated", std::to_string(*f.params_dedup));
  if (f.params_nonzero) {
    char b[64];
    std::snprintf(b, sizeof b, "%.2f%%",
                  f.params ? 100.0 * (1.0 - static_cast<double>(*f.params_nonzero) / static_cast<double>(f.params)) : 0.0);
    line("  nonzero", std::to_string(*f.params_nonzero) + " (sparsity " + b + ")");
  }
  line("weight bytes", std::to_string(f.weight_bytes) + " (" + human_bytes(f.weight_bytes) + ")");
  for (auto& [t, b] : f.weight_bytes_by_type) line("  " + t, std::to_string(b));
  line("MACs", std::to_string(f.macs) + " (" + human_count(f.macs) + ")" +
                   (f.macs_complete() ? "" : ", INCOMPLETE: " + std::to_string(f.macs_unknown_nodes.size()) +
                                                 " nodes could not be counted (see below)") +
                   (f.macs_upper_bound_nodes.empty() ? "" : ", an upper bound (If / Loop)"));
  for (auto& [op, m] : f.macs_by_op) line("  " + op, human_count(m));
  line("element-wise ops", human_count(f.elementwise_ops));
  line("activation bytes", std::to_string(f.activation_bytes) + " (" + human_bytes(f.activation_bytes) + ")");
  line("peak activation bytes",
       std::to_string(f.peak_activation_bytes) + " (" + human_bytes(f.peak_activation_bytes) + ")" +
           (f.activations_complete() ? "" : ", INCOMPLETE: " + std::to_string(f.activation_unknown_nodes.size()) +
                                                " nodes have outputs of unknown size"));
  line("inference RAM (est.)", std::to_string(f.inference_ram_bytes) + " (" + human_bytes(f.inference_ram_bytes) +
                                   ": weights + peak activation)");
  line("nodes", std::to_string(f.node_count));
  std::string ops;
  for (auto& [op, c] : f.op_counts) ops += (ops.empty() ? "" : ", ") + op + " " + std::to_string(c);
  line("op counts", ops);
  size_t shown = 0;
  for (auto& u : f.macs_unknown_nodes) {
    if (shown++ == 10) { s += "  ... " + std::to_string(f.macs_unknown_nodes.size() - 10) + " more\n"; break; }
    s += "  MACs unknown: " + u + "\n";
  }
  shown = 0;
  for (auto& u : f.macs_upper_bound_nodes) {
    if (shown++ == 10) { s += "  ... " + std::to_string(f.macs_upper_bound_nodes.size() - 10) + " more\n"; break; }
    s += "  MACs upper bound: " + u + "\n";
  }
  return s;
}

std::string compact_table(const Footprint& before, const Footprint& after, bool color,
                          const ModelFileStats* bf, const ModelFileStats* af) {
  std::string s;
  auto row = [&](const std::string& name, uint64_t b, uint64_t a, bool bytes) {
    std::string bs = bytes ? human_bytes(b) : human_count(b), as = bytes ? human_bytes(a) : human_count(a);
    std::string change;
    if (a != b) {
      char buf[64];
      if (b) std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * (static_cast<double>(a) - static_cast<double>(b)) / static_cast<double>(b));
      else std::snprintf(buf, sizeof buf, "new");
      change = buf;
    }
    char line[256];
    std::snprintf(line, sizeof line, "  %-22s %14s %14s  %s", name.c_str(), bs.c_str(), as.c_str(), change.c_str());
    s += (a != b && color) ? std::string("\033[1;33m") + line + "\033[0m\n" : std::string(line) + "\n";
  };
  char head[256];
  std::snprintf(head, sizeof head, "  %-22s %14s %14s  %s\n", "", "before", "after", "change");
  s += head;
  row("nodes", before.node_count, after.node_count, false);
  std::set<std::string> ops;
  for (auto& [k, v] : before.op_counts) ops.insert(k);
  for (auto& [k, v] : after.op_counts) ops.insert(k);
  for (const std::string& op : ops) {
    auto b = before.op_counts.count(op) ? before.op_counts.at(op) : 0;
    auto a = after.op_counts.count(op) ? after.op_counts.at(op) : 0;
    row("  " + op, b, a, false);
  }
  row("parameters", before.params, after.params, false);
  row("weight bytes", before.weight_bytes, after.weight_bytes, true);
  if (bf && af) row("file bytes", bf->total_bytes(), af->total_bytes(), true);
  row(std::string("MACs") + (before.macs_complete() && after.macs_complete() ? "" : " (incomplete)"), before.macs,
      after.macs, false);
  row("peak activation", before.peak_activation_bytes, after.peak_activation_bytes, true);
  return s;
}

}  // namespace effopt

#include "onnx/model_io.h"

namespace effopt {

Expected<ModelAnalysis> analyze_model_file(const std::string& path, const AnalysisOptions& opts) {
  ModelAnalysis a;
  EFFOPT_TRY_ASSIGN(a.model, load_model(path));
  std::vector<ShapeBinding> shapes;
  for (const ShapeBinding& b : opts.shapes) {
    bool used = !opts.skip_unmatched_bindings || binding_matches(*a.model, b);
    a.bindings_used.push_back(used);
    if (used) shapes.push_back(b);
  }
  EFFOPT_TRY(infer_shapes_with_bindings(*a.model, shapes));
  FootprintOptions fo;
  fo.read_tensor_bytes = opts.read_tensor_bytes;
  a.footprint = compute_footprint(*a.model, fo);
  if (opts.file_stats && path != "-") {
    EFFOPT_TRY_ASSIGN(auto fs, model_file_stats(path, *a.model, opts.compress));
    a.files = std::move(fs);
  }
  return a;
}

nlohmann::json latency_block(const LatencyStats& s) {
  return {{"runtime", "effopt executor"},
          {"note", "measured on effopt's executor on this machine; not a prediction for another runtime"},
          {"threads", s.threads},
          {"runs", s.runs},
          {"warmup", s.warmup},
          {"median_ms", s.median_ms},
          {"p90_ms", s.p90_ms},
          {"min_ms", s.min_ms},
          {"max_ms", s.max_ms}};
}

}  // namespace effopt
