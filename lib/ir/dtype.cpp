// Element-type helpers (dtype.h).
#include "ir/dtype.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace effopt {

// ---------------------------------------------------------------- type sets

bool is_float_type(DataType t) {
  return t == DataType::Float || t == DataType::Double || t == DataType::Float16 || t == DataType::BFloat16;
}

bool is_ieee_float_type(DataType t) { return t == DataType::Float || t == DataType::Double || t == DataType::Float16; }

bool is_16bit_float_type(DataType t) { return t == DataType::Float16 || t == DataType::BFloat16; }

bool is_float8_type(DataType t) {
  return t == DataType::Float8E4M3FN || t == DataType::Float8E4M3FNUZ || t == DataType::Float8E5M2 ||
         t == DataType::Float8E5M2FNUZ;
}

bool is_any_float_type(DataType t) { return is_float_type(t) || is_float8_type(t); }

bool is_qdq_float_type(DataType t) { return t == DataType::Float || t == DataType::Float16 || t == DataType::BFloat16; }

// -------------------------------------------------------------- conversions

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalize the mantissa
      int e = -1;
      do { ++e; man <<= 1; } while (!(man & 0x400));
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// float -> half on the bits (the executor's hot path: every float16 kernel
// result goes through it). double_to_half below is the general rounding; the
// unit tests check that both agree on every float.
uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // rounds past 65504: inf
  if (ax < 0x38800000u) {                                                // subnormal or zero in half
    if (ax < 0x33000000u) return sign;                                   // at most half the smallest subnormal
    uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // value / 2^-24 (half's subnormal unit) = m >> (126 - e)
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = ax + 0xfff + ((ax >> 13) & 1);  // round to nearest even on bit 13
  r -= 0x38000000u;                             // rebias 127 -> 15
  return static_cast<uint16_t>(sign | (r >> 13));
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fff + ((x >> 16) & 1);  // an overflow carries into the exponent: inf
  return static_cast<uint16_t>(x >> 16);
}

namespace {

// Rounds a double to a binary float format with `ebits` exponent and `mbits`
// mantissa bits (IEEE-style: bias 2^(ebits-1) - 1, subnormals, infinities),
// returned as its bit pattern.
uint32_t round_double(double d, int ebits, int mbits) {
  uint64_t x;
  std::memcpy(&x, &d, 8);
  const uint32_t sign = static_cast<uint32_t>(x >> 63) << (ebits + mbits);
  const uint64_t ax = x & ~(uint64_t{1} << 63);
  const uint32_t inf = ((1u << ebits) - 1) << mbits;
  if (ax >= 0x7ff0000000000000ull) return sign | inf | (ax > 0x7ff0000000000000ull ? 1u << (mbits - 1) : 0u);
  if ((ax >> 52) == 0) return sign;  // zero or a double subnormal: far below every target's smallest subnormal
  const int bias = (1 << (ebits - 1)) - 1, emin = 1 - bias;
  const int e = static_cast<int>(ax >> 52) - 1023;                         // |d| = m * 2^(e - 52)
  const uint64_t m = (ax & ((uint64_t{1} << 52) - 1)) | (uint64_t{1} << 52);  // 53 significant bits
  // The target's unit in the last place at this exponent is 2^(max(e, emin) - mbits).
  const int shift = 52 - mbits + std::max(0, emin - e);
  if (shift > 53) return sign;  // below half the smallest subnormal
  uint64_t q = m >> shift;
  const uint64_t rem = m & ((uint64_t{1} << shift) - 1), half = uint64_t{1} << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  // Subnormal: q is the mantissa field (2^mbits, after rounding up, is the
  // smallest normal's encoding). Normal: q in [2^mbits, 2^(mbits+1)]; a
  // carry to 2^(mbits+1) moves into the exponent field by itself.
  uint64_t bits = e < emin ? q : (static_cast<uint64_t>(e + bias) << mbits) + q - (uint64_t{1} << mbits);
  return sign | static_cast<uint32_t>(std::min<uint64_t>(bits, inf));
}

}  // namespace

uint16_t double_to_half(double d) { return static_cast<uint16_t>(round_double(d, 5, 10)); }

uint16_t double_to_bf16(double d) { return static_cast<uint16_t>(round_double(d, 8, 7)); }

float float8_to_float(uint8_t c, DataType t) {
  int mbits = 3, bias = 7;
  bool fnuz = false, has_inf = false;
  switch (t) {
    case DataType::Float8E4M3FN: break;
    case DataType::Float8E4M3FNUZ: bias = 8, fnuz = true; break;
    case DataType::Float8E5M2: mbits = 2, bias = 15, has_inf = true; break;
    case DataType::Float8E5M2FNUZ: mbits = 2, bias = 16, fnuz = true; break;
    default: assert(false && "float8_to_float takes a float8 type"); return std::numeric_limits<float>::quiet_NaN();
  }
  const uint32_t mag = c & 0x7Fu, ex = mag >> mbits, m = mag & ((1u << mbits) - 1), ex_all = (1u << (7 - mbits)) - 1;
  const bool neg = (c & 0x80u) != 0;
  if (fnuz ? c == 0x80u : (has_inf ? ex == ex_all && m != 0 : mag == 0x7Fu)) return std::numeric_limits<float>::quiet_NaN();
  if (has_inf && ex == ex_all) return neg ? -INFINITY : INFINITY;
  double v = ex == 0 ? std::ldexp(static_cast<double>(m), 1 - bias - mbits)
                     : std::ldexp(static_cast<double>(m + (1u << mbits)), static_cast<int>(ex) - bias - mbits);
  return static_cast<float>(neg ? -v : v);
}

// ------------------------------------------------------- reading and writing

bool has_numeric_value(DataType t) {
  switch (t) {
    case DataType::Undefined: case DataType::String: case DataType::Complex64: case DataType::Complex128:
      return false;
    default: return is_known_data_type(static_cast<int32_t>(t));
  }
}

namespace {

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Calls fn(i, value) for the n elements of integer type `t` (or bool) at `p`.
template <class Fn>
bool for_each_int(DataType t, const std::byte* p, size_t n, Fn&& fn) {
  auto each = [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < n; ++i) fn(i, load<T>(p + i * sizeof(T)));
  };
  switch (t) {
    case DataType::Int8: each(int8_t{}); return true;
    case DataType::UInt8: each(uint8_t{}); return true;
    case DataType::Int16: each(int16_t{}); return true;
    case DataType::UInt16: each(uint16_t{}); return true;
    case DataType::Int32: each(int32_t{}); return true;
    case DataType::UInt32: each(uint32_t{}); return true;
    case DataType::Int64: each(int64_t{}); return true;
    case DataType::UInt64: each(uint64_t{}); return true;
    case DataType::Bool:
      for (size_t i = 0; i < n; ++i) fn(i, static_cast<uint8_t>(p[i] != std::byte{0}));
      return true;
    case DataType::Int4: case DataType::UInt4:
      for (size_t i = 0; i < n; ++i) {
        int v = (std::to_integer<int>(p[i / 2]) >> ((i % 2) * 4)) & 0xF;
        if (t == DataType::Int4 && v >= 8) v -= 16;
        fn(i, static_cast<int8_t>(v));
      }
      return true;
    default: return false;
  }
}

bool fits(DataType t, std::span<const std::byte> bytes, size_t n) { return bytes.size() >= packed_byte_size(t, n); }

template <class T>
T truncate_saturate(double v) {
  if (std::isnan(v)) return 0;
  const double r = std::trunc(v);
  if (r <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (r >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(r);
}

}  // namespace

bool decode_doubles(DataType t, std::span<const std::byte> bytes, std::span<double> out) {
  const size_t n = out.size();
  if (!has_numeric_value(t) || !fits(t, bytes, n)) return false;
  const std::byte* p = bytes.data();
  double* o = out.data();
  switch (t) {
    case DataType::Float:
      for (size_t i = 0; i < n; ++i) o[i] = load<float>(p + 4 * i);
      return true;
    case DataType::Double:
      for (size_t i = 0; i < n; ++i) o[i] = load<double>(p + 8 * i);
      return true;
    case DataType::Float16:
      for (size_t i = 0; i < n; ++i) o[i] = half_to_float(load<uint16_t>(p + 2 * i));
      return true;
    case DataType::BFloat16:
      for (size_t i = 0; i < n; ++i) o[i] = bf16_to_float(load<uint16_t>(p + 2 * i));
      return true;
    default: break;
  }
  if (is_float8_type(t)) {
    for (size_t i = 0; i < n; ++i) o[i] = float8_to_float(std::to_integer<uint8_t>(p[i]), t);
    return true;
  }
  return for_each_int(t, p, n, [o](size_t i, auto v) { o[i] = static_cast<double>(v); });
}

bool decode_ints(DataType t, std::span<const std::byte> bytes, std::span<int64_t> out) {
  const size_t n = out.size();
  if (!fits(t, bytes, n)) return false;
  bool ok = true;
  bool is_int = for_each_int(t, bytes.data(), n, [&](size_t i, auto v) {
    if constexpr (std::is_same_v<decltype(v), uint64_t>) {
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) ok = false;
    }
    out[i] = static_cast<int64_t>(v);
  });
  return is_int && ok;
}

bool encode_doubles(DataType t, std::span<const double> in, std::span<std::byte> out) {
  const size_t n = in.size();
  auto put = [&](auto tag, auto convert) {
    using T = decltype(tag);
    if (out.size() < n * sizeof(T)) return false;
    for (size_t i = 0; i < n; ++i) {
      T v = convert(in[i]);
      std::memcpy(out.data() + i * sizeof(T), &v, sizeof(T));
    }
    return true;
  };
  switch (t) {
    case DataType::Float: return put(float{}, [](double v) { return static_cast<float>(v); });
    case DataType::Double: return put(double{}, [](double v) { return v; });
    case DataType::Float16: return put(uint16_t{}, double_to_half);
    case DataType::BFloat16: return put(uint16_t{}, double_to_bf16);
    case DataType::Int8: return put(int8_t{}, truncate_saturate<int8_t>);
    case DataType::UInt8: return put(uint8_t{}, truncate_saturate<uint8_t>);
    case DataType::Int16: return put(int16_t{}, truncate_saturate<int16_t>);
    case DataType::UInt16: return put(uint16_t{}, truncate_saturate<uint16_t>);
    case DataType::Int32: return put(int32_t{}, truncate_saturate<int32_t>);
    case DataType::UInt32: return put(uint32_t{}, truncate_saturate<uint32_t>);
    case DataType::Int64: return put(int64_t{}, truncate_saturate<int64_t>);
    case DataType::UInt64: return put(uint64_t{}, truncate_saturate<uint64_t>);
    case DataType::Bool: return put(uint8_t{}, [](double v) { return static_cast<uint8_t>(v != 0 ? 1 : 0); });
    default: return false;
  }
}

namespace {

// The tensor's element count when its bytes hold exactly that many elements.
std::optional<size_t> stored_count(const Tensor& t) {
  auto n = t.element_count();
  if (!n || t.byte_size() != packed_byte_size(t.data_type, *n)) return std::nullopt;
  return static_cast<size_t>(*n);
}

}  // namespace

std::optional<std::vector<double>> to_doubles(const Tensor& t) {
  if (!has_numeric_value(t.data_type)) return std::nullopt;
  auto n = stored_count(t);
  if (!n) return std::nullopt;
  std::vector<double> out(*n);
  if (!decode_doubles(t.data_type, t.bytes(), out)) return std::nullopt;
  return out;
}

std::optional<std::vector<int64_t>> to_ints(const Tensor& t) {
  auto n = stored_count(t);
  if (!n) return std::nullopt;
  std::vector<int64_t> out(*n);
  if (!decode_ints(t.data_type, t.bytes(), out)) return std::nullopt;
  return out;
}

TensorPtr tensor_from_values(DataType t, std::vector<int64_t> dims, const std::vector<double>& vals) {
  std::vector<std::byte> bytes(static_cast<size_t>(packed_byte_size(t, vals.size())));
  if (!encode_doubles(t, vals, bytes)) return nullptr;
  auto out = std::make_shared<Tensor>();
  out->data_type = t;
  out->dims = std::move(dims);
  assert(out->element_count() == vals.size());
  out->set_bytes(std::move(bytes));
  return out;
}

}  // namespace effopt
