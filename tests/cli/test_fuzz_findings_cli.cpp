// Bugs the fuzz targets found (tests/fuzz, docs/reliability.md) that show at
// the command line, checked through the effopt binary. The inputs that found
// them are replayed by the effopt_fuzz_replay_* ctest tests
// (tests/fuzz/regressions).
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "util/test_util.h"

using effopt::test::run_effopt;
using effopt::test::TempDir;
using effopt::test::write_file;

TEST_CASE("JSON output of a model whose names are not UTF-8", "[cli][fuzz-finding]") {
  // regressions/model_report/non-utf8-name-json-dump.onnx: nlohmann::json threw type_error 316 from dump()
  // (a crash in the fuzz target), and inspect --json / report --json failed with exit 5 (internal error).
  // Bad bytes now print as U+FFFD.
  onnx::ModelProto p;
  auto st = onnx::OnnxParser::Parse(p, R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) { Y = Relu(X) }
)");
  REQUIRE(st.IsOK());
  // regressions/model_report/non-utf8-name-json-dump.onnx has a producer_name with a bad byte.
  p.set_producer_name(std::string("maker\xff"));
  p.mutable_graph()->mutable_node(0)->set_name(std::string("relu\xff\xfe-1"));
  TempDir d;
  write_file(d.file("m.onnx"), p.SerializeAsString());
  // inspect prints the producer, report the node names.
  for (auto [cmd, want] : {std::pair{"inspect", "\"maker\xef\xbf\xbd\""}, std::pair{"report", "relu\xef\xbf\xbd\xef\xbf\xbd-1"}}) {
    INFO(cmd);
    auto r = run_effopt({cmd, d.file("m.onnx"), "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK_THAT(r.out, Catch::Contains(want));
  }
}
