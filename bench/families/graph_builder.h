// A small helper for writing models as an exporter would, with effopt's IR:
// scoped PyTorch-style names ("/blocks.3/se/Conv"), seeded He-scaled weights
// and the constants exporters emit. The bench families (families.h) are built
// with it; tests that need a whole network rather than a few nodes can use it
// too.
//
//   GraphBuilder b(17, /*seed=*/1, "mlp");
//   Value* x = b.input("x", DataType::Float, {1, 64});
//   auto s = b.scope("fc");
//   Value* y = b.op("Add", {b.op("MatMul", {x, b.he_weight("weight", {64, 10}, 64)}), b.bias("bias", 10)});
//   b.output(y);
//   auto model = b.finish();   // shapes inferred for the outputs, verified
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt::bench {

// A copyable attribute description: effopt::Attribute is move-only, so it cannot sit in an initializer list.
struct Attr {
  enum class Kind { Int, Float, Ints } kind;
  std::string name;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
  Attribute make() const;
};
inline Attr attr_int(std::string name, int64_t v) { return {Attr::Kind::Int, std::move(name), v, 0, {}}; }
inline Attr attr_float(std::string name, float v) { return {Attr::Kind::Float, std::move(name), 0, v, {}}; }
inline Attr attr_ints(std::string name, std::vector<int64_t> v) { return {Attr::Kind::Ints, std::move(name), 0, 0, std::move(v)}; }

class GraphBuilder {
 public:
  GraphBuilder(int64_t opset, uint64_t seed, std::string graph_name);

  int64_t opset() const { return opset_; }
  Graph& graph() { return *model_->graph; }

  Value* input(const std::string& name, DataType t, const std::vector<int64_t>& dims);
  // Marks `v` as a graph output; finish() gives it its inferred type.
  void output(Value* v);

  // Names of nodes and initializers below this scope, until the returned
  // object goes away: "/features.3/block.1/Conv".
  class Scope {
   public:
    explicit Scope(GraphBuilder* b) : b_(b) {}
    Scope(Scope&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope();

   private:
    GraphBuilder* b_;
  };
  [[nodiscard]] Scope scope(const std::string& name);

  // Initializers. He-scaled: uniform in +-sqrt(6 / fan_in) (variance 2 / fan_in).
  Value* he_weight(const std::string& name, const std::vector<int64_t>& dims, int64_t fan_in);
  // Uniform in +-bound (biases, embeddings, LayerNorm affine parameters around `center`).
  Value* uniform(const std::string& name, const std::vector<int64_t>& dims, float bound, float center = 0);
  Value* bias(const std::string& name, int64_t n) { return uniform(name, {n}, 0.1f); }
  Value* floats(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values);
  Value* ints(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values);
  Value* bools(const std::string& name, const std::vector<int64_t>& dims, const std::vector<uint8_t>& values);
  Value* scalar(float v) { return floats("Constant", {}, {v}); }
  Value* int_vector(const std::vector<int64_t>& v) { return ints("Constant", {static_cast<int64_t>(v.size())}, v); }

  // A node named after the scope and op type; its outputs named "<node>_output_<k>".
  Node* node(const std::string& op_type, const std::vector<Value*>& inputs, size_t n_outputs = 1,
             const std::vector<Attr>& attrs = {});
  Value* op(const std::string& op_type, const std::vector<Value*>& inputs, const std::vector<Attr>& attrs = {}) {
    return node(op_type, inputs, 1, attrs)->output(0);
  }

  // Elements of the tensors made by he_weight / uniform / bias so far (the model's parameters).
  uint64_t parameter_count() const { return parameters_; }

  // Infers the outputs' types, checks the model with effopt's verifier and hands it over.
  Expected<std::unique_ptr<Model>> finish();

 private:
  std::string path() const;
  std::string unique(const std::string& base);
  Value* add_tensor(const std::string& name, DataType t, const std::vector<int64_t>& dims, std::vector<std::byte> bytes);
  float next_uniform();  // [-1, 1)

  int64_t opset_;
  uint64_t rng_;
  uint64_t parameters_ = 0;
  std::unique_ptr<Model> model_;
  std::vector<std::string> scopes_;
  std::unordered_set<std::string> node_names_;
  std::vector<Value*> outputs_;
};

}  // namespace effopt::bench
