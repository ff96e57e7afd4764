// Element-type helpers every layer uses: which element types are floating
// point (one named predicate per set a caller needs), float16 / bfloat16 /
// float8 conversions, and reading or writing tensor elements as double or
// int64. One definition of each, here, so the executor, the analyses and the
// passes agree on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ir/tensor.h"
#include "ir/types.h"

namespace effopt {

// ---- type sets

// float32, float64, float16, bfloat16: the floating-point types effopt
// computes with (executor kernels, fidelity metrics, random inputs, output
// checks). Not the float8 types, which are storage formats only.
bool is_float_type(DataType t);
// float16, float32, float64: the IEEE 754 binary formats. The float types the
// fusion passes fold in double precision and ONNX Runtime's CPU fusions accept
// (no bfloat16 kernels there).
bool is_ieee_float_type(DataType t);
// float16 and bfloat16, stored as uint16_t.
bool is_16bit_float_type(DataType t);
// float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz.
bool is_float8_type(DataType t);
// Any floating-point element type: is_float_type or is_float8_type.
bool is_any_float_type(DataType t);
// float32, float16, bfloat16: the float types of QuantizeLinear's input,
// DequantizeLinear's output and Q/DQ scales from opset 19 (float32 only before).
bool is_qdq_float_type(DataType t);

// ---- conversions (round to nearest, ties to even)

// Overflow becomes infinity; NaN stays a quiet NaN with its sign; subnormals
// are kept (no flush to zero). double_to_* round once from double (not through
// float, which would round twice).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
uint16_t double_to_half(double d);
float bf16_to_float(uint16_t b);
uint16_t float_to_bf16(float f);
uint16_t double_to_bf16(double d);
// The value of a float8 code of type `t` (is_float8_type(t)): FN types have no
// infinities and S.1111.111 is NaN; FNUZ types have no negative zero and 0x80
// is their only NaN; E5M2 is IEEE-like.
float float8_to_float(uint8_t code, DataType t);

// ---- reading and writing elements

// Element types with a numeric reading: every float type (float8 included),
// every integer type (int4/uint4 included) and bool. Not string, complex.
bool has_numeric_value(DataType t);

// Reads out.size() elements of type `t` stored as ONNX raw_data stores them
// (little-endian, any alignment; int4/uint4 two per byte, low nibble first)
// into `out`: bool as 0/1, float16/bfloat16/float8 decoded, int64/uint64
// beyond 2^53 rounded. False, with `out` unspecified, for types without a
// numeric reading or when `bytes` is too short.
bool decode_doubles(DataType t, std::span<const std::byte> bytes, std::span<double> out);
// The same for integer types and bool (exact). False for any other type and
// for a uint64 above INT64_MAX.
bool decode_ints(DataType t, std::span<const std::byte> bytes, std::span<int64_t> out);
// Writes `in` as elements of `t` (float types rounded once; integer types
// truncated toward zero and saturated to the type's range, NaN as 0; bool as
// v != 0) into `out` (in.size() elements, little-endian). False for float8,
// int4/uint4, string and complex, or when `out` is too short.
bool encode_doubles(DataType t, std::span<const double> in, std::span<std::byte> out);

// Every element of a tensor (owned or a view, whatever field it was imported
// from), or nullopt when the type has no numeric reading (to_ints: is not an
// integer type or bool) or the stored bytes do not match the dims.
std::optional<std::vector<double>> to_doubles(const Tensor& t);
std::optional<std::vector<int64_t>> to_ints(const Tensor& t);
// A new owned tensor of type `t` and dims `dims` holding `values`
// (encode_doubles; values.size() must be the element count). nullptr for the
// types encode_doubles refuses.
TensorPtr tensor_from_values(DataType t, std::vector<int64_t> dims, const std::vector<double>& values);

}  // namespace effopt
