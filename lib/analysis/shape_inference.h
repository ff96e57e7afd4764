// Shape inference as a service for passes and analyses. ONNX 1.12's own
// inference runs first where it applies (it knows opsets up to 17 and skips
// ops it does not know); then every registered provider runs, in
// registration order, to fill in what is still unknown. effopt's own
// propagation (report and executor) plugs in as such a provider.
//
// Results go to Value::type. They are not written to the output model unless
// a pass adds the value to the graph's value_info.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

struct ShapeInferenceOptions {
  bool use_onnx = true;
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

// A provider refines Value::type across the model; it must not change
// anything else.
using ShapeProvider = std::function<Status(Model&, ShapeInferenceStats&)>;
void register_shape_provider(std::string name, ShapeProvider provider);

Status infer_shapes(Model& model, const ShapeInferenceOptions& opts = {}, ShapeInferenceStats* stats = nullptr);

// Merges `inferred` into `known` where it is more precise (unknown elem type,
// unknown rank, unknown dims). Returns true if `known` changed.
bool refine_type(Type& known, const Type& inferred);

}  // namespace effopt
