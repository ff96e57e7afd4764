#include "onnx/model_io.h"

#include <onnx/defs/parser.h>

#include <filesystem>

#include "ir/topo_sort.h"
#include "onnx/convert_proto.h"
#include "onnx/op_signatures.h"
#include "onnx/wire.h"
#include "support/atomic_file.h"
#include "support/mapped_file.h"
#include "support/progress.h"

namespace effopt {

namespace fs = std::filesystem;

namespace {

// protobuf refuses messages of 2 GB and more; stay clear of it.
constexpr uint64_t kProtobufLimit = (uint64_t{1} << 31) - (uint64_t{16} << 20);

Expected<std::unique_ptr<Model>> load_mapped(std::shared_ptr<const MappedFile> file, const std::string& name,
                                             const std::string& base_dir, const ImportOptions& opts,
                                             ImportStats* stats) {
  if (file->size() == 0) return invalid_model(name + ": the file is empty, not an ONNX model");
  std::vector<wire::Span> spans;
  EFFOPT_TRY_ASSIGN(std::string skeleton, wire::strip_tensor_data(file->data(), file->size(), &spans, name));
  if (skeleton.size() >= kProtobufLimit)
    return invalid_model(name + ": the model's structure (without raw tensor data) exceeds protobuf's 2 GB limit");
  onnx::ModelProto proto;
  if (!proto.ParseFromString(skeleton))
    return invalid_model(name + ": not a valid ONNX model (the protobuf data does not parse as a ModelProto)");
  ProtoImportContext ctx;
  ctx.file = file;
  ctx.spans = &spans;
  ctx.model_name = name;
  ctx.base_dir = base_dir;
  EFFOPT_TRY_ASSIGN(auto model, model_from_proto(proto, ctx));
  bool moved = false;
  if (opts.sort) {
    auto sorted = topo_sort_all(*model->graph, &moved);
    if (!sorted) return std::move(sorted).error().context(name);
    for (auto& f : model->functions) {
      auto fs_ = topo_sort_all(*f.body, &moved);
      if (!fs_) return std::move(fs_).error().context(name + ": function '" + f.name + "'");
    }
  }
  // Every later stage may index a node's required inputs and outputs.
  if (auto st = verify_onnx_signatures(*model); !st) return std::move(st).error().context(name);
  if (stats) {
    stats->was_sorted = !moved;
    stats->file_bytes = file->size();
    stats->external_bytes = ctx.external_bytes;
  }
  return model;
}

}  // namespace

Expected<std::unique_ptr<Model>> load_model(const std::string& path, const ImportOptions& opts, ImportStats* stats) {
  EFFOPT_TRY_ASSIGN(auto file, MappedFile::open(path));
  std::string base_dir;
  if (path != "-") {
    fs::path p(path);
    base_dir = p.has_parent_path() ? p.parent_path().string() : ".";
  }
  return load_mapped(std::move(file), path == "-" ? "<stdin>" : path, base_dir, opts, stats);
}

Expected<std::unique_ptr<Model>> load_model_from_bytes(std::vector<std::byte> bytes, const std::string& name,
                                                       const std::string& base_dir, const ImportOptions& opts,
                                                       ImportStats* stats) {
  return load_mapped(MappedFile::from_bytes(std::move(bytes), name), name, base_dir, opts, stats);
}

Expected<std::unique_ptr<Model>> parse_model_text(const std::string& text) {
  onnx::ModelProto proto;
  auto st = onnx::OnnxParser::Parse(proto, text.c_str());
  if (!st.IsOK()) return invalid_model("cannot parse ONNX text: " + st.ErrorMessage());
  std::string bytes = proto.SerializeAsString();
  std::vector<std::byte> buf(bytes.size());
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  return load_model_from_bytes(std::move(buf), "<text>");
}

Expected<std::string> serialize_model(const Model& model) {
  onnx::ModelProto proto = to_proto_inline(model);
  if (proto.ByteSizeLong() >= kProtobufLimit)
    return invalid_model("the model is larger than protobuf's 2 GB limit; write it with external data");
  return proto.SerializeAsString();
}

Expected<std::unique_ptr<Model>> clone_model(const Model& model) {
  onnx::ModelProto proto;
  ProtoExportContext ectx;  // markers: tensor bytes never enter the proto
  model_to_proto(model, &proto, ectx);
  ProtoImportContext ictx;
  ictx.model_name = "a copy of the model";
  ictx.shared_tensors = &ectx.tensors;
  return model_from_proto(proto, ictx);
}

namespace {

uint64_t total_tensor_bytes(const Graph& g);

uint64_t attr_tensor_bytes(const Attribute& a) {
  uint64_t n = 0;
  if (a.t) n += a.t->byte_size();
  for (auto& t : a.tensors) n += t->byte_size();
  if (a.g) n += total_tensor_bytes(*a.g);
  for (auto& g : a.graphs) n += total_tensor_bytes(*g);
  return n;
}

uint64_t total_tensor_bytes(const Graph& g) {
  uint64_t n = 0;
  for (Value* v : g.initializers()) n += v->initializer->byte_size();
  for (Value* v : g.sparse_initializers())
    n += v->sparse_initializer->values.byte_size() + v->sparse_initializer->indices.byte_size();
  for (auto& node : g.nodes())
    for (auto& a : node->attributes) n += attr_tensor_bytes(a);
  return n;
}

bool uses_external(const Graph& g) {
  for (Value* v : g.initializers())
    if (v->initializer->external) return true;
  for (auto& node : g.nodes())
    for (auto& a : node->attributes) {
      if (a.t && a.t->external) return true;
      if (a.g && uses_external(*a.g)) return true;
      for (auto& sg : a.graphs)
        if (uses_external(*sg)) return true;
    }
  return false;
}

// Writes one tensor's bytes: file-to-file when it is a view into a regular
// file, else from memory; then drops the source pages so large models
// stream instead of staying resident.
Status write_tensor(AtomicFile& out, const Tensor& t) {
  const TensorStorage* s = t.storage.get();
  if (!s || s->size() == 0) return ok();
  if (const MappedFile* f = s->file()) {
    EFFOPT_TRY_ASSIGN(bool copied, out.copy_from_fd(f->fd(), s->file_offset(), s->size()));
    if (!copied) EFFOPT_TRY(out.write(s->data(), s->size()));
    f->release(s->file_offset(), s->size());
    return ok();
  }
  return out.write(s->data(), s->size());
}

constexpr uint64_t kExternalAlign = 4096;  // lets runtimes map tensors in place
// ExternalData::Auto moves tensors of at least this many bytes to the data file.
constexpr uint64_t kAutoExternalThreshold = 1024;

uint64_t align_external(uint64_t offset) { return (offset + kExternalAlign - 1) / kExternalAlign * kExternalAlign; }

// Bytes one part of a graph takes in what save_model writes, from `proto`: a
// ModelProto whose graph holds that part alone.
uint64_t spliced_size(const onnx::ModelProto& proto, const ProtoExportContext& ctx) {
  std::string skeleton;
  if (!proto.SerializeToString(&skeleton)) return 0;
  std::vector<uint64_t> sizes;
  for (const Tensor* t : ctx.tensors) sizes.push_back(t->byte_size());
  uint64_t total = 0;
  if (!wire::splice_tensor_data(skeleton, sizes, &total)) return skeleton.size();
  // total = 1 (ModelProto.graph's tag) + varint(G) + G, G the part's bytes in the graph.
  auto varint_size = [](uint64_t v) {
    uint64_t n = 1;
    for (; v >= 128; v >>= 7) ++n;
    return n;
  };
  for (uint64_t v = 1; v <= 10 && v + 1 <= total; ++v)
    if (varint_size(total - 1 - v) == v) return total - 1 - v;
  return total;
}

// Places tensors as save_model's Auto mode does, recording the data-file bytes.
void place_like_auto(ProtoExportContext& ctx, uint64_t* data_bytes) {
  ctx.place_external = [data_bytes](const Tensor& t) -> std::optional<std::pair<std::string, uint64_t>> {
    if (t.data_type == DataType::String || t.byte_size() < kAutoExternalThreshold) return std::nullopt;
    *data_bytes += align_external(t.byte_size());
    std::string location = t.external ? t.external->location : std::string("model.onnx.data");
    return std::make_pair(location, *data_bytes);
  };
}

}  // namespace

bool writes_external_data(const Model& model) {
  return model.graph && (uses_external(*model.graph) || total_tensor_bytes(*model.graph) >= kProtobufLimit);
}

uint64_t stored_initializer_bytes(const Tensor& t, const std::string& name, bool external) {
  ProtoExportContext ctx;
  uint64_t data_bytes = 0;
  if (external) place_like_auto(ctx, &data_bytes);
  onnx::ModelProto proto;
  tensor_to_proto(t, proto.mutable_graph()->add_initializer(), ctx, &name);
  return spliced_size(proto, ctx) + data_bytes;
}

uint64_t stored_node_bytes(const Node& n, bool external) {
  ProtoExportContext ctx;
  uint64_t data_bytes = 0;
  if (external) place_like_auto(ctx, &data_bytes);
  onnx::ModelProto proto;
  node_to_proto(n, proto.mutable_graph()->add_node(), ctx);
  return spliced_size(proto, ctx) + data_bytes;
}

Status save_model(const Model& model, const std::string& path, const ExportOptions& opts, ExportStats* stats) {
  bool external = opts.external == ExternalData::Always;
  if (opts.external == ExternalData::Auto) external = writes_external_data(model);
  if (external && path == "-")
    return usage_error("this model needs external data (over 2 GB, or --external-data), which cannot be written to "
                       "standard output; give -o FILE");
  if (!opts.overwrite && path != "-" && fs::exists(path))
    return usage_error("output " + path + " exists (use --force to replace it)");

  std::string data_name, data_path;
  if (external) {
    data_name = opts.external_file.empty() ? fs::path(path).filename().string() + ".data" : opts.external_file;
    fs::path p(path);
    data_path = ((p.has_parent_path() ? p.parent_path() : fs::path(".")) / data_name).string();
    std::error_code ec;
    if (!opts.overwrite_external && fs::exists(data_path, ec))
      return usage_error("external data file " + data_path + " exists (use --force to replace it)");
  }

  ProtoExportContext ctx;
  std::vector<const Tensor*> external_tensors;
  uint64_t ext_offset = 0;
  if (external) {
    uint64_t threshold = opts.external == ExternalData::Always
                             ? opts.external_threshold
                             : std::min<uint64_t>(opts.external_threshold, kAutoExternalThreshold);
    // `threshold` by value: this block ends before model_to_proto calls the lambda.
    ctx.place_external = [&, threshold](const Tensor& t) -> std::optional<std::pair<std::string, uint64_t>> {
      if (t.data_type == DataType::String || t.byte_size() < threshold) return std::nullopt;
      ext_offset = align_external(ext_offset);
      uint64_t at = ext_offset;
      ext_offset += t.byte_size();
      external_tensors.push_back(&t);
      return std::make_pair(data_name, at);
    };
  }
  onnx::ModelProto proto;
  model_to_proto(model, &proto, ctx);
  if (proto.ByteSizeLong() >= kProtobufLimit)
    return invalid_model("the model's structure alone exceeds protobuf's 2 GB limit");
  std::string skeleton;
  if (!proto.SerializeToString(&skeleton)) return internal_error("protobuf could not serialize the model");

  std::vector<uint64_t> sizes;
  sizes.reserve(ctx.tensors.size());
  for (const Tensor* t : ctx.tensors) sizes.push_back(t->byte_size());
  uint64_t total = 0;
  EFFOPT_TRY_ASSIGN(auto chunks, wire::splice_tensor_data(skeleton, sizes, &total));
  if (total >= kProtobufLimit)
    return internal_error("the model would exceed protobuf's 2 GB limit without external data");

  uint64_t ext_total = 0;
  for (const Tensor* t : external_tensors) ext_total += t->byte_size();
  Progress progress("writing " + path, total + ext_total);
  uint64_t done = 0;
  std::unique_ptr<AtomicFile> data_file;
  if (external) {
    EFFOPT_TRY_ASSIGN(data_file, AtomicFile::create(data_path));
    uint64_t pos = 0;
    static const std::vector<char> zeros(kExternalAlign, 0);
    for (const Tensor* t : external_tensors) {
      uint64_t aligned = (pos + kExternalAlign - 1) / kExternalAlign * kExternalAlign;
      EFFOPT_TRY(data_file->write(zeros.data(), aligned - pos));
      EFFOPT_TRY(write_tensor(*data_file, *t));
      pos = aligned + t->byte_size();
      progress.update(done += t->byte_size());
    }
  }
  EFFOPT_TRY_ASSIGN(auto out, AtomicFile::create(path));
  for (auto& c : chunks) {
    if (c.tensor == wire::Chunk::kNoTensor) EFFOPT_TRY(out->write(c.literal.data(), c.literal.size()));
    else EFFOPT_TRY(write_tensor(*out, *ctx.tensors[c.tensor]));
    progress.update(done = ext_total + out->bytes_written());
  }
  // The data file first: a model never points at a data file that is not there.
  if (data_file) EFFOPT_TRY(data_file->commit());
  EFFOPT_TRY(out->commit());
  if (stats) {
    stats->model_bytes = out->bytes_written();
    stats->external_bytes = data_file ? data_file->bytes_written() : 0;
    stats->external_path = data_file ? data_path : std::string();
  }
  return ok();
}

}  // namespace effopt
