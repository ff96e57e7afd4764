// The sweep's points, frontiers, grid and files (sweep.h).
#include "report/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "report/footprint_report.h"

namespace effopt {

std::vector<SweepConfig> builtin_sweep_configs(bool with_calibration) {
  // Lossless cleanup and fusion first (constants folded, BatchNormalization folded into Conv), then the
  // quantizer; pruning runs on the weights as trained (BatchNormalization still in place, as @prune does),
  // then the cleanup folds it, and sparse-storage stores the zeros compactly where that is smaller.
  auto prune = [](const std::string& opts, const std::string& then) {
    return "prune{" + opts + "},@fuse" + then;
  };
  std::vector<SweepConfig> c = {
      {"fuse", "@fuse"},
      {"int8-per-channel", "@fuse,quantize{mode=weight bits=8 per-channel=true}"},
      {"int8-per-tensor", "@fuse,quantize{mode=weight bits=8 per-channel=false}"},
      {"int4-block32", "@fuse,quantize{mode=weight bits=4 block-size=32}"},
      {"int4-block128", "@fuse,quantize{mode=weight bits=4 block-size=128}"},
      {"dynamic", "@fuse,quantize{mode=dynamic}"},
  };
  if (with_calibration)
    for (const char* m : {"minmax", "percentile", "entropy"})
      c.push_back({std::string("static-") + m, std::string("@fuse,quantize{mode=static calibration-method=") + m + "}"});
  c.push_back({"fp16", "@fuse,quantize{mode=fp16}"});
  for (const char* s : {"30", "50", "70", "85", "90"})
    c.push_back({std::string("prune-") + s, prune(std::string("granularity=element sparsity=0.") + s, ",sparse-storage")});
  c.push_back({"prune-2-4", prune("granularity=n:m n-m=2:4", ",sparse-storage")});
  for (const char* s : {"10", "20", "30"})
    c.push_back({std::string("channel-") + s, prune(std::string("granularity=channel sparsity=0.") + s, "")});
  const std::string int8 = ",quantize{mode=weight bits=8}";
  c.push_back({"prune-50-int8", prune("granularity=element sparsity=0.50", int8 + ",sparse-storage")});
  c.push_back({"prune-2-4-int8", prune("granularity=n:m n-m=2:4", int8 + ",sparse-storage")});
  c.push_back({"channel-20-int8", prune("granularity=channel sparsity=0.20", int8)});
  return c;
}

nlohmann::json sweep_configs_json(const std::vector<SweepConfig>& configs) {
  nlohmann::json a = nlohmann::json::array();
  for (const SweepConfig& c : configs) a.push_back({{"name", c.name}, {"pipeline", c.pipeline}});
  return a;
}

Expected<std::vector<SweepConfig>> parse_sweep_configs(const std::string& text, const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return usage_error(source + ": not JSON (expected [{\"name\": ..., \"pipeline\": ...}])");
  if (!j.is_array()) return usage_error(source + ": expected a JSON array of {\"name\": ..., \"pipeline\": ...}");
  std::vector<SweepConfig> out;
  std::set<std::string> names;
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& e = j[i];
    const std::string where = source + ": entry " + std::to_string(i);
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("pipeline") ||
        !e["pipeline"].is_string())
      return usage_error(where + ": needs a string \"name\" and a string \"pipeline\"");
    for (auto it = e.begin(); it != e.end(); ++it)
      if (it.key() != "name" && it.key() != "pipeline")
        return usage_error(where + ": unknown key \"" + it.key() + "\" (only name and pipeline)");
    SweepConfig c{e["name"].get<std::string>(), e["pipeline"].get<std::string>()};
    bool plain = !c.name.empty() && c.name != "." && c.name != ".." &&
                 std::all_of(c.name.begin(), c.name.end(),
                             [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'; });
    if (!plain) return usage_error(where + ": name \"" + c.name + "\" is not a folder name (letters, digits, . _ -)");
    if (c.name == "reference") return usage_error(where + ": the name \"reference\" is the unmodified model's");
    if (!names.insert(c.name).second) return usage_error(where + ": the name \"" + c.name + "\" is used twice");
    out.push_back(std::move(c));
  }
  if (out.empty()) return usage_error(source + ": no configs");
  return out;
}

std::vector<bool> pareto_frontier(const std::vector<double>& x, const std::vector<double>& y,
                                  const std::vector<bool>& valid) {
  const size_t n = x.size();
  std::vector<bool> on(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (!valid[i]) continue;
    bool dominated = false;
    for (size_t k = 0; k < n && !dominated; ++k)
      dominated = k != i && valid[k] && x[k] <= x[i] && y[k] <= y[i] && (x[k] < x[i] || y[k] < y[i]);
    on[i] = !dominated;
  }
  return on;
}

namespace {

template <class T>
std::vector<bool> frontier_of(const std::vector<SweepPoint>& points, std::optional<T> SweepPoint::*axis) {
  std::vector<double> x, y;
  std::vector<bool> valid;
  for (const SweepPoint& p : points) {
    bool v = p.ok() && (p.*axis).has_value() && p.error.has_value() && std::isfinite(*p.error);
    valid.push_back(v);
    x.push_back(v ? static_cast<double>(*(p.*axis)) : 0);
    y.push_back(v ? *p.error : 0);
  }
  return pareto_frontier(x, y, valid);
}

}  // namespace

void mark_frontiers(std::vector<SweepPoint>& points) {
  const bool latency = std::any_of(points.begin(), points.end(), [](const SweepPoint& p) { return p.latency_ms.has_value(); });
  std::vector<bool> bytes = frontier_of(points, &SweepPoint::file_bytes);
  std::vector<bool> speed = latency ? frontier_of(points, &SweepPoint::latency_ms) : frontier_of(points, &SweepPoint::macs);
  for (size_t i = 0; i < points.size(); ++i) {
    points[i].pareto = bytes[i];
    points[i].pareto_latency = speed[i];
  }
}

Expected<PickKey> parse_pick_key(const std::string& text) {
  if (text == "file-bytes") return PickKey::FileBytes;
  if (text == "gzip-bytes") return PickKey::GzipBytes;
  if (text == "macs") return PickKey::Macs;
  if (text == "latency") return PickKey::Latency;
  return usage_error("--pick " + text + ": one of file-bytes, gzip-bytes, macs, latency");
}

std::optional<size_t> pick_point(const std::vector<SweepPoint>& points, double max_error, PickKey key) {
  auto value = [key](const SweepPoint& p) -> std::optional<double> {
    switch (key) {
      case PickKey::FileBytes: return p.file_bytes ? std::optional<double>(*p.file_bytes) : std::nullopt;
      case PickKey::GzipBytes: return p.gzip_bytes ? std::optional<double>(*p.gzip_bytes) : std::nullopt;
      case PickKey::Macs: return p.macs ? std::optional<double>(*p.macs) : std::nullopt;
      case PickKey::Latency: return p.latency_ms;
    }
    return std::nullopt;
  };
  std::optional<size_t> best;
  for (size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& p = points[i];
    if (p.name == "reference" || !p.ok() || !p.error || !(*p.error <= max_error) || !value(p)) continue;
    if (!best) {
      best = i;
      continue;
    }
    const SweepPoint& b = points[*best];
    if (*value(p) < *value(b) || (*value(p) == *value(b) && *p.error < *b.error)) best = i;
  }
  return best;
}

namespace {

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_floating_point_v<T>)
    if (!std::isfinite(*v)) return nullptr;
  return *v;
}

template <class T>
std::optional<T> get_opt(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<T>();
}

// The point columns, in order (sweep.json's point keys and sweep.csv's header).
const std::vector<std::string>& columns() {
  static const std::vector<std::string> c = {"name", "pipeline", "command", "file_bytes", "gzip_bytes", "params",
                                             "params_nonzero", "macs", "peak_activation_bytes", "inference_ram_bytes",
                                             "latency_ms", "error", "accuracy", "pareto", "pareto_latency", "status",
                                             "reason"};
  return c;
}

nlohmann::json point_json(const SweepPoint& p) {
  return {{"name", p.name},
          {"pipeline", p.pipeline},
          {"command", p.command},
          {"file_bytes", opt(p.file_bytes)},
          {"gzip_bytes", opt(p.gzip_bytes)},
          {"params", opt(p.params)},
          {"params_nonzero", opt(p.params_nonzero)},
          {"macs", opt(p.macs)},
          {"peak_activation_bytes", opt(p.peak_activation_bytes)},
          {"inference_ram_bytes", opt(p.inference_ram_bytes)},
          {"latency_ms", opt(p.latency_ms)},
          {"error", opt(p.error)},
          {"accuracy", opt(p.accuracy)},
          {"pareto", p.pareto},
          {"pareto_latency", p.pareto_latency},
          {"status", p.status},
          {"reason", p.reason}};
}

std::string csv_cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

nlohmann::json sweep_json(const SweepInfo& info, const std::vector<SweepPoint>& points) {
  nlohmann::json pts = nlohmann::json::array();
  for (const SweepPoint& p : points) pts.push_back(point_json(p));
  nlohmann::json j = {{"schema", "effopt.sweep"},
                      {"schema_version", kSweepSchemaVersion},
                      {"model", info.model},
                      {"metric", info.metric},
                      {"data", info.data},
                      {"latency_runtime", info.latency ? nlohmann::json("effopt executor on this machine") : nlohmann::json()},
                      {"points", pts}};
  return j;
}

SweepPoint sweep_point_from_json(const nlohmann::json& j) {
  SweepPoint p;
  p.name = j.value("name", "");
  p.pipeline = j.value("pipeline", "");
  p.command = j.value("command", "");
  p.status = j.value("status", "ok");
  p.reason = j.value("reason", "");
  p.file_bytes = get_opt<uint64_t>(j, "file_bytes");
  p.gzip_bytes = get_opt<uint64_t>(j, "gzip_bytes");
  p.params = get_opt<uint64_t>(j, "params");
  p.params_nonzero = get_opt<uint64_t>(j, "params_nonzero");
  p.macs = get_opt<uint64_t>(j, "macs");
  p.peak_activation_bytes = get_opt<uint64_t>(j, "peak_activation_bytes");
  p.inference_ram_bytes = get_opt<uint64_t>(j, "inference_ram_bytes");
  p.latency_ms = get_opt<double>(j, "latency_ms");
  p.error = get_opt<double>(j, "error");
  p.accuracy = get_opt<double>(j, "accuracy");
  p.pareto = j.value("pareto", false);
  p.pareto_latency = j.value("pareto_latency", false);
  return p;
}

std::string sweep_csv(const std::vector<SweepPoint>& points) {
  std::string out;
  for (size_t i = 0; i < columns().size(); ++i) out += (i ? "," : "") + columns()[i];
  out += "\n";
  for (const SweepPoint& p : points) {
    nlohmann::json j = point_json(p);
    for (size_t i = 0; i < columns().size(); ++i) out += (i ? "," : "") + csv_cell(j[columns()[i]]);
    out += "\n";
  }
  return out;
}

std::string sweep_table(const std::vector<SweepPoint>& points, const SweepInfo& info) {
  const bool latency = std::any_of(points.begin(), points.end(), [](const SweepPoint& p) { return p.latency_ms.has_value(); });
  size_t w = 4;
  for (const SweepPoint& p : points) w = std::max(w, p.name.size());
  auto num = [](const auto& v, bool bytes) -> std::string {
    if (!v) return "?";
    return bytes ? human_bytes(*v) : human_count(*v);
  };
  char line[512];
  std::string out;
  std::snprintf(line, sizeof line, "   %-*s %10s %10s %10s %10s %12s  %s\n", static_cast<int>(w), "name", "file", "gzip",
                "nonzero", latency ? "latency" : "MACs", info.metric.c_str(), "accuracy");
  out += line;
  for (const SweepPoint& p : points) {
    std::string speed = latency ? (p.latency_ms ? std::to_string(*p.latency_ms).substr(0, 6) + "ms" : "?")
                                : num(p.macs, false);
    std::string err = p.error ? std::to_string(*p.error) : "?";
    std::string acc = p.accuracy ? std::to_string(*p.accuracy) : "";
    if (!p.ok()) {
      std::snprintf(line, sizeof line, "   %-*s %s: %s\n", static_cast<int>(w), p.name.c_str(), p.status.c_str(),
                    p.reason.c_str());
    } else {
      std::snprintf(line, sizeof line, "%c%c %-*s %10s %10s %10s %10s %12s  %s\n", p.pareto ? '*' : ' ',
                    p.pareto_latency ? '+' : ' ', static_cast<int>(w), p.name.c_str(), num(p.file_bytes, true).c_str(),
                    num(p.gzip_bytes, true).c_str(), num(p.params_nonzero, false).c_str(), speed.c_str(), err.c_str(),
                    acc.c_str());
    }
    out += line;
  }
  out += std::string("* on the frontier of ") + info.metric + " against file bytes; + against " +
         (latency ? "latency (effopt's executor on this machine)" : "MACs") + "\n";
  return out;
}

}  // namespace effopt
