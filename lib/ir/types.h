// Element types and value types of effopt's IR, mirroring ONNX's TypeProto
// (tensor, sparse tensor, sequence, map, optional, nested as ONNX allows).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace effopt {

// Same numbering as onnx.TensorProto.DataType. ONNX 1.12 lacks names for the
// ones from 17 on, so they are spelled out here.
enum class DataType : int32_t {
  Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7,
  String = 8, Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, Complex64 = 14,
  Complex128 = 15, BFloat16 = 16, Float8E4M3FN = 17, Float8E4M3FNUZ = 18, Float8E5M2 = 19,
  Float8E5M2FNUZ = 20, UInt4 = 21, Int4 = 22,
};

bool is_known_data_type(int32_t t);
const char* data_type_name(DataType t);  // "float32", "int4", ...
// Bits per element (4 for int4/uint4; 0 for string and undefined).
int data_type_bits(DataType t);
// Bytes needed to store `count` elements packed as ONNX raw_data does.
uint64_t packed_byte_size(DataType t, uint64_t count);

// One dimension of a tensor shape: a value, a symbolic name, or unknown.
struct Dim {
  std::optional<int64_t> value;
  std::string param;       // symbolic name; empty if none
  std::string denotation;  // kept for the round trip
  bool is_known() const { return value.has_value(); }
  bool operator==(const Dim&) const = default;
  static Dim known(int64_t v) { Dim d; d.value = v; return d; }
  static Dim symbolic(std::string p) { Dim d; d.param = std::move(p); return d; }
};

struct Type;
using TypePtr = std::shared_ptr<Type>;

// Full ONNX value type. kind None means "no type given" (ONNX allows that
// for node outputs and function signatures).
struct Type {
  enum class Kind { None, Tensor, SparseTensor, Sequence, Map, Optional };
  Kind kind = Kind::None;
  DataType elem_type = DataType::Undefined;       // Tensor / SparseTensor; Map key type
  std::optional<std::vector<Dim>> shape;          // Tensor / SparseTensor; nullopt = rank unknown
  TypePtr elem;                                   // Sequence / Optional element; Map value
  std::string denotation;

  static Type tensor(DataType t, std::optional<std::vector<Dim>> shape = std::nullopt) {
    Type ty; ty.kind = Kind::Tensor; ty.elem_type = t; ty.shape = std::move(shape); return ty;
  }
  bool is_tensor() const { return kind == Kind::Tensor; }
  bool operator==(const Type& o) const;
  std::string to_string() const;  // "float32[N,3,224,224]", "seq(float32[?])"
};

std::string shape_to_string(const std::vector<Dim>& shape);

}  // namespace effopt
