#include "ir/types.h"

#include <sstream>

namespace effopt {

bool is_known_data_type(int32_t t) { return t >= 1 && t <= 22; }

const char* data_type_name(DataType t) {
  switch (t) {
    case DataType::Float: return "float32";
    case DataType::UInt8: return "uint8";
    case DataType::Int8: return "int8";
    case DataType::UInt16: return "uint16";
    case DataType::Int16: return "int16";
    case DataType::Int32: return "int32";
    case DataType::Int64: return "int64";
    case DataType::String: return "string";
    case DataType::Bool: return "bool";
    case DataType::Float16: return "float16";
    case DataType::Double: return "float64";
    case DataType::UInt32: return "uint32";
    case DataType::UInt64: return "uint64";
    case DataType::Complex64: return "complex64";
    case DataType::Complex128: return "complex128";
    case DataType::BFloat16: return "bfloat16";
    case DataType::Float8E4M3FN: return "float8e4m3fn";
    case DataType::Float8E4M3FNUZ: return "float8e4m3fnuz";
    case DataType::Float8E5M2: return "float8e5m2";
    case DataType::Float8E5M2FNUZ: return "float8e5m2fnuz";
    case DataType::UInt4: return "uint4";
    case DataType::Int4: return "int4";
    case DataType::Undefined: break;
  }
  return "undefined";
}

int data_type_bits(DataType t) {
  switch (t) {
    case DataType::Bool: case DataType::UInt8: case DataType::Int8:
    case DataType::Float8E4M3FN: case DataType::Float8E4M3FNUZ:
    case DataType::Float8E5M2: case DataType::Float8E5M2FNUZ: return 8;
    case DataType::UInt16: case DataType::Int16: case DataType::Float16: case DataType::BFloat16: return 16;
    case DataType::Float: case DataType::Int32: case DataType::UInt32: return 32;
    case DataType::Int64: case DataType::UInt64: case DataType::Double: case DataType::Complex64: return 64;
    case DataType::Complex128: return 128;
    case DataType::UInt4: case DataType::Int4: return 4;
    case DataType::String: case DataType::Undefined: return 0;
  }
  return 0;
}

uint64_t packed_byte_size(DataType t, uint64_t count) {
  int bits = data_type_bits(t);
  if (bits == 4) return (count + 1) / 2;
  return count * static_cast<uint64_t>(bits / 8);
}

bool Type::operator==(const Type& o) const {
  if (kind != o.kind || elem_type != o.elem_type || shape != o.shape || denotation != o.denotation) return false;
  if (!elem || !o.elem) return !elem && !o.elem;
  return *elem == *o.elem;
}

std::string shape_to_string(const std::vector<Dim>& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) os << ',';
    if (shape[i].value) os << *shape[i].value;
    else if (!shape[i].param.empty()) os << shape[i].param;
    else os << '?';
  }
  os << ']';
  return os.str();
}

std::string Type::to_string() const {
  auto inner = [&] { return elem ? elem->to_string() : std::string("?"); };
  switch (kind) {
    case Kind::None: return "?";
    case Kind::Tensor:
    case Kind::SparseTensor: {
      std::string s = kind == Kind::SparseTensor ? "sparse " : "";
      s += data_type_name(elem_type);
      s += shape ? shape_to_string(*shape) : std::string("[...]");
      return s;
    }
    case Kind::Sequence: return "seq(" + inner() + ")";
    case Kind::Optional: return "optional(" + inner() + ")";
    case Kind::Map: return std::string("map(") + data_type_name(elem_type) + ", " + inner() + ")";
  }
  return "?";
}

}  // namespace effopt
