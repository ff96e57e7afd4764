// Runtime tensors of the executor: element type + dims + bytes. The bytes are
// either owned (64-byte aligned, for results) or a zero-copy view of an IR
// tensor's storage (constants), kept alive by a shared pointer. Copies of a
// TensorValue share the bytes (reshape-like ops alias their input this way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/tensor.h"
#include "ir/types.h"
#include "support/error.h"

namespace effopt::exec {

// Thrown by TensorValue::allocate for element types without a fixed size
// (strings): the executor turns it into an error naming the node.
struct UnsupportedElementType : std::exception {
  explicit UnsupportedElementType(DataType t) : type(t) {}
  const char* what() const noexcept override { return "element type without a fixed size"; }
  DataType type;
};

class TensorValue {
 public:
  TensorValue() = default;

  // Uninitialized bytes for `dims` elements of `dtype` (fixed-size types only;
  // int4/uint4 take one byte per element, see from_tensor).
  static TensorValue allocate(DataType dtype, std::vector<int64_t> dims);
  // Copies `bytes` (must be exactly the size: count * element_size; int4/uint4
  // unpacked, one byte per element).
  static TensorValue from_bytes(DataType dtype, std::vector<int64_t> dims, std::span<const std::byte> bytes);
  // Zero-copy view of an IR tensor (copied only when its bytes are misaligned
  // for the element type). String tensors become from_strings copies. int4/uint4 tensors
  // (packed two per byte in the IR, low nibble first) are unpacked into a copy:
  // inside the executor they hold one int8 (int4, sign-extended, -8..7) or one
  // uint8 (uint4, 0..15) per element; to_tensor packs them again.
  static Expected<TensorValue> from_tensor(const Tensor& t);
  template <class T>
  static TensorValue from_vector(DataType dtype, std::vector<int64_t> dims, const std::vector<T>& v) {
    return from_bytes(dtype, std::move(dims),
                      std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(T)));
  }
  // A string tensor (the executor keeps strings apart from the bytes; shared by copies).
  static TensorValue from_strings(std::vector<int64_t> dims, std::vector<std::string> strings);
  // The elements of a string tensor (empty for other types).
  const std::vector<std::string>& strings() const;
  // Same bytes, other dims (element count must match).
  TensorValue reshaped(std::vector<int64_t> dims) const;
  // An IR tensor (owned copy of the bytes; int4/uint4 packed), e.g. to write results out.
  Tensor to_tensor(const std::string& name = "") const;

  DataType dtype() const { return dtype_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  size_t rank() const { return dims_.size(); }
  int64_t dim(size_t i) const { return dims_[i]; }
  uint64_t element_count() const { return count_; }
  uint64_t byte_size() const { return bytes_; }
  bool defined() const { return dtype_ != DataType::Undefined; }
  // True when the bytes are shared with an IR tensor (never written).
  bool is_view() const { return view_; }

  const std::byte* raw() const { return data_; }
  std::byte* mutable_raw() { return data_; }
  template <class T>
  const T* data() const { return reinterpret_cast<const T*>(data_); }
  template <class T>
  T* mutable_data() { return reinterpret_cast<T*>(data_); }
  template <class T>
  std::span<const T> span() const { return {data<T>(), static_cast<size_t>(count_)}; }

 private:
  static Expected<TensorValue> unpack_4bit(const Tensor& t);
  DataType dtype_ = DataType::Undefined;
  std::vector<int64_t> dims_;
  uint64_t count_ = 0, bytes_ = 0;
  std::shared_ptr<void> keep_;  // owner of the bytes
  std::byte* data_ = nullptr;
  bool view_ = false;
  std::shared_ptr<const std::vector<std::string>> strings_;  // String tensors only
};

// Frees the large buffers that allocate() keeps for reuse (Session's
// destructor calls it).
void release_cached_buffers();

// Element size in bytes as the executor stores them: 1 for int4/uint4 (one
// element per byte, unpacked); 0 for string and undefined.
size_t element_size(DataType t);
inline bool is_4bit(DataType t) { return t == DataType::Int4 || t == DataType::UInt4; }
// Product of dims (1 for a scalar).
uint64_t shape_size(const std::vector<int64_t>& dims);
std::string dims_to_string(const std::vector<int64_t>& dims);

// Elements as doubles: any type with a numeric reading (ir/dtype.h:
// decode_doubles; int4/uint4 as the executor stores them, unpacked); a type
// without one (string, complex) gives NaN for every element.
std::vector<double> to_doubles(const TensorValue& t);

// The float16 / bfloat16 conversions live in ir/dtype.h; these names keep
// `exec::half_to_float` & co. valid for code written against them.
using effopt::bf16_to_float;
using effopt::float_to_bf16;
using effopt::float_to_half;
using effopt::half_to_float;

// numpy broadcasting of two shapes; nullopt-like error when incompatible.
Expected<std::vector<int64_t>> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// Strides (in elements) of `in_dims` broadcast to `out_dims` (right-aligned;
// 0 along broadcast axes). in_dims must be broadcast-compatible.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in_dims, const std::vector<int64_t>& out_dims);

}  // namespace effopt::exec
