// prune{sparsity=S granularity=element|channel|n:m ...}: magnitude pruning of Conv / Gemm / MatMul weights.
#include "passes/prune.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>

#include "analysis/quality_guard.h"
#include "onnx/model_io.h"
#include "passes/pass_guard.h"
#include "passes/pass_util.h"
#include "passes/prune_channel.h"
#include "passes/passes.h"
#include "passes/quantize.h"

namespace effopt::passes {

namespace prune {

namespace {

using util::node_label;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      size_t b = cur.find_first_not_of(' '), e = cur.find_last_not_of(' ');
      if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

bool is_prunable_float(DataType t) {
  return t == DataType::Float || t == DataType::Float16 || t == DataType::BFloat16 || t == DataType::Double;
}

std::string fixed(double x, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// The magnitude order: smaller |w| first, then lower position (deterministic ties).
struct ByMagnitude {
  const std::vector<float>* mag;
  bool operator()(uint32_t a, uint32_t b) const {
    float x = (*mag)[a], y = (*mag)[b];
    return x < y || (x == y && a < b);
  }
};

std::vector<float> magnitudes(const Tensor& t) {
  std::vector<float> w = quant::tensor_floats(t);
  for (float& x : w) x = std::isnan(x) ? INFINITY : std::fabs(x);  // NaN is never pruned
  return w;
}

// Positions to zero in one layer.
std::vector<bool> element_mask(const std::vector<float>& mag, uint64_t k) {
  std::vector<bool> zero(mag.size(), false);
  if (k == 0) return zero;
  std::vector<uint32_t> idx(mag.size());
  std::iota(idx.begin(), idx.end(), 0u);
  k = std::min<uint64_t>(k, mag.size());
  std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k - 1), idx.end(), ByMagnitude{&mag});
  for (uint64_t i = 0; i < k; ++i) zero[idx[i]] = true;
  return zero;
}

// N:M along `axis` of a tensor with `dims`: in every group of m consecutive
// positions along the axis (at each position of the other axes), all but the
// n largest magnitudes.
std::vector<bool> nm_mask(const std::vector<float>& mag, const std::vector<int64_t>& dims, int64_t axis, int64_t n,
                          int64_t m) {
  std::vector<bool> zero(mag.size(), false);
  uint64_t len = static_cast<uint64_t>(dims[static_cast<size_t>(axis)]);
  uint64_t inner = 1, outer = 1;
  for (size_t i = static_cast<size_t>(axis) + 1; i < dims.size(); ++i) inner *= static_cast<uint64_t>(dims[i]);
  for (size_t i = 0; i < static_cast<size_t>(axis); ++i) outer *= static_cast<uint64_t>(dims[i]);
  std::vector<uint32_t> group(static_cast<size_t>(m));
  for (uint64_t o = 0; o < outer; ++o)
    for (uint64_t g0 = 0; g0 < len; g0 += static_cast<uint64_t>(m))
      for (uint64_t in = 0; in < inner; ++in) {
        for (int64_t j = 0; j < m; ++j)
          group[static_cast<size_t>(j)] = static_cast<uint32_t>((o * len + g0 + static_cast<uint64_t>(j)) * inner + in);
        // Smallest magnitude first: all but the last n are zeroed.
        std::sort(group.begin(), group.end(), ByMagnitude{&mag});
        for (int64_t j = 0; j < m - n; ++j) zero[group[static_cast<size_t>(j)]] = true;
      }
  return zero;
}

// A copy of `t` with the masked elements set to zero (all-zero bytes are +0
// in every float type).
TensorPtr zeroed_copy(const Tensor& t, const std::vector<bool>& zero) {
  size_t es = static_cast<size_t>(data_type_bits(t.data_type) / 8);
  std::vector<std::byte> bytes(t.bytes().begin(), t.bytes().end());
  for (size_t i = 0; i < zero.size(); ++i)
    if (zero[i]) std::memset(bytes.data() + i * es, 0, es);
  auto nt = std::make_shared<Tensor>();
  nt->name = t.name;
  nt->doc_string = t.doc_string;
  nt->data_type = t.data_type;
  nt->dims = t.dims;
  nt->set_bytes(std::move(bytes));
  return nt;
}

uint64_t count_zeros(const std::vector<float>& mag) {
  return static_cast<uint64_t>(std::count(mag.begin(), mag.end(), 0.0f));
}

// Every stored constant of the model by (scope, name).
std::map<std::pair<std::string, std::string>, util::StoredConstant> constants_by_name(Model& m) {
  std::map<std::pair<std::string, std::string>, util::StoredConstant> out;
  for (const util::StoredConstant& c : util::stored_constants(*m.graph))
    out.emplace(std::make_pair(quant::scope_of(*c.graph), c.value->name()), c);
  return out;
}

void store(const util::StoredConstant& c, TensorPtr t) {
  if (c.value->initializer) {
    c.value->initializer = std::move(t);
    return;
  }
  Node* p = c.value->producer();
  Attribute* a = p ? p->attr("value") : nullptr;
  assert(a && a->type == AttrType::Tensor);
  a->t = std::move(t);
}

}  // namespace

Expected<Options> parse_options(const pass::PassOptions& po) {
  Options o;
  const std::string& g = po.get_string("granularity");
  o.granularity = g == "channel" ? Granularity::Channel : g == "n:m" ? Granularity::NM : Granularity::Element;
  const std::string& s = po.get_string("sparsity");
  if (o.granularity == Granularity::NM) {
    if (s != "auto")
      return usage_error("prune: sparsity=" + s + " with granularity=n:m: N:M fixes the sparsity (1 - N/M); "
                         "set n-m instead");
  } else if (s != "auto") {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end || !(v >= 0 && v < 1))
      return usage_error("prune: sparsity '" + s + "' is not a fraction in [0, 1) (e.g. 0.5)");
    o.sparsity = v;
  }
  const std::string& nm = po.get_string("n-m");
  {
    size_t colon = nm.find(':');
    char *e1 = nullptr, *e2 = nullptr;
    std::string a = nm.substr(0, colon), b = colon == std::string::npos ? "" : nm.substr(colon + 1);
    long long n = std::strtoll(a.c_str(), &e1, 10), m = std::strtoll(b.c_str(), &e2, 10);
    if (colon == std::string::npos || a.empty() || b.empty() || *e1 || *e2 || n < 1 || m < 2 || n >= m || m > 64)
      return usage_error("prune: n-m '" + nm + "' is not N:M with 1 <= N < M <= 64 (e.g. 2:4)");
    o.n = n;
    o.m = m;
  }
  const std::string& sc = po.get_string("scope");
  if (sc == "auto") {
    o.scope = o.granularity == Granularity::Element ? Scope::Global : Scope::Layer;
    if (o.granularity != Granularity::NM)
      o.auto_notes.push_back(std::string("scope=auto: ") + (o.scope == Scope::Global ? "global" : "layer") +
                             " (granularity " + g + ")");
  } else {
    o.scope = sc == "global" ? Scope::Global : Scope::Layer;
  }
  o.criterion = po.get_string("criterion") == "l2" ? Criterion::L2 : Criterion::L1;
  for (const std::string& op : split_list(po.get_string("op-types"))) o.op_types.insert(op);
  if (o.op_types.empty()) return usage_error("prune: op-types lists no op");
  for (const std::string& op : o.op_types)
    if (op != "Conv" && op != "Gemm" && op != "MatMul")
      return usage_error("prune: op-types: '" + op + "' is not an op prune knows (Conv, Gemm, MatMul)");
  for (const std::string& op : split_list(po.get_string("exclude-op"))) o.exclude_ops.insert(op);
  const std::string& ex = po.get_string("exclude-node");
  if (!ex.empty()) {
    try {
      o.exclude_node = std::regex(ex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return usage_error("prune: exclude-node '" + ex + "' is not a regular expression: " + e.what());
    }
  }
  o.min_size = po.get_int("min-size");
  return o;
}

Expected<PrunePlan> make_prune_plan(Model& m, const Options& o) {
  PrunePlan plan;
  // constant_uses applies op-types, exclude-op and exclude-node as quantize does.
  quant::Options qo;
  qo.op_types = o.op_types;
  qo.exclude_ops = o.exclude_ops;
  qo.exclude_node = o.exclude_node;
  uint64_t under_min = 0;
  std::map<const Node*, size_t> node_index;
  for (size_t i = 0; i < m.graph->nodes().size(); ++i) node_index[m.graph->nodes()[i].get()] = i;
  for (const util::StoredConstant& c : util::stored_constants(*m.graph)) {
    const Tensor& t = *c.tensor;
    if (!is_prunable_float(t.data_type) || t.dims.size() < 2) continue;
    auto count = t.element_count();
    if (!count || *count == 0) continue;
    std::vector<quant::ConstantUse> uses = quant::constant_uses(m, c.value, t.dims, qo);
    if (uses.empty()) continue;
    std::string label = "weight '" + c.value->name() + "'";
    std::string why;
    std::string readers;
    int64_t axis = -2;  // -2: not set yet
    for (const quant::ConstantUse& u : uses) {
      if (u.role == quant::ConstantUse::Role::NeedsFloat || u.role == quant::ConstantUse::Role::Excluded) {
        why = u.why;
        break;
      }
      const std::string& op = u.node->op_type;
      bool weight_slot = u.role == quant::ConstantUse::Role::Weight && u.input == 1 &&
                         (op == "Conv" || op == "Gemm" || op == "MatMul");
      if (!weight_slot) {
        why = "read by " + node_label(*u.node) + " input " + std::to_string(u.input) + ", not a prunable weight";
        break;
      }
      if (op == "Conv" && u.node->attr_int("group", 1) > 1 && t.dims.size() >= 2 && t.dims[1] == 1) {
        why = "read by " + node_label(*u.node) + ", a depthwise convolution (one weight per input channel)";
        break;
      }
      int64_t k = -1;
      if (op == "Conv") k = u.direct ? 1 : -1;
      else if (u.k_axis) k = *u.k_axis;
      axis = axis == -2 || axis == k ? k : -1;
      std::string r = node_label(*u.node);
      if (readers.find(r) == std::string::npos) readers += (readers.empty() ? "" : ", ") + r;
    }
    if (!why.empty()) {
      if (*count >= static_cast<uint64_t>(o.min_size)) plan.notes.push_back(label + ": left dense: " + why);
      continue;
    }
    if (*count < static_cast<uint64_t>(o.min_size)) {
      ++under_min;
      continue;
    }
    if (!quant::all_finite(t)) {
      plan.notes.push_back(label + ": left dense: it holds inf or NaN");
      continue;
    }
    LayerPlan lp;
    lp.scope = quant::scope_of(*c.graph);
    lp.name = c.value->name();
    lp.readers = readers;
    lp.dims = t.dims;
    lp.elements = *count;
    lp.reduction_axis = axis < 0 ? -1 : axis;
    for (const quant::ConstantUse& u : uses)
      if (auto at = node_index.find(u.node); at != node_index.end() &&
                                             std::find(lp.reader_nodes.begin(), lp.reader_nodes.end(), at->second) ==
                                                 lp.reader_nodes.end())
        lp.reader_nodes.push_back(at->second);
    if (o.granularity == Granularity::NM) {
      if (lp.reduction_axis < 0) {
        plan.notes.push_back(label + ": left dense under n:m: its readers have no single reduction axis");
        continue;
      }
      int64_t len = t.dims[static_cast<size_t>(lp.reduction_axis)];
      if (len % o.m) {
        plan.notes.push_back(label + " (" + readers + "): skipped under n:m: its reduction length " +
                             std::to_string(len) + " (axis " + std::to_string(lp.reduction_axis) +
                             ") is not a multiple of " + std::to_string(o.m));
        continue;
      }
      lp.target = 1.0 - static_cast<double>(o.n) / static_cast<double>(o.m);
    } else {
      lp.target = o.sparsity;
    }
    plan.layers.push_back(std::move(lp));
  }
  if (under_min)
    plan.notes.push_back(std::to_string(under_min) + " prunable weights under min-size (" +
                         std::to_string(o.min_size) + " elements) left dense");
  if (o.granularity == Granularity::Element && o.scope == Scope::Global && !plan.layers.empty()) {
    // One threshold over every layer: the k-th smallest magnitude of all of them.
    auto consts = constants_by_name(m);
    std::vector<std::vector<float>> mags;
    uint64_t total = 0;
    for (const LayerPlan& lp : plan.layers) {
      mags.push_back(magnitudes(*consts.at({lp.scope, lp.name}).tensor));
      total += lp.elements;
    }
    uint64_t k = static_cast<uint64_t>(std::llround(o.sparsity * static_cast<double>(total)));
    if (k > 0) {
      std::vector<float> all;
      all.reserve(total);
      for (const auto& v : mags) all.insert(all.end(), v.begin(), v.end());
      std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k - 1), all.end());
      float thr = all[k - 1];
      std::vector<uint64_t> below(mags.size()), equal(mags.size());
      uint64_t taken = 0;
      for (size_t i = 0; i < mags.size(); ++i) {
        for (float x : mags[i]) {
          if (x < thr) ++below[i];
          else if (x == thr) ++equal[i];
        }
        taken += below[i];
      }
      // Ties at the threshold go to the layers in plan order.
      for (size_t i = 0; i < mags.size(); ++i) {
        uint64_t extra = std::min(equal[i], k - taken);
        taken += extra;
        plan.layers[i].target =
            static_cast<double>(below[i] + extra) / static_cast<double>(plan.layers[i].elements);
      }
    } else {
      for (LayerPlan& lp : plan.layers) lp.target = 0;
    }
  }
  return plan;
}

Status apply_prune_plan(Model& m, const PrunePlan& plan, const std::vector<double>& targets, const Options& o,
                        pass::PassResult* r) {
  assert(targets.size() == plan.layers.size());
  auto consts = constants_by_name(m);
  uint64_t elements = 0, zeros_before = 0, zeros_after = 0, pruned = 0;
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    const LayerPlan& lp = plan.layers[i];
    auto it = consts.find({lp.scope, lp.name});
    if (it == consts.end())
      return make_error(ErrorKind::Internal, "prune: the plan's weight '" + lp.name + "' is not in the model");
    const Tensor& t = *it->second.tensor;
    std::vector<float> mag = magnitudes(t);
    uint64_t before = count_zeros(mag);
    double target = std::clamp(targets[i], 0.0, 1.0);
    std::vector<bool> zero;
    if (o.granularity == Granularity::NM) {
      if (target > 0) zero = nm_mask(mag, lp.dims, lp.reduction_axis, o.n, o.m);
    } else {
      zero = element_mask(mag, static_cast<uint64_t>(std::llround(target * static_cast<double>(mag.size()))));
    }
    uint64_t after = before;
    if (!zero.empty()) {
      after = 0;
      for (size_t j = 0; j < mag.size(); ++j) after += zero[j] || mag[j] == 0.0f;
      if (after > before) {
        store(it->second, zeroed_copy(t, zero));
        ++pruned;
      }
    }
    elements += mag.size();
    zeros_before += before;
    zeros_after += after;
    if (r) {
      std::string what = o.granularity == Granularity::NM
                             ? (target > 0 ? std::to_string(o.n) + ":" + std::to_string(o.m) + " along axis " +
                                                 std::to_string(lp.reduction_axis)
                                           : std::string("dense"))
                             : std::string("element");
      r->note("layer '" + lp.name + "' (" + lp.readers + ", " + std::to_string(mag.size()) +
              " elements, " + what + "): target " + fixed(target) +
              ", reached " + fixed(static_cast<double>(after) / static_cast<double>(mag.size())) +
              (targets[i] != lp.target ? " (quality guard: planned " + fixed(lp.target) + ")" : ""));
    }
  }
  if (r) {
    r->count("layers", static_cast<int64_t>(plan.layers.size()));
    r->count("layers-pruned", static_cast<int64_t>(pruned));
    r->count("prunable-elements", static_cast<int64_t>(elements));
    r->count("prunable-zeros-before", static_cast<int64_t>(zeros_before));
    r->count("prunable-zeros-after", static_cast<int64_t>(zeros_after));
    if (pruned) r->changed = true;
  }
  return ok();
}

std::vector<double> guard_ladder(double target, Granularity g) {
  std::vector<double> out{target};
  if (g != Granularity::NM && target > 0) {
    // The density (1 - sparsity) grows by a quarter per level: fine steps where few weights are left, where
    // each one matters most; at least 0.025 apart.
    double density = 1.0 - target;
    for (;;) {
      density = std::max(density * 1.25, 1.0 - out.back() + 0.025);
      if (density >= 0.975) break;
      out.push_back(std::round((1.0 - density) * 1000.0) / 1000.0);
    }
  }
  if (target > 0) out.push_back(0);
  return out;
}

Expected<std::unique_ptr<Model>> prune_candidate(const Model& original, const PrunePlan& plan,
                                                 const std::vector<double>& targets, const Options& o) {
  EFFOPT_TRY_ASSIGN(auto copy, clone_model(original));
  EFFOPT_TRY(apply_prune_plan(*copy, plan, targets, o, nullptr));
  return copy;
}

}  // namespace prune

namespace {

using namespace prune;

ChannelPruneOptions channel_options(const Options& o) {
  ChannelPruneOptions c;
  c.sparsity = o.sparsity;
  c.global = o.scope == Scope::Global;
  c.l2 = o.criterion == Criterion::L2;
  c.op_types = o.op_types;
  c.exclude_ops = o.exclude_ops;
  c.exclude_node = o.exclude_node;
  c.min_size = o.min_size;
  return c;
}

// granularity=channel: structured pruning (prune_channel.h). Its layers are
// noted as element pruning's are, counted in channels, so the report's
// `pruning` block reads both the same way. `component_sparsity`: the quality
// guard's targets; `planned`: the targets it started from, by weight name.
Status run_channel(Model& m, const Options& o, pass::PassResult& r,
                   const std::map<size_t, double>& component_sparsity = {},
                   const std::map<std::string, double>& planned = {}) {
  ChannelPruneOptions c = channel_options(o);
  c.component_sparsity = component_sparsity;
  EFFOPT_TRY_ASSIGN(ChannelPruneResult res, prune_channels(m, c));
  int64_t pruned = 0;
  for (const ChannelPruneLayer& l : res.layers) {
    pruned += l.removed > 0;
    double reached = l.channels ? static_cast<double>(l.removed) / static_cast<double>(l.channels) : 0.0;
    std::string node = l.node.empty() ? l.op_type : l.op_type + " '" + l.node + "'";
    std::string why = l.reason;
    if (auto p = planned.find(l.weight); p != planned.end() && std::fabs(p->second - l.target) > 1e-12)
      why += (why.empty() ? "" : "; ") + std::string("quality guard: planned ") + fixed(p->second);
    r.note("layer '" + l.weight + "' (" + node + ", " + std::to_string(l.channels) +
           " channels, channel): target " + fixed(l.target) + ", reached " + fixed(reached) +
           (why.empty() ? "" : " (" + why + ")"));
  }
  for (const std::string& n : res.notes) r.note(n);
  r.count("layers", static_cast<int64_t>(res.layers.size()));
  r.count("layers-pruned", pruned);
  r.count("prunable-channels", res.channels);
  r.count("channels-removed", res.removed);
  if (res.changed) r.changed = true;
  r.note("channels are removed physically: the file, the memory and the MACs shrink in every runtime");
  return ok();
}

// The quality guard's settings: its limits and min-sparsity (the budget).
struct Guard {
  FidelityLimits limits;
  std::optional<double> min_sparsity;
};

std::optional<std::string> below_min_sparsity(const Guard& guard, double sparsity) {
  if (!guard.min_sparsity || sparsity >= *guard.min_sparsity - 1e-12) return std::nullopt;
  return "the pruned sparsity would be " + fixed(sparsity) + ", below min-sparsity " + fixed(*guard.min_sparsity);
}

std::string level_name(double sparsity, const Options& o) {
  if (sparsity <= 0) return "dense";
  if (o.granularity == Granularity::NM) return std::to_string(o.n) + ":" + std::to_string(o.m);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", sparsity);
  return buf;
}

GuardOptions guard_options_for(const Guard& guard, const guard::MacCount& macs, int threads) {
  GuardOptions go;
  go.limits = guard.limits;
  go.threads = threads;
  go.total_macs = macs.total;
  go.top_name = "dense";
  go.rerank = true;  // several layers may each break the limit on their own; they step back in turn
  return go;
}

// Element and n:m under the quality guard: each layer pruned to a nonzero
// target is a unit whose levels are guard_ladder(target) (n:m: its pattern,
// then dense). Candidates are fresh copies of `m` pruned by the plan.
// Returns the final targets (the guard's outcome is recorded in `r`).
Expected<std::vector<double>> guard_elements(Model& m, const PrunePlan& plan, const Options& o, const Guard& guard,
                                             pass::PassContext& ctx, pass::PassResult& r) {
  auto consts = constants_by_name(m);
  std::vector<GuardUnit> units;
  std::vector<size_t> unit_layer;
  std::vector<std::vector<double>> ladders, kept;
  // Per layer: zeros before, and (n:m) zeros with its pattern applied, for min-sparsity.
  std::vector<uint64_t> zeros_before(plan.layers.size()), zeros_nm(plan.layers.size());
  uint64_t elements = 0;
  EFFOPT_TRY_ASSIGN(GuardData data, guard::data(ctx, *m.graph));
  EFFOPT_TRY_ASSIGN(guard::MacCount macs, guard::count_macs(m, *data.samples));
  guard::note_unknown_macs(macs, r);
  for (size_t i = 0; i < plan.layers.size(); ++i) {
    const LayerPlan& lp = plan.layers[i];
    std::vector<float> mag = magnitudes(*consts.at({lp.scope, lp.name}).tensor);
    zeros_before[i] = count_zeros(mag);
    elements += mag.size();
    if (o.granularity == Granularity::NM) {
      std::vector<bool> zero = nm_mask(mag, lp.dims, lp.reduction_axis, o.n, o.m);
      for (size_t j = 0; j < mag.size(); ++j) zeros_nm[i] += zero[j] || mag[j] == 0.0f;
    }
    if (lp.target <= 0) continue;
    GuardUnit u;
    u.name = lp.name;
    ladders.push_back(guard_ladder(lp.target, o.granularity));
    kept.emplace_back();
    for (double s : ladders.back()) {
      u.levels.push_back(level_name(s, o));
      kept.back().push_back((1.0 - s) * static_cast<double>(lp.elements));  // nonzero weights
    }
    for (size_t n : lp.reader_nodes)
      if (n < macs.node_macs.size()) u.macs += macs.node_macs[n];
    units.push_back(std::move(u));
    unit_layer.push_back(i);
  }
  auto targets_for = [&](const std::vector<size_t>& levels) {
    std::vector<double> t;
    for (const LayerPlan& lp : plan.layers) t.push_back(lp.target);
    for (size_t u = 0; u < units.size(); ++u) t[unit_layer[u]] = ladders[u][levels[u]];
    return t;
  };
  GuardOptions go = guard_options_for(guard, macs, ctx.threads);
  go.kept = kept;
  if (guard.min_sparsity) {
    go.budget = [&](const std::vector<size_t>& levels) -> std::optional<std::string> {
      std::vector<double> t = targets_for(levels);
      uint64_t zeros = 0;
      for (size_t i = 0; i < plan.layers.size(); ++i) {
        // As apply_prune_plan zeroes: the smallest magnitudes go first, zeros among them.
        if (o.granularity == Granularity::NM)
          zeros += t[i] > 0 ? zeros_nm[i] : zeros_before[i];
        else
          zeros += std::max<uint64_t>(
              zeros_before[i],
              std::min<uint64_t>(plan.layers[i].elements, static_cast<uint64_t>(std::llround(
                                                              t[i] * static_cast<double>(plan.layers[i].elements)))));
      }
      return below_min_sparsity(guard, elements ? static_cast<double>(zeros) / static_cast<double>(elements) : 0.0);
    };
  }
  CandidateBuilder build = [&](const std::vector<size_t>& levels) {
    return prune_candidate(m, plan, targets_for(levels), o);
  };
  EFFOPT_TRY_ASSIGN(GuardResult g, run_quality_guard(m, units, build, data, go));
  std::vector<double> final_targets = targets_for(g.levels);
  guard::record(r, std::move(g));
  return final_targets;
}

// Channel pruning under the quality guard: each component (the sources that
// share channels, prune_channel.h) that loses channels at the target is a unit
// whose levels are guard_ladder(its target); a candidate is `m` pruned with
// every component's target fixed through component_sparsity (a global ranking
// would move with the units' levels). Returns the final component_sparsity;
// `planned` gets the targets the guard started from, by weight name.
Expected<std::map<size_t, double>> guard_channels(Model& m, const Options& o, const Guard& guard,
                                                  pass::PassContext& ctx, pass::PassResult& r,
                                                  std::map<std::string, double>& planned) {
  EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> first, clone_model(m));
  EFFOPT_TRY_ASSIGN(ChannelPruneResult plain, prune_channels(*first, channel_options(o)));
  first.reset();
  struct Component {
    std::vector<std::string> nodes;
    double target = 0;
    int64_t removed = 0, channels = 0;
  };
  std::map<size_t, Component> components;
  for (const ChannelPruneLayer& l : plain.layers) {
    Component& c = components[l.component];
    c.nodes.push_back(l.node.empty() ? l.weight : l.node);
    c.target = l.target;
    c.removed += l.removed;
    c.channels += l.channels;
    planned[l.weight] = l.target;
  }
  EFFOPT_TRY_ASSIGN(GuardData data, guard::data(ctx, *m.graph));
  EFFOPT_TRY_ASSIGN(guard::MacCount macs, guard::count_macs(m, *data.samples));
  guard::note_unknown_macs(macs, r);
  std::map<std::string, size_t> node_index;
  for (size_t i = 0; i < m.graph->nodes().size(); ++i)
    if (!m.graph->nodes()[i]->name.empty()) node_index[m.graph->nodes()[i]->name] = i;
  std::map<size_t, double> fixed_targets;
  std::vector<GuardUnit> units;
  std::vector<size_t> unit_component;
  std::vector<std::vector<double>> ladders, kept;
  for (const auto& [id, c] : components) {
    fixed_targets[id] = c.target;
    if (c.removed == 0) continue;
    GuardUnit u;
    u.name = c.nodes.front() + (c.nodes.size() > 1 ? " (+" + std::to_string(c.nodes.size() - 1) + ")" : "");
    ladders.push_back(guard_ladder(c.target, o.granularity));
    kept.emplace_back();
    for (double s : ladders.back()) {
      u.levels.push_back(level_name(s, o));
      kept.back().push_back((1.0 - s) * static_cast<double>(c.channels));  // channels kept
    }
    for (const std::string& n : c.nodes)
      if (auto at = node_index.find(n); at != node_index.end()) u.macs += macs.node_macs[at->second];
    units.push_back(std::move(u));
    unit_component.push_back(id);
  }
  auto targets_for = [&](const std::vector<size_t>& levels) {
    std::map<size_t, double> t = fixed_targets;
    for (size_t u = 0; u < units.size(); ++u) t[unit_component[u]] = ladders[u][levels[u]];
    return t;
  };
  // The last candidate pruned for the budget, so that the build that follows does not prune it again.
  std::vector<size_t> cached_levels;
  std::unique_ptr<Model> cached;
  auto prune_for = [&](const std::vector<size_t>& levels) -> Expected<std::pair<std::unique_ptr<Model>, double>> {
    EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> c, clone_model(m));
    ChannelPruneOptions co = channel_options(o);
    co.component_sparsity = targets_for(levels);
    EFFOPT_TRY_ASSIGN(ChannelPruneResult res, prune_channels(*c, co));
    double sparsity = res.channels ? static_cast<double>(res.removed) / static_cast<double>(res.channels) : 0.0;
    return std::make_pair(std::move(c), sparsity);
  };
  GuardOptions go = guard_options_for(guard, macs, ctx.threads);
  go.kept = kept;
  if (guard.min_sparsity) {
    go.budget = [&](const std::vector<size_t>& levels) -> std::optional<std::string> {
      auto p = prune_for(levels);
      if (!p) return "pruning the candidate failed: " + p.error().message;
      cached_levels = levels;
      cached = std::move(p->first);
      return below_min_sparsity(guard, p->second);
    };
  }
  CandidateBuilder build = [&](const std::vector<size_t>& levels) -> Expected<std::unique_ptr<Model>> {
    if (cached && cached_levels == levels) return std::move(cached);
    cached.reset();
    EFFOPT_TRY_ASSIGN(auto p, prune_for(levels));
    return std::move(p.first);
  };
  EFFOPT_TRY_ASSIGN(GuardResult g, run_quality_guard(m, units, build, data, go));
  std::map<size_t, double> final_targets = targets_for(g.levels);
  guard::record(r, std::move(g));
  return final_targets;
}

Expected<std::optional<Guard>> parse_guard(const pass::PassOptions& po, const Options& o) {
  EFFOPT_TRY_ASSIGN(std::optional<FidelityLimits> limits, guard::parse_limits(po, "prune"));
  const double min_sparsity = po.get_float("min-sparsity");
  if (!limits) {
    if (min_sparsity > 0)
      return usage_error("prune: option 'min-sparsity' is a budget of the quality guard: give a limit (max-error, "
                         "min-sqnr or min-accuracy) too");
    return std::optional<Guard>();
  }
  Guard g;
  g.limits = *limits;
  if (min_sparsity > 0) {
    const double target = o.granularity == Granularity::NM
                              ? 1.0 - static_cast<double>(o.n) / static_cast<double>(o.m)
                              : o.sparsity;
    if (min_sparsity > target + 1e-12)
      return usage_error("prune: min-sparsity " + fixed(min_sparsity) + " is above the target sparsity " +
                         fixed(target) + ": the guard only lowers sparsity");
    g.min_sparsity = min_sparsity;
  }
  return std::optional<Guard>(g);
}

Expected<pass::PassResult> run(Model& m, pass::PassContext& ctx) {
  pass::PassResult r;
  EFFOPT_TRY_ASSIGN(Options o, parse_options(ctx.options));
  if (!m.graph) return invalid_model("the model has no graph");
  for (const std::string& n : o.auto_notes) r.note(n);
  if (size_t detached = pass::allow_plain_initializers(m)) {
    r.count("initializer-inputs-detached", static_cast<int64_t>(detached));
    r.changed = true;
  }
  EFFOPT_TRY_ASSIGN(std::optional<Guard> guard, parse_guard(ctx.options, o));
  if (o.granularity == Granularity::Channel) {
    if (!guard) {
      EFFOPT_TRY(run_channel(m, o, r));
      return r;
    }
    std::map<std::string, double> planned;
    EFFOPT_TRY_ASSIGN(auto targets, guard_channels(m, o, *guard, ctx, r, planned));
    EFFOPT_TRY(run_channel(m, o, r, targets, planned));
    return r;
  }
  EFFOPT_TRY_ASSIGN(PrunePlan plan, make_prune_plan(m, o));
  for (const std::string& n : plan.notes) r.note(n);
  std::vector<double> targets;
  for (const LayerPlan& lp : plan.layers) targets.push_back(lp.target);
  if (guard) {
    EFFOPT_TRY_ASSIGN(targets, guard_elements(m, plan, o, *guard, ctx, r));
  }
  // The guard's final candidate is rebuilt here (pruning is deterministic), with its notes and counters.
  EFFOPT_TRY(apply_prune_plan(m, plan, targets, o, &r));
  if (plan.layers.empty())
    r.note("nothing to prune: no float Conv/Gemm/MatMul weight of at least min-size (" + std::to_string(o.min_size) +
           ") elements that only op-types read");
  if (o.granularity == Granularity::NM)
    r.note(std::to_string(o.n) + ":" + std::to_string(o.m) +
           " sparsity pays only on runtimes with N:M sparse kernels (e.g. 2:4 on NVIDIA sparse tensor cores); "
           "ONNX Runtime's CPU provider computes it dense, and the file is smaller only after compression");
  else
    r.note("zeroed weights still cost their bytes in a dense tensor: sparse-storage (effopt prune runs it last) "
           "stores tensors sparse where that is smaller (float32 above ~67% sparsity); gzip/zstd shrink the rest. "
           "Runtimes densify sparse initializers at load: the gain is on disk and in download, not in memory or MACs");
  return r;
}

}  // namespace

void register_prune(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "prune";
  p.summary = "Zero the smallest-magnitude Conv/Gemm/MatMul weights (element or N:M sparsity)";
  p.lossy = true;
  p.doc =
      "Magnitude pruning: sets the smallest-magnitude weights of Conv, Gemm and MatMul to exactly 0 "
      "(`granularity=element`, the default: `sparsity` of them, per tensor under `scope=layer` or under one "
      "threshold over every prunable tensor under `scope=global`, the default for element), or keeps at most N "
      "nonzeros in every group of M consecutive weights along the reduction axis (`granularity=n:m`, `n-m`, "
      "default 2:4: axis 1 of a Conv weight [Cout, Cin/group, kh, kw] at each kernel position, axis 0 of a MatMul "
      "weight [K, N], the K axis of a Gemm weight as its transB says). `granularity=channel` (structured filter "
      "pruning, passes/prune_channel.h) physically removes Conv output channels and Gemm/MatMul output features "
      "by L1/L2 norm (`sparsity` of the channels of each dependency group under `scope=layer`, the default for "
      "channel, or under one fan-in-normalized ranking under `scope=global`), with the matching "
      "BatchNormalization, bias and per-channel entries and the input channels of every consumer, following "
      "residual Adds, Concat, depthwise and grouped convs (Cin != Cout too), squeeze-and-excitation Muls, "
      "Transpose, Squeeze, Unsqueeze, Resize by scales and Flatten/Reshape into Gemm; a group never loses all its channels, features that reach a graph output are kept, and channels "
      "that cannot be removed consistently are kept with a note saying why. `effopt prune` runs this pass, then "
      "sparse-storage (the named pipeline `@prune`).\n"
      "\n"
      "When: a stored float constant (initializer, `Constant` node, constant inside a subgraph; looked up "
      "through Identity, Reshape, Flatten, Squeeze, Unsqueeze and Transpose as quantize does) of at least "
      "`min-size` elements and rank 2 or more whose every reader is the weight input (input 1) of an op in "
      "`op-types`. Magnitude ranks the same under `criterion` l1 and l2 for single weights (it matters for "
      "channels); ties are broken by position, so results are deterministic. Weights that are zero already "
      "count toward the target.\n"
      "\n"
      "Not when: biases, normalization parameters and anything an op needs in float; depthwise convolutions "
      "(group > 1 with one input channel per group); a weight any other op reads, or that reaches a graph "
      "output; nodes in `exclude-op` or matched by `exclude-node` (a regular expression against the whole node "
      "name); tensors holding inf or NaN. Under n:m a weight whose reduction length is not a multiple of M, or "
      "that reaches a Conv through a reshape, is left dense and a note says so; `sparsity` with n:m is a usage "
      "error (N:M fixes it at 1 - N/M).\n"
      "\n"
      "Where the gain is: zeros in a dense tensor cost as many bytes as before. Compression (gzip, zstd) shrinks "
      "them, and sparse-storage stores a tensor as an ONNX sparse initializer where that is smaller (float32 "
      "above ~67% sparsity); ONNX Runtime densifies sparse initializers at load, so the gain is on disk and in "
      "download, not in memory or MACs. N:M patterns pay only on runtimes with N:M sparse kernels. Notes give "
      "every layer's target and reached sparsity; the report's `pruning` block sums them.\n"
      "\n"
      "Quality guard: with `max-error` (in `metric`), `min-sqnr` or `min-accuracy` (`compare`'s limits), "
      "`sparsity` is the target. Each layer the target prunes (element, n:m: a weight; channel: a group of "
      "sources sharing channels) is a unit of lib/analysis/quality_guard.h's search, with the levels: its "
      "target, then 0.98, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1 below it, then dense "
      "(n:m: its N:M pattern, then dense). Every candidate is a fresh copy of the pass's input, pruned and "
      "measured against it on effopt's executor, on the `data`/`random` samples, else 4 seeded random samples "
      "(with a warning). While a limit is broken, each unit's sensitivity (the error with only it pruned) is "
      "measured once and the most sensitive unit steps back one level. `min-sparsity` fails the check (exit 3, "
      "the last candidate and the report still written) when the limit needs the sparsity over the prunable "
      "weights (channels) to fall below it; so does a limit that holds only with everything dense. Notes give "
      "each layer's planned and reached sparsity; the report's `passes[].quality_guard` has the search.\n"
      "\n"
      "Before: W = float[64,64,3,3] (every weight nonzero); y = Conv(x, W)\n"
      "After:  W = float[64,64,3,3] with the smallest-magnitude weights exactly 0; y = Conv(x, W)";
  p.options = {
      {"sparsity", pass::OptionType::String, "auto",
       "fraction of the prunable weights set to zero, in [0, 1) (auto: 0.5; not with granularity=n:m)", {}},
      {"granularity", pass::OptionType::Enum, "element",
       "element: single weights; n:m: at most N nonzeros per M along the reduction axis; channel: whole output "
       "channels removed (structured)",
       {"element", "channel", "n:m"}},
      {"n-m", pass::OptionType::String, "2:4", "granularity=n:m: N:M (at most N nonzeros in every M weights)", {}},
      {"scope", pass::OptionType::Enum, "auto",
       "layer: each tensor to the sparsity; global: one magnitude threshold over every prunable tensor (auto: "
       "global for element, layer for channel)",
       {"auto", "layer", "global"}},
      {"criterion", pass::OptionType::Enum, "l1", "magnitude norm (l1 or l2; the same ranking for single weights)",
       {"l1", "l2"}},
      {"op-types", pass::OptionType::String, "Conv,Gemm,MatMul", "ops whose weights are pruned, comma-separated", {}},
      {"exclude-op", pass::OptionType::String, "", "op types whose weights stay dense, comma-separated", {}},
      {"exclude-node", pass::OptionType::String, "",
       "regular expression (ECMAScript, whole name): weights these nodes read stay dense", {}},
      {"min-size", pass::OptionType::Int, "1024", "smallest weight pruned, in elements", {}, 1, 1e15},
  };
  // The quality guard: its limits, its budget, its data.
  for (pass::OptionSpec& s : pass::guard_options()) p.options.push_back(std::move(s));
  p.options.push_back({"min-sparsity", pass::OptionType::Float, "0",
                       "quality guard: fail when the sparsity over the prunable weights (channels) would fall below "
                       "this to meet the limit (0 = no floor)",
                       {}, 0, 0.999999});
  for (pass::OptionSpec& s : pass::evaluation_data_options()) p.options.push_back(std::move(s));
  p.run_on_model = run;
  r.add(std::move(p));
}

}  // namespace effopt::passes
