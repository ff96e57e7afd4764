#include "util/ort_reference.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>

#include "support/ort_harness.h"
#include "util/test_util.h"

namespace effopt::test {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string op_key(const Node& n) { return is_onnx_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type; }

fs::path reference_path(const std::string& file) { return fs::path(EFFOPT_SOURCE_DIR) / "tests/ort/reference" / file; }

// This CPU as the reference records it: /proc/cpuinfo's model name and its vector-extension flags.
json this_cpu() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(f, line) && (model.empty() || flags.empty())) {
    auto value = [&] { return line.substr(line.find(':') + 2); };
    if (model.empty() && line.rfind("model name", 0) == 0) model = value();
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = value();
  }
  std::istringstream ss(flags);
  std::vector<std::string> kept;
  for (std::string flag; ss >> flag;)
    if (flag.rfind("avx", 0) == 0 || flag.rfind("amx", 0) == 0 || flag == "fma" || flag == "f16c") kept.push_back(flag);
  return {{"model", model}, {"flags", kept}};
}

// Whether live ORT on this host gives the reference's graphs at `level`.
bool host_reproduces(OrtOptLevel level, std::string* why) {
#if defined(__x86_64__)
  if (level != OrtOptLevel::All || __builtin_cpu_supports("avx512f")) return true;
  *why = "this CPU has no AVX-512F: ONNX Runtime's level-all graph (NCHWc block 16) is compared with the "
         "checked-in reference only, not with live ORT";
#else
  (void)level;
  *why = "not an x86-64 CPU: ONNX Runtime's graphs are compared with the checked-in x86 reference only";
#endif
  return false;
}

json to_json(const OrtGraphSummary& s) {
  return {{"nodes", s.nodes}, {"op_counts", s.op_counts}, {"output_producers", s.output_producers}};
}

OrtGraphSummary from_json(const json& j) {
  OrtGraphSummary s;
  s.nodes = j.at("nodes").get<uint64_t>();
  s.op_counts = j.at("op_counts").get<std::map<std::string, uint64_t>>();
  s.output_producers = j.at("output_producers").get<std::vector<std::string>>();
  return s;
}

// The reference files read by this process, and their writer for regeneration mode.
struct ReferenceFiles {
  std::mutex mu;
  std::map<std::string, json> loaded;

  json& get(const std::string& file) {
    auto it = loaded.find(file);
    if (it != loaded.end()) return it->second;
    json j = json::object();
    std::ifstream f(reference_path(file));
    if (f) {
      j = json::parse(f, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) FAIL(reference_path(file).string() << " is not valid JSON");
    }
    if (!j.contains("entries")) j["entries"] = json::object();
    return loaded[file] = std::move(j);
  }

  // One entry a line, so a regeneration's diff shows which graphs changed.
  void write(const std::string& file) {
    const json& j = loaded.at(file);
    std::ostringstream out;
    out << "{\n";
    for (auto& [k, v] : j.items())
      if (k != "entries") out << " " << json(k).dump() << ": " << v.dump() << ",\n";
    out << " \"entries\": {";
    bool first = true;
    for (auto& [k, v] : j.at("entries").items()) {
      out << (first ? "\n" : ",\n") << "  " << json(k).dump() << ": " << v.dump();
      first = false;
    }
    out << "\n }\n}\n";
    fs::create_directories(reference_path(file).parent_path());
    write_file(reference_path(file).string(), out.str());
  }
};

ReferenceFiles& files() {
  static ReferenceFiles f;
  return f;
}

}  // namespace

OrtGraphSummary summarize_ort_graph(const Model& input, const Model& ort_optimized) {
  OrtGraphSummary s;
  std::unordered_map<std::string, std::string> producer;
  for (const auto& n : ort_optimized.graph->nodes()) {
    const std::string k = op_key(*n);
    s.op_counts[k]++;
    ++s.nodes;
    for (const Value* v : n->outputs())
      if (v) producer[v->name()] = k;
  }
  for (const auto& n : input.graph->nodes()) {
    const Value* v = n->output(0);
    auto it = v ? producer.find(v->name()) : producer.end();
    s.output_producers.push_back(it == producer.end() ? "" : it->second);
  }
  return s;
}

PredictionDiff diff_prediction(const OrtPrediction& p, const Model& input, const OrtGraphSummary& ort) {
  PredictionDiff d;
  std::set<std::string> ops;
  for (auto& [k, v] : p.op_counts) ops.insert(k);
  for (auto& [k, v] : ort.op_counts) ops.insert(k);
  for (const std::string& k : ops) {
    uint64_t a = p.op_counts.count(k) ? p.op_counts.at(k) : 0, b = ort.op_counts.count(k) ? ort.op_counts.at(k) : 0;
    if (a != b) d.op_differences[k] = {a, b};
  }
  const auto& nodes = input.graph->nodes();
  REQUIRE(p.nodes.size() == nodes.size());
  REQUIRE(ort.output_producers.size() == nodes.size());
  auto shown = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]->output(0)) continue;
    if (p.nodes[i].output_producer != ort.output_producers[i])
      d.fate_mismatches.push_back(p.nodes[i].node + " (" + p.nodes[i].op_type + "): predicted " +
                                  shown(p.nodes[i].output_producer) + ", ORT " + shown(ort.output_producers[i]));
  }
  return d;
}

std::string describe(const PredictionDiff& d, size_t max_fates) {
  std::string s;
  for (auto& [op, pa] : d.op_differences)
    s += op + ": predicted " + std::to_string(pa.first) + ", ORT " + std::to_string(pa.second) + "\n";
  for (size_t i = 0; i < d.fate_mismatches.size() && i < max_fates; ++i) s += "fate " + d.fate_mismatches[i] + "\n";
  if (d.fate_mismatches.size() > max_fates)
    s += "... " + std::to_string(d.fate_mismatches.size() - max_fates) + " more fate mismatches\n";
  return s;
}

std::map<std::string, std::string> grouped(const std::vector<std::string>& fate_mismatches) {
  std::map<std::string, std::string> out;
  for (const std::string& f : fate_mismatches) {
    size_t end = f.find("): predicted "), open = f.rfind(" (", end);
    REQUIRE(end != std::string::npos);
    REQUIRE(open != std::string::npos);
    std::string& nodes = out[f.substr(open + 2, end - open - 2) + f.substr(end + 1)];
    nodes += (nodes.empty() ? "" : " ") + f.substr(0, open);
  }
  return out;
}

std::string digest_of(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool regenerating_ort_reference() {
  const char* v = std::getenv("EFFOPT_REGEN_ORT_REFERENCE");
  return v && *v && std::string(v) != "0";
}

OrtGraphSummary ort_reference_summary(const std::string& file, const std::string& key, const std::string& digest,
                                      OrtOptLevel level, const Model& input,
                                      const std::function<std::unique_ptr<Model>(OrtHarness&)>& run_ort) {
  INFO("ORT reference " << reference_path(file).string() << ", entry \"" << key << "\"");
  const bool regen = regenerating_ort_reference();
  std::string why_not_live;
  const bool live = host_reproduces(level, &why_not_live);
  if (regen && !live) FAIL("EFFOPT_REGEN_ORT_REFERENCE needs a host that reproduces the reference: " << why_not_live);
  if (!live) skip(Needs::HostFeature, why_not_live);

  std::optional<OrtGraphSummary> ort_now;
  std::string ort_version;
  if (live) {
    if (OrtHarness* ort = ort_or_skip()) {
      std::unique_ptr<Model> optimized = run_ort(*ort);
      REQUIRE(optimized);
      ort_now = summarize_ort_graph(input, *optimized);
      ort_version = ort->ort_version();
    } else if (regen) {
      FAIL("EFFOPT_REGEN_ORT_REFERENCE needs ONNX Runtime: " << OrtHarness::unavailable_reason());
    }
  }

  std::lock_guard<std::mutex> lock(files().mu);
  json& ref = files().get(file);
  if (regen) {
    ref["about"] = "ONNX Runtime's optimized graphs (tests/util/ort_reference.h); regenerate with "
                   "EFFOPT_REGEN_ORT_REFERENCE=1 and the [ort-prediction] tests on an AVX-512F host";
    ref["ort_version"] = ort_version;
    ref["cpu"] = this_cpu();
    json entry = to_json(*ort_now);
    entry["level"] = ort_opt_level_name(level);
    entry["digest"] = digest;
    ref["entries"][key] = std::move(entry);
    files().write(file);
    return *ort_now;
  }
  const json& entries = ref.at("entries");
  if (!entries.contains(key))
    FAIL("no entry for this graph: regenerate the reference (EFFOPT_REGEN_ORT_REFERENCE=1, tests/util/ort_reference.h)");
  const json& entry = entries.at(key);
  INFO("reference made with onnxruntime " << ref.value("ort_version", "?") << " on " << ref.value("cpu", json()).dump());
  REQUIRE(entry.at("level").get<std::string>() == ort_opt_level_name(level));
  INFO("the model changed since the reference was made: regenerate it (EFFOPT_REGEN_ORT_REFERENCE=1)");
  REQUIRE(entry.at("digest").get<std::string>() == digest);
  OrtGraphSummary want = from_json(entry);
  if (ort_now) {
    // Live ORT on this host must still give the reference's graph: a different ORT, or a file that no longer
    // says what ORT does, fails here.
    std::string ops;
    std::set<std::string> kinds;
    for (auto& [k, v] : want.op_counts) kinds.insert(k);
    for (auto& [k, v] : ort_now->op_counts) kinds.insert(k);
    for (const std::string& k : kinds) {
      uint64_t a = ort_now->op_counts.count(k) ? ort_now->op_counts.at(k) : 0;
      uint64_t b = want.op_counts.count(k) ? want.op_counts.at(k) : 0;
      if (a != b) ops += " " + k + " " + std::to_string(a) + " (reference " + std::to_string(b) + ")";
    }
    INFO("live onnxruntime " << ort_version << ": " << ort_now->nodes << " nodes, reference " << want.nodes
                             << "; op counts differing:" << (ops.empty() ? " none" : ops));
    CHECK(ort_now->op_counts == want.op_counts);
    CHECK(ort_now->output_producers == want.output_producers);
  }
  return want;
}

}  // namespace effopt::test
