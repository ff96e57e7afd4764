// What the CLI tests share: a model in ONNX's text syntax written to a file, a written model loaded back, and
// a --report / --json file parsed and validated against docs/report.schema.json.
//
//   std::string path = test::write_text_model(dir, kModelText);          // dir/m.onnx
//   auto m = test::load_or_fail(dir.file("m.pruned.onnx"));
//   json j = test::parse_valid_report(test::read_file(dir.file("r.json")));
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "onnx/model_io.h"
#include "util/json_schema.h"
#include "util/test_util.h"

namespace effopt::test {

// `text` (ONNX's text syntax) saved as `name` in `dir`; returns its path.
inline std::string write_text_model(const TempDir& dir, const std::string& text, const std::string& name = "m.onnx") {
  auto m = parse_or_fail(text);
  std::string path = dir.file(name);
  REQUIRE(save_model(*m, path));
  return path;
}

// The model at `path`; fails the test (with the loader's error) when it does not load.
inline std::unique_ptr<Model> load_or_fail(const std::string& path) {
  auto m = load_model(path);
  INFO(path << (m ? "" : ": " + m.error().message));
  REQUIRE(m);
  return std::move(*m);
}

// docs/report.schema.json, read once.
inline const nlohmann::json& report_schema() {
  static const nlohmann::json schema =
      nlohmann::json::parse(read_file(std::string(EFFOPT_SOURCE_DIR) + "/docs/report.schema.json"));
  return schema;
}

// `text` parsed as JSON; fails the test, listing the schema errors, when it does not match the report schema.
inline nlohmann::json parse_valid_report(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text);
  auto errors = validate_json(j, report_schema());
  std::string all;
  for (auto& e : errors) all += e + "\n";
  INFO(all);
  REQUIRE(errors.empty());
  return j;
}

}  // namespace effopt::test
