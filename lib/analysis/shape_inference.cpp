#include "analysis/shape_inference.h"

#include <onnx/shape_inference/implementation.h>

#include <unordered_map>

#include "analysis/shape_propagation.h"
#include "onnx/convert_proto.h"

namespace effopt {

namespace {

bool has_no_data(const onnx::TensorProto& t) {
  return !t.has_raw_data() && t.float_data_size() == 0 && t.int32_data_size() == 0 && t.int64_data_size() == 0 &&
         t.double_data_size() == 0 && t.uint64_data_size() == 0 && t.string_data_size() == 0 &&
         t.data_location() != onnx::TensorProto::EXTERNAL;
}

// Large initializers were left without data: declare them as typed inputs
// so inference still knows their shapes.
void initializers_without_data_to_inputs(onnx::GraphProto& g) {
  auto* inits = g.mutable_initializer();
  std::unordered_map<std::string, bool> listed;
  for (auto& in : g.input()) listed[in.name()] = true;
  for (int i = inits->size() - 1; i >= 0; --i) {
    const auto& t = inits->Get(i);
    bool empty = false;
    for (int64_t d : t.dims()) empty |= d == 0;
    if (!has_no_data(t) || empty) continue;
    if (!listed.count(t.name())) {
      auto* vi = g.add_input();
      vi->set_name(t.name());
      auto* tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(t.data_type());
      auto* shape = tt->mutable_shape();
      for (int64_t d : t.dims()) shape->add_dim()->set_dim_value(d);
    }
    inits->DeleteSubrange(i, 1);
  }
  for (auto& n : *g.mutable_node())
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) initializers_without_data_to_inputs(*a.mutable_g());
      for (auto& sg : *a.mutable_graphs()) initializers_without_data_to_inputs(sg);
    }
}

// Walks the IR graph and the inferred proto graph side by side (same node
// order) and refines value types.
void merge_back(Graph& g, const onnx::GraphProto& gp, ShapeInferenceStats& stats) {
  std::unordered_map<std::string, const onnx::TypeProto*> inferred;
  for (auto& vi : gp.value_info())
    if (vi.has_type()) inferred[vi.name()] = &vi.type();
  for (auto& vi : gp.output())
    if (vi.has_type()) inferred[vi.name()] = &vi.type();
  // A subgraph's inputs: ONNX types them from the outer node (Scan inputs
  // without the scan axis, Loop's iteration number and condition).
  if (g.parent())
    for (auto& vi : gp.input())
      if (vi.has_type() && !inferred.count(vi.name())) inferred[vi.name()] = &vi.type();
  for (auto& v : g.values()) {
    auto it = inferred.find(v->name());
    if (it == inferred.end()) continue;
    if (refine_type(v->type, type_from_proto(*it->second))) ++stats.values_refined;
  }
  if (static_cast<size_t>(gp.node_size()) != g.nodes().size()) return;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    Node& n = *g.nodes()[i];
    const auto& np = gp.node(static_cast<int>(i));
    std::vector<const onnx::GraphProto*> sub;
    for (auto& a : np.attribute()) {
      if (a.has_g()) sub.push_back(&a.g());
      for (auto& sg : a.graphs()) sub.push_back(&sg);
    }
    auto subs = n.subgraphs();
    if (subs.size() != sub.size()) continue;
    for (size_t k = 0; k < subs.size(); ++k) merge_back(*subs[k], *sub[k], stats);
  }
}

}  // namespace

bool refine_type(Type& known, const Type& inferred) {
  if (inferred.kind == Type::Kind::None) return false;
  if (known.kind == Type::Kind::None) {
    known = inferred;
    return true;
  }
  if (known.kind != inferred.kind) return false;
  bool changed = false;
  if (known.elem_type == DataType::Undefined && inferred.elem_type != DataType::Undefined) {
    known.elem_type = inferred.elem_type;
    changed = true;
  }
  if (known.kind == Type::Kind::Tensor || known.kind == Type::Kind::SparseTensor) {
    if (!known.shape && inferred.shape) {
      known.shape = inferred.shape;
      return true;
    }
    if (known.shape && inferred.shape && known.shape->size() == inferred.shape->size()) {
      for (size_t i = 0; i < known.shape->size(); ++i) {
        Dim& k = (*known.shape)[i];
        const Dim& n = (*inferred.shape)[i];
        if (!k.value && n.value) { k.value = n.value; k.param.clear(); changed = true; }
        else if (!k.value && k.param.empty() && !n.param.empty()) { k.param = n.param; changed = true; }
      }
    }
  } else if (known.elem && inferred.elem) {
    changed |= refine_type(*known.elem, *inferred.elem);
  } else if (!known.elem && inferred.elem) {
    known.elem = inferred.elem;
    changed = true;
  }
  return changed;
}

Status infer_shapes(Model& model, const ShapeInferenceOptions& opts, ShapeInferenceStats* stats_out) {
  ShapeInferenceStats stats;
  if (opts.use_onnx) {
    onnx::ModelProto proto = to_proto_inline(model, true, opts.max_inline_tensor_bytes);
    initializers_without_data_to_inputs(*proto.mutable_graph());
    try {
      onnx::ShapeInferenceOptions so(/*check_type=*/false, /*error_mode=*/0, opts.data_propagation);
      onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), so);
      merge_back(*model.graph, proto.graph(), stats);
    } catch (const std::exception& e) {
      // ONNX's inference gives up on some models (unknown opsets, types it
      // cannot merge); effopt's propagation may still do better.
      stats.notes.push_back(std::string("ONNX shape inference stopped: ") + e.what());
    }
  }
  if (opts.use_effopt) {
    auto st = propagate_shapes(model, stats);
    if (!st) return std::move(st).error().context("effopt shape propagation");
  }
  if (stats_out) *stats_out = std::move(stats);
  return ok();
}

}  // namespace effopt
