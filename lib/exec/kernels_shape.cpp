// Data-movement and shape kernels: Identity, Reshape, Flatten, Squeeze,
// Unsqueeze, Transpose, Concat, Split, Slice, Gather, Shape, Size, Expand,
// Tile, ConstantOfShape, Range, Dropout, Pad (constant, reflect, edge, wrap). They work on bytes, so every
// fixed-size element type is supported.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "exec/kernel_registry.h"

namespace effopt::exec {

TensorValue transpose_tensor(const TensorValue& x, const std::vector<int64_t>& perm, ThreadPool& pool) {
  size_t r = x.rank();
  std::vector<int64_t> od(r);
  for (size_t i = 0; i < r; ++i) od[i] = x.dim(static_cast<size_t>(perm[i]));
  TensorValue out = TensorValue::allocate(x.dtype(), od);
  size_t es = element_size(x.dtype());
  if (x.element_count() == 0) return out;
  std::vector<int64_t> in_stride(r, 1);
  for (size_t i = r; i-- > 1;) in_stride[i - 1] = in_stride[i] * x.dim(i);
  std::vector<int64_t> s(r);  // input stride of each output dim
  for (size_t i = 0; i < r; ++i) s[i] = in_stride[static_cast<size_t>(perm[i])];
  // Merge trailing dims that stay contiguous into one memcpy run.
  int64_t run = 1;
  size_t outer_r = r;
  while (outer_r > 0 && s[outer_r - 1] == run) {
    run *= od[outer_r - 1];
    --outer_r;
  }
  int64_t rows = static_cast<int64_t>(x.element_count()) / run;
  const std::byte* src = x.raw();
  std::byte* dst = out.mutable_raw();
  int64_t inner = outer_r ? od[outer_r - 1] : 1;   // loop dim when run == 1
  int64_t inner_s = outer_r ? s[outer_r - 1] : 0;
  int64_t groups = rows / std::max<int64_t>(inner, 1);
  pool.parallel_for(chunk_count(groups, 256), [&](int64_t t) {
    std::vector<int64_t> idx(outer_r ? outer_r - 1 : 0);
    for (int64_t gidx = t * 256; gidx < std::min(groups, t * 256 + 256); ++gidx) {
      int64_t rem = gidx, off = 0;
      for (size_t d = idx.size(); d-- > 0;) {
        off += (rem % od[d]) * s[d];
        rem /= od[d];
      }
      std::byte* o = dst + gidx * inner * run * static_cast<int64_t>(es);
      if (run > 1) {
        for (int64_t i = 0; i < inner; ++i)
          std::memcpy(o + i * run * static_cast<int64_t>(es), src + (off + i * inner_s) * static_cast<int64_t>(es),
                      static_cast<size_t>(run) * es);
      } else {
        switch (es) {
          case 4: {
            auto* oo = reinterpret_cast<uint32_t*>(o);
            auto* ii = reinterpret_cast<const uint32_t*>(src) + off;
            for (int64_t i = 0; i < inner; ++i) oo[i] = ii[i * inner_s];
            break;
          }
          case 8: {
            auto* oo = reinterpret_cast<uint64_t*>(o);
            auto* ii = reinterpret_cast<const uint64_t*>(src) + off;
            for (int64_t i = 0; i < inner; ++i) oo[i] = ii[i * inner_s];
            break;
          }
          default:
            for (int64_t i = 0; i < inner; ++i)
              std::memcpy(o + i * static_cast<int64_t>(es), src + (off + i * inner_s) * static_cast<int64_t>(es), es);
        }
      }
    }
  });
  return out;
}

namespace {

Status identity_kernel(KernelContext& ctx) {
  ctx.outputs[0] = ctx.in(0);  // shares the bytes
  return ok();
}

Status dropout_kernel(KernelContext& ctx) {
  if (ctx.opset >= 12 && ctx.has_input(2)) {
    const TensorValue& tm = ctx.in(2);
    if (tm.element_count() == 1 && tm.dtype() == DataType::Bool && tm.data<bool>()[0])
      return ctx.fail("training_mode true is not supported");
  }
  ctx.outputs[0] = ctx.in(0);
  if (ctx.outputs.size() > 1 && ctx.node.output(1)) {
    TensorValue mask = TensorValue::allocate(DataType::Bool, ctx.in(0).dims());
    std::memset(mask.mutable_raw(), 1, static_cast<size_t>(mask.byte_size()));
    ctx.outputs[1] = std::move(mask);
  }
  return ok();
}

Status reshape_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  std::vector<int64_t> shape;
  if (ctx.opset < 5) {
    shape = ctx.node.attr_ints("shape");
  } else {
    if (!ctx.has_input(1)) return ctx.fail("needs a shape input");
    EFFOPT_TRY_ASSIGN(shape, read_ints(ctx.in(1), ctx));
  }
  bool allowzero = ctx.opset >= 14 && ctx.node.attr_int("allowzero", 0) != 0;
  int64_t infer = -1;
  uint64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x.rank()) return ctx.fail("shape has a 0 past the input's rank");
      shape[i] = x.dim(i);
    }
    if (shape[i] == -1) {
      if (infer >= 0) return ctx.fail("shape has more than one -1");
      infer = static_cast<int64_t>(i);
      continue;
    }
    if (shape[i] < 0) return ctx.fail("shape has a negative dimension");
    known *= static_cast<uint64_t>(shape[i]);
  }
  if (infer >= 0) {
    if (known == 0 || x.element_count() % known != 0)
      return ctx.fail("cannot reshape " + dims_to_string(x.dims()) + " to " + dims_to_string(shape));
    shape[infer] = static_cast<int64_t>(x.element_count() / known);
  }
  if (shape_size(shape) != x.element_count())
    return ctx.fail("cannot reshape " + dims_to_string(x.dims()) + " to " + dims_to_string(shape));
  ctx.outputs[0] = x.reshaped(shape);
  return ok();
}

Status flatten_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  int64_t r = static_cast<int64_t>(x.rank());
  int64_t axis = ctx.node.attr_int("axis", 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) return ctx.fail("axis out of range");
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= x.dim(static_cast<size_t>(i));
  ctx.outputs[0] = x.reshaped({a, b});
  return ok();
}

Expected<std::vector<int64_t>> axes_of(KernelContext& ctx, int64_t input_since) {
  if (ctx.opset >= input_since) {
    if (!ctx.has_input(1)) return std::vector<int64_t>{};
    return read_ints(ctx.in(1), ctx);
  }
  return ctx.node.attr_ints("axes");
}

Status squeeze_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  EFFOPT_TRY_ASSIGN(auto axes, axes_of(ctx, 13));
  int64_t r = static_cast<int64_t>(x.rank());
  std::vector<bool> drop(static_cast<size_t>(r), false);
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) drop[i] = x.dim(i) == 1;
  } else {
    for (int64_t a : axes) {
      EFFOPT_TRY_ASSIGN(int64_t n, normalize_axis(a, r, ctx));
      if (x.dim(n) != 1) return ctx.fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x.dim(n)));
      drop[n] = true;
    }
  }
  std::vector<int64_t> d;
  for (int64_t i = 0; i < r; ++i)
    if (!drop[i]) d.push_back(x.dim(i));
  ctx.outputs[0] = x.reshaped(d);
  return ok();
}

Status unsqueeze_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  EFFOPT_TRY_ASSIGN(auto axes, axes_of(ctx, 13));
  int64_t r = static_cast<int64_t>(x.rank() + axes.size());
  std::vector<bool> ins(static_cast<size_t>(r), false);
  for (int64_t a : axes) {
    EFFOPT_TRY_ASSIGN(int64_t n, normalize_axis(a, r, ctx));
    if (ins[n]) return ctx.fail("repeated axis");
    ins[n] = true;
  }
  std::vector<int64_t> d;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) d.push_back(ins[i] ? 1 : x.dim(j++));
  ctx.outputs[0] = x.reshaped(d);
  return ok();
}

Status transpose_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  size_t r = x.rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty())
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  if (perm.size() != r) return ctx.fail("perm does not match the input's rank");
  std::vector<bool> seen(r, false);
  for (int64_t& p : perm) {
    if (p < 0) p += static_cast<int64_t>(r);
    if (p < 0 || p >= static_cast<int64_t>(r) || seen[p]) return ctx.fail("perm is not a permutation");
    seen[p] = true;
  }
  ctx.outputs[0] = transpose_tensor(x, perm, ctx.pool);
  return ok();
}

Status concat_kernel(KernelContext& ctx) {
  std::vector<const TensorValue*> ins;
  for (size_t i = 0; i < ctx.input_count(); ++i)
    if (ctx.has_input(i)) ins.push_back(ctx.inputs[i]);
  if (ins.empty()) return ctx.fail("needs inputs");
  const TensorValue& f = *ins[0];
  int64_t r = static_cast<int64_t>(f.rank());
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", ctx.opset < 4 ? 1 : 0), r, ctx));
  std::vector<int64_t> od = f.dims();
  od[axis] = 0;
  for (auto* t : ins) {
    if (t->dtype() != f.dtype() || t->rank() != f.rank()) return ctx.fail("inputs differ in type or rank");
    for (int64_t i = 0; i < r; ++i)
      if (i != axis && t->dim(i) != f.dim(i)) return ctx.fail("inputs differ outside the axis");
    od[axis] += t->dim(axis);
  }
  TensorValue out = TensorValue::allocate(f.dtype(), od);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= od[i];
  for (int64_t i = axis + 1; i < r; ++i) inner *= od[i];
  size_t es = element_size(f.dtype());
  int64_t out_row = od[axis] * inner;
  int64_t pos = 0;
  for (auto* t : ins) {
    int64_t row = t->dim(axis) * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out.mutable_raw() + (o * out_row + pos) * static_cast<int64_t>(es),
                  t->raw() + o * row * static_cast<int64_t>(es), static_cast<size_t>(row) * es);
    pos += row;
  }
  ctx.outputs[0] = std::move(out);
  return ok();
}

Status split_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  int64_t r = static_cast<int64_t>(x.rank());
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 0), r, ctx));
  size_t n = ctx.outputs.size();
  std::vector<int64_t> split;
  if (ctx.opset >= 13) {
    if (ctx.has_input(1)) { EFFOPT_TRY_ASSIGN(split, read_ints(ctx.in(1), ctx)); }
  } else {
    split = ctx.node.attr_ints("split");
  }
  int64_t len = x.dim(axis);
  if (split.empty()) {
    int64_t k = static_cast<int64_t>(n);
    if (ctx.opset >= 18 && ctx.node.attr("num_outputs")) k = ctx.node.attr_int("num_outputs", k);
    int64_t each = (len + k - 1) / k;
    for (int64_t i = 0; i < k; ++i) split.push_back(std::max<int64_t>(0, std::min(each, len - i * each)));
  }
  if (split.size() != n) return ctx.fail("split sizes do not match the number of outputs");
  int64_t total = 0;
  for (int64_t s : split) total += s;
  if (total != len) return ctx.fail("split sizes do not add up to the axis length");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int64_t i = axis + 1; i < r; ++i) inner *= x.dim(i);
  size_t es = element_size(x.dtype());
  int64_t pos = 0;
  for (size_t k = 0; k < n; ++k) {
    std::vector<int64_t> od = x.dims();
    od[axis] = split[k];
    TensorValue out = TensorValue::allocate(x.dtype(), od);
    int64_t row = split[k] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out.mutable_raw() + o * row * static_cast<int64_t>(es),
                  x.raw() + (o * len * inner + pos) * static_cast<int64_t>(es), static_cast<size_t>(row) * es);
    pos += row;
    if (ctx.node.output(k)) ctx.outputs[k] = std::move(out);
  }
  return ok();
}

Status slice_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  int64_t r = static_cast<int64_t>(x.rank());
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset < 10) {
    starts = ctx.node.attr_ints("starts");
    ends = ctx.node.attr_ints("ends");
    axes = ctx.node.attr_ints("axes");
  } else {
    if (!ctx.has_input(1) || !ctx.has_input(2)) return ctx.fail("needs starts and ends");
    EFFOPT_TRY_ASSIGN(starts, read_ints(ctx.in(1), ctx));
    EFFOPT_TRY_ASSIGN(ends, read_ints(ctx.in(2), ctx));
    if (ctx.has_input(3)) { EFFOPT_TRY_ASSIGN(axes, read_ints(ctx.in(3), ctx)); }
    if (ctx.has_input(4)) { EFFOPT_TRY_ASSIGN(steps, read_ints(ctx.in(4), ctx)); }
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return ctx.fail("starts, ends, axes and steps differ in length");
  std::vector<int64_t> st(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1), od = x.dims();
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    EFFOPT_TRY_ASSIGN(int64_t a, normalize_axis(axes[i], r, ctx));
    if (seen[a]) return ctx.fail("repeated axis");
    seen[a] = true;
    int64_t d = x.dim(a), s = steps[i];
    if (s == 0) return ctx.fail("step 0");
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      od[a] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      od[a] = b > e ? (b - e + (-s) - 1) / (-s) : 0;
    }
    st[a] = b;
    step[a] = s;
  }
  TensorValue out = TensorValue::allocate(x.dtype(), od);
  size_t es = element_size(x.dtype());
  uint64_t n = out.element_count();
  if (n) {
    std::vector<int64_t> in_stride(static_cast<size_t>(r), 1);
    for (int64_t i = r - 1; i > 0; --i) in_stride[i - 1] = in_stride[i] * x.dim(i);
    int64_t inner = r ? od[r - 1] : 1;
    bool contiguous = r == 0 || step[r - 1] == 1;
    std::vector<int64_t> idx(static_cast<size_t>(r), 0);
    for (uint64_t o = 0; o < n; o += static_cast<uint64_t>(inner)) {
      int64_t off = 0;
      for (int64_t d = 0; d < r; ++d) off += (st[d] + idx[d] * step[d]) * in_stride[d];
      std::byte* dst = out.mutable_raw() + o * es;
      if (contiguous) {
        std::memcpy(dst, x.raw() + off * static_cast<int64_t>(es), static_cast<size_t>(inner) * es);
      } else {
        for (int64_t i = 0; i < inner; ++i)
          std::memcpy(dst + i * static_cast<int64_t>(es), x.raw() + (off + i * step[r - 1]) * static_cast<int64_t>(es), es);
      }
      for (int64_t d = r - 2; d >= 0; --d) {
        if (++idx[d] < od[d]) break;
        idx[d] = 0;
      }
    }
  }
  ctx.outputs[0] = std::move(out);
  return ok();
}

Status gather_kernel(KernelContext& ctx) {
  const TensorValue &x = ctx.in(0), &ix = ctx.in(1);
  int64_t r = static_cast<int64_t>(x.rank());
  if (r == 0) return ctx.fail("data must not be a scalar");
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 0), r, ctx));
  EFFOPT_TRY_ASSIGN(auto idx, read_ints(ix, ctx));
  int64_t len = x.dim(axis);
  for (int64_t& i : idx) {
    if (i < -len || i >= len)
      return ctx.fail("index " + std::to_string(i) + " is out of range for axis length " + std::to_string(len));
    if (i < 0) i += len;
  }
  std::vector<int64_t> od(x.dims().begin(), x.dims().begin() + axis);
  od.insert(od.end(), ix.dims().begin(), ix.dims().end());
  od.insert(od.end(), x.dims().begin() + axis + 1, x.dims().end());
  TensorValue out = TensorValue::allocate(x.dtype(), od);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int64_t i = axis + 1; i < r; ++i) inner *= x.dim(i);
  size_t es = element_size(x.dtype());
  int64_t ni = static_cast<int64_t>(idx.size());
  size_t row = static_cast<size_t>(inner) * es;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < ni; ++k)
      std::memcpy(out.mutable_raw() + (o * ni + k) * static_cast<int64_t>(row),
                  x.raw() + (o * len + idx[k]) * static_cast<int64_t>(row), row);
  ctx.outputs[0] = std::move(out);
  return ok();
}

Status shape_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  int64_t r = static_cast<int64_t>(x.rank());
  int64_t start = 0, end = r;
  if (ctx.opset >= 15) {
    start = ctx.node.attr_int("start", 0);
    end = ctx.node.attr_int("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, 0, r);
  }
  std::vector<int64_t> d;
  for (int64_t i = start; i < end; ++i) d.push_back(x.dim(i));
  ctx.outputs[0] = TensorValue::from_vector(DataType::Int64, {static_cast<int64_t>(d.size())}, d);
  return ok();
}

Status size_kernel(KernelContext& ctx) {
  std::vector<int64_t> v = {static_cast<int64_t>(ctx.in(0).element_count())};
  ctx.outputs[0] = TensorValue::from_vector(DataType::Int64, {}, v);
  return ok();
}

// Copies x broadcast to od (any element type).
TensorValue broadcast_to(const TensorValue& x, const std::vector<int64_t>& od) {
  TensorValue out = TensorValue::allocate(x.dtype(), od);
  size_t es = element_size(x.dtype());
  auto st = broadcast_strides(x.dims(), od);
  uint64_t n = out.element_count();
  size_t r = od.size();
  std::vector<int64_t> idx(r, 0);
  for (uint64_t o = 0; o < n; ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d) off += idx[d] * st[d];
    std::memcpy(out.mutable_raw() + o * es, x.raw() + off * static_cast<int64_t>(es), es);
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < od[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

Status expand_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  EFFOPT_TRY_ASSIGN(auto shape, read_ints(ctx.in(1), ctx));
  auto od = broadcast_shapes(x.dims(), shape);
  if (!od) return ctx.fail(od.error().message);
  ctx.outputs[0] = broadcast_to(x, *od);
  return ok();
}

Status tile_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  EFFOPT_TRY_ASSIGN(auto reps, read_ints(ctx.in(1), ctx));
  if (reps.size() != x.rank()) return ctx.fail("repeats must have one entry per input dim");
  std::vector<int64_t> od = x.dims();
  for (size_t i = 0; i < od.size(); ++i) {
    if (reps[i] < 0) return ctx.fail("negative repeat");
    od[i] *= reps[i];
  }
  TensorValue out = TensorValue::allocate(x.dtype(), od);
  size_t es = element_size(x.dtype()), r = od.size();
  std::vector<int64_t> in_stride(r, 1);
  for (size_t i = r; i-- > 1;) in_stride[i - 1] = in_stride[i] * x.dim(i);
  std::vector<int64_t> idx(r, 0);
  for (uint64_t o = 0; o < out.element_count(); ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d) off += (idx[d] % x.dim(d)) * in_stride[d];
    std::memcpy(out.mutable_raw() + o * es, x.raw() + off * static_cast<int64_t>(es), es);
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < od[d]) break;
      idx[d] = 0;
    }
  }
  ctx.outputs[0] = std::move(out);
  return ok();
}

Status constant_of_shape_kernel(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(auto shape, read_ints(ctx.in(0), ctx));
  for (int64_t d : shape)
    if (d < 0) return ctx.fail("negative dimension");
  const Attribute* a = ctx.node.attr("value");
  DataType dt = DataType::Float;
  std::vector<std::byte> v(4, std::byte{0});
  if (a && a->t) {
    dt = a->t->data_type;
    size_t es = element_size(dt);
    if (es == 0 || a->t->byte_size() != es) return ctx.fail("value must be a one-element tensor of a fixed-size type");
    v.assign(a->t->bytes().begin(), a->t->bytes().end());
  }
  TensorValue out = TensorValue::allocate(dt, shape);
  size_t es = element_size(dt);
  for (uint64_t i = 0; i < out.element_count(); ++i) std::memcpy(out.mutable_raw() + i * es, v.data(), es);
  ctx.outputs[0] = std::move(out);
  return ok();
}

Status range_kernel(KernelContext& ctx) {
  const TensorValue &s = ctx.in(0), &l = ctx.in(1), &d = ctx.in(2);
  if (s.dtype() != l.dtype() || s.dtype() != d.dtype()) return ctx.fail("inputs differ in type");
  auto go = [&](auto tag) -> Status {
    using T = decltype(tag);
    T start = s.data<T>()[0], limit = l.data<T>()[0], delta = d.data<T>()[0];
    if (delta == T(0)) return ctx.fail("delta is 0");
    double n = std::ceil(static_cast<double>(limit - start) / static_cast<double>(delta));
    int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
    TensorValue out = TensorValue::allocate(s.dtype(), {count});
    for (int64_t i = 0; i < count; ++i) out.mutable_data<T>()[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    ctx.outputs[0] = std::move(out);
    return ok();
  };
  switch (s.dtype()) {
    case DataType::Float: return go(float{});
    case DataType::Double: return go(double{});
    case DataType::Int64: return go(int64_t{});
    case DataType::Int32: return go(int32_t{});
    default: return ctx.fail("unsupported element type");
  }
}

Status pad_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  int64_t r = static_cast<int64_t>(x.rank());
  std::string mode = ctx.node.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && !(mode == "wrap" && ctx.opset >= 19))
    return ctx.fail("unknown mode '" + mode + "'");
  std::vector<int64_t> pads;
  std::vector<std::byte> value(element_size(x.dtype()), std::byte{0});
  if (ctx.opset < 11) {
    pads = ctx.node.attr_ints(ctx.opset < 2 ? "paddings" : "pads");
    float v = ctx.node.attr_float("value", 0.f);
    if (x.dtype() != DataType::Float) return ctx.fail("Pad before opset 11 supports float32");
    std::memcpy(value.data(), &v, 4);
  } else {
    EFFOPT_TRY_ASSIGN(pads, read_ints(ctx.in(1), ctx));
    if (ctx.has_input(2) && ctx.in(2).element_count() == 1) {
      if (ctx.in(2).dtype() != x.dtype()) return ctx.fail("constant_value type differs from the data's");
      std::memcpy(value.data(), ctx.in(2).raw(), value.size());
    }
    if (ctx.opset >= 18 && ctx.has_input(3)) {
      EFFOPT_TRY_ASSIGN(auto axes, read_ints(ctx.in(3), ctx));
      std::vector<int64_t> full(2 * static_cast<size_t>(r), 0);
      if (pads.size() != 2 * axes.size()) return ctx.fail("pads do not match axes");
      for (size_t i = 0; i < axes.size(); ++i) {
        EFFOPT_TRY_ASSIGN(int64_t a, normalize_axis(axes[i], r, ctx));
        full[a] = pads[i];
        full[a + r] = pads[i + axes.size()];
      }
      pads = full;
    }
  }
  if (pads.size() != 2 * static_cast<size_t>(r)) return ctx.fail("pads must have 2 * rank entries");
  std::vector<int64_t> od = x.dims();
  for (int64_t i = 0; i < r; ++i) {
    od[i] += pads[i] + pads[i + r];
    if (od[i] < 0) return ctx.fail("negative output dimension");
  }
  // Negative pads crop first; reflect, edge and wrap then read the cropped axis (what ONNX Runtime does):
  // axis d keeps input positions [crop[d], crop[d] + kept[d]) and pads around them.
  std::vector<int64_t> crop(static_cast<size_t>(r)), kept(static_cast<size_t>(r)), pre(static_cast<size_t>(r));
  for (int64_t d = 0; d < r; ++d) {
    int64_t b = pads[d], e = pads[d + r], n = x.dim(d);
    crop[d] = std::max<int64_t>(0, -b);
    kept[d] = n - crop[d] - std::max<int64_t>(0, -e);
    pre[d] = std::max<int64_t>(0, b);
    if (mode == "constant" || n == 0) continue;  // an empty input axis stays empty unless padded with a constant
    std::string axis = "axis " + std::to_string(d) + " (length " + std::to_string(n) + ", pads " + std::to_string(b) +
                       ", " + std::to_string(e) + ")";
    if (kept[d] <= 0) return ctx.fail("mode '" + mode + "' has no elements left to read on " + axis + " after the negative pads");
    // ONNX Runtime refuses a reflection wider than the axis minus its edge (it would have to reflect again).
    if (mode == "reflect" && std::max(b, e) > kept[d] - 1)
      return ctx.fail("mode 'reflect' pads at most " + std::to_string(kept[d] - 1) + " elements on each side of " + axis);
  }
  for (int64_t d = 0; d < r; ++d)
    if (mode != "constant" && x.dim(d) == 0 && (pads[d] > 0 || pads[d + r] > 0))
      return ctx.fail("mode '" + mode + "' cannot pad axis " + std::to_string(d) + ", which is empty");
  TensorValue out = TensorValue::allocate(x.dtype(), od);
  size_t es = element_size(x.dtype());
  std::vector<int64_t> idx(static_cast<size_t>(r), 0), in_stride(static_cast<size_t>(r), 1);
  for (int64_t i = r - 1; i > 0; --i) in_stride[i - 1] = in_stride[i] * x.dim(i);
  for (uint64_t o = 0; o < out.element_count(); ++o) {
    int64_t off = 0;
    bool inside = true;
    for (int64_t d = 0; d < r; ++d) {
      int64_t i = idx[d] - pre[d], n = kept[d];  // position in the cropped axis
      if (i < 0 || i >= n) {
        // reflect mirrors without repeating the edge, edge repeats it, wrap is periodic (a torus). ONNX
        // Runtime 1.30 agrees for wrap except where the begin pad is wider than the axis: there it reads
        // memory it never wrote; this stays periodic, as the spec and numpy.pad have it.
        if (mode == "constant") { inside = false; break; }
        if (mode == "edge") i = std::clamp<int64_t>(i, 0, n - 1);
        else if (mode == "wrap") i = ((i % n) + n) % n;
        else i = i < 0 ? -i : 2 * (n - 1) - i;  // reflect: |pad| <= n - 1 (checked above)
      }
      off += (i + crop[d]) * in_stride[d];
    }
    std::memcpy(out.mutable_raw() + o * es, inside ? x.raw() + off * static_cast<int64_t>(es) : value.data(), es);
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < od[d]) break;
      idx[d] = 0;
    }
  }
  ctx.outputs[0] = std::move(out);
  return ok();
}

}  // namespace

void register_shape_kernels(KernelRegistry& r) {
  r.add("Identity", 1, INT64_MAX, identity_kernel);
  r.add("Dropout", 1, INT64_MAX, dropout_kernel);
  r.add("Reshape", 1, INT64_MAX, reshape_kernel);
  r.add("Flatten", 1, INT64_MAX, flatten_kernel);
  r.add("Squeeze", 1, INT64_MAX, squeeze_kernel);
  r.add("Unsqueeze", 1, INT64_MAX, unsqueeze_kernel);
  r.add("Transpose", 1, INT64_MAX, transpose_kernel);
  r.add("Concat", 1, INT64_MAX, concat_kernel);
  r.add("Split", 2, INT64_MAX, split_kernel);
  r.add("Slice", 1, INT64_MAX, slice_kernel);
  r.add("Gather", 1, INT64_MAX, gather_kernel);
  r.add("Shape", 1, INT64_MAX, shape_kernel);
  r.add("Size", 1, INT64_MAX, size_kernel);
  r.add("Expand", 8, INT64_MAX, expand_kernel);
  r.add("Tile", 6, INT64_MAX, tile_kernel);
  r.add("ConstantOfShape", 9, INT64_MAX, constant_of_shape_kernel);
  r.add("Range", 11, INT64_MAX, range_kernel);
  r.add("Pad", 2, INT64_MAX, pad_kernel);
}

}  // namespace effopt::exec
