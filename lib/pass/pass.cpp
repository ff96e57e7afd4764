#include "pass/pass.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "ir/constants.h"
#include "pass/pipeline.h"
#include "support/mapped_file.h"

namespace effopt::pass {

namespace {

const char* type_name(OptionType t) {
  switch (t) {
    case OptionType::Bool: return "a boolean (true or false)";
    case OptionType::Int: return "an integer";
    case OptionType::Float: return "a number";
    case OptionType::String: return "a string";
    case OptionType::Enum: return "one of";
    case OptionType::File: return "a file path";
    case OptionType::Files: return "a list of file paths separated by ';'";
  }
  return "?";
}

bool parse_int(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_float(std::string_view s, double& out) {
  if (s.empty()) return false;
  std::string tmp(s);
  char* end = nullptr;
  out = std::strtod(tmp.c_str(), &end);
  return end == tmp.c_str() + tmp.size() && std::isfinite(out);
}

std::string fmt_bound(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return std::to_string(v);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

Status check_option_value(const OptionSpec& spec, std::string_view value) {
  auto bad = [&](const std::string& what) {
    return usage_error("option '" + spec.name + "': '" + std::string(value) + "' is not " + what);
  };
  switch (spec.type) {
    case OptionType::Bool:
      if (value != "true" && value != "false") return bad(type_name(spec.type));
      return ok();
    case OptionType::Int: {
      int64_t v = 0;
      if (!parse_int(value, v)) return bad(type_name(spec.type));
      if (static_cast<double>(v) < spec.min || static_cast<double>(v) > spec.max)
        return bad("in the range " + fmt_bound(spec.min) + ".." + fmt_bound(spec.max));
      return ok();
    }
    case OptionType::Float: {
      double v = 0;
      if (!parse_float(value, v)) return bad(type_name(spec.type));
      if (v < spec.min || v > spec.max) return bad("in the range " + fmt_bound(spec.min) + ".." + fmt_bound(spec.max));
      return ok();
    }
    case OptionType::String: return ok();
    case OptionType::File: return ok();  // "" = no file; the pass says whether it needs one
    case OptionType::Files:
      for (const std::string& f : split_file_list(std::string(value)))
        if (f.empty()) return bad("a list of file paths (an empty entry between ';')");
      return ok();
    case OptionType::Enum: {
      if (std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end()) return ok();
      std::string list;
      for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
      return bad(std::string("one of ") + list);
    }
  }
  return ok();
}

PassOptions::PassOptions(const std::vector<OptionSpec>* specs) : specs_(specs) {
  for (const OptionSpec& s : *specs) values_.emplace_back(s.name, s.default_value);
}

Status PassOptions::set(std::string_view name, std::string_view value) {
  if (specs_)
    for (size_t i = 0; i < specs_->size(); ++i)
      if ((*specs_)[i].name == name) {
        EFFOPT_TRY(check_option_value((*specs_)[i], value));
        values_[i].second = std::string(value);
        return ok();
      }
  std::string list;
  if (specs_)
    for (const auto& s : *specs_) list += (list.empty() ? "" : ", ") + s.name;
  return usage_error("unknown option '" + std::string(name) + "' (" +
                     (list.empty() ? std::string("this pass has no options") : "valid options: " + list) + ")");
}

const std::string* PassOptions::find(std::string_view name) const {
  for (const auto& [k, v] : values_)
    if (k == name) return &v;
  return nullptr;
}

bool PassOptions::get_bool(std::string_view name) const {
  const std::string* v = find(name);
  assert(v && "unknown pass option");
  return *v == "true";
}

int64_t PassOptions::get_int(std::string_view name) const {
  const std::string* v = find(name);
  assert(v && "unknown pass option");
  int64_t out = 0;
  [[maybe_unused]] bool parsed = parse_int(*v, out);
  assert(parsed);
  return out;
}

double PassOptions::get_float(std::string_view name) const {
  const std::string* v = find(name);
  assert(v && "unknown pass option");
  double out = 0;
  [[maybe_unused]] bool parsed = parse_float(*v, out);
  assert(parsed);
  return out;
}

const std::string& PassOptions::get_string(std::string_view name) const {
  const std::string* v = find(name);
  assert(v && "unknown pass option");
  return *v;
}

std::string PassOptions::print() const {
  std::string out;
  for (const auto& [k, v] : values_) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

Expected<std::string> read_option_file(const PassOptions& options, std::string_view name) {
  const std::string& value = options.get_string(name);
  if (value.empty()) return usage_error("option '" + std::string(name) + "' names no file");
  std::string path = split_file_value(value).first;
  auto f = MappedFile::open(path);
  if (!f) return std::move(f).error().context("option '" + std::string(name) + "'");
  return std::string(reinterpret_cast<const char*>((*f)->data()), static_cast<size_t>((*f)->size()));
}

void PassResult::count(std::string_view counter, int64_t n) {
  for (auto& [k, v] : counters)
    if (k == counter) {
      v += n;
      return;
    }
  counters.emplace_back(std::string(counter), n);
}

int64_t PassResult::counter(std::string_view name) const {
  for (const auto& [k, v] : counters)
    if (k == name) return v;
  return 0;
}

void PassResult::merge(const PassResult& other) {
  changed = changed || other.changed;
  if (other.quality_guard) quality_guard = other.quality_guard;
  for (const auto& [k, v] : other.counters) count(k, v);
  notes.insert(notes.end(), other.notes.begin(), other.notes.end());
}

std::vector<std::string> split_file_list(const std::string& value) {
  std::vector<std::string> out;
  if (value.empty()) return out;
  for (size_t start = 0;;) {
    size_t end = value.find(';', start);
    out.push_back(value.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

std::string join_file_list(const std::vector<std::string>& paths) {
  std::string out;
  for (const std::string& p : paths) out += (out.empty() ? "" : ";") + p;
  return out;
}

std::vector<OptionSpec> calibration_data_options() {
  std::vector<OptionSpec> specs(2);
  specs[0] = {"calibration", OptionType::Files, "",
              "calibration data files (--calibration fills it; recorded as NAME@sha256)", {}};
  specs[0].data = DataOption::Calibration;
  specs[1] = {"calibration-samples", OptionType::Int, "0",
              "rows of the calibration data used (batches are split into rows); 0 = all", {}, 0, 1e15};
  specs[1].data = DataOption::CalibrationSamples;
  return specs;
}

std::vector<OptionSpec> evaluation_data_options() {
  std::vector<OptionSpec> specs(4);
  specs[0] = {"data", OptionType::Files, "",
              "the quality guard's data files (--data fills it; recorded as NAME@sha256)", {}};
  specs[0].data = DataOption::Evaluation;
  specs[1] = {"random", OptionType::Int, "0", "the quality guard's seeded random samples (--random); 0 = none", {},
              0, 1000000};
  specs[1].data = DataOption::Random;
  specs[2] = {"seed", OptionType::Int, "0", "seed of the random samples (--seed)", {}, 0, 9.2e18};
  specs[2].data = DataOption::Seed;
  specs[3] = {"range", OptionType::String, "", "value range of the random samples (--range, ';'-separated)", {}};
  specs[3].data = DataOption::Range;
  return specs;
}

int64_t PassContext::opset(std::string_view domain) const {
  const std::vector<OpsetImport>& imports = opset_imports ? *opset_imports : model.opset_imports;
  for (const OpsetImport& o : imports)
    if (o.domain == domain || (is_onnx_domain(o.domain) && is_onnx_domain(domain))) return o.version;
  return 0;
}

void PassRegistry::add(PassInfo info) {
  assert(!find(info.name) && "pass registered twice");
  assert(static_cast<bool>(info.run_on_graph) != static_cast<bool>(info.run_on_model));
  passes_.push_back(std::make_unique<PassInfo>(std::move(info)));
}

const PassInfo* PassRegistry::find(std::string_view name) const {
  for (const auto& p : passes_)
    if (p->name == name) return p.get();
  return nullptr;
}

std::vector<const PassInfo*> PassRegistry::all() const {
  std::vector<const PassInfo*> out;
  for (const auto& p : passes_) out.push_back(p.get());
  std::sort(out.begin(), out.end(), [](const PassInfo* a, const PassInfo* b) { return a->name < b->name; });
  return out;
}

bool PassRegistry::remove(std::string_view name) {
  for (auto it = passes_.begin(); it != passes_.end(); ++it)
    if ((*it)->name == name) {
      passes_.erase(it);
      return true;
    }
  return false;
}

std::string PassRegistry::nearest(std::string_view name) const {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& p : passes_) {
    size_t d = edit_distance(name, p->name);
    if (d < best_d) best_d = d, best = p->name;
  }
  return best;
}

Pinned::Pinned(const Graph& g) {
  std::function<void(const Graph&)> walk = [&](const Graph& inner) {
    for (const Value* o : inner.outputs())
      if (o && o->graph() != &inner) outer_.insert(o);
    for (const auto& n : inner.nodes())
      for (const Graph* sg : n->subgraphs()) walk(*sg);
  };
  for (const auto& n : g.nodes())
    for (const Graph* sg : n->subgraphs()) walk(*sg);
}

size_t allow_plain_initializers(Model& m) {
  if (m.ir_version >= 4 || !m.graph) return 0;
  size_t n = detach_initializer_inputs(*m.graph);
  m.ir_version = 4;
  return n;
}

namespace {

// Subgraphs before their parent graph, so a rewrite of a node sees its bodies
// already simplified.
Status apply_to_graph_tree(const PassInfo& info, Graph& g, PassContext& ctx, PassResult& total) {
  for (const auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) EFFOPT_TRY(apply_to_graph_tree(info, *sg, ctx, total));
  Pinned pinned(g);
  ctx.pinned = &pinned;
  auto r = info.run_on_graph(g, ctx);
  ctx.pinned = nullptr;
  if (!r) return std::move(r).error();
  total.merge(*r);
  return ok();
}

bool lists_initializer_inputs(const Graph& g) {
  for (const Value* v : g.inputs())
    if (v->initializer || v->sparse_initializer) return true;
  return false;
}

}  // namespace

Expected<PassResult> apply_pass(const PassInfo& info, Model& model, const PassOptions& options, int threads,
                                const PassSamples* samples) {
  PassContext ctx{model, options, threads, nullptr};
  ctx.samples = samples;
  PassResult total;
  if (info.run_on_model) {
    auto r = info.run_on_model(model, ctx);
    if (!r) return std::move(r).error();
    return std::move(*r);
  }
  if (!model.graph) return invalid_model("the model has no graph");
  int64_t ir_version = model.ir_version;
  if (model.ir_version < 4 && lists_initializer_inputs(*model.graph)) {
    total.count("initializer-inputs-detached", static_cast<int64_t>(allow_plain_initializers(model)));
    total.changed = true;
  }
  EFFOPT_TRY(apply_to_graph_tree(info, *model.graph, ctx, total));
  for (Function& f : model.functions) {
    if (!f.body) continue;
    ctx.opset_imports = &f.opset_imports;
    auto st = apply_to_graph_tree(info, *f.body, ctx, total);
    ctx.opset_imports = nullptr;
    if (!st) return std::move(st).error().context("in function '" + f.name + "'");
  }
  if (model.ir_version != ir_version) {
    total.count("ir-version-raised");
    total.changed = true;
  }
  return total;
}

}  // namespace effopt::pass
