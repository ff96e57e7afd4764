// See ort_harness.h. The wire protocol with the node child is documented in tests/ort/ort_runner.js.
#include "support/ort_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

extern char** environ;

#ifndef EFFOPT_ORT_RUNNER_JS
#error "EFFOPT_ORT_RUNNER_JS must be defined (path to tests/ort/ort_runner.js); see CMakeLists.fragment.cmake"
#endif

// raw_data is little-endian by definition; the helpers below copy host memory straight into it.
static_assert(std::endian::native == std::endian::little, "tensor helpers assume a little-endian host");

namespace effopt::test {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

// $EFFOPT_ORT_DIR is the one place the tests look for ONNX Runtime: no fallback, so a run never picks up
// whichever copy happens to sit in a home folder.
std::string ort_dir_from_env() { return env_or("EFFOPT_ORT_DIR", ""); }

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f.flush());
}

bool read_file(const fs::path& path, std::string* bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *bytes = std::move(ss).str();
  return !f.bad();
}

// A private directory for one request's tensors, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = env_or("TMPDIR", "/tmp") + "/effopt-ort-XXXXXX";
    if (mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Moves fd above stdin/stdout/stderr (CLOEXEC kept): when the test runs with fd 0 closed, a pipe end could
// otherwise land on 0 and dup2(fd, 0) in the child would be a no-op that leaves close-on-exec set.
int move_above_stdio(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return moved;
}

OrtRun fail(std::string message) {
  OrtRun r;
  r.error = std::move(message);
  return r;
}

}  // namespace

// ---- The node child --------------------------------------------------------------------------------------

struct OrtHarness::Impl {
  std::string node = env_or("EFFOPT_NODE", "node");
  std::string script = env_or("EFFOPT_ORT_RUNNER", EFFOPT_ORT_RUNNER_JS);
  std::string ort_dir = ort_dir_from_env();
  pid_t pid = -1;
  int to_child = -1;    // child's stdin
  int from_child = -1;  // child's stdout
  std::string rbuf;     // bytes read past the last returned line
  std::string version;
  uint64_t next_id = 1;
  std::mutex mu;

  ~Impl() { stop(); }

  // Starts the child and waits for its ready line. Returns "" or why it is unavailable.
  std::string start() {
    if (!fs::exists(script)) return "ORT runner script not found: " + script + " (set EFFOPT_ORT_RUNNER)";
    if (ort_dir.empty()) {
      return "EFFOPT_ORT_DIR is not set (tools/run-tests.sh sets it to $EFFOPT_CACHE/ort, default "
             "~/.cache/effopt/ort, where tools/install-deps.sh installs onnxruntime-node)";
    }
    if (!fs::exists(fs::path(ort_dir) / "node_modules" / "onnxruntime-node" / "package.json")) {
      return "onnxruntime-node not found in EFFOPT_ORT_DIR=" + ort_dir + "; run tools/install-deps.sh or `npm install --prefix " +
             ort_dir + " --ignore-scripts onnxruntime-node@1.30.0`";
    }
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return std::string("pipe: ") + std::strerror(errno);
    }
    for (int* fd : {&in[0], &in[1], &out[0], &out[1]}) *fd = move_above_stdio(*fd);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    // The child must not inherit a signal mask from whichever thread started it.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    std::string dir_flag = "--ort-dir";
    std::vector<char*> argv = {node.data(), script.data(), dir_flag.data(), ort_dir.data(), nullptr};
    int rc = posix_spawnp(&pid, node.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
      close(in[1]);
      close(out[0]);
      pid = -1;
      return "cannot start `" + node + "`: " + std::strerror(rc) + " (install node >= 18 or set EFFOPT_NODE)";
    }
    to_child = in[1];
    from_child = out[0];
    rbuf.clear();

    json hello;
    while (!hello.is_object() || !hello.contains("ready")) {
      std::string line, err;
      if (!read_line(&line, 60, &err)) {
        return "ort_runner.js did not start: " + err + " (" + stop(std::chrono::milliseconds(1000)) + ")";
      }
      hello = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!hello.is_object() || !hello.contains("ready")) report_stray(line);
    }
    if (!hello["ready"].is_boolean() || !hello["ready"].get<bool>()) {
      std::string why = hello.value("error", hello.dump());
      stop();
      return why;
    }
    version = hello.value("ort_version", "unknown");
    return {};
  }

  // Closes the child's stdin (its cue to exit), waits up to `grace` for it, then SIGKILLs it. Returns how it
  // ended. After this the next request starts a new child.
  std::string stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000)) {
    if (to_child >= 0) close(to_child);
    to_child = -1;
    std::string how = "not running";
    if (pid > 0) {
      int status = 0;
      const auto deadline = std::chrono::steady_clock::now() + grace;
      pid_t done;
      while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
        usleep(5000);
      }
      if (done == 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        how = "killed";
      } else {
        how = done > 0 ? describe_status(status) : "already reaped";
      }
      pid = -1;
    }
    if (from_child >= 0) close(from_child);
    from_child = -1;
    return how;
  }

  static void report_stray(const std::string& line) {
    std::cerr << "[ort_harness] ignoring stray runner output: " << line << "\n";
  }

  // A write to a dead child must not raise SIGPIPE in the test process: block it for this thread and
  // swallow one that this write caused.
  bool write_all(const std::string& data, std::string* err) {
    sigset_t pipe_set, old_mask, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);

    bool ok = true;
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = write(to_child, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        *err = std::string("write to ort_runner: ") + std::strerror(errno);
        if (errno == EPIPE && !was_pending) {
          timespec zero{};
          sigtimedwait(&pipe_set, nullptr, &zero);
        }
        ok = false;
        break;
      }
      done += static_cast<size_t>(n);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return ok;
  }

  // Next line from the child; false on timeout (*timed_out set), EOF or error, with *err saying which.
  bool read_line(std::string* line, double timeout_s, std::string* err, bool* timed_out = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      if (auto nl = rbuf.find('\n'); nl != std::string::npos) {
        *line = rbuf.substr(0, nl);
        rbuf.erase(0, nl + 1);
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        if (timed_out) *timed_out = true;
        *err = "no answer within " + std::to_string(static_cast<int>(timeout_s)) + " s";
        return false;
      }
      pollfd p{from_child, POLLIN, 0};
      int pr = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));  // int-sized waits
      if (pr < 0 && errno != EINTR) {
        *err = std::string("poll: ") + std::strerror(errno);
        return false;
      }
      if (pr <= 0) continue;
      char buf[65536];
      ssize_t n = read(from_child, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *err = n == 0 ? std::string("ort_runner closed its output") : std::string("read: ") + std::strerror(errno);
        return false;
      }
      rbuf.append(buf, static_cast<size_t>(n));
    }
  }

  OrtRun request(const std::string& model, const std::vector<std::pair<std::string, std::string>>& inputs,
                 const OrtOptions& opts, const fs::path& out_dir) {
    std::lock_guard lock(mu);
    if (pid <= 0) {  // a previous request crashed or timed out the child: start a fresh one
      if (std::string why = start(); !why.empty()) return fail("ort_runner restart failed: " + why);
    }
    const uint64_t id = next_id++;
    std::string line;
    try {
      json session = {{"intra_op_num_threads", opts.intra_threads},
                      {"inter_op_num_threads", 1},
                      {"graph_optimization_level", opts.opt_level},
                      {"execution_mode", "sequential"}};
      if (!opts.optimized_model_path.empty()) session["optimized_model_path"] = opts.optimized_model_path;
      json ins = json::array();
      for (const auto& [name, path] : inputs) ins.push_back({{"name", name}, {"path", path}});
      json req = {{"id", id},
                  {"model", model},
                  {"inputs", ins},
                  {"output_dir", out_dir.string()},
                  {"session", session},
                  {"warmup", opts.warmup},
                  {"repeat", opts.repeat}};
      line = req.dump() + "\n";
    } catch (const std::exception& e) {  // e.g. a path that is not valid UTF-8
      return fail(std::string("cannot encode request: ") + e.what());
    }

    std::string err;
    if (!write_all(line, &err)) return fail(err + " (runner " + stop(std::chrono::milliseconds(1000)) + ")");

    for (;;) {
      std::string reply;
      bool timed_out = false;
      if (!read_line(&reply, opts.timeout_s, &err, &timed_out)) {
        // After EOF give the child a moment to exit by itself, so its real exit status is reported.
        std::string how = stop(std::chrono::milliseconds(timed_out ? 0 : 1000));
        return fail("ORT run of " + model + " failed: " + err + " (runner " + how + ")");
      }
      json resp = json::parse(reply, nullptr, /*allow_exceptions=*/false);
      // Native code in ORT could print to stdout: skip anything that is not our answer.
      if (!resp.is_object() || !resp.contains("id") || resp["id"] != id) {
        report_stray(reply);
        continue;
      }
      return parse_response(resp);
    }
  }

  static OrtRun parse_response(const json& resp) {
    OrtRun r;
    try {
      if (!resp.value("ok", false)) return fail(resp.value("error", std::string("unknown ORT error")));
      r.result.load_ms = resp.at("load_ms").get<double>();
      r.result.latency_ms = resp.at("latency_ms").get<std::vector<double>>();
      if (resp.contains("cpu_ms")) r.result.cpu_ms = resp.at("cpu_ms").get<std::vector<double>>();
      for (const auto& o : resp.at("outputs")) {
        std::string name = o.at("name").get<std::string>();
        std::string path = o.at("path").get<std::string>();
        std::string bytes;
        onnx::TensorProto t;
        if (!read_file(path, &bytes) || !t.ParseFromString(bytes)) {
          return fail("cannot read ORT output '" + name + "' from " + path);
        }
        r.result.output_names.push_back(std::move(name));
        r.result.outputs.push_back(std::move(t));
      }
    } catch (const json::exception& e) {
      return fail(std::string("malformed runner response: ") + e.what());
    }
    r.ok = true;
    return r;
  }
};

namespace {
struct Global {
  std::once_flag once;
  std::unique_ptr<OrtHarness> harness;  // destroyed at exit, which stops the child
  std::string reason;
};
Global& global() {
  static Global g;
  return g;
}
}  // namespace

OrtHarness::OrtHarness(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OrtHarness::~OrtHarness() = default;

OrtHarness* OrtHarness::get() {
  Global& g = global();
  std::call_once(g.once, [&g] {
    auto impl = std::make_unique<Impl>();
    if (std::string why = impl->start(); !why.empty()) {
      g.reason = "ONNX Runtime unavailable, ORT checks skipped: " + why;
      return;
    }
    if (impl->version != "1.30.0") {  // expected outputs in the corpus come from 1.30
      std::cerr << "[ort_harness] note: using onnxruntime-node " << impl->version << "; tests expect 1.30.0\n";
    }
    g.harness.reset(new OrtHarness(std::move(impl)));
  });
  return g.harness.get();
}

std::string OrtHarness::unavailable_reason() {
  get();
  return global().reason;
}

const std::string& OrtHarness::ort_version() const { return impl_->version; }

OrtRun OrtHarness::run_files(const std::string& model_path,
                             const std::vector<std::pair<std::string, std::string>>& inputs,
                             const OrtOptions& opts) {
  TempDir tmp;
  if (!tmp.ok()) return fail(std::string("mkdtemp: ") + std::strerror(errno));
  return impl_->request(model_path, inputs, opts, tmp.path() / "out");
}

OrtRun OrtHarness::run(const std::string& model_path,
                       const std::vector<std::pair<std::string, onnx::TensorProto>>& inputs,
                       const OrtOptions& opts) {
  TempDir tmp;
  if (!tmp.ok()) return fail(std::string("mkdtemp: ") + std::strerror(errno));
  std::vector<std::pair<std::string, std::string>> files;
  for (size_t i = 0; i < inputs.size(); ++i) {
    fs::path p = tmp.path() / ("input_" + std::to_string(i) + ".pb");
    if (!write_file(p, inputs[i].second.SerializeAsString())) return fail("cannot write " + p.string());
    files.emplace_back(inputs[i].first, p.string());
  }
  return impl_->request(model_path, files, opts, tmp.path() / "out");
}

OrtRun OrtHarness::run_model(const onnx::ModelProto& model,
                             const std::vector<std::pair<std::string, onnx::TensorProto>>& inputs,
                             const OrtOptions& opts) {
  TempDir tmp;
  if (!tmp.ok()) return fail(std::string("mkdtemp: ") + std::strerror(errno));
  fs::path p = tmp.path() / "model.onnx";
  if (!write_file(p, model.SerializeAsString())) return fail("cannot write " + p.string());
  return run(p.string(), inputs, opts);
}

// ---- Test data -------------------------------------------------------------------------------------------

std::vector<onnx::TensorProto> load_test_data_set(const std::string& dir, const std::string& prefix) {
  std::vector<onnx::TensorProto> out;
  for (size_t i = 0;; ++i) {
    fs::path p = fs::path(dir) / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    std::string bytes;
    onnx::TensorProto t;
    if (!read_file(p, &bytes) || !t.ParseFromString(bytes)) {
      throw std::runtime_error("cannot parse TensorProto " + p.string());
    }
    out.push_back(std::move(t));
  }
  return out;
}

onnx::ModelProto load_model(const std::string& path) {
  std::string bytes;
  onnx::ModelProto m;
  if (!read_file(path, &bytes)) throw std::runtime_error("cannot read " + path);
  if (!m.ParseFromString(bytes)) throw std::runtime_error("cannot parse ModelProto " + path);
  return m;
}

std::vector<std::string> runtime_input_names(const onnx::ModelProto& model) {
  std::set<std::string> inits;
  for (const auto& t : model.graph().initializer()) inits.insert(t.name());
  std::vector<std::string> names;
  for (const auto& vi : model.graph().input()) {
    if (!inits.count(vi.name())) names.push_back(vi.name());
  }
  return names;
}

std::vector<std::pair<std::string, onnx::TensorProto>> bind_inputs(const onnx::ModelProto& model,
                                                                   std::vector<onnx::TensorProto> tensors) {
  std::vector<std::string> names = runtime_input_names(model);
  if (names.size() != tensors.size()) {
    throw std::invalid_argument("model has " + std::to_string(names.size()) + " runtime inputs, got " +
                                std::to_string(tensors.size()) + " tensors");
  }
  std::vector<std::pair<std::string, onnx::TensorProto>> out;
  for (size_t i = 0; i < names.size(); ++i) {
    tensors[i].set_name(names[i]);
    out.emplace_back(names[i], std::move(tensors[i]));
  }
  return out;
}

namespace {

// splitmix64 (Steele, Lea, Flood 2014): fixed arithmetic, so identical output everywhere.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

template <class T>
void append_le(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

// One step toward -inf for a sign-magnitude 16-bit float (binary16 or bfloat16), finite inputs.
uint16_t f16_next_down(uint16_t h) {
  if (h == 0x0000) return 0x8001;
  return (h & 0x8000) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h - 1);
}

template <class Int>
void random_ints(std::string* raw, SplitMix64& rng, int64_t n, double lo, double hi, const std::string& name) {
  if (lo != std::floor(lo) || hi != std::floor(hi) || lo < static_cast<double>(std::numeric_limits<Int>::min()) ||
      hi - 1 > static_cast<double>(std::numeric_limits<Int>::max())) {
    throw std::invalid_argument("range for integer input '" + name + "' must be integral and fit its type");
  }
  for (int64_t i = 0; i < n; ++i) {
    append_le(raw, static_cast<Int>(lo + std::floor(rng.uniform() * (hi - lo))));
  }
}

}  // namespace

std::vector<std::pair<std::string, onnx::TensorProto>> random_inputs(
    const onnx::ModelProto& model, uint64_t seed, const std::map<std::string, std::pair<double, double>>& ranges,
    const std::map<std::string, std::vector<int64_t>>& shapes) {
  std::set<std::string> runtime;
  for (const auto& n : runtime_input_names(model)) runtime.insert(n);

  std::vector<std::pair<std::string, onnx::TensorProto>> out;
  for (const auto& vi : model.graph().input()) {
    const std::string& name = vi.name();
    if (!runtime.count(name)) continue;
    if (!vi.type().has_tensor_type()) throw std::invalid_argument("input '" + name + "' is not a tensor");
    const auto& tt = vi.type().tensor_type();
    const int32_t dtype = tt.elem_type();

    std::vector<int64_t> dims;
    if (auto s = shapes.find(name); s != shapes.end()) {
      dims = s->second;
    } else if (!tt.has_shape()) {
      throw std::invalid_argument("input '" + name + "' has unknown rank: give its shape in `shapes`");
    } else {
      for (const auto& d : tt.shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : 1);
    }
    int64_t n = 1;
    for (int64_t d : dims) n *= d;

    const bool is_float = dtype == onnx::TensorProto::FLOAT || dtype == onnx::TensorProto::DOUBLE ||
                          dtype == onnx::TensorProto::FLOAT16 || dtype == onnx::TensorProto::BFLOAT16;
    double lo = is_float ? -1.0 : 0.0, hi = is_float ? 1.0 : 10.0;
    if (auto r = ranges.find(name); r != ranges.end()) std::tie(lo, hi) = r->second;
    if (!(lo <= hi)) throw std::invalid_argument("empty range for input '" + name + "'");

    SplitMix64 rng{seed ^ fnv1a(name)};
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(dtype);
    for (int64_t d : dims) t.add_dims(d);
    std::string raw;
    // Drawn values are clamped below hi: rounding to the element type could otherwise reach it.
    auto draw = [&] { return lo == hi ? lo : lo + (hi - lo) * rng.uniform(); };
    switch (dtype) {
      case onnx::TensorProto::FLOAT:
        for (int64_t i = 0; i < n; ++i) {
          float f = static_cast<float>(draw());
          if (lo < hi && f >= hi) f = std::nextafter(static_cast<float>(hi), -INFINITY);
          append_le(&raw, f);
        }
        break;
      case onnx::TensorProto::DOUBLE:
        for (int64_t i = 0; i < n; ++i) {
          double v = draw();
          if (lo < hi && v >= hi) v = std::nextafter(hi, -INFINITY);
          append_le(&raw, v);
        }
        break;
      case onnx::TensorProto::FLOAT16:
      case onnx::TensorProto::BFLOAT16: {
        const bool half = dtype == onnx::TensorProto::FLOAT16;
        for (int64_t i = 0; i < n; ++i) {
          float f = static_cast<float>(draw());
          uint16_t h = half ? float_to_half(f) : float_to_bfloat16(f);
          while (lo < hi && (half ? half_to_float(h) : bfloat16_to_float(h)) >= hi) h = f16_next_down(h);
          append_le(&raw, h);
        }
        break;
      }
      case onnx::TensorProto::INT8: random_ints<int8_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::INT16: random_ints<int16_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::INT32: random_ints<int32_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::INT64: random_ints<int64_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::UINT8: random_ints<uint8_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::UINT16: random_ints<uint16_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::UINT32: random_ints<uint32_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::UINT64: random_ints<uint64_t>(&raw, rng, n, lo, hi, name); break;
      case onnx::TensorProto::BOOL:
        for (int64_t i = 0; i < n; ++i) raw.push_back(static_cast<char>(rng.next() >> 63));
        break;
      case onnx::TensorProto::STRING: {
        std::string tmp;
        random_ints<int64_t>(&tmp, rng, n, lo, hi, name);
        for (int64_t i = 0; i < n; ++i) {
          int64_t v;
          std::memcpy(&v, tmp.data() + i * 8, 8);
          t.add_string_data(std::to_string(v));
        }
        break;
      }
      default:
        throw std::invalid_argument("input '" + name + "': random data for element type " + std::to_string(dtype) +
                                    " is not supported");
    }
    if (dtype != onnx::TensorProto::STRING) t.set_raw_data(std::move(raw));
    out.emplace_back(name, std::move(t));
  }
  return out;
}

// ---- Tensor helpers --------------------------------------------------------------------------------------

namespace {
template <class T>
constexpr int32_t onnx_type_of() {
  if constexpr (std::is_same_v<T, float>) return onnx::TensorProto::FLOAT;
  else if constexpr (std::is_same_v<T, double>) return onnx::TensorProto::DOUBLE;
  else if constexpr (std::is_same_v<T, bool>) return onnx::TensorProto::BOOL;
  else if constexpr (std::is_same_v<T, int8_t>) return onnx::TensorProto::INT8;
  else if constexpr (std::is_same_v<T, int16_t>) return onnx::TensorProto::INT16;
  else if constexpr (std::is_same_v<T, int32_t>) return onnx::TensorProto::INT32;
  else if constexpr (std::is_same_v<T, int64_t>) return onnx::TensorProto::INT64;
  else if constexpr (std::is_same_v<T, uint8_t>) return onnx::TensorProto::UINT8;
  else if constexpr (std::is_same_v<T, uint16_t>) return onnx::TensorProto::UINT16;
  else if constexpr (std::is_same_v<T, uint32_t>) return onnx::TensorProto::UINT32;
  else if constexpr (std::is_same_v<T, uint64_t>) return onnx::TensorProto::UINT64;
  else static_assert(sizeof(T) == 0, "unsupported element type");
}
}  // namespace

template <class T>
onnx::TensorProto make_tensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<T>& values) {
  std::string raw;
  raw.reserve(values.size() * sizeof(T));
  for (T v : values) append_le(&raw, v);  // vector<bool> has no contiguous storage to copy
  return make_tensor_raw(name, onnx_type_of<T>(), dims, std::move(raw));
}

template onnx::TensorProto make_tensor<float>(const std::string&, const std::vector<int64_t>&,
                                              const std::vector<float>&);
template onnx::TensorProto make_tensor<double>(const std::string&, const std::vector<int64_t>&,
                                               const std::vector<double>&);
template onnx::TensorProto make_tensor<bool>(const std::string&, const std::vector<int64_t>&,
                                             const std::vector<bool>&);
template onnx::TensorProto make_tensor<int8_t>(const std::string&, const std::vector<int64_t>&,
                                               const std::vector<int8_t>&);
template onnx::TensorProto make_tensor<int16_t>(const std::string&, const std::vector<int64_t>&,
                                                const std::vector<int16_t>&);
template onnx::TensorProto make_tensor<int32_t>(const std::string&, const std::vector<int64_t>&,
                                                const std::vector<int32_t>&);
template onnx::TensorProto make_tensor<int64_t>(const std::string&, const std::vector<int64_t>&,
                                                const std::vector<int64_t>&);
template onnx::TensorProto make_tensor<uint8_t>(const std::string&, const std::vector<int64_t>&,
                                                const std::vector<uint8_t>&);
template onnx::TensorProto make_tensor<uint16_t>(const std::string&, const std::vector<int64_t>&,
                                                 const std::vector<uint16_t>&);
template onnx::TensorProto make_tensor<uint32_t>(const std::string&, const std::vector<int64_t>&,
                                                 const std::vector<uint32_t>&);
template onnx::TensorProto make_tensor<uint64_t>(const std::string&, const std::vector<int64_t>&,
                                                 const std::vector<uint64_t>&);

onnx::TensorProto make_tensor_raw(const std::string& name, int32_t data_type, const std::vector<int64_t>& dims,
                                  std::string raw_bytes) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(data_type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::move(raw_bytes));
  return t;
}

size_t element_size(int32_t data_type) {
  switch (data_type) {
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case 17: case 18: case 19: case 20:  // FLOAT8 variants (not named in ONNX 1.12)
      return 1;
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      return 2;
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::FLOAT:
      return 4;
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::UINT64:
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::COMPLEX64:
      return 8;
    case onnx::TensorProto::COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

int64_t element_count(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) n *= d;
  return n;
}

std::string tensor_bytes(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    throw std::invalid_argument("tensor '" + t.name() + "' has external data");
  }
  if (t.has_raw_data()) return t.raw_data();
  const size_t es = element_size(t.data_type());
  std::string out;
  // Typed fields hold narrow types widened to int32/uint64; keep only the element's low bytes.
  auto narrow = [&](auto wide) {
    char b[sizeof(wide)];
    std::memcpy(b, &wide, sizeof(wide));
    out.append(b, es);
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::COMPLEX64:
      for (float v : t.float_data()) append_le(&out, v);
      break;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::COMPLEX128:
      for (double v : t.double_data()) append_le(&out, v);
      break;
    case onnx::TensorProto::INT64:
      for (int64_t v : t.int64_data()) append_le(&out, v);
      break;
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
      for (uint64_t v : t.uint64_data()) narrow(v);
      break;
    default:
      if (es == 0 || es > 4) {
        throw std::invalid_argument("tensor '" + t.name() + "': no byte form for data type " +
                                    std::to_string(t.data_type()));
      }
      for (int32_t v : t.int32_data()) narrow(v);
  }
  return out;
}

std::vector<double> tensor_values(const onnx::TensorProto& t) {
  const std::string bytes = tensor_bytes(t);
  const size_t es = element_size(t.data_type());
  if (es == 0) throw std::invalid_argument("tensor '" + t.name() + "' is not numeric");
  std::vector<double> out(bytes.size() / es);
  auto load = [&]<class T>(T*) {
    for (size_t i = 0; i < out.size(); ++i) {
      T v;
      std::memcpy(&v, bytes.data() + i * es, sizeof(T));
      if constexpr (std::is_same_v<T, uint16_t>) {
        out[i] = t.data_type() == onnx::TensorProto::FLOAT16    ? half_to_float(v)
                 : t.data_type() == onnx::TensorProto::BFLOAT16 ? bfloat16_to_float(v)
                                                                : static_cast<double>(v);  // UINT16
      } else {
        out[i] = static_cast<double>(v);
      }
    }
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: load(static_cast<float*>(nullptr)); break;
    case onnx::TensorProto::DOUBLE: load(static_cast<double*>(nullptr)); break;
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16: load(static_cast<uint16_t*>(nullptr)); break;
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::UINT8: load(static_cast<uint8_t*>(nullptr)); break;
    case onnx::TensorProto::INT8: load(static_cast<int8_t*>(nullptr)); break;
    case onnx::TensorProto::INT16: load(static_cast<int16_t*>(nullptr)); break;
    case onnx::TensorProto::UINT16: load(static_cast<uint16_t*>(nullptr)); break;
    case onnx::TensorProto::INT32: load(static_cast<int32_t*>(nullptr)); break;
    case onnx::TensorProto::UINT32: load(static_cast<uint32_t*>(nullptr)); break;
    case onnx::TensorProto::INT64: load(static_cast<int64_t*>(nullptr)); break;
    case onnx::TensorProto::UINT64: load(static_cast<uint64_t*>(nullptr)); break;
    default:
      throw std::invalid_argument("tensor '" + t.name() + "': data type " + std::to_string(t.data_type()) +
                                  " has no numeric value");
  }
  return out;
}

namespace {
std::string dims_str(const onnx::TensorProto& t) {
  std::string s = "[";
  for (int i = 0; i < t.dims_size(); ++i) {
    if (i) s += ',';
    s += std::to_string(t.dims(i));
  }
  return s + "]";
}

std::string hex(const std::string& bytes, size_t at, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (size_t i = n; i-- > 0;) {  // most significant byte first
    auto b = static_cast<unsigned char>(bytes[at + i]);
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}
}  // namespace

bool tensors_bit_identical(const onnx::TensorProto& a, const onnx::TensorProto& b, std::string* why) {
  auto differ = [why](std::string msg) {
    if (why) *why = std::move(msg);
    return false;
  };
  if (a.data_type() != b.data_type()) {
    return differ("data types differ: " + std::to_string(a.data_type()) + " vs " + std::to_string(b.data_type()));
  }
  if (!std::equal(a.dims().begin(), a.dims().end(), b.dims().begin(), b.dims().end())) {
    return differ("dims differ: " + dims_str(a) + " vs " + dims_str(b));
  }
  if (a.data_type() == onnx::TensorProto::STRING) {
    if (a.string_data_size() != b.string_data_size()) {
      return differ("string counts differ: " + std::to_string(a.string_data_size()) + " vs " +
                    std::to_string(b.string_data_size()));
    }
    for (int i = 0; i < a.string_data_size(); ++i) {
      if (a.string_data(i) != b.string_data(i)) {
        return differ("string " + std::to_string(i) + " differs: \"" + a.string_data(i) + "\" vs \"" +
                      b.string_data(i) + "\"");
      }
    }
    return true;
  }
  std::string ba, bb;
  try {
    ba = tensor_bytes(a);
    bb = tensor_bytes(b);
  } catch (const std::exception& e) {
    return differ(e.what());
  }
  if (ba.size() != bb.size()) {
    return differ("data sizes differ: " + std::to_string(ba.size()) + " vs " + std::to_string(bb.size()) + " bytes");
  }
  if (ba == bb) return true;
  const size_t es = std::max<size_t>(element_size(a.data_type()), 1);
  size_t first = 0, count = 0;
  for (size_t i = 0; i + es <= ba.size(); i += es) {
    if (std::memcmp(ba.data() + i, bb.data() + i, es) != 0 && count++ == 0) first = i;
  }
  std::string msg = std::to_string(count) + " of " + std::to_string(ba.size() / es) + " elements differ; first at " +
                    std::to_string(first / es) + ": " + hex(ba, first, es) + " vs " + hex(bb, first, es);
  try {  // add the values when they have a numeric reading
    auto va = tensor_values(a), vb = tensor_values(b);
    std::ostringstream ss;
    ss.precision(9);
    ss << " (" << va[first / es] << " vs " << vb[first / es] << ")";
    msg += ss.str();
  } catch (const std::exception&) {
  }
  return differ(msg);
}

double max_abs_diff(const onnx::TensorProto& a, const onnx::TensorProto& b) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const int32_t dt = a.data_type();
  if (dt != b.data_type() ||
      (dt != onnx::TensorProto::FLOAT && dt != onnx::TensorProto::DOUBLE && dt != onnx::TensorProto::FLOAT16 &&
       dt != onnx::TensorProto::BFLOAT16) ||
      !std::equal(a.dims().begin(), a.dims().end(), b.dims().begin(), b.dims().end())) {
    return inf;
  }
  std::vector<double> va, vb;
  try {
    va = tensor_values(a);
    vb = tensor_values(b);
  } catch (const std::exception&) {
    return inf;
  }
  if (va.size() != vb.size() || static_cast<int64_t>(va.size()) != element_count(a)) return inf;
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    const bool na = std::isnan(va[i]), nb = std::isnan(vb[i]);
    if (na || nb) {
      if (na != nb) return inf;
      continue;
    }
    if (va[i] == vb[i]) continue;  // also equal infinities, whose difference would be NaN
    m = std::max(m, std::fabs(va[i] - vb[i]));
  }
  return m;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_half(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((a >> 13) & 0x3ff);  // NaN stays NaN
  if (a >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to inf
  if (a >= 0x38800000) {                      // normal half: rebias exponent, round mantissa to 10 bits
    const uint32_t r = a - 0x38000000;
    return sign | static_cast<uint16_t>((r + 0xfff + ((r >> 13) & 1)) >> 13);
  }
  if (a < 0x33000000) return sign;  // below 2^-25 (ties go to even, i.e. zero)
  // Subnormal half: the value in units of 2^-24, rounded to nearest even.
  const uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
  const uint32_t shift = 126 - e;
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (q & 1))) ++q;
  return sign | static_cast<uint16_t>(q);
}

float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t float_to_bfloat16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

}  // namespace effopt::test
