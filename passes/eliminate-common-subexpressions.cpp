// eliminate-common-subexpressions: merges nodes that compute the same thing.
#include <bit>
#include <cstring>
#include <unordered_map>

#include "ir/constants.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

bool same_tensors(const TensorPtr& a, const TensorPtr& b) { return a == b || (a && b && same_tensor_contents(*a, *b)); }

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
  return true;
}

bool same_attribute(const Attribute& a, const Attribute& b) {
  if (a.name != b.name || a.type != b.type || a.ref_attr_name != b.ref_attr_name) return false;
  if (a.i != b.i || a.s != b.s || a.ints != b.ints || a.strings != b.strings) return false;
  if (std::bit_cast<uint32_t>(a.f) != std::bit_cast<uint32_t>(b.f) || !same_floats(a.floats, b.floats)) return false;
  if (!same_tensors(a.t, b.t) || a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i)
    if (!same_tensors(a.tensors[i], b.tensors[i])) return false;
  if (!(a.tp == b.tp) || a.type_protos.size() != b.type_protos.size()) return false;
  for (size_t i = 0; i < a.type_protos.size(); ++i)
    if (!(a.type_protos[i] == b.type_protos[i])) return false;
  // Sparse tensors: only the very same object counts.
  if (a.sparse_tensor != b.sparse_tensor || a.sparse_tensors != b.sparse_tensors) return false;
  return true;
}

bool same_attributes(const Node& a, const Node& b) {
  if (a.attributes.size() != b.attributes.size()) return false;
  for (const Attribute& x : a.attributes) {
    const Attribute* y = b.attr(x.name);
    if (!y || !same_attribute(x, *y)) return false;
  }
  return true;
}

bool candidate(const Node& n) {
  if (!is_onnx_domain(n.domain) && n.domain != "ai.onnx.ml") return false;
  if (is_nondeterministic_op(n) || n.op_type == "Dropout" || !n.subgraphs().empty()) return false;
  for (const Value* o : n.outputs())
    if (!o) return false;  // absent optional outputs: keep it simple
  return !n.outputs().empty();
}

uint64_t node_key(const Node& n) {
  uint64_t h = std::hash<std::string>{}(n.op_type) * 31 + std::hash<std::string>{}(n.domain);
  for (const Value* v : n.inputs()) h = h * 1000003 + std::hash<const void*>{}(v);
  h = h * 31 + n.attributes.size();
  h = h * 31 + n.outputs().size();
  return h;
}

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  const Pinned& pinned = *ctx.pinned;
  std::unordered_map<uint64_t, std::vector<Node*>> seen;
  std::vector<Node*> order;
  for (auto& n : g.nodes()) order.push_back(n.get());
  for (Node* n : order) {
    if (!candidate(*n)) continue;
    uint64_t key = node_key(*n);
    Node* first = nullptr;
    for (Node* m : seen[key])
      if (m->op_type == n->op_type && m->domain == n->domain && m->inputs() == n->inputs() &&
          m->outputs().size() == n->outputs().size() && same_attributes(*m, *n)) {
        first = m;
        break;
      }
    if (!first) {
      seen[key].push_back(n);
      continue;
    }
    bool output = false;
    for (const Value* o : n->outputs()) output = output || pinned(o);
    if (output) {
      r.note(node_label(*n) + ": same as " + node_label(*first) + ", kept: it writes a graph output");
      continue;
    }
    for (size_t i = 0; i < n->outputs().size(); ++i) g.replace_all_uses(n->output(i), first->output(i));
    erase_node_deep(g, n);
    r.count("nodes-merged");
    r.changed = true;
  }
  if (r.changed) g.prune_dead_values();
  return r;
}

}  // namespace

void register_eliminate_common_subexpressions(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "eliminate-common-subexpressions";
  info.summary = "Merges nodes with the same op, attributes and inputs";
  info.doc =
      "Merges nodes that compute the same thing: the same op type, domain, inputs (the same values, in order) and "
      "attributes (names, types and values; floats compared bit for bit, tensors byte for byte). Nodes are visited "
      "in topological order; a node equal to an earlier one is removed and the readers of its outputs read the "
      "earlier node's outputs instead. Merged inputs make their readers equal in turn, so whole duplicated chains "
      "merge in one run (for example two Shape -> Gather -> Unsqueeze chains on the same tensor).\n"
      "\n"
      "When: a default-domain or ai.onnx.ml node equal to an earlier node of the same graph.\n"
      "\n"
      "Not when: random ops (RandomNormal, RandomUniform, *Like, Multinomial, Bernoulli) and Dropout (random in "
      "training mode); nodes with subgraphs (not compared); nodes of custom domains (they may keep state); a node "
      "one of whose outputs is a graph output (its name would be lost; an earlier duplicate's outputs are kept, so "
      "only the later one is blocked).\n"
      "\n"
      "Before: A = Relu(X); B = Relu(X); Y = Add(A, B)\n"
      "After:  A = Relu(X); Y = Add(A, A)";
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
