// The effopt binary, end to end: exit codes, error messages, no partial
// outputs, and the documented behaviour of each command. Every fixture is
// made here (ONNX text syntax, or onnx protobuf classes for what the text
// syntax cannot express); nothing comes from the corpus.
//
// Exit codes (docs/cli.md): 0 ok, 1 usage, 2 invalid model, 3 check failed,
// 4 I/O, 5 internal error. A failing run prints one "effopt: error:" line
// naming what is at fault and leaves no output and no temporary file.
#include <fcntl.h>
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "onnx/model_io.h"
#include "util/test_util.h"

extern char** environ;

using namespace effopt;
using effopt::test::read_file;
using effopt::test::run_effopt;
using effopt::test::RunResult;
using effopt::test::TempDir;
using effopt::test::write_file;
namespace fs = std::filesystem;

namespace {

// W is 4x2, B is 2: 10 parameters, 40 weight bytes.
const char* kModel = R"(
<ir_version: 8, opset_import: ["" : 13], producer_name: "cli-test">
agraph (float[N, 4] X) => (float[N, 2] Y)
<float[4, 2] W = {1, 2, 3, 4, 5, 6, 7, 8}, float[2] B = {0.5, -0.5}>
{
  H = MatMul(X, W)
  Y = Add(H, B)
}
)";

// ONNX text -> ModelProto, with no checks beyond the parser's: lets tests
// build models that effopt must refuse (cycles, duplicate names, ...).
onnx::ModelProto proto_from_text(const std::string& text) {
  onnx::ModelProto p;
  auto st = onnx::OnnxParser::Parse(p, text.c_str());
  if (!st.IsOK()) FAIL("cannot parse test model: " << st.ErrorMessage());
  return p;
}

void write_proto(const std::string& path, const google::protobuf::MessageLite& m) {
  write_file(path, m.SerializeAsString());
}

// The small model written by effopt itself (canonical encoding).
std::string write_model(const TempDir& d, const std::string& name = "model.onnx", const char* text = kModel) {
  auto m = test::parse_or_fail(text);
  std::string path = d.file(name);
  auto st = save_model(*m, path);
  if (!st) FAIL("cannot write test model: " << st.error().message);
  return path;
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().find(".effopt-tmp-") != std::string::npos) out.push_back(e.path().string());
  return out;
}

int count_error_lines(const std::string& err) {
  int n = 0;
  std::istringstream is(err);
  for (std::string line; std::getline(is, line);)
    if (line.rfind("effopt: error:", 0) == 0) ++n;
  return n;
}

// A failed run: its exit code, one "effopt: error:" line holding every
// key word, no crash.
void check_failure(const RunResult& r, int code, const std::vector<std::string>& words) {
  INFO("exit code " << r.exit_code << "\nstderr:\n" << r.err << "stdout (" << r.out.size() << " bytes)");
  CHECK(r.exit_code < 128);  // not killed by a signal
  CHECK(r.exit_code == code);
  CHECK(count_error_lines(r.err) == 1);
  for (auto& w : words) CHECK_THAT(r.err, Catch::Contains(w, Catch::CaseSensitive::No));
}

// Nothing written: neither the output nor a temporary beside it.
void check_nothing_written(const fs::path& out) {
  CHECK_FALSE(fs::exists(out));
  CHECK(temp_files(out.parent_path()).empty());
}

// Runs `convert model -o out` on a bad input and checks code, message
// (key words and the input's file name) and that nothing was written.
void check_bad_input(const TempDir& d, const std::string& model, int code, std::vector<std::string> words) {
  std::string out = d.file("out.onnx");
  auto r = run_effopt({"convert", model, "-o", out});
  words.push_back(fs::path(model).filename().string());
  check_failure(r, code, words);
  check_nothing_written(out);
  CHECK_FALSE(fs::exists(d.file("model.converted.onnx")));
}

std::unique_ptr<Model> load_or_fail(const std::string& path) {
  auto m = load_model(path);
  if (!m) FAIL("cannot load " << path << ": " << m.error().message);
  return std::move(*m);
}

std::vector<float> floats_of(const Model& m, const std::string& name) {
  Value* v = m.graph->find(name);
  REQUIRE(v);
  REQUIRE(v->initializer);
  auto s = v->initializer->as<float>();
  return {s.begin(), s.end()};
}

// A model with one 32x32 float initializer (4 KB: above the 1 KB external-data threshold).
std::string big_weight_model_text() {
  std::string vals;
  for (int i = 0; i < 1024; ++i) vals += (i ? ", " : "") + std::to_string(i % 97) + ".5";
  return R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 32] X) => (float[N, 32] Y)
<float[32, 32] W = {)" + vals + R"(}>
{
  Y = MatMul(X, W)
}
)";
}

onnx::TensorProto* initializer_named(onnx::ModelProto& p, const std::string& name) {
  for (auto& t : *p.mutable_graph()->mutable_initializer())
    if (t.name() == name) return &t;
  FAIL("no initializer " << name);
  return nullptr;
}

// Replaces initializer W of kModel by an external-data reference.
void make_external(onnx::ModelProto& p, const std::string& location, uint64_t offset, uint64_t length) {
  onnx::TensorProto* w = initializer_named(p, "W");
  w->clear_float_data();
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const std::string& k, const std::string& v) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", std::to_string(offset));
  add("length", std::to_string(length));
}

// Starts `argv` (argv[0] is the program) with stdin from /dev/null, stdout
// to `out_path` and stderr to `err_path`.
pid_t spawn_program(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = args;
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, all[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

// Runs effopt through /bin/sh with a file size limit: writes past `kb` KB
// fail with EFBIG, as they would on a full disk (SIGXFSZ is ignored).
RunResult run_effopt_with_size_limit(int kb, const std::vector<std::string>& args) {
  TempDir io;
  std::vector<std::string> argv = {"/bin/sh", "-c",
                                   "trap '' XFSZ; ulimit -f " + std::to_string(kb * 2) + " && exec \"$0\" \"$@\"",
                                   EFFOPT_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = spawn_program(argv, io.file("stdout"), io.file("stderr"));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(io.file("stdout"));
  r.err = read_file(io.file("stderr"));
  return r;
}

// Writes a model with `n` float initializers of `each` elements.
void write_large_model(const std::string& path, int n, uint64_t each);

}  // namespace

// ============================================================== bad inputs

TEST_CASE("an empty file is refused as not a model", "[cli][bad-input]") {
  TempDir d;
  write_file(d.file("empty.onnx"), "");
  check_bad_input(d, d.file("empty.onnx"), 2, {"empty"});
}

TEST_CASE("a truncated model is refused as malformed", "[cli][bad-input]") {
  TempDir d;
  std::string bytes = read_file(write_model(d, "full.onnx"));
  REQUIRE(bytes.size() > 20);
  write_file(d.file("half.onnx"), bytes.substr(0, bytes.size() / 2));
  check_bad_input(d, d.file("half.onnx"), 2, {"not a valid ONNX model", "truncated"});
}

TEST_CASE("random bytes are refused without a crash", "[cli][bad-input]") {
  TempDir d;
  std::mt19937 rng(20240611);
  for (int i = 0; i < 24; ++i) {
    size_t size = 1 + rng() % (i < 12 ? 64 : 8192);
    std::string bytes(size, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xFF);
    write_file(d.file("random.onnx"), bytes);
    INFO("random input #" << i << " (" << size << " bytes)");
    check_bad_input(d, d.file("random.onnx"), 2, {});
  }
}

TEST_CASE("a valid protobuf that is not a model is refused", "[cli][bad-input]") {
  TempDir d;
  SECTION("a serialized TensorProto") {
    onnx::TensorProto t;
    t.set_name("weights");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(3);
    for (int i = 0; i < 6; ++i) t.add_float_data(static_cast<float>(i));
    write_proto(d.file("tensor.pb"), t);
    check_bad_input(d, d.file("tensor.pb"), 2, {"ONNX model"});
  }
  SECTION("a serialized NodeProto") {
    onnx::NodeProto n;
    n.set_op_type("Relu");
    n.set_name("relu1");
    n.add_input("X");
    n.add_output("Y");
    write_proto(d.file("node.pb"), n);
    check_bad_input(d, d.file("node.pb"), 2, {"ONNX model"});
  }
}

TEST_CASE("a graph with a cycle is refused naming a node on it", "[cli][bad-input]") {
  TempDir d;
  write_proto(d.file("cycle.onnx"), proto_from_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
{
  A = Add(X, B)
  B = Relu(A)
  Y = Identity(B)
}
)"));
  check_bad_input(d, d.file("cycle.onnx"), 2, {"cycle", "Add"});
}

TEST_CASE("an undefined node input is refused naming it", "[cli][bad-input]") {
  TempDir d;
  write_proto(d.file("undefined.onnx"), proto_from_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
{
  Y = Add(X, Ghost)
}
)"));
  check_bad_input(d, d.file("undefined.onnx"), 2, {"'Ghost'", "not defined", "Add"});
}

TEST_CASE("duplicate value names are refused naming the value", "[cli][bad-input]") {
  TempDir d;
  SECTION("two nodes produce the same output") {
    write_proto(d.file("dup.onnx"), proto_from_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
{
  A = Relu(X)
  A = Sigmoid(X)
  Y = Identity(A)
}
)"));
    check_bad_input(d, d.file("dup.onnx"), 2, {"'A'", "more than once"});
  }
  SECTION("an initializer is also produced by a node") {
    write_proto(d.file("dup.onnx"), proto_from_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
<float[4] W = {1, 2, 3, 4}>
{
  W = Relu(X)
  Y = Add(X, W)
}
)"));
    check_bad_input(d, d.file("dup.onnx"), 2, {"'W'", "more than once"});
  }
  SECTION("a graph input is also produced by a node") {
    write_proto(d.file("dup.onnx"), proto_from_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[4] X) => (float[4] Y)
{
  X = Relu(X)
  Y = Identity(X)
}
)"));
    check_bad_input(d, d.file("dup.onnx"), 2, {"'X'", "more than once"});
  }
}

TEST_CASE("raw_data whose length disagrees with dims and type is refused", "[cli][bad-input]") {
  TempDir d;
  auto p = proto_from_text(kModel);
  onnx::TensorProto* w = initializer_named(p, "W");  // float[4, 2]: 32 bytes
  w->clear_float_data();
  w->set_raw_data(std::string(12, '\x01'));
  write_proto(d.file("rawdata.onnx"), p);
  check_bad_input(d, d.file("rawdata.onnx"), 2, {"'W'", "12 bytes", "32"});
}

TEST_CASE("dims whose product overflows 64 bits are refused", "[cli][bad-input]") {
  TempDir d;
  auto p = proto_from_text(kModel);
  onnx::TensorProto* w = initializer_named(p, "W");
  w->clear_float_data();
  w->clear_dims();
  // The checks run inside each section: Catch counts what follows a section as the test case's, and a
  // section that asserted nothing fails (-w NoAssertions).
  auto check = [&] {
    w->set_raw_data(std::string(32, '\0'));
    write_proto(d.file("overflow.onnx"), p);
    check_bad_input(d, d.file("overflow.onnx"), 2, {"'W'", "overflows 64 bits"});
  };
  SECTION("element count overflows") {
    w->add_dims(int64_t{1} << 40);
    w->add_dims(int64_t{1} << 40);
    check();
  }
  SECTION("element count fits but the byte size overflows") {
    w->add_dims(int64_t{1} << 31);
    w->add_dims(int64_t{1} << 31);  // 2^62 float32 elements = 2^64 bytes
    check();
  }
}

TEST_CASE("an external-data location that escapes the model folder is refused", "[cli][bad-input]") {
  TempDir d;
  fs::create_directory(d.path() / "m");
  // A real file outside the model folder: the refusal must not depend on it being absent.
  write_file(d.file("x"), std::string(64, '\x02'));
  std::string model = (d.path() / "m" / "model.onnx").string();
  std::string out = (d.path() / "m" / "out.onnx").string();
  auto p = proto_from_text(kModel);
  auto check = [&](std::vector<std::string> words) {  // inside each section (see above)
    write_proto(model, p);
    auto r = run_effopt({"convert", model, "-o", out});
    words.push_back("model.onnx");
    words.push_back("'W'");
    check_failure(r, 2, words);
    check_nothing_written(out);
  };
  SECTION("relative ../x") {
    make_external(p, "../x", 0, 32);
    check({"'../x'", "escapes the model's folder"});
  }
  SECTION("absolute /etc/passwd") {
    make_external(p, "/etc/passwd", 0, 32);
    check({"'/etc/passwd'", "absolute path"});
  }
  SECTION("a symbolic link leading out of the folder") {
    fs::create_symlink(d.path() / "x", d.path() / "m" / "link.bin");
    make_external(p, "link.bin", 0, 32);
    check({"'link.bin'", "outside the model's folder"});
  }
}

TEST_CASE("a missing external-data file is an I/O error naming it", "[cli][bad-input]") {
  TempDir d;
  auto p = proto_from_text(kModel);
  make_external(p, "weights.bin", 0, 32);
  write_proto(d.file("model.onnx"), p);
  check_bad_input(d, d.file("model.onnx"), 4, {"'weights.bin'", "not found", "'W'"});
}

TEST_CASE("external data shorter than the tensor is refused", "[cli][bad-input]") {
  TempDir d;
  auto p = proto_from_text(kModel);
  make_external(p, "weights.bin", 16, 32);
  write_file(d.file("weights.bin"), std::string(40, '\0'));  // [16, 48) runs past 40
  write_proto(d.file("model.onnx"), p);
  check_bad_input(d, d.file("model.onnx"), 2, {"'weights.bin'", "past the end", "'W'"});
}

TEST_CASE("an unwritable output location is an I/O error", "[cli][bad-output]") {
  TempDir d;
  std::string model = write_model(d);
  SECTION("a read-only folder") {
    fs::path ro = d.path() / "ro";
    fs::create_directory(ro);
    fs::permissions(ro, fs::perms(0555));
    // Root writes through 0555 (tests run as root in CI): probe, and use a
    // place nobody can create files in instead.
    std::string probe = (ro / "probe").string();
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    std::string out = (ro / "out.onnx").string();
    if (fd >= 0) {
      ::close(fd);
      ::unlink(probe.c_str());
      WARN("chmod 0555 does not stop this user (root?) from writing: using /proc instead");
      out = "/proc/effopt-cli-test-out.onnx";
    }
    auto r = run_effopt({"convert", model, "-o", out});
    check_failure(r, 4, {"cannot write", out});
    CHECK_FALSE(fs::exists(out));
    if (fd < 0) CHECK(temp_files(ro).empty());
  }
  SECTION("a folder that does not exist") {
    std::string out = d.file("no/such/folder/out.onnx");
    auto r = run_effopt({"convert", model, "-o", out});
    check_failure(r, 4, {"cannot write", out, "does not exist"});
    CHECK_FALSE(fs::exists(d.path() / "no"));
  }
  SECTION("the output path is a directory") {
    fs::create_directory(d.path() / "adir");
    auto r = run_effopt({"convert", model, "-o", d.file("adir"), "--force"});
    check_failure(r, 1, {"adir", "directory"});
    CHECK(fs::is_directory(d.path() / "adir"));
  }
  CHECK(temp_files(d.path()).empty());
}

TEST_CASE("output equal to the input is a usage error and leaves the input untouched", "[cli][bad-output]") {
  TempDir d;
  std::string model = write_model(d);
  std::string before = read_file(model);
  SECTION("same path") {
    auto r = run_effopt({"convert", model, "-o", model});
    check_failure(r, 1, {"model.onnx", "--in-place"});
  }
  SECTION("same file through another spelling") {
    auto r = run_effopt({"convert", model, "-o", (d.path() / "." / "model.onnx").string(), "--force"});
    check_failure(r, 1, {"model.onnx", "--in-place"});
  }
  SECTION("same file through a hard link") {
    fs::create_hard_link(model, d.file("alias.onnx"));
    auto r = run_effopt({"convert", model, "-o", d.file("alias.onnx"), "--force"});
    check_failure(r, 1, {"alias.onnx", "--in-place"});
  }
  CHECK(read_file(model) == before);
  CHECK(temp_files(d.path()).empty());
}

TEST_CASE("an existing output is replaced only with --force", "[cli][bad-output]") {
  TempDir d;
  std::string model = write_model(d);
  std::string out = d.file("out.onnx");
  write_file(out, "precious");
  auto r = run_effopt({"convert", model, "-o", out});
  check_failure(r, 1, {"out.onnx", "exists", "--force"});
  CHECK(read_file(out) == "precious");
  CHECK(temp_files(d.path()).empty());

  auto f = run_effopt({"convert", model, "-o", out, "--force"});
  INFO(f.err);
  CHECK(f.exit_code == 0);
  CHECK(read_file(out) == read_file(model));  // effopt's own encoding round-trips byte for byte
  CHECK(temp_files(d.path()).empty());
}

TEST_CASE("a nonexistent input is an I/O error naming it", "[cli][bad-input]") {
  TempDir d;
  check_bad_input(d, d.file("missing.onnx"), 4, {"cannot open", "no such file"});
}

TEST_CASE("an input that is a directory is an I/O error", "[cli][bad-input]") {
  TempDir d;
  fs::create_directory(d.path() / "dir.onnx");
  check_bad_input(d, d.file("dir.onnx"), 4, {"directory"});
}

TEST_CASE("an unknown option is a usage error naming it", "[cli][usage]") {
  TempDir d;
  std::string model = write_model(d);
  auto r = run_effopt({"convert", model, "--no-such-option", "-o", d.file("out.onnx")});
  check_failure(r, 1, {"--no-such-option"});
  check_nothing_written(d.file("out.onnx"));
}

TEST_CASE("a missing subcommand is a usage error", "[cli][usage]") {
  auto r = run_effopt({});
  check_failure(r, 1, {"subcommand"});
  auto u = run_effopt({"frobnicate"});
  check_failure(u, 1, {"frobnicate", "convert"});
  auto o = run_effopt({"--bogus"});
  check_failure(o, 1, {"--bogus"});
}

TEST_CASE("-o - with --report - is a usage error", "[cli][usage]") {
  TempDir d;
  std::string model = write_model(d);
  auto r = run_effopt({"convert", model, "-o", "-", "--report", "-"});
  check_failure(r, 1, {"--report", "standard output"});
  CHECK(r.out.empty());
  CHECK(temp_files(d.path()).empty());
}

TEST_CASE("an unwritable --report fails before any output is written", "[cli][bad-output]") {
  TempDir d;
  std::string model = write_model(d);
  std::string out = d.file("out.onnx");
  std::string report = d.file("no/such/folder/report.json");
  auto r = run_effopt({"convert", model, "-o", out, "--report", report});
  check_failure(r, 4, {"cannot write", report});
  check_nothing_written(out);
  CHECK_THAT(r.err, !Catch::Contains("wrote"));
}

TEST_CASE("--report naming the input or the output model is a usage error", "[cli][usage]") {
  TempDir d;
  std::string model = write_model(d);
  std::string before = read_file(model);
  std::string out = d.file("out.onnx");
  SECTION("the input") {
    auto r = run_effopt({"convert", model, "-o", out, "--report", model});
    check_failure(r, 1, {"--report", "input"});
  }
  SECTION("the input, with -o -") {
    auto r = run_effopt({"convert", model, "-o", "-", "--report", model});
    check_failure(r, 1, {"--report", "input"});
    CHECK(r.out.empty());
  }
  SECTION("the input, with --in-place") {
    auto r = run_effopt({"convert", model, "--in-place", "--report", model});
    check_failure(r, 1, {"--report", "input"});
  }
  SECTION("the output") {
    auto r = run_effopt({"convert", model, "-o", out, "--report", out});
    check_failure(r, 1, {"--report", "output"});
  }
  CHECK(read_file(model) == before);
  check_nothing_written(out);
}

TEST_CASE("a write that fails midway (disk full) is an I/O error and leaves nothing", "[cli][bad-output]") {
  TempDir d;
  std::string model = d.file("model.onnx");
  write_large_model(model, 1, 64 * 1024);  // 256 KB of weights
  std::string out = d.file("out.onnx");
  SECTION("model file") {
    auto r = run_effopt_with_size_limit(64, {"convert", model, "-o", out});
    check_failure(r, 4, {"cannot write", out});
  }
  SECTION("external-data file") {
    auto r = run_effopt_with_size_limit(64, {"convert", model, "-o", out, "--external-data"});
    check_failure(r, 4, {"cannot write", out + ".data"});
    CHECK_FALSE(fs::exists(out + ".data"));
  }
  check_nothing_written(out);
}

TEST_CASE("--opset outside 7..21 is a usage error", "[cli][usage]") {
  TempDir d;
  std::string model = write_model(d);
  for (std::string v : {"99", "3", "0", "-1", "22", "6"}) {
    INFO("--opset " << v);
    auto r = run_effopt({"convert", model, "--opset", v, "-o", d.file("out.onnx")});
    check_failure(r, 1, {"--opset"});
    check_nothing_written(d.file("out.onnx"));
  }
}

TEST_CASE("an impossible opset conversion is an invalid-model error naming the op", "[cli][bad-input]") {
  TempDir d;
  // Softmax changed meaning at opset 13: no downgrade to 12.
  auto p = proto_from_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 4] X) => (float[N, 4] Y)
{
  Y = Softmax(X)
}
)");
  p.mutable_graph()->mutable_node(0)->set_name("probs");
  std::string model = d.file("softmax.onnx");
  write_proto(model, p);
  std::string out = d.file("out.onnx");
  auto r = run_effopt({"convert", model, "--opset", "12", "-o", out});
  check_failure(r, 2, {"Softmax", "'probs'", "downgrade"});
  check_nothing_written(out);
}

// ============================================================= behaviour

TEST_CASE("--version prints the version", "[cli]") {
  auto r = run_effopt({"--version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(EFFOPT_VERSION));
  CHECK_THAT(r.out, Catch::StartsWith("effopt "));
}

TEST_CASE("--help lists the subcommands", "[cli]") {
  auto r = run_effopt({"--help"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("convert"));
  CHECK_THAT(r.out, Catch::Contains("inspect"));
  CHECK_THAT(r.out, Catch::Contains("--output"));
}

TEST_CASE("convert without -o writes model.converted.onnx beside the input and says so", "[cli][convert]") {
  TempDir d;
  std::string model = write_model(d);
  auto r = run_effopt({"convert", model});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string out = d.file("model.converted.onnx");
  CHECK(fs::exists(out));
  CHECK_THAT(r.err, Catch::Contains("wrote " + out));
  CHECK(r.out.empty());
  CHECK(read_file(out) == read_file(model));
  CHECK(temp_files(d.path()).empty());
}

TEST_CASE("convert reads a model from standard input", "[cli][convert]") {
  TempDir d;
  std::string model = write_model(d);
  std::string out = d.file("out.onnx");
  auto r = run_effopt({"convert", "-", "-o", out}, model);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(out) == read_file(model));
}

TEST_CASE("convert -o - writes the model to standard output", "[cli][convert]") {
  TempDir d;
  std::string model = write_model(d);
  auto r = run_effopt({"convert", model, "-o", "-"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == read_file(model));
  std::vector<std::byte> bytes(r.out.size());
  std::memcpy(bytes.data(), r.out.data(), bytes.size());
  auto back = load_model_from_bytes(std::move(bytes), "<stdout>");
  REQUIRE(back);
  CHECK(floats_of(**back, "W") == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(temp_files(d.path()).empty());
}

TEST_CASE("convert from standard input without -o is a usage error", "[cli][convert][usage]") {
  TempDir d;
  std::string model = write_model(d);
  auto r = run_effopt({"convert", "-"}, model);
  check_failure(r, 1, {"standard input", "-o"});
  CHECK(r.out.empty());
}

TEST_CASE("convert --in-place replaces the input", "[cli][convert]") {
  TempDir d;
  // Written by ONNX's own serializer (float_data): effopt's output differs.
  write_proto(d.file("model.onnx"), proto_from_text(kModel));
  std::string before = read_file(d.file("model.onnx"));
  auto r = run_effopt({"convert", d.file("model.onnx"), "--in-place", "--opset", "14"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(d.file("model.onnx")) != before);
  auto m = load_or_fail(d.file("model.onnx"));
  CHECK(m->opset() == 14);
  CHECK(floats_of(*m, "W") == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK_FALSE(fs::exists(d.file("model.converted.onnx")));
  CHECK(temp_files(d.path()).empty());
  SECTION("--in-place with -o is a usage error") {
    std::string now = read_file(d.file("model.onnx"));
    auto u = run_effopt({"convert", d.file("model.onnx"), "--in-place", "-o", d.file("x.onnx")});
    check_failure(u, 1, {"--in-place"});
    CHECK(read_file(d.file("model.onnx")) == now);
    CHECK_FALSE(fs::exists(d.file("x.onnx")));
  }
}

TEST_CASE("inspect prints ops and parameter counts", "[cli][inspect]") {
  TempDir d;
  std::string model = write_model(d);
  auto r = run_effopt({"inspect", model});
  INFO(r.err << r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("MatMul  1"));
  CHECK_THAT(r.out, Catch::Contains("Add  1"));
  CHECK_THAT(r.out, Catch::Contains("parameters      10 in 2 stored tensors"));
  CHECK_THAT(r.out, Catch::Contains("weight bytes    40"));
  CHECK_THAT(r.out, Catch::Contains("ai.onnx 13"));
}

TEST_CASE("inspect --json prints the documented keys with the model's values", "[cli][inspect]") {
  TempDir d;
  std::string model = write_model(d);
  auto r = run_effopt({"inspect", model, "--json"});
  INFO(r.err << r.out);
  REQUIRE(r.exit_code == 0);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
  for (const char* k : {"ir_version", "opset_imports", "producer", "inputs", "outputs", "initializer_inputs", "nodes",
                        "subgraphs", "functions", "op_counts", "parameters", "stored_tensors", "weight_bytes",
                        "weight_bytes_by_type", "onnxruntime_unsupported_ops"})
    CHECK(j.contains(k));
  // Values computed from the test model: W float[4,2] and B float[2].
  auto m = test::parse_or_fail(kModel);
  uint64_t params = 0, bytes = 0;
  for (Value* v : m->graph->initializers()) {
    params += *v->initializer->element_count();
    bytes += v->initializer->byte_size();
  }
  CHECK(j["parameters"] == params);
  CHECK(j["parameters"] == 10);
  CHECK(j["stored_tensors"] == 2);
  CHECK(j["weight_bytes"] == bytes);
  CHECK(j["weight_bytes_by_type"]["float32"] == bytes);
  CHECK(j["nodes"] == 2);
  CHECK(j["op_counts"]["MatMul"] == 1);
  CHECK(j["op_counts"]["Add"] == 1);
  CHECK(j["ir_version"] == 8);
  CHECK(j["producer"] == "cli-test");
  REQUIRE(j["opset_imports"].size() == 1);
  CHECK(j["opset_imports"][0]["domain"] == "ai.onnx");
  CHECK(j["opset_imports"][0]["version"] == 13);
  REQUIRE(j["inputs"].size() == 1);
  CHECK(j["inputs"][0]["name"] == "X");
  REQUIRE(j["outputs"].size() == 1);
  CHECK(j["outputs"][0]["name"] == "Y");
  CHECK(j["onnxruntime_unsupported_ops"].empty());
}

TEST_CASE("inspect counts Constant nodes' tensors as parameters", "[cli][inspect]") {
  TempDir d;
  std::string model = write_model(d, "model.onnx", R"(
<ir_version: 8, opset_import: ["" : 13]>
agraph (float[N, 3] X) => (float[N, 3] Y)
<float[3] B = {1, 2, 3}>
{
  C = Constant<value = float[3] {4, 5, 6}>()
  H = Add(X, C)
  Y = Mul(H, B)
}
)");
  auto r = run_effopt({"inspect", model, "--json"});
  INFO(r.err << r.out);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["parameters"] == 6);
  CHECK(j["stored_tensors"] == 2);
  CHECK(j["weight_bytes"] == 24);
  CHECK(j["op_counts"]["Constant"] == 1);
  CHECK(j["nodes"] == 3);
}

TEST_CASE("inspect on a bad model fails like convert", "[cli][inspect][bad-input]") {
  TempDir d;
  write_file(d.file("junk.onnx"), "this is not a model");
  auto r = run_effopt({"inspect", d.file("junk.onnx"), "--json"});
  check_failure(r, 2, {"junk.onnx"});
  CHECK(r.out.empty());
}

TEST_CASE("--quiet silences info logs", "[cli]") {
  TempDir d;
  std::string model = write_model(d);
  auto loud = run_effopt({"convert", model, "-o", d.file("a.onnx")});
  REQUIRE(loud.exit_code == 0);
  CHECK_THAT(loud.err, Catch::Contains("info:"));
  auto quiet = run_effopt({"--quiet", "convert", model, "-o", d.file("b.onnx")});
  REQUIRE(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
  auto quiet2 = run_effopt({"convert", model, "-q", "-o", d.file("c.onnx")});
  REQUIRE(quiet2.exit_code == 0);
  CHECK(quiet2.err.empty());
  CHECK(fs::exists(d.file("b.onnx")));
  CHECK(fs::exists(d.file("c.onnx")));
}

TEST_CASE("--external-data writes <out>.data and the result loads back", "[cli][convert]") {
  TempDir d;
  std::string text = big_weight_model_text();
  std::string model = write_model(d, "model.onnx", text.c_str());
  std::string out = d.file("out.onnx");
  auto r = run_effopt({"convert", model, "-o", out, "--external-data"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::exists(out + ".data"));
  CHECK(fs::file_size(out + ".data") >= 32 * 32 * 4);
  CHECK(fs::file_size(out) < 32 * 32 * 4);
  CHECK_THAT(r.err, Catch::Contains("out.onnx.data"));
  auto back = load_or_fail(out);
  Value* w = back->graph->find("W");
  REQUIRE(w);
  REQUIRE(w->initializer->external);
  CHECK(w->initializer->external->location == "out.onnx.data");
  auto orig = load_or_fail(model);
  CHECK(floats_of(*back, "W") == floats_of(*orig, "W"));
  CHECK(temp_files(d.path()).empty());

  SECTION("converting it again keeps external data and identical bytes") {
    std::string out2 = d.file("out2.onnx");
    auto r2 = run_effopt({"convert", out, "-o", out2});
    INFO(r2.err);
    REQUIRE(r2.exit_code == 0);
    REQUIRE(fs::exists(out2 + ".data"));
    CHECK(read_file(out2 + ".data") == read_file(out + ".data"));
    CHECK(floats_of(*load_or_fail(out2), "W") == floats_of(*orig, "W"));
  }
  SECTION("external data cannot go to standard output") {
    auto r3 = run_effopt({"convert", model, "-o", "-", "--external-data"});
    check_failure(r3, 1, {"standard output"});
    CHECK(r3.out.empty());
  }
}

TEST_CASE("an existing OUT.data is replaced only with --force, like any output", "[cli][bad-output][convert]") {
  TempDir d;
  std::string text = big_weight_model_text();
  std::string model = write_model(d, "model.onnx", text.c_str());
  std::string out = d.file("out.onnx"), data = out + ".data";
  write_file(data, "precious");

  SECTION("--external-data: refused before anything is written") {
    auto r = run_effopt({"convert", model, "-o", out, "--external-data"});
    check_failure(r, 1, {"out.onnx.data", "exists", "--force"});
    CHECK(read_file(data) == "precious");
    CHECK_FALSE(fs::exists(out));
    CHECK(temp_files(d.path()).empty());
    // fuse and run, with a report: nothing written either.
    auto f = run_effopt({"fuse", model, "-o", out, "--external-data", "--report", d.file("r.json")});
    check_failure(f, 1, {"out.onnx.data", "exists"});
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(d.file("r.json")));
    CHECK(read_file(data) == "precious");
  }
  SECTION("external data chosen by the model (its input used it): refused too") {
    std::string ext = d.file("ext.onnx");
    REQUIRE(run_effopt({"convert", model, "-o", ext, "--external-data"}).exit_code == 0);
    auto r = run_effopt({"convert", ext, "-o", out});
    check_failure(r, 1, {"out.onnx.data", "exists", "--force"});
    CHECK(read_file(data) == "precious");
    CHECK_FALSE(fs::exists(out));
    CHECK(temp_files(d.path()).empty());
  }
  SECTION("--force replaces both files; the model reads the new data") {
    write_file(out, "old model");
    auto r = run_effopt({"convert", model, "-o", out, "--external-data", "--force"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(data) != "precious");
    CHECK(fs::file_size(data) >= 32 * 32 * 4);
    auto back = load_or_fail(out);
    CHECK(floats_of(*back, "W") == floats_of(*load_or_fail(model), "W"));
    CHECK(temp_files(d.path()).empty());
  }
  SECTION("--in-place rewrites the model's own data file") {
    std::string ext = d.file("ext.onnx");
    REQUIRE(run_effopt({"convert", model, "-o", ext, "--external-data"}).exit_code == 0);
    auto r = run_effopt({"convert", ext, "--in-place"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(floats_of(*load_or_fail(ext), "W") == floats_of(*load_or_fail(model), "W"));
    CHECK(temp_files(d.path()).empty());
  }
}

TEST_CASE("output does not depend on --threads and conversion is idempotent", "[cli][convert]") {
  TempDir d;
  write_proto(d.file("model.onnx"), proto_from_text(R"(
<ir_version: 7, opset_import: ["" : 11]>
agraph (float[N, 4] X) => (float[N, 4] Y, float[N] Z)
<float[4, 4] W = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}>
{
  H = MatMul(X, W)
  S = Softmax<axis = 1>(H)
  Y = Relu(S)
  Z = ReduceSum<axes = [1], keepdims = 0>(Y)
}
)"));
  for (const char* opset : {"", "13"}) {
    INFO("--opset " << opset);
    std::vector<std::string> extra;
    if (*opset) extra = {"--opset", opset};
    auto args = [&](const std::string& in, const std::string& out, const char* threads) {
      std::vector<std::string> a = {"convert", in, "-o", out, "--threads", threads, "--force"};
      a.insert(a.end(), extra.begin(), extra.end());
      return a;
    };
    auto r1 = run_effopt(args(d.file("model.onnx"), d.file("t1.onnx"), "1"));
    auto r2 = run_effopt(args(d.file("model.onnx"), d.file("t2.onnx"), "2"));
    INFO(r1.err << r2.err);
    REQUIRE(r1.exit_code == 0);
    REQUIRE(r2.exit_code == 0);
    std::string t1 = read_file(d.file("t1.onnx"));
    CHECK(t1 == read_file(d.file("t2.onnx")));
    // Converting the output again changes nothing.
    auto again = run_effopt({"convert", d.file("t1.onnx"), "-o", d.file("again.onnx"), "--force"});
    REQUIRE(again.exit_code == 0);
    CHECK(read_file(d.file("again.onnx")) == t1);
    if (*opset) {
      auto again13 = run_effopt(args(d.file("t1.onnx"), d.file("again13.onnx"), "2"));
      REQUIRE(again13.exit_code == 0);
      CHECK(read_file(d.file("again13.onnx")) == t1);
    }
  }
}

TEST_CASE("an output that is a FIFO is written to, not replaced", "[cli][convert]") {
  TempDir d;
  std::string model = write_model(d);  // small: fits in the pipe's buffer
  std::string pipe = d.file("pipe.onnx");
  REQUIRE(::mkfifo(pipe.c_str(), 0644) == 0);
  // A reader first, so effopt's open for writing does not block.
  int rd = ::open(pipe.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(rd >= 0);
  auto r = run_effopt({"convert", model, "-o", pipe});
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(rd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(rd);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  struct stat st{};
  REQUIRE(::stat(pipe.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));  // still the pipe, not a regular file renamed over it
  CHECK(got == read_file(model));
  CHECK(temp_files(d.path()).empty());
}

TEST_CASE("--report writes a JSON report of the run", "[cli][convert]") {
  TempDir d;
  std::string model = write_model(d);
  std::string out = d.file("out.onnx");
  auto r = run_effopt({"convert", model, "-o", out, "--opset", "14", "--report", d.file("report.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(read_file(d.file("report.json"))));
  CHECK(j["schema"] == "effopt.report");
  CHECK(j["command"] == "convert");
  CHECK(j["input"]["path"] == model);
  CHECK(j["output"]["path"] == out);
  CHECK(j["output"]["bytes"] == fs::file_size(out));
  CHECK(j["changes"]["opset"]["from"] == 13);
  CHECK(j["changes"]["opset"]["to"] == 14);
  SECTION("to standard output") {
    auto s = run_effopt({"convert", model, "-o", d.file("out2.onnx"), "--report", "-"});
    REQUIRE(s.exit_code == 0);
    REQUIRE_NOTHROW(j = nlohmann::json::parse(s.out));
    CHECK(j["output"]["path"] == d.file("out2.onnx"));
  }
}

// ========================================================== interruption

namespace {

// Writes a model with `n` float initializers of `each` elements.
void write_large_model(const std::string& path, int n, uint64_t each) {
  std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\nagraph (float[1] X) => (float[1] Y)\n<";
  for (int i = 0; i < n; ++i) text += (i ? ", " : "") + std::string("float[1] W") + std::to_string(i) + " = {0}";
  text += ">\n{\n  A0 = Identity(X)\n";
  for (int i = 0; i < n; ++i)
    text += "  A" + std::to_string(i + 1) + " = Add(A" + std::to_string(i) + ", W" + std::to_string(i) + ")\n";
  text += "  Y = Identity(A" + std::to_string(n) + ")\n}\n";
  auto m = test::parse_or_fail(text);
  for (int i = 0; i < n; ++i) {
    Value* v = m->graph->find("W" + std::to_string(i));
    REQUIRE(v);
    v->initializer->dims = {static_cast<int64_t>(each)};
    std::vector<std::byte> bytes(each * sizeof(float));
    for (size_t k = 0; k < bytes.size(); k += 4096) bytes[k] = std::byte(i + 1);
    v->initializer->set_bytes(std::move(bytes));
  }
  ExportOptions eo;
  eo.external = ExternalData::Never;
  auto st = save_model(*m, path, eo);
  if (!st) FAIL("cannot write the large model: " << st.error().message);
}

}  // namespace

TEST_CASE("SIGTERM while writing leaves neither output nor temporary file", "[cli][signal]") {
  TempDir d;
  std::string model = d.file("large.onnx");
  std::string out = d.file("out.onnx");
  bool interrupted = false;
  // 4 x 48 MB, then 4 x 96 MB if the first run finished before the signal.
  for (uint64_t each : {uint64_t{12} << 20, uint64_t{24} << 20}) {
    write_large_model(model, 4, each);
    for (int attempt = 0; attempt < 3 && !interrupted; ++attempt) {
      fs::remove(out);
      for (auto& t : temp_files(d.path())) fs::remove(t);
      pid_t pid = spawn_program({EFFOPT_BIN, "convert", model, "-o", out, "--force"}, "/dev/null", d.file("stderr"));
      // Poll for the temporary output, then interrupt.
      bool seen = false;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      int status = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        if (!temp_files(d.path()).empty()) {
          seen = true;
          ::kill(pid, SIGTERM);
          break;
        }
        if (::waitpid(pid, &status, WNOHANG) == pid) { pid = -1; break; }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (pid > 0) {
        if (!seen) ::kill(pid, SIGKILL);
        REQUIRE(::waitpid(pid, &status, 0) == pid);
      }
      INFO("stderr: " << read_file(d.file("stderr")));
      if (seen && WIFSIGNALED(status) && fs::exists(out) && temp_files(d.path()).empty()) {
        // The signal landed between the rename and exit: the output is complete. Try again.
        CHECK(fs::file_size(out) == fs::file_size(model));
      } else if (seen && WIFSIGNALED(status)) {
        CHECK(WTERMSIG(status) == SIGTERM);  // the handler re-raises: the shell sees a signal death
        interrupted = true;
      } else {
        REQUIRE_FALSE(WIFSIGNALED(status));
        REQUIRE(WEXITSTATUS(status) == 0);  // finished before the signal: try again / larger
      }
    }
    if (interrupted) break;
  }
  if (!interrupted) {
    test::skip(test::Needs::HostFeature, "effopt finished writing before SIGTERM arrived every time (a fast host)");
    return;
  }
  CHECK(temp_files(d.path()).empty());
  CHECK_FALSE(fs::exists(out));
}
