// Elementwise kernels: unary math, binary arithmetic and comparisons with
// numpy broadcasting, Where, Clip, Cast.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "exec/activation.h"
#include "exec/kernel_registry.h"

namespace effopt::exec {

namespace {

constexpr int64_t kChunk = 16384;  // elements per task (fixed: results never depend on the thread count)

// Walks the output of a broadcast of up to three inputs. The output shape is
// collapsed (adjacent dims merged where every input allows), then each task
// takes a fixed range of flat output indices and calls
// run(offsets[3], count, inner_strides[3], out_offset) for each stretch along
// the innermost dim.
struct Broadcast {
  std::vector<int64_t> dims;                  // collapsed output dims
  std::vector<std::vector<int64_t>> strides;  // per input, per collapsed dim
  int64_t total = 1;

  Broadcast(const std::vector<int64_t>& out, const std::vector<const std::vector<int64_t>*>& ins) {
    std::vector<std::vector<int64_t>> s;
    for (auto* in : ins) s.push_back(broadcast_strides(*in, out));
    for (int64_t d : out) total *= d;
    strides.resize(ins.size());
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == 1) continue;
      bool merge = !dims.empty();
      if (merge)
        for (size_t k = 0; k < ins.size(); ++k)
          if (strides[k].back() != s[k][i] * out[i]) merge = false;
      if (merge) {
        dims.back() *= out[i];
        for (size_t k = 0; k < ins.size(); ++k) strides[k].back() = s[k][i];
      } else {
        dims.push_back(out[i]);
        for (size_t k = 0; k < ins.size(); ++k) strides[k].push_back(s[k][i]);
      }
    }
    if (dims.empty()) {
      dims.push_back(1);
      for (auto& st : strides) st.push_back(0);
    }
  }

  template <class F>
  void for_each(ThreadPool& pool, F&& run) const {
    size_t r = dims.size(), n = strides.size();
    pool.parallel_for(chunk_count(total, kChunk), [&](int64_t t) {
      int64_t begin = t * kChunk, end = std::min(total, begin + kChunk);
      std::vector<int64_t> idx(r);
      int64_t rem = begin;
      for (size_t d = r; d-- > 0;) {
        idx[d] = rem % dims[d];
        rem /= dims[d];
      }
      int64_t pos = begin;
      int64_t off[3] = {0, 0, 0}, inner[3] = {0, 0, 0};
      for (size_t k = 0; k < n; ++k) inner[k] = strides[k][r - 1];
      while (pos < end) {
        for (size_t k = 0; k < n; ++k) {
          off[k] = 0;
          for (size_t d = 0; d < r; ++d) off[k] += idx[d] * strides[k][d];
        }
        int64_t count = std::min(dims[r - 1] - idx[r - 1], end - pos);
        run(off, count, inner, pos);
        pos += count;
        idx[r - 1] += count;
        for (size_t d = r - 1; d > 0 && idx[d] == dims[d]; --d) {
          idx[d] = 0;
          ++idx[d - 1];
        }
      }
    });
  }
};

template <class T, class R, class F>
Status binary_typed(KernelContext& ctx, const TensorValue& a, const TensorValue& b, DataType out_type, F f) {
  auto shape = broadcast_shapes(a.dims(), b.dims());
  if (!shape) return ctx.fail(shape.error().message);
  TensorValue out = TensorValue::allocate(out_type, *shape);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* po = out.mutable_data<R>();
  Broadcast bc(*shape, {&a.dims(), &b.dims()});
  bc.for_each(ctx.pool, [&](const int64_t* off, int64_t count, const int64_t* inner, int64_t o) {
    const T* x = pa + off[0];
    const T* y = pb + off[1];
    R* z = po + o;
    if (inner[0] == 1 && inner[1] == 1)
      for (int64_t i = 0; i < count; ++i) z[i] = f(x[i], y[i]);
    else if (inner[0] == 1 && inner[1] == 0) {
      T yv = *y;
      for (int64_t i = 0; i < count; ++i) z[i] = f(x[i], yv);
    } else if (inner[0] == 0 && inner[1] == 1) {
      T xv = *x;
      for (int64_t i = 0; i < count; ++i) z[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) z[i] = f(x[i * inner[0]], y[i * inner[1]]);
    }
  });
  ctx.outputs[0] = std::move(out);
  return ok();
}

enum class BinOp { Add, Sub, Mul, Div, Max, Min, Mod, FMod };

template <class T>
inline T wrap(T x, T y, char op) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    using W = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, U>;  // no int promotion
    W a = static_cast<W>(static_cast<U>(x)), b = static_cast<W>(static_cast<U>(y));
    W r = op == '+' ? static_cast<W>(a + b) : op == '-' ? static_cast<W>(a - b) : static_cast<W>(a * b);
    return static_cast<T>(static_cast<U>(r));
  } else if constexpr (std::is_integral_v<T>) {
    using W = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, T>;
    W a = x, b = y;
    return static_cast<T>(op == '+' ? a + b : op == '-' ? a - b : a * b);
  } else {
    return op == '+' ? x + y : op == '-' ? x - y : x * y;
  }
}

template <class T>
Status arith_typed(KernelContext& ctx, BinOp op, const TensorValue& a, const TensorValue& b) {
  DataType dt = a.dtype();
  switch (op) {
    // Integers wrap around on overflow (two's complement), computed unsigned to stay defined in C++.
    case BinOp::Add: return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) { return wrap<T>(x, y, '+'); });
    case BinOp::Sub: return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) { return wrap<T>(x, y, '-'); });
    case BinOp::Mul: return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) { return wrap<T>(x, y, '*'); });
    case BinOp::Div:
      if constexpr (std::is_integral_v<T>)
        // Integer division by zero has no defined result; 0 here (never a crash).
        return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) {
          if (y == 0) return T(0);
          if constexpr (std::is_signed_v<T>)
            if (y == T(-1)) return static_cast<T>(T(0) - x);
          return static_cast<T>(x / y);
        });
      else
        return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) { return x / y; });
    case BinOp::Max:
      return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) {
        if constexpr (std::is_floating_point_v<T>)
          if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
        return x < y ? y : x;
      });
    case BinOp::Min:
      return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) {
        if constexpr (std::is_floating_point_v<T>)
          if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
        return y < x ? y : x;
      });
    case BinOp::FMod:
      if constexpr (std::is_floating_point_v<T>)
        return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) { return std::fmod(x, y); });
      [[fallthrough]];
    case BinOp::Mod:
      if constexpr (std::is_integral_v<T>)
        return binary_typed<T, T>(ctx, a, b, dt, [=](T x, T y) {
          if (y == 0) return T(0);
          if constexpr (std::is_signed_v<T>) {
            if (y == T(-1)) return T(0);
            T r = static_cast<T>(x % y);
            if (op == BinOp::Mod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
            return r;
          } else {
            return static_cast<T>(x % y);
          }
        });
      else
        return binary_typed<T, T>(ctx, a, b, dt, [](T x, T y) {
          T r = std::fmod(x, y);
          if (r != 0 && ((r < 0) != (y < 0))) r += y;
          return r;
        });
  }
  return ctx.fail("unknown operation");
}

Status arith(KernelContext& ctx, BinOp op, const TensorValue& a, const TensorValue& b) {
  if (a.dtype() != b.dtype())
    return ctx.fail(std::string("input types differ: ") + data_type_name(a.dtype()) + " and " +
                    data_type_name(b.dtype()));
  switch (a.dtype()) {
    case DataType::Float: return arith_typed<float>(ctx, op, a, b);
    case DataType::Double: return arith_typed<double>(ctx, op, a, b);
    case DataType::Int64: return arith_typed<int64_t>(ctx, op, a, b);
    case DataType::Int32: return arith_typed<int32_t>(ctx, op, a, b);
    case DataType::Int16: return arith_typed<int16_t>(ctx, op, a, b);
    case DataType::Int8: return arith_typed<int8_t>(ctx, op, a, b);
    case DataType::UInt8: return arith_typed<uint8_t>(ctx, op, a, b);
    case DataType::UInt16: return arith_typed<uint16_t>(ctx, op, a, b);
    case DataType::UInt32: return arith_typed<uint32_t>(ctx, op, a, b);
    case DataType::UInt64: return arith_typed<uint64_t>(ctx, op, a, b);
    default: return ctx.fail(std::string("element type ") + data_type_name(a.dtype()) + " is not supported");
  }
}

// Before opset 7, binary ops broadcast only with broadcast=1, B's dims matching A's from `axis` on (default:
// A's trailing dims). Returns B reshaped so numpy broadcasting gives that result.
Expected<TensorValue> legacy_broadcast_b(const KernelContext& ctx, const TensorValue& a, const TensorValue& b) {
  if (ctx.opset >= 7 || ctx.node.attr_int("broadcast", 0) == 0) return b;
  int64_t ra = static_cast<int64_t>(a.rank()), rb = static_cast<int64_t>(b.rank());
  int64_t axis = ctx.node.attr_int("axis", ra - rb);
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra) return ctx.fail("broadcast axis does not fit B's rank");
  std::vector<int64_t> d(static_cast<size_t>(axis), 1);
  d.insert(d.end(), b.dims().begin(), b.dims().end());
  d.resize(static_cast<size_t>(ra), 1);
  return b.reshaped(d);
}

KernelFn binary_kernel(BinOp op) {
  return [op](KernelContext& ctx) -> Status {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs two inputs");
    EFFOPT_TRY_ASSIGN(TensorValue b, legacy_broadcast_b(ctx, ctx.in(0), ctx.in(1)));
    if (op == BinOp::Mod && ctx.node.attr_int("fmod", 0)) return arith(ctx, BinOp::FMod, ctx.in(0), b);
    return arith(ctx, op, ctx.in(0), b);
  };
}

// Max/Min/Sum/Mean: variadic, folded left to right.
KernelFn variadic_kernel(BinOp op, bool mean) {
  return [op, mean](KernelContext& ctx) -> Status {
    if (ctx.input_count() == 0 || !ctx.has_input(0)) return ctx.fail("needs at least one input");
    TensorValue acc = *ctx.inputs[0];
    for (size_t i = 1; i < ctx.input_count(); ++i) {
      if (!ctx.has_input(i)) continue;
      EFFOPT_TRY(arith(ctx, op, acc, ctx.in(i)));
      acc = std::move(ctx.outputs[0]);
    }
    if (mean) {
      if (acc.dtype() != DataType::Float) return ctx.fail("Mean supports float tensors");
      TensorValue out = TensorValue::allocate(DataType::Float, acc.dims());
      float k = static_cast<float>(ctx.input_count());
      for (uint64_t i = 0; i < acc.element_count(); ++i) out.mutable_data<float>()[i] = acc.data<float>()[i] / k;
      acc = std::move(out);
    } else if (ctx.input_count() == 1) {
      TensorValue out = TensorValue::from_bytes(acc.dtype(), acc.dims(), {acc.raw(), acc.byte_size()});
      acc = std::move(out);
    }
    ctx.outputs[0] = std::move(acc);
    return ok();
  };
}

enum class CmpOp { Equal, Less, Greater, LessOrEqual, GreaterOrEqual };

template <class T>
Status compare_typed(KernelContext& ctx, CmpOp op, const TensorValue& a, const TensorValue& b) {
  switch (op) {
    case CmpOp::Equal: return binary_typed<T, bool>(ctx, a, b, DataType::Bool, [](T x, T y) { return x == y; });
    case CmpOp::Less: return binary_typed<T, bool>(ctx, a, b, DataType::Bool, [](T x, T y) { return x < y; });
    case CmpOp::Greater: return binary_typed<T, bool>(ctx, a, b, DataType::Bool, [](T x, T y) { return x > y; });
    case CmpOp::LessOrEqual:
      return binary_typed<T, bool>(ctx, a, b, DataType::Bool, [](T x, T y) { return x <= y; });
    case CmpOp::GreaterOrEqual:
      return binary_typed<T, bool>(ctx, a, b, DataType::Bool, [](T x, T y) { return x >= y; });
  }
  return ctx.fail("unknown comparison");
}

KernelFn compare_kernel(CmpOp op) {
  return [op](KernelContext& ctx) -> Status {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs two inputs");
    const TensorValue &a = ctx.in(0), &b = ctx.in(1);
    if (a.dtype() != b.dtype()) return ctx.fail("input types differ");
    switch (a.dtype()) {
      case DataType::Float: return compare_typed<float>(ctx, op, a, b);
      case DataType::Double: return compare_typed<double>(ctx, op, a, b);
      case DataType::Int64: return compare_typed<int64_t>(ctx, op, a, b);
      case DataType::Int32: return compare_typed<int32_t>(ctx, op, a, b);
      case DataType::Int8: return compare_typed<int8_t>(ctx, op, a, b);
      case DataType::UInt8: return compare_typed<uint8_t>(ctx, op, a, b);
      case DataType::Bool: return compare_typed<bool>(ctx, op, a, b);
      default: return ctx.fail(std::string("element type ") + data_type_name(a.dtype()) + " is not supported");
    }
  };
}

enum class LogicOp { And, Or, Xor };
KernelFn logic_kernel(LogicOp op) {
  return [op](KernelContext& ctx) -> Status {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs two inputs");
    const TensorValue &a = ctx.in(0), &b = ctx.in(1);
    if (a.dtype() != DataType::Bool || b.dtype() != DataType::Bool) return ctx.fail("inputs must be bool");
    switch (op) {
      case LogicOp::And: return binary_typed<bool, bool>(ctx, a, b, DataType::Bool, [](bool x, bool y) { return x && y; });
      case LogicOp::Or: return binary_typed<bool, bool>(ctx, a, b, DataType::Bool, [](bool x, bool y) { return x || y; });
      case LogicOp::Xor: return binary_typed<bool, bool>(ctx, a, b, DataType::Bool, [](bool x, bool y) { return x != y; });
    }
    return ctx.fail("unknown op");
  };
}

Status pow_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs two inputs");
  // (legacy_broadcast_b is defined above.)
  const TensorValue& a = ctx.in(0);
  EFFOPT_TRY_ASSIGN(TensorValue b, legacy_broadcast_b(ctx, a, ctx.in(1)));
  if (a.dtype() != DataType::Float) return ctx.fail(std::string("base type ") + data_type_name(a.dtype()) + " is not supported");
  TensorValue e;
  if (b.dtype() == DataType::Float) {
    e = b;
  } else if (b.dtype() == DataType::Int64 || b.dtype() == DataType::Int32) {
    e = TensorValue::allocate(DataType::Float, b.dims());
    for (uint64_t i = 0; i < b.element_count(); ++i)
      e.mutable_data<float>()[i] = b.dtype() == DataType::Int64 ? static_cast<float>(b.data<int64_t>()[i])
                                                                : static_cast<float>(b.data<int32_t>()[i]);
  } else {
    return ctx.fail(std::string("exponent type ") + data_type_name(b.dtype()) + " is not supported");
  }
  if (e.element_count() == 1) {
    float p = e.data<float>()[0];
    if (p == 2.f) return binary_typed<float, float>(ctx, a, e, DataType::Float, [](float x, float) { return x * x; });
    if (p == 3.f)
      return binary_typed<float, float>(ctx, a, e, DataType::Float, [](float x, float) { return x * x * x; });
    if (p == 0.5f)
      return binary_typed<float, float>(ctx, a, e, DataType::Float, [](float x, float) { return std::sqrt(x); });
    if (p == 1.f) return binary_typed<float, float>(ctx, a, e, DataType::Float, [](float x, float) { return x; });
  }
  return binary_typed<float, float>(ctx, a, e, DataType::Float, [](float x, float y) { return std::pow(x, y); });
}

// ---- unary ----
template <class F>
KernelFn unary_float(F f) {
  return [f](KernelContext& ctx) -> Status {
    if (!ctx.has_input(0)) return ctx.fail("needs an input");
    const TensorValue& x = ctx.in(0);
    if (x.dtype() != DataType::Float)
      return ctx.fail(std::string("element type ") + data_type_name(x.dtype()) + " is not supported");
    TensorValue out = TensorValue::allocate(DataType::Float, x.dims());
    const float* px = x.data<float>();
    float* po = out.mutable_data<float>();
    int64_t n = static_cast<int64_t>(x.element_count());
    const Node& node = ctx.node;
    ctx.pool.parallel_for(chunk_count(n, kChunk), [&](int64_t t) {
      int64_t b = t * kChunk, e = std::min(n, b + kChunk);
      f(node, px + b, po + b, e - b);
    });
    ctx.outputs[0] = std::move(out);
    return ok();
  };
}

#define EFFOPT_UNARY(expr)                                                 \
  unary_float([](const Node& node, const float* x, float* y, int64_t n) { \
    (void)node;                                                            \
    for (int64_t i = 0; i < n; ++i) {                                      \
      float v = x[i];                                                      \
      y[i] = (expr);                                                       \
    }                                                                      \
  })

// Unary ops on signed integers and floats (Neg, Abs, Sign).
template <class F>
KernelFn unary_numeric(F f) {
  return [f](KernelContext& ctx) -> Status {
    const TensorValue& x = ctx.in(0);
    TensorValue out = TensorValue::allocate(x.dtype(), x.dims());
    uint64_t n = x.element_count();
    auto go = [&](auto tag) {
      using T = decltype(tag);
      for (uint64_t i = 0; i < n; ++i) out.mutable_data<T>()[i] = f(x.data<T>()[i]);
    };
    switch (x.dtype()) {
      case DataType::Float: go(float{}); break;
      case DataType::Double: go(double{}); break;
      case DataType::Int64: go(int64_t{}); break;
      case DataType::Int32: go(int32_t{}); break;
      case DataType::Int16: go(int16_t{}); break;
      case DataType::Int8: go(int8_t{}); break;
      default: return ctx.fail(std::string("element type ") + data_type_name(x.dtype()) + " is not supported");
    }
    ctx.outputs[0] = std::move(out);
    return ok();
  };
}

Status not_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  if (x.dtype() != DataType::Bool) return ctx.fail("input must be bool");
  TensorValue out = TensorValue::allocate(DataType::Bool, x.dims());
  for (uint64_t i = 0; i < x.element_count(); ++i) out.mutable_data<bool>()[i] = !x.data<bool>()[i];
  ctx.outputs[0] = std::move(out);
  return ok();
}

// Clip: attributes min/max before opset 11, optional inputs from 11.
Status clip_kernel(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  if (x.dtype() == DataType::Float) {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (ctx.opset < 11) {
      lo = ctx.node.attr_float("min", lo);
      hi = ctx.node.attr_float("max", hi);
    } else {
      if (ctx.has_input(1)) {
        if (ctx.in(1).element_count() != 1 || ctx.in(1).dtype() != DataType::Float) return ctx.fail("min must be a float scalar");
        lo = ctx.in(1).data<float>()[0];
      }
      if (ctx.has_input(2)) {
        if (ctx.in(2).element_count() != 1 || ctx.in(2).dtype() != DataType::Float) return ctx.fail("max must be a float scalar");
        hi = ctx.in(2).data<float>()[0];
      }
    }
    TensorValue out = TensorValue::allocate(DataType::Float, x.dims());
    const float* px = x.data<float>();
    float* po = out.mutable_data<float>();
    int64_t n = static_cast<int64_t>(x.element_count());
    ctx.pool.parallel_for(chunk_count(n, kChunk), [&](int64_t t) {
      int64_t b = t * kChunk, e = std::min(n, b + kChunk);
      for (int64_t i = b; i < e; ++i) {
        float v = px[i];
        // min(max(x, lo), hi); NaN propagates (std::max/min return their first argument then).
        po[i] = std::min(std::max(v, lo), hi);
      }
    });
    ctx.outputs[0] = std::move(out);
    return ok();
  }
  if (ctx.opset >= 12 && (x.dtype() == DataType::Int64 || x.dtype() == DataType::Int32)) {
    auto go = [&](auto tag) -> Status {
      using T = decltype(tag);
      T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
      if (ctx.has_input(1)) lo = ctx.in(1).data<T>()[0];
      if (ctx.has_input(2)) hi = ctx.in(2).data<T>()[0];
      TensorValue out = TensorValue::allocate(x.dtype(), x.dims());
      for (uint64_t i = 0; i < x.element_count(); ++i)
        out.mutable_data<T>()[i] = std::min(std::max(x.data<T>()[i], lo), hi);
      ctx.outputs[0] = std::move(out);
      return ok();
    };
    return x.dtype() == DataType::Int64 ? go(int64_t{}) : go(int32_t{});
  }
  return ctx.fail(std::string("element type ") + data_type_name(x.dtype()) + " is not supported");
}

// ---- Where ----
template <size_t N>
struct Bytes { unsigned char b[N]; };

Status where_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2)) return ctx.fail("needs three inputs");
  const TensorValue &c = ctx.in(0), &x = ctx.in(1), &y = ctx.in(2);
  if (c.dtype() != DataType::Bool) return ctx.fail("condition must be bool");
  if (x.dtype() != y.dtype()) return ctx.fail("X and Y types differ");
  auto s1 = broadcast_shapes(c.dims(), x.dims());
  if (!s1) return ctx.fail(s1.error().message);
  auto shape = broadcast_shapes(*s1, y.dims());
  if (!shape) return ctx.fail(shape.error().message);
  TensorValue out = TensorValue::allocate(x.dtype(), *shape);
  Broadcast bc(*shape, {&c.dims(), &x.dims(), &y.dims()});
  auto go = [&](auto tag) {
    using T = decltype(tag);
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.mutable_data<T>();
    bc.for_each(ctx.pool, [&](const int64_t* off, int64_t count, const int64_t* inner, int64_t o) {
      for (int64_t i = 0; i < count; ++i)
        po[o + i] = pc[off[0] + i * inner[0]] ? px[off[1] + i * inner[1]] : py[off[2] + i * inner[2]];
    });
  };
  switch (element_size(x.dtype())) {
    case 1: go(Bytes<1>{}); break;
    case 2: go(Bytes<2>{}); break;
    case 4: go(Bytes<4>{}); break;
    case 8: go(Bytes<8>{}); break;
    case 16: go(Bytes<16>{}); break;
    default: return ctx.fail(std::string("element type ") + data_type_name(x.dtype()) + " is not supported");
  }
  ctx.outputs[0] = std::move(out);
  return ok();
}

// ---- Cast ----
template <class T>
T saturate_from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    // Out-of-range and NaN values have no defined result in ONNX; saturate (NaN -> 0) rather than invoke UB.
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

bool is_int_type(DataType t) {
  switch (t) {
    case DataType::Int8: case DataType::Int16: case DataType::Int32: case DataType::Int64: case DataType::UInt8:
    case DataType::UInt16: case DataType::UInt32: case DataType::UInt64: case DataType::Bool: return true;
    case DataType::Int4: case DataType::UInt4: return true;  // unpacked: one int8 / uint8 per element
    default: return false;
  }
}

// Reads element i as int64 (integers/bool) or as double (floats).
int64_t read_int(const TensorValue& t, uint64_t i) {
  switch (t.dtype()) {
    case DataType::Int8: return t.data<int8_t>()[i];
    case DataType::Int16: return t.data<int16_t>()[i];
    case DataType::Int32: return t.data<int32_t>()[i];
    case DataType::Int64: return t.data<int64_t>()[i];
    case DataType::UInt8: return t.data<uint8_t>()[i];
    case DataType::UInt16: return t.data<uint16_t>()[i];
    case DataType::UInt32: return t.data<uint32_t>()[i];
    case DataType::UInt64: return static_cast<int64_t>(t.data<uint64_t>()[i]);
    case DataType::Bool: return t.data<bool>()[i] ? 1 : 0;
    case DataType::Int4: return t.data<int8_t>()[i];
    case DataType::UInt4: return t.data<uint8_t>()[i];
    default: return 0;
  }
}
double read_float(const TensorValue& t, uint64_t i) {
  switch (t.dtype()) {
    case DataType::Float: return t.data<float>()[i];
    case DataType::Double: return t.data<double>()[i];
    case DataType::Float16: return half_to_float(t.data<uint16_t>()[i]);
    case DataType::BFloat16: return bf16_to_float(t.data<uint16_t>()[i]);
    default: return static_cast<double>(read_int(t, i));
  }
}

}  // namespace

// Shared with other kernel files: converts a tensor to another element type.
Expected<TensorValue> cast_tensor(const TensorValue& x, DataType to, const KernelContext& ctx) {
  uint64_t n = x.element_count();
  if (element_size(x.dtype()) == 0 || element_size(to) == 0)
    return ctx.fail(std::string("Cast from ") + data_type_name(x.dtype()) + " to " + data_type_name(to) +
                    " is not supported");
  if (x.dtype() == to) return TensorValue::from_bytes(to, x.dims(), {x.raw(), x.byte_size()});
  TensorValue out = TensorValue::allocate(to, x.dims());
  bool from_int = is_int_type(x.dtype());
  auto write = [&](auto tag) {
    using T = decltype(tag);
    T* o = out.mutable_data<T>();
    if (from_int && std::is_integral_v<T>) {
      for (uint64_t i = 0; i < n; ++i) {
        int64_t v = read_int(x, i);
        if constexpr (std::is_same_v<T, bool>) o[i] = v != 0;
        else o[i] = static_cast<T>(v);  // wraps like C (two's complement)
      }
    } else if (x.dtype() == DataType::Float && std::is_same_v<T, float>) {
      std::memcpy(o, x.raw(), x.byte_size());
    } else {
      for (uint64_t i = 0; i < n; ++i) o[i] = saturate_from_double<T>(read_float(x, i));
    }
  };
  switch (to) {
    case DataType::Float: write(float{}); break;
    case DataType::Double: write(double{}); break;
    case DataType::Int8: write(int8_t{}); break;
    case DataType::Int16: write(int16_t{}); break;
    case DataType::Int32: write(int32_t{}); break;
    case DataType::Int64: write(int64_t{}); break;
    case DataType::UInt8: write(uint8_t{}); break;
    case DataType::UInt16: write(uint16_t{}); break;
    case DataType::UInt32: write(uint32_t{}); break;
    case DataType::UInt64: write(uint64_t{}); break;
    case DataType::Bool: write(bool{}); break;
    case DataType::Float16:
      for (uint64_t i = 0; i < n; ++i) out.mutable_data<uint16_t>()[i] = float_to_half(static_cast<float>(read_float(x, i)));
      break;
    case DataType::BFloat16:
      for (uint64_t i = 0; i < n; ++i) out.mutable_data<uint16_t>()[i] = float_to_bf16(static_cast<float>(read_float(x, i)));
      break;
    default:
      return ctx.fail(std::string("Cast to ") + data_type_name(to) + " is not supported");
  }
  return out;
}

namespace {
Status cast_kernel(KernelContext& ctx) {
  int64_t to = ctx.node.attr_int("to", 0);
  if (!is_known_data_type(static_cast<int32_t>(to))) return ctx.fail("bad 'to' attribute " + std::to_string(to));
  EFFOPT_TRY_ASSIGN(ctx.outputs[0], cast_tensor(ctx.in(0), static_cast<DataType>(to), ctx));
  return ok();
}
Status cast_like_kernel(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(ctx.outputs[0], cast_tensor(ctx.in(0), ctx.in(1).dtype(), ctx));
  return ok();
}
}  // namespace

void register_elementwise_kernels(KernelRegistry& r) {
  constexpr auto F = KernelFlags::FloatCompute;
  r.add("Add", 6, INT64_MAX, binary_kernel(BinOp::Add), F);
  r.add("Sub", 6, INT64_MAX, binary_kernel(BinOp::Sub), F);
  r.add("Mul", 6, INT64_MAX, binary_kernel(BinOp::Mul), F);
  r.add("Div", 6, INT64_MAX, binary_kernel(BinOp::Div), F);
  r.add("Mod", 10, INT64_MAX, binary_kernel(BinOp::Mod), F);
  r.add("Max", 6, INT64_MAX, variadic_kernel(BinOp::Max, false), F);
  r.add("Min", 6, INT64_MAX, variadic_kernel(BinOp::Min, false), F);
  r.add("Sum", 6, INT64_MAX, variadic_kernel(BinOp::Add, false), F);
  r.add("Mean", 6, INT64_MAX, variadic_kernel(BinOp::Add, true), F);
  r.add("Pow", 1, INT64_MAX, pow_kernel, F);
  r.add("Equal", 7, INT64_MAX, compare_kernel(CmpOp::Equal), F);
  r.add("Less", 7, INT64_MAX, compare_kernel(CmpOp::Less), F);
  r.add("Greater", 7, INT64_MAX, compare_kernel(CmpOp::Greater), F);
  r.add("LessOrEqual", 12, INT64_MAX, compare_kernel(CmpOp::LessOrEqual), F);
  r.add("GreaterOrEqual", 12, INT64_MAX, compare_kernel(CmpOp::GreaterOrEqual), F);
  r.add("And", 7, INT64_MAX, logic_kernel(LogicOp::And));
  r.add("Or", 7, INT64_MAX, logic_kernel(LogicOp::Or));
  r.add("Xor", 7, INT64_MAX, logic_kernel(LogicOp::Xor));
  r.add("Not", 1, INT64_MAX, not_kernel);
  r.add("Where", 9, INT64_MAX, where_kernel);
  r.add("Clip", 6, INT64_MAX, clip_kernel, F);
  r.add("Cast", 6, INT64_MAX, cast_kernel);
  r.add("CastLike", 15, INT64_MAX, cast_like_kernel);

  r.add("Relu", 6, INT64_MAX, EFFOPT_UNARY(v < 0.f ? 0.f : v), F);  // NaN stays NaN
  r.add("LeakyRelu", 6, INT64_MAX,
        unary_float([](const Node& node, const float* x, float* y, int64_t n) {
          float a = node.attr_float("alpha", 0.01f);
          for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0 ? x[i] : a * x[i];
        }), F);
  r.add("Selu", 6, INT64_MAX,
        unary_float([](const Node& node, const float* x, float* y, int64_t n) {
          float a = node.attr_float("alpha", 1.67326319217681884765625f), g = node.attr_float("gamma", 1.05070102214813232421875f);
          for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? g * x[i] : g * (a * std::exp(x[i]) - a);
        }), F);
  r.add("PRelu", 6, INT64_MAX, [](KernelContext& ctx) -> Status {
    if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs X and slope");
    const TensorValue &x = ctx.in(0), &slope = ctx.in(1);
    if (x.dtype() != DataType::Float || slope.dtype() != DataType::Float) return ctx.fail("X and slope must be float32");
    TensorValue sl = slope;
    // Before opset 7 (and commonly after), a 1-D slope of C elements applies per channel (axis 1).
    if (slope.rank() == 1 && x.rank() > 2 && slope.dim(0) == x.dim(1) && slope.dim(0) != x.dims().back()) {
      std::vector<int64_t> d(x.rank() - 1, 1);
      d[0] = slope.dim(0);
      sl = slope.reshaped(d);
    }
    return binary_typed<float, float>(ctx, x, sl, DataType::Float, [](float v, float a) { return v < 0 ? a * v : v; });
  }, F);
  r.add("Elu", 6, INT64_MAX,
        unary_float([](const Node& node, const float* x, float* y, int64_t n) {
          float a = node.attr_float("alpha", 1.f);
          for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0 ? x[i] : a * (std::exp(x[i]) - 1.f);
        }), F);
  // Vectorized, and shared with the epilogues fused into a Conv (activation.h): the same bits either way.
  r.add("HardSigmoid", 6, INT64_MAX,
        unary_float([](const Node& node, const float* x, float* y, int64_t n) {
          apply_activation({ActKind::HardSigmoid, node.attr_float("alpha", 0.2f), node.attr_float("beta", 0.5f)},
                           x, y, n);
        }), F);
  r.add("HardSwish", 14, INT64_MAX,
        unary_float([](const Node&, const float* x, float* y, int64_t n) {
          apply_activation({ActKind::HardSwish}, x, y, n);
        }), F);
  r.add("Sigmoid", 6, INT64_MAX,
        unary_float([](const Node&, const float* x, float* y, int64_t n) {
          apply_activation({ActKind::Sigmoid}, x, y, n);
        }), F);
  r.add("Tanh", 6, INT64_MAX,
        unary_float([](const Node&, const float* x, float* y, int64_t n) {
          apply_activation({ActKind::Tanh}, x, y, n);
        }), F);
  r.add("Exp", 6, INT64_MAX, EFFOPT_UNARY(std::exp(v)), F);
  r.add("Log", 6, INT64_MAX, EFFOPT_UNARY(std::log(v)), F);
  r.add("Sqrt", 6, INT64_MAX, EFFOPT_UNARY(std::sqrt(v)), F);
  r.add("Reciprocal", 6, INT64_MAX, EFFOPT_UNARY(1.f / v), F);
  r.add("Floor", 6, INT64_MAX, EFFOPT_UNARY(std::floor(v)), F);
  r.add("Ceil", 6, INT64_MAX, EFFOPT_UNARY(std::ceil(v)), F);
  r.add("Round", 11, INT64_MAX, EFFOPT_UNARY(std::nearbyint(v)), F);
  r.add("Erf", 9, INT64_MAX,
        unary_float([](const Node&, const float* x, float* y, int64_t n) {
          apply_activation({ActKind::Erf}, x, y, n);
        }), F);
  r.add("Sin", 7, INT64_MAX, EFFOPT_UNARY(std::sin(v)), F);
  r.add("Cos", 7, INT64_MAX, EFFOPT_UNARY(std::cos(v)), F);
  r.add("Softplus", 1, INT64_MAX, EFFOPT_UNARY(v > 20.f ? v : std::log1p(std::exp(v))), F);
  r.add("Softsign", 1, INT64_MAX, EFFOPT_UNARY(v / (1.f + std::fabs(v))), F);
  r.add("Mish", 18, INT64_MAX, EFFOPT_UNARY(v * std::tanh(v > 20.f ? v : std::log1p(std::exp(v)))), F);
  r.add("Gelu", 20, INT64_MAX,
        unary_float([](const Node& node, const float* x, float* y, int64_t n) {
          bool tanh = node.attr_string("approximate", "none") == "tanh";
          apply_activation({tanh ? ActKind::GeluTanh : ActKind::GeluErf}, x, y, n);
        }), F);
  r.add("Neg", 6, INT64_MAX, unary_numeric([](auto v) { return static_cast<decltype(v)>(-v); }), F);
  r.add("Abs", 6, INT64_MAX, unary_numeric([](auto v) { return static_cast<decltype(v)>(v < 0 ? -v : v); }), F);
  r.add("Sign", 9, INT64_MAX,
        unary_numeric([](auto v) { return static_cast<decltype(v)>(v > 0 ? 1 : (v < 0 ? -1 : 0)); }), F);
}

}  // namespace effopt::exec
