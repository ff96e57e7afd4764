#include "exec/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <unordered_map>

#include "exec/kernel_registry.h"
#include "exec/thread_pool.h"
#include "ir/constants.h"

namespace effopt::exec {

namespace {

struct Step {
  const Node* node = nullptr;
  const KernelDef* kernel = nullptr;
  int64_t opset = 0;
  std::vector<int> in_slots;   // -1: absent optional input
  std::vector<int> out_slots;  // -1: absent optional output
  std::vector<int> free_after; // slots whose last use is this step
  bool fused_activation = false;
  float act_lo = 0, act_hi = 0;
  bool removed = false;          // fused into the step before it
  std::shared_ptr<void> kernel_state;  // KernelContext::state
};

std::string node_label(const Node& n, size_t index) {
  return (n.name.empty() ? "#" + std::to_string(index) : "'" + n.name + "'");
}

bool is_low_float(DataType t) { return t == DataType::Float16 || t == DataType::BFloat16; }

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

}  // namespace

struct Session::Impl {
  const Model* model = nullptr;
  const Graph* graph = nullptr;
  RunOptions opts;
  std::unique_ptr<ThreadPool> pool;
  std::unordered_map<const Value*, int> slot_of;
  std::vector<const Value*> slot_value;
  std::vector<std::pair<int, TensorValue>> constants;
  std::vector<Step> steps;
  std::vector<std::string> input_names, output_names;
  std::vector<int> input_slots, output_slots;
  std::vector<const Value*> input_values;
  RunStats stats;

  int slot(const Value* v) {
    auto it = slot_of.find(v);
    if (it != slot_of.end()) return it->second;
    int s = static_cast<int>(slot_value.size());
    slot_of.emplace(v, s);
    slot_value.push_back(v);
    return s;
  }

  Status check_input(const Value* v, const TensorValue& t, std::map<std::string, int64_t>& symbols) const;
  Expected<std::vector<TensorValue>> run(std::vector<TensorValue> inputs);
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() { release_cached_buffers(); }
const std::vector<std::string>& Session::input_names() const { return impl_->input_names; }
const std::vector<std::string>& Session::output_names() const { return impl_->output_names; }
const RunStats& Session::last_stats() const { return impl_->stats; }

Expected<std::unique_ptr<Session>> Session::create(const Model& model, const RunOptions& opts) {
  if (!model.graph) return invalid_model("the model has no graph");
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  impl->graph = model.graph.get();
  impl->opts = opts;
  const Graph& g = *model.graph;
  const KernelRegistry& reg = KernelRegistry::builtin();

  // Unsupported ops, grouped: "Op (domain, opset N)" -> node labels.
  std::map<std::string, std::vector<std::string>> unsupported;
  std::vector<std::string> const_errors;

  auto add_constant = [&](const Value* v) -> bool {
    if (impl->slot_of.count(v)) return true;
    TensorPtr t = constant_tensor(v);
    if (!t) return false;
    auto tv = TensorValue::from_tensor(*t);
    if (!tv) {
      const_errors.push_back("constant '" + v->name() + "': " + tv.error().message);
      return true;
    }
    impl->constants.emplace_back(impl->slot(v), std::move(*tv));
    return true;
  };

  for (const Value* v : g.inputs()) {
    if (v->initializer || v->sparse_initializer) continue;
    impl->input_names.push_back(v->name());
    impl->input_values.push_back(v);
    impl->input_slots.push_back(impl->slot(v));
  }
  for (const Value* v : g.initializers()) add_constant(v);
  for (const Value* v : g.sparse_initializers())
    const_errors.push_back("sparse initializer '" + v->name() + "' (sparse tensors are not supported yet)");

  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = *nodes[i];
    // Constant nodes and Identity chains of constants are weights: no step.
    bool all_const = !n.outputs().empty();
    for (const Value* o : n.outputs())
      if (!o || !is_constant(o)) all_const = false;
    if (all_const && (n.op_type == "Constant" || n.op_type == "Identity") && is_onnx_domain(n.domain)) {
      for (const Value* o : n.outputs()) add_constant(o);
      continue;
    }
    int64_t opset = model.opset(n.domain);
    const KernelDef* k = reg.find(n.domain, n.op_type, opset);
    if (!k) {
      std::string key = (is_onnx_domain(n.domain) ? std::string() : n.domain + "::") + n.op_type + " (opset " +
                        std::to_string(opset) + ")";
      unsupported[key].push_back(node_label(n, i));
      continue;
    }
    Step s;
    s.node = &n;
    s.kernel = k;
    s.opset = opset;
    for (const Value* in : n.inputs()) {
      if (!in) { s.in_slots.push_back(-1); continue; }
      if (in->graph() != &g) {
        unsupported["outer-scope reference '" + in->name() + "'"].push_back(node_label(n, i));
        continue;
      }
      s.in_slots.push_back(impl->slot(in));
    }
    for (const Value* o : n.outputs()) s.out_slots.push_back(o ? impl->slot(o) : -1);
    impl->steps.push_back(std::move(s));
  }

  if (!unsupported.empty()) {
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
  if (!const_errors.empty()) {
    std::string msg;
    for (auto& e : const_errors) msg += (msg.empty() ? "" : "; ") + e;
    return invalid_model(msg);
  }

  for (const Value* v : g.outputs()) {
    if (!v) return invalid_model("the graph has an empty output");
    if (!impl->slot_of.count(v)) return invalid_model("graph output '" + v->name() + "' is never computed");
    impl->output_names.push_back(v->name());
    impl->output_slots.push_back(impl->slot(v));
  }

  // Fuse Conv -> Relu / Clip (constant bounds) when the Conv's output has no other reader.
  {
    std::unordered_map<const Node*, size_t> step_of;
    for (size_t i = 0; i < impl->steps.size(); ++i) step_of[impl->steps[i].node] = i;
    std::vector<bool> is_output(impl->slot_value.size(), false);
    for (int s : impl->output_slots) is_output[s] = true;
    for (auto& st : impl->steps) {
      if (st.node->op_type != "Conv" || !is_onnx_domain(st.node->domain) || st.out_slots.size() != 1) continue;
      const Value* y = st.node->output(0);
      if (!y || y->uses().size() != 1 || is_output[st.out_slots[0]]) continue;
      const Node* act = y->uses()[0].node;
      if (!is_onnx_domain(act->domain) || act->outputs().size() != 1 || !act->output(0)) continue;
      auto it = step_of.find(act);
      if (it == step_of.end()) continue;
      Step& as = impl->steps[it->second];
      float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
      if (act->op_type == "Relu") {
        lo = 0;
      } else if (act->op_type == "Clip") {
        if (as.opset < 11) {
          lo = act->attr_float("min", lo);
          hi = act->attr_float("max", hi);
        } else {
          bool ok_bounds = true;
          for (size_t k = 1; k < 3; ++k) {
            const Value* b = act->input(k);
            if (!b) continue;
            TensorPtr t = constant_tensor(b);
            if (!t || t->data_type != DataType::Float || t->byte_size() != 4) { ok_bounds = false; break; }
            float v;
            std::memcpy(&v, t->bytes().data(), 4);
            (k == 1 ? lo : hi) = v;
          }
          if (!ok_bounds) continue;
        }
      } else {
        continue;
      }
      st.fused_activation = true;
      st.act_lo = lo;
      st.act_hi = hi;
      st.out_slots[0] = as.out_slots[0];
      as.removed = true;
    }
    std::erase_if(impl->steps, [](const Step& s) { return s.removed; });
  }

  // Memory plan: each intermediate is freed after its last reader; outputs nobody reads right away.
  std::vector<int> last_use(impl->slot_value.size(), -1);
  for (size_t i = 0; i < impl->steps.size(); ++i)
    for (int s : impl->steps[i].in_slots)
      if (s >= 0) last_use[s] = static_cast<int>(i);
  std::vector<bool> keep(impl->slot_value.size(), false);
  for (int s : impl->output_slots) keep[s] = true;
  for (auto& [s, t] : impl->constants) keep[s] = true;
  for (int s : impl->input_slots) keep[s] = true;
  for (size_t i = 0; i < impl->steps.size(); ++i) {
    auto& st = impl->steps[i];
    for (int s : st.out_slots)
      if (s >= 0 && !keep[s] && last_use[s] < static_cast<int>(i)) st.free_after.push_back(s);
    for (int s : st.in_slots)
      if (s >= 0 && !keep[s] && last_use[s] == static_cast<int>(i) &&
          std::find(st.free_after.begin(), st.free_after.end(), s) == st.free_after.end())
        st.free_after.push_back(s);
  }
  // Every step input must be produced before it is read.
  std::vector<bool> defined(impl->slot_value.size(), false);
  for (auto& [s, t] : impl->constants) defined[s] = true;
  for (int s : impl->input_slots) defined[s] = true;
  for (auto& st : impl->steps) {
    for (int s : st.in_slots)
      if (s >= 0 && !defined[s])
        return invalid_model("node '" + st.node->name + "' (" + st.node->op_type + ") reads '" +
                             impl->slot_value[s]->name() + "', which is not computed before it");
    for (int s : st.out_slots)
      if (s >= 0) defined[s] = true;
  }

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
  for (auto& [name, t] : inputs) {
    auto it = std::find(impl_->input_names.begin(), impl_->input_names.end(), name);
    if (it == impl_->input_names.end()) {
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
  return impl_->run(std::move(ordered));
}

Expected<std::vector<TensorValue>> Session::run(const std::vector<TensorValue>& inputs) {
  if (inputs.size() != impl_->input_names.size())
    return usage_error("the model takes " + std::to_string(impl_->input_names.size()) + " inputs, got " +
                       std::to_string(inputs.size()));
  return impl_->run(inputs);
}

Expected<std::vector<TensorValue>> Session::Impl::run(std::vector<TensorValue> inputs) {
  std::map<std::string, int64_t> symbols;
  for (size_t i = 0; i < inputs.size(); ++i) EFFOPT_TRY(check_input(input_values[i], inputs[i], symbols));
  stats = RunStats{};
  std::vector<TensorValue> slots(slot_value.size());
  for (size_t i = 0; i < inputs.size(); ++i) slots[input_slots[i]] = std::move(inputs[i]);
  for (auto& [s, t] : constants) slots[s] = t;
  uint64_t live = 0;
  std::map<std::string, double> op_ms;
  for (auto& st : steps) {
    const Node& n = *st.node;
    auto t0 = opts.profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      KernelContext ctx{n, st.opset, {}, {}, *pool};
      ctx.fused_activation = st.fused_activation;
      ctx.act_lo = st.act_lo;
      ctx.act_hi = st.act_hi;
      ctx.state = &st.kernel_state;
      ctx.inputs.reserve(st.in_slots.size());
      std::vector<TensorValue> widened;
      DataType low = DataType::Undefined;
      bool float_compute = st.kernel->flags == KernelFlags::FloatCompute;
      if (float_compute) {
        widened.reserve(st.in_slots.size());
        for (int s : st.in_slots)
          if (s >= 0 && is_low_float(slots[s].dtype())) low = slots[s].dtype();
      }
      for (int s : st.in_slots) {
        if (s < 0) { ctx.inputs.push_back(nullptr); continue; }
        if (low != DataType::Undefined && is_low_float(slots[s].dtype())) {
          widened.push_back(widen(slots[s]));
          ctx.inputs.push_back(&widened.back());
        } else {
          ctx.inputs.push_back(&slots[s]);
        }
      }
      ctx.outputs.resize(st.out_slots.size());
      Status status = st.kernel->fn(ctx);
      if (!status) return std::move(status).error();
      for (size_t o = 0; o < st.out_slots.size(); ++o) {
        int s = st.out_slots[o];
        if (s < 0) continue;
        TensorValue& out = ctx.outputs[o];
        if (!out.defined())
          return internal_error(ctx.where() + ": the kernel did not produce output " + std::to_string(o));
        if (low != DataType::Undefined && out.dtype() == DataType::Float) out = narrow(out, low);
        live += out.byte_size();
        slots[s] = std::move(out);
      }
      stats.peak_live_bytes = std::max(stats.peak_live_bytes, live);
      for (int s : st.free_after) {
        live -= slots[s].byte_size();
        slots[s] = TensorValue{};
      }
      ++stats.nodes_run;
      if (opts.profile)
        op_ms[n.op_type == "Conv" && n.attr_int("group", 1) > 1 ? "Conv (grouped)" : n.op_type] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    } catch (const std::bad_alloc&) {
      return make_error(ErrorKind::IO, "out of memory while running " + n.op_type + " node '" + n.name + "'");
    }
  }
  stats.op_ms.assign(op_ms.begin(), op_ms.end());
  std::sort(stats.op_ms.begin(), stats.op_ms.end(), [](auto& a, auto& b) { return a.second > b.second; });
  std::vector<TensorValue> outs;
  outs.reserve(output_slots.size());
  for (int s : output_slots) outs.push_back(slots[s]);
  return outs;
}

Expected<std::vector<TensorValue>> run(const Model& model, const std::vector<std::pair<std::string, TensorValue>>& inputs,
                                       const RunOptions& opts) {
  EFFOPT_TRY_ASSIGN(auto session, Session::create(model, opts));
  return session->run(inputs);
}

}  // namespace effopt::exec
