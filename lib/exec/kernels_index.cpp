// Index and selection kernels: TopK, ArgMax, ArgMin, CumSum, Trilu,
// GatherElements, GatherND, ScatterND, ScatterElements, OneHot, NonZero,
// ReverseSequence, Compress. Data movement works on bytes (any fixed-size
// type); comparisons and sums dispatch on the numeric types.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>

#include "exec/kernel_registry.h"
#include "ir/dtype.h"

namespace effopt::exec {

namespace {

// Calls f(T{}) for the numeric element type of t; false when unsupported.
template <class F>
bool visit_numeric(DataType t, F&& f) {
  switch (t) {
    case DataType::Float: f(float{}); return true;
    case DataType::Double: f(double{}); return true;
    case DataType::Int64: f(int64_t{}); return true;
    case DataType::Int32: f(int32_t{}); return true;
    case DataType::Int16: f(int16_t{}); return true;
    case DataType::Int8: f(int8_t{}); return true;
    case DataType::UInt8: f(uint8_t{}); return true;
    case DataType::UInt16: f(uint16_t{}); return true;
    case DataType::UInt32: f(uint32_t{}); return true;
    case DataType::UInt64: f(uint64_t{}); return true;
    default: return false;
  }
}

Error bad_type(const KernelContext& ctx, const TensorValue& t) {
  return ctx.fail(std::string("element type ") + data_type_name(t.dtype()) + " is not supported");
}

struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
AxisSplit split_at(const std::vector<int64_t>& d, int64_t axis) {
  AxisSplit s;
  for (int64_t i = 0; i < axis; ++i) s.outer *= d[i];
  s.len = d[axis];
  for (size_t i = static_cast<size_t>(axis) + 1; i < d.size(); ++i) s.inner *= d[i];
  return s;
}

template <class T>
bool is_nan_v(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// ---- TopK ----
Status topk_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  int64_t r = static_cast<int64_t>(X.rank());
  if (r == 0) return ctx.fail("input must not be a scalar");
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", -1), r, ctx));
  int64_t k;
  if (ctx.opset < 10) {
    k = ctx.node.attr_int("k", -1);
  } else {
    if (!ctx.has_input(1)) return ctx.fail("needs K");
    EFFOPT_TRY_ASSIGN(auto kv, read_ints(ctx.in(1), ctx));
    if (kv.size() != 1) return ctx.fail("K must have one element");
    k = kv[0];
  }
  bool largest = ctx.opset < 11 || ctx.node.attr_int("largest", 1) != 0;
  bool sorted = ctx.opset < 11 || ctx.node.attr_int("sorted", 1) != 0;
  (void)sorted;  // sorted=0 leaves the order unspecified; sorted order is one valid answer (ORT's too)
  AxisSplit s = split_at(X.dims(), axis);
  if (k < 0 || k > s.len) return ctx.fail("K " + std::to_string(k) + " is out of range for axis length " + std::to_string(s.len));
  std::vector<int64_t> od = X.dims();
  od[axis] = k;
  TensorValue V = TensorValue::allocate(X.dtype(), od), I = TensorValue::allocate(DataType::Int64, od);
  bool ok_type = visit_numeric(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = X.data<T>();
    T* v = V.mutable_data<T>();
    int64_t* ix = I.mutable_data<int64_t>();
    ctx.pool.parallel_for(s.outer * s.inner, [&](int64_t t) {
      int64_t o = t / s.inner, in = t % s.inner;
      const T* p = x + o * s.len * s.inner + in;
      std::vector<int64_t> idx(static_cast<size_t>(s.len));
      std::iota(idx.begin(), idx.end(), 0);
      // Ties go to the lower index (as ONNX Runtime); NaN counts as the largest value.
      auto before = [&](int64_t a, int64_t b) {
        T va = p[a * s.inner], vb = p[b * s.inner];
        bool na = is_nan_v(va), nb = is_nan_v(vb);
        if (na || nb) {
          if (na && nb) return a < b;
          return largest ? na : nb;
        }
        if (va != vb) return largest ? va > vb : va < vb;
        return a < b;
      };
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        int64_t off = o * k * s.inner + j * s.inner + in;
        v[off] = p[idx[j] * s.inner];
        ix[off] = idx[j];
      }
    });
  });
  if (!ok_type) return bad_type(ctx, X);
  ctx.outputs[0] = std::move(V);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = std::move(I);
  return ok();
}

// ---- ArgMax / ArgMin ----
KernelFn arg_kernel(bool is_max) {
  return [is_max](KernelContext& ctx) -> Status {
    const TensorValue& X = ctx.in(0);
    int64_t r = static_cast<int64_t>(X.rank());
    EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 0), std::max<int64_t>(r, 1), ctx));
    bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
    bool last = ctx.opset >= 12 && ctx.node.attr_int("select_last_index", 0) != 0;
    std::vector<int64_t> xd = X.dims();
    if (r == 0) xd = {1};
    AxisSplit s = split_at(xd, axis);
    if (s.len == 0) return ctx.fail("cannot reduce an empty axis");
    std::vector<int64_t> od = xd;
    if (keepdims) od[axis] = 1;
    else od.erase(od.begin() + axis);
    TensorValue Y = TensorValue::allocate(DataType::Int64, od);
    int64_t* y = Y.mutable_data<int64_t>();
    bool ok_type = visit_numeric(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = X.data<T>();
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t in = 0; in < s.inner; ++in) {
          const T* p = x + o * s.len * s.inner + in;
          int64_t best = 0;
          for (int64_t i = 1; i < s.len; ++i) {
            T v = p[i * s.inner], b = p[best * s.inner];
            bool better = is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
            if (better) best = i;
          }
          y[o * s.inner + in] = best;
        }
    });
    if (!ok_type) return bad_type(ctx, X);
    ctx.outputs[0] = std::move(Y);
    return ok();
  };
}

// ---- CumSum ----
Status cumsum_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  int64_t r = static_cast<int64_t>(X.rank());
  if (!ctx.has_input(1)) return ctx.fail("needs axis");
  EFFOPT_TRY_ASSIGN(auto av, read_ints(ctx.in(1), ctx));
  if (av.size() != 1) return ctx.fail("axis must have one element");
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(av[0], r, ctx));
  bool exclusive = ctx.node.attr_int("exclusive", 0) != 0, reverse = ctx.node.attr_int("reverse", 0) != 0;
  AxisSplit s = split_at(X.dims(), axis);
  TensorValue Y = TensorValue::allocate(X.dtype(), X.dims());
  bool ok_type = visit_numeric(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = X.data<T>();
    T* y = Y.mutable_data<T>();
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t in = 0; in < s.inner; ++in) {
        T acc = T(0);
        for (int64_t j = 0; j < s.len; ++j) {
          int64_t i = reverse ? s.len - 1 - j : j;
          int64_t off = (o * s.len + i) * s.inner + in;
          if (exclusive) {
            y[off] = acc;
            acc = static_cast<T>(acc + x[off]);
          } else {
            acc = static_cast<T>(acc + x[off]);
            y[off] = acc;
          }
        }
      }
  });
  if (!ok_type) return bad_type(ctx, X);
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- Trilu ----
Status trilu_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  if (X.rank() < 2) return ctx.fail("input must have rank 2 or more");
  int64_t k = 0;
  if (ctx.has_input(1)) {
    EFFOPT_TRY_ASSIGN(auto kv, read_ints(ctx.in(1), ctx));
    if (kv.size() != 1) return ctx.fail("k must have one element");
    k = kv[0];
  }
  bool upper = ctx.node.attr_int("upper", 1) != 0;
  int64_t R = X.dim(X.rank() - 2), C = X.dim(X.rank() - 1);
  int64_t mats = R != 0 && C != 0 ? static_cast<int64_t>(X.element_count()) / (R * C) : 0;
  size_t es = element_size(X.dtype());
  TensorValue Y = TensorValue::from_bytes(X.dtype(), X.dims(), {X.raw(), X.byte_size()});
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < C; ++j) {
        bool keep = upper ? j - i >= k : j - i <= k;
        if (!keep) std::memset(Y.mutable_raw() + ((m * R + i) * C + j) * static_cast<int64_t>(es), 0, es);
      }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// Normalizes index v for an axis of length len; error when out of range.
Expected<int64_t> fix_index(int64_t v, int64_t len, const KernelContext& ctx) {
  if (v < -len || v >= len)
    return ctx.fail("index " + std::to_string(v) + " is out of range for axis length " + std::to_string(len));
  return v < 0 ? v + len : v;
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& d) {
  std::vector<int64_t> s(d.size(), 1);
  for (size_t i = d.size(); i-- > 1;) s[i - 1] = s[i] * d[i];
  return s;
}

// ---- GatherElements ----
Status gather_elements_kernel(KernelContext& ctx) {
  const TensorValue &X = ctx.in(0), &Ix = ctx.in(1);
  int64_t r = static_cast<int64_t>(X.rank());
  if (Ix.rank() != X.rank()) return ctx.fail("indices must have the data's rank");
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 0), r, ctx));
  EFFOPT_TRY_ASSIGN(auto idx, read_ints(Ix, ctx));
  TensorValue Y = TensorValue::allocate(X.dtype(), Ix.dims());
  size_t es = element_size(X.dtype());
  auto xs = strides_of(X.dims());
  std::vector<int64_t> pos(static_cast<size_t>(r), 0);
  for (uint64_t o = 0; o < Y.element_count(); ++o) {
    int64_t off = 0;
    for (int64_t d = 0; d < r; ++d) {
      int64_t v = pos[d];
      if (d == axis) { EFFOPT_TRY_ASSIGN(v, fix_index(idx[o], X.dim(d), ctx)); }
      else if (v >= X.dim(d)) return ctx.fail("indices are larger than the data outside the axis");
      off += v * xs[d];
    }
    std::memcpy(Y.mutable_raw() + o * es, X.raw() + off * static_cast<int64_t>(es), es);
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++pos[d] < Ix.dim(d)) break;
      pos[d] = 0;
    }
  }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- GatherND ----
Status gather_nd_kernel(KernelContext& ctx) {
  const TensorValue &X = ctx.in(0), &Ix = ctx.in(1);
  int64_t b = ctx.opset >= 12 ? ctx.node.attr_int("batch_dims", 0) : 0;
  int64_t r = static_cast<int64_t>(X.rank()), q = static_cast<int64_t>(Ix.rank());
  if (q < 1 || b < 0 || b >= std::min(r, q)) return ctx.fail("batch_dims out of range");
  int64_t last = Ix.dim(q - 1);
  if (last < 1 || last > r - b) return ctx.fail("the indices' last dim must be in [1, rank - batch_dims]");
  for (int64_t i = 0; i < b; ++i)
    if (X.dim(i) != Ix.dim(i)) return ctx.fail("batch dims of data and indices differ");
  EFFOPT_TRY_ASSIGN(auto idx, read_ints(Ix, ctx));
  std::vector<int64_t> od(Ix.dims().begin(), Ix.dims().end() - 1);
  od.insert(od.end(), X.dims().begin() + b + last, X.dims().end());
  TensorValue Y = TensorValue::allocate(X.dtype(), od);
  size_t es = element_size(X.dtype());
  int64_t slice = 1, batch = 1, per_batch = 1, batch_elems = 1;
  for (int64_t i = b + last; i < r; ++i) slice *= X.dim(i);
  for (int64_t i = 0; i < b; ++i) batch *= X.dim(i);
  for (int64_t i = b; i < q - 1; ++i) per_batch *= Ix.dim(i);
  for (int64_t i = b; i < r; ++i) batch_elems *= X.dim(i);
  auto xs = strides_of(X.dims());
  size_t row = static_cast<size_t>(slice) * es;
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t j = 0; j < per_batch; ++j) {
      const int64_t* t = idx.data() + (bi * per_batch + j) * last;
      int64_t off = bi * batch_elems;
      for (int64_t d = 0; d < last; ++d) {
        EFFOPT_TRY_ASSIGN(int64_t v, fix_index(t[d], X.dim(b + d), ctx));
        off += v * xs[b + d];
      }
      std::memcpy(Y.mutable_raw() + (bi * per_batch + j) * static_cast<int64_t>(row), X.raw() + off * static_cast<int64_t>(es), row);
    }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// Combines one updated element per the reduction attribute (typed); bytes copy for "none".
enum class Reduce { None, Add, Mul, Max, Min };
Expected<Reduce> reduction_of(const KernelContext& ctx, int64_t since) {
  if (ctx.opset < since) return Reduce::None;
  std::string s = ctx.node.attr_string("reduction", "none");
  if (s == "none") return Reduce::None;
  if (s == "add") return Reduce::Add;
  if (s == "mul") return Reduce::Mul;
  if (s == "max" && ctx.opset >= 18) return Reduce::Max;
  if (s == "min" && ctx.opset >= 18) return Reduce::Min;
  return ctx.fail("unknown reduction '" + s + "'");
}

// Applies updates[u] to out[off] for each (off, u) pair, in order.
Status apply_updates(const KernelContext& ctx, TensorValue& out, const TensorValue& upd,
                     const std::vector<std::pair<int64_t, int64_t>>& pairs, int64_t run, Reduce red) {
  size_t es = element_size(out.dtype());
  if (red == Reduce::None) {
    for (auto [off, u] : pairs)
      std::memcpy(out.mutable_raw() + off * static_cast<int64_t>(es), upd.raw() + u * static_cast<int64_t>(es),
                  static_cast<size_t>(run) * es);
    return ok();
  }
  bool ok_type = visit_numeric(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.mutable_data<T>();
    const T* p = upd.data<T>();
    for (auto [off, u] : pairs)
      for (int64_t i = 0; i < run; ++i) {
        T& a = o[off + i];
        T v = p[u + i];
        switch (red) {
          case Reduce::Add: a = static_cast<T>(a + v); break;
          case Reduce::Mul: a = static_cast<T>(a * v); break;
          case Reduce::Max: a = std::max(a, v); break;
          case Reduce::Min: a = std::min(a, v); break;
          default: break;
        }
      }
  });
  if (!ok_type) return bad_type(ctx, out);
  return ok();
}

// ---- ScatterND ----
Status scatter_nd_kernel(KernelContext& ctx) {
  const TensorValue &X = ctx.in(0), &Ix = ctx.in(1), &U = ctx.in(2);
  EFFOPT_TRY_ASSIGN(Reduce red, reduction_of(ctx, 16));
  if (U.dtype() != X.dtype()) return ctx.fail("updates type differs from the data's");
  int64_t r = static_cast<int64_t>(X.rank()), q = static_cast<int64_t>(Ix.rank());
  if (q < 1) return ctx.fail("indices must have rank 1 or more");
  int64_t last = Ix.dim(q - 1);
  if (last > r) return ctx.fail("the indices' last dim exceeds the data's rank");
  std::vector<int64_t> ud(Ix.dims().begin(), Ix.dims().end() - 1);
  ud.insert(ud.end(), X.dims().begin() + last, X.dims().end());
  if (U.dims() != ud) return ctx.fail("updates must have shape " + dims_to_string(ud));
  EFFOPT_TRY_ASSIGN(auto idx, read_ints(Ix, ctx));
  TensorValue Y = TensorValue::from_bytes(X.dtype(), X.dims(), {X.raw(), X.byte_size()});
  int64_t slice = 1;
  for (int64_t i = last; i < r; ++i) slice *= X.dim(i);
  auto xs = strides_of(X.dims());
  int64_t n = last ? static_cast<int64_t>(idx.size()) / last : static_cast<int64_t>(shape_size(ud)) / std::max<int64_t>(slice, 1);
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t j = 0; j < n; ++j) {
    int64_t off = 0;
    for (int64_t d = 0; d < last; ++d) {
      EFFOPT_TRY_ASSIGN(int64_t v, fix_index(idx[j * last + d], X.dim(d), ctx));
      off += v * xs[d];
    }
    pairs.emplace_back(off, j * slice);
  }
  EFFOPT_TRY(apply_updates(ctx, Y, U, pairs, slice, red));
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- ScatterElements (and the deprecated Scatter) ----
Status scatter_elements_kernel(KernelContext& ctx) {
  const TensorValue &X = ctx.in(0), &Ix = ctx.in(1), &U = ctx.in(2);
  EFFOPT_TRY_ASSIGN(Reduce red, reduction_of(ctx, 16));
  if (ctx.node.op_type == "Scatter") red = Reduce::None;
  if (U.dtype() != X.dtype()) return ctx.fail("updates type differs from the data's");
  int64_t r = static_cast<int64_t>(X.rank());
  if (Ix.rank() != X.rank() || U.dims() != Ix.dims()) return ctx.fail("indices and updates must have the same shape and the data's rank");
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 0), r, ctx));
  EFFOPT_TRY_ASSIGN(auto idx, read_ints(Ix, ctx));
  TensorValue Y = TensorValue::from_bytes(X.dtype(), X.dims(), {X.raw(), X.byte_size()});
  auto xs = strides_of(X.dims());
  std::vector<int64_t> pos(static_cast<size_t>(r), 0);
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (uint64_t o = 0; o < Ix.element_count(); ++o) {
    int64_t off = 0;
    for (int64_t d = 0; d < r; ++d) {
      int64_t v = pos[d];
      if (d == axis) { EFFOPT_TRY_ASSIGN(v, fix_index(idx[o], X.dim(d), ctx)); }
      else if (v >= X.dim(d)) return ctx.fail("indices are larger than the data outside the axis");
      off += v * xs[d];
    }
    pairs.emplace_back(off, static_cast<int64_t>(o));
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++pos[d] < Ix.dim(d)) break;
      pos[d] = 0;
    }
  }
  EFFOPT_TRY(apply_updates(ctx, Y, U, pairs, 1, red));
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// Reads element i of a numeric tensor as double.
double read_number(const TensorValue& t, uint64_t i) {
  double v = 0;
  visit_numeric(t.dtype(), [&](auto tag) { v = static_cast<double>(t.data<decltype(tag)>()[i]); });
  return v;
}

// ---- OneHot ----
Status onehot_kernel(KernelContext& ctx) {
  const TensorValue &Ix = ctx.in(0), &D = ctx.in(1), &V = ctx.in(2);
  if (D.element_count() != 1 || V.element_count() != 2) return ctx.fail("depth must be a scalar and values a pair");
  double dd = read_number(D, 0);
  if (!(dd >= 1)) return ctx.fail("depth must be positive");
  int64_t depth = static_cast<int64_t>(dd);
  int64_t r = static_cast<int64_t>(Ix.rank());
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", -1), r + 1, ctx));
  std::vector<int64_t> od = Ix.dims();
  od.insert(od.begin() + axis, depth);
  TensorValue Y = TensorValue::allocate(V.dtype(), od);
  size_t es = element_size(V.dtype());
  if (es == 0) return bad_type(ctx, V);
  AxisSplit s = split_at(Ix.dims().empty() ? std::vector<int64_t>{1} : Ix.dims(), 0);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= Ix.dim(i);
  for (int64_t i = axis; i < r; ++i) inner *= Ix.dim(i);
  (void)s;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < depth; ++d)
      for (int64_t in = 0; in < inner; ++in) {
        double iv = read_number(Ix, static_cast<uint64_t>(o * inner + in));
        int64_t k = static_cast<int64_t>(iv);
        if (k < 0) k += depth;
        bool on = k == d;
        std::memcpy(Y.mutable_raw() + ((o * depth + d) * inner + in) * static_cast<int64_t>(es),
                    V.raw() + (on ? static_cast<int64_t>(es) : 0), es);
      }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- NonZero ----
Status nonzero_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  size_t es = element_size(X.dtype());
  if (es == 0) return bad_type(ctx, X);
  std::vector<int64_t> hits;
  std::vector<std::byte> zero(es, std::byte{0});
  bool is_float = is_float_type(X.dtype());
  for (uint64_t i = 0; i < X.element_count(); ++i) {
    const std::byte* p = X.raw() + i * es;
    bool nz;
    if (is_float) {
      // -0.0 is zero; compare the value, not the bytes.
      double v = X.dtype() == DataType::Float ? X.data<float>()[i]
                 : X.dtype() == DataType::Double ? X.data<double>()[i]
                 : X.dtype() == DataType::Float16 ? half_to_float(X.data<uint16_t>()[i])
                                                  : bf16_to_float(X.data<uint16_t>()[i]);
      nz = v != 0;
    } else {
      nz = std::memcmp(p, zero.data(), es) != 0;
    }
    if (nz) hits.push_back(static_cast<int64_t>(i));
  }
  int64_t r = static_cast<int64_t>(X.rank()), n = static_cast<int64_t>(hits.size());
  TensorValue Y = TensorValue::allocate(DataType::Int64, {r == 0 ? 1 : r, n});
  int64_t* y = Y.mutable_data<int64_t>();
  if (r == 0) {
    for (int64_t j = 0; j < n; ++j) y[j] = 0;
  } else {
    for (int64_t j = 0; j < n; ++j) {
      int64_t rem = hits[j];
      for (int64_t d = r; d-- > 0;) {
        y[d * n + j] = rem % X.dim(d);
        rem /= X.dim(d);
      }
    }
  }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- ReverseSequence ----
Status reverse_sequence_kernel(KernelContext& ctx) {
  const TensorValue &X = ctx.in(0), &L = ctx.in(1);
  if (X.rank() < 2) return ctx.fail("input must have rank 2 or more");
  int64_t ba = ctx.node.attr_int("batch_axis", 1), ta = ctx.node.attr_int("time_axis", 0);
  if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0))) return ctx.fail("batch_axis and time_axis must be 0 and 1");
  EFFOPT_TRY_ASSIGN(auto lens, read_ints(L, ctx));
  int64_t B = X.dim(static_cast<size_t>(ba)), T = X.dim(static_cast<size_t>(ta));
  if (static_cast<int64_t>(lens.size()) != B) return ctx.fail("sequence_lens must have one entry per batch");
  int64_t inner = 1;
  for (size_t i = 2; i < X.rank(); ++i) inner *= X.dim(i);
  size_t row = static_cast<size_t>(inner) * element_size(X.dtype());
  TensorValue Y = TensorValue::allocate(X.dtype(), X.dims());
  for (int64_t b = 0; b < B; ++b) {
    if (lens[b] < 0 || lens[b] > T) return ctx.fail("sequence length out of range");
    for (int64_t t = 0; t < T; ++t) {
      int64_t src_t = t < lens[b] ? lens[b] - 1 - t : t;
      auto at = [&](int64_t tt) { return ta == 0 ? tt * B + b : b * T + tt; };
      std::memcpy(Y.mutable_raw() + at(t) * static_cast<int64_t>(row), X.raw() + at(src_t) * static_cast<int64_t>(row), row);
    }
  }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- Compress ----
Status compress_kernel(KernelContext& ctx) {
  const TensorValue &X = ctx.in(0), &Cd = ctx.in(1);
  if (Cd.dtype() != DataType::Bool) return ctx.fail("condition must be bool");
  const bool* c = Cd.data<bool>();
  int64_t nc = static_cast<int64_t>(Cd.element_count());
  size_t es = element_size(X.dtype());
  const Attribute* ax = ctx.node.attr("axis");
  if (!ax) {
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < std::min<int64_t>(nc, static_cast<int64_t>(X.element_count())); ++i)
      if (c[i]) keep.push_back(i);
    TensorValue Y = TensorValue::allocate(X.dtype(), {static_cast<int64_t>(keep.size())});
    for (size_t j = 0; j < keep.size(); ++j) std::memcpy(Y.mutable_raw() + j * es, X.raw() + keep[j] * static_cast<int64_t>(es), es);
    ctx.outputs[0] = std::move(Y);
    return ok();
  }
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ax->i, static_cast<int64_t>(X.rank()), ctx));
  AxisSplit s = split_at(X.dims(), axis);
  if (nc > s.len) return ctx.fail("condition is longer than the axis");
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < nc; ++i)
    if (c[i]) keep.push_back(i);
  std::vector<int64_t> od = X.dims();
  od[axis] = static_cast<int64_t>(keep.size());
  TensorValue Y = TensorValue::allocate(X.dtype(), od);
  size_t row = static_cast<size_t>(s.inner) * es;
  int64_t nk = static_cast<int64_t>(keep.size());
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t j = 0; j < nk; ++j)
      std::memcpy(Y.mutable_raw() + (o * nk + j) * static_cast<int64_t>(row),
                  X.raw() + (o * s.len + keep[j]) * static_cast<int64_t>(row), row);
  ctx.outputs[0] = std::move(Y);
  return ok();
}

}  // namespace

void register_index_kernels(KernelRegistry& r) {
  r.add("TopK", 1, INT64_MAX, topk_kernel, KernelFlags::FloatCompute);
  r.add("ArgMax", 1, INT64_MAX, arg_kernel(true), KernelFlags::FloatCompute);
  r.add("ArgMin", 1, INT64_MAX, arg_kernel(false), KernelFlags::FloatCompute);
  r.add("CumSum", 11, INT64_MAX, cumsum_kernel, KernelFlags::FloatCompute);
  r.add("Trilu", 14, INT64_MAX, trilu_kernel);
  r.add("GatherElements", 11, INT64_MAX, gather_elements_kernel);
  r.add("GatherND", 11, INT64_MAX, gather_nd_kernel);
  r.add("ScatterND", 11, INT64_MAX, scatter_nd_kernel);
  r.add("ScatterElements", 11, INT64_MAX, scatter_elements_kernel);
  r.add("Scatter", 9, 10, scatter_elements_kernel);
  r.add("OneHot", 9, INT64_MAX, onehot_kernel);
  r.add("NonZero", 9, INT64_MAX, nonzero_kernel);
  r.add("ReverseSequence", 10, INT64_MAX, reverse_sequence_kernel);
  r.add("Compress", 9, INT64_MAX, compress_kernel);
}

}  // namespace effopt::exec
