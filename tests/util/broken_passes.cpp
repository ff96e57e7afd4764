// Deliberately broken passes (broken_passes.h).
#include "util/broken_passes.h"

#include <cstring>

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

// Adds 1 to the main graph's first output.
Expected<pass::PassResult> add_one(Graph& g, pass::PassContext&) {
  pass::PassResult r;
  if (g.parent() || g.outputs().empty() || g.owner_node()) return r;
  auto t = std::make_shared<Tensor>();
  t->name = g.unique_name("test_one");
  t->data_type = DataType::Float;
  float one = 1.0f;
  std::vector<std::byte> bytes(sizeof one);
  std::memcpy(bytes.data(), &one, sizeof one);
  t->set_bytes(std::move(bytes));
  Value* c = g.add_initializer(t);
  c->type = Type::tensor(DataType::Float, std::vector<Dim>{});
  Value* y = g.outputs()[0];
  Node* add = g.create_node("Add", {y, c}, {g.unique_name(y->name() + "_plus_one")});
  add->output(0)->type = y->type;
  g.set_output(0, add->output(0));
  r.changed = true;
  r.count("ones-added");
  return r;
}

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
  pass::PassInfo f;
  f.name = "test-read-file";
  f.summary = "test only: takes a file option and changes nothing";
  f.options = {{"file", pass::OptionType::File, "", "any file", {}}};
  f.run_on_graph = [](Graph&, pass::PassContext&) -> Expected<pass::PassResult> { return pass::PassResult{}; };
  r.add(std::move(f));
}

}  // namespace effopt::test
