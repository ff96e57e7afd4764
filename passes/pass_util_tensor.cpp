// The pass helper layer (pass_util.h): reading and building tensor values.
#include <cassert>
#include <cmath>
#include <cstring>

#include "exec/tensor_value.h"
#include "passes/pass_util.h"

namespace effopt::passes::util {

namespace {
template <class T>
std::vector<double> widen(const Tensor& t) {
  std::vector<double> out;
  for (T x : t.as<T>()) out.push_back(static_cast<double>(x));
  return out;
}
}  // namespace

std::optional<std::vector<double>> constant_doubles(const Value* v) {
  TensorPtr t = fixed_constant(v);
  if (!t || !t->storage) return std::nullopt;
  auto count = t->element_count();
  if (!count) return std::nullopt;
  std::vector<double> out;
  switch (t->data_type) {
    case DataType::Float: out = widen<float>(*t); break;
    case DataType::Double: out = widen<double>(*t); break;
    case DataType::Int64: out = widen<int64_t>(*t); break;
    case DataType::Int32: out = widen<int32_t>(*t); break;
    case DataType::Int16: out = widen<int16_t>(*t); break;
    case DataType::Int8: out = widen<int8_t>(*t); break;
    case DataType::UInt8: out = widen<uint8_t>(*t); break;
    case DataType::Bool: out = widen<uint8_t>(*t); break;
    case DataType::Float16:
      for (uint16_t h : t->as<uint16_t>()) out.push_back(exec::half_to_float(h));
      break;
    case DataType::BFloat16:
      for (uint16_t h : t->as<uint16_t>()) out.push_back(exec::bf16_to_float(h));
      break;
    default: return std::nullopt;
  }
  if (out.size() != *count) return std::nullopt;
  return out;
}

std::optional<std::vector<int64_t>> tensor_ints(const Tensor& t) {
  auto n = t.element_count();
  if (!n || (t.data_type != DataType::Int64 && t.data_type != DataType::Int32)) return std::nullopt;
  std::vector<int64_t> out;
  if (*n == 0) return out;
  if (!t.storage) return std::nullopt;
  if (t.data_type == DataType::Int64 && t.byte_size() == *n * 8) {
    auto s = t.as<int64_t>();
    out.assign(s.begin(), s.end());
  } else if (t.data_type == DataType::Int32 && t.byte_size() == *n * 4) {
    for (int32_t x : t.as<int32_t>()) out.push_back(x);
  } else {
    return std::nullopt;
  }
  return out;
}

bool tensor_all_equal(const Tensor& t, double x) {
  auto n = t.element_count();
  if (!n || *n == 0 || t.data_type == DataType::String) return false;
  size_t es = exec::element_size(t.data_type);
  if (es == 0 || t.byte_size() != *n * es) return false;
  const std::byte* p = t.storage->aligned_data();
  for (uint64_t i = 0; i < *n; ++i) {
    const std::byte* e = p + i * es;
    double v = 0;
    switch (t.data_type) {
      case DataType::Float: { float f; std::memcpy(&f, e, 4); v = f; break; }
      case DataType::Double: std::memcpy(&v, e, 8); break;
      case DataType::Float16: { uint16_t h; std::memcpy(&h, e, 2); v = exec::half_to_float(h); break; }
      case DataType::BFloat16: { uint16_t h; std::memcpy(&h, e, 2); v = exec::bf16_to_float(h); break; }
      case DataType::Int8: v = static_cast<double>(*reinterpret_cast<const int8_t*>(e)); break;
      case DataType::UInt8: v = static_cast<double>(*reinterpret_cast<const uint8_t*>(e)); break;
      case DataType::Int16: { int16_t a; std::memcpy(&a, e, 2); v = a; break; }
      case DataType::UInt16: { uint16_t a; std::memcpy(&a, e, 2); v = a; break; }
      case DataType::Int32: { int32_t a; std::memcpy(&a, e, 4); v = a; break; }
      case DataType::UInt32: { uint32_t a; std::memcpy(&a, e, 4); v = a; break; }
      case DataType::Int64: { int64_t a; std::memcpy(&a, e, 8); v = static_cast<double>(a); if (a != static_cast<int64_t>(x)) return false; break; }
      case DataType::UInt64: { uint64_t a; std::memcpy(&a, e, 8); v = static_cast<double>(a); if (a != static_cast<uint64_t>(x)) return false; break; }
      default: return false;  // bool, complex, float8, int4: not handled
    }
    if (v != x) return false;
  }
  return true;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.data_type != b.data_type || a.dims != b.dims) return false;
  if (a.data_type == DataType::String) return a.strings == b.strings;
  if (a.byte_size() != b.byte_size()) return false;
  return a.byte_size() == 0 || std::memcmp(a.bytes().data(), b.bytes().data(), a.byte_size()) == 0;
}

namespace {
// Rounds to float with round-to-odd, so that a further rounding to a type
// with at least two fewer significand bits (float16, bfloat16) is the correct
// single rounding of `d`.
float to_float_round_odd(double d) {
  float f = static_cast<float>(d);
  if (!std::isfinite(f) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= 1;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

uint16_t double_to_half(double d) { return exec::float_to_half(to_float_round_odd(d)); }

TensorPtr tensor_from_doubles(DataType dtype, std::vector<int64_t> dims, const std::vector<double>& vals) {
  auto t = std::make_shared<Tensor>();
  t->data_type = dtype;
  t->dims = std::move(dims);
  std::vector<std::byte> bytes;
  auto put = [&](const void* p, size_t n) {
    size_t at = bytes.size();
    bytes.resize(at + n);
    std::memcpy(bytes.data() + at, p, n);
  };
  for (double d : vals) {
    switch (dtype) {
      case DataType::Float: { float f = static_cast<float>(d); put(&f, 4); break; }
      case DataType::Double: put(&d, 8); break;
      case DataType::Float16: { uint16_t h = double_to_half(d); put(&h, 2); break; }
      case DataType::BFloat16: { uint16_t h = exec::float_to_bf16(to_float_round_odd(d)); put(&h, 2); break; }
      default: assert(false && "tensor_from_doubles: not a float type");
    }
  }
  t->set_bytes(std::move(bytes));
  return t;
}

TensorPtr tensor_from_ints(std::vector<int64_t> dims, const std::vector<int64_t>& vals) {
  auto t = std::make_shared<Tensor>();
  t->data_type = DataType::Int64;
  t->dims = std::move(dims);
  std::vector<std::byte> bytes(vals.size() * 8);
  if (!vals.empty()) std::memcpy(bytes.data(), vals.data(), bytes.size());
  t->set_bytes(std::move(bytes));
  return t;
}

}  // namespace effopt::passes::util
