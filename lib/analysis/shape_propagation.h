// effopt's own shape propagation, the second step of the shape-inference
// service (infer_shapes in shape_inference.h, after ONNX's). It fills in what ONNX 1.12's inference leaves unknown
// for the common ops, including small integer values computed from shapes
// (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as in ShuffleNet's
// channel shuffle), in subgraphs too. It only refines Value::type.
//
// If/Loop/Scan bodies get their inputs from the outer node: Scan's scan
// inputs without the scan axis, Loop's iteration number and condition as
// scalars, and loop / scan state from the outer initial values when one
// iteration leaves that shape unchanged (element type only otherwise).
// Outer-scope values are seen at any depth. The outer node's outputs follow
// from the bodies (If: what both branches share, or the branch a constant
// condition picks).
//
// `--shape NAME=DIMS` bindings fix a graph input's shape (NAME = input name,
// DIMS = "1,3,224,224") or one symbolic dim everywhere (NAME = dim name,
// DIMS = one number, e.g. "N=1").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis/shape_inference.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

// Runs effopt's propagation by itself (infer_shapes runs it after ONNX's).
Status propagate_shapes(Model& model, ShapeInferenceStats& stats);

// Control flow, as the shape propagation and the footprint read it.
// A constant boolean scalar's value (If and Loop conditions).
std::optional<bool> constant_condition(const Value* v);
// A one-element integer value known before run time: a constant, or computed
// from constants and known dims (Shape, Size, Gather, Concat, Cast, Squeeze,
// Unsqueeze, Reshape, integer Add/Sub/Mul/exact Div/Max/Min), e.g. the trip
// count PyTorch exports for `range(x.size(0))`.
std::optional<int64_t> static_scalar_int(const Value* v);
struct LoopTripCount {
  std::optional<int64_t> trips;  // M when known before run time (static_scalar_int)
  bool may_stop_early = true;    // the condition can end the loop before M iterations
  std::string why_unknown;       // when trips is nullopt
};
LoopTripCount loop_trip_count(const Node& loop);
// A Scan's (opset 9+) iteration count: the scan axis length of its scan inputs.
std::optional<int64_t> scan_iterations(const Node& scan, std::string* why = nullptr);

struct ShapeBinding {
  std::string name;
  std::vector<int64_t> dims;
};
// Parses "NAME=D0,D1,..." (also "NAME=D0xD1x..."); usage error naming the text otherwise.
Expected<ShapeBinding> parse_shape_binding(const std::string& text);
// Applies bindings to the main graph's inputs (and every value carrying a
// bound symbolic dim). Usage error if a NAME matches neither an input nor a
// symbolic dim, or an input's rank differs.
Status apply_shape_bindings(Model& model, const std::vector<ShapeBinding>& bindings);

// True if `b.name` names a graph input of the main graph or a symbolic dim of one of its values.
bool binding_matches(const Model& model, const ShapeBinding& b);

// Binds, then runs infer_shapes (ONNX's inference, then effopt's propagation).
Status infer_shapes_with_bindings(Model& model, const std::vector<ShapeBinding>& bindings,
                                  ShapeInferenceStats* stats = nullptr);

}  // namespace effopt
