// fuse-pad: a constant-mode Pad in front of Conv, AveragePool or MaxPool becomes the consumer's own pads.
#include <cmath>
#include <limits>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

struct Match {
  Node* pad;
  Node* consumer;
  std::vector<int64_t> pads;  // the consumer's new pads: spatial begins, then spatial ends
};

// The smallest value `v` can hold, when its producer guarantees one.
std::optional<double> lower_bound(const Value* v, int64_t opset) {
  Node* p = v ? v->producer() : nullptr;
  if (!p || !is_onnx_domain(p->domain)) return std::nullopt;
  const std::string& op = p->op_type;
  if (op == "Relu" || op == "Abs" || op == "Exp" || op == "Sigmoid" || op == "Softplus") return 0.0;
  if (op == "Clip") {
    if (opset < 11) {
      if (!p->attr("min")) return std::nullopt;
      return static_cast<double>(p->attr_float("min", 0));
    }
    if (!p->input(1)) return std::nullopt;
    return constant_splat(p->input(1));
  }
  return std::nullopt;
}

std::optional<Match> match(Node& c, pass::PassContext& ctx, SkipNotes& notes) {
  bool conv = is_op(&c, "Conv"), avg = is_op(&c, "AveragePool"), max = is_op(&c, "MaxPool");
  if (!conv && !avg && !max) return std::nullopt;
  Node* pad = producer_of(c.input(0), "Pad");
  if (!pad) return std::nullopt;
  if (!only_feeds(c.input(0), &c, *ctx.pinned))
    return notes.skip(*pad, "output has other consumers or is a graph output");
  int64_t opset = ctx.opset();
  if (pad->attr_string("mode", "constant") != "constant") return notes.skip(*pad, "not constant mode");
  if (c.attr_string("auto_pad", "NOTSET") != "NOTSET") return notes.skip(c, "auto_pad is not NOTSET");
  // The data rank: from the conv weights or the pooling kernel.
  size_t rank = 0;
  if (conv) {
    TensorPtr w = fixed_constant(c.input(1));
    if (w) rank = w->dims.size();
    else if (auto s = shape_of(c.input(1))) rank = s->size();
  } else if (const Attribute* k = c.attr("kernel_shape")) {
    rank = k->ints.size() + 2;
  }
  if (rank < 3) return notes.skip(c, "data rank unknown");
  // Pads and pad value in the opset's form.
  std::optional<std::vector<int64_t>> raw;
  double value = 0;
  std::optional<std::vector<int64_t>> axes;
  if (opset < 11) {
    const char* name = opset < 2 ? "paddings" : "pads";
    if (pad->attr(name)) raw = pad->attr_ints(name);
    value = static_cast<double>(pad->attr_float("value", 0.0f));
  } else {
    raw = constant_ints(pad->input(1));
    if (Value* cv = pad->input(2)) {
      auto s = constant_doubles(cv);
      if (!s || s->size() != 1) return notes.skip(*pad, "pad value is not a constant scalar");
      value = (*s)[0];
    }
    if (opset >= 18 && pad->input(3)) {
      axes = constant_ints(pad->input(3));
      if (!axes) return notes.skip(*pad, "axes are not constant");
    }
  }
  if (!raw) return notes.skip(*pad, "pads are not constant");
  std::vector<int64_t> ax;
  if (axes) {
    for (int64_t a : *axes) ax.push_back(a < 0 ? a + static_cast<int64_t>(rank) : a);
  } else {
    for (size_t i = 0; i < rank; ++i) ax.push_back(static_cast<int64_t>(i));
  }
  if (raw->size() != 2 * ax.size()) return notes.skip(*pad, "pads do not match the data rank");
  std::vector<int64_t> begin(rank, 0), end(rank, 0);
  for (size_t i = 0; i < ax.size(); ++i) {
    if (ax[i] < 0 || ax[i] >= static_cast<int64_t>(rank)) return std::nullopt;
    begin[static_cast<size_t>(ax[i])] += (*raw)[i];
    end[static_cast<size_t>(ax[i])] += (*raw)[i + ax.size()];
  }
  for (size_t i = 0; i < rank; ++i) {
    if (begin[i] < 0 || end[i] < 0) return notes.skip(*pad, "negative pads (cropping)");
    if (i < 2 && (begin[i] || end[i])) return notes.skip(*pad, "pads the batch or channel axis");
  }
  size_t spatial = rank - 2;
  std::vector<int64_t> merged = c.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  if (merged.size() != 2 * spatial) return std::nullopt;
  for (size_t i = 0; i < spatial; ++i) {
    merged[i] += begin[i + 2];
    merged[i + spatial] += end[i + 2];
  }
  if (conv || avg) {
    if (value != 0) return notes.skip(*pad, "pad value is not 0");
    if (avg && c.attr_int("count_include_pad", 0) != 1) return notes.skip(c, "count_include_pad is not 1");
    if (avg && c.attr_int("ceil_mode", 0) != 0) return notes.skip(c, "ceil_mode is 1");
  } else {
    bool neg_inf = std::isinf(value) && value < 0;
    auto lb = lower_bound(pad->input(0), opset);
    if (!neg_inf && !(lb && value <= *lb)) return notes.skip(*pad, "the pad value could exceed the input");
    if (c.attr_int("ceil_mode", 0) != 0 || !only_first_output_used(&c, *ctx.pinned))
      return notes.skip(c, "ceil_mode or Indices");
    for (int64_t d : c.attr_ints("dilations")) if (d != 1) return notes.skip(c, "dilated");
    std::vector<int64_t> k = c.attr_ints("kernel_shape");
    for (size_t i = 0; i < spatial; ++i)
      if (merged[i] >= k[i] || merged[i + spatial] >= k[i]) return notes.skip(c, "a window could hold only padding");
  }
  return Match{pad, &c, merged};
}

void rewrite(Graph& g, pass::PassContext& ctx, const Match& m) {
  m.consumer->set_attr(Attribute::make_ints("pads", m.pads));
  m.consumer->set_input(0, m.pad->input(0));
  std::vector<Value*> inputs = m.pad->inputs();
  g.erase_node(m.pad);
  for (Value* v : inputs) drop_if_dead(g, v, *ctx.pinned);
}

}  // namespace

void register_fuse_pad(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fuse-pad";
  p.summary = "Fold a constant-mode Pad into the pads of the Conv/AveragePool/MaxPool after it";
  p.doc =
      "A constant-mode Pad in front of Conv, AveragePool or MaxPool becomes the consumer's own `pads`. "
      "Pad's forms: `paddings` attribute (opset 1), `pads`/`value` attributes (2..10), pads and "
      "constant_value inputs (11..17), plus an axes input (18+).\n"
      "\n"
      "When: Pad (mode \"constant\") pads only spatial axes (axes 0 and 1 get zero pads), every pad is "
      "non-negative and constant, its output feeds only the consumer's data input and is not a graph "
      "output, the consumer has auto_pad NOTSET, and the pad value is what the consumer's implicit padding "
      "would use:\n"
      "- Conv: pad value 0 (implicit padding is zeros);\n"
      "- AveragePool: pad value 0, count_include_pad=1 (then implicit pads count as zeros, as explicit "
      "ones do) and ceil_mode=0;\n"
      "- MaxPool: implicit padding is -inf, i.e. ignored. An explicit value v changes nothing iff it never "
      "exceeds the window's maximum: v = -inf, or v <= a lower bound of the input (Relu, Abs, Exp, "
      "Sigmoid, Softplus: 0; Clip: its constant min). Also needed: every window keeps a real element "
      "(merged pads < kernel, dilations 1, ceil_mode 0) and the Indices output unused.\n"
      "\n"
      "Not when: reflect/edge mode, negative pads (cropping), padded batch or channel axes, or a pad value "
      "the consumer's padding does not mean.\n"
      "\n"
      "Before: p = Pad<mode=\"constant\">(x, [0,0,1,1, 0,0,1,1]); y = Conv<pads=[0,0,0,0]>(p, W)\n"
      "After:  y = Conv<pads=[1,1,1,1]>(x, W)   (the consumer keeps its name and output)\n"
      "\n"
      "Maths: both sides compute the consumer over the same padded tensor.";
  p.run_on_graph = [](Graph& g, pass::PassContext& ctx) -> Expected<pass::PassResult> {
    return util::run_pattern(g, ctx, "fused", match, rewrite);
  };
  r.add(std::move(p));
}

}  // namespace effopt::passes
