// Shape inference as a service for passes and analyses. ONNX 1.12's own
// inference runs first where it applies (it knows opsets up to 17 and skips
// ops it does not know); then effopt's own propagation (shape_propagation.h)
// fills in what is still unknown. Both are called directly: no registration,
// so every caller gets the same result whatever ran before in the process.
//
// Results go to Value::type. They are not written to the output model unless
// a pass adds the value to the graph's value_info.
#pragma once

#include <string>
#include <vector>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

struct ShapeInferenceOptions {
  bool use_onnx = true;
  bool use_effopt = true;        // effopt's propagation after ONNX's (propagate_shapes)
  bool data_propagation = true;  // ONNX's partial data propagation (Shape -> Gather -> Reshape)
  // Tensors larger than this are not copied into the protobuf handed to
  // ONNX's inference: they become typed graph inputs instead (their values
  // are never needed for shapes, and copying them would cost memory).
  uint64_t max_inline_tensor_bytes = 1 << 20;
};

struct ShapeInferenceStats {
  size_t values_refined = 0;  // values whose type became more precise
  std::vector<std::string> notes;
};

Status infer_shapes(Model& model, const ShapeInferenceOptions& opts = {}, ShapeInferenceStats* stats = nullptr);

// Merges `inferred` into `known` where it is more precise (unknown elem type,
// unknown rank, unknown dims). Returns true if `known` changed.
bool refine_type(Type& known, const Type& inferred);

}  // namespace effopt
