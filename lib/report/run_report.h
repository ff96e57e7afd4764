// The JSON report every transforming command can write (--report). This is
// the skeleton the footprint report builds on: the command, its files, the
// expanded pipeline, what changed, and timing.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace effopt {

// A JSON document as effopt prints and writes it: indented by 2, with a final
// newline. Strings that are not UTF-8 (a model's names may hold any bytes)
// get U+FFFD in place of the bad bytes instead of making the dump throw.
std::string json_text(const nlohmann::json& j);

class RunReport {
 public:
  // docs/report.md lists what changed from one version to the next.
  static constexpr int kSchemaVersion = 2;
  RunReport(std::string command, std::string input, std::string output);
  void set_pipeline(std::string pipeline) { pipeline_ = std::move(pipeline); }
  void add_change(const std::string& key, nlohmann::json value) { changes_[key] = std::move(value); }
  void set_output_bytes(uint64_t model, uint64_t external) { out_bytes_ = model; out_external_ = external; }
  void set_seconds(double s) { seconds_ = s; }
  // Per-pass section ("passes": one object per pass run, in order: name,
  // options, group, seconds, changed, counters, notes, nodes_before,
  // nodes_after, outputs_checked, max_rel_l2) and the fixed-point groups
  // ("groups": name, max_iterations, iterations, limit_reached).
  void add_pass(nlohmann::json pass) { passes_.push_back(std::move(pass)); }
  void add_group(nlohmann::json group) { groups_.push_back(std::move(group)); }
  void set_checks(nlohmann::json checks) { checks_ = std::move(checks); }
  nlohmann::json to_json() const;

 private:
  std::string command_, input_, output_, pipeline_;
  nlohmann::json changes_ = nlohmann::json::object();
  uint64_t out_bytes_ = 0, out_external_ = 0;
  double seconds_ = 0;
  nlohmann::json passes_ = nlohmann::json::array(), groups_ = nlohmann::json::array(), checks_;
};

}  // namespace effopt
