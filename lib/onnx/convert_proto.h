// Conversion between libonnx's generated protobuf classes and effopt's IR.
// Tensor bytes do not pass through here as protobuf strings when markers are
// used (see onnx/wire.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ir/ir.h"
#include "onnx/wire.h"
#include "support/error.h"
#include "support/mapped_file.h"

namespace effopt {

struct ProtoImportContext {
  std::shared_ptr<const MappedFile> file;       // the model file the markers point into
  const std::vector<wire::Span>* spans = nullptr;
  std::string model_name;                        // for messages
  std::string base_dir;                          // external data folder; empty = refuse external data
  std::map<std::string, std::shared_ptr<MappedFile>> external_files;
  uint64_t external_bytes = 0;
  // Markers index these tensors instead of `spans`: the imported tensors share their bytes (clone_model).
  const std::vector<const Tensor*>* shared_tensors = nullptr;
};

// Builds the IR from a ModelProto (whose raw_data may hold markers). Does not
// sort; load_model does.
Expected<std::unique_ptr<Model>> model_from_proto(const onnx::ModelProto& proto, ProtoImportContext& ctx);
Expected<TensorPtr> tensor_from_proto(const onnx::TensorProto& proto, ProtoImportContext& ctx);
Type type_from_proto(const onnx::TypeProto& proto);

struct ProtoExportContext {
  // When true, raw tensor bytes are replaced by markers indexing `tensors`.
  bool use_markers = true;
  std::vector<const Tensor*> tensors;
  // Decides, per tensor, whether it goes to external data; returns the
  // (location, offset) to record, or nullopt to keep it inline.
  std::function<std::optional<std::pair<std::string, uint64_t>>(const Tensor&)> place_external;
  // Skip tensor bytes entirely (structure-only copies, e.g. for shape inference).
  bool omit_data_above = false;
  uint64_t omit_threshold = 0;
};

void model_to_proto(const Model& model, onnx::ModelProto* proto, ProtoExportContext& ctx);
void graph_to_proto(const Graph& graph, onnx::GraphProto* proto, ProtoExportContext& ctx);
void node_to_proto(const Node& node, onnx::NodeProto* proto, ProtoExportContext& ctx);
// `name` overrides t.name (initializers take their value's name).
void tensor_to_proto(const Tensor& t, onnx::TensorProto* proto, ProtoExportContext& ctx,
                     const std::string* name = nullptr);
void type_to_proto(const Type& t, onnx::TypeProto* proto);

// Structure-only ModelProto copy (tensors with bytes inline, or without data
// above `omit_threshold` bytes when `omit` is set): for ONNX's checker and
// shape inference.
onnx::ModelProto to_proto_inline(const Model& model, bool omit = false, uint64_t omit_threshold = 0);

}  // namespace effopt
