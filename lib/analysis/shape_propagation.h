// effopt's own shape propagation, a provider of the shape-inference service
// (shape_inference.h). It fills in what ONNX 1.12's inference leaves unknown
// for the common ops, including small integer values computed from shapes
// (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as in ShuffleNet's
// channel shuffle), in subgraphs too. It only refines Value::type.
//
// `--shape NAME=DIMS` bindings fix a graph input's shape (NAME = input name,
// DIMS = "1,3,224,224") or one symbolic dim everywhere (NAME = dim name,
// DIMS = one number, e.g. "N=1").
#pragma once

#include <string>
#include <vector>

#include "analysis/shape_inference.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

// Registers effopt's provider with the shape-inference service (once; safe
// to call again and from several threads).
void register_effopt_shape_propagation();

// Runs effopt's propagation by itself (what the provider does).
Status propagate_shapes(Model& model, ShapeInferenceStats& stats);

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

// Binds, then runs ONNX's inference and every provider (effopt's included).
Status infer_shapes_with_bindings(Model& model, const std::vector<ShapeBinding>& bindings,
                                  ShapeInferenceStats* stats = nullptr);

}  // namespace effopt
