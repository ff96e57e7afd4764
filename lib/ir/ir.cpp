#include "ir/ir.h"

#include <algorithm>
#include <cassert>
#include <unordered_set>

namespace effopt {

// ---------------------------------------------------------------- Attribute

Attribute Attribute::clone(Graph* new_parent) const {
  Attribute a;
  a.name = name; a.type = type; a.doc_string = doc_string; a.ref_attr_name = ref_attr_name;
  a.f = f; a.i = i; a.s = s; a.t = t; a.sparse_tensor = sparse_tensor; a.tp = tp;
  a.floats = floats; a.ints = ints; a.strings = strings; a.tensors = tensors;
  a.sparse_tensors = sparse_tensors; a.type_protos = type_protos;
  // Subgraphs are not cloned here: callers that copy nodes with subgraphs
  // go through the ONNX round trip (see onnx/convert_proto.h).
  assert(!g && graphs.empty() && "Attribute::clone does not copy subgraphs");
  (void)new_parent;
  return a;
}

Attribute Attribute::make_int(std::string name, int64_t v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::Int; a.i = v; return a;
}
Attribute Attribute::make_float(std::string name, float v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::Float; a.f = v; return a;
}
Attribute Attribute::make_string(std::string name, std::string v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::String; a.s = std::move(v); return a;
}
Attribute Attribute::make_ints(std::string name, std::vector<int64_t> v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::Ints; a.ints = std::move(v); return a;
}
Attribute Attribute::make_floats(std::string name, std::vector<float> v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::Floats; a.floats = std::move(v); return a;
}
Attribute Attribute::make_tensor(std::string name, TensorPtr v) {
  Attribute a; a.name = std::move(name); a.type = AttrType::Tensor; a.t = std::move(v); return a;
}

// ---------------------------------------------------------------- Value

bool Value::is_graph_output() const {
  const auto& outs = graph_->outputs();
  return std::find(outs.begin(), outs.end(), this) != outs.end();
}

namespace {
bool in_subgraph_outputs(const Graph& g, const Value* v) {
  for (const auto& n : g.nodes())
    for (const Attribute& a : n->attributes) {
      auto in = [v](const Graph& sg) {
        return std::find(sg.outputs().begin(), sg.outputs().end(), v) != sg.outputs().end() ||
               in_subgraph_outputs(sg, v);
      };
      if (a.g && in(*a.g)) return true;
      for (const auto& sg : a.graphs)
        if (in(*sg)) return true;
    }
  return false;
}
}  // namespace

bool Value::is_output_of_any_graph() const {
  return is_graph_output() || (graph_ && in_subgraph_outputs(*graph_, this));
}

// ---------------------------------------------------------------- Node

namespace {
void remove_use(Value* v, Node* n, size_t i) {
  if (!v) return;
  auto& uses = const_cast<std::vector<Use>&>(v->uses());
  auto it = std::find(uses.begin(), uses.end(), Use{n, i});
  assert(it != uses.end());
  uses.erase(it);
}
void add_use(Value* v, Node* n, size_t i) {
  if (v) const_cast<std::vector<Use>&>(v->uses()).push_back(Use{n, i});
}
}  // namespace

void Node::set_input(size_t i, Value* v) {
  assert(i < inputs_.size());
  remove_use(inputs_[i], this, i);
  inputs_[i] = v;
  add_use(v, this, i);
}

void Node::add_input(Value* v) {
  inputs_.push_back(v);
  add_use(v, this, inputs_.size() - 1);
}

void Node::set_inputs(std::vector<Value*> vs) {
  for (size_t i = 0; i < inputs_.size(); ++i) remove_use(inputs_[i], this, i);
  inputs_ = std::move(vs);
  for (size_t i = 0; i < inputs_.size(); ++i) add_use(inputs_[i], this, i);
}

void Node::remove_input(size_t i) {
  assert(i < inputs_.size());
  auto vs = inputs_;
  vs.erase(vs.begin() + static_cast<std::ptrdiff_t>(i));
  set_inputs(std::move(vs));
}

const Attribute* Node::attr(std::string_view n) const {
  for (auto& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}
Attribute* Node::attr(std::string_view n) {
  for (auto& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}
int64_t Node::attr_int(std::string_view n, int64_t def) const {
  auto* a = attr(n);
  return a && a->type == AttrType::Int ? a->i : def;
}
float Node::attr_float(std::string_view n, float def) const {
  auto* a = attr(n);
  return a && a->type == AttrType::Float ? a->f : def;
}
std::string Node::attr_string(std::string_view n, std::string def) const {
  auto* a = attr(n);
  return a && a->type == AttrType::String ? a->s : def;
}
std::vector<int64_t> Node::attr_ints(std::string_view n, std::vector<int64_t> def) const {
  auto* a = attr(n);
  return a && a->type == AttrType::Ints ? a->ints : def;
}
void Node::set_attr(Attribute a) {
  for (auto& x : attributes)
    if (x.name == a.name) { x = std::move(a); return; }
  attributes.push_back(std::move(a));
}
bool Node::remove_attr(std::string_view n) {
  auto it = std::find_if(attributes.begin(), attributes.end(), [&](const Attribute& a) { return a.name == n; });
  if (it == attributes.end()) return false;
  attributes.erase(it);
  return true;
}
std::vector<Graph*> Node::subgraphs() const {
  std::vector<Graph*> out;
  for (auto& a : attributes) {
    if (a.g) out.push_back(a.g.get());
    for (auto& g : a.graphs) out.push_back(g.get());
  }
  return out;
}

// ---------------------------------------------------------------- Graph

Value* Graph::find_local(std::string_view n) const {
  auto it = by_name_.find(std::string(n));
  return it == by_name_.end() ? nullptr : it->second;
}

Value* Graph::find(std::string_view n) const {
  for (const Graph* g = this; g; g = g->parent_)
    if (Value* v = g->find_local(n)) return v;
  return nullptr;
}

Value* Graph::create_value(std::string n) {
  if (by_name_.count(n)) return nullptr;
  auto v = std::make_unique<Value>();
  v->name_ = std::move(n);
  v->graph_ = this;
  Value* raw = v.get();
  by_name_.emplace(raw->name_, raw);
  values_.push_back(std::move(v));
  return raw;
}

namespace {

// `name` is a value of `g` or of a graph nested in it (any depth). Walks the
// attributes directly: this runs for every new name a pass creates.
bool defined_below(const Graph& g, const std::string& name) {
  if (g.find_local(name)) return true;
  for (const auto& n : g.nodes())
    for (const Attribute& a : n->attributes) {
      if (a.g && defined_below(*a.g, name)) return true;
      for (const auto& sg : a.graphs)
        if (defined_below(*sg, name)) return true;
    }
  return false;
}

}  // namespace

std::string Graph::unique_name(std::string_view hint) const {
  // Free here, in every enclosing graph and in every graph nested below: the
  // verifier forbids a subgraph value shadowing an outer one, both ways.
  auto taken = [&](const std::string& name) { return find(name) || defined_below(*this, name); };
  std::string base(hint.empty() ? "v" : hint);
  if (!taken(base)) return base;
  for (size_t k = 1;; ++k) {
    std::string cand = base + "_" + std::to_string(k);
    if (!taken(cand)) return cand;
  }
}

Value* Graph::create_unique_value(std::string_view hint) { return create_value(unique_name(hint)); }

void Graph::add_input(Value* v) {
  assert(v->graph_ == this);
  v->is_input_ = true;
  inputs_.push_back(v);
}

void Graph::remove_input(Value* v) {
  inputs_.erase(std::remove(inputs_.begin(), inputs_.end(), v), inputs_.end());
  v->is_input_ = false;
}

void Graph::add_value_info(Value* v) {
  if (v->has_value_info_) return;
  v->has_value_info_ = true;
  value_info_.push_back(v);
}

void Graph::clear_value_info() {
  for (Value* v : value_info_) v->has_value_info_ = false;
  value_info_.clear();
}

Value* Graph::add_initializer(TensorPtr t) {
  Value* v = find_local(t->name);
  if (!v) v = create_value(t->name);
  if (v->initializer || v->sparse_initializer || v->producer_) return nullptr;
  v->type = Type::tensor(t->data_type, [&] {
    std::vector<Dim> s;
    for (int64_t d : t->dims) s.push_back(Dim::known(d));
    return s;
  }());
  v->initializer = std::move(t);
  initializers_.push_back(v);
  return v;
}

Value* Graph::add_sparse_initializer(std::shared_ptr<SparseTensor> t) {
  Value* v = find_local(t->values.name);
  if (!v) v = create_value(t->values.name);
  if (v->initializer || v->sparse_initializer || v->producer_) return nullptr;
  std::vector<Dim> s;
  for (int64_t d : t->dims) s.push_back(Dim::known(d));
  v->type = Type::tensor(t->values.data_type, std::move(s));
  v->sparse_initializer = std::move(t);
  sparse_initializers_.push_back(v);
  return v;
}

void Graph::remove_initializer(Value* v) {
  initializers_.erase(std::remove(initializers_.begin(), initializers_.end(), v), initializers_.end());
  sparse_initializers_.erase(std::remove(sparse_initializers_.begin(), sparse_initializers_.end(), v),
                             sparse_initializers_.end());
  v->initializer.reset();
  v->sparse_initializer.reset();
}

Node* Graph::create_node(std::string op_type, std::vector<Value*> inputs, const std::vector<std::string>& output_names,
                         std::string domain, size_t pos) {
  std::vector<Value*> outs;
  for (auto& n : output_names) {
    if (n.empty()) { outs.push_back(nullptr); continue; }
    Value* v = create_value(n);
    assert(v && "create_node: output name already taken");
    outs.push_back(v);
  }
  return create_node_with_outputs(std::move(op_type), std::move(inputs), std::move(outs), std::move(domain), pos);
}

Node* Graph::create_node_with_outputs(std::string op_type, std::vector<Value*> inputs, std::vector<Value*> outputs,
                                      std::string domain, size_t pos) {
  auto node = std::make_unique<Node>();
  Node* n = node.get();
  n->op_type = std::move(op_type);
  n->domain = std::move(domain);
  n->graph_ = this;
  n->set_inputs(std::move(inputs));
  n->outputs_ = std::move(outputs);
  for (size_t i = 0; i < n->outputs_.size(); ++i) {
    if (Value* v = n->outputs_[i]) {
      assert(v->graph_ == this && !v->producer_ && !v->initializer);
      v->producer_ = n;
      v->producer_index_ = i;
    }
  }
  if (pos >= nodes_.size()) nodes_.push_back(std::move(node));
  else nodes_.insert(nodes_.begin() + static_cast<std::ptrdiff_t>(pos), std::move(node));
  return n;
}

size_t Graph::index_of(const Node* n) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].get() == n) return i;
  return SIZE_MAX;
}

void Graph::erase_node(Node* n) {
  for (Value* v : n->outputs_) {
    if (!v) continue;
    assert(v->uses_.empty() && "erase_node: an output is still used");
    v->producer_ = nullptr;
  }
  n->set_inputs({});
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](auto& p) { return p.get() == n; });
  assert(it != nodes_.end());
  nodes_.erase(it);
}

void Graph::replace_all_uses(Value* from, Value* to) {
  auto uses = from->uses_;  // copy: set_input edits the list
  for (const Use& u : uses) u.node->set_input(u.index, to);
  for (Graph* g = this; g; g = g->parent_)
    for (auto& o : g->outputs_)
      if (o == from) o = to;
}

void Graph::reorder(std::vector<Node*> order) {
  assert(order.size() == nodes_.size());
  std::unordered_map<Node*, std::unique_ptr<Node>> owned;
  for (auto& p : nodes_) owned.emplace(p.get(), std::move(p));
  nodes_.clear();
  for (Node* n : order) {
    auto it = owned.find(n);
    assert(it != owned.end() && it->second);
    nodes_.push_back(std::move(it->second));
  }
}

void Graph::prune_dead_values() {
  std::unordered_set<Value*> keep(inputs_.begin(), inputs_.end());
  keep.insert(outputs_.begin(), outputs_.end());
  keep.insert(initializers_.begin(), initializers_.end());
  keep.insert(sparse_initializers_.begin(), sparse_initializers_.end());
  std::vector<std::unique_ptr<Value>> kept;
  for (auto& v : values_) {
    if (keep.count(v.get()) || v->producer_ || !v->uses_.empty()) {
      kept.push_back(std::move(v));
    } else {
      by_name_.erase(v->name_);
      value_info_.erase(std::remove(value_info_.begin(), value_info_.end(), v.get()), value_info_.end());
    }
  }
  values_ = std::move(kept);
}

// ---------------------------------------------------------------- Model

int64_t Model::opset(std::string_view d) const {
  bool want_onnx = is_onnx_domain(d);
  for (auto& o : opset_imports)
    if (want_onnx ? is_onnx_domain(o.domain) : o.domain == d) return o.version;
  return 0;
}

void Model::set_opset(std::string_view d, int64_t version) {
  bool want_onnx = is_onnx_domain(d);
  for (auto& o : opset_imports)
    if (want_onnx ? is_onnx_domain(o.domain) : o.domain == d) { o.version = version; return; }
  opset_imports.push_back({std::string(d), version});
}

std::string Model::metadata(std::string_view key) const {
  for (auto& [k, v] : metadata_props)
    if (k == key) return v;
  return {};
}

void Model::set_metadata(std::string key, std::string value) {
  for (auto& [k, v] : metadata_props)
    if (k == key) { v = std::move(value); return; }
  metadata_props.emplace_back(std::move(key), std::move(value));
}

}  // namespace effopt
