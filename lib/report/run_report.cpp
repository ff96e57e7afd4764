#include "report/run_report.h"

namespace effopt {

RunReport::RunReport(std::string command, std::string input, std::string output)
    : command_(std::move(command)), input_(std::move(input)), output_(std::move(output)) {}

nlohmann::json RunReport::to_json() const {
  nlohmann::json j;
  j["schema"] = "effopt.report";
  j["schema_version"] = kSchemaVersion;
  j["effopt_version"] = EFFOPT_VERSION;
  j["command"] = command_;
  j["input"] = {{"path", input_}};
  j["output"] = {{"path", output_}, {"bytes", out_bytes_}, {"external_bytes", out_external_}};
  j["pipeline"] = pipeline_;
  j["changes"] = changes_;
  j["passes"] = passes_;
  j["groups"] = groups_;
  if (!checks_.is_null()) j["checks"] = checks_;
  j["seconds"] = seconds_;
  return j;
}

std::string json_text(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace effopt
