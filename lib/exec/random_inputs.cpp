// Seeded, thread-count-independent random input tensors (random_inputs.h).
#include "exec/random_inputs.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#include "exec/tensor_io.h"
#include "ir/dtype.h"

namespace effopt::exec {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Smallest and largest value of an integer type (bool as 0/1).
std::pair<double, double> int_limits(DataType t) {
  switch (t) {
    case DataType::Bool: return {0, 1};
    case DataType::Int8: return {-128, 127};
    case DataType::UInt8: return {0, 255};
    case DataType::Int16: return {-32768, 32767};
    case DataType::UInt16: return {0, 65535};
    case DataType::Int32: return {-2147483648.0, 2147483647.0};
    case DataType::UInt32: return {0, 4294967295.0};
    case DataType::Int64: return {-9223372036854775808.0, 9223372036854775807.0};
    case DataType::UInt64: return {0, 18446744073709551615.0};
    default: return {0, 0};
  }
}

bool is_int_type(DataType t) { return int_limits(t).second > 0; }

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// High 64 bits of a 64x64-bit product.
uint64_t mulhi64(uint64_t a, uint64_t b) {
  const uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32, b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
  const uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  const uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

template <class T>
void fill_int(TensorValue& v, uint64_t key, int64_t lo, uint64_t range) {
  T* d = v.mutable_data<T>();
  for (uint64_t k = 0; k < v.element_count(); ++k) {
    uint64_t r = splitmix64(key + k * 0x9E3779B97F4A7C15ull);
    uint64_t off = mulhi64(r, range);  // r * range / 2^64: uniform in [0, range)
    d[k] = static_cast<T>(static_cast<uint64_t>(lo) + off);  // unsigned: wraps instead of overflowing
  }
}

}  // namespace

Expected<RangeSpec> parse_range(const std::string& text) {
  RangeSpec r;
  std::string body = text;
  size_t eq = text.rfind('=');
  if (eq != std::string::npos) {
    r.name = text.substr(0, eq);
    body = text.substr(eq + 1);
    if (r.name.empty()) return usage_error("--range " + text + ": empty input name (NAME=LO:HI, or LO:HI for every input)");
  }
  size_t colon = body.find(':', 1);  // a leading '-' is a sign, never the separator
  auto bad = [&] { return usage_error("--range " + text + ": expected NAME=LO:HI or LO:HI with numbers LO < HI"); };
  if (colon == std::string::npos) return bad();
  std::string a = body.substr(0, colon), b = body.substr(colon + 1);
  char* end = nullptr;
  r.lo = std::strtod(a.c_str(), &end);
  if (a.empty() || *end) return bad();
  r.hi = std::strtod(b.c_str(), &end);
  if (b.empty() || *end) return bad();
  if (!std::isfinite(r.lo) || !std::isfinite(r.hi) || !(r.lo < r.hi)) return bad();
  return r;
}

Expected<std::vector<RandomInputPlan>> plan_random_inputs(const Graph& g, const RandomInputOptions& opts) {
  std::vector<const Value*> inputs;
  for (const Value* v : g.inputs())
    if (!v->initializer && !v->sparse_initializer) inputs.push_back(v);
  std::string names;
  for (const Value* v : inputs) names += (names.empty() ? "" : ", ") + v->name();

  // Which specs matched something, to refuse the ones that name nothing.
  std::vector<bool> shape_used(opts.shapes.size(), false), range_used(opts.ranges.size(), false);
  std::map<std::string, int64_t> symbols;
  for (size_t i = 0; i < opts.shapes.size(); ++i) {
    const ShapeSpec& s = opts.shapes[i];
    bool is_input = false;
    for (const Value* v : inputs) is_input = is_input || v->name() == s.name;
    if (!is_input) {
      if (s.dims.size() != 1)
        return usage_error("--shape " + s.name + ": names no input of the model (its inputs: " + names +
                           "); a symbolic dim takes one value (N=1)");
      symbols[s.name] = s.dims[0];
    }
    for (int64_t d : s.dims)
      if (d < 0) return usage_error("--shape " + s.name + ": dims must not be negative");
  }

  std::vector<RandomInputPlan> plan;
  uint64_t total_bytes = 0;
  for (size_t j = 0; j < inputs.size(); ++j) {
    const Value* v = inputs[j];
    RandomInputPlan p;
    p.name = v->name();
    p.index = j;
    const Type& ty = v->type;
    if (!ty.is_tensor())
      return usage_error("input '" + p.name + "' is not a tensor (" + ty.to_string() + "): random inputs need tensors");
    p.dtype = ty.elem_type;
    if (!is_float_type(p.dtype) && !is_int_type(p.dtype))
      return usage_error("input '" + p.name + "' has element type " + data_type_name(p.dtype) +
                         ", for which no random values are drawn (use --data)");
    // Shape: a whole-input --shape wins; otherwise the declared dims with symbolic ones bound.
    const ShapeSpec* whole = nullptr;
    for (size_t i = 0; i < opts.shapes.size(); ++i)
      if (opts.shapes[i].name == p.name) { whole = &opts.shapes[i]; shape_used[i] = true; }
    if (!ty.shape && !whole)
      return usage_error("input '" + p.name + "' has no declared shape: give --shape " + p.name + "=D0xD1x...");
    if (whole) {
      if (ty.shape && ty.shape->size() != whole->dims.size())
        return usage_error("--shape " + p.name + "=" + dims_to_string(whole->dims) + ": input '" + p.name +
                           "' has rank " + std::to_string(ty.shape->size()) + " (" + ty.to_string() + ")");
      if (ty.shape)
        for (size_t d = 0; d < whole->dims.size(); ++d)
          if ((*ty.shape)[d].value && *(*ty.shape)[d].value != whole->dims[d])
            return usage_error("--shape " + p.name + ": dim " + std::to_string(d) + " of input '" + p.name +
                               "' is fixed at " + std::to_string(*(*ty.shape)[d].value) + " (" + ty.to_string() + ")");
      p.dims = whole->dims;
    } else {
      for (size_t d = 0; d < ty.shape->size(); ++d) {
        const Dim& dim = (*ty.shape)[d];
        if (dim.value) { p.dims.push_back(*dim.value); continue; }
        if (!dim.param.empty()) {
          auto it = symbols.find(dim.param);
          if (it != symbols.end()) {
            p.dims.push_back(it->second);
            for (size_t i = 0; i < opts.shapes.size(); ++i)
              if (opts.shapes[i].name == dim.param) shape_used[i] = true;
            continue;
          }
          return usage_error("input '" + p.name + "' dim " + std::to_string(d) + " is symbolic ('" + dim.param +
                             "'): give --shape " + dim.param + "=VALUE or --shape " + p.name + "=D0xD1x...");
        }
        return usage_error("input '" + p.name + "' dim " + std::to_string(d) + " is unknown (" + ty.to_string() +
                           "): give --shape " + p.name + "=D0xD1x...");
      }
    }
    // Range: a named --range wins over an unnamed one; else the type's default.
    bool is_float = is_float_type(p.dtype);
    p.lo = is_float ? -1 : 0;
    p.hi = p.dtype == DataType::Bool ? 2 : is_float ? 1 : 10;
    const RangeSpec* range = nullptr;
    for (size_t i = 0; i < opts.ranges.size(); ++i) {
      const RangeSpec& r = opts.ranges[i];
      if (r.name == p.name || (r.name.empty() && (!range || range->name.empty()))) {
        range = &r;
        range_used[i] = true;
      }
    }
    if (range) {
      p.lo = range->lo;
      p.hi = range->hi;
      std::string label = "--range " + (range->name.empty() ? "" : range->name + "=") + fmt(p.lo) + ":" + fmt(p.hi);
      if (!is_float) {
        auto [tmin, tmax] = int_limits(p.dtype);
        if (p.lo != std::floor(p.lo) || p.hi != std::floor(p.hi))
          return usage_error(label + ": input '" + p.name + "' is " + data_type_name(p.dtype) +
                             ", so LO and HI must be integers");
        if (p.lo < tmin || p.hi - 1 > tmax)
          return usage_error(label + ": outside the range of " + std::string(data_type_name(p.dtype)) + " (" +
                             fmt(tmin) + ".." + fmt(tmax) + ") of input '" + p.name + "'");
      }
    }
    const uint64_t es = element_size(p.dtype);
    uint64_t count = 1;
    for (int64_t d : p.dims) {
      if (d != 0 && count > (uint64_t{1} << 62) / static_cast<uint64_t>(d) / es)
        return io_error("input '" + p.name + "' of shape " + dims_to_string(p.dims) + " is too large for memory");
      count *= static_cast<uint64_t>(d);
    }
    total_bytes += count * es;
    EFFOPT_TRY(check_fits_in_memory(count * es, "random input '" + p.name + "' of shape " + dims_to_string(p.dims)));
    plan.push_back(std::move(p));
  }
  EFFOPT_TRY(check_fits_in_memory(total_bytes, "the random inputs of one sample"));
  for (size_t i = 0; i < opts.shapes.size(); ++i)
    if (!shape_used[i])
      return usage_error("--shape " + opts.shapes[i].name + ": names no input or symbolic input dim of the model (its inputs: " +
                         names + ")");
  for (size_t i = 0; i < opts.ranges.size(); ++i)
    if (!range_used[i] && !opts.ranges[i].name.empty())
      return usage_error("--range " + opts.ranges[i].name + ": names no input of the model (its inputs: " + names + ")");
  return plan;
}

TensorValue random_tensor(const RandomInputPlan& p, uint64_t seed, uint64_t sample) {
  TensorValue v = TensorValue::allocate(p.dtype, p.dims);
  const uint64_t key = splitmix64(splitmix64(splitmix64(seed) ^ sample) ^ (p.index + 1));
  const uint64_t n = v.element_count();
  auto uniform = [&](uint64_t k) {
    uint64_t r = splitmix64(key + k * 0x9E3779B97F4A7C15ull);
    return static_cast<double>(r >> 11) * 0x1.0p-53;
  };
  auto draw = [&](uint64_t k) { return p.lo + uniform(k) * (p.hi - p.lo); };
  switch (p.dtype) {
    case DataType::Float: {
      float* d = v.mutable_data<float>();
      const float hi = static_cast<float>(p.hi), below = std::nextafter(hi, -INFINITY);
      for (uint64_t k = 0; k < n; ++k) {
        float x = static_cast<float>(draw(k));
        d[k] = x < hi ? x : below;  // rounding must not reach HI
      }
      break;
    }
    case DataType::Double: {
      double* d = v.mutable_data<double>();
      for (uint64_t k = 0; k < n; ++k) d[k] = draw(k);
      break;
    }
    case DataType::Float16: {
      uint16_t* d = v.mutable_data<uint16_t>();
      for (uint64_t k = 0; k < n; ++k) {
        uint16_t h = float_to_half(static_cast<float>(draw(k)));
        if (half_to_float(h) >= p.hi) h = float_to_half(static_cast<float>(p.lo));
        d[k] = h;
      }
      break;
    }
    case DataType::BFloat16: {
      uint16_t* d = v.mutable_data<uint16_t>();
      for (uint64_t k = 0; k < n; ++k) {
        uint16_t h = float_to_bf16(static_cast<float>(draw(k)));
        if (bf16_to_float(h) >= p.hi) h = float_to_bf16(static_cast<float>(p.lo));
        d[k] = h;
      }
      break;
    }
    default: {
      const int64_t lo = static_cast<int64_t>(p.lo);
      // Exact for ranges below 2^53; the widest ranges of 64-bit types saturate.
      const double span = p.hi - p.lo;
      const uint64_t range = span >= 18446744073709551615.0 ? UINT64_MAX : static_cast<uint64_t>(span);
      switch (p.dtype) {
        case DataType::Bool: case DataType::UInt8: fill_int<uint8_t>(v, key, lo, range); break;
        case DataType::Int8: fill_int<int8_t>(v, key, lo, range); break;
        case DataType::Int16: fill_int<int16_t>(v, key, lo, range); break;
        case DataType::UInt16: fill_int<uint16_t>(v, key, lo, range); break;
        case DataType::Int32: fill_int<int32_t>(v, key, lo, range); break;
        case DataType::UInt32: fill_int<uint32_t>(v, key, lo, range); break;
        case DataType::Int64: fill_int<int64_t>(v, key, lo, range); break;
        case DataType::UInt64: fill_int<uint64_t>(v, key, lo, range); break;
        default: assert(false && "plan_random_inputs admits only float and integer types");
      }
    }
  }
  return v;
}

std::vector<std::pair<std::string, TensorValue>> random_inputs(const std::vector<RandomInputPlan>& plan, uint64_t seed,
                                                               uint64_t sample) {
  std::vector<std::pair<std::string, TensorValue>> out;
  for (const RandomInputPlan& p : plan) out.emplace_back(p.name, random_tensor(p, seed, sample));
  return out;
}

}  // namespace effopt::exec
