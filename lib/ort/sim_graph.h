// The graph model the ONNX Runtime prediction (ort_prediction.h) runs its rules on: a lightweight copy
// of a model's main graph ("Sim") whose value and node records the rules rewrite in place. Each
// surviving node remembers which input-model nodes it came from, so per-node fates fall out at the end.
// Internal to lib/ort: the rules (rules.h) and the entry point (ort_prediction.cpp) use it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/dtype.h"
#include "ir/ir.h"

namespace effopt::ort_sim {

struct SVal {
  std::string name;
  int producer = -1;            // node id, -1 for graph inputs / constants
  bool is_const = false;        // an initializer ORT treats as constant, or a folded result
  TensorPtr tensor;             // when the constant's bytes are known (initializers, Constant nodes)
  DataType dt = DataType::Undefined;
  std::optional<std::vector<Dim>> shape;
  bool graph_output = false;
  // Known integer contents of a small int64/int32 constant, including ones
  // computed while folding shape arithmetic (Shape, Gather, Add, ...).
  std::optional<std::vector<int64_t>> ints;
};

struct SNode {
  std::string name, op, domain;  // domain "" = ai.onnx
  const Node* src = nullptr;     // attributes come from here unless overridden
  std::vector<int> in, out;      // value ids, -1 = absent optional
  std::map<std::string, std::string> str_attrs;  // overrides / additions (activation, ...)
  bool alive = true;
  std::vector<int> origins;  // input-model node indices merged into this node
  int primary = -1;          // the origin whose place this node takes (-1: inserted by ORT)
  std::string rule;          // last rule that rewrote it
  bool inserted = false;
};

struct Removal {
  std::string fate, rule;
};

class Sim {
 public:
  std::vector<SVal> vals;
  std::vector<SNode> nodes;
  std::vector<int> order;  // topological order of alive node ids
  std::vector<Removal> removed;  // per input-model node, when removed without a successor
  std::vector<int> first_output;  // per input-model node: its first output value
  // Per input-model node: the ORT transformer not encoded whose pattern starts at it ("" when none).
  std::vector<std::string> not_predicted;
  std::map<std::string, uint64_t> hits;
  int64_t opset = 0;

  // ---- uses
  const std::vector<std::pair<int, int>>& uses(int v) {
    if (dirty_) rebuild();
    return uses_[v];
  }
  int use_count(int v) { return static_cast<int>(uses(v).size()); }
  // ORT's GetOutputEdgesCount: edges to consumer nodes, over all outputs.
  int output_edges(int n) {
    int c = 0;
    for (int v : nodes[n].out)
      if (v >= 0) c += use_count(v);
    return c;
  }
  bool feeds_graph_output(int n) {
    for (int v : nodes[n].out)
      if (v >= 0 && vals[v].graph_output) return true;
    return false;
  }
  // The single consumer node of node n's only used output, or -1.
  int single_consumer(int n) {
    if (output_edges(n) != 1 || feeds_graph_output(n)) return -1;
    for (int v : nodes[n].out)
      if (v >= 0 && use_count(v) == 1) return uses(v)[0].first;
    return -1;
  }
  int producer(int v) const { return v >= 0 ? vals[v].producer : -1; }
  void touch() { dirty_ = true; }

  int add_value(std::string name, DataType dt, std::optional<std::vector<Dim>> shape) {
    SVal sv;
    sv.name = std::move(name);
    sv.dt = dt;
    sv.shape = std::move(shape);
    vals.push_back(std::move(sv));
    dirty_ = true;
    return static_cast<int>(vals.size()) - 1;
  }
  int add_node(SNode n) {
    nodes.push_back(std::move(n));
    int id = static_cast<int>(nodes.size()) - 1;
    for (int v : nodes[id].out)
      if (v >= 0) vals[v].producer = id;
    dirty_ = true;
    return id;
  }
  void kill(int n, const std::string& fate, const std::string& rule) {
    nodes[n].alive = false;
    for (int v : nodes[n].out)
      if (v >= 0 && vals[v].producer == n) vals[v].producer = -1;
    for (int o : nodes[n].origins) removed[o] = {fate, rule};
    dirty_ = true;
  }
  // n absorbs m: m's origins join n; m disappears.
  void absorb(int n, int m, const std::string& rule) {
    for (int o : nodes[m].origins) nodes[n].origins.push_back(o);
    nodes[m].origins.clear();
    nodes[m].alive = false;
    for (int v : nodes[m].out)
      if (v >= 0 && vals[v].producer == m) vals[v].producer = -1;
    nodes[n].rule = rule;
    dirty_ = true;
  }
  // Node n now produces value v (taken over from the node that made it).
  void set_output(int n, size_t slot, int v) {
    if (nodes[n].out.size() <= slot) nodes[n].out.resize(slot + 1, -1);
    int old = nodes[n].out[slot];
    if (old >= 0 && old != v && vals[old].producer == n) vals[old].producer = -1;
    nodes[n].out[slot] = v;
    vals[v].producer = n;
    dirty_ = true;
  }
  // Every use of `from` reads `to` instead (graph outputs too, as ORT's
  // node-removal helpers rename).
  void replace_uses(int from, int to) {
    for (auto& nd : nodes) {
      if (!nd.alive) continue;
      for (int& v : nd.in)
        if (v == from) v = to;
    }
    if (vals[from].graph_output) vals[to].graph_output = true;
    dirty_ = true;
  }

  // Kahn's algorithm, ties broken by the previous position (inserted nodes go
  // where their inputs allow).
  void resort() {
    std::vector<int> pos(nodes.size(), -1);
    {
      int i = 0;
      for (int n : order) pos[n] = i++;
      for (size_t n = 0; n < nodes.size(); ++n)
        if (pos[n] < 0) pos[n] = i++;
    }
    std::vector<int> indeg(nodes.size(), 0);
    std::vector<std::vector<int>> succ(nodes.size());
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (!nodes[n].alive) continue;
      for (int v : nodes[n].in) {
        int p = producer(v);
        if (p >= 0 && nodes[p].alive && p != static_cast<int>(n)) {
          succ[p].push_back(static_cast<int>(n));
          ++indeg[n];
        }
      }
    }
    auto cmp = [&](int a, int b) { return pos[a] > pos[b]; };
    std::priority_queue<int, std::vector<int>, decltype(cmp)> q(cmp);
    for (size_t n = 0; n < nodes.size(); ++n)
      if (nodes[n].alive && indeg[n] == 0) q.push(static_cast<int>(n));
    std::vector<int> out;
    while (!q.empty()) {
      int n = q.top();
      q.pop();
      out.push_back(n);
      for (int s : succ[n])
        if (--indeg[s] == 0) q.push(s);
    }
    // A cycle cannot arise from these rules; keep any leftover in old order.
    if (out.size() < nodes.size()) {
      std::vector<char> placed(nodes.size(), 0);
      for (int n : out) placed[n] = 1;
      for (size_t n = 0; n < nodes.size(); ++n)
        if (nodes[n].alive && !placed[n]) out.push_back(static_cast<int>(n));
    }
    order = std::move(out);
  }

  // ---- node queries
  bool is(int n, std::string_view op, std::string_view domain = "") const {
    return n >= 0 && nodes[n].alive && nodes[n].op == op && nodes[n].domain == domain;
  }
  const Attribute* attr(int n, std::string_view name) const {
    return nodes[n].src ? nodes[n].src->attr(name) : nullptr;
  }
  int64_t attr_int(int n, std::string_view name, int64_t def) const {
    const Attribute* a = attr(n, name);
    return a ? a->i : def;
  }
  std::string attr_str(int n, std::string_view name, std::string def) const {
    auto it = nodes[n].str_attrs.find(std::string(name));
    if (it != nodes[n].str_attrs.end()) return it->second;
    const Attribute* a = attr(n, name);
    return a ? a->s : def;
  }
  bool has_attr(int n, std::string_view name) const {
    return nodes[n].str_attrs.count(std::string(name)) || attr(n, name) != nullptr;
  }
  int in(int n, size_t i) const { return i < nodes[n].in.size() ? nodes[n].in[i] : -1; }
  int out(int n, size_t i = 0) const { return i < nodes[n].out.size() ? nodes[n].out[i] : -1; }
  bool is_const(int v) const { return v >= 0 && vals[v].is_const; }
  const Tensor* tensor(int v) const { return v >= 0 && vals[v].is_const ? vals[v].tensor.get() : nullptr; }
  DataType dt(int v) const { return v >= 0 ? vals[v].dt : DataType::Undefined; }
  std::optional<int64_t> rank(int v) const {
    if (v < 0) return std::nullopt;
    if (!vals[v].shape) {
      // A Reshape to a constant shape of known length has that rank.
      int p = producer(v);
      if (p >= 0 && nodes[p].op == "Reshape" && nodes[p].domain.empty()) {
        auto s = static_shape(in(p, 1));
        if (s && s->size() == 1 && is_const(in(p, 1))) return (*s)[0];
      }
      return std::nullopt;
    }
    return static_cast<int64_t>(vals[v].shape->size());
  }
  std::optional<std::vector<int64_t>> static_shape(int v) const {
    if (v < 0) return std::nullopt;
    if (const Tensor* t = tensor(v)) return t->dims;
    if (!vals[v].shape) return std::nullopt;
    std::vector<int64_t> d;
    for (const Dim& x : *vals[v].shape) {
      if (!x.value) return std::nullopt;
      d.push_back(*x.value);
    }
    return d;
  }
  std::optional<int64_t> const_elems(int v) const {
    if (const Tensor* t = tensor(v)) {
      int64_t n = 1;
      for (int64_t d : t->dims) n *= d;
      return n;
    }
    return std::nullopt;
  }
  // The single float value of a one-element constant, if known.
  std::optional<double> scalar(int v) const {
    if (v >= 0 && vals[v].is_const && vals[v].ints && vals[v].ints->size() == 1)
      return static_cast<double>((*vals[v].ints)[0]);
    const Tensor* t = tensor(v);
    if (!t || const_elems(v) != 1) return std::nullopt;
    DataType dt = t->data_type;
    if (dt != DataType::Float && dt != DataType::Double && dt != DataType::Int64 && dt != DataType::Int32)
      return std::nullopt;
    auto d = to_doubles(*t);
    if (!d) return std::nullopt;
    return (*d)[0];
  }

 private:
  void rebuild() {
    uses_.assign(vals.size(), {});
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (!nodes[n].alive) continue;
      for (size_t i = 0; i < nodes[n].in.size(); ++i)
        if (nodes[n].in[i] >= 0) uses_[nodes[n].in[i]].push_back({static_cast<int>(n), static_cast<int>(i)});
    }
    dirty_ = false;
  }
  std::vector<std::vector<std::pair<int, int>>> uses_;
  bool dirty_ = true;
};

// The Sim of a model's main graph: its values (initializers as ORT treats them: constant unless an IR >= 4
// graph input may override them), its nodes in order, and its graph outputs.
Sim build_sim(const Model& m);

}  // namespace effopt::ort_sim
