// effopt sweep MODEL --data PATH ... --dir DIR [--calibration PATH ...] [--metric M] [--configs FILE] [-j N]
//   [--shape NAME=DIMS ...] [--max-error E [--pick KEY] [-o PICKED]] [--plan] [--print-configs]
// effopt sweep --collect DIR [--max-error E [--pick KEY] [-o PICKED]]
// Every config of the grid (lib/report/sweep.h) is one ordinary `effopt run` of this binary, as a child
// process writing DIR/points/NAME/{model.onnx,report.json,log.txt}; then every point's footprint comes from
// its report, its error from effopt compare's fidelity code on --data against the unmodified model, and
// the sweep writes DIR/sweep.json, DIR/sweep.csv and prints the table with the frontiers. docs/sweep.md.
#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include "analysis/latency.h"
#include "cli.h"
#include "exec/tensor_value.h"
#include "ir/constants.h"
#include "ir/dtype.h"
#include "fidelity_flags.h"
#include "onnx/model_io.h"
#include "report/footprint_report.h"
#include "report/run_report.h"
#include "report/sweep.h"
#include "support/atomic_file.h"
#include "support/mapped_file.h"
#include "support/progress.h"
#include "support/shell_quote.h"

extern char** environ;

namespace effopt::cli {
namespace {

namespace fs = std::filesystem;

// What a sweep needs to run its jobs and to collect them: DIR/plan.json holds it.
struct SweepPlan {
  std::string exe, model, dir, metric;  // absolute paths
  std::vector<std::string> data, calibration, shapes;
  std::vector<SweepConfig> configs;
  int threads = 1;          // each point's --threads
  int measure_threads = 1;  // the sweep's own error and latency runs (--threads, 0 = every core)
};

std::string abs_path(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// Paths in a point's command line: relative to DIR (the command as recorded, run from DIR), or absolute (--plan).
std::string in_dir(const SweepPlan& plan, const std::string& path, bool relative) {
  return relative ? fs::path(path).lexically_relative(plan.dir).string() : path;
}

bool reads_calibration(const std::string& pipeline) { return pipeline.find("mode=static") != std::string::npos; }

std::vector<std::string> point_argv(const SweepPlan& plan, const SweepConfig& c, bool relative) {
  const std::string point = (fs::path(plan.dir) / "points" / c.name).string();
  std::vector<std::string> a = {plan.exe,
                                "run",
                                in_dir(plan, plan.model, relative),
                                "--passes",
                                c.pipeline,
                                "-o",
                                in_dir(plan, point + "/model.onnx", relative),
                                "--report",
                                in_dir(plan, point + "/report.json", relative),
                                "--force",
                                "--threads",
                                std::to_string(plan.threads)};
  for (const std::string& s : plan.shapes) a.insert(a.end(), {"--shape", s});
  if (reads_calibration(c.pipeline))
    for (const std::string& p : plan.calibration) a.insert(a.end(), {"--calibration", in_dir(plan, p, relative)});
  return a;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string s = "effopt";  // argv[0] is this binary; the recorded command names it as users do
  for (size_t i = 1; i < argv.size(); ++i) s += " " + shell_quote(argv[i]);
  return s;
}

nlohmann::json plan_json(const SweepPlan& plan) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const SweepConfig& c : plan.configs) jobs.push_back({{"name", c.name}, {"argv", point_argv(plan, c, false)}});
  return {{"jobs", jobs},
          {"sweep",
           {{"model", plan.model},
            {"metric", plan.metric},
            {"data", plan.data},
            {"calibration", plan.calibration},
            {"shapes", plan.shapes},
            {"configs", sweep_configs_json(plan.configs)}}}};
}

Expected<SweepPlan> read_plan(const std::string& dir) {
  const std::string path = (fs::path(dir) / "plan.json").string();
  std::ifstream in(path);
  if (!in) return make_error(ErrorKind::IO, path + ": cannot read the sweep's plan (written by effopt sweep --plan)");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.contains("sweep") || !j["sweep"].is_object())
    return usage_error(path + ": not a sweep plan (no \"sweep\" object)");
  const nlohmann::json& s = j["sweep"];
  SweepPlan plan;
  try {
    plan.dir = abs_path(dir);
    plan.model = s.at("model").get<std::string>();
    plan.metric = s.at("metric").get<std::string>();
    plan.data = s.at("data").get<std::vector<std::string>>();
    plan.calibration = s.at("calibration").get<std::vector<std::string>>();
    plan.shapes = s.at("shapes").get<std::vector<std::string>>();
    EFFOPT_TRY_ASSIGN(plan.configs, parse_sweep_configs(s.at("configs").dump(), path));
  } catch (const nlohmann::json::exception& e) {
    return usage_error(path + ": " + e.what());
  }
  return plan;
}

// Runs the jobs, `jobs_at_once` at a time; returns each one's wait status. Each child's stdout and stderr
// go to DIR/points/NAME/log.txt; it runs in DIR (its paths are relative to it).
Expected<std::vector<int>> run_points(const SweepPlan& plan, int jobs_at_once) {
  const size_t n = plan.configs.size();
  std::vector<int> status(n, 0);
  std::map<pid_t, size_t> running;
  size_t next = 0, done = 0;
  const bool bar = progress_enabled() && isatty(STDERR_FILENO) != 0;  // terminals only, not with -q
  auto progress = [&] {
    if (!bar) return;
    const int width = 30;
    int filled = static_cast<int>(width * done / std::max<size_t>(n, 1));
    std::fprintf(stderr, "\r[%s%s] %zu/%zu points", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, n);
    if (done == n) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
  progress();
  while (done < n) {
    while (next < n && running.size() < static_cast<size_t>(jobs_at_once)) {
      const SweepConfig& c = plan.configs[next];
      fs::path point = fs::path(plan.dir) / "points" / c.name;
      std::error_code ec;
      fs::create_directories(point, ec);
      if (ec) return make_error(ErrorKind::IO, point.string() + ": " + ec.message());
      std::vector<std::string> argv = point_argv(plan, c, true);
      std::vector<char*> cargv;
      for (std::string& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      const std::string log = (point / "log.txt").string();
      posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
      posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addchdir_np(&fa, plan.dir.c_str());
      pid_t pid = 0;
      int rc = posix_spawn(&pid, plan.exe.c_str(), &fa, nullptr, cargv.data(), environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) return make_error(ErrorKind::IO, "cannot start " + plan.exe + ": " + std::strerror(rc));
      spdlog::debug("sweep: started {} (pid {}): {}", c.name, pid, command_line(argv));
      running[pid] = next++;
    }
    int ws = 0;
    pid_t pid = waitpid(-1, &ws, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorKind::Internal, std::string("waitpid: ") + std::strerror(errno));
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    status[it->second] = ws;
    running.erase(it);
    ++done;
    progress();
  }
  return status;
}

// The last "effopt: error: ..." line of a point's log, else its last line.
std::string failure_reason(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last, error;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.rfind("effopt: error: ", 0) == 0) error = line.substr(15);
  }
  return error.empty() ? last : error;
}

void footprint_into(SweepPoint& p, const nlohmann::json& section) {
  auto u64 = [&](const char* k) -> std::optional<uint64_t> {
    if (!section.contains(k) || !section[k].is_number()) return std::nullopt;
    return section[k].get<uint64_t>();
  };
  p.file_bytes = u64("file_bytes");
  p.gzip_bytes = u64("gzip_bytes");
  p.params = u64("params");
  p.params_nonzero = u64("params_nonzero");
  p.macs = u64("macs");
  p.peak_activation_bytes = u64("peak_activation_bytes");
  p.inference_ram_bytes = u64("inference_ram_bytes");
}

// `wait_status` null: the jobs ran elsewhere (--collect); a point without its report did not run or failed.
// `latency_runs` > 0: each ok point's latency on effopt's executor (median of that many timed runs on the
// first --data sample, every core), one point at a time after all are built.
Expected<std::vector<SweepPoint>> collect_points(const SweepPlan& plan, const std::vector<int>* wait_status,
                                                 int latency_runs) {
  std::vector<SweepPoint> points;
  // The reference point: the unmodified model, analyzed as a report's "before" section is.
  AnalysisOptions ao;
  for (const std::string& s : plan.shapes) {
    EFFOPT_TRY_ASSIGN(ShapeBinding b, parse_shape_binding(s));
    ao.shapes.push_back(b);
  }
  EFFOPT_TRY_ASSIGN(ModelAnalysis ref, analyze_model_file(plan.model, ao));
  SweepPoint reference;
  reference.name = "reference";
  footprint_into(reference, model_section(plan.model, ref.footprint, ref.files ? &*ref.files : nullptr, false));
  points.push_back(reference);

  EFFOPT_TRY_ASSIGN(FidelityMetric metric, parse_metric(plan.metric));
  // The model as stored (the analysis bound its symbolic dims for counting; the data has its own).
  EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> original, load_model(plan.model));
  EFFOPT_TRY_ASSIGN(auto samples, data_samples(plan.data, *original->graph));
  FidelityOptions fo;
  fo.threads = plan.measure_threads;
  EFFOPT_TRY_ASSIGN(ReferenceOutputs outputs, reference_outputs(*original, *samples, fo));
  FidelityLimits measure;
  measure.max_error = std::numeric_limits<double>::max();
  measure.metric = metric;
  // The error in `metric`: the worst output's.
  auto error_of = [&](const Model& candidate, SweepPoint& p) -> Status {
    EFFOPT_TRY_ASSIGN(FidelityResult r, compare_to_reference(outputs, candidate, fo));
    EFFOPT_TRY_ASSIGN(std::vector<LimitCheck> checks, check_fidelity_limits(r, measure));
    double worst = 0;
    for (const LimitCheck& c : checks)
      if (c.metric == metric_name(metric)) worst = std::max(worst, c.value);
    p.error = worst;
    if (r.accuracy) p.accuracy = r.accuracy->candidate();
    return ok();
  };
  // On the reference itself: 0, and a metric the model cannot take (top1-mismatch without a
  // classifier-shaped output) is a usage error before any point is read.
  if (Status st = error_of(*original, points[0]); !st) return std::move(st).error().context("--metric " + plan.metric);

  for (size_t i = 0; i < plan.configs.size(); ++i) {
    const SweepConfig& c = plan.configs[i];
    SweepPoint p;
    p.name = c.name;
    p.pipeline = c.pipeline;
    p.command = command_line(point_argv(plan, c, true));
    const fs::path point = fs::path(plan.dir) / "points" / c.name;
    const fs::path report = point / "report.json", model = point / "model.onnx";
    if (wait_status) {
      int ws = (*wait_status)[i];
      int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
      if (code != 0) {
        p.status = code >= 1 && code <= 4 ? "failed" : "crashed";
        p.reason = WIFSIGNALED(ws) ? std::string("killed by signal ") + std::to_string(WTERMSIG(ws))
                                   : "exit " + std::to_string(code) + ": " + failure_reason(point / "log.txt");
        points.push_back(p);
        continue;
      }
    }
    std::ifstream in(report);
    nlohmann::json rj = in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
    if (!rj.is_object() || !rj.contains("after")) {
      const std::string why = fs::exists(point / "log.txt") ? failure_reason(point / "log.txt") : "";
      p.status = wait_status || why.find("internal error") != std::string::npos ? "crashed" : "failed";
      p.reason = report.string() + ": no report (the job did not run, or failed: " +
                 (why.empty() ? "no log" : why) + ")";
      points.push_back(p);
      continue;
    }
    footprint_into(p, rj["after"]);
    auto candidate = load_model(model.string());
    Status st = candidate ? error_of(**candidate, p) : Status(std::move(candidate).error());
    if (!st) {
      p.status = "failed";
      p.reason = "measuring the error: " + st.error().message;
    }
    points.push_back(p);
  }
  if (latency_runs > 0) {
    EFFOPT_TRY_ASSIGN(Sample sample, samples->load(0));
    LatencyOptions lo;
    lo.runs = latency_runs;
    lo.threads = fo.threads;
    for (SweepPoint& p : points) {
      if (!p.ok()) continue;
      const std::string path =
          p.name == "reference" ? plan.model : (fs::path(plan.dir) / "points" / p.name / "model.onnx").string();
      auto m = load_model(path);
      if (!m) {
        spdlog::warn("sweep: {}: latency not measured: {}", p.name, m.error().message);
        continue;
      }
      detach_initializer_inputs(*(*m)->graph);
      // A model whose inputs became another float type (fp16) gets the same values in its type, as compare does.
      std::vector<std::pair<std::string, exec::TensorValue>> inputs = sample.inputs;
      for (auto& [name, t] : inputs)
        for (const Value* v : (*m)->graph->inputs())
          if (v->name() == name && v->type.is_tensor() && v->type.elem_type != t.dtype() &&
              is_float_type(v->type.elem_type) && is_float_type(t.dtype())) {
            std::vector<double> values = exec::to_doubles(t);
            exec::TensorValue cast = exec::TensorValue::allocate(v->type.elem_type, t.dims());
            if (encode_doubles(v->type.elem_type, values, {cast.mutable_raw(), static_cast<size_t>(cast.byte_size())}))
              t = std::move(cast);
          }
      auto st = measure_latency(**m, inputs, lo);
      if (!st) {
        spdlog::warn("sweep: {}: latency not measured: {}", p.name, st.error().message);
        continue;
      }
      p.latency_ms = st->median_ms;
    }
  }
  mark_frontiers(points);
  return points;
}

Status write_file(const fs::path& path, const std::string& text) { return write_text(path.string(), text); }

struct Opts {
  std::string model, dir, collect, configs, metric = "rel-l2", max_error, pick = "file-bytes";
  std::vector<std::string> data, calibration, shapes, latency;
  int jobs = 1, latency_runs = 0;
  bool plan = false, print_configs = false;
};

Status finish(const GlobalOptions& g, const Opts& o, const SweepPlan& plan, const std::vector<int>* wait_status) {
  EFFOPT_TRY_ASSIGN(std::vector<SweepPoint> points, collect_points(plan, wait_status, o.latency_runs));
  SweepInfo info;
  info.model = fs::path(plan.model).lexically_relative(plan.dir).string();
  info.metric = plan.metric;
  info.latency = o.latency_runs > 0;
  for (const std::string& d : plan.data) info.data += (info.data.empty() ? "" : " ") + fs::path(d).lexically_relative(plan.dir).string();
  EFFOPT_TRY(write_file(fs::path(plan.dir) / "sweep.json", json_text(sweep_json(info, points))));
  EFFOPT_TRY(write_file(fs::path(plan.dir) / "sweep.csv", sweep_csv(points)));
  EFFOPT_TRY(write_file(fs::path(plan.dir) / "sweep.html", sweep_html(points, info)));
  EFFOPT_TRY(write_file(fs::path(plan.dir) / "frontier-bytes.svg", sweep_svg(points, info, SweepPlot::FileBytes)));
  EFFOPT_TRY(write_file(fs::path(plan.dir) / "frontier-speed.svg", sweep_svg(points, info, SweepPlot::Speed)));
  std::string table = sweep_table(points, info);
  std::fwrite(table.data(), 1, table.size(), stdout);
  std::fflush(stdout);
  spdlog::info("wrote {}/sweep.json, sweep.csv, sweep.html, frontier-bytes.svg, frontier-speed.svg ({} points)", plan.dir, points.size());
  Status result = ok();
  if (!o.max_error.empty()) {
    char* end = nullptr;
    double limit = std::strtod(o.max_error.c_str(), &end);
    EFFOPT_TRY_ASSIGN(PickKey key, parse_pick_key(o.pick));
    std::optional<size_t> best = pick_point(points, limit, key);
    if (!best) {
      result = make_error(ErrorKind::CheckFailed, "no point of the sweep has " + plan.metric + " <= " + o.max_error +
                                                      " (sweep.json lists every point's error); no model written");
    } else {
      const SweepPoint& p = points[*best];
      std::string from = p.name == "reference" ? plan.model : (fs::path(plan.dir) / "points" / p.name / "model.onnx").string();
      std::string value = key == PickKey::FileBytes   ? human_bytes(p.file_bytes.value_or(0))
                          : key == PickKey::GzipBytes ? human_bytes(p.gzip_bytes.value_or(0))
                          : key == PickKey::Macs      ? human_count(p.macs.value_or(0))
                                                      : fmt::format("{:.3f} ms", p.latency_ms.value_or(0));
      spdlog::info("picked {} ({} {}, {} {})", p.name, plan.metric, p.error ? *p.error : 0.0, o.pick, value);
      std::printf("picked: %s\n", p.name.c_str());
      if (!g.output.empty()) {
        if (fs::exists(g.output) && !g.force) return usage_error(g.output + " exists (--force replaces it)");
        // Written whole or not at all (temp + rename), as every effopt output.
        EFFOPT_TRY_ASSIGN(auto in, MappedFile::open(from));
        EFFOPT_TRY_ASSIGN(auto out, AtomicFile::create(g.output));
        EFFOPT_TRY(out->write(in->data(), in->size()));
        EFFOPT_TRY(out->commit());
      }
    }
  }
  for (const SweepPoint& p : points)
    if (p.status == "crashed")
      return make_error(ErrorKind::Internal, "point " + p.name + " crashed: " + p.reason + " (the sweep's files are written)");
  return result;
}

}  // namespace

std::function<Status()> setup_sweep(CLI::App& sub, GlobalOptions& g) {
  auto o = std::make_shared<Opts>();
  sub.add_option("model", o->model, "the model to sweep");
  sub.add_option("--data", o->data, "inputs the error is measured on (the forms compare --data takes); repeatable")
      ->type_name("PATH");
  sub.add_option("--calibration", o->calibration, "calibration data: adds the static quantization configs")
      ->type_name("PATH");
  sub.add_option("--metric", o->metric, "the error: " + metric_names() + " (default rel-l2)")->type_name("M");
  sub.add_option("--configs", o->configs, "a configs file ([{\"name\", \"pipeline\"}]) replacing the built-in grid")
      ->type_name("FILE");
  sub.add_option("-j,--jobs", o->jobs, "points built at once (each with --threads max(1, cores/N))")
      ->check(CLI::Range(1, 256));
  sub.add_option("--dir", o->dir, "the sweep's folder: points/NAME/, sweep.json, sweep.csv, plan.json")->type_name("DIR");
  sub.add_option("--shape", o->shapes, "bind an input's dims for the footprint (default: every symbolic dim = 1)")
      ->type_name("NAME=DIMS");
  sub.add_option("--max-error", o->max_error, "pick the best point with error <= E; exit 3 when none")->type_name("E");
  sub.add_option("--pick", o->pick, "what the pick minimizes: file-bytes (default), gzip-bytes, macs, latency")
      ->type_name("KEY");
  sub.add_flag("--plan", o->plan, "write DIR/plan.json (each point's argv, absolute paths) and run nothing");
  sub.add_option("--collect", o->collect, "merge the reports of a plan's jobs in DIR into sweep.json and sweep.csv")
      ->type_name("DIR");
  CLI::Option* latency_opt =
      sub.add_option("--latency", o->latency,
                     "also each point's latency on effopt's executor on this machine: median of N timed runs (default "
                     "20) on the first --data sample, one point at a time after all are built (write --latency=N)")
          ->expected(0, 1);
  sub.add_flag("--print-configs", o->print_configs, "print the built-in configs (with --calibration: static too)");
  return [o, &g, latency_opt]() -> Status {
    if (latency_opt->count() > 0) {
      o->latency_runs = 20;
      if (!o->latency.empty() && !o->latency[0].empty()) {
        char* end = nullptr;
        long n = std::strtol(o->latency[0].c_str(), &end, 10);
        if (*end != '\0' || n < 1 || n > 100000)
          return usage_error("--latency " + o->latency[0] + ": the number of timed runs must be an integer in 1..100000");
        o->latency_runs = static_cast<int>(n);
      }
    }
    if (!g.output.empty() && o->max_error.empty())
      return usage_error("sweep -o PICKED writes the point --max-error E picks: give --max-error");
    if (o->pick == "latency" && !o->latency_runs) return usage_error("--pick latency needs --latency");
    if (o->print_configs) {
      std::string text = json_text(sweep_configs_json(builtin_sweep_configs(!o->calibration.empty())));
      std::fwrite(text.data(), 1, text.size(), stdout);
      return ok();
    }
    if (!o->max_error.empty()) {
      char* end = nullptr;
      double v = std::strtod(o->max_error.c_str(), &end);
      if (*end || v < 0 || v != v) return usage_error("--max-error " + o->max_error + ": a number >= 0");
      EFFOPT_TRY(parse_pick_key(o->pick));
    }
    if (!o->collect.empty()) {
      if (!o->model.empty() || !o->data.empty() || o->plan)
        return usage_error("sweep --collect DIR takes the model and data from DIR/plan.json: drop MODEL/--data/--plan");
      EFFOPT_TRY_ASSIGN(SweepPlan plan, read_plan(o->collect));
      plan.measure_threads = executor_threads(g);
      return finish(g, *o, plan, nullptr);
    }
    if (o->model.empty()) return usage_error("sweep: give a MODEL (or --collect DIR, or --print-configs)");
    if (o->data.empty()) return usage_error("sweep: give --data PATH: the inputs every point's error is measured on");
    if (o->dir.empty()) return usage_error("sweep: give --dir DIR, the folder the points and sweep.json go to");
    EFFOPT_TRY(parse_metric(o->metric));
    SweepPlan plan;
    std::error_code ec;
    plan.exe = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec) return make_error(ErrorKind::Internal, "cannot find effopt's own binary: " + ec.message());
    plan.model = abs_path(o->model);
    if (!fs::is_regular_file(plan.model)) return make_error(ErrorKind::IO, o->model + ": no such model file");
    plan.dir = abs_path(o->dir);
    plan.metric = o->metric;
    for (const std::string& d : o->data) plan.data.push_back(abs_path(d));
    for (const std::string& d : o->calibration) plan.calibration.push_back(abs_path(d));
    plan.shapes = o->shapes;
    if (plan.shapes.empty()) {  // every symbolic dim of the inputs = 1, so MACs and activations are counted
      EFFOPT_TRY_ASSIGN(auto m, load_model(plan.model));
      std::vector<std::string> seen;
      for (const Value* v : m->graph->inputs())
        if (!v->initializer && v->type.shape)
          for (const Dim& d : *v->type.shape)
            if (!d.value && !d.param.empty() && std::find(seen.begin(), seen.end(), d.param) == seen.end()) {
              seen.push_back(d.param);
              plan.shapes.push_back(d.param + "=1");
            }
    }
    if (!o->configs.empty()) {
      std::ifstream in(o->configs);
      if (!in) return make_error(ErrorKind::IO, o->configs + ": cannot read");
      std::stringstream ss;
      ss << in.rdbuf();
      EFFOPT_TRY_ASSIGN(plan.configs, parse_sweep_configs(ss.str(), o->configs));
    } else {
      plan.configs = builtin_sweep_configs(!plan.calibration.empty());
    }
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    plan.threads = g.threads > 0 ? g.threads : std::max(1, cores / o->jobs);
    plan.measure_threads = executor_threads(g);
    fs::create_directories(plan.dir, ec);
    if (ec) return make_error(ErrorKind::IO, o->dir + ": " + ec.message());
    for (const SweepConfig& c : plan.configs) {  // the jobs write into them, wherever they run
      fs::create_directories(fs::path(plan.dir) / "points" / c.name, ec);
      if (ec) return make_error(ErrorKind::IO, (fs::path(plan.dir) / "points" / c.name).string() + ": " + ec.message());
    }
    EFFOPT_TRY(write_file(fs::path(plan.dir) / "plan.json", json_text(plan_json(plan))));
    if (o->plan) {
      spdlog::info("wrote {}/plan.json: {} jobs; run each job's argv, then effopt sweep --collect {}", plan.dir,
                   plan.configs.size(), o->dir);
      return ok();
    }
    EFFOPT_TRY_ASSIGN(std::vector<int> status, run_points(plan, o->jobs));
    return finish(g, *o, plan, &status);
  };
}

}  // namespace effopt::cli
