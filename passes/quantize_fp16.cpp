// quantize: mode=fp16 (passes/quantize.h), as ONNX Runtime's float16
// converter (onnxconverter_common.float16.convert_float_to_float16) does it.
//
// Every float32 value of the main graph becomes float16 (initializers and
// Constant values rounded, Cast{to=float} and the ops that create float32
// from nothing retargeted), except around blocked nodes: ops ONNX Runtime
// needs in float32 (its converter's default block list: Resize, Upsample,
// Range, TopK, NonMaxSuppression, RoiAlign, CumSum, Min, Max and the ai.onnx.ml
// ops), Q/DQ ops (their scales are float32 below opset 19), ops of other
// domains, nodes with subgraphs (their bodies stay float32) and what
// exclude-op / exclude-node name. A blocked node reads float32 through a Cast
// and its float32 outputs are Cast to float16 for the others. A constant only
// blocked nodes read stays float32. keep-io-types keeps the graph's float32
// inputs and outputs (a Cast after each input, before each output).
//
// Before: y = Conv(x, W (float[64,3,3,3]))   keep-io-types
// After:  x16 = Cast<to=FLOAT16>(x); y16 = Conv(x16, W (float16[64,3,3,3])); y = Cast<to=FLOAT>(y16)
//
// Values beyond float16's range (+-65504) are clamped to it (a -1e9
// attention mask becomes -65504, still a mask); inf and NaN stay.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "analysis/shape_inference.h"
#include "ir/dtype.h"
#include "passes/pass_util.h"
#include "passes/quantize.h"

namespace effopt::passes::quant {

namespace {

using util::node_label;

constexpr int64_t kFloat = static_cast<int64_t>(DataType::Float);
constexpr int64_t kFloat16 = static_cast<int64_t>(DataType::Float16);

// onnxconverter_common's DEFAULT_OP_BLOCK_LIST (ai.onnx ops; the ai.onnx.ml
// ones are blocked as another domain), plus the Q/DQ ops.
const std::set<std::string>& blocked_ops() {
  static const std::set<std::string> ops = {
      "Resize", "Upsample", "Range", "TopK", "NonMaxSuppression", "RoiAlign", "CumSum", "Min", "Max",
      "RandomUniformLike", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"};
  return ops;
}

bool is_f32(const Value* v) { return v && v->type.is_tensor() && v->type.elem_type == DataType::Float; }

struct Fp16 {
  Model& m;
  Graph& g;
  const Options& o;
  pass::PassContext& ctx;
  pass::PassResult& r;
  std::set<const Node*> blocked;
  std::map<std::string, int64_t> blocked_by_reason;
  int64_t clamped = 0;
  int64_t casts = 0;

  // Why `n` keeps float32 (nullptr: it computes in float16).
  std::string block_reason(const Node& n) {
    if (n.graph() != &g) return "inside a subgraph";
    if (!is_onnx_domain(n.domain)) return "op of domain " + n.domain;
    if (blocked_ops().count(n.op_type)) return n.op_type + " (ONNX Runtime's float16 block list)";
    if (!n.subgraphs().empty()) return n.op_type + " (has subgraphs)";
    if (o.exclude_ops.count(n.op_type)) return n.op_type + " (exclude-op)";
    if (o.exclude_node && std::regex_match(n.name, *o.exclude_node)) return "exclude-node";
    return "";
  }
  bool is_blocked(const Node* n) { return n->graph() != &g || blocked.count(n) > 0; }

  // A float32 tensor rounded to float16, clamped to its finite range.
  TensorPtr to_half(const Tensor& t) {
    std::vector<float> x = tensor_floats(t);
    std::vector<std::byte> bytes(x.size() * 2);
    for (size_t i = 0; i < x.size(); ++i) {
      float v = x[i];
      if (std::isfinite(v) && std::fabs(v) > 65504.f) {
        v = std::copysign(65504.f, v);
        ++clamped;
      }
      uint16_t h = float_to_half(v);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
    auto out = std::make_shared<Tensor>();
    out->data_type = DataType::Float16;
    out->dims = t.dims;
    out->set_bytes(std::move(bytes));
    return out;
  }

  void set_half(Value* v) { v->type.elem_type = DataType::Float16; }

  // Where a Cast of `v` goes: right after its producer, or first.
  size_t after_producer(const Value* v) {
    Node* p = v->producer();
    return p && p->graph() == &g ? g.index_of(p) + 1 : 0;
  }

  Value* cast(Value* v, int64_t to, const std::string& suffix) {
    Node* n = g.create_node("Cast", {v}, {g.unique_name(v->name() + suffix)}, "", after_producer(v));
    n->name = n->output(0)->name();
    n->set_attr(Attribute::make_int("to", to));
    n->output(0)->type = v->type;
    n->output(0)->type.elem_type = static_cast<DataType>(to);
    ++casts;
    return n->output(0);
  }

  // Retargets the attributes of a float16 node that create float32.
  void retarget_attributes(Node& n) {
    if (n.op_type == "Cast" && n.attr_int("to", 0) == kFloat) n.set_attr(Attribute::make_int("to", kFloat16));
    if ((n.op_type == "RandomNormal" || n.op_type == "RandomUniform" || n.op_type == "EyeLike" ||
         n.op_type == "RandomNormalLike" || n.op_type == "Bernoulli" || n.op_type == "Multinomial") &&
        n.attr_int("dtype", n.op_type.starts_with("Random") && !n.op_type.ends_with("Like") ? kFloat : 0) == kFloat &&
        is_f32(n.output(0)))
      n.set_attr(Attribute::make_int("dtype", kFloat16));
    if (n.op_type == "ConstantOfShape" && is_f32(n.output(0))) {
      const Attribute* a = n.attr("value");
      TensorPtr t = a && a->t ? a->t : tensor_from_values(DataType::Float, {1}, {0.0});
      n.set_attr(Attribute::make_tensor("value", to_half(*t)));
    }
    if (n.op_type == "Constant" && is_f32(n.output(0))) {
      const Attribute* a = n.attr("value");
      TensorPtr t;
      if (a && a->t) {
        t = a->t;
      } else if (const Attribute* f = n.attr("value_float")) {
        t = tensor_from_values(DataType::Float, {}, {f->f});
        n.remove_attr("value_float");
      } else if (const Attribute* fs = n.attr("value_floats")) {
        std::vector<double> d(fs->floats.begin(), fs->floats.end());
        t = tensor_from_values(DataType::Float, {static_cast<int64_t>(d.size())}, d);
        n.remove_attr("value_floats");
      }
      if (t) {
        r.count("weight-bytes-before", static_cast<int64_t>(t->byte_size()));
        TensorPtr h = to_half(*t);
        r.count("weight-bytes-after", static_cast<int64_t>(h->byte_size()));
        r.count("tensors-float16");
        n.set_attr(Attribute::make_tensor("value", h));
      }
    }
  }

  // A graph output that became float16 keeps its name and float32 type: its
  // producer writes a new float16 value, Cast to the output.
  void keep_output_float(Value* v) {
    Node* p = v->producer();
    Value* v16 = g.create_unique_value(v->name() + "_fp16");
    v16->type = v->type;
    v->type.elem_type = DataType::Float;
    std::vector<Value*> outs = p->outputs();
    std::vector<std::vector<Use>> saved;
    for (Value* out : outs) saved.push_back(util::detach_uses(out));
    size_t pos = g.index_of(p);
    std::vector<Attribute> attrs = util::copy_attributes(p, g);
    std::string op = p->op_type, domain = p->domain, name = p->name;
    std::vector<Value*> ins = p->inputs();
    g.erase_node(p);
    for (Value*& out : outs)
      if (out == v) out = v16;
    Node* q = g.create_node_with_outputs(op, ins, outs, domain, pos);
    q->name = name;
    q->attributes = std::move(attrs);
    for (size_t i = 0; i < outs.size(); ++i) util::restore_uses(outs[i], saved[i]);
    Node* c = g.create_node_with_outputs("Cast", {v16}, {v}, "", pos + 1);
    c->name = g.unique_name(v->name() + "_to_float32");
    c->set_attr(Attribute::make_int("to", kFloat));
    ++casts;
  }

  Status run() {
    EFFOPT_TRY(infer_shapes(m));
    std::vector<Node*> nodes;
    for (const auto& n : g.nodes()) nodes.push_back(n.get());
    for (Node* n : nodes) {
      std::string why = block_reason(*n);
      bool has_float = false;
      for (Value* v : n->inputs()) has_float |= is_f32(v);
      for (Value* v : n->outputs()) has_float |= is_f32(v);
      if (!why.empty()) {
        blocked.insert(n);
        if (has_float) ++blocked_by_reason[why];
      }
    }
    // A Constant only blocked nodes read stays float32 (Resize's scales).
    for (Node* n : nodes)
      if (n->op_type == "Constant" && !blocked.count(n) && n->output(0) && !n->output(0)->uses().empty() &&
          !n->output(0)->is_output_of_any_graph() &&
          std::all_of(n->output(0)->uses().begin(), n->output(0)->uses().end(),
                      [&](const Use& u) { return is_blocked(u.node); }))
        blocked.insert(n);
    // The float32 values as they were, before any type changes.
    std::vector<Value*> f32;
    for (const auto& v : g.values())
      if (is_f32(v.get())) f32.push_back(v.get());
    std::set<Value*> was_f32(f32.begin(), f32.end());
    std::set<Value*> outputs(g.outputs().begin(), g.outputs().end());

    for (Node* n : nodes)
      if (!blocked.count(n)) retarget_attributes(*n);

    for (Value* v : f32) {
      bool any_fp16_reader = false;
      for (const Use& u : v->uses()) any_fp16_reader |= !is_blocked(u.node);
      Node* p = v->producer();
      if (v->initializer) {
        if (!any_fp16_reader || v->is_graph_input() || (outputs.count(v) && o.keep_io_types)) continue;
        r.count("weight-bytes-before", static_cast<int64_t>(v->initializer->byte_size()));
        v->initializer = to_half(*v->initializer);
        r.count("weight-bytes-after", static_cast<int64_t>(v->initializer->byte_size()));
        r.count("tensors-float16");
        set_half(v);
      } else if (v->is_graph_input()) {
        if (!o.keep_io_types) {
          set_half(v);
          continue;
        }
        if (!any_fp16_reader) continue;
        std::vector<Use> moved;
        for (const Use& u : v->uses())
          if (!is_blocked(u.node)) moved.push_back(u);
        Value* v16 = cast(v, kFloat16, "_fp16");
        for (const Use& u : moved) u.node->set_input(u.index, v16);
      } else if (p && is_blocked(p)) {
        if (!any_fp16_reader) continue;
        std::vector<Use> moved;
        for (const Use& u : v->uses())
          if (!is_blocked(u.node)) moved.push_back(u);
        Value* v16 = cast(v, kFloat16, "_fp16");
        for (const Use& u : moved) u.node->set_input(u.index, v16);
      } else if (p) {
        set_half(v);
      }
    }
    // Blocked readers of values that became float16 read a float32 Cast.
    for (Value* v : f32) {
      if (v->type.elem_type != DataType::Float16) continue;
      std::vector<Use> moved;
      for (const Use& u : v->uses())
        if (is_blocked(u.node)) moved.push_back(u);
      if (moved.empty()) continue;
      Value* v32 = cast(v, kFloat, "_fp32");
      for (const Use& u : moved) u.node->set_input(u.index, v32);
    }
    if (o.keep_io_types)
      for (Value* v : std::vector<Value*>(g.outputs().begin(), g.outputs().end()))
        if (was_f32.count(v) && v->type.elem_type == DataType::Float16 && v->producer()) {
          keep_output_float(v);
        }
    // Value infos of the old types would contradict the new ones: shapes
    // come back from inference.
    g.clear_value_info();
    for (const auto& [why, k] : blocked_by_reason)
      r.note(std::to_string(k) + " node(s) stay float32: " + why);
    if (clamped)
      r.note(std::to_string(clamped) + " constant element(s) beyond float16's range clamped to +-65504");
    if (casts) r.count("casts-inserted", casts);
    if (r.counter("tensors-float16") || casts) r.changed = true;
    r.note("fp16: ONNX Runtime's x86 CPU provider has float16 kernels for few ops and casts around the others: "
           "the file is about 2x smaller, but expect it to run slower than float32 on a CPU (it is meant for GPUs "
           "and NPUs)");
    return ok();
  }
};

}  // namespace

Status convert_to_float16(Model& m, const Options& o, pass::PassContext& ctx, pass::PassResult& r) {
  Fp16 f{m, *m.graph, o, ctx, r, {}, {}, 0, 0};
  return f.run();
}

}  // namespace effopt::passes::quant
