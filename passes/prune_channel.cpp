// Structured channel pruning: channel classes, their ranking and the rewrite (prune_channel.h).
#include "passes/prune_channel.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "analysis/shape_inference.h"
#include "passes/pass_util.h"

namespace effopt::passes::prune {
namespace {

using namespace util;

// Union-find over channel ids.
class ChannelIds {
 public:
  int64_t fresh() {
    parent_.push_back(static_cast<int64_t>(parent_.size()));
    return parent_.back();
  }
  int64_t find(int64_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void unite(int64_t a, int64_t b) {
    a = find(a), b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }
  size_t size() const { return parent_.size(); }

 private:
  std::vector<int64_t> parent_;
};

// The channels of a tracked value: one id per position along `axis`.
struct Track {
  size_t axis = 0;
  std::vector<int64_t> ids;
};

struct Source {
  Node* node = nullptr;
  Value* weight = nullptr;
  std::vector<int64_t> ids;        // one per output channel
  std::vector<double> norm;        // raw L1 / L2 norm of each filter
  std::vector<double> normalized;  // by fan-in
  size_t component = 0;
};

// A per-channel constant operand of an element-wise node: slice `axis` of input `slot` like `of`.
struct ConstSlice {
  Node* node;
  size_t slot;
  size_t axis;
  const Value* of;
};

// A grouped Conv with Cin == Cout followed positionally: every block must lose as many channels.
struct Partition {
  Node* node;
  std::vector<std::vector<int64_t>> blocks;  // ids per group
};

bool is_passthrough_unary(const std::string& op) {
  static const std::set<std::string> ops = {
      "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu",
      "Softplus", "Softsign", "Mish", "Gelu", "Identity", "Dropout", "Abs", "Neg", "Exp", "Sqrt", "Erf",
      "Reciprocal", "ThresholdedRelu", "Floor", "Ceil", "Round", "Sign"};
  return ops.count(op) > 0;
}
bool is_pool(const std::string& op) {
  static const std::set<std::string> ops = {"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
                                            "GlobalMaxPool", "GlobalLpPool"};
  return ops.count(op) > 0;
}
bool is_elementwise(const std::string& op) {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu"};
  return ops.count(op) > 0;
}

int64_t product(const std::vector<int64_t>& v, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < v.size(); ++i) p *= v[i];
  return p;
}

// Copies the positions of `axis` that `keep` marks; nullptr for types without whole-byte elements.
TensorPtr slice_axis(const Tensor& t, size_t axis, const std::vector<bool>& keep) {
  const int bits = data_type_bits(t.data_type);
  if (bits < 8 || bits % 8 || axis >= t.dims.size() || static_cast<size_t>(t.dims[axis]) != keep.size())
    return nullptr;
  const size_t es = static_cast<size_t>(bits / 8);
  const int64_t outer = product(t.dims, 0, axis), n = t.dims[axis];
  const size_t inner = static_cast<size_t>(product(t.dims, axis + 1, t.dims.size())) * es;
  if (t.byte_size() != static_cast<uint64_t>(outer * n) * inner) return nullptr;
  const int64_t kept = std::count(keep.begin(), keep.end(), true);
  std::vector<std::byte> out(static_cast<size_t>(outer * kept) * inner);
  const std::byte* src = t.bytes().data();
  std::byte* dst = out.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i)
      if (keep[static_cast<size_t>(i)]) {
        std::memcpy(dst, src + static_cast<size_t>(o * n + i) * inner, inner);
        dst += inner;
      }
  auto r = std::make_shared<Tensor>();
  r->name = t.name;
  r->data_type = t.data_type;
  r->dims = t.dims;
  r->dims[axis] = kept;
  r->set_bytes(std::move(out));
  return r;
}

// A Conv weight [Cout, Cin/group, k...] rebuilt for the kept output and input channels; the new group count.
struct ConvRebuild {
  TensorPtr weight;
  int64_t group = 1;
  std::string error;  // the groups would become inconsistent
};
ConvRebuild rebuild_conv_weight(const Tensor& w, int64_t group, const std::vector<bool>& out_keep,
                                const std::vector<bool>& in_keep) {
  ConvRebuild r;
  const int bits = data_type_bits(w.data_type);
  const int64_t cout = w.dims[0], a = w.dims[1];
  if (bits < 8 || bits % 8 || group < 1 || cout % group || static_cast<int64_t>(out_keep.size()) != cout ||
      static_cast<int64_t>(in_keep.size()) != a * group) {
    r.error = "its weight cannot be rebuilt";
    return r;
  }
  const int64_t b = cout / group;
  std::vector<int64_t> kept_out(group, 0), kept_in(group, 0);
  for (int64_t o = 0; o < cout; ++o) kept_out[o / b] += out_keep[o];
  for (int64_t i = 0; i < a * group; ++i) kept_in[i / a] += in_keep[i];
  int64_t groups = 0, per_out = -1, per_in = -1;
  for (int64_t k = 0; k < group; ++k) {
    if (!kept_out[k] && !kept_in[k]) continue;
    if (!kept_out[k] || !kept_in[k] || (per_out >= 0 && (kept_out[k] != per_out || kept_in[k] != per_in))) {
      r.error = "its groups would keep different numbers of channels";
      return r;
    }
    per_out = kept_out[k], per_in = kept_in[k], ++groups;
  }
  if (!groups) {
    r.error = "it would lose every channel";
    return r;
  }
  const size_t es = static_cast<size_t>(bits / 8);
  const size_t kernel = static_cast<size_t>(product(w.dims, 2, w.dims.size())) * es;
  std::vector<std::byte> out(static_cast<size_t>(groups * per_out * per_in) * kernel);
  const std::byte* src = w.bytes().data();
  std::byte* dst = out.data();
  for (int64_t o = 0; o < cout; ++o) {
    if (!out_keep[o]) continue;
    const int64_t k = o / b;
    for (int64_t j = 0; j < a; ++j)
      if (in_keep[k * a + j]) {
        std::memcpy(dst, src + static_cast<size_t>(o * a + j) * kernel, kernel);
        dst += kernel;
      }
  }
  r.weight = std::make_shared<Tensor>();
  r.weight->name = w.name;
  r.weight->data_type = w.data_type;
  r.weight->dims = w.dims;
  r.weight->dims[0] = groups * per_out;
  r.weight->dims[1] = per_in;
  r.weight->set_bytes(std::move(out));
  r.group = groups;
  return r;
}

class ChannelPruner {
 public:
  ChannelPruner(Model& m, const ChannelPruneOptions& o) : g_(*m.graph), o_(o), pinned_(g_) {}

  ChannelPruneResult run() {
    for (auto& n : g_.nodes()) visit(n.get());
    for (auto& [v, t] : track_) {
      if (pinned_(v)) freeze(t, "it reaches graph output '" + v->name() + "'");
      for (const Use& u : v->uses())
        if (u.node->graph() != &g_) freeze(t, "a subgraph reads '" + v->name() + "'");
    }
    build_components();
    select();
    validate_convs();
    report();
    if (std::any_of(removed_.begin(), removed_.end(), [](bool b) { return b; })) rewrite();
    return std::move(res_);
  }

 private:
  // ------------------------------------------------------------ tracking

  void freeze_id(int64_t id, const std::string& why) {
    if (frozen_[id].empty()) frozen_[id] = why;
  }
  void freeze(const Track& t, const std::string& why) {
    for (int64_t id : t.ids) freeze_id(id, why);
  }
  Track fresh_track(size_t axis, int64_t n, const std::string& frozen_why = "") {
    Track t;
    t.axis = axis;
    for (int64_t i = 0; i < n; ++i) {
      t.ids.push_back(ids_.fresh());
      frozen_.emplace_back(frozen_why);
    }
    return t;
  }
  const Track* tracked(const Value* v) const {
    auto it = track_.find(v);
    return it == track_.end() ? nullptr : &it->second;
  }
  // Freezes every tracked input of `n` (except those in `accepted` slots).
  void freeze_inputs(const Node* n, const std::string& why, const std::set<size_t>& accepted = {}) {
    for (size_t i = 0; i < n->inputs().size(); ++i)
      if (!accepted.count(i))
        if (const Track* t = tracked(n->input(i))) freeze(*t, node_label(*n) + " reads it: " + why);
  }
  bool excluded(const Node* n) const {
    return o_.exclude_ops.count(n->op_type) || (o_.exclude_node && std::regex_match(n->name, *o_.exclude_node));
  }
  // A node's outputs other than output 0 are not read.
  bool extra_outputs_unread(const Node* n) const {
    for (size_t i = 1; i < n->outputs().size(); ++i)
      if (Value* v = n->output(i); v && pinned_.is_read(v)) return false;
    return true;
  }

  void visit(Node* n) {
    if (!is_onnx_domain(n->domain) || !n->subgraphs().empty()) return freeze_inputs(n, "unsupported op");
    const std::string& op = n->op_type;
    if (op == "Conv") return visit_conv(n);
    if (op == "Gemm") return visit_gemm(n);
    if (op == "MatMul") return visit_matmul(n);
    if (op == "BatchNormalization") return visit_batch_norm(n);
    if (op == "Concat") return visit_concat(n);
    if (op == "Flatten" || op == "Reshape") return visit_flatten(n);
    if (is_elementwise(op)) return visit_elementwise(n);
    const Track* in = tracked(n->input(0));
    if (!in) return freeze_inputs(n, "unsupported op");
    if (op == "Transpose" || op == "Squeeze" || op == "Unsqueeze") return visit_axes(n, *in);
    if (op == "Resize") return visit_resize(n, *in);
    if ((is_passthrough_unary(op) || (is_pool(op) && in->axis == 1)) && extra_outputs_unread(n)) {
      freeze_inputs(n, "its other inputs cannot follow channels", {0});
      track_[n->output(0)] = *in;
      return;
    }
    freeze_inputs(n, is_pool(op) ? "pools a non-channel axis" : "no rule follows channels through " + op);
  }

  // Why `n` (Conv / Gemm / MatMul with weight `w`) is not a source; empty if it is one.
  std::string not_source_reason(const Node* n, const Value* w) const {
    if (!o_.op_types.count(n->op_type)) return "its op type is not among the pruned ones";
    if (excluded(n)) return "it is excluded";
    TensorPtr t = fixed_constant(w);
    if (!t) return "its weight is not a constant";
    if (!is_ieee_float_type(t->data_type) && t->data_type != DataType::BFloat16) return "its weight is not float";
    if (auto c = t->element_count(); !c || static_cast<int64_t>(*c) < o_.min_size) return "its weight is below --min-size";
    return "";
  }

  // Records why a candidate of a pruned op type is not a source (notes).
  void note_not_source(const Node* n, const std::string& why) {
    if (!why.empty() && o_.op_types.count(n->op_type)) skipped_.push_back(node_label(*n) + " is not pruned: " + why);
  }

  void add_source(Node* n, Value* w, const Track& out, size_t filter_axis) {
    Source s;
    s.node = n;
    s.weight = w;
    s.ids = out.ids;
    TensorPtr t = fixed_constant(w);
    auto vals = to_doubles(*t);
    const size_t count = out.ids.size();
    s.norm.assign(count, 0);
    if (vals && !vals->empty() && t->dims.size() >= 1) {
      const size_t outer = static_cast<size_t>(product(t->dims, 0, filter_axis));
      const size_t inner = static_cast<size_t>(product(t->dims, filter_axis + 1, t->dims.size()));
      for (size_t o = 0; o < outer; ++o)
        for (size_t c = 0; c < count; ++c)
          for (size_t i = 0; i < inner; ++i) {
            const double x = (*vals)[(o * count + c) * inner + i];
            s.norm[c] += o_.l2 ? x * x : std::fabs(x);
          }
      const double fan_in = static_cast<double>(outer * inner);
      for (double& x : s.norm) {
        if (o_.l2) x = std::sqrt(x);
        s.normalized.push_back(o_.l2 ? x / std::sqrt(fan_in) : x / fan_in);
      }
    } else {
      s.normalized.assign(count, 0);
    }
    sources_.push_back(std::move(s));
  }

  // The dims of `v` (-1 where unknown: only ranks and channel dims are needed), or nullopt when its rank is
  // not known (then the node freezes what it reads).
  std::optional<std::vector<int64_t>> dims(const Value* v) const {
    auto s = v ? shape_of(v) : std::nullopt;
    if (!s) return std::nullopt;
    std::vector<int64_t> r;
    for (const Dim& d : *s) r.push_back(d.value.value_or(-1));
    return r;
  }

  void visit_conv(Node* n) {
    const Track* in = tracked(n->input(0));
    auto wd = dims(n->input(1));
    const int64_t group = n->attr_int("group", 1);
    const bool weights_fixed = fixed_constant(n->input(1)) && (!n->input(2) || fixed_constant(n->input(2)));
    if (!wd || wd->size() < 3 || !weights_fixed) {  // the output's rank is the weight's
      freeze_inputs(n, !weights_fixed ? "its weight or bias is not a constant" : "its shapes are not known");
      return;
    }
    freeze_inputs(n, "a weight or bias", {0});
    const int64_t cout = (*wd)[0], a = (*wd)[1];
    if (in && (in->axis != 1 || static_cast<int64_t>(in->ids.size()) != a * group)) {
      freeze(*in, node_label(*n) + " reads it with unexpected shapes");
      in = nullptr;
    }
    if (in && excluded(n)) {
      freeze(*in, node_label(*n) + " is excluded and reads it");
      in = nullptr;
    }
    if (in) conv_inputs_.insert(n);
    if (group == 1) {
      const std::string why = not_source_reason(n, n->input(1));
      note_not_source(n, why);
      Track out = fresh_track(1, cout, why.empty() ? "" : node_label(*n) + " is not pruned: " + why);
      if (why.empty()) add_source(n, n->input(1), out, 0);
      track_[n->output(0)] = out;
      convs_.insert(n);
      return;
    }
    // Grouped: depthwise (one input channel per group) follows its input; Cin == Cout follows positionally.
    const int64_t b = cout / group;
    if (in && a == 1) {
      Track out;
      out.axis = 1;
      for (int64_t o = 0; o < cout; ++o) out.ids.push_back(in->ids[o / b]);
      track_[n->output(0)] = out;
      convs_.insert(n);
      return;
    }
    if (in && a * group == cout) {
      Partition p{n, {}};
      for (int64_t k = 0; k < group; ++k)
        p.blocks.emplace_back(in->ids.begin() + k * a, in->ids.begin() + (k + 1) * a);
      partitions_.push_back(std::move(p));
      track_[n->output(0)] = *in;
      convs_.insert(n);
      return;
    }
    // Other grouped Convs (Cin != Cout, or an input whose channels are not followed): each group reads its own
    // block of input channels and writes its own block of output channels, so both sides lose channels per
    // group, the same number in every group (partitions); its outputs are a source of their own.
    if (in) {
      Partition p{n, {}};
      for (int64_t k = 0; k < group; ++k)
        p.blocks.emplace_back(in->ids.begin() + k * a, in->ids.begin() + (k + 1) * a);
      partitions_.push_back(std::move(p));
    }
    const std::string why = not_source_reason(n, n->input(1));
    note_not_source(n, why);
    Track out = fresh_track(1, cout, why.empty() ? "" : node_label(*n) + " is not pruned: " + why);
    if (why.empty()) add_source(n, n->input(1), out, 0);
    Partition p{n, {}};
    for (int64_t k = 0; k < group; ++k) p.blocks.emplace_back(out.ids.begin() + k * b, out.ids.begin() + (k + 1) * b);
    partitions_.push_back(std::move(p));
    track_[n->output(0)] = out;
    convs_.insert(n);
  }

  // Transpose, Squeeze, Unsqueeze: the channels move to another axis (or stay), their ids unchanged.
  void visit_axes(Node* n, const Track& in) {
    auto id = dims(n->input(0));
    auto od = dims(n->output(0));
    if (!id || !od || !extra_outputs_unread(n)) return freeze_inputs(n, "its shapes are not known");
    const auto in_rank = static_cast<int64_t>(id->size()), out_rank = static_cast<int64_t>(od->size());
    const auto axis = static_cast<int64_t>(in.axis);
    std::optional<int64_t> moved;
    if (n->op_type == "Transpose") {
      std::vector<int64_t> perm = n->attr_ints("perm");
      if (perm.empty())
        for (int64_t i = in_rank - 1; i >= 0; --i) perm.push_back(i);
      for (size_t p = 0; p < perm.size(); ++p)
        if (perm[p] == axis) moved = static_cast<int64_t>(p);
    } else {
      std::vector<int64_t> axes = n->attr_ints("axes");
      if (n->inputs().size() > 1 && n->input(1)) {
        auto given = constant_ints(n->input(1));
        if (!given) return freeze_inputs(n, "its axes are not a constant");
        axes = *given;
      }
      const bool squeeze = n->op_type == "Squeeze";
      const int64_t rank = squeeze ? in_rank : out_rank;
      if (axes.empty() && squeeze)
        for (int64_t i = 0; i < in_rank; ++i) {
          if ((*id)[static_cast<size_t>(i)] < 0) return freeze_inputs(n, "it squeezes dims that are not known");
          if ((*id)[static_cast<size_t>(i)] == 1) axes.push_back(i);
        }
      for (int64_t& x : axes) x = x < 0 ? x + rank : x;
      if (squeeze) {
        if (std::find(axes.begin(), axes.end(), axis) == axes.end())
          moved = axis - std::count_if(axes.begin(), axes.end(), [&](int64_t x) { return x < axis; });
      } else {
        int64_t seen = 0;  // input axes placed so far
        for (int64_t p = 0; p < out_rank && !moved; ++p)
          if (std::find(axes.begin(), axes.end(), p) == axes.end() && seen++ == axis) moved = p;
      }
    }
    if (!moved || *moved >= out_rank ||
        ((*od)[static_cast<size_t>(*moved)] >= 0 &&
         (*od)[static_cast<size_t>(*moved)] != static_cast<int64_t>(in.ids.size())))
      return freeze_inputs(n, "it removes the channel axis or its shapes do not match");
    freeze_inputs(n, "its axes input", {0});
    Track out = in;
    out.axis = static_cast<size_t>(*moved);
    track_[n->output(0)] = out;
  }

  // Resize by scales that leave the channel axis alone: the channels pass through.
  void visit_resize(Node* n, const Track& in) {
    // Resize-10 (X, scales); Resize-11+ (X, roi, scales[, sizes]): sizes would name the channel count.
    const bool v10 = n->inputs().size() == 2;
    Value* scales = v10 ? n->input(1) : (n->inputs().size() > 2 ? n->input(2) : nullptr);
    const bool sizes = !v10 && n->inputs().size() > 3 && n->input(3);
    auto values = scales ? fixed_constant(scales) : nullptr;
    auto factors = values ? to_doubles(*values) : std::nullopt;
    const bool ok = !sizes && factors && in.axis < factors->size() && (*factors)[in.axis] == 1.0 &&
                    !n->attr("axes") && n->attr_string("coordinate_transformation_mode", "") != "tf_crop_and_resize" &&
                    extra_outputs_unread(n);
    if (!ok)
      return freeze_inputs(n, sizes ? "it resizes to given sizes (they name the channel count)"
                                    : "its scales are not constant or resize the channel axis");
    freeze_inputs(n, "its roi or scales input", {0});
    track_[n->output(0)] = in;
  }

  void visit_gemm(Node* n) {
    const Track* in = tracked(n->input(0));
    Value* bv = n->input(1);
    Value* cv = n->input(2);
    auto bd = dims(bv);
    const bool trans_a = n->attr_int("transA", 0) != 0, trans_b = n->attr_int("transB", 0) != 0;
    freeze_inputs(n, "its B or C input", {0});
    if (!bd || bd->size() != 2 || !fixed_constant(bv)) {
      if (in) freeze(*in, node_label(*n) + " reads it with a B that is not a 2-D constant");
      return;
    }
    const int64_t k = trans_b ? (*bd)[1] : (*bd)[0], nout = trans_b ? (*bd)[0] : (*bd)[1];
    if (in && (trans_a || in->axis != 1 || static_cast<int64_t>(in->ids.size()) != k || excluded(n))) {
      freeze(*in, node_label(*n) + " reads it transposed, excluded or with unexpected shapes");
      in = nullptr;
    }
    if (in) gemm_inputs_.insert(n);
    std::string why = not_source_reason(n, bv);
    if (why.empty() && cv) {
      auto cd = dims(cv);
      if (!fixed_constant(cv) || !cd || cd->size() > 2) why = "its C is not a constant of known shape";
    }
    note_not_source(n, why);
    Track out = fresh_track(1, nout, why.empty() ? "" : node_label(*n) + " is not pruned: " + why);
    if (why.empty()) add_source(n, bv, out, trans_b ? 0 : 1);
    track_[n->output(0)] = out;
    gemms_.insert(n);
  }

  void visit_matmul(Node* n) {
    const Track* in = tracked(n->input(0));
    Value* bv = n->input(1);
    auto bd = dims(bv);
    auto ad = dims(n->input(0));
    freeze_inputs(n, "its B input", {0});
    if (!bd || bd->size() != 2 || !fixed_constant(bv) || !ad || ad->size() < 2) {
      if (in) freeze(*in, node_label(*n) + " reads it with a B that is not a 2-D constant");
      return;
    }
    if (in && (in->axis != ad->size() - 1 || excluded(n))) {
      freeze(*in, node_label(*n) + " reads it on another axis or is excluded");
      in = nullptr;
    }
    if (in) matmul_inputs_.insert(n);
    const std::string why = not_source_reason(n, bv);
    note_not_source(n, why);
    Track out = fresh_track(ad->size() - 1, (*bd)[1], why.empty() ? "" : node_label(*n) + " is not pruned: " + why);
    if (why.empty()) add_source(n, bv, out, 1);
    track_[n->output(0)] = out;
    matmuls_.insert(n);
  }

  void visit_batch_norm(Node* n) {
    const Track* in = tracked(n->input(0));
    if (!in) return freeze_inputs(n, "a normalization parameter");
    bool ok = in->axis == 1 && extra_outputs_unread(n) && n->inputs().size() >= 5;
    for (size_t i = 1; ok && i < 5; ++i) {
      auto d = dims(n->input(i));
      ok = fixed_constant(n->input(i)) && d && d->size() == 1 && (*d)[0] == static_cast<int64_t>(in->ids.size());
    }
    if (!ok) return freeze_inputs(n, "its parameters are not per-channel constants or it runs in training mode");
    freeze_inputs(n, "a normalization parameter", {0});
    batch_norms_.insert(n);
    track_[n->output(0)] = *in;
  }

  void visit_elementwise(Node* n) {
    auto od = dims(n->output(0));
    // Tracked operands must agree on the channel position counted from the right (numpy broadcasting).
    std::optional<size_t> from_right;
    int64_t count = 0;
    bool ok = od.has_value() && extra_outputs_unread(n);
    std::vector<size_t> tracked_slots;
    for (size_t i = 0; ok && i < n->inputs().size(); ++i) {
      const Track* t = tracked(n->input(i));
      if (!t) continue;
      auto d = dims(n->input(i));
      if (!d) { ok = false; break; }
      const size_t r = d->size() - t->axis;
      if (from_right && (*from_right != r || count != static_cast<int64_t>(t->ids.size()))) ok = false;
      from_right = r, count = static_cast<int64_t>(t->ids.size());
      tracked_slots.push_back(i);
    }
    if (!from_right) return freeze_inputs(n, "unsupported operand");
    if (!ok || *from_right > od->size() ||
        ((*od)[od->size() - *from_right] != count && (*od)[od->size() - *from_right] != -1))
      return freeze_inputs(n, "its operands do not share the channel axis");
    std::vector<ConstSlice> slices;
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      Value* v = n->input(i);
      if (!v || tracked(v)) continue;
      auto d = dims(v);
      if (!d) return freeze_inputs(n, "an operand of unknown shape");
      if (d->size() < *from_right || (*d)[d->size() - *from_right] == 1) continue;  // broadcast along channels
      TensorPtr c = fixed_constant(v);
      if ((*d)[d->size() - *from_right] != count || !c || data_type_bits(c->data_type) < 8 ||
          data_type_bits(c->data_type) % 8)
        return freeze_inputs(n, "another operand '" + v->name() + "' is not a pruned channel space");
      slices.push_back({n, i, d->size() - *from_right, nullptr});
    }
    const Track& first = *tracked(n->input(tracked_slots[0]));
    for (size_t s : tracked_slots) {
      const Track& t = *tracked(n->input(s));
      for (size_t p = 0; p < t.ids.size(); ++p) ids_.unite(first.ids[p], t.ids[p]);
    }
    for (auto& s : slices) {
      s.of = n->output(0);
      const_slices_.push_back(s);
    }
    Track out = first;
    out.axis = od->size() - *from_right;
    track_[n->output(0)] = out;
  }

  void visit_concat(Node* n) {
    auto od = dims(n->output(0));
    if (!od) return freeze_inputs(n, "its shapes are not known");
    int64_t axis = n->attr_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(od->size());
    Track out;
    out.axis = static_cast<size_t>(axis);
    bool any = false;
    for (Value* v : n->inputs()) {
      const Track* t = tracked(v);
      auto d = dims(v);
      if (!d || d->size() != od->size() || (t && t->axis != out.axis) || (!t && (*d)[out.axis] < 0))
        return freeze_inputs(n, "it concatenates along another axis or shapes are unknown");
      if (t) {
        out.ids.insert(out.ids.end(), t->ids.begin(), t->ids.end());
        any = true;
      } else {
        Track f = fresh_track(out.axis, (*d)[out.axis], "it is concatenated with '" + v->name() + "', which is not pruned");
        out.ids.insert(out.ids.end(), f.ids.begin(), f.ids.end());
      }
    }
    if (any) track_[n->output(0)] = out;
  }

  void visit_flatten(Node* n) {
    const Track* in = tracked(n->input(0));
    if (!in) return freeze_inputs(n, "its shape input");
    auto id = dims(n->input(0));
    auto od = dims(n->output(0));
    freeze_inputs(n, "its shape input", {0});
    // [N, C, S...] with known S -> [N, C*S]: Flatten at axis 1, or Reshape to [N | 0 | -1, C*S | -1].
    bool ok = id && od && in->axis == 1 && od->size() == 2 && id->size() >= 2 &&
              std::all_of(id->begin() + 2, id->end(), [](int64_t d) { return d >= 0; });
    const int64_t flat = ok ? product(*id, 1, id->size()) : 0;
    if (ok && n->op_type == "Flatten") ok = n->attr_int("axis", 1) == 1;
    if (ok && n->op_type == "Reshape") {
      auto shape = constant_ints(n->input(1));
      ok = shape && shape->size() == 2 && n->attr_int("allowzero", 0) == 0;
      if (ok) {
        const int64_t s0 = (*shape)[0], s1 = (*shape)[1];
        ok = (s1 == flat && (s0 == 0 || s0 == -1 || s0 == (*id)[0])) ||
             (s1 == -1 && (s0 == 0 || (s0 > 0 && s0 == (*id)[0])));
      }
    }
    if (!ok) return freeze(*in, node_label(*n) + " reshapes it other than [N, C, ...] -> [N, C*S]");
    const int64_t spatial = product(*id, 2, id->size());
    Track out;
    out.axis = 1;
    for (int64_t id_ : in->ids)
      for (int64_t s = 0; s < spatial; ++s) out.ids.push_back(id_);
    if (n->op_type == "Reshape") reshapes_.insert(n);
    track_[n->output(0)] = out;
  }

  // ------------------------------------------------------------ components and selection

  void build_components() {
    // Sources sharing a class form one component.
    std::vector<size_t> comp(sources_.size());
    std::iota(comp.begin(), comp.end(), 0);
    auto find = [&](size_t x) {
      while (comp[x] != x) x = comp[x] = comp[comp[x]];
      return x;
    };
    std::unordered_map<int64_t, size_t> owner;
    for (size_t s = 0; s < sources_.size(); ++s)
      for (int64_t id : sources_[s].ids) {
        auto [it, inserted] = owner.emplace(ids_.find(id), s);
        if (!inserted) comp[find(s)] = find(it->second);
      }
    std::map<size_t, size_t> index;
    for (size_t s = 0; s < sources_.size(); ++s) {
      auto [it, inserted] = index.emplace(find(s), components_.size());
      if (inserted) components_.emplace_back();
      sources_[s].component = it->second;
      components_[it->second].sources.push_back(s);
    }
    // Class frozen reasons, resolved at roots.
    root_frozen_.assign(ids_.size(), "");
    for (size_t id = 0; id < ids_.size(); ++id)
      if (!frozen_[id].empty() && root_frozen_[ids_.find(static_cast<int64_t>(id))].empty())
        root_frozen_[ids_.find(static_cast<int64_t>(id))] = frozen_[id];
    for (auto& c : components_) {
      std::map<int64_t, Class> classes;
      for (size_t s : c.sources)
        for (size_t p = 0; p < sources_[s].ids.size(); ++p) {
          Class& k = classes[ids_.find(sources_[s].ids[p])];
          k.norm += sources_[s].norm[p];
          k.normalized += sources_[s].normalized[p];
          ++k.filters;
        }
      for (auto& [root, k] : classes) {
        k.root = root;
        k.normalized /= static_cast<double>(k.filters);
        c.classes.push_back(k);
      }
      c.target = o_.sparsity;
      for (size_t s : c.sources)
        if (auto it = o_.layer_sparsity.find(sources_[s].node->name); it != o_.layer_sparsity.end()) {
          c.target = c.overridden ? std::min(c.target, it->second) : it->second;
          c.overridden = true;
        }
    }
    for (auto& [ci, target] : o_.component_sparsity)
      if (ci < components_.size()) {
        components_[ci].target = target;
        components_[ci].overridden = true;
      }
    removed_.assign(ids_.size(), false);
  }

  bool removable(int64_t root) const { return root_frozen_[root].empty(); }

  // Removes the `n` lowest-ranked removable classes of component `c` (per block when it has a partition).
  void remove_lowest(size_t ci, int64_t n) {
    auto& c = components_[ci];
    n = std::min<int64_t>(n, static_cast<int64_t>(c.classes.size()) - 1);
    if (n <= 0) return;
    auto by_norm = [](const Class& x, const Class& y) { return x.norm != y.norm ? x.norm < y.norm : x.root < y.root; };
    // Grouped Convs reading this component's channels: every group must lose as many.
    std::unordered_set<int64_t> roots;
    for (auto& k : c.classes) roots.insert(k.root);
    std::vector<std::vector<std::vector<int64_t>>> parts;
    for (auto& p : partitions_) {
      if (!roots.count(ids_.find(p.blocks[0][0]))) continue;
      std::vector<std::vector<int64_t>> blocks;
      for (auto& b : p.blocks) {
        std::set<int64_t> r;
        for (int64_t id : b) r.insert(ids_.find(id));
        blocks.emplace_back(r.begin(), r.end());
      }
      std::sort(blocks.begin(), blocks.end());
      if (std::find(parts.begin(), parts.end(), blocks) == parts.end()) parts.push_back(std::move(blocks));
    }
    if (parts.size() > 1) {
      c.kept_why = "grouped Convs split its channels into different groups";
      return;
    }
    if (parts.empty()) {
      std::vector<Class> order = c.classes;
      std::sort(order.begin(), order.end(), by_norm);
      for (auto& k : order)
        if (n > 0 && removable(k.root)) removed_[k.root] = true, --n;
      return;
    }
    // Per block: the same count from each, at most what every block can give while keeping one.
    auto& blocks = parts[0];
    std::unordered_map<int64_t, const Class*> by_root;
    for (auto& k : c.classes) by_root[k.root] = &k;
    int64_t per = n / static_cast<int64_t>(blocks.size());
    for (auto& b : blocks) {
      int64_t can = 0;
      for (int64_t r : b) can += removable(r);
      per = std::min<int64_t>({per, can, static_cast<int64_t>(b.size()) - 1});
    }
    if (per <= 0) {
      c.kept_why = "its grouped Conv's groups are too small to lose a channel each";
      return;
    }
    for (auto& b : blocks) {
      std::vector<Class> order;
      for (int64_t r : b)
        if (by_root.count(r) && removable(r)) order.push_back(*by_root[r]);
      std::sort(order.begin(), order.end(), by_norm);
      for (int64_t i = 0; i < per && i < static_cast<int64_t>(order.size()); ++i) removed_[order[i].root] = true;
    }
  }

  void select() {
    std::vector<std::pair<double, std::pair<size_t, int64_t>>> pool;  // (normalized norm, (component, root))
    int64_t total = 0;
    for (size_t ci = 0; ci < components_.size(); ++ci) {
      auto& c = components_[ci];
      if (!o_.global || c.overridden) {
        remove_lowest(ci, static_cast<int64_t>(std::floor(c.target * static_cast<double>(c.classes.size()) + 1e-9)));
        continue;
      }
      for (auto& k : c.classes)
        if (removable(k.root)) pool.push_back({k.normalized, {ci, k.root}}), ++total;
    }
    if (!o_.global) return;
    std::sort(pool.begin(), pool.end());
    int64_t n = static_cast<int64_t>(std::floor(o_.sparsity * static_cast<double>(total) + 1e-9));
    std::map<size_t, int64_t> per_component;
    for (auto& [score, at] : pool) {
      if (n <= 0) break;
      auto& c = components_[at.first];
      if (per_component[at.first] + 1 >= static_cast<int64_t>(c.classes.size())) continue;
      ++per_component[at.first], --n;
    }
    // Each component then removes its share by its own ranking (which respects grouped Convs); its target is
    // that share.
    for (size_t ci = 0; ci < components_.size(); ++ci) {
      auto& c = components_[ci];
      if (c.overridden) continue;
      const int64_t count = per_component.count(ci) ? per_component[ci] : 0;
      c.target = static_cast<double>(count) / static_cast<double>(c.classes.size());
      remove_lowest(ci, count);
    }
  }

  std::vector<bool> keep_mask(const Value* v) {
    std::vector<bool> keep;
    const Track* t = tracked(v);
    if (!t) return keep;
    for (int64_t id : t->ids) keep.push_back(!removed_[ids_.find(id)]);
    return keep;
  }
  static std::vector<bool> all(int64_t n) { return std::vector<bool>(static_cast<size_t>(n), true); }

  // Convs must stay consistent (grouped and depthwise ones keep equal groups; none loses every input
  // channel): else the classes they read and write are kept.
  void validate_convs() {
    for (int round = 0; round < 8; ++round) {
      bool again = false;
      for (Node* n : in_order(convs_)) {
        TensorPtr w = fixed_constant(n->input(1));
        auto out = keep_mask(n->output(0));
        auto in = conv_inputs_.count(n) ? keep_mask(n->input(0)) : all(w->dims[1] * n->attr_int("group", 1));
        if (out.empty()) out = all(w->dims[0]);
        auto r = rebuild_conv_weight(*w, n->attr_int("group", 1), out, in);
        if (!r.error.empty()) {
          for (const Value* v : {n->input(0), n->output(0)})
            if (const Track* t = tracked(v))
              for (int64_t id : t->ids) {
                const int64_t root = ids_.find(id);
                if (removed_[root]) {
                  removed_[root] = false;
                  again = true;
                  for (auto& c : components_)
                    for (auto& k : c.classes)
                      if (k.root == root && c.kept_why.empty()) c.kept_why = node_label(*n) + ": " + r.error;
                }
              }
        }
      }
      if (!again) break;
    }
  }

  void report() {
    std::map<std::string, int64_t> kept_notes;
    for (auto& s : sources_) {
      ChannelPruneLayer l;
      l.node = s.node->name;
      l.op_type = s.node->op_type;
      l.weight = s.weight->name();
      l.channels = static_cast<int64_t>(s.ids.size());
      l.component = s.component;
      const auto& c = components_[s.component];
      l.target = c.target;
      std::map<std::string, int64_t> why;
      for (int64_t id : s.ids) {
        const int64_t root = ids_.find(id);
        if (removed_[root]) ++l.removed;
        else if (!root_frozen_[root].empty()) ++why[root_frozen_[root]];
      }
      const auto wanted = static_cast<int64_t>(std::floor(l.target * static_cast<double>(l.channels) + 1e-9));
      if (l.removed < wanted) {
        if (!c.kept_why.empty()) l.reason = c.kept_why;
        for (auto& [text, count] : why) {
          if (!l.reason.empty()) l.reason += "; ";
          l.reason += std::to_string(count) + " kept: " + text;
        }
        if (l.reason.empty()) l.reason = "a layer keeps at least one channel";
      }
      for (auto& [text, count] : why)
        kept_notes[node_label(*s.node) + ": " + std::to_string(count) + " of " + std::to_string(l.channels) +
                   " channels kept: " + text] = 0;
      if (!c.kept_why.empty() && !l.removed) kept_notes[node_label(*s.node) + ": every channel kept: " + c.kept_why] = 0;
      res_.channels += l.channels;
      res_.removed += l.removed;
      res_.layers.push_back(std::move(l));
    }
    res_.notes = skipped_;
    for (auto& [text, unused] : kept_notes) res_.notes.push_back(text);
  }

  // ------------------------------------------------------------ rewrite

  // The members of `set` in graph order (so new names and initializers come out the same on every run).
  std::vector<Node*> in_order(const std::set<Node*>& set) const {
    std::vector<Node*> r;
    for (auto& n : g_.nodes())
      if (set.count(n.get())) r.push_back(n.get());
    return r;
  }

  void replace_input(Node* n, size_t slot, TensorPtr t) {
    Value* old = n->input(slot);
    t->name = g_.unique_name(old->name());
    n->set_input(slot, g_.add_initializer(std::move(t)));
    drop_if_dead(g_, old, pinned_);
  }
  void slice_input(Node* n, size_t slot, size_t axis, const std::vector<bool>& keep) {
    if (keep.empty() || std::all_of(keep.begin(), keep.end(), [](bool b) { return b; })) return;
    TensorPtr t = fixed_constant(n->input(slot));
    TensorPtr s = t ? slice_axis(*t, axis, keep) : nullptr;
    assert(s && "checked while tracking");
    if (s) replace_input(n, slot, s);
  }

  void rewrite() {
    res_.changed = true;
    for (Node* n : in_order(convs_)) {
      TensorPtr w = fixed_constant(n->input(1));
      const int64_t group = n->attr_int("group", 1);
      auto out = keep_mask(n->output(0));
      auto in = conv_inputs_.count(n) ? keep_mask(n->input(0)) : all(w->dims[1] * group);
      if (out.empty()) out = all(w->dims[0]);
      auto r = rebuild_conv_weight(*w, group, out, in);
      assert(r.error.empty() && "checked by validate_convs");
      if (!r.weight) continue;
      if (r.weight->dims != w->dims) replace_input(n, 1, r.weight);
      if (r.group != group) n->set_attr(Attribute::make_int("group", r.group));
      if (n->input(2)) slice_input(n, 2, 0, out);
    }
    for (Node* n : in_order(gemms_)) {
      const bool trans_b = n->attr_int("transB", 0) != 0;
      if (gemm_inputs_.count(n)) slice_input(n, 1, trans_b ? 1 : 0, keep_mask(n->input(0)));
      auto out = keep_mask(n->output(0));
      slice_input(n, 1, trans_b ? 0 : 1, out);
      if (Value* c = n->input(2)) {
        auto cd = static_shape(c);
        if (cd && !cd->empty() && cd->back() == static_cast<int64_t>(out.size()) && out.size() > 1)
          slice_input(n, 2, cd->size() - 1, out);
      }
    }
    for (Node* n : in_order(matmuls_)) {
      if (matmul_inputs_.count(n)) slice_input(n, 1, 0, keep_mask(n->input(0)));
      slice_input(n, 1, 1, keep_mask(n->output(0)));
    }
    for (Node* n : in_order(batch_norms_)) {
      auto keep = keep_mask(n->input(0));
      for (size_t i = 1; i < 5; ++i) slice_input(n, i, 0, keep);
    }
    for (auto& s : const_slices_) slice_input(s.node, s.slot, s.axis, keep_mask(s.of));
    for (Node* n : in_order(reshapes_)) {
      auto shape = constant_ints(n->input(1));
      auto keep = keep_mask(n->output(0));
      const auto kept = static_cast<int64_t>(std::count(keep.begin(), keep.end(), true));
      if ((*shape)[1] > 0 && (*shape)[1] != kept) {
        (*shape)[1] = kept;
        replace_input(n, 1, tensor_from_ints({2}, *shape));
      }
    }
    for (auto& [v, t] : track_) {
      auto keep = keep_mask(v);
      auto* val = const_cast<Value*>(v);
      if (val->type.shape && t.axis < val->type.shape->size())
        (*val->type.shape)[t.axis] = Dim::known(std::count(keep.begin(), keep.end(), true));
    }
    g_.prune_dead_values();
  }

  struct Class {
    int64_t root = 0;
    double norm = 0, normalized = 0;
    int64_t filters = 0;
  };
  struct Component {
    std::vector<size_t> sources;
    std::vector<Class> classes;
    double target = 0;
    bool overridden = false;
    std::string kept_why;
  };

  Graph& g_;
  const ChannelPruneOptions& o_;
  pass::Pinned pinned_;
  ChannelIds ids_;
  std::vector<std::string> frozen_;       // per id: why it must stay (empty: free)
  std::vector<std::string> root_frozen_;  // per root
  std::vector<bool> removed_;             // per root
  std::unordered_map<const Value*, Track> track_;
  std::vector<Source> sources_;
  std::vector<Component> components_;
  std::vector<Partition> partitions_;
  std::vector<ConstSlice> const_slices_;
  std::set<Node*> convs_, conv_inputs_, gemms_, gemm_inputs_, matmuls_, matmul_inputs_, batch_norms_, reshapes_;
  std::vector<std::string> skipped_;
  ChannelPruneResult res_;
};

}  // namespace

Expected<ChannelPruneResult> prune_channels(Model& m, const ChannelPruneOptions& o) {
  if (!(o.sparsity >= 0 && o.sparsity < 1))
    return usage_error("channel pruning: sparsity " + std::to_string(o.sparsity) + " is outside [0, 1)");
  for (auto& [node, s] : o.layer_sparsity)
    if (!(s >= 0 && s < 1))
      return usage_error("channel pruning: the sparsity of layer '" + node + "' (" + std::to_string(s) +
                         ") is outside [0, 1)");
  for (auto& [component, s] : o.component_sparsity)
    if (!(s >= 0 && s < 1))
      return usage_error("channel pruning: the sparsity of component " + std::to_string(component) + " (" +
                         std::to_string(s) + ") is outside [0, 1)");
  ChannelPruneResult pre;
  if (auto st = infer_shapes(m); !st)
    pre.notes.push_back("shape inference failed, using the types already known: " + st.error().message);
  auto r = ChannelPruner(m, o).run();
  r.notes.insert(r.notes.begin(), pre.notes.begin(), pre.notes.end());
  return r;
}

}  // namespace effopt::passes::prune
