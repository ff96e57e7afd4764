#include "ir/verifier.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "ir/topo_sort.h"

namespace effopt {

namespace {

std::string node_desc(const Node& n) {
  return "node '" + (n.name.empty() ? std::string("(unnamed)") : n.name) + "' (" + n.op_type + ")";
}

struct Verifier {
  std::vector<std::string> problems;

  void fail(std::string msg) {
    if (problems.size() < 10) problems.push_back(std::move(msg));
  }

  // `defined` holds values visible at this point: those of enclosing graphs
  // defined before the owner node, plus this graph's defined so far.
  void graph(const Graph& g, std::unordered_set<const Value*>& defined, const std::string& where) {
    std::vector<const Value*> added;
    auto define = [&](const Value* v) {
      if (defined.insert(v).second) added.push_back(v);
    };
    // Names must be unique across scopes (ONNX's SSA rule).
    for (auto& v : g.values())
      for (const Graph* p = g.parent(); p; p = p->parent())
        if (p->find_local(v->name()))
          fail(where + ": value '" + v->name() + "' shadows a value of an enclosing graph");
    for (Value* v : g.inputs()) {
      if (v->graph() != &g) fail(where + ": graph input '" + v->name() + "' belongs to another graph");
      define(v);
    }
    for (Value* v : g.initializers()) {
      if (!v->initializer) { fail(where + ": initializer '" + v->name() + "' has no tensor"); continue; }
      if (v->producer()) fail(where + ": initializer '" + v->name() + "' is also produced by a node");
      if (v->type.kind == Type::Kind::Tensor && v->type.elem_type != v->initializer->data_type)
        fail(where + ": initializer '" + v->name() + "' is " + data_type_name(v->initializer->data_type) +
             " but its declared type is " + v->type.to_string());
      define(v);
    }
    for (Value* v : g.sparse_initializers()) define(v);

    for (auto& np : g.nodes()) {
      const Node& n = *np;
      if (n.graph() != &g) fail(where + ": " + node_desc(n) + " is listed in a graph it does not belong to");
      for (size_t i = 0; i < n.inputs().size(); ++i) {
        Value* v = n.inputs()[i];
        if (!v) continue;
        if (!defined.count(v)) {
          bool in_scope = false;
          for (const Graph* s = &g; s; s = s->parent())
            if (v->graph() == s) in_scope = true;
          fail(where + ": " + node_desc(n) + " input '" + v->name() + "' " +
               (in_scope ? "is used before it is produced (not in topological order)" : "is not defined in scope"));
        }
        auto& uses = v->uses();
        if (std::find(uses.begin(), uses.end(), Use{const_cast<Node*>(&n), i}) == uses.end())
          fail(where + ": use list of '" + v->name() + "' misses " + node_desc(n));
      }
      for (Graph* sg : n.subgraphs()) {
        if (sg->parent() != &g || sg->owner_node() != &n)
          fail(where + ": a subgraph of " + node_desc(n) + " has the wrong parent");
        graph(*sg, defined, where + " > " + node_desc(n) + " subgraph '" + sg->name + "'");
      }
      for (size_t i = 0; i < n.outputs().size(); ++i) {
        Value* v = n.outputs()[i];
        if (!v) continue;
        if (v->producer() != &n || v->producer_index() != i)
          fail(where + ": output '" + v->name() + "' of " + node_desc(n) + " has a different producer");
        if (v->initializer) fail(where + ": '" + v->name() + "' is both an initializer and a node output");
        if (v->is_graph_input()) fail(where + ": '" + v->name() + "' is both a graph input and a node output");
        define(v);
      }
    }
    for (auto& v : g.values())
      for (const Use& u : v->uses()) {
        if (u.index >= u.node->inputs().size() || u.node->inputs()[u.index] != v.get())
          fail(where + ": use list of '" + v->name() + "' names a stale use");
      }
    for (Value* v : g.outputs())
      if (!defined.count(v)) fail(where + ": graph output '" + v->name() + "' is not defined");
    for (const Value* v : added) defined.erase(v);
  }
};

Status result(Verifier& v) {
  if (v.problems.empty()) return ok();
  std::string msg = "the graph is invalid:";
  for (auto& p : v.problems) msg += "\n  " + p;
  return invalid_model(msg);
}

}  // namespace

Status verify_graph(const Graph& graph) {
  Verifier v;
  std::unordered_set<const Value*> defined;
  v.graph(graph, defined, graph.name.empty() ? "main graph" : "graph '" + graph.name + "'");
  return result(v);
}

Status verify(const Model& model) {
  Verifier v;
  std::unordered_set<const Value*> defined;
  if (!model.graph) return invalid_model("the model has no graph");
  v.graph(*model.graph, defined, "main graph");
  for (auto& f : model.functions) {
    std::unordered_set<const Value*> fdefined;
    v.graph(*f.body, fdefined, "function '" + f.name + "'");
  }
  return result(v);
}

// ------------------------------------------------------------------ operator signatures

namespace {

std::string plural(int64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string attr_type_text(AttrType t) {
  switch (t) {
    case AttrType::Undefined: return "of no type";
    case AttrType::Float: return "a float";
    case AttrType::Int: return "an int";
    case AttrType::String: return "a string";
    case AttrType::Tensor: return "a tensor";
    case AttrType::Graph: return "a graph";
    case AttrType::SparseTensor: return "a sparse tensor";
    case AttrType::TypeProto: return "a type";
    case AttrType::Floats: return "a list of floats";
    case AttrType::Ints: return "a list of ints";
    case AttrType::Strings: return "a list of strings";
    case AttrType::Tensors: return "a list of tensors";
    case AttrType::Graphs: return "a list of graphs";
    case AttrType::SparseTensors: return "a list of sparse tensors";
    case AttrType::TypeProtos: return "a list of types";
  }
  return "of type " + std::to_string(static_cast<int>(t));
}

std::string bounds_text(int lo, int hi) {
  if (hi == INT_MAX) return "at least " + std::to_string(lo);
  if (lo == hi) return std::to_string(lo);
  return std::to_string(lo) + " to " + std::to_string(hi);
}

struct SignatureChecker {
  const Model& model;
  const OpSignatureLookup& lookup;
  std::vector<std::string> problems;
  size_t more = 0;
  // One lookup per (domain, op, opset): a model repeats few operators.
  std::map<std::tuple<std::string, std::string, int64_t>, std::optional<OpSignature>> cache;

  void fail(std::string msg) {
    if (problems.size() < 10) problems.push_back(std::move(msg));
    else ++more;
  }

  bool calls_local_function(const Node& n) const {
    for (const Function& f : model.functions)
      if (f.name == n.op_type && f.domain == n.domain) return true;
    return false;
  }

  static int64_t opset_of(const std::vector<OpsetImport>& imports, std::string_view domain) {
    std::string_view d = domain == "ai.onnx" ? std::string_view() : domain;
    for (const OpsetImport& o : imports)
      if ((o.domain == "ai.onnx" ? std::string_view() : std::string_view(o.domain)) == d) return o.version;
    return 0;
  }

  void node(const Node& n, size_t index, const std::vector<OpsetImport>& imports, const std::string& where) {
    if (calls_local_function(n)) return;
    std::string domain = n.domain == "ai.onnx" ? std::string() : n.domain;
    int64_t opset = opset_of(imports, domain);
    auto key = std::make_tuple(domain, n.op_type, opset);
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, lookup(domain, n.op_type, opset)).first;
    if (!it->second) return;
    const OpSignature& sig = *it->second;
    std::string who = where + ": node " + (n.name.empty() ? "#" + std::to_string(index) : "'" + n.name + "'") +
                      " (" + n.op_type + ")";
    int n_in = static_cast<int>(n.inputs().size()), n_out = static_cast<int>(n.outputs().size());
    if (n_in < sig.min_inputs || n_in > sig.max_inputs)
      fail(who + " has " + plural(n_in, "input") + ", but " + sig.label + " takes " +
           bounds_text(sig.min_inputs, sig.max_inputs));
    if (n_out < sig.min_outputs || n_out > sig.max_outputs)
      fail(who + " has " + plural(n_out, "output") + ", but " + sig.label + " has " +
           bounds_text(sig.min_outputs, sig.max_outputs));
    auto param = [](const std::vector<OpSignature::Param>& ps, int i) -> const OpSignature::Param* {
      if (i < static_cast<int>(ps.size())) return &ps[i];
      if (!ps.empty() && ps.back().arity == OpSignature::Arity::Variadic) return &ps.back();
      return nullptr;
    };
    for (int i = 0; i < n_in; ++i) {
      const OpSignature::Param* p = param(sig.inputs, i);
      if (p && p->arity != OpSignature::Arity::Optional && !n.inputs()[i])
        fail(who + ": input " + std::to_string(i) + " (" + p->name + ") is empty, but " + sig.label +
             " requires it");
    }
    for (int i = 0; i < n_out; ++i) {
      const OpSignature::Param* p = param(sig.outputs, i);
      if (p && p->arity == OpSignature::Arity::Single && !n.outputs()[i])
        fail(who + ": output " + std::to_string(i) + " (" + p->name + ") is empty, but " + sig.label +
             " requires it");
    }
    // ONNX's shape inference reads required attributes without checking that
    // they exist (Scan's num_scan_inputs, ...), and an attribute of another
    // type reads as a default value or an absent subgraph.
    for (const OpSignature::Attr& want : sig.attributes) {
      const Attribute* a = n.attr(want.name);
      if (!a) {
        if (want.required) fail(who + " has no attribute '" + want.name + "', which " + sig.label + " requires");
        continue;
      }
      if (a->ref_attr_name.empty() && a->type != AttrType::Undefined && a->type != want.type)
        fail(who + ": attribute '" + want.name + "' is " + attr_type_text(a->type) + ", but " + sig.label +
             " takes " + attr_type_text(want.type));
    }
  }

  void graph(const Graph& g, const std::vector<OpsetImport>& imports, const std::string& where) {
    size_t i = 0;
    for (auto& np : g.nodes()) {
      const Node& n = *np;
      node(n, i, imports, where);
      for (const Graph* sg : n.subgraphs())
        graph(*sg, imports,
              where + " > node " + (n.name.empty() ? "#" + std::to_string(i) : "'" + n.name + "'") + " (" +
                  n.op_type + ") subgraph '" + sg->name + "'");
      ++i;
    }
  }
};

}  // namespace

Status verify_node_signatures(const Model& model, const OpSignatureLookup& lookup) {
  if (!model.graph) return invalid_model("the model has no graph");
  SignatureChecker c{model, lookup, {}, 0, {}};
  c.graph(*model.graph, model.opset_imports, "main graph");
  for (const Function& f : model.functions)
    if (f.body) c.graph(*f.body, f.opset_imports, "function '" + f.name + "'");
  if (c.problems.empty()) return ok();
  std::string msg = c.problems.size() == 1 && c.more == 0 ? "a node does not match its operator's signature:"
                                                            : "nodes do not match their operators' signatures:";
  for (auto& p : c.problems) msg += "\n  " + p;
  if (c.more) msg += "\n  and " + plural(static_cast<int64_t>(c.more), "more problem");
  return invalid_model(msg);
}

}  // namespace effopt
