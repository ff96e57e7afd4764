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

// A total: the number, or null with KEY_unknown_reason beside it.
void put_total(json& j, const std::string& key, const Total& t) {
  if (t.value) {
    j[key] = *t.value;
  } else {
    j[key] = nullptr;
    j[key + "_unknown_reason"] = t.unknown_reason;
  }
}

json unbound_inputs_json(const std::vector<UnboundInput>& inputs) {
  json a = json::array();
  for (const UnboundInput& u : inputs) {
    json shape = nullptr;
    if (u.shape) {
      shape = json::array();
      for (const Dim& d : *u.shape)
        shape.push_back(d.is_known() ? json(*d.value) : d.param.empty() ? json(nullptr) : json(d.param));
    }
    a.push_back({{"input", u.input},
                 {"shape", shape},
                 {"suggested_shape", u.suggested_binding.empty() ? json(nullptr) : json(u.suggested_binding)}});
  }
  return a;
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
  put_total(j, "macs", f.macs_total());
  j["macs_complete"] = f.macs_complete();
  j["macs_upper_bound"] = !f.macs_upper_bound_nodes.empty();
  put_total(j, "elementwise_ops", f.elementwise_total());
  j["weight_bytes"] = f.weight_bytes;
  put_total(j, "activation_bytes", f.activation_total());
  put_total(j, "peak_activation_bytes", f.peak_activation_total());
  j["activations_complete"] = f.activations_complete();
  put_total(j, "inference_ram_bytes", f.inference_ram_total());
  j["unbound_inputs"] = unbound_inputs_json(f.unbound_inputs);
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
    // Unknown on either side: the change is unknown too.
    if (before[k].is_null() || after[k].is_null()) d[k] = nullptr;
    else d[k] = after[k].get<int64_t>() - before[k].get<int64_t>();
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

std::string total_text(const Total& t, bool bytes) {
  auto fmt = [&](uint64_t x) { return std::to_string(x) + " (" + (bytes ? human_bytes(x) : human_count(x)) + ")"; };
  if (t.value) return fmt(*t.value);
  if (t.lower_bound > 0)
    return ">= " + std::to_string(t.lower_bound) + " (>= " + (bytes ? human_bytes(t.lower_bound) : human_count(t.lower_bound)) + ")";
  return "?";
}

std::string total_short(const Total& t, bool bytes) {
  if (t.value) return bytes ? human_bytes(*t.value) : human_count(*t.value);
  if (t.lower_bound > 0) return ">= " + (bytes ? human_bytes(t.lower_bound) : human_count(t.lower_bound));
  return "?";
}

std::string unknown_dims_note(const Footprint& before, const Footprint* after, const std::string& command) {
  if (!before.any_total_unknown() && !(after && after->any_total_unknown())) return "";
  std::vector<UnboundInput> inputs = before.unbound_inputs;
  if (after)
    for (const UnboundInput& u : after->unbound_inputs) {
      bool seen = false;
      for (const UnboundInput& b : inputs) seen |= b.input == u.input && b.suggested_binding == u.suggested_binding;
      if (!seen) inputs.push_back(u);
    }
  if (inputs.empty())
    return "? = unknown: every graph input's dims are known, so --shape cannot help: the nodes listed depend on "
           "values known at run time only, or on ops effopt's shape inference does not size";
  return "? = unknown: the graph inputs have unknown dims " + unbound_dims_text(inputs) + "; count them with " +
         (command.empty() ? "" : command + " ") + suggested_shape_flags(inputs) +
         " (1 stands for each unknown dim: put the sizes you run)";
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
  auto nodes = [](size_t n) { return std::to_string(n) + (n == 1 ? " node" : " nodes"); };
  const Total macs = f.macs_total();
  line("MACs", total_text(macs, false) +
                   (macs.known() ? "" : ", unknown: " + nodes(f.macs_unknown_nodes.size()) +
                                            " could not be counted (see below)") +
                   (f.macs_upper_bound_nodes.empty() ? "" : ", an upper bound (If / Loop)"));
  for (auto& [op, m] : f.macs_by_op)
    line("  " + op, human_count(m) + (macs.known() ? "" : " (counted nodes only)"));
  const Total ew = f.elementwise_total();
  line("element-wise ops", total_short(ew, false) +
                               (ew.known() ? "" : ", unknown: " + nodes(f.elementwise_unknown_nodes.size()) +
                                                      " of unknown size"));
  const std::string act_unknown =
      ", unknown: " + nodes(f.activation_unknown_nodes.size()) + " have outputs of unknown size";
  const Total act = f.activation_total(), peak = f.peak_activation_total();
  line("activation bytes", total_text(act, true) + (act.known() ? "" : act_unknown));
  line("peak activation bytes", total_text(peak, true) + (peak.known() ? "" : act_unknown));
  const Total ram = f.inference_ram_total();
  line("inference RAM (est.)", total_text(ram, true) + ", weights + peak activation" +
                                   (ram.known() ? "" : " (the peak is unknown)"));
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
  std::string note = unknown_dims_note(f, nullptr, "");
  if (!note.empty()) s += "  " + note + "\n";
  return s;
}

std::string compact_table(const Footprint& before, const Footprint& after, bool color,
                          const ModelFileStats* bf, const ModelFileStats* af, const std::string& command) {
  std::string s;
  auto row_total = [&](const std::string& name, const Total& bt, const Total& at, bool bytes) {
    std::string bs = total_short(bt, bytes), as = total_short(at, bytes);
    std::string change;
    const bool differs = bt.value != at.value || (!bt.known() && !at.known() && bt.lower_bound != at.lower_bound);
    if (!bt.known() || !at.known()) {
      change = "?";  // a change involving an unknown total is unknown, even between equal lower bounds
    } else if (*at.value != *bt.value) {
      const uint64_t b = *bt.value, a = *at.value;
      char buf[64];
      if (b) std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * (static_cast<double>(a) - static_cast<double>(b)) / static_cast<double>(b));
      else std::snprintf(buf, sizeof buf, "new");
      change = buf;
    }
    char line[256];
    std::snprintf(line, sizeof line, "  %-22s %14s %14s  %s", name.c_str(), bs.c_str(), as.c_str(), change.c_str());
    s += (differs && color) ? std::string("\033[1;33m") + line + "\033[0m\n" : std::string(line) + "\n";
  };
  auto row = [&](const std::string& name, uint64_t b, uint64_t a, bool bytes) {
    Total bt, at;
    bt.value = b;
    at.value = a;
    row_total(name, bt, at, bytes);
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
  row_total("MACs", before.macs_total(), after.macs_total(), false);
  row_total("peak activation", before.peak_activation_total(), after.peak_activation_total(), true);
  std::string note = unknown_dims_note(before, &after, command);
  if (!note.empty()) s += "  " + note + "\n";
  return s;
}

}  // namespace effopt

#include "onnx/model_io.h"
#include "ort/ort_prediction.h"

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

nlohmann::json runtime_prediction_for(const ModelAnalysis& a) {
  std::vector<std::optional<uint64_t>> macs;
  for (const NodeFootprint& n : a.footprint.nodes) macs.push_back(n.macs);
  return runtime_prediction_block(*a.model, true, &macs);
}

}  // namespace effopt
