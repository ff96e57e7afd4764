// Runtime values that are not plain tensors: sequences of tensors and empty
// optionals, as ONNX's sequence and optional types need (Loop can carry them).
// The executor stores one RuntimeValue per graph value; kernels that are not
// flagged KernelFlags::Values only ever see the tensor of a tensor value.
#pragma once

#include <memory>
#include <vector>

#include "exec/tensor_value.h"

namespace effopt::exec {

struct RuntimeValue {
  enum class Kind : uint8_t { Unset, Tensor, Sequence, EmptyOptional };
  Kind kind = Kind::Unset;
  TensorValue tensor;  // Kind::Tensor
  // Kind::Sequence: the items, shared (immutable) so that copying a sequence
  // (SequenceInsert, a Loop carrying it) copies only the handles.
  std::shared_ptr<const std::vector<TensorValue>> items;
  // Sequence / EmptyOptional: element type of the tensors (Undefined if unknown).
  DataType elem_type = DataType::Undefined;

  static RuntimeValue of(TensorValue t) {
    RuntimeValue v;
    v.kind = t.defined() ? Kind::Tensor : Kind::Unset;
    v.tensor = std::move(t);
    return v;
  }
  static RuntimeValue sequence(DataType elem, std::vector<TensorValue> items) {
    RuntimeValue v;
    v.kind = Kind::Sequence;
    v.elem_type = elem;
    v.items = std::make_shared<const std::vector<TensorValue>>(std::move(items));
    return v;
  }
  static RuntimeValue empty_optional(DataType elem = DataType::Undefined) {
    RuntimeValue v;
    v.kind = Kind::EmptyOptional;
    v.elem_type = elem;
    return v;
  }

  bool defined() const { return kind != Kind::Unset; }
  bool is_tensor() const { return kind == Kind::Tensor; }
  bool is_sequence() const { return kind == Kind::Sequence; }
  bool is_empty_optional() const { return kind == Kind::EmptyOptional; }
  const std::vector<TensorValue>& seq() const { return *items; }
  // Bytes counted by the memory accounting: a tensor's bytes, or the sum of a
  // sequence's items (items shared with another value are counted again).
  uint64_t byte_size() const {
    if (kind == Kind::Tensor) return tensor.byte_size();
    uint64_t n = 0;
    if (kind == Kind::Sequence)
      for (auto& t : *items) n += t.byte_size();
    return n;
  }
  // "tensor", "sequence", "empty optional" for messages.
  const char* kind_name() const {
    switch (kind) {
      case Kind::Tensor: return "a tensor";
      case Kind::Sequence: return "a sequence";
      case Kind::EmptyOptional: return "an empty optional";
      default: return "undefined";
    }
  }
};

}  // namespace effopt::exec
