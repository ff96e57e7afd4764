// Fidelity metrics, sample sources and the comparison runs (fidelity.h).
#include "analysis/fidelity.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "exec/executor.h"
#include "exec/tensor_io.h"
#include "ir/dtype.h"

namespace effopt {

namespace fs = std::filesystem;
using exec::TensorValue;

namespace {
Error with_context(Error e, const std::string& where) {
  e.context(where);
  return e;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

// ---------------------------------------------------------------- samples

namespace {

std::vector<const Value*> graph_inputs(const Graph& g) {
  std::vector<const Value*> out;
  for (const Value* v : g.inputs())
    if (!v->initializer && !v->sparse_initializer) out.push_back(v);
  return out;
}

std::string input_names(const std::vector<const Value*>& inputs) {
  std::string s;
  for (const Value* v : inputs) s += (s.empty() ? "" : ", ") + v->name();
  return s;
}

// The file's tensor against the input's declared type; usage error naming the file.
Status check_against_input(const TensorValue& t, const Value& v, const std::string& file) {
  const Type& ty = v.type;
  if (!ty.is_tensor()) return ok();
  auto wrong = [&](const std::string& what) {
    return usage_error(file + ": input '" + v.name() + "' is " + ty.to_string() + ", the file holds " +
                       data_type_name(t.dtype()) + exec::dims_to_string(t.dims()) + " (" + what + ")");
  };
  if (ty.elem_type != DataType::Undefined && ty.elem_type != t.dtype()) return wrong("wrong element type");
  if (ty.shape) {
    if (ty.shape->size() != t.rank()) return wrong("wrong rank");
    for (size_t i = 0; i < t.rank(); ++i)
      if ((*ty.shape)[i].value && *(*ty.shape)[i].value != t.dim(i)) return wrong("dim " + std::to_string(i) + " differs");
  }
  return ok();
}

// "holds 3 NaN and 1 Inf values" for inputs that carry them.
std::string nonfinite_note(const TensorValue& t) {
  if (!is_float_type(t.dtype())) return "";
  uint64_t nan = 0, inf = 0;
  for (double x : exec::to_doubles(t)) {
    if (std::isnan(x)) ++nan;
    else if (std::isinf(x)) ++inf;
  }
  if (!nan && !inf) return "";
  return "holds " + std::to_string(nan) + " NaN and " + std::to_string(inf) + " Inf values; they propagate";
}

bool is_data_set_dir(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p / "input_0.pb", ec);
}

// One sample's files, resolved when the source is built; read in load().
struct SampleFiles {
  std::string label;
  std::vector<std::string> inputs;          // per graph input, in order
  std::vector<std::string> expected;        // per graph output ("" = none)
  std::string labels;                       // "" = none
  bool npy = false;
};

class DataSource : public SampleSource {
 public:
  DataSource(const Graph& g, std::vector<SampleFiles> files, std::string desc)
      : inputs_(graph_inputs(g)), files_(std::move(files)), desc_(std::move(desc)) {}
  size_t size() const override { return files_.size(); }
  std::string describe() const override { return desc_; }
  std::vector<std::string> files() const override {
    std::vector<std::string> out;
    for (const SampleFiles& f : files_) {
      out.insert(out.end(), f.inputs.begin(), f.inputs.end());
      if (!f.labels.empty()) out.push_back(f.labels);
    }
    return out;
  }
  Expected<Sample> load(size_t i) const override {
    const SampleFiles& f = files_[i];
    Sample s;
    s.label = f.label;
    for (size_t k = 0; k < inputs_.size(); ++k) {
      const std::string& file = f.inputs[k];
      Expected<TensorValue> t = f.npy ? exec::read_npy(file) : exec::read_tensor_pb(file);
      if (!t) return std::move(t).error();
      EFFOPT_TRY(check_against_input(*t, *inputs_[k], file));
      std::string note = nonfinite_note(*t);
      if (!note.empty()) s.warnings.push_back(file + ": input '" + inputs_[k]->name() + "' " + note);
      s.inputs.emplace_back(inputs_[k]->name(), std::move(*t));
    }
    for (const std::string& file : f.expected) {
      s.expected_files.push_back(file);
      if (file.empty()) { s.expected.emplace_back(); continue; }
      EFFOPT_TRY_ASSIGN(TensorValue t, exec::read_tensor_pb(file));
      s.expected.emplace_back(std::move(t));
    }
    if (!f.labels.empty()) {
      EFFOPT_TRY_ASSIGN(TensorValue t, exec::read_tensor_pb(f.labels));
      if (t.dtype() != DataType::Int64 && t.dtype() != DataType::Int32)
        return usage_error(f.labels + ": labels must be int64 (or int32), the file holds " + data_type_name(t.dtype()));
      s.labels = std::move(t);
      s.labels_file = f.labels;
    }
    return s;
  }

 private:
  std::vector<const Value*> inputs_;
  std::vector<SampleFiles> files_;
  std::string desc_;
};

// input_K.pb / output_K.pb / labels.pb folder.
Expected<SampleFiles> pb_folder(const fs::path& dir, const Graph& g) {
  auto inputs = graph_inputs(g);
  SampleFiles f;
  f.label = dir.string();
  for (size_t k = 0; k < inputs.size(); ++k) {
    fs::path p = dir / ("input_" + std::to_string(k) + ".pb");
    std::error_code ec;
    if (!fs::exists(p, ec))
      return usage_error(dir.string() + ": no input_" + std::to_string(k) + ".pb for input '" + inputs[k]->name() +
                         "' (the model's inputs, in order: " + input_names(inputs) + ")");
    f.inputs.push_back(p.string());
  }
  std::error_code ec;
  fs::path extra = dir / ("input_" + std::to_string(inputs.size()) + ".pb");
  if (fs::exists(extra, ec))
    return usage_error(extra.string() + ": the model has only " + std::to_string(inputs.size()) + " input" +
                       (inputs.size() == 1 ? "" : "s") + " (" + input_names(inputs) + ")");
  for (size_t k = 0; k < g.outputs().size(); ++k) {
    fs::path p = dir / ("output_" + std::to_string(k) + ".pb");
    f.expected.push_back(fs::exists(p, ec) ? p.string() : "");
  }
  if (fs::exists(dir / "labels.pb", ec)) f.labels = (dir / "labels.pb").string();
  return f;
}

// NAME.npy files, given as a folder or as single files.
Expected<SampleFiles> npy_files(const std::string& label, const std::vector<fs::path>& files, const Graph& g) {
  auto inputs = graph_inputs(g);
  SampleFiles f;
  f.label = label;
  f.npy = true;
  f.inputs.assign(inputs.size(), "");
  for (const fs::path& p : files) {
    std::string stem = p.stem().string();
    size_t k = inputs.size();
    for (size_t j = 0; j < inputs.size(); ++j)
      if (inputs[j]->name() == stem) k = j;
    if (k == inputs.size() && files.size() == 1 && inputs.size() == 1) k = 0;  // a lone file, a single input
    if (k == inputs.size()) {
      // An initializer listed among the graph inputs (ONNX Runtime's overridable initializers) is not fed:
      // samples hold the runtime inputs only, as ONNX Runtime's input list and ONNX's test data sets do.
      for (const Value* v : g.inputs())
        if (v->name() == stem && (v->initializer || v->sparse_initializer))
          return usage_error(p.string() + ": '" + stem + "' is an initializer of the model (listed among its graph " +
                             "inputs); effopt feeds only the runtime inputs (" + input_names(inputs) + ")");
      return usage_error(p.string() + ": '" + stem + "' is not an input of the model (its inputs: " + input_names(inputs) +
                         "); name each file INPUT.npy");
    }
    if (!f.inputs[k].empty())
      return usage_error(p.string() + ": input '" + inputs[k]->name() + "' is also given by " + f.inputs[k]);
    f.inputs[k] = p.string();
  }
  for (size_t k = 0; k < inputs.size(); ++k)
    if (f.inputs[k].empty())
      return usage_error(label + ": no file for input '" + inputs[k]->name() + "' (expected " + inputs[k]->name() +
                         ".npy)");
  return f;
}

}  // namespace

Expected<std::unique_ptr<SampleSource>> data_samples(const std::vector<std::string>& paths, const Graph& g,
                                                     const std::string& flag) {
  std::vector<SampleFiles> samples;
  for (const std::string& path : paths) {
    fs::path p(path);
    std::error_code ec;
    if (!fs::exists(p, ec)) return io_error(flag + " " + path + ": no such file or folder");
    if (fs::is_directory(p, ec)) {
      if (is_data_set_dir(p)) {
        EFFOPT_TRY_ASSIGN(SampleFiles f, pb_folder(p, g));
        samples.push_back(std::move(f));
        continue;
      }
      std::vector<fs::path> sets, npys;
      for (auto& e : fs::directory_iterator(p, ec)) {
        std::string name = e.path().filename().string();
        if (e.is_directory() && name.rfind("test_data_set_", 0) == 0 && is_data_set_dir(e.path())) sets.push_back(e.path());
        else if (e.path().extension() == ".npy") npys.push_back(e.path());
      }
      if (ec) return io_error(flag + " " + path + ": cannot list the folder: " + ec.message());
      std::sort(sets.begin(), sets.end());
      std::sort(npys.begin(), npys.end());
      if (!sets.empty() && !npys.empty())
        return usage_error(flag + " " + path + ": holds both test_data_set_* folders and .npy files; give one kind");
      if (!sets.empty()) {
        for (const fs::path& s : sets) {
          EFFOPT_TRY_ASSIGN(SampleFiles f, pb_folder(s, g));
          samples.push_back(std::move(f));
        }
        continue;
      }
      if (npys.empty())
        return usage_error(flag + " " + path +
                           ": holds no input_0.pb, no NAME.npy files and no test_data_set_* folders");
      EFFOPT_TRY_ASSIGN(SampleFiles f, npy_files(path, npys, g));
      if (fs::exists(p / "labels.pb", ec)) f.labels = (p / "labels.pb").string();
      samples.push_back(std::move(f));
      continue;
    }
    if (p.extension() == ".npy") {
      EFFOPT_TRY_ASSIGN(SampleFiles f, npy_files(path, {p}, g));
      samples.push_back(std::move(f));
    } else if (p.extension() == ".pb") {
      auto inputs = graph_inputs(g);
      if (inputs.size() != 1)
        return usage_error(flag + " " + path + ": a single .pb file fits a single-input model; this one has " +
                           std::to_string(inputs.size()) + " (" + input_names(inputs) +
                           "): give a folder with input_K.pb files");
      SampleFiles f;
      f.label = path;
      f.inputs = {path};
      samples.push_back(std::move(f));
    } else {
      return usage_error(flag + " " + path + ": expected a folder, a .npy file or a .pb file");
    }
  }
  std::string desc = std::to_string(samples.size()) + " sample" + (samples.size() == 1 ? "" : "s") + " from --data";
  return std::unique_ptr<SampleSource>(new DataSource(g, std::move(samples), desc));
}

namespace {
class RandomSource : public SampleSource {
 public:
  RandomSource(std::vector<exec::RandomInputPlan> plan, uint64_t seed, size_t count)
      : plan_(std::move(plan)), seed_(seed), count_(count) {}
  size_t size() const override { return count_; }
  std::string describe() const override {
    return std::to_string(count_) + " random sample" + (count_ == 1 ? "" : "s") + " (seed " + std::to_string(seed_) + ")";
  }
  Expected<Sample> load(size_t i) const override {
    Sample s;
    s.label = "random sample " + std::to_string(i);
    try {
      s.inputs = exec::random_inputs(plan_, seed_, i);
    } catch (const std::bad_alloc&) {
      return io_error("out of memory while drawing the random inputs of " + s.label);
    }
    return s;
  }

 private:
  std::vector<exec::RandomInputPlan> plan_;
  uint64_t seed_;
  size_t count_;
};
}  // namespace

std::unique_ptr<SampleSource> random_samples(std::vector<exec::RandomInputPlan> plan, uint64_t seed, size_t count) {
  return std::make_unique<RandomSource>(std::move(plan), seed, count);
}

namespace {

// Rows of a tensor along axis 0, copied.
TensorValue row_of(const TensorValue& t, int64_t row) {
  std::vector<int64_t> dims = t.dims();
  const uint64_t row_bytes = t.byte_size() / static_cast<uint64_t>(dims[0]);
  dims[0] = 1;
  return TensorValue::from_bytes(t.dtype(), std::move(dims),
                                 {t.raw() + static_cast<uint64_t>(row) * row_bytes, static_cast<size_t>(row_bytes)});
}

class RowSource : public SampleSource {
 public:
  struct Group {
    size_t sample = 0;
    uint64_t first = 0;  // index of its first row among all rows
    uint64_t rows = 0;   // rows taken from it
    bool split = false;  // one sample per row; else the sample whole
  };
  RowSource(std::unique_ptr<SampleSource> base, std::vector<Group> groups, uint64_t total_rows)
      : base_(std::move(base)), groups_(std::move(groups)), total_rows_(total_rows) {}
  size_t size() const override {
    size_t n = 0;
    for (const Group& g : groups_) n += g.split ? g.rows : 1;
    return n;
  }
  std::string describe() const override {
    return std::to_string(total_rows_) + " row" + (total_rows_ == 1 ? "" : "s") + " of " + base_->describe();
  }
  std::vector<std::string> files() const override { return base_->files(); }
  Expected<Sample> load(size_t i) const override {
    size_t k = 0;  // the group holding sample i, and i's offset in it
    for (; k < groups_.size(); ++k) {
      size_t n = groups_[k].split ? groups_[k].rows : 1;
      if (i < n) break;
      i -= n;
    }
    if (k == groups_.size()) return internal_error("row sample index out of range");
    const Group& g = groups_[k];
    if (cached_ != g.sample) {
      cached_ = SIZE_MAX;
      EFFOPT_TRY_ASSIGN(cache_, base_->load(g.sample));
      cached_ = g.sample;
    }
    if (!g.split) return cache_;
    Sample out;
    out.label = cache_.label + " row " + std::to_string(i);
    if (i == 0) out.warnings = cache_.warnings;
    for (const auto& [name, t] : cache_.inputs) out.inputs.emplace_back(name, row_of(t, static_cast<int64_t>(i)));
    if (cache_.labels && cache_.labels->rank() >= 1 && cache_.labels->dim(0) == cache_.inputs.front().second.dim(0)) {
      out.labels = row_of(*cache_.labels, static_cast<int64_t>(i));
      out.labels_file = cache_.labels_file;
    }
    return out;
  }

 private:
  std::unique_ptr<SampleSource> base_;
  std::vector<Group> groups_;
  uint64_t total_rows_ = 0;
  mutable size_t cached_ = SIZE_MAX;
  mutable Sample cache_;
};

}  // namespace

Expected<std::unique_ptr<SampleSource>> split_rows(std::unique_ptr<SampleSource> samples, const Graph& graph,
                                                   uint64_t max_rows) {
  // A batch axis: no graph input fixes its dim 0.
  bool batch_axis = true;
  for (const Value* v : graph_inputs(graph))
    if (v->type.is_tensor() && v->type.shape && !v->type.shape->empty() && (*v->type.shape)[0].value)
      batch_axis = false;
  std::vector<RowSource::Group> groups;
  uint64_t rows = 0;
  for (size_t i = 0; i < samples->size() && (max_rows == 0 || rows < max_rows); ++i) {
    EFFOPT_TRY_ASSIGN(Sample s, samples->load(i));
    bool split = batch_axis && !s.inputs.empty();
    int64_t n = -1;
    for (const auto& [name, t] : s.inputs) {
      if (t.rank() == 0 || t.dtype() == DataType::String || (n >= 0 && t.dim(0) != n)) split = false;
      if (n < 0) n = t.rank() ? t.dim(0) : 1;
    }
    if (n < 0) n = 1;
    RowSource::Group g;
    g.sample = i;
    g.first = rows;
    g.split = split && n > 0;
    g.rows = static_cast<uint64_t>(n);
    if (g.split && max_rows) g.rows = std::min<uint64_t>(g.rows, max_rows - rows);
    if (g.split && g.rows == 0) continue;  // an empty batch
    rows += g.rows;
    groups.push_back(g);
  }
  return std::unique_ptr<SampleSource>(new RowSource(std::move(samples), std::move(groups), rows));
}

// ----------------------------------------------------------------- limits

const char* metric_name(FidelityMetric m) {
  switch (m) {
    case FidelityMetric::RelL2: return "rel-l2";
    case FidelityMetric::MaxAbs: return "max-abs";
    case FidelityMetric::CosineDistance: return "cosine-distance";
    case FidelityMetric::Top1Mismatch: return "top1-mismatch";
    case FidelityMetric::AccuracyDrop: return "accuracy-drop";
  }
  return "?";
}

std::string metric_names() { return "rel-l2, max-abs, cosine-distance, top1-mismatch, accuracy-drop"; }

Expected<FidelityMetric> parse_metric(const std::string& name) {
  for (FidelityMetric m : {FidelityMetric::RelL2, FidelityMetric::MaxAbs, FidelityMetric::CosineDistance,
                           FidelityMetric::Top1Mismatch, FidelityMetric::AccuracyDrop})
    if (name == metric_name(m)) return m;
  return usage_error("--metric " + name + ": unknown metric (one of: " + metric_names() + ")");
}

bool breaks_tensor_limits(const ErrorMetrics& m, const FidelityLimits& l) {
  if (l.max_error) {
    double v = l.metric == FidelityMetric::RelL2            ? m.rel_l2_error
               : l.metric == FidelityMetric::MaxAbs         ? m.max_abs_error
               : l.metric == FidelityMetric::CosineDistance ? m.cosine_distance()
                                                            : 0;
    if (!(v <= *l.max_error)) return true;
  }
  return l.min_sqnr_db && !(m.sqnr_db >= *l.min_sqnr_db);
}

Expected<std::vector<LimitCheck>> check_fidelity_limits(const FidelityResult& r, const FidelityLimits& l) {
  std::vector<LimitCheck> out;
  auto add = [&](const std::string& output, const char* metric, double value, double limit, bool at_least) {
    LimitCheck c{output, metric, value, limit, at_least, at_least ? value >= limit : value <= limit};
    out.push_back(std::move(c));  // NaN fails either way
  };
  if (l.max_error) {
    switch (l.metric) {
      case FidelityMetric::RelL2: case FidelityMetric::MaxAbs: case FidelityMetric::CosineDistance:
        for (const OutputFidelity& o : r.outputs) {
          const ErrorMetrics& m = o.metrics;
          double v = l.metric == FidelityMetric::RelL2 ? m.rel_l2_error
                     : l.metric == FidelityMetric::MaxAbs ? m.max_abs_error : m.cosine_distance();
          add(o.name, metric_name(l.metric), v, *l.max_error, false);
        }
        break;
      case FidelityMetric::Top1Mismatch: {
        bool any = false;
        for (const OutputFidelity& o : r.outputs)
          if (o.classifier) {
            any = true;
            add(o.name, "top1-mismatch", 1 - o.top1_agreement(), *l.max_error, false);
          }
        if (!any)
          return usage_error("--metric top1-mismatch: no output is classifier-shaped ([N, C] or [C] floats, C >= 2)");
        break;
      }
      case FidelityMetric::AccuracyDrop:
        if (!r.accuracy || !r.accuracy->has_reference)
          return usage_error("--metric accuracy-drop needs labels.pb in the --data folders and a classifier-shaped output"
                             " of the reference");
        add(r.accuracy->output, "accuracy-drop", r.accuracy->drop(), *l.max_error, false);
        break;
    }
  }
  if (l.min_sqnr_db)
    for (const OutputFidelity& o : r.outputs) add(o.name, "sqnr", o.metrics.sqnr_db, *l.min_sqnr_db, true);
  if (l.min_accuracy) {
    if (!r.accuracy)
      return usage_error("--min-accuracy needs labels.pb in the --data folders and a classifier-shaped output");
    add(r.accuracy->output, "accuracy", r.accuracy->candidate(), *l.min_accuracy, true);
  }
  return out;
}

Status fidelity_limits_status(const std::vector<LimitCheck>& checks) {
  std::string msg;
  size_t failed = 0;
  for (const LimitCheck& c : checks) {
    if (c.passed) continue;
    ++failed;
    std::string flag = c.metric == std::string("sqnr")       ? "--min-sqnr"
                       : c.metric == std::string("accuracy") ? "--min-accuracy"
                                                             : "--max-error";
    msg += "\n  output '" + c.output + "': " + c.metric + " " + fmt(c.value) + (c.at_least ? " is below " : " exceeds ") +
           flag + " " + fmt(c.limit);
  }
  if (!failed) return ok();
  return make_error(ErrorKind::CheckFailed,
                    std::to_string(failed) + " fidelity limit" + (failed == 1 ? " is" : "s are") + " broken:" + msg);
}

// ---------------------------------------------------------------- running

namespace {

// A copy of the model's main graph (tensors shared, not copied) whose
// outputs are the original ones followed by `extra` values: how --per-node
// sees intermediates without touching the caller's model.
Expected<std::unique_ptr<Model>> with_extra_outputs(const Model& m, const std::vector<std::string>& extra,
                                                    std::vector<size_t>* extra_index) {
  auto out = std::make_unique<Model>();
  out->ir_version = m.ir_version;
  out->opset_imports = m.opset_imports;
  out->graph = std::make_unique<Graph>();
  const Graph& g = *m.graph;
  Graph& c = *out->graph;
  c.name = g.name;
  std::unordered_map<const Value*, Value*> map;
  auto val = [&](const Value* v) -> Value* {
    if (!v) return nullptr;
    auto it = map.find(v);
    if (it != map.end()) return it->second;
    Value* nv = c.create_value(v->name());
    nv->type = v->type;
    map[v] = nv;
    return nv;
  };
  if (!g.sparse_initializers().empty()) return invalid_model("--per-node: sparse initializers are not supported");
  for (const Value* v : g.initializers()) {
    auto t = std::make_shared<Tensor>(*v->initializer);  // shares the bytes
    t->name = v->name();
    Value* nv = c.add_initializer(t);
    nv->type = v->type;
    map[v] = nv;
  }
  for (const Value* v : g.inputs()) c.add_input(val(v));
  for (const auto& n : g.nodes()) {
    if (!n->subgraphs().empty())
      return invalid_model("--per-node: node '" + n->name + "' (" + n->op_type + ") has subgraphs, which are not supported");
    std::vector<Value*> ins;
    for (const Value* v : n->inputs()) ins.push_back(val(v));
    std::vector<std::string> names;
    for (const Value* v : n->outputs()) names.push_back(v ? v->name() : "");
    Node* nn = c.create_node(n->op_type, ins, names, n->domain);
    nn->name = n->name;
    for (const Attribute& a : n->attributes) nn->attributes.push_back(a.clone(&c));
    for (size_t i = 0; i < n->outputs().size(); ++i)
      if (const Value* v = n->output(i)) {
        nn->output(i)->type = v->type;
        map[v] = nn->output(i);
      }
  }
  for (const Value* v : g.outputs()) c.add_output(val(v));
  for (const std::string& name : extra) {
    Value* v = c.find_local(name);
    assert(v);
    auto it = std::find(c.outputs().begin(), c.outputs().end(), v);
    if (it != c.outputs().end()) {
      extra_index->push_back(static_cast<size_t>(it - c.outputs().begin()));
    } else {
      extra_index->push_back(c.outputs().size());
      c.add_output(v);
    }
  }
  return out;
}

std::vector<std::string> names_of(const std::vector<Value*>& vs) {
  std::vector<std::string> out;
  for (const Value* v : vs) out.push_back(v ? v->name() : "");
  return out;
}

// Position of each reference name in `cand`: by name when both sets agree,
// else by position when the counts do; nullopt otherwise.
std::optional<std::vector<size_t>> match_names(const std::vector<std::string>& ref, const std::vector<std::string>& cand) {
  std::set<std::string> a(ref.begin(), ref.end()), b(cand.begin(), cand.end());
  std::vector<size_t> out;
  if (a == b && a.size() == ref.size()) {
    for (const std::string& n : ref) out.push_back(static_cast<size_t>(std::find(cand.begin(), cand.end(), n) - cand.begin()));
    return out;
  }
  if (ref.size() != cand.size()) return std::nullopt;
  for (size_t i = 0; i < ref.size(); ++i) out.push_back(i);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The values of a floating-point tensor in another floating-point type (rounded once).
TensorValue cast_float(const TensorValue& t, DataType to) {
  assert(is_float_type(to));
  std::vector<double> v = exec::to_doubles(t);
  TensorValue out = TensorValue::allocate(to, t.dims());
  [[maybe_unused]] bool ok = encode_doubles(to, v, {out.mutable_raw(), static_cast<size_t>(out.byte_size())});
  assert(ok);
  return out;
}

struct OutputState {
  OutputFidelity f;
  ErrorAccumulator acc;
  std::optional<ClassifierShape> cls;
  bool seen = false;
};

struct Runner {
  const Model& ref_model;
  const Model* cand_model;  // null: against expected outputs
  const SampleSource& samples;
  const FidelityOptions& opts;
  const ReferenceOutputs* cached = nullptr;  // the reference's outputs, computed before

  Expected<FidelityResult> run() {
    FidelityResult r;
    r.against_expected = cand_model == nullptr;
    r.inputs = samples.describe();
    r.per_node = opts.per_node;
    const Graph& rg = *ref_model.graph;
    const Model& model = cand_model ? *cand_model : ref_model;  // the candidate
    const Graph& cg = *model.graph;
    std::vector<std::string> ref_outs = names_of(rg.outputs()), cand_outs = names_of(cg.outputs());

    // Output and input matching.
    std::vector<size_t> out_match(ref_outs.size());
    for (size_t i = 0; i < out_match.size(); ++i) out_match[i] = i;
    std::vector<size_t> in_match;
    std::vector<std::string> ref_ins, cand_ins;
    for (const Value* v : graph_inputs(rg)) ref_ins.push_back(v->name());
    std::vector<DataType> cand_in_types;
    bool cast_noted = false;
    for (const Value* v : graph_inputs(cg)) {
      cand_ins.push_back(v->name());
      cand_in_types.push_back(v->type.is_tensor() ? v->type.elem_type : DataType::Undefined);
    }
    if (cand_model) {
      auto om = match_names(ref_outs, cand_outs);
      if (!om)
        return invalid_model("the models' outputs do not correspond: reference (" + join(ref_outs) + ") vs candidate (" +
                             join(cand_outs) + ")");
      out_match = *om;
      auto im = match_names(ref_ins, cand_ins);
      if (!im)
        return invalid_model("the models' inputs do not correspond: reference (" + join(ref_ins) + ") vs candidate (" +
                             join(cand_ins) + ")");
      in_match = *im;
    }

    // Per-node: values produced in the reference that the candidate also has.
    std::vector<std::string> common;
    std::vector<const Node*> common_node;
    if (opts.per_node) {
      if (!cand_model) return usage_error("--per-node needs two models");
      std::set<std::string> seen;
      for (const auto& n : rg.nodes()) {
        if (n->op_type == "Constant" && is_onnx_domain(n->domain)) continue;
        for (const Value* v : n->outputs()) {
          if (!v || seen.count(v->name())) continue;
          const Value* cv = cg.find_local(v->name());
          if (!cv || (!cv->producer() && !cv->initializer) || cv->is_graph_input()) continue;
          seen.insert(v->name());
          common.push_back(v->name());
          common_node.push_back(n.get());
        }
      }
    }
    std::unique_ptr<Model> ref_copy, cand_copy;
    std::vector<size_t> ref_extra, cand_extra;
    const Model* ref_run = &ref_model;
    const Model* cand_run = cand_model;
    if (opts.per_node) {
      EFFOPT_TRY_ASSIGN(ref_copy, with_extra_outputs(ref_model, common, &ref_extra));
      EFFOPT_TRY_ASSIGN(cand_copy, with_extra_outputs(*cand_model, common, &cand_extra));
      ref_run = ref_copy.get();
      cand_run = cand_copy.get();
    }

    exec::RunOptions ro;
    ro.threads = std::max(1, opts.threads);
    ro.fold_batch_norm = false;  // both models as written: the difference is theirs, not the executor's
    std::unique_ptr<exec::Session> ref_session, cand_session;
    if (cand_model && !cached) {
      auto s = exec::Session::create(*ref_run, ro);
      if (!s) return with_context(std::move(s).error(), ("reference model"));
      ref_session = std::move(*s);
    }
    {
      auto s = exec::Session::create(cand_model ? *cand_run : ref_model, ro);
      if (!s) return with_context(std::move(s).error(), (cand_model ? "candidate model" : "model"));
      cand_session = std::move(*s);
    }

    std::vector<OutputState> outs(ref_outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      outs[i].f.name = ref_outs[i];
      outs[i].f.candidate_name = cand_outs[out_match[i]];
    }
    std::vector<ErrorAccumulator> value_acc(common.size());
    r.values.resize(common.size());
    for (size_t i = 0; i < common.size(); ++i) {
      r.values[i].value = common[i];
      r.values[i].node = common_node[i]->name;
      r.values[i].op_type = common_node[i]->op_type;
      r.values[i].node_index = rg.index_of(common_node[i]);
    }
    std::optional<AccuracyResult> acc;
    bool labels_seen = false;

    for (size_t si = 0; si < samples.size(); ++si) {
      EFFOPT_TRY_ASSIGN(Sample s, samples.load(si));
      r.sample_labels.push_back(s.label);
      for (auto& w : s.warnings) r.warnings.push_back(w);
      std::vector<TensorValue> ref_vals, cand_vals;
      std::vector<bool> have_ref(ref_outs.size(), true);
      if (cand_model) {
        if (cached) {
          if (si >= cached->outputs.size()) return internal_error("the reference outputs hold fewer samples than the source");
          ref_vals = cached->outputs[si];
        } else {
          auto rv = ref_session->run(s.inputs);
          if (!rv) return with_context(std::move(rv).error(), ("reference model on " + s.label));
          ref_vals = std::move(*rv);
        }
        std::vector<std::pair<std::string, TensorValue>> cin;
        for (size_t k = 0; k < s.inputs.size(); ++k) {
          size_t ri = static_cast<size_t>(std::find(ref_ins.begin(), ref_ins.end(), s.inputs[k].first) - ref_ins.begin());
          const TensorValue& t = s.inputs[k].second;
          if (ri >= ref_ins.size()) { cin.emplace_back(s.inputs[k].first, t); continue; }
          const size_t ci = in_match[ri];
          // A candidate converted to another float type (fp16) gets the same values in its own type.
          const DataType want = cand_in_types[ci];
          if (want != t.dtype() && is_float_type(want) && is_float_type(t.dtype())) {
            cin.emplace_back(cand_ins[ci], cast_float(t, want));
            if (!cast_noted) {
              r.warnings.push_back("the candidate's input '" + cand_ins[ci] + "' is " + data_type_name(want) +
                                   ": the inputs are converted to it");
              cast_noted = true;
            }
          } else {
            cin.emplace_back(cand_ins[ci], t);
          }
        }
        auto cv = cand_session->run(cin);
        if (!cv) return with_context(std::move(cv).error(), ("candidate model on " + s.label));
        cand_vals = std::move(*cv);
      } else {
        auto cv = cand_session->run(s.inputs);
        if (!cv) return with_context(std::move(cv).error(), (s.label));
        cand_vals = std::move(*cv);
        ref_vals.resize(ref_outs.size());
        for (size_t k = 0; k < ref_outs.size(); ++k) {
          if (k < s.expected.size() && s.expected[k]) ref_vals[k] = *s.expected[k];
          else have_ref[k] = false;
        }
      }

      // Graph outputs.
      for (size_t k = 0; k < ref_outs.size(); ++k) {
        OutputState& o = outs[k];
        if (!have_ref[k]) continue;
        const TensorValue& a = ref_vals[k];
        const TensorValue& b = cand_vals[out_match[k]];
        if (a.dims() != b.dims()) {
          std::string where = cand_model ? "the reference and the candidate" : "the expected output (" + s.expected_files[k] +
                                                                                   ") and the model";
          return make_error(ErrorKind::CheckFailed, "output '" + o.f.name + "' on " + s.label + " has shape " +
                                                        exec::dims_to_string(a.dims()) + " vs " +
                                                        exec::dims_to_string(b.dims()) + " in " + where);
        }
        if (!o.seen) {
          o.seen = true;
          o.f.dtype = a.dtype();
          o.f.dims = a.dims();
          o.cls = exec::classifier_shape(a.dtype(), a.dims());
          o.f.classifier = o.cls.has_value();
        }
        o.acc.add(a, b);
        ErrorAccumulator one;
        one.add(a, b);
        double rel = one.metrics().rel_l2_error;
        // NaN (an undefined error) counts as the worst.
        bool worse = o.f.samples == 0 || (!std::isnan(o.f.worst_sample_rel_l2) &&
                                          (std::isnan(rel) || rel > o.f.worst_sample_rel_l2));
        if (worse) {
          o.f.worst_sample_rel_l2 = rel;
          o.f.worst_sample = si;
        }
        ++o.f.samples;
        if (o.f.classifier) {
          auto cs = exec::classifier_shape(a.dtype(), a.dims());
          if (cs) {
            auto ta = exec::top1(a, *cs), tb = exec::top1(b, *cs);
            o.f.rows += cs->rows;
            for (size_t q = 0; q < ta.size(); ++q) o.f.top1_matches += ta[q] == tb[q];
          }
        }
      }

      // Accuracy on labels: the first classifier-shaped output.
      if (s.labels) {
        labels_seen = true;
        size_t k = ref_outs.size();
        for (size_t q = 0; q < outs.size() && k == ref_outs.size(); ++q)
          if (outs[q].f.classifier) k = q;
        if (k == ref_outs.size()) {
          // The candidate's outputs may still be classifier-shaped when the reference has no expected file.
          for (size_t q = 0; q < ref_outs.size() && k == ref_outs.size(); ++q) {
            const TensorValue& b = cand_vals[out_match[q]];
            if (exec::classifier_shape(b.dtype(), b.dims())) k = q;
          }
        }
        if (k < ref_outs.size()) {
          const TensorValue& b = cand_vals[out_match[k]];
          auto cs = exec::classifier_shape(b.dtype(), b.dims());
          if (!cs) return usage_error(s.label + ": output '" + ref_outs[k] + "' is not classifier-shaped here (" +
                                      exec::dims_to_string(b.dims()) + ")");
          const TensorValue& lab = *s.labels;
          if (lab.element_count() != cs->rows)
            return usage_error(s.labels_file + ": " + std::to_string(lab.element_count()) + " labels, but output '" +
                               ref_outs[k] + "' has " + std::to_string(cs->rows) + " rows " +
                               exec::dims_to_string(b.dims()));
          std::vector<double> labels = exec::to_doubles(lab);
          if (!acc) {
            acc = AccuracyResult{};
            acc->output = ref_outs[k];
            acc->has_reference = true;
          }
          auto tb = exec::top1(b, *cs);
          for (size_t q = 0; q < tb.size(); ++q) acc->candidate_correct += static_cast<double>(tb[q]) == labels[q];
          if (have_ref[k]) {
            auto ta = exec::top1(ref_vals[k], *cs);
            for (size_t q = 0; q < ta.size(); ++q) acc->reference_correct += static_cast<double>(ta[q]) == labels[q];
          } else {
            acc->has_reference = false;
          }
          acc->rows += cs->rows;
        }
      }

      // Per-node values.
      for (size_t v = 0; v < common.size(); ++v) {
        ValueFidelity& vf = r.values[v];
        if (!vf.skipped.empty()) continue;
        const TensorValue& a = ref_vals[ref_extra[v]];
        const TensorValue& b = cand_vals[cand_extra[v]];
        if (a.dims() != b.dims()) {
          vf.skipped = "shapes differ: " + exec::dims_to_string(a.dims()) + " vs " + exec::dims_to_string(b.dims());
          continue;
        }
        // A float value against an integer one (a quantized tensor of the same name) has no common scale.
        if (is_float_type(a.dtype()) != is_float_type(b.dtype())) {
          vf.skipped = std::string("types differ: ") + data_type_name(a.dtype()) + " vs " + data_type_name(b.dtype());
          continue;
        }
        if (vf.dims.empty() && vf.dtype == DataType::Undefined) {
          vf.dtype = a.dtype();
          vf.dims = a.dims();
        }
        value_acc[v].add(a, b);
      }
    }

    for (size_t k = 0; k < outs.size(); ++k) {
      OutputState& o = outs[k];
      if (!o.seen) {
        std::string why = "no expected output file (output_" + std::to_string(k) + ".pb) in any sample";
        r.skipped_outputs.emplace_back(o.f.name, why);
        continue;
      }
      if (o.f.samples < samples.size())
        r.warnings.push_back("output '" + o.f.name + "' was compared on " + std::to_string(o.f.samples) + " of " +
                             std::to_string(samples.size()) + " samples (the others have no expected file)");
      o.f.metrics = o.acc.metrics();
      r.outputs.push_back(std::move(o.f));
    }
    if (labels_seen && !acc) r.warnings.push_back("labels.pb ignored: no output is classifier-shaped ([N, C] or [C], C >= 2)");
    r.accuracy = acc;
    bool marked = false;
    for (size_t v = 0; v < r.values.size(); ++v) {
      ValueFidelity& vf = r.values[v];
      if (!vf.skipped.empty()) continue;
      vf.metrics = value_acc[v].metrics();
      vf.over_limit = breaks_tensor_limits(vf.metrics, opts.limits);
      if (vf.over_limit && !marked) vf.first_over_limit = marked = true;
    }
    return r;
  }
};

}  // namespace

Expected<FidelityResult> compare_models(const Model& reference, const Model& candidate, const SampleSource& samples,
                                        const FidelityOptions& opts) {
  Runner run{reference, &candidate, samples, opts};
  try {
    return run.run();
  } catch (const std::bad_alloc&) {
    return io_error("out of memory while comparing the models");
  }
}

Expected<ReferenceOutputs> reference_outputs(const Model& reference, const SampleSource& samples,
                                             const FidelityOptions& opts) {
  ReferenceOutputs out;
  out.model = &reference;
  out.samples = &samples;
  exec::RunOptions ro;
  ro.threads = std::max(1, opts.threads);
  ro.fold_batch_norm = false;  // as compare_models runs it
  auto session = exec::Session::create(reference, ro);
  if (!session) return with_context(std::move(session).error(), "reference model");
  try {
    for (size_t i = 0; i < samples.size(); ++i) {
      EFFOPT_TRY_ASSIGN(Sample s, samples.load(i));
      auto r = (*session)->run(s.inputs);
      if (!r) return with_context(std::move(r).error(), "reference model on " + s.label);
      out.outputs.push_back(std::move(*r));
    }
  } catch (const std::bad_alloc&) {
    return io_error("out of memory while keeping the reference model's outputs");
  }
  return out;
}

Expected<FidelityResult> compare_to_reference(const ReferenceOutputs& reference, const Model& candidate,
                                              const FidelityOptions& opts) {
  if (opts.per_node) return usage_error("--per-node is not available against stored reference outputs");
  assert(reference.model && reference.samples);
  Runner run{*reference.model, &candidate, *reference.samples, opts, &reference};
  try {
    return run.run();
  } catch (const std::bad_alloc&) {
    return io_error("out of memory while comparing the models");
  }
}

Expected<FidelityResult> compare_to_expected(const Model& model, const SampleSource& samples,
                                             const FidelityOptions& opts) {
  if (opts.per_node) return usage_error("--per-node needs two models");
  Runner run{model, nullptr, samples, opts};
  try {
    return run.run();
  } catch (const std::bad_alloc&) {
    return io_error("out of memory while running the model");
  }
}

}  // namespace effopt
