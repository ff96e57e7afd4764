// Deliberately broken passes (broken_passes.h).
#include "util/broken_passes.h"

#include <cstring>

#include "exec/tensor_value.h"

namespace effopt::test {

namespace {

// Reverses the main graph's nodes: no longer topologically sorted.
Expected<pass::PassResult> break_graph(Graph& g, pass::PassContext&) {
  pass::PassResult r;
  if (g.parent() || g.nodes().size() < 2) return r;
  std::vector<Node*> order;
  for (auto it = g.nodes().rbegin(); it != g.nodes().rend(); ++it) order.push_back(it->get());
  g.reorder(order);
  r.changed = true;
  r.count("nodes-reversed", static_cast<int64_t>(order.size()));
  return r;
}

// Adds `amount` to the main graph's first output (float32 or float16).
Expected<pass::PassResult> add_constant(Graph& g, float amount) {
  pass::PassResult r;
  if (g.parent() || g.outputs().empty() || g.owner_node()) return r;
  Value* y = g.outputs()[0];
  DataType dt = y->type.elem_type == DataType::Float16 ? DataType::Float16 : DataType::Float;
  auto t = std::make_shared<Tensor>();
  t->name = g.unique_name("test_constant");
  t->data_type = dt;
  std::vector<std::byte> bytes(dt == DataType::Float16 ? 2 : 4);
  if (dt == DataType::Float16) {
    uint16_t h = exec::float_to_half(amount);
    std::memcpy(bytes.data(), &h, 2);
  } else {
    std::memcpy(bytes.data(), &amount, 4);
  }
  t->set_bytes(std::move(bytes));
  Value* c = g.add_initializer(t);
  c->type = Type::tensor(dt, std::vector<Dim>{});
  Node* add = g.create_node("Add", {y, c}, {g.unique_name(y->name() + "_plus_one")});
  add->output(0)->type = y->type;
  g.set_output(0, add->output(0));
  r.changed = true;
  r.count("ones-added");
  return r;
}

Expected<pass::PassResult> add_one(Graph& g, pass::PassContext&) { return add_constant(g, 1.0f); }
Expected<pass::PassResult> add_milli(Graph& g, pass::PassContext&) { return add_constant(g, 1e-3f); }

}  // namespace

void register_broken_passes(pass::PassRegistry& r) {
  if (r.find("test-break-graph")) return;
  pass::PassInfo b;
  b.name = "test-break-graph";
  b.summary = "test only: reverses the node order";
  b.run_on_graph = break_graph;
  r.add(std::move(b));
  pass::PassInfo a;
  a.name = "test-add-one";
  a.summary = "test only: adds 1 to the first output";
  a.run_on_graph = add_one;
  r.add(std::move(a));
  pass::PassInfo l;
  l.name = "test-lossy-add-one";
  l.summary = "test only: adds 1 to the first output, declared lossy";
  l.lossy = true;
  l.run_on_graph = add_one;
  r.add(std::move(l));
  pass::PassInfo s;
  s.name = "test-add-milli";
  s.summary = "test only: adds 0.001 to the first output";
  s.run_on_graph = add_milli;
  r.add(std::move(s));
  pass::PassInfo f;
  f.name = "test-read-file";
  f.summary = "test only: takes a file option and changes nothing";
  f.options = {{"file", pass::OptionType::File, "", "any file", {}}};
  f.run_on_graph = [](Graph&, pass::PassContext&) -> Expected<pass::PassResult> { return pass::PassResult{}; };
  r.add(std::move(f));
}

}  // namespace effopt::test
