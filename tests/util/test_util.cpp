#include "util/test_util.h"

#include <fcntl.h>
#include <locale.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "support/ort_harness.h"

extern char** environ;

namespace effopt::test {

namespace fs = std::filesystem;

namespace {
// $EFFOPT_CORPUS when set, else the build's default (../shared/corpus from the project root).
fs::path corpus_location() {
  if (const char* e = std::getenv("EFFOPT_CORPUS"); e && *e) return e;
  return EFFOPT_CORPUS_DIR;
}
}  // namespace

std::optional<fs::path> corpus_dir() {
  fs::path p = corpus_location();
  if (fs::is_directory(p / "models")) return fs::canonical(p);
  return std::nullopt;
}

std::string corpus_missing_message() {
  return "model corpus not found at " + corpus_location().string() +
         " (no models/ folder there; set EFFOPT_CORPUS to its location, ../shared/corpus from the project root)";
}

std::optional<fs::path> corpus_or_skip() {
  auto c = corpus_dir();
  if (!c) skip(Needs::Corpus, corpus_missing_message());
  return c;
}

std::optional<fs::path> corpus_case_or_skip(const std::string& rel) {
  auto c = corpus_or_skip();
  if (!c) return std::nullopt;
  if (!fs::exists(*c / rel)) {
    skip(Needs::Corpus, "corpus case " + rel + " not found in " + c->string());
    return std::nullopt;
  }
  return *c / rel;
}

const std::map<std::string, std::string>& ort_cannot_run() {
  static const std::map<std::string, std::string> m = {
      {"test_gradient_of_add", "ai.onnx.preview.training Gradient is a training op ONNX Runtime's CPU build lacks"},
      {"test_gradient_of_add_and_mul",
       "ai.onnx.preview.training Gradient is a training op ONNX Runtime's CPU build lacks"},
  };
  return m;
}

void skip_if_no_corpus_case(size_t checked, const std::string& where) {
  if (checked == 0) skip(Needs::Corpus, "no corpus case found or checked under " + where);
}

OrtHarness* ort_or_skip() {
  OrtHarness* ort = OrtHarness::get();
  if (!ort) skip(Needs::Ort, OrtHarness::unavailable_reason());
  return ort;
}

bool ort_host_can_run_case(const std::string& case_name) {
  if (case_name.rfind("test_strnorm", 0) != 0) return true;
  static const bool has_locale = [] {
    locale_t l = ::newlocale(LC_ALL_MASK, "en_US.UTF-8", locale_t{});
    if (l) ::freelocale(l);
    return l != locale_t{};
  }();
  if (!has_locale)
    skip(Needs::HostFeature, "no en_US.UTF-8 locale, which ONNX Runtime's StringNormalizer needs (locale-gen en_US.UTF-8)");
  return has_locale;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "effopt-test-XXXXXX").string();
  char* p = ::mkdtemp(tmpl.data());
  REQUIRE(p != nullptr);
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}


RunResult run_effopt(const std::vector<std::string>& args, const std::string& stdin_file) {
  return run_program(EFFOPT_BIN, args, stdin_file);
}

RunResult run_program(const std::string& binary, const std::vector<std::string>& args, const std::string& stdin_file) {
  TempDir io;
  std::string out_path = io.file("stdout"), err_path = io.file("stderr");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  RunResult r;
  int rc = posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

std::string onnx_check(const Model& m) {
  if (m.opset("") > 17 || m.ir_version > 8) return "";
  try {
    onnx::ModelProto p = to_proto_inline(m);
    onnx::checker::check_model(p);
    onnx::ShapeInferenceOptions opts{true, 1, false};
    onnx::shape_inference::InferShapes(p, onnx::OpSchemaRegistry::Instance(), opts);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::unique_ptr<Model> parse_or_fail(const std::string& text) {
  auto m = parse_model_text(text);
  if (!m) FAIL("cannot parse test model: " << m.error().message);
  return std::move(*m);
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

exec::TensorValue value_from_proto(const onnx::TensorProto& p) {
  ProtoImportContext ctx;
  auto t = tensor_from_proto(p, ctx);
  if (!t) FAIL("cannot import tensor '" << p.name() << "': " << t.error().message);
  auto v = exec::TensorValue::from_tensor(**t);
  if (!v) FAIL("cannot make a value of tensor '" << p.name() << "': " << v.error().message);
  if (v->dtype() == DataType::String) return *v;  // strings are held by value already
  // A copy: the imported tensor's bytes may be a view of the proto, which the caller may free.
  return exec::TensorValue::from_bytes(v->dtype(), v->dims(), {v->raw(), v->byte_size()});
}

double rel_l2(const onnx::TensorProto& got, const onnx::TensorProto& want) {
  auto a = tensor_values(got), b = tensor_values(want);
  if (a.size() != b.size()) return INFINITY;
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < a.size(); ++i) d2 += (a[i] - b[i]) * (a[i] - b[i]), r2 += b[i] * b[i];
  return r2 > 0 ? std::sqrt(d2 / r2) : std::sqrt(d2);
}

int64_t top1_correct(const onnx::TensorProto& logits, const onnx::TensorProto& labels) {
  auto v = tensor_values(logits), l = tensor_values(labels);
  REQUIRE(logits.dims_size() == 2);
  int64_t rows = logits.dims(0), classes = logits.dims(1);
  REQUIRE(static_cast<int64_t>(l.size()) == rows);
  int64_t right = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (v[static_cast<size_t>(r * classes + c)] > v[static_cast<size_t>(r * classes + best)]) best = c;
    right += best == static_cast<int64_t>(l[static_cast<size_t>(r)]);
  }
  return right;
}

const pass::PassInfo& pass_info(const std::string& name) {
  const pass::PassInfo* info = pass::PassRegistry::global().find(name);
  INFO(name);
  REQUIRE(info);
  return *info;
}

pass::PassOptions pass_options(const std::string& name, const std::string& text) {
  pass::PassOptions po(&pass_info(name).options);
  std::istringstream in(text);
  std::string kv;
  while (in >> kv) {
    size_t eq = kv.find('=');
    INFO(kv);
    REQUIRE(eq != std::string::npos);
    auto st = po.set(kv.substr(0, eq), kv.substr(eq + 1));
    REQUIRE(st);
  }
  return po;
}

}  // namespace effopt::test
