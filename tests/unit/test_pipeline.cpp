// Pipeline text (lib/pass/pipeline.h): every parse error with its position,
// print-then-parse round trips for every registered pass (defaults and
// non-default options) and the named pipelines, nested groups, and groups
// that reach a fixed point or their iteration limit.
#include <catch2/catch.hpp>

#include "pass/manager.h"
#include "pass/named_pipelines.h"
#include "pass/pipeline.h"
#include "util/test_util.h"

using namespace effopt;
using namespace effopt::pass;

namespace {

// A registry with one pass of every option type, independent of the built-ins.
const PassRegistry& test_registry() {
  static PassRegistry* r = [] {
    auto* reg = new PassRegistry();
    auto nop = [](Graph&, PassContext&) -> Expected<PassResult> { return PassResult{}; };
    PassInfo a;
    a.name = "alpha";
    a.summary = "no options";
    a.run_on_graph = nop;
    reg->add(std::move(a));
    PassInfo b;
    b.name = "beta";
    b.summary = "every option type";
    b.options = {{"flag", OptionType::Bool, "false", "a bool", {}},
                 {"count", OptionType::Int, "3", "an int", {}, 0, 10},
                 {"ratio", OptionType::Float, "0.5", "a float", {}, 0, 1},
                 {"mode", OptionType::Enum, "tensor", "an enum", {"tensor", "channel"}},
                 {"label", OptionType::String, "", "a string", {}},
                 {"table", OptionType::File, "", "a file", {}}};
    b.run_on_graph = nop;
    reg->add(std::move(b));
    return reg;
  }();
  return *r;
}

// Parses `text`, expects a usage error containing `what`, at 1-based `column`,
// with the caret under that column.
void check_error(const std::string& text, const std::string& what, size_t column) {
  INFO("pipeline text: " << text);
  auto p = parse_pipeline(text, test_registry());
  REQUIRE_FALSE(p);
  const std::string& msg = p.error().message;
  INFO("message: " << msg);
  CHECK(p.error().kind == ErrorKind::Usage);
  CHECK(msg.find(what) != std::string::npos);
  CHECK(msg.find("(column " + std::to_string(column) + ")") != std::string::npos);
  size_t caret_line = msg.rfind('\n');
  REQUIRE(caret_line != std::string::npos);
  std::string caret = msg.substr(caret_line + 1);
  CHECK(caret == std::string(2 + column - 1, ' ') + "^");
  // The line above the caret is the text itself.
  size_t text_line = msg.rfind('\n', caret_line - 1);
  CHECK(msg.substr(text_line + 1, caret_line - text_line - 1) == "  " + text);
}

std::string roundtrip(const std::string& text, const PassRegistry& reg) {
  auto p = parse_pipeline(text, reg);
  INFO(text << (p ? "" : "\n" + p.error().message));
  REQUIRE(p);
  std::string printed = print_pipeline(*p);
  auto again = parse_pipeline(printed, reg);
  INFO("printed: " << printed << (again ? "" : "\n" + again.error().message));
  REQUIRE(again);
  CHECK(print_pipeline(*again) == printed);
  return printed;
}

// A non-default value for an option of any type.
std::string other_value(const OptionSpec& s) {
  switch (s.type) {
    case OptionType::Bool: return s.default_value == "true" ? "false" : "true";
    case OptionType::Int: {
      int64_t d = std::stoll(s.default_value);
      return std::to_string(d + 1 <= s.max ? d + 1 : d - 1);
    }
    case OptionType::Float: {
      double d = std::stod(s.default_value);
      double v = d + 0.25 <= s.max ? d + 0.25 : (s.min + d) / 2;
      return std::to_string(v);
    }
    case OptionType::Enum:
      for (const auto& c : s.choices)
        if (c != s.default_value) return c;
      return s.default_value;
    case OptionType::String: return "a b{c}\"d\\e";  // needs quoting
    case OptionType::File: return "/some dir/calib.bin";
    case OptionType::Files: return "/some dir/a.pb;b c.npy";
  }
  return "";
}

}  // namespace

TEST_CASE("pipeline: unknown pass suggests the nearest name", "[pipeline]") {
  check_error("alpha,betta", "unknown pass 'betta' (did you mean 'beta'?", 7);
}

TEST_CASE("pipeline: unknown option lists the valid ones", "[pipeline]") {
  check_error("beta{flag=true cont=2}", "unknown option 'cont' (valid options: flag, count, ratio, mode, label, table)",
              16);
  check_error("alpha{x=1}", "unknown option 'x' (this pass has no options)", 7);
}

TEST_CASE("pipeline: bad values name the option and what it accepts", "[pipeline]") {
  check_error("beta{flag=yes}", "option 'flag': 'yes' is not a boolean (true or false)", 11);
  check_error("beta{count=11}", "option 'count': '11' is not in the range 0..10", 12);
  check_error("beta{count=two}", "'two' is not an integer", 12);
  check_error("beta{ratio=x}", "'x' is not a number", 12);
  check_error("beta{mode=layer}", "'layer' is not one of tensor, channel", 11);
  check_error("repeat{max-iterations=0}(alpha)", "option 'max-iterations': '0' is not in the range 1..1000", 23);
}

TEST_CASE("pipeline: unbalanced braces and parentheses", "[pipeline]") {
  check_error("alpha,beta{flag=true", "unbalanced braces: this '{' is never closed", 11);
  check_error("alpha}", "unbalanced braces: '}' without '{'", 6);
  check_error("repeat(alpha,beta", "unbalanced parentheses: this '(' is never closed", 7);
  check_error("alpha)", "unbalanced parentheses: ')' without '('", 6);
  check_error("repeat(repeat(alpha)", "unbalanced parentheses: this '(' is never closed", 7);
  check_error("alpha,repeat{max-iterations=2}(", "unbalanced parentheses: this '(' is never closed", 31);
}

TEST_CASE("pipeline: empty names, groups and pipelines", "[pipeline]") {
  check_error(",alpha", "empty pass name before ','", 1);
  check_error("alpha,,beta", "empty pass name before ','", 7);
  check_error("alpha,", "the pipeline ends with ','", 6);
  check_error("", "the pipeline is empty", 1);
  check_error("repeat()", "empty group", 7);
  check_error("repeat(alpha,)", "empty pass name before ')'", 14);
  check_error("{flag=true}", "options '{...}' without a pass name", 1);
  check_error("beta{=true}", "empty option name before '='", 6);
}

TEST_CASE("pipeline: malformed options and items", "[pipeline]") {
  check_error("beta{flag}", "option 'flag' of 'beta' needs a value: flag=VALUE", 6);
  check_error("beta{count=1 count=2}", "option 'count' of 'beta' is given twice", 14);
  check_error("beta{label=\"abc}", "unterminated quoted value", 12);
  check_error("beta{label=a{b}", "unexpected '{' in the value of 'label'", 13);
  check_error("beta{label=}", "option 'label' has an empty value", 12);
  check_error("alpha beta", "expected ',' between passes, found 'b'", 7);
  check_error("alpha(beta)", "only 'repeat' takes a body in parentheses", 6);
  check_error("repeat{max-iterations=2}", "'repeat' needs a body in parentheses", 25);
  check_error("alpha,%", "expected a pass name, found '%'", 7);
}

TEST_CASE("pipeline: errors on a later line point at that line", "[pipeline]") {
  auto p = parse_pipeline("alpha,\n  betta", test_registry());
  REQUIRE_FALSE(p);
  CHECK(p.error().message.find("\n    betta\n    ^") != std::string::npos);
}

TEST_CASE("pipeline: printing fills in every default and parses back", "[pipeline]") {
  CHECK(roundtrip("beta", test_registry()) ==
        "beta{flag=false count=3 ratio=0.5 mode=tensor label=\"\" table=\"\"}");
  CHECK(roundtrip(" alpha , beta{ mode=channel  count=7 } ", test_registry()) ==
        "alpha,beta{flag=false count=7 ratio=0.5 mode=channel label=\"\" table=\"\"}");
  // Values with separators stay bare inside braces; others are quoted.
  CHECK(roundtrip("beta{label=x=1,3;y=2}", test_registry()) ==
        "beta{flag=false count=3 ratio=0.5 mode=tensor label=x=1,3;y=2 table=\"\"}");
  CHECK(roundtrip("beta{label=\"a \\\"b\\\" {c}\"}", test_registry()) ==
        "beta{flag=false count=3 ratio=0.5 mode=tensor label=\"a \\\"b\\\" {c}\" table=\"\"}");
  auto p = parse_pipeline("beta{label=\"a \\\"b\\\" {c}\"}", test_registry());
  REQUIRE(p);
  CHECK(p->items[0].options.get_string("label") == "a \"b\" {c}");
}

TEST_CASE("pipeline: nested groups print and parse back", "[pipeline]") {
  std::string text = "alpha,repeat(beta{count=1},repeat{max-iterations=3}(alpha,repeat(alpha))),beta";
  std::string printed = roundtrip(text, test_registry());
  std::string b1 = "beta{flag=false count=1 ratio=0.5 mode=tensor label=\"\" table=\"\"}";
  std::string b3 = "beta{flag=false count=3 ratio=0.5 mode=tensor label=\"\" table=\"\"}";
  CHECK(printed == "alpha,repeat{max-iterations=8}(" + b1 +
                       ",repeat{max-iterations=3}(alpha,repeat{max-iterations=8}(alpha)))," + b3);
  auto p = parse_pipeline(text, test_registry());
  REQUIRE(p);
  REQUIRE(p->items.size() == 3);
  CHECK(p->items[1].kind == PipelineItem::Kind::Repeat);
  CHECK(p->items[1].body.size() == 2);
  CHECK(p->items[1].body[1].max_iterations() == 3);
  CHECK(p->items[1].body[1].body[1].kind == PipelineItem::Kind::Repeat);
}

TEST_CASE("pipeline: every registered pass round-trips, with defaults and with other values", "[pipeline]") {
  const PassRegistry& reg = PassRegistry::global();
  REQUIRE_FALSE(reg.all().empty());
  for (const PassInfo* info : reg.all()) {
    INFO("pass " << info->name);
    std::string printed = roundtrip(info->name, reg);
    if (!info->options.empty()) {
      PassOptions defaults(&info->options);
      CHECK(printed == info->name + "{" + print_options(defaults) + "}");
    }
    std::string opts;
    for (const OptionSpec& s : info->options) opts += (opts.empty() ? "" : " ") + s.name + "=" + quote_option_value(other_value(s));
    if (opts.empty()) continue;
    std::string custom = roundtrip(info->name + "{" + opts + "}", reg);
    auto p = parse_pipeline(custom, reg);
    REQUIRE(p);
    for (const OptionSpec& s : info->options) {
      INFO("option " << s.name);
      if (s.type == OptionType::String || s.type == OptionType::File || s.type == OptionType::Files ||
          s.type == OptionType::Enum)
        CHECK(p->items[0].options.get_string(s.name) == other_value(s));
      CHECK(p->items[0].options.get_string(s.name) != s.default_value);
    }
  }
  // Every option type through the test registry too.
  const PassInfo* beta = test_registry().find("beta");
  std::string opts;
  for (const OptionSpec& s : beta->options) opts += (opts.empty() ? "" : " ") + s.name + "=" + quote_option_value(other_value(s));
  roundtrip("beta{" + opts + "}", test_registry());
}

TEST_CASE("pipeline: the named pipelines reference registered passes and round-trip", "[pipeline]") {
  for (const NamedPipeline& np : named_pipelines()) {
    INFO("named pipeline " << np.name);
    REQUIRE_FALSE(np.text.empty());  // every named pipeline runs passes
    roundtrip(np.text, PassRegistry::global());
  }
  std::string fuse = fuse_pipeline_text(17, {"x=1,3,224,224", "N=2"});
  std::string printed = roundtrip(fuse, PassRegistry::global());
  CHECK(printed.rfind("convert-opset{to=17},fix-shapes{shapes=x=1,3,224,224;N=2},repeat{", 0) == 0);
  CHECK(fuse_pipeline_text(0, {}) == "@fuse");  // never raises the opset by itself
}

TEST_CASE("pipeline: @name expands a named pipeline in place, every default filled in", "[pipeline]") {
  const PassRegistry& reg = PassRegistry::global();
  auto named = parse_pipeline(find_named_pipeline("fuse")->text, reg);
  REQUIRE(named);
  std::string fuse = print_pipeline(*named);
  CHECK(fuse.rfind("repeat{max-iterations=8}(eliminate-identity,", 0) == 0);
  CHECK(fuse.find("fold-constants{max-bytes=1048576 max-growth-bytes=0}") != std::string::npos);
  // Alone, after a pass, inside a group: always the same items, spliced in.
  CHECK(roundtrip("@fuse", reg) == fuse);
  CHECK(roundtrip("convert-opset{to=17}, @fuse", reg) == "convert-opset{to=17}," + fuse);
  CHECK(roundtrip("repeat{max-iterations=2}(@fuse,eliminate-dead-code)", reg) ==
        "repeat{max-iterations=2}(" + fuse + ",eliminate-dead-code)");
  auto p = parse_pipeline("convert-opset{to=17},@fuse", reg);
  REQUIRE(p);
  REQUIRE(p->items.size() == 2);
  CHECK(p->items[1].kind == PipelineItem::Kind::Repeat);
  CHECK(p->items[1].offset == 21);  // errors at run time point at the '@'
  CHECK(print_pipeline(*p).find('@') == std::string::npos);
}

TEST_CASE("pipeline: @name errors name the pipeline and list the named ones", "[pipeline]") {
  check_error("alpha,@nope", "unknown named pipeline '@nope' (named pipelines: @fuse, @quantize)", 7);
  check_error("alpha, @", "expected a named pipeline after '@' (named pipelines: @fuse, @quantize)", 8);
  check_error("@fuse{max-iterations=2}", "a named pipeline takes no options", 6);
  // A bare name is always a pass, even when a named pipeline has that name.
  check_error("alpha,fuse", "unknown pass 'fuse' ('fuse' is a named pipeline: write '@fuse')", 7);
  // A named pipeline is parsed against the registry in use.
  check_error("@fuse", "named pipeline '@fuse' does not parse: unknown pass 'eliminate-identity'", 1);
}

TEST_CASE("pipeline: file options are recorded by file name and SHA-256", "[pipeline]") {
  auto p = parse_pipeline("beta{table=/some/dir/calib.bin}", test_registry());
  REQUIRE(p);
  std::string hex(64, 'a');
  std::vector<std::string> asked;
  auto digest = [&](const std::string& path) -> Expected<std::string> {
    asked.push_back(path);
    return hex;
  };
  auto rec = record_pipeline(*p, digest);
  REQUIRE(rec);
  CHECK(asked == std::vector<std::string>{"/some/dir/calib.bin"});
  CHECK(rec->find("table=calib.bin@sha256:" + hex) != std::string::npos);
  CHECK(rec->find("/some/dir") == std::string::npos);
  // The recorded form parses and records to itself without hashing again.
  auto again = parse_pipeline(*rec, test_registry());
  REQUIRE(again);
  asked.clear();
  auto rec2 = record_pipeline(*again, digest);
  REQUIRE(rec2);
  CHECK(*rec2 == *rec);
  CHECK(asked.empty());
  CHECK(split_file_value("calib.bin@sha256:" + hex) == std::make_pair(std::string("calib.bin"), hex));
  CHECK(split_file_value("a@sha256:xyz").second.empty());
}

// ---- fixed points

namespace {

const char* kTinyModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] X) => (float[2] Y) {
  Y = Relu(X)
}
)";

// A pass that reports a change on its first `changes` runs, then none.
struct CountingPass {
  int runs = 0;
  int changes = 0;
};

PassRegistry& counting_registry(CountingPass& always, CountingPass& twice) {
  static PassRegistry* r = nullptr;
  static CountingPass* a = nullptr;
  static CountingPass* t = nullptr;
  a = &always;
  t = &twice;
  if (!r) {
    r = new PassRegistry();
    PassInfo p;
    p.name = "always-changes";
    p.summary = "reports a change every time";
    p.run_on_graph = [](Graph&, PassContext&) -> Expected<PassResult> {
      ++a->runs;
      PassResult res;
      res.changed = true;
      res.count("runs");
      return res;
    };
    r->add(std::move(p));
    PassInfo q;
    q.name = "changes-twice";
    q.summary = "reports a change on its first two runs";
    q.run_on_graph = [](Graph&, PassContext&) -> Expected<PassResult> {
      ++t->runs;
      PassResult res;
      res.changed = t->runs <= 2;
      return res;
    };
    r->add(std::move(q));
  }
  return *r;
}

}  // namespace

TEST_CASE("pipeline: a group stops at its fixed point", "[pipeline]") {
  CountingPass always, twice;
  auto& reg = counting_registry(always, twice);
  auto p = parse_pipeline("repeat{max-iterations=8}(changes-twice)", reg);
  REQUIRE(p);
  auto m = test::parse_or_fail(kTinyModel);
  auto run = run_pipeline(*p, *m);
  REQUIRE(run);
  CHECK(twice.runs == 3);  // two changing iterations, one that changes nothing
  REQUIRE(run->groups.size() == 1);
  CHECK(run->groups[0].iterations == 3);
  CHECK_FALSE(run->groups[0].limit_reached);
  CHECK(run->changed);
  REQUIRE(run->passes.size() == 3);
  CHECK(run->passes[2].group == "repeat#1 iteration 3");
}

TEST_CASE("pipeline: a group that keeps changing stops at its limit and says so", "[pipeline]") {
  CountingPass always, twice;
  auto& reg = counting_registry(always, twice);
  auto p = parse_pipeline("repeat{max-iterations=4}(always-changes)", reg);
  REQUIRE(p);
  auto m = test::parse_or_fail(kTinyModel);
  std::vector<GroupRun> reported;
  ManagerOptions mo;
  mo.on_group = [&](const GroupRun& g) { reported.push_back(g); };
  auto run = run_pipeline(*p, *m, mo);
  REQUIRE(run);
  CHECK(always.runs == 4);
  REQUIRE(run->groups.size() == 1);
  CHECK(run->groups[0].iterations == 4);
  CHECK(run->groups[0].limit_reached);
  REQUIRE(reported.size() == 1);
  CHECK(reported[0].limit_reached);
}

TEST_CASE("pipeline: nested groups iterate inside their parent's iterations", "[pipeline]") {
  CountingPass always, twice;
  auto& reg = counting_registry(always, twice);
  auto p = parse_pipeline("repeat{max-iterations=2}(repeat{max-iterations=3}(always-changes),changes-twice)", reg);
  REQUIRE(p);
  auto m = test::parse_or_fail(kTinyModel);
  auto run = run_pipeline(*p, *m);
  REQUIRE(run);
  // The outer group always changes (its inner group does): 2 iterations x 3 inner runs.
  CHECK(always.runs == 6);
  CHECK(twice.runs == 2);
  REQUIRE(run->groups.size() == 3);  // inner twice, then the outer
  CHECK(run->groups[0].name == "repeat#2");
  CHECK(run->groups[0].limit_reached);
  CHECK(run->groups[2].name == "repeat#1");
  CHECK(run->groups[2].iterations == 2);
  CHECK(run->groups[2].limit_reached);
  CHECK(run->passes[0].group == "repeat#1 iteration 1 > repeat#2 iteration 1");
}
