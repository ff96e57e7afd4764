#include "ort/sim_graph.h"

#include <unordered_map>

namespace effopt::ort_sim {

// ---- building the simulation from the IR ---------------------------------------------------------------

Sim build_sim(const Model& m) {
  Sim s;
  s.opset = m.opset("");
  const Graph& g = *m.graph;
  std::unordered_map<const Value*, int> vid;
  auto value_id = [&](const Value* v) -> int {
    if (!v) return -1;
    auto it = vid.find(v);
    if (it != vid.end()) return it->second;
    int id = s.add_value(v->name(), v->type.elem_type, v->type.shape);
    // An initializer that is also a graph input can be overridden at run
    // time from IR 4 on, so ORT does not treat it as a constant.
    if (v->initializer && !(v->is_graph_input() && m.ir_version >= 4)) {
      s.vals[id].is_const = true;
      s.vals[id].tensor = v->initializer;
      s.vals[id].dt = v->initializer->data_type;
      std::vector<Dim> d;
      for (int64_t x : v->initializer->dims) d.push_back(Dim::known(x));
      s.vals[id].shape = d;
    }
    if (v->is_graph_output()) s.vals[id].graph_output = true;
    vid[v] = id;
    return id;
  };
  for (const Value* v : g.inputs()) value_id(v);
  s.removed.assign(g.nodes().size(), {});
  s.not_predicted.assign(g.nodes().size(), {});
  int idx = 0;
  for (auto& np : g.nodes()) {
    SNode n;
    n.name = np->name.empty() ? "#" + std::to_string(idx) + " (" + np->op_type + ")" : np->name;
    n.op = np->op_type;
    n.domain = is_onnx_domain(np->domain) ? "" : np->domain;
    n.src = np.get();
    for (const Value* v : np->inputs()) n.in.push_back(value_id(v));
    for (const Value* v : np->outputs()) n.out.push_back(value_id(v));
    n.origins = {idx};
    n.primary = idx;
    s.first_output.push_back(n.out.empty() ? -1 : n.out[0]);
    int id = s.add_node(std::move(n));
    s.order.push_back(id);
    ++idx;
  }
  for (const Value* v : g.outputs()) s.vals[value_id(v)].graph_output = true;
  return s;
}

}  // namespace effopt::ort_sim
