// The pass manager (manager.h): runs pipelines, iterates groups to a fixed
// point, and guards every pass with the verifier and the output check.
#include "pass/manager.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "exec/executor.h"
#include "exec/metrics.h"
#include "exec/random_inputs.h"
#include "ir/dtype.h"
#include "ir/verifier.h"

namespace effopt::pass {

size_t count_nodes(const Model& model) {
  size_t n = 0;
  auto count = [&n](Graph& g) { n += g.nodes().size(); };
  if (model.graph) for_each_graph(*model.graph, count);
  for (const Function& f : model.functions)
    if (f.body) for_each_graph(*f.body, count);
  return n;
}

namespace {

// Seeded random inputs for --check-outputs (exec/random_inputs.h, as effopt
// compare draws them). A --shape binding comes before fix-shapes' own in
// input_shapes and wins.
Expected<std::vector<std::pair<std::string, exec::TensorValue>>> random_inputs(const Model& model,
                                                                               const ManagerOptions& opts) {
  exec::RandomInputOptions ro;
  ro.seed = opts.seed;
  for (const auto& [name, dims] : opts.input_shapes) {
    bool seen = false;
    for (const exec::ShapeSpec& sp : ro.shapes) seen = seen || sp.name == name;
    if (!seen) ro.shapes.push_back({name, dims});
  }
  auto plan = exec::plan_random_inputs(*model.graph, ro);
  if (!plan) return std::move(plan).error().context("--check-outputs");
  return exec::random_inputs(*plan, opts.seed, 0);
}

using Outputs = std::vector<exec::TensorValue>;

// Runs the model; `when` says where in the pipeline, for messages.
Expected<Outputs> execute(const Model& model, const std::vector<std::pair<std::string, exec::TensorValue>>& inputs,
                          int threads) {
  exec::RunOptions ro;
  ro.threads = threads;
  ro.fold_batch_norm = false;  // the model as written, so a pass's own rounding shows
  EFFOPT_TRY_ASSIGN(auto session, exec::Session::create(model, ro));
  return session->run(inputs);
}

class Runner {
 public:
  Runner(Model& model, const ManagerOptions& opts, const Pipeline& p) : model_(model), opts_(opts) {
    number_groups(p.items);
  }

  Status start() {
    if (!model_.graph) return invalid_model("the model has no graph");
    if (auto v = verify(model_); !v) return invalid_model("the input model fails verification: " + v.error().message);
    if (opts_.check_outputs) {
      EFFOPT_TRY_ASSIGN(inputs_, random_inputs(model_, opts_));
      auto r = execute(model_, inputs_, opts_.threads);
      if (!r)
        return make_error(r.error().kind == ErrorKind::Internal ? ErrorKind::Internal : ErrorKind::InvalidModel,
                          "--check-outputs: effopt's executor cannot run the input model, so outputs cannot be "
                          "checked: " + r.error().message);
      reference_ = std::move(*r);
      for (const Value* v : model_.graph->outputs()) output_names_.push_back(v ? v->name() : "");
      run_.outputs_checked = true;
    }
    return ok();
  }

  Status run_items(const std::vector<PipelineItem>& items, const std::string& group, bool& changed) {
    for (const PipelineItem& item : items) {
      if (item.kind == PipelineItem::Kind::Pass) {
        EFFOPT_TRY(run_pass(item, group, changed));
        continue;
      }
      GroupRun gr;
      gr.name = std::string(kRepeatKeyword) + "#" + std::to_string(group_number_.at(&item));
      gr.max_iterations = item.max_iterations();
      bool last_changed = false;
      for (int64_t it = 1; it <= gr.max_iterations; ++it) {
        last_changed = false;
        std::string where = (group.empty() ? "" : group + " > ") + gr.name + " iteration " + std::to_string(it);
        EFFOPT_TRY(run_items(item.body, where, last_changed));
        gr.iterations = it;
        changed = changed || last_changed;
        if (!last_changed) break;
      }
      gr.limit_reached = last_changed;
      if (opts_.on_group) opts_.on_group(gr);
      run_.groups.push_back(gr);
    }
    return ok();
  }

  Status finish() {
    if (auto v = verify(model_); !v)
      return internal_error("the pipeline produced an invalid graph (a bug in one of its passes; --verify-each "
                            "names it): " + v.error().message);
    return ok();
  }

  PipelineRun take() { return std::move(run_); }

 private:
  Status run_pass(const PipelineItem& item, const std::string& group, bool& changed) {
    const PassInfo& info = *item.pass;
    PassRun pr;
    pr.name = info.name;
    pr.options = print_options(item.options);
    pr.group = group;
    pr.nodes_before = count_nodes(model_);
    auto t0 = std::chrono::steady_clock::now();
    auto r = apply_pass(info, model_, item.options, opts_.threads, opts_.samples);
    pr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) return std::move(r).error().context("pass '" + info.name + "'");
    pr.result = std::move(*r);
    pr.nodes_after = count_nodes(model_);
    changed = changed || pr.result.changed;
    run_.changed = run_.changed || pr.result.changed;
    if (opts_.verify_each)
      if (auto v = verify(model_); !v)
        return internal_error("pass '" + info.name + "' broke the graph (a bug in that pass; --verify-each): " +
                              v.error().message);
    if (opts_.check_outputs) EFFOPT_TRY(check(info, pr));
    if (opts_.on_pass) opts_.on_pass(pr);
    run_.passes.push_back(std::move(pr));
    return ok();
  }

  Status check(const PassInfo& info, PassRun& pr) {
    auto r = execute(model_, inputs_, opts_.threads);
    if (!r)
      return make_error(r.error().kind == ErrorKind::Usage ? ErrorKind::Usage : ErrorKind::Internal,
                        "--check-outputs: after pass '" + info.name + "' effopt's executor cannot run the model "
                        "(it ran before; a bug in that pass or a kernel the executor lacks): " + r.error().message);
    Outputs got = std::move(*r);
    if (info.lossy) {  // checked by its own quality guards; its result is the new reference
      reference_ = std::move(got);
      return ok();
    }
    pr.outputs_checked = true;
    if (got.size() != reference_.size())
      return internal_error("pass '" + info.name + "' changed the number of outputs from " +
                            std::to_string(reference_.size()) + " to " + std::to_string(got.size()));
    for (size_t i = 0; i < got.size(); ++i) {
      std::string why;
      double rel = output_change(reference_[i], got[i], &why);
      double tol = is_16bit_float_type(reference_[i].dtype()) ? opts_.half_tolerance : opts_.tolerance;
      pr.max_rel_l2 = std::max(pr.max_rel_l2, rel);
      if (!(rel <= tol)) {
        // Named as before the pipeline (a pass may have renamed it).
        std::string name = i < output_names_.size() ? output_names_[i] : std::to_string(i);
        if (why.empty()) why = "relative L2 error " + std::to_string(rel) + " > tolerance " + std::to_string(tol);
        return internal_error("pass '" + info.name + "' changed the outputs (a bug in that pass; --check-outputs): " +
                              "output '" + name + "': " + why);
      }
    }
    return ok();
  }

  Model& model_;
  const ManagerOptions& opts_;
  PipelineRun run_;
  std::vector<std::pair<std::string, exec::TensorValue>> inputs_;
  Outputs reference_;
  std::vector<std::string> output_names_;
  std::unordered_map<const PipelineItem*, int> group_number_;  // in pipeline order, from 1

  void number_groups(const std::vector<PipelineItem>& items) {
    for (const PipelineItem& item : items)
      if (item.kind == PipelineItem::Kind::Repeat) {
        int n = static_cast<int>(group_number_.size()) + 1;
        group_number_[&item] = n;
        number_groups(item.body);
      }
  }
};

Status check_file_digests(const std::vector<PipelineItem>& items, const FileDigest& digest) {
  for (const PipelineItem& item : items) {
    if (item.kind == PipelineItem::Kind::Repeat) {
      EFFOPT_TRY(check_file_digests(item.body, digest));
      continue;
    }
    const auto& values = item.options.values();
    for (size_t i = 0; i < values.size(); ++i) {
      const OptionType type = item.pass->options[i].type;
      if (type != OptionType::File && type != OptionType::Files) continue;
      for (const std::string& file :
           type == OptionType::File ? std::vector<std::string>{values[i].second} : split_file_list(values[i].second)) {
        auto [path, hex] = split_file_value(file);
        if (hex.empty()) continue;
        EFFOPT_TRY_ASSIGN(std::string actual, digest(path));
        if (actual != hex)
          return usage_error("pass '" + item.pass->name + "' option '" + values[i].first + "': " + path +
                             " has SHA-256 " + actual + ", the pipeline records " + hex);
      }
    }
  }
  return ok();
}

}  // namespace

double output_change(const exec::TensorValue& before, const exec::TensorValue& after, std::string* why) {
  const double inf = std::numeric_limits<double>::infinity();
  auto say = [why](std::string s) {
    if (why) *why = std::move(s);
  };
  if (before.dtype() != after.dtype()) {
    say(std::string("element type ") + data_type_name(before.dtype()) + " became " + data_type_name(after.dtype()));
    return inf;
  }
  if (before.dims() != after.dims()) {
    say("shape " + exec::dims_to_string(before.dims()) + " became " + exec::dims_to_string(after.dims()));
    return inf;
  }
  const uint64_t n = before.element_count();
  if (!is_float_type(before.dtype())) {
    uint64_t differ = 0;
    size_t es = exec::element_size(before.dtype());
    for (uint64_t i = 0; i < n; ++i)
      if (std::memcmp(before.raw() + i * es, after.raw() + i * es, es) != 0) ++differ;
    if (differ) say(std::to_string(differ) + " of " + std::to_string(n) + " elements differ");
    return differ ? inf : 0;
  }
  exec::ErrorMetrics m = exec::error_metrics(before, after);
  if (m.first_nonfinite_mismatch) {
    uint64_t i = *m.first_nonfinite_mismatch;
    double a = exec::to_doubles(before)[i], b = exec::to_doubles(after)[i];
    say("element " + std::to_string(i) + " is " + std::to_string(a) + " before and " + std::to_string(b) + " after");
  } else if (m.zero_reference && m.rel_l2_error > 0) {
    say("the output was all zeros and is not any more (max abs error " + std::to_string(m.max_abs_error) + ")");
  }
  return m.rel_l2_error;
}

Expected<PipelineRun> run_pipeline(const Pipeline& pipeline, Model& model, const ManagerOptions& opts) {
  if (opts.file_digest) EFFOPT_TRY(check_file_digests(pipeline.items, opts.file_digest));
  Runner runner(model, opts, pipeline);
  EFFOPT_TRY(runner.start());
  bool changed = false;
  EFFOPT_TRY(runner.run_items(pipeline.items, "", changed));
  EFFOPT_TRY(runner.finish());
  return runner.take();
}

}  // namespace effopt::pass
