// effopt's in-memory model: Model > Graph > Node / Value, with use/def links.
//
// Ownership: a Graph owns its Values and Nodes. A Node's inputs point at
// Values of its own graph or of an enclosing graph (outer-scope references
// from If/Loop/Scan bodies). Empty optional inputs/outputs are nullptr.
// Nodes are kept in topological order; the verifier checks it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/tensor.h"
#include "ir/types.h"

namespace effopt {

class Graph;
class Node;

// Mirrors onnx.AttributeProto.AttributeType.
enum class AttrType : int32_t {
  Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, SparseTensor = 11, TypeProto = 13,
  Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10, SparseTensors = 12, TypeProtos = 14,
};

struct Attribute {
  std::string name;
  AttrType type = AttrType::Undefined;
  std::string doc_string;
  std::string ref_attr_name;  // attribute reference inside a function body
  float f = 0;
  int64_t i = 0;
  std::string s;
  TensorPtr t;
  std::unique_ptr<Graph> g;
  std::shared_ptr<SparseTensor> sparse_tensor;
  Type tp;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<TensorPtr> tensors;
  std::vector<std::unique_ptr<Graph>> graphs;
  std::vector<std::shared_ptr<SparseTensor>> sparse_tensors;
  std::vector<Type> type_protos;

  Attribute() = default;
  Attribute(Attribute&&) = default;
  Attribute& operator=(Attribute&&) = default;
  Attribute clone(Graph* new_parent) const;

  static Attribute make_int(std::string name, int64_t v);
  static Attribute make_float(std::string name, float v);
  static Attribute make_string(std::string name, std::string v);
  static Attribute make_ints(std::string name, std::vector<int64_t> v);
  static Attribute make_floats(std::string name, std::vector<float> v);
  static Attribute make_tensor(std::string name, TensorPtr v);
};

struct Use {
  Node* node;
  size_t index;  // input slot
  bool operator==(const Use&) const = default;
};

class Value {
 public:
  const std::string& name() const { return name_; }
  Graph* graph() const { return graph_; }
  Type type;
  std::string doc_string;  // from the value's ValueInfoProto
  // Producer: the node that outputs this value, or nullptr for graph inputs
  // and initializers.
  Node* producer() const { return producer_; }
  size_t producer_index() const { return producer_index_; }
  const std::vector<Use>& uses() const { return uses_; }
  // Set when this value is an initializer (dense) of its graph.
  TensorPtr initializer;
  // Set when this value is a sparse initializer.
  std::shared_ptr<SparseTensor> sparse_initializer;
  bool is_graph_input() const { return is_input_; }
  bool is_graph_output() const;
  // An output of its graph or, directly, of a subgraph below it (a subgraph
  // may return an outer-scope value with no node reading it there): a value
  // whose producer may only be rewritten if the value keeps existing.
  bool is_output_of_any_graph() const;
  bool has_value_info() const { return has_value_info_; }

 private:
  friend class Graph;
  friend class Node;
  std::string name_;
  Graph* graph_ = nullptr;
  Node* producer_ = nullptr;
  size_t producer_index_ = 0;
  std::vector<Use> uses_;
  bool is_input_ = false;
  bool has_value_info_ = false;
};

class Node {
 public:
  std::string op_type;
  std::string domain;  // "" = ai.onnx
  std::string name;
  std::string doc_string;
  std::vector<Attribute> attributes;

  Graph* graph() const { return graph_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }

  void set_input(size_t i, Value* v);
  void add_input(Value* v);
  void remove_input(size_t i);  // shifts later inputs
  // Replaces all inputs; keeps use lists right.
  void set_inputs(std::vector<Value*> vs);

  const Attribute* attr(std::string_view name) const;
  Attribute* attr(std::string_view name);
  int64_t attr_int(std::string_view name, int64_t def) const;
  float attr_float(std::string_view name, float def) const;
  std::string attr_string(std::string_view name, std::string def) const;
  std::vector<int64_t> attr_ints(std::string_view name, std::vector<int64_t> def = {}) const;
  void set_attr(Attribute a);  // replaces an attribute of the same name
  bool remove_attr(std::string_view name);
  // Subgraphs held by this node's attributes (If branches, Loop/Scan bodies).
  std::vector<Graph*> subgraphs() const;

 private:
  friend class Graph;
  Graph* graph_ = nullptr;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
};

// A graph or subgraph. Values are unique by name within a graph; lookups fall
// back to enclosing graphs for outer-scope references.
class Graph {
 public:
  explicit Graph(Graph* parent = nullptr, Node* owner = nullptr) : parent_(parent), owner_(owner) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  std::string name;
  std::string doc_string;

  Graph* parent() const { return parent_; }
  Node* owner_node() const { return owner_; }
  void set_parent(Graph* parent, Node* owner) { parent_ = parent; owner_ = owner; }

  // --- values
  // Finds a value by name in this graph only.
  Value* find_local(std::string_view name) const;
  // Finds a value by name here or in an enclosing graph.
  Value* find(std::string_view name) const;
  // Creates a value with this exact name; nullptr if the name is taken here.
  Value* create_value(std::string name);
  // A name derived from `hint` ("hint", else "hint_1", "hint_2", ...) that
  // no value of this graph, of an enclosing graph or of a graph nested below
  // it has (ONNX forbids shadowing in either direction), and a value with it.
  Value* create_unique_value(std::string_view hint);
  std::string unique_name(std::string_view hint) const;
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }

  // --- signature
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  void add_input(Value* v);
  void remove_input(Value* v);
  void add_output(Value* v) { outputs_.push_back(v); }
  void set_output(size_t i, Value* v) { outputs_[i] = v; }
  void clear_outputs() { outputs_.clear(); }
  // value_info entries, in their original order.
  const std::vector<Value*>& value_info() const { return value_info_; }
  void add_value_info(Value* v);
  void clear_value_info();

  // --- initializers (values carrying a tensor), in their original order
  const std::vector<Value*>& initializers() const { return initializers_; }
  Value* add_initializer(TensorPtr t);  // value named t->name
  const std::vector<Value*>& sparse_initializers() const { return sparse_initializers_; }
  Value* add_sparse_initializer(std::shared_ptr<SparseTensor> t);
  void remove_initializer(Value* v);

  // --- nodes, in topological order
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  // Creates a node at position `pos` (default: end). Output values are created
  // with the given names (an empty name = absent optional output).
  Node* create_node(std::string op_type, std::vector<Value*> inputs, const std::vector<std::string>& output_names,
                    std::string domain = "", size_t pos = SIZE_MAX);
  // Creates a node reusing existing producer-less values as outputs.
  Node* create_node_with_outputs(std::string op_type, std::vector<Value*> inputs, std::vector<Value*> outputs,
                                 std::string domain = "", size_t pos = SIZE_MAX);
  size_t index_of(const Node* n) const;
  // Removes a node; its outputs must have no uses left.
  void erase_node(Node* n);
  // Redirects every use of `from` (here and in subgraphs) to `to`; graph
  // outputs too.
  void replace_all_uses(Value* from, Value* to);
  // Reorders nodes; `order` must be a permutation of the current nodes.
  void reorder(std::vector<Node*> order);
  // Drops values with no producer, no uses, not inputs/outputs/initializers.
  void prune_dead_values();

 private:
  friend class Node;
  Graph* parent_;
  Node* owner_;
  std::vector<std::unique_ptr<Value>> values_;
  std::unordered_map<std::string, Value*> by_name_;
  std::vector<Value*> inputs_, outputs_, value_info_, initializers_, sparse_initializers_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

struct OpsetImport {
  std::string domain;
  int64_t version = 0;
  bool operator==(const OpsetImport&) const = default;
};

// A model-local function (FunctionProto). Its body is a Graph whose inputs
// are the formal inputs (untyped) and outputs the formal outputs.
struct Function {
  std::string name;
  std::string domain;
  std::string doc_string;
  std::vector<std::string> attribute_names;
  std::vector<OpsetImport> opset_imports;
  std::unique_ptr<Graph> body;
};

class Model {
 public:
  int64_t ir_version = 0;
  std::vector<OpsetImport> opset_imports;
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::unique_ptr<Graph> graph;
  std::vector<Function> functions;
  // training_info (TrainingInfoProto) is kept opaque: serialized bytes.
  std::vector<std::string> training_info;

  // Opset version imported for a domain ("" and "ai.onnx" are the same); 0 if none.
  int64_t opset(std::string_view domain = "") const;
  void set_opset(std::string_view domain, int64_t version);
  std::string metadata(std::string_view key) const;
  void set_metadata(std::string key, std::string value);
};

// Walks g and every subgraph below it (depth-first, graphs before their subgraphs).
template <class F>
void for_each_graph(Graph& g, F&& f) {
  f(g);
  for (auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) for_each_graph(*sg, f);
}

inline bool is_onnx_domain(std::string_view d) { return d.empty() || d == "ai.onnx"; }

}  // namespace effopt
