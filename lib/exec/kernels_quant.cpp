// Quantization kernels: QuantizeLinear / DequantizeLinear (per-tensor, per-axis,
// block-wise; int4..int16 and float8), DynamicQuantizeLinear, and the integer kernels
// MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv (int32 accumulation
// through qgemm.h; requantization as ONNX Runtime does it). docs/executor.md,
// "Quantization kernels", describes the semantics.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "exec/conv_geometry.h"
#include "exec/kernel_registry.h"
#include "exec/qgemm.h"
#include "ir/dtype.h"

namespace effopt::exec {

namespace {

// ---- element access ----


// Integer types a quantized tensor may have at `opset` (int32 only where `with_int32`).
bool is_quant_int(DataType t, int64_t opset, bool with_int32) {
  switch (t) {
    case DataType::Int8: case DataType::UInt8: return true;
    case DataType::Int16: case DataType::UInt16: case DataType::Int4: case DataType::UInt4: return opset >= 21;
    case DataType::Int32: return with_int32;
    default: return false;
  }
}

struct QRange {
  int32_t lo, hi;
};
QRange qrange(DataType t) {
  switch (t) {
    case DataType::Int8: return {-128, 127};
    case DataType::UInt8: return {0, 255};
    case DataType::Int16: return {-32768, 32767};
    case DataType::UInt16: return {0, 65535};
    case DataType::Int4: return {-8, 7};
    case DataType::UInt4: return {0, 15};
    default: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  }
}

// Element i of an integer tensor (int4/uint4 are stored unpacked).
int32_t int_at(const TensorValue& t, uint64_t i) {
  switch (t.dtype()) {
    case DataType::Int8: case DataType::Int4: return t.data<int8_t>()[i];
    case DataType::UInt8: case DataType::UInt4: return t.data<uint8_t>()[i];
    case DataType::Int16: return t.data<int16_t>()[i];
    case DataType::UInt16: return t.data<uint16_t>()[i];
    case DataType::Int32: return t.data<int32_t>()[i];
    default: return 0;
  }
}

float float_at(const TensorValue& t, uint64_t i) {
  switch (t.dtype()) {
    case DataType::Float: return t.data<float>()[i];
    case DataType::Float16: return half_to_float(t.data<uint16_t>()[i]);
    case DataType::BFloat16: return bf16_to_float(t.data<uint16_t>()[i]);
    default: return 0.f;
  }
}

void store_int(TensorValue& t, uint64_t i, int32_t v) {
  switch (t.dtype()) {
    case DataType::Int8: case DataType::Int4: t.mutable_data<int8_t>()[i] = static_cast<int8_t>(v); break;
    case DataType::UInt8: case DataType::UInt4: t.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DataType::Int16: t.mutable_data<int16_t>()[i] = static_cast<int16_t>(v); break;
    case DataType::UInt16: t.mutable_data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
    case DataType::Int32: t.mutable_data<int32_t>()[i] = v; break;
    default: break;
  }
}

void store_float(TensorValue& t, uint64_t i, float v) {
  switch (t.dtype()) {
    case DataType::Float: t.mutable_data<float>()[i] = v; break;
    case DataType::Float16: t.mutable_data<uint16_t>()[i] = float_to_half(v); break;
    case DataType::BFloat16: t.mutable_data<uint16_t>()[i] = float_to_bf16(v); break;
    default: break;
  }
}

// round_half_to_even(clamp(v, lo - zp, hi - zp)) + zp, with the clamp done as
// x86 MAXPS / MINPS do it (ONNX Runtime's kernels): a NaN becomes the lowest
// value. Both bounds are integers, so clamping before rounding equals
// saturating after it.
inline int32_t quantize_value(float v, float lo_minus_zp, float hi_minus_zp, int32_t zp) {
  v = v > lo_minus_zp ? v : lo_minus_zp;
  v = v < hi_minus_zp ? v : hi_minus_zp;
  // Round half to even: |v| <= 65535 here, and adding 1.5 * 2^23 leaves no fraction bits, so the float
  // addition rounds (default mode: to nearest even) and the subtraction is exact. Same result as
  // nearbyint, without its library call.
  constexpr float kMagic = 12582912.0f;
  return static_cast<int32_t>((v + kMagic) - kMagic) + zp;
}

constexpr int64_t kChunk = 16384;  // elementwise work per task (fixed: results do not depend on threads)

// ---- quantization parameter layout (QuantizeLinear / DequantizeLinear) ----

// x viewed as [pre, D, post] around `axis`; scale / zero point index of each element.
struct ParamLayout {
  enum Kind { PerTensor, PerAxis, Blocked } kind = PerTensor;
  int64_t pre = 1, D = 1, post = 1, block = 0, blocks = 1;
  int64_t index(uint64_t i) const {
    if (kind == PerTensor) return 0;
    int64_t q = static_cast<int64_t>(i) % post, r = static_cast<int64_t>(i) / post, d = r % D, p = r / D;
    if (kind == PerAxis) return d;
    return (p * blocks + d / block) * post + q;
  }
};

Expected<ParamLayout> param_layout(const KernelContext& ctx, const TensorValue& x, const TensorValue& scale,
                                   const TensorValue* zp) {
  ParamLayout L;
  if (zp && zp->dims() != scale.dims())
    return ctx.fail("the zero point's shape " + dims_to_string(zp->dims()) + " differs from the scale's " +
                    dims_to_string(scale.dims()));
  int64_t block = ctx.opset >= 21 ? ctx.node.attr_int("block_size", 0) : 0;
  if (block < 0) return ctx.fail("block_size must not be negative");
  if (block == 0 && scale.element_count() == 1 && scale.rank() <= 1) return L;  // per tensor
  if (ctx.opset < 13) return ctx.fail("the scale must be a scalar before opset 13 (got " + dims_to_string(scale.dims()) + ")");
  int64_t rank = static_cast<int64_t>(x.rank());
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 1), rank, ctx));
  for (int64_t i = 0; i < rank; ++i) {
    if (i < axis) L.pre *= x.dim(static_cast<size_t>(i));
    else if (i > axis) L.post *= x.dim(static_cast<size_t>(i));
  }
  L.D = x.dim(static_cast<size_t>(axis));
  if (block == 0) {
    if (scale.rank() != 1 || scale.dim(0) != L.D)
      return ctx.fail("a per-axis scale must be 1-D with " + std::to_string(L.D) + " elements (x " +
                      dims_to_string(x.dims()) + ", axis " + std::to_string(axis) + "), got " + dims_to_string(scale.dims()));
    L.kind = ParamLayout::PerAxis;
    return L;
  }
  L.kind = ParamLayout::Blocked;
  L.block = block;
  L.blocks = (L.D + block - 1) / block;
  std::vector<int64_t> want = x.dims();
  want[static_cast<size_t>(axis)] = L.blocks;
  if (scale.dims() != want)
    return ctx.fail("a block-wise scale (block_size " + std::to_string(block) + ", axis " + std::to_string(axis) +
                    ") must have shape " + dims_to_string(want) + ", got " + dims_to_string(scale.dims()));
  return L;
}

Status refuse_float8(const KernelContext& ctx, DataType t) {
  return ctx.fail(std::string("float8 quantization (") + data_type_name(t) + ") is not supported by this op");
}

// ---- float8 (opset 19+ QuantizeLinear / DequantizeLinear) ----

// The four ONNX float8 formats, for encoding (ir/dtype.h decodes them: float8_to_float): sign,
// exponent, mantissa bits. FN: no infinities, S.1111.111 is NaN; FNUZ: no infinities, no negative zero,
// 0x80 is the only NaN; E5M2: IEEE-like (0x7C infinity).
struct Float8Format {
  int mbits, bias;
  bool fnuz, has_inf;
  uint32_t max_code;  // largest finite magnitude
};

Float8Format float8_format(DataType t) {
  switch (t) {
    case DataType::Float8E4M3FN: return {3, 7, false, false, 0x7E};    // max 448
    case DataType::Float8E4M3FNUZ: return {3, 8, true, false, 0x7F};   // max 240
    case DataType::Float8E5M2: return {2, 15, false, true, 0x7B};      // max 57344
    default: return {2, 16, true, false, 0x7F};                        // E5M2FNUZ, max 57344
  }
}

// Round to nearest even. Beyond the largest finite value (after rounding) and for infinities: that
// value when saturating, else infinity (E5M2) or NaN (the formats without infinities), as the spec says.
uint8_t float_to_float8(float v, const Float8Format& f, bool saturate) {
  uint32_t sign = std::signbit(v) ? 0x80u : 0u;
  uint8_t nan = static_cast<uint8_t>(f.fnuz ? 0x80u : sign | 0x7Fu);
  if (std::isnan(v)) return nan;
  uint32_t code = 0x100;  // overflow
  if (!std::isinf(v)) {
    double a = std::fabs(static_cast<double>(v));  // scaling by powers of two below is exact in double
    int emin = 1 - f.bias, e = 0;
    std::frexp(a, &e);
    --e;  // a = 1.m * 2^e
    if (a == 0 || e < emin)  // subnormal: a multiple of 2^(emin - mbits)
      code = static_cast<uint32_t>(std::nearbyint(std::ldexp(a, f.mbits - emin)));
    else if (e + f.bias < 64)  // a mantissa rounding up to 2^(mbits+1) carries into the exponent field
      code = (static_cast<uint32_t>(e + f.bias) << f.mbits) + static_cast<uint32_t>(std::nearbyint(std::ldexp(a, f.mbits - e))) -
             (1u << f.mbits);
  }
  if (code > f.max_code) {
    // Two quirks of ONNX's reference conversion, which ONNX Runtime ports, without saturation: E4M3FN
    // turns [480, 496) (truncated to the NaN pattern) into 448, and E5M2 turns [61440, 65536) (57344
    // rounded up) into NaN, not infinity.
    float mag = std::fabs(v);
    if (saturate || (f.mbits == 3 && !f.fnuz && mag >= 480.f && mag < 496.f)) return static_cast<uint8_t>(sign | f.max_code);
    if (f.has_inf) return static_cast<uint8_t>(sign | (mag < 65536.f ? 0x7Fu : 0x7Cu));
    return nan;
  }
  if (code == 0 && f.fnuz) return 0;  // no negative zero
  return static_cast<uint8_t>(sign | code);
}

// A float8 zero point only gives the output type: ONNX Runtime refuses nonzero ones in DequantizeLinear
// (and ignores them in QuantizeLinear), so both refuse them here.
Status need_zero_float8_zp(const KernelContext& ctx, const TensorValue* Z) {
  if (!Z) return ok();
  for (uint64_t i = 0; i < Z->element_count(); ++i)
    if (float8_to_float(Z->data<uint8_t>()[i], Z->dtype()) != 0.f)
      return ctx.fail(std::string("a ") + data_type_name(Z->dtype()) + " zero point must be 0 (element " + std::to_string(i) +
                      " is not)");
  return ok();
}

Status quantize_float8(KernelContext& ctx, const TensorValue& X, const TensorValue& S, const TensorValue* Z, DataType out,
                       bool x_float) {
  if (ctx.opset < 19) return ctx.fail(std::string("cannot quantize to ") + data_type_name(out) + " before opset 19");
  if (!x_float) return ctx.fail(std::string("x must be a float type to quantize to ") + data_type_name(out));
  EFFOPT_TRY_ASSIGN(ParamLayout L, param_layout(ctx, X, S, Z));
  Float8Format f = float8_format(out);
  bool saturate = ctx.node.attr_int("saturate", 1) != 0;
  EFFOPT_TRY(need_zero_float8_zp(ctx, Z));
  std::vector<float> scale(S.element_count());
  for (uint64_t i = 0; i < scale.size(); ++i) scale[i] = float_at(S, i);
  TensorValue Y = TensorValue::allocate(out, X.dims());
  uint8_t* y = Y.mutable_data<uint8_t>();
  uint64_t n = X.element_count();
  ctx.pool.parallel_for(chunk_count(static_cast<int64_t>(n), kChunk), [&](int64_t t) {
    uint64_t i0 = static_cast<uint64_t>(t * kChunk), i1 = std::min<uint64_t>(n, i0 + kChunk);
    for (uint64_t i = i0; i < i1; ++i) {
      size_t p = static_cast<size_t>(L.index(i));
      y[i] = float_to_float8(float_at(X, i) / scale[p], f, saturate);
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

Status dequantize_float8(KernelContext& ctx, const TensorValue& X, const TensorValue& S, const TensorValue* Z, DataType out) {
  if (ctx.opset < 19) return ctx.fail(std::string("cannot dequantize ") + data_type_name(X.dtype()) + " before opset 19");
  EFFOPT_TRY_ASSIGN(ParamLayout L, param_layout(ctx, X, S, Z));
  EFFOPT_TRY(need_zero_float8_zp(ctx, Z));
  std::vector<float> scale(S.element_count());
  for (uint64_t i = 0; i < scale.size(); ++i) scale[i] = float_at(S, i);
  TensorValue Y = TensorValue::allocate(out, X.dims());
  const uint8_t* x = X.data<uint8_t>();
  uint64_t n = X.element_count();
  ctx.pool.parallel_for(chunk_count(static_cast<int64_t>(n), kChunk), [&](int64_t t) {
    uint64_t i0 = static_cast<uint64_t>(t * kChunk), i1 = std::min<uint64_t>(n, i0 + kChunk);
    for (uint64_t i = i0; i < i1; ++i) {
      size_t p = static_cast<size_t>(L.index(i));
      store_float(Y, i, float8_to_float(x[i], X.dtype()) * scale[p]);
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- QuantizeLinear ----

Status quantize_linear_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs x and y_scale");
  const TensorValue& X = ctx.in(0);
  const TensorValue& S = ctx.in(1);
  const TensorValue* Z = ctx.has_input(2) ? &ctx.in(2) : nullptr;
  bool x_float = X.dtype() == DataType::Float || (ctx.opset >= 19 && is_qdq_float_type(X.dtype()));
  if (!x_float && X.dtype() != DataType::Int32)
    return ctx.fail(std::string("x must be float32") + (ctx.opset >= 19 ? ", float16, bfloat16" : "") +
                    " or int32 (got " + data_type_name(X.dtype()) + ")");
  if (!(S.dtype() == DataType::Float || (ctx.opset >= 19 && is_qdq_float_type(S.dtype()))))
    return ctx.fail(std::string("y_scale must be float32") + (ctx.opset >= 19 ? ", float16 or bfloat16" : "") +
                    " (got " + data_type_name(S.dtype()) + ")");
  DataType out = DataType::UInt8;
  int64_t out_attr = ctx.opset >= 21 ? ctx.node.attr_int("output_dtype", 0) : 0;
  if (Z) {
    out = Z->dtype();
    if (out_attr != 0 && out_attr != static_cast<int64_t>(out))
      return ctx.fail("output_dtype " + std::to_string(out_attr) + " differs from the zero point's type " +
                      data_type_name(out));
  } else if (out_attr != 0) {
    if (!is_known_data_type(static_cast<int32_t>(out_attr))) return ctx.fail("bad output_dtype " + std::to_string(out_attr));
    out = static_cast<DataType>(out_attr);
  }
  if (is_float8_type(out)) return quantize_float8(ctx, X, S, Z, out, x_float);
  if (!is_quant_int(out, ctx.opset, false))
    return ctx.fail(std::string("cannot quantize to ") + data_type_name(out) + " at opset " + std::to_string(ctx.opset));
  if (ctx.node.attr("precision") && ctx.node.attr_int("precision", 0) != 0 &&
      ctx.node.attr_int("precision", 0) != static_cast<int64_t>(DataType::Float))
    return ctx.fail("only float32 precision is supported");
  EFFOPT_TRY_ASSIGN(ParamLayout L, param_layout(ctx, X, S, Z));
  std::vector<float> scale(S.element_count());
  for (uint64_t i = 0; i < scale.size(); ++i) scale[i] = float_at(S, i);
  std::vector<int32_t> zp(S.element_count(), 0);
  if (Z)
    for (uint64_t i = 0; i < zp.size(); ++i) zp[i] = int_at(*Z, i);
  QRange R = qrange(out);
  TensorValue Y = TensorValue::allocate(out, X.dims());
  uint64_t n = X.element_count();
  if (L.kind == ParamLayout::PerTensor && X.dtype() == DataType::Float &&
      (out == DataType::UInt8 || out == DataType::Int8)) {  // the common activation case, without per-element dispatch
    const float* x = X.data<float>();
    float sc = scale[0], lo = static_cast<float>(R.lo - zp[0]), hi = static_cast<float>(R.hi - zp[0]);
    int32_t z = zp[0];
    auto go = [&](auto* y) {
      using T = std::remove_pointer_t<decltype(y)>;
      ctx.pool.parallel_for(chunk_count(static_cast<int64_t>(n), kChunk), [&](int64_t t) {
        uint64_t i0 = static_cast<uint64_t>(t * kChunk), i1 = std::min<uint64_t>(n, i0 + kChunk);
        for (uint64_t i = i0; i < i1; ++i) y[i] = static_cast<T>(quantize_value(x[i] / sc, lo, hi, z));
      });
    };
    if (out == DataType::UInt8) go(Y.mutable_data<uint8_t>());
    else go(Y.mutable_data<int8_t>());
    ctx.outputs[0] = std::move(Y);
    return ok();
  }
  ctx.pool.parallel_for(chunk_count(static_cast<int64_t>(n), kChunk), [&](int64_t t) {
    uint64_t i0 = static_cast<uint64_t>(t * kChunk), i1 = std::min<uint64_t>(n, i0 + kChunk);
    for (uint64_t i = i0; i < i1; ++i) {
      int64_t p = L.index(i);
      float xv = x_float ? float_at(X, i) : static_cast<float>(X.data<int32_t>()[i]);
      int32_t z = zp[static_cast<size_t>(p)];
      store_int(Y, i, quantize_value(xv / scale[static_cast<size_t>(p)], static_cast<float>(R.lo - z),
                                     static_cast<float>(R.hi - z), z));
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- DequantizeLinear ----

Status dequantize_linear_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs x and x_scale");
  const TensorValue& X = ctx.in(0);
  const TensorValue& S = ctx.in(1);
  const TensorValue* Z = ctx.has_input(2) ? &ctx.in(2) : nullptr;
  if (!is_float8_type(X.dtype()) && !is_quant_int(X.dtype(), ctx.opset, true))
    return ctx.fail(std::string("cannot dequantize ") + data_type_name(X.dtype()) + " at opset " + std::to_string(ctx.opset));
  if (Z && Z->dtype() != X.dtype())
    return ctx.fail(std::string("x_zero_point must have x's type ") + data_type_name(X.dtype()) + " (got " +
                    data_type_name(Z->dtype()) + ")");
  if (!(S.dtype() == DataType::Float || (ctx.opset >= 19 && is_qdq_float_type(S.dtype()))))
    return ctx.fail(std::string("x_scale must be float32") + (ctx.opset >= 19 ? ", float16 or bfloat16" : "") +
                    " (got " + data_type_name(S.dtype()) + ")");
  DataType out = S.dtype();
  int64_t out_attr = ctx.opset >= 23 ? ctx.node.attr_int("output_dtype", 0) : 0;
  if (out_attr != 0) {
    if (!is_known_data_type(static_cast<int32_t>(out_attr)) || !is_qdq_float_type(static_cast<DataType>(out_attr)))
      return ctx.fail("output_dtype " + std::to_string(out_attr) + " is not float32, float16 or bfloat16");
    out = static_cast<DataType>(out_attr);
  }
  if (is_float8_type(X.dtype())) return dequantize_float8(ctx, X, S, Z, out);
  EFFOPT_TRY_ASSIGN(ParamLayout L, param_layout(ctx, X, S, Z));
  std::vector<float> scale(S.element_count());
  for (uint64_t i = 0; i < scale.size(); ++i) scale[i] = float_at(S, i);
  std::vector<int32_t> zp(S.element_count(), 0);
  if (Z)
    for (uint64_t i = 0; i < zp.size(); ++i) zp[i] = int_at(*Z, i);
  TensorValue Y = TensorValue::allocate(out, X.dims());
  uint64_t n = X.element_count();
  if (L.kind == ParamLayout::PerTensor && out == DataType::Float &&
      (X.dtype() == DataType::UInt8 || X.dtype() == DataType::Int8)) {  // the common case, without per-element dispatch
    float* y = Y.mutable_data<float>();
    float sc = scale[0];
    int32_t z = zp[0];
    auto go = [&](const auto* x) {
      ctx.pool.parallel_for(chunk_count(static_cast<int64_t>(n), kChunk), [&](int64_t t) {
        uint64_t i0 = static_cast<uint64_t>(t * kChunk), i1 = std::min<uint64_t>(n, i0 + kChunk);
        for (uint64_t i = i0; i < i1; ++i) y[i] = static_cast<float>(static_cast<int32_t>(x[i]) - z) * sc;
      });
    };
    if (X.dtype() == DataType::UInt8) go(X.data<uint8_t>());
    else go(X.data<int8_t>());
    ctx.outputs[0] = std::move(Y);
    return ok();
  }
  ctx.pool.parallel_for(chunk_count(static_cast<int64_t>(n), kChunk), [&](int64_t t) {
    uint64_t i0 = static_cast<uint64_t>(t * kChunk), i1 = std::min<uint64_t>(n, i0 + kChunk);
    for (uint64_t i = i0; i < i1; ++i) {
      size_t p = static_cast<size_t>(L.index(i));
      // int32 difference (wrapping like ONNX Runtime's int32 subtraction for int32 x)
      int32_t d = static_cast<int32_t>(static_cast<uint32_t>(int_at(X, i)) - static_cast<uint32_t>(zp[p]));
      store_float(Y, i, static_cast<float>(d) * scale[p]);
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- DynamicQuantizeLinear ----

Status dynamic_quantize_linear_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  if (X.dtype() != DataType::Float) return ctx.fail(std::string("x must be float32 (got ") + data_type_name(X.dtype()) + ")");
  const float* x = X.data<float>();
  uint64_t n = X.element_count();
  // The range always includes 0. ONNX Runtime's rule (scale 1 when the range is
  // empty, avoiding the spec's 0 / 0), and its formula and rounding.
  float lo = 0.f, hi = 0.f;
  for (uint64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  float initial_zp = 0.0f - lo / scale;
  float zpf = std::max(0.0f, std::min(255.0f, initial_zp));
  int32_t zp = static_cast<int32_t>(std::nearbyint(zpf));
  TensorValue Y = TensorValue::allocate(DataType::UInt8, X.dims());
  uint8_t* y = Y.mutable_data<uint8_t>();
  float lo_b = static_cast<float>(0 - zp), hi_b = static_cast<float>(255 - zp);
  ctx.pool.parallel_for(chunk_count(static_cast<int64_t>(n), kChunk), [&](int64_t t) {
    uint64_t i0 = static_cast<uint64_t>(t * kChunk), i1 = std::min<uint64_t>(n, i0 + kChunk);
    for (uint64_t i = i0; i < i1; ++i) y[i] = static_cast<uint8_t>(quantize_value(x[i] / scale, lo_b, hi_b, zp));
  });
  ctx.outputs[0] = std::move(Y);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = TensorValue::from_vector(DataType::Float, {}, std::vector<float>{scale});
  if (ctx.outputs.size() > 2)
    ctx.outputs[2] = TensorValue::from_vector(DataType::UInt8, {}, std::vector<uint8_t>{static_cast<uint8_t>(zp)});
  return ok();
}

// ---- integer matrix multiplication ----

bool is_8bit(DataType t) { return t == DataType::Int8 || t == DataType::UInt8; }

Status need_8bit(const KernelContext& ctx, const TensorValue& t, const char* what) {
  if (!is_8bit(t.dtype()))
    return ctx.fail(std::string(what) + " must be int8 or uint8 (got " + data_type_name(t.dtype()) + ")");
  return ok();
}

// Zero points / scales of a matrix operand: one value, one per row (A) or
// column (B) shared by every batch, or one per (batch, row / column).
struct PerIndex {
  std::vector<int32_t> zp;
  std::vector<float> scale;
  int64_t per = 0;  // 0: one value; else values per batch (M or N)
  bool per_batch = false;
};

// count: number of rows (A) or columns (B); batches: the operand's own batch count.
Expected<PerIndex> per_index(const KernelContext& ctx, const TensorValue* zp, const TensorValue* scale, int64_t count,
                             int64_t batches, const char* what, DataType want_zp_type, const char* unit) {
  PerIndex P;
  const TensorValue* ref = zp ? zp : scale;
  if (!ref) {
    P.zp = {0};
    return P;
  }
  uint64_t c = ref->element_count();
  if (zp && scale && zp->element_count() != scale->element_count())
    return ctx.fail(std::string(what) + ": the scale and the zero point have different sizes");
  if (zp && zp->dtype() != want_zp_type)
    return ctx.fail(std::string(what) + " zero point must be " + data_type_name(want_zp_type) + " (got " +
                    data_type_name(zp->dtype()) + ")");
  if (c == 1) P.per = 0;
  else if (c == static_cast<uint64_t>(count)) P.per = count;
  else if (c == static_cast<uint64_t>(count * batches) && batches > 1) { P.per = count; P.per_batch = true; }
  else
    return ctx.fail(std::string(what) + ": zero point / scale of shape " + dims_to_string(ref->dims()) +
                    " is neither per tensor nor one per " + unit + " (" + std::to_string(count) + ")");
  P.zp.assign(c, 0);
  if (zp)
    for (uint64_t i = 0; i < c; ++i) P.zp[i] = int_at(*zp, i);
  if (scale) {
    P.scale.resize(c);
    for (uint64_t i = 0; i < c; ++i) P.scale[i] = float_at(*scale, i);
  }
  return P;
}

struct MatmulShape {
  int64_t M = 0, K = 0, N = 0, nb = 0;
  std::vector<int64_t> batch, abatch, bbatch, out;
  std::vector<int64_t> sa, sb;  // batch strides (in matrices) of A and B
  int64_t nba = 1, nbb = 1;
};

Expected<MatmulShape> matmul_shape(const KernelContext& ctx, const TensorValue& A, const TensorValue& B) {
  if (A.rank() == 0 || B.rank() == 0) return ctx.fail("inputs must not be scalars");
  std::vector<int64_t> ad = A.dims(), bd = B.dims();
  bool a1 = ad.size() == 1, b1 = bd.size() == 1;
  if (a1) ad.insert(ad.begin(), 1);
  if (b1) bd.push_back(1);
  MatmulShape s;
  s.M = ad[ad.size() - 2];
  s.K = ad.back();
  s.N = bd.back();
  if (bd[bd.size() - 2] != s.K)
    return ctx.fail("inner dimensions differ: A " + dims_to_string(A.dims()) + ", B " + dims_to_string(B.dims()));
  s.abatch.assign(ad.begin(), ad.end() - 2);
  s.bbatch.assign(bd.begin(), bd.end() - 2);
  auto batch = broadcast_shapes(s.abatch, s.bbatch);
  if (!batch) return ctx.fail(batch.error().message);
  s.batch = *batch;
  s.out = s.batch;
  if (!a1) s.out.push_back(s.M);
  if (!b1) s.out.push_back(s.N);
  s.nb = static_cast<int64_t>(shape_size(s.batch));
  s.nba = static_cast<int64_t>(shape_size(s.abatch));
  s.nbb = static_cast<int64_t>(shape_size(s.bbatch));
  s.sa = broadcast_strides(s.abatch, s.batch);
  s.sb = broadcast_strides(s.bbatch, s.batch);
  return s;
}

// Batched integer product into int32 [nb, M, N] with per-row / per-column zero
// points; `epilogue(batch, a_batch, b_batch, m0, rows, n0, cols, acc, ld)` consumes
// each tile (acc is that tile, row-major with leading dimension ld).
template <class Epilogue>
void batched_qgemm(ThreadPool& pool, const MatmulShape& s, const TensorValue& A, const TensorValue& B, const PerIndex& za,
                   const PerIndex& zb, Epilogue&& epilogue) {
  const int64_t row_tile = 64, col_tile = 256;
  int64_t rt = chunk_count(s.M, row_tile), ct = chunk_count(s.N, col_tile);
  if (s.nb == 0 || rt == 0 || ct == 0) return;
  pool.parallel_for(s.nb * rt * ct, [&](int64_t t) {
    int64_t b = t / (rt * ct), r = (t / ct) % rt, c = t % ct;
    int64_t rem = b, oa = 0, ob = 0;
    for (size_t d = s.batch.size(); d-- > 0;) {
      int64_t i = rem % s.batch[d];
      rem /= s.batch[d];
      oa += i * s.sa[d];
      ob += i * s.sb[d];
    }
    int64_t m0 = r * row_tile, rows = std::min(row_tile, s.M - m0), n0 = c * col_tile, cols = std::min(col_tile, s.N - n0);
    QOperand qa, qb;
    qa.data = A.raw() + (oa * s.M + m0) * s.K;
    qa.ld = s.K;
    qa.is_signed = A.dtype() == DataType::Int8;
    qa.zp = za.zp.data() + (za.per ? (za.per_batch ? oa * s.M : 0) + m0 : 0);
    qa.zp_per_index = za.per != 0;
    qb.data = B.raw() + ob * s.K * s.N + n0;
    qb.ld = s.N;
    qb.is_signed = B.dtype() == DataType::Int8;
    qb.zp = zb.zp.data() + (zb.per ? (zb.per_batch ? ob * s.N : 0) + n0 : 0);
    qb.zp_per_index = zb.per != 0;
    thread_local std::vector<int32_t> acc;
    acc.resize(static_cast<size_t>(rows * cols));
    qgemm(rows, cols, s.K, qa, qb, acc.data(), cols);
    epilogue(b, oa, ob, m0, rows, n0, cols, acc.data(), cols);
  });
}

Status matmul_integer_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs A and B");
  const TensorValue &A = ctx.in(0), &B = ctx.in(1);
  EFFOPT_TRY(need_8bit(ctx, A, "A"));
  EFFOPT_TRY(need_8bit(ctx, B, "B"));
  EFFOPT_TRY_ASSIGN(MatmulShape s, matmul_shape(ctx, A, B));
  EFFOPT_TRY_ASSIGN(PerIndex za, per_index(ctx, ctx.has_input(2) ? &ctx.in(2) : nullptr, nullptr, s.M, s.nba, "a_zero_point", A.dtype(), "row of A"));
  EFFOPT_TRY_ASSIGN(PerIndex zb, per_index(ctx, ctx.has_input(3) ? &ctx.in(3) : nullptr, nullptr, s.N, s.nbb, "b_zero_point", B.dtype(), "column of B"));
  TensorValue Y = TensorValue::allocate(DataType::Int32, s.out);
  int32_t* y = Y.mutable_data<int32_t>();
  if (s.K == 0) std::fill(y, y + Y.element_count(), 0);
  else
    batched_qgemm(ctx.pool, s, A, B, za, zb,
                  [&](int64_t b, int64_t, int64_t, int64_t m0, int64_t rows, int64_t n0, int64_t cols, const int32_t* acc,
                      int64_t ld) {
                    for (int64_t m = 0; m < rows; ++m)
                      std::memcpy(y + (b * s.M + m0 + m) * s.N + n0, acc + m * ld, static_cast<size_t>(cols) * 4);
                  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// Float scale of a QLinear* operand: float32, or float16 / bfloat16 from opset 21.
Status need_scale(const KernelContext& ctx, const TensorValue& t, const char* what) {
  if (t.dtype() == DataType::Float || (ctx.opset >= 21 && is_qdq_float_type(t.dtype()))) return ok();
  return ctx.fail(std::string(what) + " must be float32" + (ctx.opset >= 21 ? ", float16 or bfloat16" : "") + " (got " +
                  data_type_name(t.dtype()) + ")");
}

Status qlinear_matmul_kernel(KernelContext& ctx) {
  for (size_t i = 0; i < 8; ++i)
    if (!ctx.has_input(i)) return ctx.fail("needs all 8 inputs (a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point)");
  const TensorValue &A = ctx.in(0), &B = ctx.in(3), &YS = ctx.in(6), &YZ = ctx.in(7);
  if (is_float8_type(A.dtype()) || is_float8_type(B.dtype()) || is_float8_type(YZ.dtype()))
    return refuse_float8(ctx, is_float8_type(A.dtype()) ? A.dtype() : is_float8_type(B.dtype()) ? B.dtype() : YZ.dtype());
  EFFOPT_TRY(need_8bit(ctx, A, "a"));
  EFFOPT_TRY(need_8bit(ctx, B, "b"));
  EFFOPT_TRY(need_8bit(ctx, YZ, "y_zero_point"));
  EFFOPT_TRY(need_scale(ctx, ctx.in(1), "a_scale"));
  EFFOPT_TRY(need_scale(ctx, ctx.in(4), "b_scale"));
  EFFOPT_TRY(need_scale(ctx, YS, "y_scale"));
  if (YS.element_count() != 1 || YZ.element_count() != 1) return ctx.fail("y_scale and y_zero_point must be scalars");
  EFFOPT_TRY_ASSIGN(MatmulShape s, matmul_shape(ctx, A, B));
  EFFOPT_TRY_ASSIGN(PerIndex za, per_index(ctx, &ctx.in(2), &ctx.in(1), s.M, s.nba, "a", A.dtype(), "row of a"));
  EFFOPT_TRY_ASSIGN(PerIndex zb, per_index(ctx, &ctx.in(5), &ctx.in(4), s.N, s.nbb, "b", B.dtype(), "column of b"));
  float ys = float_at(YS, 0);
  int32_t yz = int_at(YZ, 0);
  QRange R = qrange(YZ.dtype());
  float lo = static_cast<float>(R.lo - yz), hi = static_cast<float>(R.hi - yz);
  TensorValue Y = TensorValue::allocate(YZ.dtype(), s.out);
  if (s.K == 0) {  // every accumulator is 0
    for (uint64_t i = 0; i < Y.element_count(); ++i) store_int(Y, i, yz);
  } else {
    batched_qgemm(ctx.pool, s, A, B, za, zb,
                  [&](int64_t b, int64_t oa, int64_t ob, int64_t m0, int64_t rows, int64_t n0, int64_t cols,
                      const int32_t* acc, int64_t ld) {
                    thread_local std::vector<float> mult;
                    mult.resize(static_cast<size_t>(cols));
                    float prev_as = std::numeric_limits<float>::quiet_NaN();
                    for (int64_t m = 0; m < rows; ++m) {
                      int64_t ia = za.per ? (za.per_batch ? oa * s.M : 0) + m0 + m : 0;
                      float as = za.scale[static_cast<size_t>(ia)];
                      if (!(as == prev_as)) {  // per-tensor a: once per tile
                        for (int64_t n = 0; n < cols; ++n) {
                          int64_t ib = zb.per ? (zb.per_batch ? ob * s.N : 0) + n0 + n : 0;
                          // The real multiplier in float, as ONNX Runtime computes it: a_scale * b_scale / y_scale.
                          mult[static_cast<size_t>(n)] = as * zb.scale[static_cast<size_t>(ib)] / ys;
                        }
                        prev_as = as;
                      }
                      uint64_t base = static_cast<uint64_t>((b * s.M + m0 + m) * s.N + n0);
                      auto go = [&](auto* out) {
                        using T = std::remove_pointer_t<decltype(out)>;
                        for (int64_t n = 0; n < cols; ++n)
                          out[n] = static_cast<T>(quantize_value(static_cast<float>(acc[m * ld + n]) * mult[static_cast<size_t>(n)],
                                                                 lo, hi, yz));
                      };
                      if (YZ.dtype() == DataType::Int8) go(Y.mutable_data<int8_t>() + base);
                      else go(Y.mutable_data<uint8_t>() + base);
                    }
                  });
  }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

// ---- integer convolution ----

// Fills col[K = C*kH*kW][cols] for output positions [p0, p0 + cols) of one image/group; padding reads `pad`
// (the input zero point, so that it contributes x - zp = 0).
template <class T>
void im2col_int(const T* x, int64_t C, const Geometry& g, int64_t p0, int64_t cols, T pad, T* col) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kh = 0; kh < g.kH; ++kh)
      for (int64_t kw = 0; kw < g.kW; ++kw) {
        T* dst = col + ((c * g.kH + kh) * g.kW + kw) * cols;
        const T* src = x + c * g.H * g.W;
        int64_t oh = p0 / g.OW, ow = p0 % g.OW;
        for (int64_t j = 0; j < cols;) {
          int64_t ih = oh * g.sH - g.pt + kh * g.dH;
          int64_t run = std::min(g.OW - ow, cols - j);
          if (ih < 0 || ih >= g.H) {
            std::fill(dst + j, dst + j + run, pad);
          } else {
            const T* row = src + ih * g.W;
            int64_t iw = ow * g.sW - g.pl + kw * g.dW;
            if (g.sW == 1 && iw >= 0 && iw + run <= g.W) {
              std::memcpy(dst + j, row + iw, static_cast<size_t>(run) * sizeof(T));
            } else {
              for (int64_t t = 0; t < run; ++t, iw += g.sW) dst[j + t] = (iw >= 0 && iw < g.W) ? row[iw] : pad;
            }
          }
          j += run;
          ow = 0;
          ++oh;
        }
      }
}

struct ConvSetup {
  Geometry g;  // 1-D and 2-D
  int64_t N = 0, C = 0, M = 0, group = 1, Cg = 0, Mg = 0, P = 0, HW = 0, K = 0;
  std::vector<int64_t> out;
  // 3-D and up (nd): spatial input dims, kernel, strides, dilations, begin pads, output dims.
  bool nd = false;
  std::vector<int64_t> in, k, st, dl, pb, od;
  bool pointwise = false;  // 1x1(x1...) kernel, stride 1, no pads: the GEMM reads x directly
};

// N-D columns (3 spatial dims and more): the same layout as im2col_int, over the spatial dims of `s`;
// runs along the innermost output axis are copied like the 2-D rows.
template <class T>
void im2col_int_nd(const T* x, int64_t C, const ConvSetup& s, int64_t p0, int64_t cols, T pad, T* col) {
  size_t sp = s.k.size(), last = sp - 1;
  int64_t kvol = 1;
  for (int64_t v : s.k) kvol *= v;
  const int64_t W = s.in[last], OW = s.od[last], sW = s.st[last], dW = s.dl[last], pW = s.pb[last];
  std::vector<int64_t> kidx(sp), oidx(sp);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kk = 0; kk < kvol; ++kk) {
      int64_t rem = kk;
      for (size_t i = sp; i-- > 0;) { kidx[i] = rem % s.k[i]; rem /= s.k[i]; }
      T* dst = col + (c * kvol + kk) * cols;
      const T* src = x + c * s.HW;
      rem = p0;
      for (size_t i = sp; i-- > 0;) { oidx[i] = rem % s.od[i]; rem /= s.od[i]; }
      for (int64_t j = 0; j < cols;) {
        int64_t run = std::min(OW - oidx[last], cols - j);
        bool inside = true;
        int64_t off = 0;  // row of the input (all spatial dims but the last)
        for (size_t i = 0; i < last && inside; ++i) {
          int64_t v = oidx[i] * s.st[i] - s.pb[i] + kidx[i] * s.dl[i];
          inside = v >= 0 && v < s.in[i];
          off = off * s.in[i] + v;
        }
        if (!inside) {
          std::fill(dst + j, dst + j + run, pad);
        } else {
          const T* row = src + off * W;
          int64_t iw = oidx[last] * sW - pW + kidx[last] * dW;
          if (sW == 1 && iw >= 0 && iw + run <= W) std::memcpy(dst + j, row + iw, static_cast<size_t>(run) * sizeof(T));
          else
            for (int64_t t = 0; t < run; ++t, iw += sW) dst[j + t] = (iw >= 0 && iw < W) ? row[iw] : pad;
        }
        j += run;
        oidx[last] = 0;
        for (size_t i = last; i-- > 0;) {
          if (++oidx[i] < s.od[i]) break;
          oidx[i] = 0;
        }
      }
    }
}

// Geometry of a convolution with 3 or more spatial dims (kernel_shape/strides/dilations/pads/auto_pad).
Status nd_geometry(const KernelContext& ctx, const TensorValue& X, const std::vector<int64_t>& kernel, ConvSetup& s) {
  size_t sp = X.rank() - 2;
  s.nd = true;
  s.in.assign(X.dims().begin() + 2, X.dims().end());
  s.k = kernel;
  s.st = ctx.node.attr_ints("strides", std::vector<int64_t>(sp, 1));
  s.dl = ctx.node.attr_ints("dilations", std::vector<int64_t>(sp, 1));
  auto pads = ctx.node.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
  if (s.st.size() != sp || s.dl.size() != sp || pads.size() != 2 * sp)
    return ctx.fail("strides/dilations/pads do not match the spatial rank");
  for (size_t i = 0; i < sp; ++i)
    if (s.st[i] < 1 || s.dl[i] < 1 || s.k[i] < 1) return ctx.fail("strides, dilations and kernel sizes must be positive");
  EFFOPT_TRY(resolve_auto_pad(ctx, s.in, s.k, s.st, s.dl, pads));
  s.pb.assign(pads.begin(), pads.begin() + static_cast<int64_t>(sp));
  s.pointwise = true;
  for (size_t i = 0; i < sp; ++i) {
    s.od.push_back(out_size(s.in[i], s.k[i], s.st[i], s.dl[i], pads[i], pads[i + sp], false));
    s.pointwise = s.pointwise && s.k[i] == 1 && s.st[i] == 1 && pads[i] == 0 && pads[i + sp] == 0;
  }
  return ok();
}

Expected<ConvSetup> conv_setup(const KernelContext& ctx, const TensorValue& X, const TensorValue& Wt) {
  if (X.rank() < 3 || Wt.rank() != X.rank())
    return ctx.fail("x and w must have the same rank, 3 or more (got x " + dims_to_string(X.dims()) + ", w " +
                    dims_to_string(Wt.dims()) + ")");
  ConvSetup s;
  s.group = ctx.node.attr_int("group", 1);
  s.N = X.dim(0);
  s.C = X.dim(1);
  s.M = Wt.dim(0);
  if (s.group < 1 || s.C % s.group != 0 || s.M % s.group != 0 || Wt.dim(1) * s.group != s.C)
    return ctx.fail("channels (" + std::to_string(s.C) + ", w " + dims_to_string(Wt.dims()) + ") do not fit group " +
                    std::to_string(s.group));
  std::vector<int64_t> kernel(Wt.dims().begin() + 2, Wt.dims().end());
  if (ctx.node.attr_ints("kernel_shape", kernel) != kernel) return ctx.fail("kernel_shape does not match w");
  s.Cg = s.C / s.group;
  s.Mg = s.M / s.group;
  if (X.rank() > 4) {
    EFFOPT_TRY(nd_geometry(ctx, X, kernel, s));
    s.P = static_cast<int64_t>(shape_size(s.od));
    s.HW = static_cast<int64_t>(shape_size(s.in));
    s.K = s.Cg * static_cast<int64_t>(shape_size(s.k));
    s.out = {s.N, s.M};
    s.out.insert(s.out.end(), s.od.begin(), s.od.end());
    return s;
  }
  EFFOPT_TRY_ASSIGN(s.g, geometry(ctx, X.dims(), kernel, false));
  const Geometry& g = s.g;
  s.P = g.OH * g.OW;
  s.HW = g.H * g.W;
  s.K = s.Cg * g.kH * g.kW;
  s.out = out_dims(X.dims(), s.M, g);
  s.pointwise = g.kH == 1 && g.kW == 1 && g.sH == 1 && g.sW == 1 && g.pt == 0 && g.pl == 0 && g.pb == 0 && g.pr == 0;
  return s;
}

// Depthwise plane (one input channel, one output channel): direct loops over the kernel taps, int32
// accumulation of (x - x_zp) * (w - w_zp); positions in the padding contribute 0, as x_zp padding would.
template <class TX, class TW>
void depthwise_plane_int(const TX* x, const TW* w, int32_t x_zp, int32_t w_zp, const Geometry& g, int32_t* acc) {
  std::fill(acc, acc + g.OH * g.OW, 0);
  for (int64_t kh = 0; kh < g.kH; ++kh)
    for (int64_t kw = 0; kw < g.kW; ++kw) {
      int32_t wv = static_cast<int32_t>(w[kh * g.kW + kw]) - w_zp;
      if (wv == 0) continue;
      // output columns whose input column iw = ow * sW - pl + kw * dW lies inside [0, W)
      int64_t off = kw * g.dW - g.pl;
      int64_t ow0 = off >= 0 ? 0 : (-off + g.sW - 1) / g.sW;
      int64_t ow1 = g.W - off <= 0 ? 0 : std::min(g.OW, (g.W - off + g.sW - 1) / g.sW);
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        int64_t ih = oh * g.sH - g.pt + kh * g.dH;
        if (ih < 0 || ih >= g.H) continue;
        const TX* row = x + ih * g.W + off;
        int32_t* __restrict out = acc + oh * g.OW;
        if (g.sW == 1)
          for (int64_t ow = ow0; ow < ow1; ++ow) out[ow] += wv * (static_cast<int32_t>(row[ow]) - x_zp);
        else
          for (int64_t ow = ow0; ow < ow1; ++ow) out[ow] += wv * (static_cast<int32_t>(row[ow * g.sW]) - x_zp);
      }
    }
}

// Integer convolution in fixed output-column tiles (from the shape only):
// im2col per tile (padding = x's zero point), qgemm W[Mg, K] x col[K, cols] with
// per-output-channel weight zero points, then epilogue(n, m, j0, cols, acc row)
// for each output channel row of the tile.
template <class Epilogue>
void conv_integer_core(ThreadPool& pool, const ConvSetup& s, const TensorValue& X, const TensorValue& Wt, int32_t x_zp,
                       const std::vector<int32_t>& w_zp, Epilogue&& epilogue) {
  const Geometry& g = s.g;
  if (s.N == 0 || s.M == 0 || s.P == 0) return;
  bool x_signed = X.dtype() == DataType::Int8, w_signed = Wt.dtype() == DataType::Int8;
  bool wzp_per = w_zp.size() > 1;
  if (!s.nd && s.Cg == 1 && s.group == s.C) {  // depthwise (channel multiplier Mg): one task per output plane
    int64_t kk = g.kH * g.kW;
    pool.parallel_for(s.N * s.M, [&](int64_t t) {
      int64_t n = t / s.M, m = t % s.M, c = m / s.Mg;
      thread_local std::vector<int32_t> acc;
      acc.resize(static_cast<size_t>(s.P));
      const std::byte* xp = X.raw() + (n * s.C + c) * s.HW;
      const std::byte* wp = Wt.raw() + m * kk;
      int32_t wz = w_zp[wzp_per ? static_cast<size_t>(m) : 0];
      if (x_signed && w_signed)
        depthwise_plane_int(reinterpret_cast<const int8_t*>(xp), reinterpret_cast<const int8_t*>(wp), x_zp, wz, g, acc.data());
      else if (x_signed)
        depthwise_plane_int(reinterpret_cast<const int8_t*>(xp), reinterpret_cast<const uint8_t*>(wp), x_zp, wz, g, acc.data());
      else if (w_signed)
        depthwise_plane_int(reinterpret_cast<const uint8_t*>(xp), reinterpret_cast<const int8_t*>(wp), x_zp, wz, g, acc.data());
      else
        depthwise_plane_int(reinterpret_cast<const uint8_t*>(xp), reinterpret_cast<const uint8_t*>(wp), x_zp, wz, g, acc.data());
      epilogue(n, m, 0, s.P, acc.data());
    });
    return;
  }
  int64_t tile = std::max<int64_t>(64, ((int64_t{1} << 16) / std::max<int64_t>(s.K, 1)) / 16 * 16);
  tile = std::min(tile, s.P);
  int64_t tiles = chunk_count(s.P, tile);
  const int32_t x_zp_shifted = x_zp - 128;
  pool.parallel_for(s.N * s.group * tiles, [&](int64_t t) {
    int64_t n = t / (s.group * tiles), rest = t % (s.group * tiles), gi = rest / tiles, j0 = (rest % tiles) * tile;
    int64_t cols = std::min(tile, s.P - j0);
    const std::byte* xg = X.raw() + (n * s.C + gi * s.Cg) * s.HW;
    QOperand qa, qb;
    qa.data = Wt.raw() + gi * s.Mg * s.K;
    qa.ld = s.K;
    qa.is_signed = w_signed;
    qa.zp = w_zp.data() + (wzp_per ? gi * s.Mg : 0);
    qa.zp_per_index = wzp_per;
    qb.is_signed = x_signed;
    qb.zp = &x_zp;
    thread_local std::vector<std::byte> col;
    if (s.pointwise) {
      qb.data = xg + j0;
      qb.ld = s.HW;
    } else {
      col.resize(static_cast<size_t>(s.K * cols));
      if (x_signed) {
        if (s.nd)
          im2col_int_nd(reinterpret_cast<const int8_t*>(xg), s.Cg, s, j0, cols, static_cast<int8_t>(x_zp),
                        reinterpret_cast<int8_t*>(col.data()));
        else
          im2col_int(reinterpret_cast<const int8_t*>(xg), s.Cg, g, j0, cols, static_cast<int8_t>(x_zp),
                     reinterpret_cast<int8_t*>(col.data()));
      } else {
        // uint8 columns become int8 (x - 128) with zero point x_zp - 128: the same differences, and the
        // GEMM gets the signed operand oneDNN wants without another copy.
        if (s.nd)
          im2col_int_nd(reinterpret_cast<const uint8_t*>(xg), s.Cg, s, j0, cols, static_cast<uint8_t>(x_zp),
                        reinterpret_cast<uint8_t*>(col.data()));
        else
          im2col_int(reinterpret_cast<const uint8_t*>(xg), s.Cg, g, j0, cols, static_cast<uint8_t>(x_zp),
                     reinterpret_cast<uint8_t*>(col.data()));
        uint8_t* __restrict p = reinterpret_cast<uint8_t*>(col.data());
        for (int64_t i = 0, e = s.K * cols; i < e; ++i) p[i] ^= 0x80u;
        qb.is_signed = true;
        qb.zp = &x_zp_shifted;
      }
      qb.data = col.data();
      qb.ld = cols;
    }
    thread_local std::vector<int32_t> acc;
    acc.resize(static_cast<size_t>(s.Mg * cols));
    qgemm(s.Mg, cols, s.K, qa, qb, acc.data(), cols);
    for (int64_t m = 0; m < s.Mg; ++m) epilogue(n, gi * s.Mg + m, j0, cols, acc.data() + m * cols);
  });
}

// A scalar (or one-element) zero point of `want` type; 0 when absent.
Expected<int32_t> scalar_zp(const KernelContext& ctx, const TensorValue* zp, DataType want, const char* what) {
  if (!zp) return 0;
  if (zp->dtype() != want)
    return ctx.fail(std::string(what) + " must be " + data_type_name(want) + " (got " + data_type_name(zp->dtype()) + ")");
  if (zp->element_count() != 1) return ctx.fail(std::string(what) + " must be a scalar (per tensor)");
  return int_at(*zp, 0);
}

// Per-output-channel (or per-tensor) values of the weights: count 1 or M.
Status check_per_channel(const KernelContext& ctx, const TensorValue& t, int64_t M, const char* what) {
  uint64_t c = t.element_count();
  if (t.rank() > 1 || (c != 1 && c != static_cast<uint64_t>(M)))
    return ctx.fail(std::string(what) + " must be a scalar or 1-D with one value per output channel (" +
                    std::to_string(M) + "), got " + dims_to_string(t.dims()));
  return ok();
}

Status conv_integer_kernel(KernelContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return ctx.fail("needs x and w");
  const TensorValue &X = ctx.in(0), &Wt = ctx.in(1);
  EFFOPT_TRY(need_8bit(ctx, X, "x"));
  EFFOPT_TRY(need_8bit(ctx, Wt, "w"));
  EFFOPT_TRY_ASSIGN(ConvSetup s, conv_setup(ctx, X, Wt));
  EFFOPT_TRY_ASSIGN(int32_t xzp, scalar_zp(ctx, ctx.has_input(2) ? &ctx.in(2) : nullptr, X.dtype(), "x_zero_point"));
  std::vector<int32_t> wzp{0};
  if (ctx.has_input(3)) {
    const TensorValue& Z = ctx.in(3);
    if (Z.dtype() != Wt.dtype())
      return ctx.fail(std::string("w_zero_point must be ") + data_type_name(Wt.dtype()) + " (got " + data_type_name(Z.dtype()) + ")");
    EFFOPT_TRY(check_per_channel(ctx, Z, s.M, "w_zero_point"));
    wzp.assign(Z.element_count(), 0);
    for (uint64_t i = 0; i < wzp.size(); ++i) wzp[i] = int_at(Z, i);
  }
  TensorValue Y = TensorValue::allocate(DataType::Int32, s.out);
  int32_t* y = Y.mutable_data<int32_t>();
  if (s.K == 0) std::fill(y, y + Y.element_count(), 0);
  conv_integer_core(ctx.pool, s, X, Wt, xzp, wzp, [&](int64_t n, int64_t m, int64_t j0, int64_t cols, const int32_t* acc) {
    std::memcpy(y + (n * s.M + m) * s.P + j0, acc, static_cast<size_t>(cols) * 4);
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

Status qlinear_conv_kernel(KernelContext& ctx) {
  for (size_t i = 0; i < 8; ++i)
    if (!ctx.has_input(i))
      return ctx.fail("needs x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale and y_zero_point");
  const TensorValue &X = ctx.in(0), &Wt = ctx.in(3), &YZ = ctx.in(7);
  EFFOPT_TRY(need_8bit(ctx, X, "x"));
  EFFOPT_TRY(need_8bit(ctx, Wt, "w"));
  EFFOPT_TRY(need_8bit(ctx, YZ, "y_zero_point"));
  EFFOPT_TRY(need_scale(ctx, ctx.in(1), "x_scale"));
  EFFOPT_TRY(need_scale(ctx, ctx.in(4), "w_scale"));
  EFFOPT_TRY(need_scale(ctx, ctx.in(6), "y_scale"));
  if (ctx.in(1).element_count() != 1 || ctx.in(6).element_count() != 1 || YZ.element_count() != 1)
    return ctx.fail("x_scale, y_scale and y_zero_point must be scalars");
  EFFOPT_TRY_ASSIGN(ConvSetup s, conv_setup(ctx, X, Wt));
  EFFOPT_TRY_ASSIGN(int32_t xzp, scalar_zp(ctx, &ctx.in(2), X.dtype(), "x_zero_point"));
  const TensorValue &WS = ctx.in(4), &WZ = ctx.in(5);
  EFFOPT_TRY(check_per_channel(ctx, WS, s.M, "w_scale"));
  EFFOPT_TRY(check_per_channel(ctx, WZ, s.M, "w_zero_point"));
  if (WZ.dtype() != Wt.dtype())
    return ctx.fail(std::string("w_zero_point must be ") + data_type_name(Wt.dtype()) + " (got " + data_type_name(WZ.dtype()) + ")");
  std::vector<int32_t> wzp(WZ.element_count());
  for (uint64_t i = 0; i < wzp.size(); ++i) wzp[i] = int_at(WZ, i);
  const int32_t* bias = nullptr;
  if (ctx.has_input(8)) {
    const TensorValue& Bv = ctx.in(8);
    if (Bv.dtype() != DataType::Int32) return ctx.fail(std::string("B must be int32 (got ") + data_type_name(Bv.dtype()) + ")");
    if (Bv.element_count() != static_cast<uint64_t>(s.M)) return ctx.fail("B must have one value per output channel");
    bias = Bv.data<int32_t>();
  }
  // The real multiplier per output channel, in float as ONNX Runtime computes it: x_scale * w_scale / y_scale.
  float xs = float_at(ctx.in(1), 0), ys = float_at(ctx.in(6), 0);
  std::vector<float> mult(static_cast<size_t>(s.M));
  for (int64_t m = 0; m < s.M; ++m) mult[static_cast<size_t>(m)] = xs * float_at(WS, WS.element_count() == 1 ? 0 : m) / ys;
  int32_t yz = int_at(YZ, 0);
  QRange R = qrange(YZ.dtype());
  float lo = static_cast<float>(R.lo - yz), hi = static_cast<float>(R.hi - yz);
  TensorValue Y = TensorValue::allocate(YZ.dtype(), s.out);
  bool y_signed = YZ.dtype() == DataType::Int8;
  auto requant_row = [&](int64_t n, int64_t m, int64_t j0, int64_t cols, const int32_t* acc) {
    uint32_t b = bias ? static_cast<uint32_t>(bias[m]) : 0u;
    float k = mult[static_cast<size_t>(m)];
    uint64_t base = static_cast<uint64_t>((n * s.M + m) * s.P + j0);
    auto go = [&](auto* out) {
      using T = std::remove_pointer_t<decltype(out)>;
      for (int64_t j = 0; j < cols; ++j) {
        int32_t a = static_cast<int32_t>(static_cast<uint32_t>(acc[j]) + b);  // int32 add, wrapping
        out[j] = static_cast<T>(quantize_value(static_cast<float>(a) * k, lo, hi, yz));
      }
    };
    if (y_signed) go(Y.mutable_data<int8_t>() + base);
    else go(Y.mutable_data<uint8_t>() + base);
  };
  if (s.K == 0) {
    std::vector<int32_t> zeros(static_cast<size_t>(s.P), 0);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t m = 0; m < s.M; ++m) requant_row(n, m, 0, s.P, zeros.data());
  } else {
    conv_integer_core(ctx.pool, s, X, Wt, xzp, wzp, requant_row);
  }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

}  // namespace

void register_quant_kernels(KernelRegistry& r) {
  r.add("QuantizeLinear", 10, INT64_MAX, quantize_linear_kernel);
  r.add("DequantizeLinear", 10, INT64_MAX, dequantize_linear_kernel);
  r.add("DynamicQuantizeLinear", 11, INT64_MAX, dynamic_quantize_linear_kernel);
  r.add("MatMulInteger", 10, INT64_MAX, matmul_integer_kernel);
  r.add("ConvInteger", 10, INT64_MAX, conv_integer_kernel);
  r.add("QLinearMatMul", 10, INT64_MAX, qlinear_matmul_kernel);
  r.add("QLinearConv", 10, INT64_MAX, qlinear_conv_kernel);
}

}  // namespace effopt::exec
