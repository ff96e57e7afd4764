#include "onnx/convert_proto.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unordered_set>

namespace effopt {

namespace fs = std::filesystem;

// ======================================================================= types

Type type_from_proto(const onnx::TypeProto& p) {
  Type t;
  t.denotation = p.denotation();
  auto shape_of = [](const onnx::TensorShapeProto& s) {
    std::vector<Dim> dims;
    for (auto& d : s.dim()) {
      Dim x;
      if (d.has_dim_value()) x.value = d.dim_value();
      else if (d.has_dim_param()) x.param = d.dim_param();
      x.denotation = d.denotation();
      dims.push_back(std::move(x));
    }
    return dims;
  };
  switch (p.value_case()) {
    case onnx::TypeProto::kTensorType:
      t.kind = Type::Kind::Tensor;
      t.elem_type = static_cast<DataType>(p.tensor_type().elem_type());
      if (p.tensor_type().has_shape()) t.shape = shape_of(p.tensor_type().shape());
      break;
    case onnx::TypeProto::kSparseTensorType:
      t.kind = Type::Kind::SparseTensor;
      t.elem_type = static_cast<DataType>(p.sparse_tensor_type().elem_type());
      if (p.sparse_tensor_type().has_shape()) t.shape = shape_of(p.sparse_tensor_type().shape());
      break;
    case onnx::TypeProto::kSequenceType:
      t.kind = Type::Kind::Sequence;
      if (p.sequence_type().has_elem_type())
        t.elem = std::make_shared<Type>(type_from_proto(p.sequence_type().elem_type()));
      break;
    case onnx::TypeProto::kOptionalType:
      t.kind = Type::Kind::Optional;
      if (p.optional_type().has_elem_type())
        t.elem = std::make_shared<Type>(type_from_proto(p.optional_type().elem_type()));
      break;
    case onnx::TypeProto::kMapType:
      t.kind = Type::Kind::Map;
      t.elem_type = static_cast<DataType>(p.map_type().key_type());
      if (p.map_type().has_value_type()) t.elem = std::make_shared<Type>(type_from_proto(p.map_type().value_type()));
      break;
    default: break;
  }
  return t;
}

void type_to_proto(const Type& t, onnx::TypeProto* p) {
  if (!t.denotation.empty()) p->set_denotation(t.denotation);
  auto put_shape = [](const std::optional<std::vector<Dim>>& shape, auto* tt) {
    if (!shape) return;
    auto* s = tt->mutable_shape();
    for (auto& d : *shape) {
      auto* x = s->add_dim();
      if (d.value) x->set_dim_value(*d.value);
      else if (!d.param.empty()) x->set_dim_param(d.param);
      if (!d.denotation.empty()) x->set_denotation(d.denotation);
    }
  };
  switch (t.kind) {
    case Type::Kind::None: break;
    case Type::Kind::Tensor: {
      auto* tt = p->mutable_tensor_type();
      tt->set_elem_type(static_cast<int32_t>(t.elem_type));
      put_shape(t.shape, tt);
      break;
    }
    case Type::Kind::SparseTensor: {
      auto* tt = p->mutable_sparse_tensor_type();
      tt->set_elem_type(static_cast<int32_t>(t.elem_type));
      put_shape(t.shape, tt);
      break;
    }
    case Type::Kind::Sequence: {
      auto* st = p->mutable_sequence_type();
      if (t.elem) type_to_proto(*t.elem, st->mutable_elem_type());
      break;
    }
    case Type::Kind::Optional: {
      auto* ot = p->mutable_optional_type();
      if (t.elem) type_to_proto(*t.elem, ot->mutable_elem_type());
      break;
    }
    case Type::Kind::Map: {
      auto* mt = p->mutable_map_type();
      mt->set_key_type(static_cast<int32_t>(t.elem_type));
      if (t.elem) type_to_proto(*t.elem, mt->mutable_value_type());
      break;
    }
  }
}

// ===================================================================== tensors

namespace {

std::string tensor_label(const onnx::TensorProto& p) {
  return p.name().empty() ? std::string("(unnamed tensor)") : "tensor '" + p.name() + "'";
}

template <class Src, class Dst>
std::vector<std::byte> pack_as(const google::protobuf::RepeatedField<Src>& src) {
  std::vector<std::byte> out(src.size() * sizeof(Dst));
  for (int i = 0; i < src.size(); ++i) {
    Dst v = static_cast<Dst>(src.Get(i));
    std::memcpy(out.data() + i * sizeof(Dst), &v, sizeof(Dst));
  }
  return out;
}

// Refuses locations that could make a model read files outside its folder.
Expected<std::string> resolve_external_path(const std::string& base_dir, const std::string& location,
                                            const std::string& who) {
  if (base_dir.empty())
    return invalid_model(who + " uses external data (" + location +
                         "), which is not available for a model read without its folder (standard input or memory)");
  if (location.empty()) return invalid_model(who + " has external data with an empty location");
  fs::path loc(location);
  if (loc.is_absolute())
    return invalid_model(who + ": external-data location '" + location + "' is an absolute path; refused");
  for (auto& part : loc)
    if (part == "..")
      return invalid_model(who + ": external-data location '" + location + "' escapes the model's folder; refused");
  std::error_code ec;
  fs::path base = fs::canonical(base_dir, ec);
  if (ec) return io_error("cannot resolve the model's folder " + base_dir + ": " + ec.message());
  fs::path full = base / loc;
  if (!fs::exists(full, ec))
    return io_error(who + ": external-data file '" + location + "' not found (looked in " + base.string() + ")");
  fs::path real = fs::canonical(full, ec);
  if (ec) return io_error(who + ": cannot resolve external-data file '" + location + "': " + ec.message());
  auto rel = real.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..")
    return invalid_model(who + ": external-data location '" + location +
                         "' leads outside the model's folder (symbolic link); refused");
  return real.string();
}

}  // namespace

Expected<TensorPtr> tensor_from_proto(const onnx::TensorProto& p, ProtoImportContext& ctx) {
  auto t = std::make_shared<Tensor>();
  t->name = p.name();
  t->doc_string = p.doc_string();
  const std::string who = ctx.model_name + ": " + tensor_label(p);
  if (!is_known_data_type(p.data_type()))
    return invalid_model(who + " has unknown data type " + std::to_string(p.data_type()));
  t->data_type = static_cast<DataType>(p.data_type());
  for (int64_t d : p.dims()) {
    if (d < 0) return invalid_model(who + " has a negative dimension " + std::to_string(d));
    t->dims.push_back(d);
  }
  if (p.has_segment()) t->segment = std::make_pair(p.segment().begin(), p.segment().end());
  auto count = t->element_count();
  if (!count) return invalid_model(who + ": the product of its dims overflows 64 bits");
  const DataType dt = t->data_type;
  uint64_t expected_bytes = packed_byte_size(dt, *count);
  if (dt != DataType::String && data_type_bits(dt) != 0 &&
      *count > UINT64_MAX / static_cast<uint64_t>(std::max(1, data_type_bits(dt) / 8)))
    return invalid_model(who + ": its byte size overflows 64 bits");

  auto check_size = [&](uint64_t got) -> Status {
    if (got != expected_bytes)
      return invalid_model(who + " holds " + std::to_string(got) + " bytes, but its dims and type (" +
                           data_type_name(dt) + ") need " + std::to_string(expected_bytes));
    return ok();
  };

  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    ExternalInfo info;
    bool have_length = false;
    for (auto& kv : p.external_data()) {
      auto parse_u64 = [&](const std::string& s, uint64_t* out) -> Status {
        char* end = nullptr;
        errno = 0;
        unsigned long long v = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || *end || errno || s[0] == '-')
          return invalid_model(who + ": external-data " + kv.key() + " '" + s + "' is not a number");
        *out = v;
        return ok();
      };
      if (kv.key() == "location") info.location = kv.value();
      else if (kv.key() == "offset") EFFOPT_TRY(parse_u64(kv.value(), &info.offset));
      else if (kv.key() == "length") { EFFOPT_TRY(parse_u64(kv.value(), &info.length)); have_length = true; }
      else info.extra.emplace_back(kv.key(), kv.value());
    }
    EFFOPT_TRY_ASSIGN(std::string path, resolve_external_path(ctx.base_dir, info.location, who));
    auto& file = ctx.external_files[path];
    if (!file) {
      EFFOPT_TRY_ASSIGN(file, MappedFile::open(path));
    }
    if (!have_length) info.length = info.offset <= file->size() ? file->size() - info.offset : 0;
    if (info.offset > file->size() || info.length > file->size() - info.offset)
      return invalid_model(who + ": external data [" + std::to_string(info.offset) + ", +" +
                           std::to_string(info.length) + ") lies past the end of '" + info.location + "' (" +
                           std::to_string(file->size()) + " bytes)");
    EFFOPT_TRY(check_size(info.length));
    t->storage = TensorStorage::view(file, info.offset, info.length);
    ctx.external_bytes += info.length;
    t->external = std::move(info);
    return t;
  }

  if (dt == DataType::String) {
    if (static_cast<uint64_t>(p.string_data_size()) != *count)
      return invalid_model(who + " has " + std::to_string(p.string_data_size()) + " strings, its dims need " +
                           std::to_string(*count));
    t->strings.assign(p.string_data().begin(), p.string_data().end());
    return t;
  }

  if (p.has_raw_data()) {
    uint64_t index;
    if (ctx.shared_tensors && wire::parse_marker(p.raw_data(), &index) && index < ctx.shared_tensors->size()) {
      const Tensor& shared = *(*ctx.shared_tensors)[index];
      EFFOPT_TRY(check_size(shared.byte_size()));
      t->storage = shared.storage;
    } else if (ctx.spans && wire::parse_marker(p.raw_data(), &index) && index < ctx.spans->size()) {
      const auto& span = (*ctx.spans)[index];
      EFFOPT_TRY(check_size(span.length));
      t->storage = TensorStorage::view(ctx.file, span.offset, span.length);
    } else {
      EFFOPT_TRY(check_size(p.raw_data().size()));
      std::vector<std::byte> b(p.raw_data().size());
      if (!b.empty()) std::memcpy(b.data(), p.raw_data().data(), b.size());  // an empty tensor has no buffer
      t->set_bytes(std::move(b));
    }
    return t;
  }

  // Typed fields. Each holds one element per entry, except complex types
  // (two) and 4-bit types (one packed byte per entry).
  std::vector<std::byte> bytes;
  uint64_t entries = 0;
  uint64_t want = (dt == DataType::Complex64 || dt == DataType::Complex128) ? *count * 2
                  : data_type_bits(dt) == 4                                  ? expected_bytes
                                                                             : *count;
  switch (dt) {
    case DataType::Float: case DataType::Complex64:
      entries = p.float_data_size(); bytes = pack_as<float, float>(p.float_data()); break;
    case DataType::Double: case DataType::Complex128:
      entries = p.double_data_size(); bytes = pack_as<double, double>(p.double_data()); break;
    case DataType::Int64:
      entries = p.int64_data_size(); bytes = pack_as<int64_t, int64_t>(p.int64_data()); break;
    case DataType::UInt64:
      entries = p.uint64_data_size(); bytes = pack_as<uint64_t, uint64_t>(p.uint64_data()); break;
    case DataType::UInt32:
      entries = p.uint64_data_size(); bytes = pack_as<uint64_t, uint32_t>(p.uint64_data()); break;
    case DataType::Int32:
      entries = p.int32_data_size(); bytes = pack_as<int32_t, int32_t>(p.int32_data()); break;
    case DataType::Int16: case DataType::UInt16: case DataType::Float16: case DataType::BFloat16:
      entries = p.int32_data_size(); bytes = pack_as<int32_t, uint16_t>(p.int32_data()); break;
    case DataType::Int8: case DataType::UInt8: case DataType::Bool:
    case DataType::Float8E4M3FN: case DataType::Float8E4M3FNUZ: case DataType::Float8E5M2:
    case DataType::Float8E5M2FNUZ: case DataType::Int4: case DataType::UInt4:
      entries = p.int32_data_size(); bytes = pack_as<int32_t, uint8_t>(p.int32_data()); break;
    default: break;
  }
  if (entries == 0 && *count == 0) {
    t->set_bytes({});
    return t;
  }
  if (entries == 0) return invalid_model(who + " has no data (" + std::to_string(*count) + " elements expected)");
  if (entries != want)
    return invalid_model(who + " holds " + std::to_string(entries) + " values, but its dims need " +
                         std::to_string(want));
  t->set_bytes(std::move(bytes));
  return t;
}

void tensor_to_proto(const Tensor& t, onnx::TensorProto* p, ProtoExportContext& ctx, const std::string* name) {
  for (int64_t d : t.dims) p->add_dims(d);
  p->set_data_type(static_cast<int32_t>(t.data_type));
  if (t.segment) {
    p->mutable_segment()->set_begin(t.segment->first);
    p->mutable_segment()->set_end(t.segment->second);
  }
  const std::string& tname = name ? *name : t.name;
  if (!tname.empty()) p->set_name(tname);
  if (!t.doc_string.empty()) p->set_doc_string(t.doc_string);
  if (t.data_type == DataType::String) {
    for (auto& s : t.strings) p->add_string_data(s);
    return;
  }
  if (!t.storage) return;
  if (ctx.omit_data_above && t.byte_size() > ctx.omit_threshold) return;
  if (ctx.place_external) {
    if (auto where = ctx.place_external(t)) {
      p->set_data_location(onnx::TensorProto::EXTERNAL);
      auto add = [&](const std::string& k, const std::string& v) {
        auto* e = p->add_external_data();
        e->set_key(k);
        e->set_value(v);
      };
      add("location", where->first);
      add("offset", std::to_string(where->second));
      add("length", std::to_string(t.byte_size()));
      if (t.external)
        for (auto& [k, v] : t.external->extra) add(k, v);
      return;
    }
  }
  if (ctx.use_markers) {
    p->set_raw_data(wire::make_marker(ctx.tensors.size()));
    ctx.tensors.push_back(&t);
  } else {
    p->set_raw_data(reinterpret_cast<const char*>(t.storage->data()), t.storage->size());
  }
}

// =============================================================== model import

namespace {

Expected<std::shared_ptr<SparseTensor>> sparse_from_proto(const onnx::SparseTensorProto& p, ProtoImportContext& ctx) {
  auto s = std::make_shared<SparseTensor>();
  EFFOPT_TRY_ASSIGN(auto values, tensor_from_proto(p.values(), ctx));
  EFFOPT_TRY_ASSIGN(auto indices, tensor_from_proto(p.indices(), ctx));
  s->values = std::move(*values);
  s->indices = std::move(*indices);
  s->dims.assign(p.dims().begin(), p.dims().end());
  return s;
}

// A value info's type, when it states one: a TypeProto with none of its
// value fields set (all of them unknown fields, as a damaged file may have)
// says nothing, and must not replace the type an initializer gave the value:
// the export would drop the type, and importing that export again would take
// the initializer's, so two round trips would differ.
bool states_a_type(const onnx::ValueInfoProto& vi) {
  return vi.has_type() && vi.type().value_case() != onnx::TypeProto::VALUE_NOT_SET;
}

struct GraphImporter {
  ProtoImportContext& ctx;

  Status import_graph(const onnx::GraphProto& gp, Graph& g, const std::string& where);

  Status import_attribute(const onnx::AttributeProto& ap, Node* owner, Graph& g, Attribute& a,
                          const std::string& where) {
    a.name = ap.name();
    a.type = static_cast<AttrType>(ap.type());
    a.doc_string = ap.doc_string();
    a.ref_attr_name = ap.ref_attr_name();
    a.f = ap.f();
    a.i = ap.i();
    a.s = ap.s();
    if (ap.has_t()) { EFFOPT_TRY_ASSIGN(a.t, tensor_from_proto(ap.t(), ctx)); }
    if (ap.has_sparse_tensor()) { EFFOPT_TRY_ASSIGN(a.sparse_tensor, sparse_from_proto(ap.sparse_tensor(), ctx)); }
    if (ap.has_tp()) a.tp = type_from_proto(ap.tp());
    a.floats.assign(ap.floats().begin(), ap.floats().end());
    a.ints.assign(ap.ints().begin(), ap.ints().end());
    a.strings.assign(ap.strings().begin(), ap.strings().end());
    for (auto& tp : ap.tensors()) {
      EFFOPT_TRY_ASSIGN(auto t, tensor_from_proto(tp, ctx));
      a.tensors.push_back(std::move(t));
    }
    for (auto& sp : ap.sparse_tensors()) {
      EFFOPT_TRY_ASSIGN(auto s, sparse_from_proto(sp, ctx));
      a.sparse_tensors.push_back(std::move(s));
    }
    for (auto& tp : ap.type_protos()) a.type_protos.push_back(type_from_proto(tp));
    std::string sub_where = where + " attribute '" + ap.name() + "'";
    if (ap.has_g()) {
      a.g = std::make_unique<Graph>(&g, owner);
      EFFOPT_TRY(import_graph(ap.g(), *a.g, sub_where));
    }
    for (auto& gp : ap.graphs()) {
      auto sg = std::make_unique<Graph>(&g, owner);
      EFFOPT_TRY(import_graph(gp, *sg, sub_where));
      a.graphs.push_back(std::move(sg));
    }
    return ok();
  }
};

std::string node_label(const onnx::NodeProto& n, int index) {
  std::string s = "node ";
  s += n.name().empty() ? "#" + std::to_string(index) : "'" + n.name() + "'";
  s += " (" + (n.domain().empty() ? std::string() : n.domain() + ".") + n.op_type() + ")";
  return s;
}

Status GraphImporter::import_graph(const onnx::GraphProto& gp, Graph& g, const std::string& where) {
  g.name = gp.name();
  g.doc_string = gp.doc_string();
  const std::string gname = where.empty() ? ctx.model_name : where;
  auto dup = [&](const std::string& name) {
    return invalid_model(gname + ": value name '" + name + "' is defined more than once");
  };

  // Initializers first, then graph inputs (IR < 4 lists initializers there too).
  for (auto& tp : gp.initializer()) {
    EFFOPT_TRY_ASSIGN(auto t, tensor_from_proto(tp, ctx));
    if (t->name.empty()) return invalid_model(gname + ": an initializer has no name");
    if (!g.add_initializer(t)) return dup(t->name);
  }
  for (auto& sp : gp.sparse_initializer()) {
    EFFOPT_TRY_ASSIGN(auto s, sparse_from_proto(sp, ctx));
    if (s->values.name.empty()) return invalid_model(gname + ": a sparse initializer has no name");
    if (!g.add_sparse_initializer(s)) return dup(s->values.name);
  }
  std::unordered_set<std::string> seen_inputs;
  for (auto& vi : gp.input()) {
    if (!seen_inputs.insert(vi.name()).second) return dup(vi.name());
    Value* v = g.find_local(vi.name());
    if (!v) v = g.create_value(vi.name());
    if (!v) return dup(vi.name());
    // An initializer-input keeps its declared input type, which may be more
    // general than the tensor's own.
    if (states_a_type(vi)) v->type = type_from_proto(vi.type());
    v->doc_string = vi.doc_string();
    g.add_input(v);
  }
  // All node outputs exist before any input is linked, so unsorted graphs and
  // subgraphs referring to outer values produced later both resolve.
  std::vector<Node*> nodes;
  for (int i = 0; i < gp.node_size(); ++i) {
    auto& np = gp.node(i);
    std::vector<std::string> outs(np.output().begin(), np.output().end());
    for (auto& o : outs)
      if (!o.empty() && g.find_local(o)) return dup(o) .context(node_label(np, i));
    std::unordered_set<std::string> uniq;
    for (auto& o : outs)
      if (!o.empty() && !uniq.insert(o).second) return dup(o);
    Node* n = g.create_node(np.op_type(), {}, outs, np.domain());
    n->name = np.name();
    n->doc_string = np.doc_string();
    nodes.push_back(n);
  }
  for (auto& vi : gp.value_info()) {
    Value* v = g.find_local(vi.name());
    if (!v) v = g.create_value(vi.name());  // stale entry: kept for the round trip
    if (v->has_value_info()) continue;
    if (states_a_type(vi)) v->type = type_from_proto(vi.type());
    v->doc_string = vi.doc_string();
    g.add_value_info(v);
  }
  for (auto& vi : gp.output()) {
    Value* v = g.find(vi.name());
    if (!v) return invalid_model(gname + ": graph output '" + vi.name() + "' is not produced by any node, input or initializer");
    if (v->graph() == &g && states_a_type(vi) && (v->type.kind == Type::Kind::None || !v->is_graph_input()))
      v->type = type_from_proto(vi.type());
    if (v->graph() == &g && v->doc_string.empty()) v->doc_string = vi.doc_string();
    g.add_output(v);
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    auto& np = gp.node(i);
    Node* n = nodes[static_cast<size_t>(i)];
    std::string label = gname + ": " + node_label(np, i);
    for (auto& ap : np.attribute()) {
      Attribute a;
      EFFOPT_TRY(import_attribute(ap, n, g, a, label));
      n->attributes.push_back(std::move(a));
    }
    std::vector<Value*> ins;
    for (auto& in : np.input()) {
      if (in.empty()) { ins.push_back(nullptr); continue; }
      Value* v = g.find(in);
      if (!v) return invalid_model(label + ": input '" + in + "' is not defined (no node, graph input or initializer produces it)");
      ins.push_back(v);
    }
    n->set_inputs(std::move(ins));
  }
  return ok();
}

}  // namespace

Expected<std::unique_ptr<Model>> model_from_proto(const onnx::ModelProto& p, ProtoImportContext& ctx) {
  auto m = std::make_unique<Model>();
  m->ir_version = p.ir_version();
  for (auto& o : p.opset_import()) m->opset_imports.push_back({o.domain(), o.version()});
  m->producer_name = p.producer_name();
  m->producer_version = p.producer_version();
  m->domain = p.domain();
  m->model_version = p.model_version();
  m->doc_string = p.doc_string();
  for (auto& kv : p.metadata_props()) m->metadata_props.emplace_back(kv.key(), kv.value());
  for (auto& ti : p.training_info()) m->training_info.push_back(ti.SerializeAsString());
  if (!p.has_graph()) return invalid_model(ctx.model_name + ": the model has no graph (is this an ONNX model?)");
  if (p.ir_version() <= 0) return invalid_model(ctx.model_name + ": the model has no ir_version (is this an ONNX model?)");
  m->graph = std::make_unique<Graph>();
  GraphImporter gi{ctx};
  EFFOPT_TRY(gi.import_graph(p.graph(), *m->graph, ""));
  for (auto& fp : p.functions()) {
    Function f;
    f.name = fp.name();
    f.domain = fp.domain();
    f.doc_string = fp.doc_string();
    f.attribute_names.assign(fp.attribute().begin(), fp.attribute().end());
    for (auto& o : fp.opset_import()) f.opset_imports.push_back({o.domain(), o.version()});
    // A function body is a graph whose inputs and outputs are the formal
    // parameters; reuse the graph importer through a GraphProto.
    onnx::GraphProto body;
    for (auto& in : fp.input()) body.add_input()->set_name(in);
    for (auto& out : fp.output()) body.add_output()->set_name(out);
    *body.mutable_node() = fp.node();
    f.body = std::make_unique<Graph>();
    EFFOPT_TRY(gi.import_graph(body, *f.body, ctx.model_name + ": function '" + fp.name() + "'"));
    m->functions.push_back(std::move(f));
  }
  return m;
}

// =============================================================== model export

namespace {

void value_info_to_proto(const Value& v, onnx::ValueInfoProto* p) {
  p->set_name(v.name());
  if (v.type.kind != Type::Kind::None) type_to_proto(v.type, p->mutable_type());
  if (!v.doc_string.empty()) p->set_doc_string(v.doc_string);
}

void sparse_to_proto(const SparseTensor& s, onnx::SparseTensorProto* p, ProtoExportContext& ctx,
                     const std::string* name = nullptr) {
  tensor_to_proto(s.values, p->mutable_values(), ctx, name);
  tensor_to_proto(s.indices, p->mutable_indices(), ctx);
  for (int64_t d : s.dims) p->add_dims(d);
}

void attribute_to_proto(const Attribute& a, onnx::AttributeProto* p, ProtoExportContext& ctx) {
  p->set_name(a.name);
  if (!a.ref_attr_name.empty()) p->set_ref_attr_name(a.ref_attr_name);
  if (!a.doc_string.empty()) p->set_doc_string(a.doc_string);
  p->set_type(static_cast<onnx::AttributeProto::AttributeType>(a.type));
  switch (a.type) {
    case AttrType::Float: p->set_f(a.f); break;
    case AttrType::Int: p->set_i(a.i); break;
    case AttrType::String: p->set_s(a.s); break;
    case AttrType::Tensor: if (a.t) tensor_to_proto(*a.t, p->mutable_t(), ctx); break;
    case AttrType::Graph: if (a.g) graph_to_proto(*a.g, p->mutable_g(), ctx); break;
    case AttrType::SparseTensor: if (a.sparse_tensor) sparse_to_proto(*a.sparse_tensor, p->mutable_sparse_tensor(), ctx); break;
    case AttrType::TypeProto: type_to_proto(a.tp, p->mutable_tp()); break;
    case AttrType::Floats: for (float f : a.floats) p->add_floats(f); break;
    case AttrType::Ints: for (int64_t i : a.ints) p->add_ints(i); break;
    case AttrType::Strings: for (auto& s : a.strings) p->add_strings(s); break;
    case AttrType::Tensors: for (auto& t : a.tensors) tensor_to_proto(*t, p->add_tensors(), ctx); break;
    case AttrType::Graphs: for (auto& g : a.graphs) graph_to_proto(*g, p->add_graphs(), ctx); break;
    case AttrType::SparseTensors:
      for (auto& s : a.sparse_tensors) sparse_to_proto(*s, p->add_sparse_tensors(), ctx);
      break;
    case AttrType::TypeProtos: for (auto& t : a.type_protos) type_to_proto(t, p->add_type_protos()); break;
    case AttrType::Undefined: break;
  }
}


}  // namespace

void node_to_proto(const Node& n, onnx::NodeProto* p, ProtoExportContext& ctx) {
  for (Value* v : n.inputs()) p->add_input(v ? v->name() : std::string());
  for (Value* v : n.outputs()) p->add_output(v ? v->name() : std::string());
  if (!n.name.empty()) p->set_name(n.name);
  p->set_op_type(n.op_type);
  if (!n.domain.empty()) p->set_domain(n.domain);
  for (auto& a : n.attributes) attribute_to_proto(a, p->add_attribute(), ctx);
  if (!n.doc_string.empty()) p->set_doc_string(n.doc_string);
}

void graph_to_proto(const Graph& g, onnx::GraphProto* p, ProtoExportContext& ctx) {
  for (auto& n : g.nodes()) node_to_proto(*n, p->add_node(), ctx);
  if (!g.name.empty()) p->set_name(g.name);
  // The value's name is authoritative: passes rename values, not tensors.
  for (Value* v : g.initializers()) tensor_to_proto(*v->initializer, p->add_initializer(), ctx, &v->name());
  if (!g.doc_string.empty()) p->set_doc_string(g.doc_string);
  for (Value* v : g.inputs()) value_info_to_proto(*v, p->add_input());
  for (Value* v : g.outputs()) value_info_to_proto(*v, p->add_output());
  for (Value* v : g.value_info()) value_info_to_proto(*v, p->add_value_info());
  for (Value* v : g.sparse_initializers())
    sparse_to_proto(*v->sparse_initializer, p->add_sparse_initializer(), ctx, &v->name());
}

void model_to_proto(const Model& m, onnx::ModelProto* p, ProtoExportContext& ctx) {
  p->set_ir_version(m.ir_version);
  if (!m.producer_name.empty()) p->set_producer_name(m.producer_name);
  if (!m.producer_version.empty()) p->set_producer_version(m.producer_version);
  if (!m.domain.empty()) p->set_domain(m.domain);
  if (m.model_version) p->set_model_version(m.model_version);
  if (!m.doc_string.empty()) p->set_doc_string(m.doc_string);
  if (m.graph) graph_to_proto(*m.graph, p->mutable_graph(), ctx);
  for (auto& o : m.opset_imports) {
    auto* op = p->add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  for (auto& [k, v] : m.metadata_props) {
    auto* e = p->add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  for (auto& ti : m.training_info) p->add_training_info()->ParseFromString(ti);
  for (auto& f : m.functions) {
    auto* fp = p->add_functions();
    fp->set_name(f.name);
    for (Value* v : f.body->inputs()) fp->add_input(v->name());
    for (Value* v : f.body->outputs()) fp->add_output(v->name());
    for (auto& a : f.attribute_names) fp->add_attribute(a);
    for (auto& n : f.body->nodes()) node_to_proto(*n, fp->add_node(), ctx);
    if (!f.doc_string.empty()) fp->set_doc_string(f.doc_string);
    for (auto& o : f.opset_imports) {
      auto* op = fp->add_opset_import();
      op->set_domain(o.domain);
      op->set_version(o.version);
    }
    if (!f.domain.empty()) fp->set_domain(f.domain);
  }
}

onnx::ModelProto to_proto_inline(const Model& model, bool omit, uint64_t omit_threshold) {
  ProtoExportContext ctx;
  ctx.use_markers = false;
  ctx.omit_data_above = omit;
  ctx.omit_threshold = omit_threshold;
  onnx::ModelProto p;
  model_to_proto(model, &p, ctx);
  return p;
}

}  // namespace effopt
