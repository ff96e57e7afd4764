#include "families/graph_builder.h"

#include <cmath>
#include <cstring>

#include "analysis/shape_inference.h"
#include "ir/verifier.h"

namespace effopt::bench {

Attribute Attr::make() const {
  switch (kind) {
    case Kind::Int: return Attribute::make_int(name, i);
    case Kind::Float: return Attribute::make_float(name, f);
    case Kind::Ints: return Attribute::make_ints(name, ints);
  }
  return {};
}

GraphBuilder::GraphBuilder(int64_t opset, uint64_t seed, std::string graph_name)
    : opset_(opset), rng_(seed * 0x9E3779B97F4A7C15ull + 1), model_(std::make_unique<Model>()) {
  model_->ir_version = 8;  // what ONNX 1.12's checker accepts, and PyTorch writes for opsets 13-17
  model_->opset_imports = {{"", opset}};
  model_->producer_name = "effopt-bench-families";
  model_->graph = std::make_unique<Graph>();
  model_->graph->name = std::move(graph_name);
}

GraphBuilder::Scope::~Scope() {
  if (b_) b_->scopes_.pop_back();
}

GraphBuilder::Scope GraphBuilder::scope(const std::string& name) {
  scopes_.push_back(name);
  return Scope(this);
}

std::string GraphBuilder::path() const {
  std::string p;
  for (auto& s : scopes_) p += "/" + s;
  return p;
}

std::string GraphBuilder::unique(const std::string& base) { return graph().unique_name(base); }

float GraphBuilder::next_uniform() {
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

Value* GraphBuilder::input(const std::string& name, DataType t, const std::vector<int64_t>& dims) {
  Value* v = graph().create_value(name);
  std::vector<Dim> shape;
  for (int64_t d : dims) shape.push_back(Dim::known(d));
  v->type = Type::tensor(t, shape);
  graph().add_input(v);
  return v;
}

void GraphBuilder::output(Value* v) { outputs_.push_back(v); }

Value* GraphBuilder::add_tensor(const std::string& name, DataType t, const std::vector<int64_t>& dims,
                                std::vector<std::byte> bytes) {
  auto tensor = std::make_shared<Tensor>();
  // Weights are named like a module's parameters ("features.3.conv.weight"), constants after their scope.
  std::string scoped;
  for (auto& s : scopes_) scoped += s + ".";
  tensor->name = unique(scoped + name);
  tensor->data_type = t;
  tensor->dims = dims;
  tensor->set_bytes(std::move(bytes));
  Value* v = graph().add_initializer(tensor);
  std::vector<Dim> shape;
  for (int64_t d : dims) shape.push_back(Dim::known(d));
  v->type = Type::tensor(t, shape);
  return v;
}

namespace {
int64_t product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}
template <class T>
std::vector<std::byte> to_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}
}  // namespace

Value* GraphBuilder::uniform(const std::string& name, const std::vector<int64_t>& dims, float bound, float center) {
  std::vector<float> v(static_cast<size_t>(product(dims)));
  for (float& x : v) x = center + bound * next_uniform();
  parameters_ += v.size();
  return add_tensor(name, DataType::Float, dims, to_bytes(v));
}

Value* GraphBuilder::he_weight(const std::string& name, const std::vector<int64_t>& dims, int64_t fan_in) {
  return uniform(name, dims, static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in))));
}

Value* GraphBuilder::floats(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
  return add_tensor(name, DataType::Float, dims, to_bytes(values));
}

Value* GraphBuilder::ints(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
  return add_tensor(name, DataType::Int64, dims, to_bytes(values));
}

Value* GraphBuilder::bools(const std::string& name, const std::vector<int64_t>& dims, const std::vector<uint8_t>& values) {
  return add_tensor(name, DataType::Bool, dims, to_bytes(values));
}

Node* GraphBuilder::node(const std::string& op_type, const std::vector<Value*>& inputs, size_t n_outputs,
                         const std::vector<Attr>& attrs) {
  // Node names are unique too (ONNX Runtime refuses duplicates): "/scope/Mul", "/scope/Mul_1", ...
  const std::string base = path() + "/" + op_type;
  std::string name = base;
  for (int k = 1; !node_names_.insert(name).second; ++k) name = base + "_" + std::to_string(k);
  std::vector<std::string> outs;
  for (size_t k = 0; k < n_outputs; ++k) outs.push_back(unique(name + "_output_" + std::to_string(k)));
  Node* n = graph().create_node(op_type, inputs, outs);
  n->name = name;
  for (const Attr& a : attrs) n->set_attr(a.make());
  return n;
}

Expected<std::unique_ptr<Model>> GraphBuilder::finish() {
  for (Value* v : outputs_) graph().add_output(v);
  if (auto st = infer_shapes(*model_); !st) return st.error();
  for (Value* o : graph().outputs())
    if (!o->type.shape || o->type.elem_type == DataType::Undefined)
      return internal_error("bench model " + graph().name + ": no type inferred for output " + o->name());
  if (auto st = verify(*model_); !st) return st.error();
  return std::move(model_);
}

}  // namespace effopt::bench
