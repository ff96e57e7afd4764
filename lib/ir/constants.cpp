#include "ir/constants.h"

#include <cstring>
#include <string_view>

namespace effopt {

namespace {

template <class T>
TensorPtr make_tensor(DataType dt, std::vector<int64_t> dims, const std::vector<T>& vals) {
  auto t = std::make_shared<Tensor>();
  t->data_type = dt;
  t->dims = std::move(dims);
  std::vector<std::byte> b(vals.size() * sizeof(T));
  if (!vals.empty()) std::memcpy(b.data(), vals.data(), b.size());
  t->set_bytes(std::move(b));
  return t;
}

TensorPtr constant_node_tensor(const Node& n) {
  for (auto& a : n.attributes) {
    if (a.name == "value" && a.t) return a.t;
    if (a.name == "value_float") return make_tensor<float>(DataType::Float, {}, {a.f});
    if (a.name == "value_floats")
      return make_tensor<float>(DataType::Float, {static_cast<int64_t>(a.floats.size())}, a.floats);
    if (a.name == "value_int") return make_tensor<int64_t>(DataType::Int64, {}, {a.i});
    if (a.name == "value_ints")
      return make_tensor<int64_t>(DataType::Int64, {static_cast<int64_t>(a.ints.size())}, a.ints);
    if (a.name == "value_string" || a.name == "value_strings") {
      auto t = std::make_shared<Tensor>();
      t->data_type = DataType::String;
      if (a.name == "value_string") t->strings = {a.s};
      else { t->strings = a.strings; t->dims = {static_cast<int64_t>(a.strings.size())}; }
      return t;
    }
  }
  return nullptr;  // sparse_value: not a dense constant
}

void walk_graph(const Graph& g, const std::function<void(const Tensor&, ConstantHolder)>& fn) {
  for (Value* v : g.initializers()) fn(*v->initializer, ConstantHolder::Initializer);
  for (Value* v : g.sparse_initializers()) fn(v->sparse_initializer->values, ConstantHolder::SparseInitializer);
  for (auto& n : g.nodes()) {
    bool is_constant_node = n->op_type == "Constant" && is_onnx_domain(n->domain);
    for (auto& a : n->attributes) {
      if (a.t) fn(*a.t, is_constant_node ? ConstantHolder::ConstantNode : ConstantHolder::AttributeTensor);
      for (auto& t : a.tensors) fn(*t, ConstantHolder::AttributeTensor);
      if (a.sparse_tensor) fn(a.sparse_tensor->values, ConstantHolder::SparseInitializer);
      if (a.g) walk_graph(*a.g, fn);
      for (auto& sg : a.graphs) walk_graph(*sg, fn);
    }
  }
}

}  // namespace

TensorPtr constant_tensor(const Value* v) {
  for (int hops = 0; v && hops < 1000; ++hops) {
    if (v->initializer) return v->initializer;
    const Node* p = v->producer();
    if (!p || !is_onnx_domain(p->domain)) return nullptr;
    if (p->op_type == "Constant") return constant_node_tensor(*p);
    if (p->op_type != "Identity") return nullptr;
    v = p->input(0);
  }
  return nullptr;
}

bool is_constant(const Value* v) { return constant_tensor(v) != nullptr; }

bool is_feedable_initializer(const Value* v, const Model& m) {
  if (!v->initializer && !v->sparse_initializer) return false;
  if (!v->is_graph_input()) return false;
  if (v->graph() == m.graph.get()) return m.ir_version >= 4;
  return true;
}

namespace {
template <class Feedable>
TensorPtr fixed_constant_walk(const Value* v, Feedable feedable) {
  for (int hops = 0; v && hops < 1000; ++hops) {
    if (v->initializer) return feedable(v) ? nullptr : v->initializer;
    if (v->sparse_initializer) return nullptr;
    const Node* p = v->producer();
    if (!p || !is_onnx_domain(p->domain)) return nullptr;
    if (p->op_type == "Constant") {
      for (const Attribute& a : p->attributes)
        if (!a.ref_attr_name.empty()) return nullptr;  // a function attribute reference: not fixed
      return constant_node_tensor(*p);
    }
    if (p->op_type != "Identity") return nullptr;
    v = p->input(0);
  }
  return nullptr;
}
}  // namespace

TensorPtr fixed_constant_tensor(const Value* v, const Model& m) {
  return fixed_constant_walk(v, [&](const Value* x) { return is_feedable_initializer(x, m); });
}

bool is_listed_initializer_input(const Value* v) {
  return (v->initializer || v->sparse_initializer) && v->is_graph_input();
}

TensorPtr fixed_constant_tensor(const Value* v) { return fixed_constant_walk(v, is_listed_initializer_input); }

void for_each_stored_tensor(const Model& m, const std::function<void(const Tensor&, ConstantHolder)>& fn) {
  if (m.graph) walk_graph(*m.graph, fn);
  for (auto& f : m.functions) walk_graph(*f.body, fn);
}

size_t detach_initializer_inputs(Graph& g) {
  std::vector<Value*> drop;
  for (Value* v : g.inputs())
    if (v->initializer || v->sparse_initializer) drop.push_back(v);
  for (Value* v : drop) g.remove_input(v);
  return drop.size();
}

bool same_tensor_contents(const Tensor& a, const Tensor& b) {
  if (a.data_type != b.data_type || a.dims != b.dims) return false;
  if (a.data_type == DataType::String) return a.strings == b.strings;
  if (a.byte_size() != b.byte_size()) return false;
  return a.byte_size() == 0 || std::memcmp(a.bytes().data(), b.bytes().data(), a.byte_size()) == 0;
}

namespace {

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

uint64_t tensor_content_hash(const Tensor& t) {
  uint64_t h = fnv1a(&t.data_type, sizeof t.data_type);
  for (int64_t d : t.dims) h = fnv1a(&d, sizeof d, h);
  if (t.data_type == DataType::String) {
    for (const std::string& s : t.strings) h = fnv1a(s.data(), s.size(), h ^ s.size());
    return h;
  }
  auto b = t.bytes();
  // std::hash over the bytes is much faster than a byte loop on big weights.
  h ^= std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  // Hashing reads a mapped weight once (dedup-initializers hashes every weight
  // that shares its shape): its pages need not stay in the process's memory.
  if (t.storage) t.storage->release_file_pages();
  return h;
}

}  // namespace effopt
