#include "exec/executor.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "exec/batch_norm_fold.h"
#include "exec/kernel_registry.h"
#include "exec/thread_pool.h"
#include "ir/constants.h"
#include "ir/sparse_tensor.h"
#include "onnx/op_signatures.h"

namespace effopt::exec {

namespace {

struct Step {
  const Node* node = nullptr;
  const KernelDef* kernel = nullptr;
  int64_t opset = 0;
  std::vector<int> in_slots;   // -1: absent optional input
  std::vector<int> out_slots;  // -1: absent optional output
  // Values of this graph (or of enclosing ones) that the node's subgraphs read:
  // they must stay alive until the node has run.
  std::vector<int> implicit_slots;
  std::vector<int> free_after; // slots whose last use is this step
  Activation activation{};       // fused into a Conv (KernelContext::activation)
  bool removed = false;          // fused into the step before it
  mutable std::shared_ptr<void> kernel_state;  // KernelContext::state (per step, kept across runs)
};

// The compiled form of one graph: the main graph or a subgraph (If branch,
// Loop / Scan body). A subgraph's reads of enclosing graphs' values become
// local slots ("outer" slots) filled from the enclosing frame when it starts.
struct GraphPlan {
  const Graph* graph = nullptr;
  std::string where;  // "" for the main graph, else " in the body of Loop 'x'"
  std::unordered_map<const Value*, int> slot_of;
  std::vector<const Value*> slot_value;
  std::vector<std::pair<int, TensorValue>> constants;
  std::vector<Step> steps;
  std::vector<int> input_slots, output_slots;
  std::vector<const Value*> free_values;   // values of enclosing graphs read here or in nested subgraphs
  std::vector<std::pair<int, int>> outer;  // (slot here, slot in the enclosing graph's plan)

  int slot(const Value* v) {
    auto it = slot_of.find(v);
    if (it != slot_of.end()) return it->second;
    int s = static_cast<int>(slot_value.size());
    slot_of.emplace(v, s);
    slot_value.push_back(v);
    return s;
  }
};

// Folds an inference BatchNormalization into the Conv before it, as ONNX Runtime does at load, with the
// fuse-conv-bn pass's checks and maths (exec/batch_norm_fold.h: W' = W * s per output channel,
// b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps), in double, rounded once; float, double and
// float16). The model is untouched: the plan's Conv step reads new constant slots and writes the BN's output.
void fold_conv_batch_norm(GraphPlan& p, const Model& model) {
  std::unordered_map<const Node*, size_t> step_of;
  for (size_t i = 0; i < p.steps.size(); ++i) step_of[p.steps[i].node] = i;
  bool folded = false;
  for (auto& st : p.steps) {
    const Node& conv = *st.node;
    if (conv.op_type != "Conv" || !is_onnx_domain(conv.domain) || st.out_slots.size() != 1 || st.in_slots.size() < 2)
      continue;
    const Value* y = conv.output(0);
    if (!y || y->uses().size() != 1) continue;
    auto it = step_of.find(y->uses()[0].node);
    if (it == step_of.end()) continue;
    Step& bs = p.steps[it->second];
    if (bs.removed || bs.out_slots.empty() || bs.out_slots[0] < 0) continue;
    BatchNormFold fold = fold_batch_norm(conv, *bs.node, bs.opset, model);
    if (!fold) continue;
    auto add_slot = [&](const Value* named_after, const Tensor& t) {
      int s = static_cast<int>(p.slot_value.size());
      p.slot_value.push_back(named_after);  // for messages only: not in slot_of
      p.constants.emplace_back(s, TensorValue::from_bytes(t.data_type, t.dims, t.bytes()));
      return s;
    };
    st.in_slots[1] = add_slot(conv.input(1), *fold.weight);
    int bias_slot = add_slot(conv.input(1), *fold.bias);
    if (st.in_slots.size() < 3) st.in_slots.resize(3, -1);
    st.in_slots[2] = bias_slot;
    st.out_slots[0] = bs.out_slots[0];
    bs.removed = true;
    folded = true;
  }
  if (!folded) return;
  // Drop the original weights nobody reads any more (the folded copies replace them).
  std::vector<bool> read(p.slot_value.size(), false);
  for (auto& st : p.steps) {
    if (st.removed) continue;
    for (int s : st.in_slots)
      if (s >= 0) read[s] = true;
    for (int s : st.implicit_slots) read[s] = true;
  }
  for (int s : p.output_slots) read[s] = true;
  for (const Value* v : p.free_values) read[p.slot_of.at(v)] = true;
  std::erase_if(p.constants, [&](const std::pair<int, TensorValue>& c) { return !read[c.first]; });
}

// The step an internal rewrite leaves for an activation the model writes out as several element-wise ops
// (Gelu): KernelContext::activation applied to its one float32 input, in fixed 16384-element tasks.
const KernelDef& fused_activation_kernel() {
  static const KernelDef def{"", "FusedActivation", 1, INT64_MAX, [](KernelContext& ctx) -> Status {
    const TensorValue& x = ctx.in(0);
    if (x.dtype() != DataType::Float) return ctx.fail("the fused activation takes float32");
    TensorValue y = TensorValue::allocate(DataType::Float, x.dims());
    const int64_t n = static_cast<int64_t>(x.element_count()), chunk = 16384;
    const float* in = x.data<float>();
    float* out = y.mutable_data<float>();
    ctx.pool.parallel_for(chunk_count(n, chunk), [&](int64_t t) {
      int64_t b = t * chunk;
      apply_activation(ctx.activation, in + b, out + b, std::min(chunk, n - b));
    });
    ctx.outputs[0] = std::move(y);
    return ok();
  }};
  return def;
}

std::string node_label(const Node& n, size_t index) {
  return (n.name.empty() ? "#" + std::to_string(index) : "'" + n.name + "'");
}

TensorValue widen(const TensorValue& v) {
  TensorValue out = TensorValue::allocate(DataType::Float, v.dims());
  const uint16_t* s = v.data<uint16_t>();
  float* d = out.mutable_data<float>();
  uint64_t n = v.element_count();
  if (v.dtype() == DataType::Float16)
    for (uint64_t i = 0; i < n; ++i) d[i] = half_to_float(s[i]);
  else
    for (uint64_t i = 0; i < n; ++i) d[i] = bf16_to_float(s[i]);
  return out;
}

TensorValue narrow(const TensorValue& v, DataType to) {
  TensorValue out = TensorValue::allocate(to, v.dims());
  const float* s = v.data<float>();
  uint16_t* d = out.mutable_data<uint16_t>();
  uint64_t n = v.element_count();
  if (to == DataType::Float16)
    for (uint64_t i = 0; i < n; ++i) d[i] = float_to_half(s[i]);
  else
    for (uint64_t i = 0; i < n; ++i) d[i] = float_to_bf16(s[i]);
  return out;
}


// What one node of a subgraph-carrying op is checked for at session creation:
// the body's signature must fit the node (counts; If branches' declared types).
std::string check_control_flow(const Node& n, int64_t opset) {
  if (!is_onnx_domain(n.domain)) return "";
  auto graph_attr = [&](const char* name) -> const Graph* {
    const Attribute* a = n.attr(name);
    return a && a->type == AttrType::Graph ? a->g.get() : nullptr;
  };
  auto count = [](size_t k) { return std::to_string(k); };
  if (n.op_type == "If") {
    const Graph* t = graph_attr("then_branch");
    const Graph* e = graph_attr("else_branch");
    if (!t || !e) return "needs then_branch and else_branch graph attributes";
    if (t->outputs().size() != n.outputs().size() || e->outputs().size() != n.outputs().size())
      return "its branches must each have " + count(n.outputs().size()) + " outputs (one per node output), but " +
             "then_branch has " + count(t->outputs().size()) + " and else_branch " + count(e->outputs().size());
    for (size_t i = 0; i < t->outputs().size(); ++i) {
      const Value* a = t->outputs()[i];
      const Value* b = e->outputs()[i];
      if (!a || !b) continue;
      if (a->type.kind != b->type.kind && a->type.kind != Type::Kind::None && b->type.kind != Type::Kind::None)
        return "output " + count(i) + " is " + a->type.to_string() + " in then_branch but " + b->type.to_string() +
               " in else_branch";
      if (a->type.is_tensor() && b->type.is_tensor() && a->type.elem_type != DataType::Undefined &&
          b->type.elem_type != DataType::Undefined && a->type.elem_type != b->type.elem_type)
        return "output " + count(i) + " is " + data_type_name(a->type.elem_type) + " in then_branch but " +
               data_type_name(b->type.elem_type) + " in else_branch";
    }
    return "";
  }
  if (n.op_type == "Loop") {
    const Graph* b = graph_attr("body");
    if (!b) return "needs a body graph attribute";
    size_t carried = n.inputs().size() < 2 ? 0 : n.inputs().size() - 2;
    if (n.inputs().size() < 2) return "needs inputs M and cond (either may be empty), got " + count(n.inputs().size());
    if (b->inputs().size() != 2 + carried)
      return "its body must take " + count(2 + carried) + " inputs (iteration number, condition and " + count(carried) +
             " loop-carried values), but it takes " + count(b->inputs().size());
    if (b->outputs().size() < 1 + carried)
      return "its body must return the condition and " + count(carried) + " loop-carried values, but it returns " +
             count(b->outputs().size()) + " outputs";
    size_t scans = b->outputs().size() - 1 - carried;
    if (n.outputs().size() != carried + scans)
      return "the node has " + count(n.outputs().size()) + " outputs, but its body gives " + count(carried) +
             " loop-carried values and " + count(scans) + " scan outputs";
    return "";
  }
  if (n.op_type == "Scan") {
    const Graph* b = graph_attr("body");
    if (!b) return "needs a body graph attribute";
    int64_t m = n.attr_int("num_scan_inputs", -1);
    size_t inputs = n.inputs().size() - (opset < 9 && !n.inputs().empty() ? 1 : 0);
    if (m < 1 || static_cast<size_t>(m) > inputs)
      return "num_scan_inputs must be between 1 and the " + count(inputs) + " inputs, got " + std::to_string(m);
    size_t states = inputs - static_cast<size_t>(m);
    if (b->inputs().size() != inputs)
      return "its body must take " + count(inputs) + " inputs (" + count(states) + " states and " +
             std::to_string(m) + " scan inputs), but it takes " + count(b->inputs().size());
    if (b->outputs().size() < states || n.outputs().size() != b->outputs().size())
      return "its body returns " + count(b->outputs().size()) + " outputs, but the node has " +
             count(n.outputs().size()) + " outputs and " + count(states) + " states";
    return "";
  }
  return "";
}

}  // namespace

struct Session::Impl {
  const Model* model = nullptr;
  RunOptions opts;
  std::unique_ptr<ThreadPool> pool;
  std::unordered_map<const Graph*, std::unique_ptr<GraphPlan>> plans;
  GraphPlan* main = nullptr;
  std::vector<std::string> input_names, output_names;
  std::vector<const Value*> input_values;
  // IR >= 4: initializers also listed among the main graph's inputs are defaults that a feed of the same name
  // overrides (ONNX Runtime's overridable initializers); in graph order. IR < 4: they are constants.
  std::vector<std::string> overridable_names;
  std::vector<const Value*> overridable_values;
  std::unordered_set<const Value*> overridable;
  bool overrides_in_state = false;  // the last run fed an override: kernel caches may hold its tensors
  RunStats stats;
  uint64_t live = 0;  // bytes of live intermediates, over every active frame
  std::map<std::string, double> op_ms;

  // Errors found while compiling, reported together.
  std::map<std::string, std::vector<std::string>> unsupported;  // "Op (opset N)" -> where
  std::vector<std::string> errors;

  GraphPlan* compile(const Graph& g, const std::string& where, bool is_main);
  // The constant behind `v` (ir/constants.h), unless it is an initializer a feed may override: the plan may
  // bake only those in (constant steps, fused bounds, folded weights).
  TensorPtr fixed_constant(const Value* v) const;
  Status check_input(const Value* v, const TensorValue& t, std::map<std::string, int64_t>& symbols) const;
  // `overrides`: (index into overridable_values, value) for the initializers this run feeds.
  Expected<std::vector<RuntimeValue>> run_main(std::vector<RuntimeValue> inputs,
                                               const std::vector<std::pair<size_t, TensorValue>>& overrides = {});
  // run_main on tensors, in input_names() order; every output must be a tensor.
  Expected<std::vector<TensorValue>> run_tensors(const std::vector<TensorValue>& inputs,
                                                 const std::vector<std::pair<size_t, TensorValue>>& overrides);
  Expected<std::vector<RuntimeValue>> run_plan(const GraphPlan& p, std::vector<RuntimeValue> inputs,
                                               const std::vector<RuntimeValue>* enclosing,
                                               const std::vector<std::pair<int, RuntimeValue>>* overrides = nullptr);
};

namespace {

// The SubgraphRunner a control-flow kernel gets: runs one of its node's bodies
// with the enclosing frame's slots for the outer-scope values.
struct FrameRunner final : SubgraphRunner {
  Session::Impl* impl;
  const std::vector<RuntimeValue>* slots;
  FrameRunner(Session::Impl* i, const std::vector<RuntimeValue>* s) : impl(i), slots(s) {}
  Expected<std::vector<RuntimeValue>> run(const Graph& body, std::vector<RuntimeValue> inputs) override;
};

std::string graph_attr_name(const Node& owner, const Graph& g) {
  for (auto& a : owner.attributes) {
    if (a.g.get() == &g) return a.name;
    for (auto& sg : a.graphs)
      if (sg.get() == &g) return a.name;
  }
  return "subgraph";
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() { release_cached_buffers(); }
const std::vector<std::string>& Session::input_names() const { return impl_->input_names; }
const std::vector<std::string>& Session::output_names() const { return impl_->output_names; }
const std::vector<std::string>& Session::overridable_initializer_names() const { return impl_->overridable_names; }
const RunStats& Session::last_stats() const { return impl_->stats; }

TensorPtr Session::Impl::fixed_constant(const Value* v) const {
  for (const Value* at = v; at;) {  // constant_tensor's Identity chain, down to the value holding the tensor
    if (at->initializer) return overridable.count(at) ? nullptr : at->initializer;
    const Node* p = at->producer();
    if (!p || !is_onnx_domain(p->domain) || p->op_type != "Identity") break;
    at = p->input(0);
  }
  return constant_tensor(v);
}

GraphPlan* Session::Impl::compile(const Graph& g, const std::string& where, bool is_main) {
  auto owned = std::make_unique<GraphPlan>();
  GraphPlan* p = owned.get();
  plans[&g] = std::move(owned);
  p->graph = &g;
  p->where = where;
  const KernelRegistry& reg = KernelRegistry::builtin();
  std::set<const Value*> free_seen;
  auto add_free = [&](const Value* v) {
    if (free_seen.insert(v).second) p->free_values.push_back(v);
    return p->slot(v);
  };

  auto add_constant = [&](const Value* v) -> bool {
    if (p->slot_of.count(v)) return true;
    TensorPtr t = constant_tensor(v);
    if (!t) return false;
    auto tv = TensorValue::from_tensor(*t);
    if (!tv) {
      errors.push_back("constant '" + v->name() + "'" + where + ": " + tv.error().message);
      return true;
    }
    p->constants.emplace_back(p->slot(v), std::move(*tv));
    return true;
  };

  for (const Value* v : g.inputs()) {
    if (v->initializer || v->sparse_initializer) {
      if (is_main && v->initializer && model->ir_version >= 4) {
        overridable_names.push_back(v->name());
        overridable_values.push_back(v);
        overridable.insert(v);
      }
      continue;
    }
    if (is_main) {
      input_names.push_back(v->name());
      input_values.push_back(v);
    }
    p->input_slots.push_back(p->slot(v));
  }
  for (const Value* v : g.initializers()) add_constant(v);
  // Sparse initializers are densified at load, as ONNX Runtime does.
  for (const Value* v : g.sparse_initializers()) {
    std::string why;
    TensorPtr dense = densify(*v->sparse_initializer, &why);
    if (!dense) {
      errors.push_back("sparse initializer '" + v->name() + "'" + where + ": " + why);
      continue;
    }
    auto tv = TensorValue::from_tensor(*dense);
    if (!tv) {
      errors.push_back("sparse initializer '" + v->name() + "'" + where + ": " + tv.error().message);
      continue;
    }
    p->constants.emplace_back(p->slot(v), std::move(*tv));
  }

  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = *nodes[i];
    // Constant nodes and Identity chains of constants are weights: no step.
    bool all_const = !n.outputs().empty();
    for (const Value* o : n.outputs())
      if (!o || !fixed_constant(o)) all_const = false;
    if (all_const && (n.op_type == "Constant" || n.op_type == "Identity") && is_onnx_domain(n.domain)) {
      for (const Value* o : n.outputs()) add_constant(o);
      continue;
    }
    int64_t opset = model->opset(n.domain);
    const KernelDef* k = reg.find(n.domain, n.op_type, opset);
    std::string label = node_label(n, i) + where;
    if (!k) {
      std::string key = (is_onnx_domain(n.domain) ? std::string() : n.domain + "::") + n.op_type + " (opset " +
                        std::to_string(opset) + ")";
      unsupported[key].push_back(label);
    } else if (std::string bad = check_control_flow(n, opset); !bad.empty()) {
      errors.push_back(n.op_type + " node " + label + ": " + bad);
    }
    Step s;
    s.node = &n;
    s.kernel = k;
    s.opset = opset;
    for (const Value* in : n.inputs()) {
      if (!in) { s.in_slots.push_back(-1); continue; }
      s.in_slots.push_back(in->graph() != &g ? add_free(in) : p->slot(in));
    }
    for (const Value* o : n.outputs()) s.out_slots.push_back(o ? p->slot(o) : -1);
    // Bodies: compiled first; what they read from outside becomes implicit inputs of this node.
    std::set<int> implicit;
    for (const Graph* sg : n.subgraphs()) {
      std::string sub_where = " in the " + graph_attr_name(n, *sg) + " of " + n.op_type + " node " +
                              (n.name.empty() ? "#" + std::to_string(i) : "'" + n.name + "'") + where;
      GraphPlan* child = compile(*sg, sub_where, false);
      for (const Value* v : child->free_values) {
        int here = v->graph() != &g ? add_free(v) : p->slot(v);
        implicit.insert(here);
        child->outer.emplace_back(child->slot_of.at(v), here);
      }
    }
    s.implicit_slots.assign(implicit.begin(), implicit.end());
    if (k) p->steps.push_back(std::move(s));
  }

  for (const Value* v : g.outputs()) {
    if (!v) {
      errors.push_back("the graph" + where + " has an empty output");
      continue;
    }
    if (v->graph() != &g) add_free(v);
    else if (!p->slot_of.count(v)) {
      errors.push_back("graph output '" + v->name() + "'" + where + " is never computed");
      continue;
    }
    if (is_main) output_names.push_back(v->name());
    p->output_slots.push_back(p->slot(v));
  }

  if (opts.internal_rewrites && opts.fold_batch_norm) fold_conv_batch_norm(*p, *model);

  // Fuse an activation into the Conv that produces its input (the Conv kernels apply it to each output tile
  // while it is in cache, activation.h):
  // - Conv -> Relu / Clip (constant bounds) / Sigmoid / HardSigmoid / HardSwish, the Conv's output read by
  //   nothing else;
  // - SiLU and HardSwish as exporters write them, Conv -> {Sigmoid | HardSigmoid} -> Mul(y, s), with y read
  //   only by the activation and the Mul, and s only by the Mul (float32 only: in float16 the unfused ops
  //   round between the two, the fused epilogue would not).
  // Neither the Conv's output nor the activation's may be a graph output.
  if (opts.internal_rewrites) {
    std::unordered_map<const Node*, size_t> step_of;
    for (size_t i = 0; i < p->steps.size(); ++i) step_of[p->steps[i].node] = i;
    std::vector<bool> is_output(p->slot_value.size(), false);
    for (int s : p->output_slots) is_output[s] = true;
    auto step_for = [&](const Node* n) -> Step* {
      auto it = step_of.find(n);
      if (it == step_of.end() || !is_onnx_domain(n->domain) || n->outputs().size() != 1 || !n->output(0)) return nullptr;
      Step* s = &p->steps[it->second];
      return s->removed || s->out_slots.size() != 1 || s->out_slots[0] < 0 ? nullptr : s;
    };
    // The activation `as` computes alone, or nullopt when it has none the Conv can fuse.
    auto activation_of = [&](const Step& as) -> std::optional<Activation> {
      const Node& act = *as.node;
      if (act.op_type == "Relu") return Activation{ActKind::Clamp, 0.f, std::numeric_limits<float>::infinity()};
      if (act.op_type == "Sigmoid") return Activation{ActKind::Sigmoid};
      if (act.op_type == "HardSwish") return Activation{ActKind::HardSwish};
      if (act.op_type == "HardSigmoid")
        return Activation{ActKind::HardSigmoid, act.attr_float("alpha", 0.2f), act.attr_float("beta", 0.5f)};
      if (act.op_type != "Clip") return std::nullopt;
      float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
      if (as.opset < 11) {
        lo = act.attr_float("min", lo);
        hi = act.attr_float("max", hi);
      } else {
        for (size_t k = 1; k < 3; ++k) {
          const Value* b = act.input(k);
          if (!b) continue;
          TensorPtr t = fixed_constant(b);
          if (!t || t->data_type != DataType::Float || t->byte_size() != 4) return std::nullopt;
          float v;
          std::memcpy(&v, t->bytes().data(), 4);
          (k == 1 ? lo : hi) = v;
        }
      }
      return Activation{ActKind::Clamp, lo, hi};
    };
    auto is_float32 = [&](const Value* v) {
      if (!v) return false;
      if (TensorPtr t = fixed_constant(v)) return t->data_type == DataType::Float;
      return v->type.is_tensor() && v->type.elem_type == DataType::Float;
    };
    for (auto& st : p->steps) {
      if (st.node->op_type != "Conv" || !is_onnx_domain(st.node->domain) || st.out_slots.size() != 1) continue;
      if (st.removed) continue;
      const Value* y = p->slot_value[st.out_slots[0]];  // the BatchNormalization's output when one was folded
      if (!y || is_output[st.out_slots[0]]) continue;
      if (y->uses().size() == 1) {
        Step* as = step_for(y->uses()[0].node);
        if (!as) continue;
        std::optional<Activation> act = activation_of(*as);
        if (!act) continue;
        // Sigmoid / HardSigmoid / HardSwish in float32 only (float16 rounds the Conv's output first)
        if (act->kind != ActKind::Clamp && !is_float32(st.node->input(0)) && !is_float32(st.node->input(1))) continue;
        st.activation = *act;
        st.out_slots[0] = as->out_slots[0];
        as->removed = true;
        continue;
      }
      if (y->uses().size() != 2) continue;
      if (!is_float32(st.node->input(0)) && !is_float32(st.node->input(1))) continue;
      // Mul(y, Sigmoid(y)) / Mul(y, HardSigmoid(y)), the operands in either order
      const Node* u0 = y->uses()[0].node;
      const Node* u1 = y->uses()[1].node;
      if (u0 == u1) continue;
      const Node* gate = u0->op_type == "Mul" ? u1 : u0;
      const Node* mul = gate == u0 ? u1 : u0;
      if (mul->op_type != "Mul" || (gate->op_type != "Sigmoid" && gate->op_type != "HardSigmoid")) continue;
      Step* gs = step_for(gate);
      Step* ms = step_for(mul);
      if (!gs || !ms || mul->inputs().size() != 2) continue;
      const Value* s = gate->output(0);
      if (is_output[gs->out_slots[0]] || s->uses().size() != 1 || s->uses()[0].node != mul) continue;
      if (!((mul->input(0) == y && mul->input(1) == s) || (mul->input(0) == s && mul->input(1) == y))) continue;
      Activation g = *activation_of(*gs);
      st.activation = g.kind == ActKind::Sigmoid ? Activation{ActKind::Silu}
                                                 : Activation{ActKind::HardSwishMul, g.a, g.b};
      st.out_slots[0] = ms->out_slots[0];
      gs->removed = true;
      ms->removed = true;
    }

    // Gelu as exporters write it out, found from its Tanh or Erf, becomes one step (the last Mul's, running
    // fused_activation_kernel on x; activation.h's GeluTanh / GeluErf):
    // - tanh form (GPT-2): Mul(Mul(x, 0.5), Add(Tanh(Mul(Add(x, Mul(Pow(x, 3), 0.044715)), sqrt(2/pi))), 1));
    // - erf form (PyTorch's nn.GELU below opset 20): Mul(Mul(x, Add(Erf(Div(x, sqrt(2))), 1)), 0.5), the Div
    //   also as Mul(x, 1/sqrt(2)), the halving also as Mul(Mul(x, 0.5), Add(...)).
    // Operands of Add and Mul in either order; the constants float32 scalars (rank 0, or [1] when x's rank is
    // known to be at least 1, so no broadcast changes the shape); every intermediate read only by the next op
    // and not a graph output; x is float32, as the float32 constants it meets in a Div, Add or Mul imply. The
    // fused formula rounds in other places and uses activation.h's tanh / erf: results move by up to about
    // 1e-6 (tests/unit/test_exec_activation.cpp), as ONNX Runtime's own Gelu fusions move them.
    auto scalar_is = [&](const Value* v, const Value* x, float want) {
      TensorPtr t = v ? fixed_constant(v) : nullptr;
      if (!t || t->data_type != DataType::Float || t->byte_size() != 4) return false;
      if (!t->dims.empty() && (t->dims.size() > 1 || !x->type.shape || x->type.shape->empty())) return false;
      float c;
      std::memcpy(&c, t->bytes().data(), 4);
      return std::fabs(c - want) <= 1e-6f * std::fabs(want);
    };
    auto only_reader = [&](const Value* v) -> const Node* {  // v's one reader, when v is no graph output
      if (!v || v->uses().size() != 1 || is_output[p->slot_of.at(v)]) return nullptr;
      return v->uses()[0].node;
    };
    auto binary = [&](const Node* n, const char* op) {
      return n && n->op_type == op && n->inputs().size() == 2 && step_for(n) != nullptr;
    };
    // v's producer when it is the binary `op` and v has no other reader
    auto producer_if = [&](const Value* v, const char* op) -> const Node* {
      const Node* n = v ? v->producer() : nullptr;
      return binary(n, op) && only_reader(v) ? n : nullptr;
    };
    auto other = [](const Node* n, const Value* a) -> const Value* {
      return n->input(0) == a ? n->input(1) : n->input(1) == a ? n->input(0) : nullptr;
    };
    const float sqrt_2_over_pi = 0.7978845608028654f, sqrt_2 = 1.4142135623730951f;
    // Like BatchNormalization folding it moves results in the last bits, so it goes with that option (off where
    // effopt compares models as written: RunOptions::fold_batch_norm).
    for (auto& st : p->steps) {
      if (!opts.fold_batch_norm) break;
      const Node& g = *st.node;
      const bool tanh = g.op_type == "Tanh", erf = g.op_type == "Erf";
      if ((!tanh && !erf) || !step_for(&g)) continue;
      std::vector<const Node*> chain{&g};
      const Value* x = nullptr;
      if (erf) {  // x / sqrt(2) or x * (1 / sqrt(2))
        if (const Node* d = producer_if(g.input(0), "Div")) {
          if (scalar_is(d->input(1), d->input(0), sqrt_2)) x = d->input(0), chain.push_back(d);
        } else if (const Node* m = producer_if(g.input(0), "Mul")) {
          for (int k = 0; k < 2 && !x; ++k)
            if (scalar_is(m->input(1 - k), m->input(k), 1.f / sqrt_2)) x = m->input(k), chain.push_back(m);
        }
      } else if (const Node* m = producer_if(g.input(0), "Mul")) {  // (x + 0.044715 x^3) * sqrt(2 / pi)
        for (int k = 0; k < 2 && !x; ++k) {
          if (!scalar_is(m->input(1 - k), m->input(k), sqrt_2_over_pi)) continue;
          const Node* a = producer_if(m->input(k), "Add");
          for (int j = 0; a && j < 2 && !x; ++j) {
            const Value* xa = a->input(j);
            const Node* cm = producer_if(a->input(1 - j), "Mul");
            for (int i = 0; cm && i < 2 && !x; ++i) {
              if (!scalar_is(cm->input(1 - i), xa, 0.044715f)) continue;
              const Node* pw = cm->input(i) ? cm->input(i)->producer() : nullptr;
              if (pw && pw->op_type == "Pow" && pw->inputs().size() == 2 && pw->input(0) == xa &&
                  only_reader(cm->input(i)) && step_for(pw) && scalar_is(pw->input(1), xa, 3.f))
                x = xa, chain.insert(chain.end(), {m, a, cm, pw});
            }
          }
        }
      }
      if (!x) continue;
      const Node* add1 = only_reader(g.output(0));  // Add(g, 1)
      if (!binary(add1, "Add") || !scalar_is(other(add1, g.output(0)), x, 1.f)) continue;
      const Node* m = only_reader(add1->output(0));
      if (!binary(m, "Mul")) continue;
      const Value* h = other(m, add1->output(0));
      const Node* last = nullptr;
      if (h == x) {  // Mul(Mul(x, Add(...)), 0.5)
        const Node* f = only_reader(m->output(0));
        if (binary(f, "Mul") && scalar_is(other(f, m->output(0)), x, 0.5f)) last = f, chain.push_back(m);
      } else if (const Node* half = producer_if(h, "Mul")) {  // Mul(Mul(x, 0.5), Add(...))
        const Value* o = other(half, x);
        if (o && o != x && scalar_is(o, x, 0.5f)) last = m, chain.push_back(half);
      }
      if (!last) continue;
      chain.push_back(add1);
      Step* ls = step_for(last);
      ls->kernel = &fused_activation_kernel();
      ls->in_slots = {p->slot_of.at(x)};
      ls->activation = Activation{tanh ? ActKind::GeluTanh : ActKind::GeluErf};
      for (const Node* c : chain) step_for(c)->removed = true;
    }

    // LayerNormalization as opset-13 exports write it (PyTorch's F.layer_norm before opset 17):
    //   d = Sub(x, ReduceMean(x)), y = Add(Mul(Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), eps))), scale), bias)
    // both ReduceMeans over the last axis only with keepdims, the Add, Mul and final Add operands in either
    // order, eps a float32 scalar, scale and bias float32 constants of rank 0 or 1 (so they broadcast along the
    // last axis only, as LayerNormalization's do), every intermediate read only inside the pattern and not a
    // graph output. It becomes one step (the final Add's, fused_layer_norm_kernel: one vectorized row per
    // task). The fused row computes (x - mean) * (1 / sqrt(var + eps)) rather than a division per element:
    // results move in the last bits, so this goes with fold_batch_norm, like the Gelu above.
    // n is ReduceMean(in) over the last axis of x's shape (in has x's shape), keepdims
    auto last_axis_mean = [&](const Node* n, const Value* in, const Value* x) {
      if (!n || n->op_type != "ReduceMean" || !step_for(n) || n->input(0) != in || n->attr_int("keepdims", 1) != 1)
        return false;
      std::vector<int64_t> axes;
      const int64_t opset = step_for(n)->opset;
      if (opset < 18) {
        if (n->inputs().size() != 1) return false;
        axes = n->attr_ints("axes");
      } else {
        TensorPtr t = n->inputs().size() == 2 && n->input(1) ? fixed_constant(n->input(1)) : nullptr;
        if (!t || t->data_type != DataType::Int64 || t->byte_size() != 8) return false;
        axes.resize(1);
        std::memcpy(axes.data(), t->bytes().data(), 8);
      }
      if (axes.size() != 1) return false;
      if (axes[0] == -1) return true;
      return x->type.shape && axes[0] == static_cast<int64_t>(x->type.shape->size()) - 1;
    };
    auto affine_constant = [&](const Value* v) {
      TensorPtr t = v ? fixed_constant(v) : nullptr;
      return t && t->data_type == DataType::Float && t->dims.size() <= 1;
    };
    auto eps_of = [&](const Value* v) -> std::optional<float> {
      TensorPtr t = v ? fixed_constant(v) : nullptr;
      if (!t || t->data_type != DataType::Float || t->byte_size() != 4 || t->dims.size() > 1) return std::nullopt;
      float e;
      std::memcpy(&e, t->bytes().data(), 4);
      return e;
    };
    for (auto& st : p->steps) {
      if (!opts.fold_batch_norm) break;
      const Node& sub = *st.node;
      if (st.removed || !binary(&sub, "Sub")) continue;
      const Value* x = sub.input(0);
      const Node* m1 = sub.input(1) ? sub.input(1)->producer() : nullptr;
      if (!last_axis_mean(m1, x, x) || only_reader(m1->output(0)) != &sub) continue;
      const Value* d = sub.output(0);
      if (!d || d->uses().size() != 2 || is_output[p->slot_of.at(d)]) continue;
      const Node* pw = d->uses()[0].node->op_type == "Pow" ? d->uses()[0].node : d->uses()[1].node;
      const Node* div = pw == d->uses()[0].node ? d->uses()[1].node : d->uses()[0].node;
      if (!binary(pw, "Pow") || pw->input(0) != d || !scalar_is(pw->input(1), x, 2.f)) continue;
      if (!binary(div, "Div") || div->input(0) != d) continue;
      const Node* m2 = only_reader(pw->output(0));
      if (!last_axis_mean(m2, pw->output(0), x)) continue;
      const Node* add_eps = only_reader(m2->output(0));
      if (!binary(add_eps, "Add")) continue;
      std::optional<float> eps = eps_of(other(add_eps, m2->output(0)));
      if (!eps) continue;
      const Node* sq = only_reader(add_eps->output(0));
      if (!sq || sq->op_type != "Sqrt" || !step_for(sq) || only_reader(sq->output(0)) != div || div->input(1) != sq->output(0))
        continue;
      const Node* mul = only_reader(div->output(0));
      if (!binary(mul, "Mul")) continue;
      const Value* scale = other(mul, div->output(0));
      if (!affine_constant(scale)) continue;
      const Node* add_b = only_reader(mul->output(0));
      if (!binary(add_b, "Add")) continue;
      const Value* bias = other(add_b, mul->output(0));
      if (!affine_constant(bias)) continue;
      Step* ls = step_for(add_b);
      ls->kernel = &fused_layer_norm_kernel();
      ls->in_slots = {p->slot_of.at(x), p->slot_of.at(scale), p->slot_of.at(bias)};
      ls->activation = Activation{ActKind::None, *eps};
      for (const Node* c : {m1, &sub, pw, m2, add_eps, sq, div, mul}) step_for(c)->removed = true;
    }

    // MatMul by a constant [K, N] matrix, then Add of a constant bias of N values (nn.Linear on a 3-D
    // activation, operands in either order), the MatMul's output read only by the Add: the MatMul step adds the
    // bias row by row after its product, and applies the fused Gelu that reads the sum when it is its only
    // reader. The same operations as the steps it replaces, so the same bits (only the passes over memory go).
    for (auto& st : p->steps) {
      const Node& mm = *st.node;
      if (st.removed || mm.op_type != "MatMul" || !step_for(&mm) || mm.inputs().size() != 2 || st.kernel == nullptr)
        continue;
      TensorPtr w = mm.input(1) ? fixed_constant(mm.input(1)) : nullptr;
      if (!w || w->data_type != DataType::Float || w->dims.size() != 2) continue;  // so A is float32 too (ONNX)
      const Node* add = only_reader(mm.output(0));
      if (!binary(add, "Add")) continue;
      const Value* bias = other(add, mm.output(0));
      TensorPtr bt = bias ? fixed_constant(bias) : nullptr;
      if (!bt || bt->data_type != DataType::Float || bt->dims != std::vector<int64_t>{w->dims[1]}) continue;
      Step* as = step_for(add);
      st.in_slots.resize(2);
      st.in_slots.push_back(p->slot_of.at(bias));
      st.out_slots[0] = as->out_slots[0];
      as->removed = true;
      const int sum = st.out_slots[0];
      if (is_output[sum] || !opts.fold_batch_norm) continue;
      Step* gelu = nullptr;
      int readers = 0;
      for (auto& r : p->steps) {
        if (r.removed) continue;
        bool reads = std::find(r.in_slots.begin(), r.in_slots.end(), sum) != r.in_slots.end() ||
                     std::find(r.implicit_slots.begin(), r.implicit_slots.end(), sum) != r.implicit_slots.end();
        if (!reads) continue;
        ++readers;
        if (r.kernel == &fused_activation_kernel()) gelu = &r;
      }
      if (readers != 1 || !gelu) continue;
      st.activation = gelu->activation;
      st.out_slots[0] = gelu->out_slots[0];
      gelu->removed = true;
    }
    std::erase_if(p->steps, [](const Step& s) { return s.removed; });
  }

  // Memory plan: each intermediate is freed after its last reader; outputs nobody reads right away.
  const size_t n_slots = p->slot_value.size();
  std::vector<int> last_use(n_slots, -1);
  for (size_t i = 0; i < p->steps.size(); ++i) {
    for (int s : p->steps[i].in_slots)
      if (s >= 0) last_use[s] = static_cast<int>(i);
    for (int s : p->steps[i].implicit_slots) last_use[s] = static_cast<int>(i);
  }
  std::vector<bool> keep(n_slots, false);
  for (int s : p->output_slots) keep[s] = true;
  for (auto& [s, t] : p->constants) keep[s] = true;
  for (int s : p->input_slots) keep[s] = true;
  for (const Value* v : p->free_values) keep[p->slot_of.at(v)] = true;
  for (size_t i = 0; i < p->steps.size(); ++i) {
    auto& st = p->steps[i];
    for (int s : st.out_slots)
      if (s >= 0 && !keep[s] && last_use[s] < static_cast<int>(i)) st.free_after.push_back(s);
    auto free_read = [&](int s) {
      if (s >= 0 && !keep[s] && last_use[s] == static_cast<int>(i) &&
          std::find(st.free_after.begin(), st.free_after.end(), s) == st.free_after.end())
        st.free_after.push_back(s);
    };
    for (int s : st.in_slots) free_read(s);
    for (int s : st.implicit_slots) free_read(s);
  }
  // Every step input must be produced before it is read.
  std::vector<bool> defined(n_slots, false);
  for (auto& [s, t] : p->constants) defined[s] = true;
  for (int s : p->input_slots) defined[s] = true;
  for (const Value* v : p->free_values) defined[p->slot_of.at(v)] = true;
  for (auto& st : p->steps) {
    auto check = [&](int s) {
      if (s >= 0 && !defined[s])
        errors.push_back("node '" + st.node->name + "' (" + st.node->op_type + ")" + where + " reads '" +
                         p->slot_value[s]->name() + "', which is not computed before it");
      if (s >= 0) defined[s] = true;  // report each value once
    };
    for (int s : st.in_slots) check(s);
    for (int s : st.implicit_slots) check(s);
    for (int s : st.out_slots)
      if (s >= 0) defined[s] = true;
  }
  for (int s : p->output_slots)
    if (!defined[s] && p->slot_of.count(p->slot_value[s]))
      errors.push_back("graph output '" + p->slot_value[s]->name() + "'" + where + " is never computed");
  return p;
}

Expected<std::unique_ptr<Session>> Session::create(const Model& model, const RunOptions& opts) {
  if (!model.graph) return invalid_model("the model has no graph");
  // Kernels index a node's required inputs without bounds checks; a model
  // built in memory has not passed the importer's check. Past opset 21, the
  // newest signature effopt knows: the kernels implement at most that.
  EFFOPT_TRY(verify_onnx_signatures(model, NewerOpsets::NewestKnown));
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  impl->opts = opts;
  impl->main = impl->compile(*model.graph, "", true);

  if (!impl->unsupported.empty()) {
    auto& unsupported = impl->unsupported;
    std::string msg = "the executor does not support " + std::to_string(unsupported.size()) + " op" +
                      (unsupported.size() == 1 ? "" : "s") + " of this model: ";
    bool first = true;
    for (auto& [op, where] : unsupported) {
      msg += (first ? "" : "; ") + op + " at node" + (where.size() == 1 ? " " : "s ");
      first = false;
      for (size_t j = 0; j < where.size() && j < 10; ++j) msg += (j ? ", " : "") + where[j];
      if (where.size() > 10) msg += " and " + std::to_string(where.size() - 10) + " more";
    }
    return invalid_model(msg);
  }
  if (!impl->errors.empty()) {
    std::string msg;
    for (auto& e : impl->errors) msg += (msg.empty() ? "" : "; ") + e;
    return invalid_model(msg);
  }
  if (!impl->main->free_values.empty())
    return invalid_model("the main graph reads '" + impl->main->free_values[0]->name() +
                         "', which is not defined in it");

  impl->pool = std::make_unique<ThreadPool>(opts.threads);
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Status Session::Impl::check_input(const Value* v, const TensorValue& t, std::map<std::string, int64_t>& symbols) const {
  const Type& ty = v->type;
  std::string name = "input '" + v->name() + "'";
  if (!t.defined()) return usage_error(name + " is empty");
  if (ty.is_tensor()) {
    if (ty.elem_type != DataType::Undefined && ty.elem_type != t.dtype())
      return usage_error(name + " must be " + data_type_name(ty.elem_type) + ", got " + data_type_name(t.dtype()));
    if (ty.shape) {
      const auto& shape = *ty.shape;
      if (shape.size() != t.rank())
        return usage_error(name + " must have shape " + shape_to_string(shape) + ", got " + dims_to_string(t.dims()));
      for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i].value && *shape[i].value != t.dim(i))
          return usage_error(name + " must have shape " + shape_to_string(shape) + ", got " +
                             dims_to_string(t.dims()));
        if (!shape[i].value && !shape[i].param.empty()) {
          auto [it, fresh] = symbols.emplace(shape[i].param, t.dim(i));
          if (!fresh && it->second != t.dim(i))
            return usage_error(name + ": dimension '" + shape[i].param + "' is " + std::to_string(t.dim(i)) +
                               " here but " + std::to_string(it->second) + " in another input");
        }
      }
    }
  }
  return ok();
}

Expected<std::vector<TensorValue>> Session::run(const std::vector<std::pair<std::string, TensorValue>>& inputs) {
  std::vector<TensorValue> ordered(impl_->input_names.size());
  std::vector<bool> seen(ordered.size(), false);
  std::vector<std::pair<size_t, TensorValue>> overrides;
  for (auto& [name, t] : inputs) {
    auto it = std::find(impl_->input_names.begin(), impl_->input_names.end(), name);
    if (it == impl_->input_names.end()) {
      auto ov = std::find(impl_->overridable_names.begin(), impl_->overridable_names.end(), name);
      if (ov != impl_->overridable_names.end()) {
        size_t k = static_cast<size_t>(ov - impl_->overridable_names.begin());
        for (auto& [j, v] : overrides)
          if (j == k) return usage_error("input '" + name + "' is given twice");
        overrides.emplace_back(k, t);
        continue;
      }
      const Value* v = impl_->model->graph->find(name);
      if (v && v->initializer && v->is_graph_input())
        return usage_error("'" + name + "' is an initializer listed among the graph inputs of an IR version " +
                           std::to_string(impl_->model->ir_version) +
                           " model: a constant that cannot be fed (from IR version 4 on, a feed overrides it)");
      std::string known;
      for (auto& n : impl_->input_names) known += (known.empty() ? "" : ", ") + n;
      return usage_error("the model has no input '" + name + "' (its inputs: " + known + ")");
    }
    size_t i = static_cast<size_t>(it - impl_->input_names.begin());
    if (seen[i]) return usage_error("input '" + name + "' is given twice");
    seen[i] = true;
    ordered[i] = t;
  }
  for (size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) return usage_error("input '" + impl_->input_names[i] + "' is missing");
  return impl_->run_tensors(ordered, overrides);
}

Expected<std::vector<TensorValue>> Session::run(const std::vector<TensorValue>& inputs) {
  return impl_->run_tensors(inputs, {});
}

Expected<std::vector<TensorValue>> Session::Impl::run_tensors(
    const std::vector<TensorValue>& inputs, const std::vector<std::pair<size_t, TensorValue>>& overrides) {
  if (inputs.size() != input_names.size())
    return usage_error("the model takes " + std::to_string(input_names.size()) + " inputs, got " +
                       std::to_string(inputs.size()));
  std::vector<RuntimeValue> values;
  values.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) return usage_error("input '" + input_names[i] + "' is empty");
    values.push_back(RuntimeValue::of(inputs[i]));
  }
  EFFOPT_TRY_ASSIGN(auto outs, run_main(std::move(values), overrides));
  std::vector<TensorValue> tensors;
  tensors.reserve(outs.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i].is_tensor())
      return usage_error("graph output '" + output_names[i] + "' is " + outs[i].kind_name() +
                         ", not a tensor: use Session::run_values");
    tensors.push_back(std::move(outs[i].tensor));
  }
  return tensors;
}

Expected<std::vector<RuntimeValue>> Session::run_values(const std::vector<RuntimeValue>& inputs) {
  if (inputs.size() != impl_->input_names.size())
    return usage_error("the model takes " + std::to_string(impl_->input_names.size()) + " inputs, got " +
                       std::to_string(inputs.size()));
  return impl_->run_main(inputs);
}

Expected<std::vector<RuntimeValue>> Session::Impl::run_main(
    std::vector<RuntimeValue> inputs, const std::vector<std::pair<size_t, TensorValue>>& overrides) {
  std::map<std::string, int64_t> symbols;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) return usage_error("input '" + input_names[i] + "' is empty");
    const Type& ty = input_values[i]->type;
    if (inputs[i].is_tensor()) {
      if (ty.kind != Type::Kind::Tensor && ty.kind != Type::Kind::None && ty.kind != Type::Kind::Optional)
        return usage_error("input '" + input_names[i] + "' must be " + ty.to_string() + ", got a tensor");
      EFFOPT_TRY(check_input(input_values[i], inputs[i].tensor, symbols));
    } else if (inputs[i].is_sequence() && ty.kind == Type::Kind::Tensor) {
      return usage_error("input '" + input_names[i] + "' must be a tensor, got a sequence");
    }
  }
  std::vector<std::pair<int, RuntimeValue>> fed;
  for (auto& [k, t] : overrides) {
    EFFOPT_TRY(check_input(overridable_values[k], t, symbols));
    fed.emplace_back(main->slot_of.at(overridable_values[k]), RuntimeValue::of(t));
  }
  // Kernels may cache what they derive from constant inputs (packed weights, keyed by address): an override
  // in this run or the last one makes those caches stale.
  if (!fed.empty() || overrides_in_state)
    for (auto& [g, plan] : plans)
      for (const Step& st : plan->steps) st.kernel_state.reset();
  overrides_in_state = !fed.empty();
  stats = RunStats{};
  live = 0;
  op_ms.clear();
  if (opts.observer)
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].is_tensor()) opts.observer->observe(*input_values[i], inputs[i].tensor);
  auto outs = run_plan(*main, std::move(inputs), nullptr, fed.empty() ? nullptr : &fed);
  stats.op_ms.assign(op_ms.begin(), op_ms.end());
  std::sort(stats.op_ms.begin(), stats.op_ms.end(), [](auto& a, auto& b) { return a.second > b.second; });
  return outs;
}

Expected<std::vector<RuntimeValue>> FrameRunner::run(const Graph& body, std::vector<RuntimeValue> inputs) {
  auto it = impl->plans.find(&body);
  if (it == impl->plans.end()) return internal_error("a subgraph was not compiled");
  const GraphPlan& p = *it->second;
  if (inputs.size() != p.input_slots.size())
    return invalid_model("the graph" + p.where + " takes " + std::to_string(p.input_slots.size()) + " inputs, got " +
                         std::to_string(inputs.size()));
  return impl->run_plan(p, std::move(inputs), slots);
}

Expected<std::vector<RuntimeValue>> Session::Impl::run_plan(const GraphPlan& p, std::vector<RuntimeValue> inputs,
                                                            const std::vector<RuntimeValue>* enclosing,
                                                            const std::vector<std::pair<int, RuntimeValue>>* overrides) {
  std::vector<RuntimeValue> slots(p.slot_value.size());
  for (size_t i = 0; i < inputs.size(); ++i) slots[p.input_slots[i]] = std::move(inputs[i]);
  for (auto& [s, t] : p.constants) slots[s] = RuntimeValue::of(t);
  if (overrides)
    for (auto& [s, v] : *overrides) slots[s] = v;  // a fed value replaces the initializer's default
  if (enclosing)
    for (auto [here, there] : p.outer) slots[here] = (*enclosing)[there];
  uint64_t frame_live = 0;  // what this frame added to `live` and still holds
  struct Release {          // on every exit, the frame's values stop counting
    uint64_t& live;
    uint64_t& frame_live;
    ~Release() { live -= frame_live; }
  } release{live, frame_live};
  FrameRunner runner(this, &slots);
  for (auto& st : p.steps) {
    const Node& n = *st.node;
    auto t0 = opts.profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      KernelContext ctx{n, st.opset, {}, {}, *pool};
      ctx.activation = st.activation;
      ctx.state = &st.kernel_state;
      const bool takes_values = st.kernel->flags == KernelFlags::Values;
      ctx.inputs.reserve(st.in_slots.size());
      ctx.values.reserve(st.in_slots.size());
      std::vector<TensorValue> widened;
      DataType low = DataType::Undefined;
      bool float_compute = st.kernel->flags == KernelFlags::FloatCompute;
      bool pass_through = false;  // Identity of a sequence / optional
      for (size_t k = 0; k < st.in_slots.size(); ++k) {
        int s = st.in_slots[k];
        if (s < 0) continue;
        const RuntimeValue& v = slots[s];
        if (!v.defined())
          return internal_error(ctx.where() + p.where + ": input '" + p.slot_value[s]->name() + "' has no value");
        if (!v.is_tensor() && !takes_values) {
          if (n.op_type == "Identity" && is_onnx_domain(n.domain)) { pass_through = true; continue; }
          return make_error(ErrorKind::InvalidModel, ctx.where() + p.where + ": input " + std::to_string(k) + " ('" +
                                                         p.slot_value[s]->name() + "') is " + v.kind_name() +
                                                         ", but this op takes tensors");
        }
        if (float_compute && is_16bit_float_type(v.tensor.dtype())) low = v.tensor.dtype();
      }
      if (float_compute) widened.reserve(st.in_slots.size());
      for (int s : st.in_slots) {
        if (s < 0) {
          ctx.inputs.push_back(nullptr);
          ctx.values.push_back(nullptr);
          continue;
        }
        const RuntimeValue& v = slots[s];
        ctx.values.push_back(&v);
        if (low != DataType::Undefined && is_16bit_float_type(v.tensor.dtype())) {
          widened.push_back(widen(v.tensor));
          ctx.inputs.push_back(&widened.back());
        } else {
          ctx.inputs.push_back(&v.tensor);
        }
      }
      ctx.outputs.resize(st.out_slots.size());
      ctx.value_outputs.resize(st.out_slots.size());
      ctx.subgraphs = &runner;
      if (pass_through) {
        ctx.value_outputs[0] = *ctx.values[0];
      } else {
        Status status = st.kernel->fn(ctx);
        if (!status) return std::move(status).error();
      }
      for (size_t o = 0; o < st.out_slots.size(); ++o) {
        int s = st.out_slots[o];
        if (s < 0) continue;
        RuntimeValue out;
        if (o < ctx.value_outputs.size() && ctx.value_outputs[o].defined()) {
          out = std::move(ctx.value_outputs[o]);
        } else {
          TensorValue& t = ctx.outputs[o];
          if (!t.defined())
            return internal_error(ctx.where() + p.where + ": the kernel did not produce output " + std::to_string(o));
          if (low != DataType::Undefined && t.dtype() == DataType::Float) t = narrow(t, low);
          out = RuntimeValue::of(std::move(t));
        }
        uint64_t b = out.byte_size();
        live += b;
        frame_live += b;
        slots[s] = std::move(out);
        if (opts.observer && slots[s].is_tensor()) opts.observer->observe(*p.slot_value[s], slots[s].tensor);
      }
      stats.peak_live_bytes = std::max(stats.peak_live_bytes, live);
      for (int s : st.free_after) {
        uint64_t b = slots[s].byte_size();
        live -= b;
        frame_live -= b;
        slots[s] = RuntimeValue{};
      }
      ++stats.nodes_run;
      if (opts.profile)
        op_ms[st.kernel == &fused_layer_norm_kernel() ? "LayerNormalization (fused)" : st.kernel == &fused_activation_kernel() ? "Gelu (fused)"
              : n.op_type == "Conv" && n.attr_int("group", 1) > 1 ? "Conv (grouped)" : n.op_type] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    } catch (const std::bad_alloc&) {
      return make_error(ErrorKind::IO, "out of memory while running " + n.op_type + " node '" + n.name + "'" + p.where);
    } catch (const UnsupportedElementType& e) {
      return invalid_model(n.op_type + " node '" + n.name + "'" + p.where + ": the executor's kernel does not support " +
                           data_type_name(e.type) + " tensors");
    }
  }
  std::vector<RuntimeValue> outs;
  outs.reserve(p.output_slots.size());
  for (int s : p.output_slots) outs.push_back(slots[s]);
  return outs;
}

Expected<std::vector<TensorValue>> run(const Model& model, const std::vector<std::pair<std::string, TensorValue>>& inputs,
                                       const RunOptions& opts) {
  EFFOPT_TRY_ASSIGN(auto session, Session::create(model, opts));
  return session->run(inputs);
}

}  // namespace effopt::exec
