// Control-flow kernels: If, Loop and Scan (opset 8 and 9+ forms). They run
// their bodies through KernelContext::subgraphs; the executor supplies the
// outer-scope values the bodies read and checks the bodies' signatures at
// session creation (executor.cpp, check_control_flow).
#include <algorithm>
#include <cstring>

#include "exec/kernel_registry.h"

namespace effopt::exec {

namespace {

const Graph& body_of(const KernelContext& ctx, const char* name) { return *ctx.node.attr(name)->g; }

// t with `axis` removed, at position i along it (a copy).
TensorValue slice_axis(const TensorValue& t, int64_t axis, int64_t i) {
  std::vector<int64_t> dims = t.dims();
  size_t esz = element_size(t.dtype());
  uint64_t outer = 1, inner = esz;
  for (int64_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(dims[d]);
  for (size_t d = static_cast<size_t>(axis) + 1; d < dims.size(); ++d) inner *= static_cast<uint64_t>(dims[d]);
  uint64_t len = static_cast<uint64_t>(dims[axis]);
  dims.erase(dims.begin() + axis);
  TensorValue out = TensorValue::allocate(t.dtype(), dims);
  for (uint64_t o = 0; o < outer; ++o)
    std::memcpy(out.mutable_raw() + o * inner, t.raw() + (o * len + static_cast<uint64_t>(i)) * inner, inner);
  return out;
}

// Stacks equally shaped tensors along a new axis `axis` (0..rank).
Expected<TensorValue> stack(const std::vector<TensorValue>& parts, int64_t axis, const KernelContext& ctx,
                            const std::string& what) {
  const TensorValue& first = parts.front();
  for (size_t k = 1; k < parts.size(); ++k)
    if (parts[k].dims() != first.dims() || parts[k].dtype() != first.dtype())
      return ctx.fail(what + ": iteration " + std::to_string(k) + " gives " + data_type_name(parts[k].dtype()) +
                      dims_to_string(parts[k].dims()) + " but iteration 0 gave " + data_type_name(first.dtype()) +
                      dims_to_string(first.dims()));
  std::vector<int64_t> dims = first.dims();
  uint64_t outer = 1, inner = element_size(first.dtype());
  for (int64_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(dims[d]);
  for (size_t d = static_cast<size_t>(axis); d < dims.size(); ++d) inner *= static_cast<uint64_t>(dims[d]);
  dims.insert(dims.begin() + axis, static_cast<int64_t>(parts.size()));
  TensorValue out = TensorValue::allocate(first.dtype(), dims);
  std::byte* dst = out.mutable_raw();
  for (uint64_t o = 0; o < outer; ++o)
    for (auto& p : parts) {
      std::memcpy(dst, p.raw() + o * inner, inner);
      dst += inner;
    }
  return out;
}

// A scan output of zero iterations: shape [0] + the body output's declared shape (unknown dims as 0).
TensorValue empty_scan_output(const Value* body_out) {
  std::vector<int64_t> dims{0};
  DataType t = DataType::Float;
  if (body_out && body_out->type.is_tensor()) {
    if (body_out->type.elem_type != DataType::Undefined) t = body_out->type.elem_type;
    if (body_out->type.shape)
      for (auto& d : *body_out->type.shape) dims.push_back(d.value ? *d.value : 0);
  }
  return TensorValue::allocate(t, dims);
}

Expected<bool> read_bool(const TensorValue& t, const KernelContext& ctx, const std::string& what) {
  if (t.element_count() != 1) return ctx.fail(what + " must have one element, got " + dims_to_string(t.dims()));
  if (t.dtype() != DataType::Bool) return ctx.fail(what + " must be bool, got " + data_type_name(t.dtype()));
  return *t.data<bool>();
}

TensorValue scalar_bool(bool b) { return TensorValue::from_vector(DataType::Bool, {}, std::vector<uint8_t>{b}); }
TensorValue scalar_i64(int64_t v) { return TensorValue::from_vector(DataType::Int64, {}, std::vector<int64_t>{v}); }

// The declared element type of a node output, if any.
DataType declared_elem(const Value* v) {
  return v && v->type.is_tensor() ? v->type.elem_type : DataType::Undefined;
}

Status if_kernel(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(bool cond, read_bool(ctx.in(0), ctx, "the condition"));
  const char* branch = cond ? "then_branch" : "else_branch";
  auto outs = ctx.subgraphs->run(body_of(ctx, branch), {});
  if (!outs) return Error(outs.error()).context(ctx.where() + ", " + branch);
  if (outs->size() != ctx.outputs.size())
    return ctx.fail(std::string(branch) + " gave " + std::to_string(outs->size()) + " outputs for " +
                    std::to_string(ctx.outputs.size()));
  for (size_t i = 0; i < outs->size(); ++i) {
    RuntimeValue& v = (*outs)[i];
    DataType want = declared_elem(ctx.node.output(i));
    if (v.is_tensor() && want != DataType::Undefined && v.tensor.dtype() != want)
      return ctx.fail(std::string(branch) + " gives " + data_type_name(v.tensor.dtype()) + " for output " +
                      std::to_string(i) + ", which is declared " + data_type_name(want));
    ctx.set_output(i, std::move(v));
  }
  return ok();
}

Status loop_kernel(KernelContext& ctx) {
  int64_t max_trips = INT64_MAX;
  if (ctx.has_input(0)) {
    if (!ctx.value(0).is_tensor()) return ctx.fail("M must be a tensor");
    EFFOPT_TRY_ASSIGN(auto m, read_ints(ctx.in(0), ctx));
    if (m.size() != 1) return ctx.fail("M must have one element");
    max_trips = m[0];
  }
  bool cond = true;
  if (ctx.has_input(1)) {
    if (!ctx.value(1).is_tensor()) return ctx.fail("cond must be a tensor");
    EFFOPT_TRY_ASSIGN(cond, read_bool(ctx.in(1), ctx, "cond"));
  }
  const size_t n_carried = ctx.input_count() - 2;
  const Graph& body = body_of(ctx, "body");
  const size_t n_scan = body.outputs().size() - 1 - n_carried;
  std::vector<RuntimeValue> carried;
  for (size_t k = 0; k < n_carried; ++k) {
    if (!ctx.has_input(2 + k)) return ctx.fail("loop-carried input " + std::to_string(k) + " is missing");
    carried.push_back(ctx.value(2 + k));
  }
  std::vector<std::vector<TensorValue>> scans(n_scan);
  for (int64_t it = 0; it < max_trips && cond; ++it) {
    std::vector<RuntimeValue> in;
    in.reserve(2 + n_carried);
    in.push_back(RuntimeValue::of(scalar_i64(it)));
    in.push_back(RuntimeValue::of(scalar_bool(cond)));
    for (auto& c : carried) in.push_back(c);
    auto outs = ctx.subgraphs->run(body, std::move(in));
    if (!outs) return Error(outs.error()).context(ctx.where() + ", iteration " + std::to_string(it));
    if (outs->size() != 1 + n_carried + n_scan) return ctx.fail("the body gave the wrong number of outputs");
    if (!(*outs)[0].is_tensor()) return ctx.fail("the body's condition output is not a tensor");
    EFFOPT_TRY_ASSIGN(cond, read_bool((*outs)[0].tensor, ctx, "the body's condition output"));
    for (size_t k = 0; k < n_carried; ++k) carried[k] = std::move((*outs)[1 + k]);
    for (size_t k = 0; k < n_scan; ++k) {
      RuntimeValue& v = (*outs)[1 + n_carried + k];
      if (!v.is_tensor()) return ctx.fail("scan output " + std::to_string(k) + " of the body is " + v.kind_name());
      scans[k].push_back(std::move(v.tensor));
    }
  }
  for (size_t k = 0; k < n_carried; ++k) ctx.set_output(k, std::move(carried[k]));
  for (size_t k = 0; k < n_scan; ++k) {
    if (scans[k].empty()) {
      ctx.outputs[n_carried + k] = empty_scan_output(body.outputs()[1 + n_carried + k]);
      continue;
    }
    EFFOPT_TRY_ASSIGN(ctx.outputs[n_carried + k], stack(scans[k], 0, ctx, "scan output " + std::to_string(k)));
  }
  return ok();
}

// One scan over `len` steps (opset 9+ semantics; opset 8 calls it per batch item with axis 0).
struct ScanSpec {
  size_t n_states = 0, n_scan_in = 0, n_scan_out = 0;
  std::vector<int64_t> in_axes, in_dirs, out_axes, out_dirs;
};

Status run_scan(KernelContext& ctx, const ScanSpec& sp, std::vector<RuntimeValue>& states,
                const std::vector<const TensorValue*>& xs, int64_t len, std::vector<std::vector<TensorValue>>& parts) {
  const Graph& body = body_of(ctx, "body");
  parts.assign(sp.n_scan_out, {});
  for (int64_t t = 0; t < len; ++t) {
    std::vector<RuntimeValue> in = states;
    for (size_t j = 0; j < sp.n_scan_in; ++j) {
      int64_t pos = sp.in_dirs[j] ? len - 1 - t : t;
      in.push_back(RuntimeValue::of(slice_axis(*xs[j], sp.in_axes[j], pos)));
    }
    auto outs = ctx.subgraphs->run(body, std::move(in));
    if (!outs) return Error(outs.error()).context(ctx.where() + ", iteration " + std::to_string(t));
    for (size_t k = 0; k < sp.n_states; ++k) states[k] = std::move((*outs)[k]);
    for (size_t k = 0; k < sp.n_scan_out; ++k) {
      RuntimeValue& v = (*outs)[sp.n_states + k];
      if (!v.is_tensor()) return ctx.fail("scan output " + std::to_string(k) + " of the body is " + v.kind_name());
      parts[k].push_back(std::move(v.tensor));
    }
  }
  return ok();
}

Status scan_kernel(KernelContext& ctx) {
  const bool v8 = ctx.opset < 9;
  const size_t first = v8 ? 1 : 0;
  const Graph& body = body_of(ctx, "body");
  ScanSpec sp;
  sp.n_scan_in = static_cast<size_t>(ctx.node.attr_int("num_scan_inputs", 1));
  sp.n_states = ctx.input_count() - first - sp.n_scan_in;
  sp.n_scan_out = body.outputs().size() - sp.n_states;
  auto attr_or = [&](const char* name, size_t n) {
    auto v = ctx.node.attr_ints(name);
    if (v.empty()) v.assign(n, 0);
    return v;
  };
  sp.in_dirs = attr_or(v8 ? "directions" : "scan_input_directions", sp.n_scan_in);
  sp.in_axes = attr_or("scan_input_axes", sp.n_scan_in);
  sp.out_axes = attr_or("scan_output_axes", sp.n_scan_out);
  sp.out_dirs = attr_or("scan_output_directions", sp.n_scan_out);
  if (sp.in_dirs.size() != sp.n_scan_in || sp.in_axes.size() != sp.n_scan_in || sp.out_axes.size() != sp.n_scan_out ||
      sp.out_dirs.size() != sp.n_scan_out)
    return ctx.fail("the scan direction / axis attributes must have one entry per scan input / output");
  for (size_t k = first; k < ctx.input_count(); ++k)
    if (!ctx.has_input(k) || !ctx.value(k).is_tensor()) return ctx.fail("input " + std::to_string(k) + " must be a tensor");

  if (!v8) {
    std::vector<RuntimeValue> states;
    for (size_t k = 0; k < sp.n_states; ++k) states.push_back(ctx.value(k));
    std::vector<const TensorValue*> xs;
    int64_t len = -1;
    for (size_t j = 0; j < sp.n_scan_in; ++j) {
      const TensorValue& x = ctx.in(sp.n_states + j);
      EFFOPT_TRY_ASSIGN(sp.in_axes[j], normalize_axis(sp.in_axes[j], static_cast<int64_t>(x.rank()), ctx));
      int64_t l = x.dim(static_cast<size_t>(sp.in_axes[j]));
      if (len >= 0 && l != len)
        return ctx.fail("scan inputs have different sequence lengths (" + std::to_string(len) + " and " +
                        std::to_string(l) + ")");
      len = l;
      xs.push_back(&x);
    }
    std::vector<std::vector<TensorValue>> parts;
    EFFOPT_TRY(run_scan(ctx, sp, states, xs, len, parts));
    for (size_t k = 0; k < sp.n_states; ++k) ctx.set_output(k, std::move(states[k]));
    for (size_t k = 0; k < sp.n_scan_out; ++k) {
      if (parts[k].empty()) {
        ctx.outputs[sp.n_states + k] = empty_scan_output(body.outputs()[sp.n_states + k]);
        continue;
      }
      if (sp.out_dirs[k]) std::reverse(parts[k].begin(), parts[k].end());
      int64_t r = static_cast<int64_t>(parts[k][0].rank()) + 1;
      EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(sp.out_axes[k], r, ctx));
      EFFOPT_TRY_ASSIGN(ctx.outputs[sp.n_states + k], stack(parts[k], axis, ctx, "scan output " + std::to_string(k)));
    }
    return ok();
  }

  // Opset 8: a batch axis first on every state and scan input, scan axis 1, optional sequence_lens.
  int64_t batch = -1, max_len = -1;
  for (size_t k = first; k < ctx.input_count(); ++k) {
    const TensorValue& x = ctx.in(k);
    size_t need = k >= first + sp.n_states ? 2 : 1;
    if (x.rank() < need) return ctx.fail("input " + std::to_string(k) + " needs a batch axis");
    if (batch >= 0 && x.dim(0) != batch) return ctx.fail("inputs have different batch sizes");
    batch = x.dim(0);
    if (k >= first + sp.n_states) {
      if (max_len >= 0 && x.dim(1) != max_len) return ctx.fail("scan inputs have different sequence lengths");
      max_len = x.dim(1);
    }
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
  if (ctx.has_input(0)) {
    EFFOPT_TRY_ASSIGN(lens, read_ints(ctx.in(0), ctx));
    if (lens.size() != static_cast<size_t>(batch)) return ctx.fail("sequence_lens must have one entry per batch item");
    for (int64_t l : lens)
      if (l < 0 || l > max_len) return ctx.fail("sequence_lens entry " + std::to_string(l) + " is out of range");
  }
  std::vector<std::vector<TensorValue>> final_states(sp.n_states), outs(sp.n_scan_out);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<RuntimeValue> states;
    for (size_t k = 0; k < sp.n_states; ++k) states.push_back(RuntimeValue::of(slice_axis(ctx.in(first + k), 0, b)));
    std::vector<TensorValue> xb;
    for (size_t j = 0; j < sp.n_scan_in; ++j) {
      // Only the first lens[b] steps are scanned: a reverse scan starts at lens[b] - 1.
      TensorValue full = slice_axis(ctx.in(first + sp.n_states + j), 0, b);
      std::vector<TensorValue> steps;
      for (int64_t t = 0; t < lens[static_cast<size_t>(b)]; ++t) steps.push_back(slice_axis(full, 0, t));
      if (steps.empty()) xb.push_back(full);
      else { EFFOPT_TRY_ASSIGN(auto st, stack(steps, 0, ctx, "scan input")); xb.push_back(std::move(st)); }
    }
    std::vector<const TensorValue*> xs;
    for (auto& x : xb) xs.push_back(&x);
    std::vector<std::vector<TensorValue>> parts;
    EFFOPT_TRY(run_scan(ctx, sp, states, xs, lens[static_cast<size_t>(b)], parts));
    for (size_t k = 0; k < sp.n_states; ++k) {
      if (!states[k].is_tensor()) return ctx.fail("state " + std::to_string(k) + " is not a tensor");
      final_states[k].push_back(std::move(states[k].tensor));
    }
    for (size_t k = 0; k < sp.n_scan_out; ++k) {
      if (parts[k].empty()) return ctx.fail("a batch item with sequence length 0 has no scan output shape");
      // Steps beyond this item's length are zeros.
      while (static_cast<int64_t>(parts[k].size()) < max_len) {
        TensorValue z = TensorValue::allocate(parts[k][0].dtype(), parts[k][0].dims());
        std::memset(z.mutable_raw(), 0, z.byte_size());
        parts[k].push_back(std::move(z));
      }
      EFFOPT_TRY_ASSIGN(auto st, stack(parts[k], 0, ctx, "scan output " + std::to_string(k)));
      outs[k].push_back(std::move(st));
    }
  }
  for (size_t k = 0; k < sp.n_states; ++k) {
    EFFOPT_TRY_ASSIGN(ctx.outputs[k], stack(final_states[k], 0, ctx, "state " + std::to_string(k)));
  }
  for (size_t k = 0; k < sp.n_scan_out; ++k) {
    EFFOPT_TRY_ASSIGN(ctx.outputs[sp.n_states + k], stack(outs[k], 0, ctx, "scan output " + std::to_string(k)));
  }
  return ok();
}

}  // namespace

void register_control_kernels(KernelRegistry& r) {
  r.add("If", 1, INT64_MAX, if_kernel, KernelFlags::Values);
  r.add("Loop", 1, INT64_MAX, loop_kernel, KernelFlags::Values);
  r.add("Scan", 8, INT64_MAX, scan_kernel, KernelFlags::Values);
}

}  // namespace effopt::exec
