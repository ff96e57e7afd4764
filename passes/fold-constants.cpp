// fold-constants: evaluates nodes whose inputs are all constant and stores their results where the model does not grow.
#include <algorithm>
#include <limits>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "ir/constants.h"
#include "onnx/model_io.h"
#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

using namespace util;

constexpr int64_t kInf = std::numeric_limits<int64_t>::max() / 4;

// Dinic's maximum flow; after run(), reaches_sink(v) says whether v can still
// reach the sink in the residual graph (the sink side of the maximal source
// side of a minimum cut).
class MaxFlow {
 public:
  explicit MaxFlow(size_t n) : adj_(n), level_(n), next_(n) {}
  size_t add_node() {
    adj_.emplace_back();
    level_.push_back(0);
    next_.push_back(0);
    return adj_.size() - 1;
  }
  void add_edge(size_t from, size_t to, int64_t cap) {
    if (cap <= 0) return;
    adj_[from].push_back({to, adj_[to].size(), cap});
    adj_[to].push_back({from, adj_[from].size() - 1, 0});
  }
  void run(size_t s, size_t t) {
    while (bfs(s, t)) {
      std::fill(next_.begin(), next_.end(), 0);
      while (push(s, t, kInf) > 0) {
      }
    }
  }
  std::vector<bool> reaches_sink(size_t t) const {
    std::vector<bool> seen(adj_.size(), false);
    std::vector<size_t> stack = {t};
    seen[t] = true;
    while (!stack.empty()) {
      size_t v = stack.back();
      stack.pop_back();
      for (const Edge& e : adj_[v]) {
        // u -> v has residual capacity when the reverse entry stored at v has flow to undo.
        const Edge& fwd = adj_[e.to][e.rev];
        if (!seen[e.to] && fwd.cap > 0) {
          seen[e.to] = true;
          stack.push_back(e.to);
        }
      }
    }
    return seen;
  }

 private:
  struct Edge {
    size_t to, rev;
    int64_t cap;
  };
  bool bfs(size_t s, size_t t) {
    std::fill(level_.begin(), level_.end(), -1);
    std::queue<size_t> q;
    level_[s] = 0;
    q.push(s);
    while (!q.empty()) {
      size_t v = q.front();
      q.pop();
      for (const Edge& e : adj_[v])
        if (e.cap > 0 && level_[e.to] < 0) {
          level_[e.to] = level_[v] + 1;
          q.push(e.to);
        }
    }
    return level_[t] >= 0;
  }
  // Iterative augmenting-path search along the level graph (no recursion:
  // chains of thousands of nodes).
  int64_t push(size_t s, size_t t, int64_t limit) {
    std::vector<std::pair<size_t, size_t>> path;  // (node, edge index)
    size_t v = s;
    while (true) {
      if (v == t) {
        int64_t f = limit;
        for (auto [u, i] : path) f = std::min(f, adj_[u][i].cap);
        for (auto [u, i] : path) {
          Edge& e = adj_[u][i];
          e.cap -= f;
          adj_[e.to][e.rev].cap += f;
        }
        return f;
      }
      bool advanced = false;
      for (size_t& i = next_[v]; i < adj_[v].size(); ++i) {
        const Edge& e = adj_[v][i];
        if (e.cap > 0 && level_[e.to] == level_[v] + 1) {
          path.emplace_back(v, i);
          v = e.to;
          advanced = true;
          break;
        }
      }
      if (advanced) continue;
      if (path.empty()) return 0;
      level_[v] = -1;  // dead end
      v = path.back().first;
      path.pop_back();
      ++next_[v];
    }
  }
  std::vector<std::vector<Edge>> adj_;
  std::vector<int> level_;
  std::vector<size_t> next_;
};

struct Candidate {
  Node* node;
  std::vector<TensorPtr> results;  // one per output (nullptr: absent output)
  size_t cls = 0;
};

// Candidates with equal results: folded or kept together, stored once.
struct FoldClass {
  std::vector<size_t> members;  // candidate indices, in graph order
  int64_t keep_bytes = 0;       // the members' node bytes, one member per graph
  int64_t store_bytes = 0;      // the results' initializer bytes
  bool outside_reader = false;  // read by a node that is not a candidate
  std::vector<size_t> reader_classes;
};

// Input constants of candidates with equal contents (dedup-initializers
// merges them): alive while a kept candidate reads one of them. Groups that a
// non-candidate reads stay whatever is folded and are left out.
struct Leaf {
  std::vector<Value*> values;
  int64_t bytes = 0;  // one copy
  std::vector<size_t> reader_classes;
  bool stays = false;
};

bool same_results(const std::vector<TensorPtr>& a, const std::vector<TensorPtr>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i] != !b[i]) return false;
    if (a[i] && !same_tensor_contents(*a[i], *b[i])) return false;
  }
  return true;
}

class Folder {
 public:
  Folder(Graph& root, pass::PassContext& ctx, pass::PassResult& r)
      : root_(root), ctx_(ctx), r_(r), pinned_(*ctx.pinned), external_(writes_external_data(ctx.model)) {
    max_bytes_ = static_cast<uint64_t>(ctx.options.get_int("max-bytes"));
    max_growth_ = ctx.options.get_int("max-growth-bytes");
  }

  void run() {
    collect(root_);
    if (cands_.empty()) return;
    group();
    build_costs();
    std::vector<bool> fold = smallest();
    spend_growth(fold);
    int64_t saved = cost(std::vector<bool>(classes_.size(), false)) - cost(fold);
    note_kept(fold);
    apply(fold);
    r_.count("bytes-saved", saved);
  }

 private:
  // Every candidate below `g`, in an order where each value is computed before
  // it is read (a subgraph's nodes come before the node that owns it).
  void collect(Graph& g) {
    for (auto& up : g.nodes()) {
      Node* n = up.get();
      for (Graph* sg : n->subgraphs()) collect(*sg);
      std::vector<TensorPtr> ins;
      bool constant = true;
      for (Value* v : n->inputs()) {
        if (!v) { ins.push_back(nullptr); continue; }
        auto it = computed_.find(v);
        TensorPtr t = it != computed_.end() ? it->second : fixed_constant(v);
        if (!t) { constant = false; break; }
        ins.push_back(std::move(t));
      }
      if (!constant) continue;
      auto res = fold_results(*n, ins, ctx_, max_bytes_, pinned_, r_);
      if (!res) continue;
      for (size_t i = 0; i < res->size(); ++i)
        if (n->output(i) && (*res)[i]) computed_[n->output(i)] = (*res)[i];
      index_[n] = cands_.size();
      cands_.push_back({n, std::move(*res)});
    }
  }

  void group() {
    std::unordered_map<uint64_t, std::vector<size_t>> by_hash;  // hash -> class indices
    for (size_t i = 0; i < cands_.size(); ++i) {
      uint64_t h = 0;
      for (const TensorPtr& t : cands_[i].results) h = h * 1000003u ^ (t ? tensor_content_hash(*t) : 0);
      size_t cls = SIZE_MAX;
      for (size_t k : by_hash[h])
        if (same_results(cands_[classes_[k].members[0]].results, cands_[i].results)) cls = k;
      if (cls == SIZE_MAX) {
        cls = classes_.size();
        classes_.emplace_back();
        by_hash[h].push_back(cls);
      }
      classes_[cls].members.push_back(i);
      cands_[i].cls = cls;
    }
  }

  // Whether `n` is a candidate; its class.
  std::optional<size_t> class_of(const Node* n) const {
    auto it = index_.find(n);
    if (it == index_.end()) return std::nullopt;
    return cands_[it->second].cls;
  }

  // Costs are what the model costs once eliminate-common-subexpressions and
  // dedup-initializers have merged what they can: kept members of one class
  // count once per graph, equal input constants once. That underestimates
  // keeping (never folding), so a model whose kept nodes are not merged
  // later still does not grow.
  void build_costs() {
    std::unordered_map<const Value*, size_t> leaf_of;  // input constant -> leaf group
    std::unordered_map<uint64_t, std::vector<size_t>> leaf_by_hash;
    for (size_t k = 0; k < classes_.size(); ++k) {
      FoldClass& c = classes_[k];
      const Candidate& rep = cands_[c.members[0]];
      std::vector<bool> output_read(rep.results.size(), false);
      std::unordered_map<const Graph*, int64_t> per_graph;  // cheapest member of each graph
      for (size_t m : c.members) {
        const Candidate& cand = cands_[m];
        int64_t bytes = static_cast<int64_t>(stored_node_bytes(*cand.node, external_));
        auto [it, fresh] = per_graph.emplace(cand.node->graph(), bytes);
        if (!fresh) it->second = std::min(it->second, bytes);
        for (size_t i = 0; i < cand.node->outputs().size(); ++i) {
          const Value* o = cand.node->output(i);
          if (!o) continue;
          for (const Use& u : o->uses()) {
            output_read[i] = true;
            if (auto j = class_of(u.node)) c.reader_classes.push_back(*j);
            else c.outside_reader = true;
          }
        }
        for (Value* v : cand.node->inputs()) {
          if (!v || computed_.count(v)) continue;
          auto it_leaf = leaf_of.find(v);
          if (it_leaf == leaf_of.end()) it_leaf = leaf_of.emplace(v, leaf_group(v, leaf_by_hash)).first;
          leaves_[it_leaf->second].reader_classes.push_back(k);
        }
      }
      for (auto& [g, bytes] : per_graph) c.keep_bytes += bytes;
      for (size_t i = 0; i < rep.results.size(); ++i)
        if (output_read[i] && rep.results[i])
          c.store_bytes +=
              static_cast<int64_t>(stored_initializer_bytes(*rep.results[i], rep.node->output(i)->name(), external_));
      dedup(c.reader_classes);
    }
    for (Leaf& l : leaves_) dedup(l.reader_classes);
    input_classes_.assign(classes_.size(), {});
    input_leaves_.assign(classes_.size(), {});
    for (size_t j = 0; j < classes_.size(); ++j)
      for (size_t k : classes_[j].reader_classes) input_classes_[k].push_back(j);
    for (size_t l = 0; l < leaves_.size(); ++l)
      if (!leaves_[l].stays)
        for (size_t k : leaves_[l].reader_classes) input_leaves_[k].push_back(l);
  }

  // The leaf group of constant input `v` (a new one unless an equal constant has one).
  size_t leaf_group(Value* v, std::unordered_map<uint64_t, std::vector<size_t>>& by_hash) {
    TensorPtr t = fixed_constant(v);
    uint64_t h = tensor_content_hash(*t);
    for (size_t i : by_hash[h])
      if (same_tensor_contents(*fixed_constant(leaves_[i].values[0]), *t)) {
        add_to_leaf(leaves_[i], v);
        return i;
      }
    by_hash[h].push_back(leaves_.size());
    leaves_.emplace_back();
    add_to_leaf(leaves_.back(), v);
    return leaves_.size() - 1;
  }

  // Adds `v` to `l`; the group stays whatever is folded when `v` is read by a
  // non-candidate, pinned, overridable, or reached through an Identity chain.
  void add_to_leaf(Leaf& l, Value* v) {
    l.values.push_back(v);
    int64_t bytes = -1;
    if (!pinned_(v)) {
      if (v->initializer && !is_overridable_initializer(v))
        bytes = static_cast<int64_t>(stored_initializer_bytes(*v->initializer, v->name(), external_));
      else if (Node* p = v->producer(); p && p->op_type == "Constant" && p->outputs().size() == 1)
        bytes = static_cast<int64_t>(stored_node_bytes(*p, external_));
      for (const Use& u : v->uses())
        if (!class_of(u.node)) bytes = -1;
    }
    if (bytes < 0) l.stays = true;
    else l.bytes = l.values.size() == 1 ? bytes : std::min(l.bytes, bytes);
  }

  static void dedup(std::vector<size_t>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }

  // Stored bytes of the candidates' part of the model when the classes with
  // fold[k] are folded (the rest of the model does not change).
  int64_t cost(const std::vector<bool>& fold) const {
    int64_t total = 0;
    for (size_t k = 0; k < classes_.size(); ++k) {
      const FoldClass& c = classes_[k];
      if (!fold[k]) {
        total += c.keep_bytes;
        continue;
      }
      bool needed = c.outside_reader;
      for (size_t j : c.reader_classes) needed = needed || !fold[j];
      if (needed) total += c.store_bytes;
    }
    for (const Leaf& l : leaves_) {
      if (l.stays) continue;
      bool alive = false;
      for (size_t j : l.reader_classes) alive = alive || !fold[j];
      if (alive) total += l.bytes;
    }
    return total;
  }

  // The fold set of the smallest model (the largest such set): a minimum
  // cut. Source side = folded, sink side = kept; an edge u -> v is cut when
  // u is folded and v kept.
  std::vector<bool> smallest() const {
    const size_t s = 0, t = 1, base = 2;
    MaxFlow flow(base + classes_.size());
    for (size_t k = 0; k < classes_.size(); ++k) {
      const FoldClass& c = classes_[k];
      size_t x = base + k;
      flow.add_edge(s, x, c.keep_bytes);  // kept: its nodes stay
      if (c.outside_reader) {
        flow.add_edge(x, t, c.store_bytes);  // folded: the result is stored
      } else if (!c.reader_classes.empty()) {
        // needed (z kept) when a reader is kept; folded with z kept: stored.
        size_t z = flow.add_node();
        flow.add_edge(x, z, c.store_bytes);
        for (size_t j : c.reader_classes) flow.add_edge(z, base + j, kInf);
      }
    }
    for (const Leaf& l : leaves_) {
      if (l.stays) continue;
      size_t y = flow.add_node();  // kept = the constant stays
      flow.add_edge(s, y, l.bytes);
      for (size_t j : l.reader_classes) flow.add_edge(y, base + j, kInf);
    }
    flow.run(s, t);
    std::vector<bool> kept = flow.reaches_sink(t);
    std::vector<bool> fold(classes_.size());
    for (size_t k = 0; k < classes_.size(); ++k) fold[k] = !kept[base + k];
    return fold;
  }

  // The cost change of folding kept classes one at a time, kept up to date
  // as they fold (cost() per candidate would be quadratic in the candidates).
  class Tally {
   public:
    Tally(const Folder& f, std::vector<bool>& fold)
        : f_(f), fold_(fold), kept_readers_(f.classes_.size(), 0), leaf_kept_(f.leaves_.size(), 0) {
      for (size_t j = 0; j < f.classes_.size(); ++j)
        for (size_t k : f.classes_[j].reader_classes) kept_readers_[j] += !fold[k];
      for (size_t l = 0; l < f.leaves_.size(); ++l)
        for (size_t k : f.leaves_[l].reader_classes) leaf_kept_[l] += !fold[k];
    }
    // Bytes the model gains when kept class k folds too.
    int64_t fold_delta(size_t k) const {
      const FoldClass& c = f_.classes_[k];
      int64_t d = -c.keep_bytes;
      auto needed_after = [&](size_t j) {
        bool reads_self = std::binary_search(f_.classes_[j].reader_classes.begin(),
                                             f_.classes_[j].reader_classes.end(), k);
        return f_.classes_[j].outside_reader || kept_readers_[j] - (reads_self ? 1 : 0) > 0;
      };
      if (needed_after(k)) d += c.store_bytes;
      for (size_t j : f_.input_classes_[k]) {
        if (j == k || !fold_[j]) continue;
        bool needed_before = f_.classes_[j].outside_reader || kept_readers_[j] > 0;
        if (needed_before && !needed_after(j)) d -= f_.classes_[j].store_bytes;
      }
      for (size_t l : f_.input_leaves_[k])
        if (leaf_kept_[l] == 1) d -= f_.leaves_[l].bytes;
      return d;
    }
    void fold(size_t k) {
      fold_[k] = true;
      for (size_t j : f_.input_classes_[k]) --kept_readers_[j];
      for (size_t l : f_.input_leaves_[k]) --leaf_kept_[l];
    }

   private:
    const Folder& f_;
    std::vector<bool>& fold_;
    std::vector<int64_t> kept_readers_, leaf_kept_;
  };

  // max-growth-bytes: folds kept classes in graph order while the stored
  // bytes stay within the budget above the smallest model.
  void spend_growth(std::vector<bool>& fold) const {
    if (max_growth_ <= 0) return;
    Tally tally(*this, fold);
    int64_t spent = 0;
    for (size_t k = 0; k < classes_.size(); ++k) {
      if (fold[k]) continue;
      int64_t d = tally.fold_delta(k);
      if (spent + d > max_growth_) continue;
      tally.fold(k);
      spent += d;
    }
  }

  void note_kept(std::vector<bool> fold) {
    Tally tally(*this, fold);
    for (size_t k = 0; k < classes_.size(); ++k) {
      if (fold[k]) continue;
      const FoldClass& c = classes_[k];
      std::string also = c.members.size() > 1 ? " (and " + std::to_string(c.members.size() - 1) + " equal nodes)" : "";
      r_.note(node_label(*cands_[c.members[0]].node) + also + ": not folded, storing its result would grow the model by " +
              std::to_string(tally.fold_delta(k)) + " bytes (max-growth-bytes " + std::to_string(max_growth_) + ")");
      r_.count("folds-skipped-growth", static_cast<int64_t>(c.members.size()));
    }
  }

  void apply(const std::vector<bool>& fold) {
    bool any = false;
    for (bool f : fold) any = any || f;
    if (!any) return;
    std::unordered_set<Graph*> touched = {&root_};
    std::vector<bool> erased(cands_.size(), false);
    // Store each needed class once, in the main graph, under its first
    // member's output names; every member's readers read it.
    for (size_t k = 0; k < classes_.size(); ++k) {
      if (!fold[k]) continue;
      const FoldClass& c = classes_[k];
      bool needed = c.outside_reader;
      for (size_t j : c.reader_classes) needed = needed || !fold[j];
      if (!needed) continue;
      const Candidate& rep = cands_[c.members[0]];
      size_t outputs = rep.node->outputs().size();
      std::vector<std::vector<Use>> uses(outputs);
      for (size_t m : c.members)
        for (size_t i = 0; i < outputs; ++i)
          if (Value* o = cands_[m].node->output(i)) {
            std::vector<Use> u = detach_uses(o);
            uses[i].insert(uses[i].end(), u.begin(), u.end());
          }
      std::vector<std::string> names;
      for (size_t i = 0; i < outputs; ++i) names.push_back(rep.node->output(i) ? rep.node->output(i)->name() : "");
      // The representative goes first, so the main graph can take its names
      // (a value of a subgraph is pruned first: no shadowing).
      Graph* home = rep.node->graph();
      erase_node_deep(*home, rep.node);
      erased[c.members[0]] = true;
      r_.count("nodes-folded");
      touched.insert(home);
      if (home != &root_) home->prune_dead_values();
      for (size_t i = 0; i < outputs; ++i) {
        if (uses[i].empty() || !rep.results[i]) continue;
        auto t = std::make_shared<Tensor>(*rep.results[i]);
        t->name = names[i];
        t->external.reset();  // written wherever the exporter decides
        Value* v = root_.add_initializer(t);
        if (!v) {
          t->name = root_.unique_name(names[i]);
          v = root_.add_initializer(t);
        }
        restore_uses(v, uses[i]);
        r_.count("tensors-folded");
        r_.count("bytes-folded", static_cast<int64_t>(t->byte_size()));
      }
    }
    // Erase the other folded nodes, readers before the nodes they read.
    for (size_t i = cands_.size(); i-- > 0;) {
      if (erased[i] || !fold[cands_[i].cls]) continue;
      Node* n = cands_[i].node;
      Graph* g = n->graph();
      touched.insert(g);
      erase_node_deep(*g, n);
      r_.count("nodes-folded");
    }
    // Constants that only folded nodes read.
    for (const Leaf& l : leaves_)
      for (Value* v : l.values) {
        if (!v->uses().empty() || pinned_(v)) continue;
        Graph* g = v->graph();
        touched.insert(g);
        if (v->initializer) {
          if (v->is_graph_input()) continue;  // an overridable default (IR >= 4) stays
          g->remove_initializer(v);
          r_.count("constants-removed");
        } else if (Node* p = v->producer(); p && p->op_type == "Constant") {
          if (erase_if_dead(*g, p, pinned_)) r_.count("constants-removed");
        }
      }
    for (Graph* g : touched) g->prune_dead_values();
    r_.changed = true;
  }

  Graph& root_;
  pass::PassContext& ctx_;
  pass::PassResult& r_;
  const Pinned& pinned_;
  bool external_;
  uint64_t max_bytes_ = 0;
  int64_t max_growth_ = 0;
  std::vector<Candidate> cands_;
  std::unordered_map<const Node*, size_t> index_;
  std::unordered_map<const Value*, TensorPtr> computed_;
  std::vector<FoldClass> classes_;
  std::vector<Leaf> leaves_;
  std::vector<std::vector<size_t>> input_classes_;  // per class: the classes whose results it reads
  std::vector<std::vector<size_t>> input_leaves_;   // per class: the leaf groups it reads (not staying)
};

Expected<pass::PassResult> run(Graph& g, pass::PassContext& ctx) {
  pass::PassResult r;
  if (in_function_body(g, ctx.model)) return r;  // functions have no initializers
  // The run on the main graph folds the candidates of every subgraph too, so
  // equal results of several branches are stored once.
  if (&g != ctx.model.graph.get()) return r;
  Folder(g, ctx, r).run();
  return r;
}

}  // namespace

void register_fold_constants(pass::PassRegistry& r) {
  pass::PassInfo info;
  info.name = "fold-constants";
  info.summary = "Evaluates nodes with constant inputs on the executor; results become initializers where the model does not grow";
  info.doc =
      "Evaluates nodes whose inputs are all constant and stores their results as initializers, where that does "
      "not make the model bigger. Each candidate runs on effopt's executor (a one-node model), so results are "
      "bit-identical on every machine and thread count: the pass is deterministic.\n"
      "\n"
      "When: a node (ai.onnx or any domain the executor runs), in the main graph or in any subgraph below it, "
      "whose every present input is a fixed constant (an initializer no feed can override, a Constant node, an "
      "Identity of those) or the result of another candidate, and whose every output takes at most max-bytes. "
      "Of those, the pass folds the set that makes the stored model (model file plus external data, the "
      "report's file_bytes, counted with the exporter's own serialization) smallest: a folded node's bytes go, "
      "and so does every initializer or Constant node that only folded nodes read; a folded result is stored "
      "only where something that stays reads it (a chain costs its final tensor alone); equal results are "
      "stored once, in the main graph, where every subgraph reads them (two If branches that Unsqueeze one outer "
      "weight share one tensor). The choice is a minimum s-t cut, taking the most nodes among the smallest "
      "models; kept nodes with equal results and equal input constants count once, as "
      "eliminate-common-subexpressions and dedup-initializers leave them (that underestimates keeping, never "
      "folding, so the pass alone never grows a model). max-growth-bytes G (default 0) then folds further kept "
      "nodes, in graph order, while the stored bytes stay within G of that minimum: a run grows the model by at "
      "most G bytes. So a ConstantOfShape whose 4-byte value would become a 9 MB weight stays, a Transpose of a "
      "weight only it reads folds (same bytes, one node less), shape arithmetic folds. For external-data models "
      "each tensor of 1 KiB or more counts its 4 KiB-aligned slot in the data file.\n"
      "\n"
      "Not when (a note says why): QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear (Q/DQ pairs carry "
      "quantization for the runtime); random ops, Dropout, Identity (eliminate-identity's job), Constant "
      "(hoist-constants), nodes with subgraphs, nodes writing a graph output; outputs over max-bytes (for "
      "ConstantOfShape, Expand, Tile, Range, Pad, MatMul, Gather and broadcasting ops the size is predicted "
      "before running, so a ConstantOfShape building a 400 MB weight is never even computed); folds that would "
      "make the model bigger (beyond max-growth-bytes); ops the executor cannot run (skipped with its message); "
      "function bodies (FunctionProto has no initializers).\n"
      "\n"
      "Before: S = Constant<value = int64[2] {2, 3}>(); Z = ConstantOfShape(S); Y = Add(X, Z)\n"
      "After:  initializer float[2,3] Z = {0, 0, 0, 0, 0, 0}; Y = Add(X, Z)";
  pass::OptionSpec max_bytes;
  max_bytes.name = "max-bytes";
  max_bytes.type = pass::OptionType::Int;
  max_bytes.default_value = "1048576";
  max_bytes.help = "largest folded output, in bytes";
  max_bytes.min = 0;
  info.options.push_back(max_bytes);
  pass::OptionSpec max_growth;
  max_growth.name = "max-growth-bytes";
  max_growth.type = pass::OptionType::Int;
  max_growth.default_value = "0";
  max_growth.help = "bytes a run may add to the stored model (above the smallest it can reach) to fold more nodes";
  max_growth.min = 0;
  info.options.push_back(max_growth);
  info.run_on_graph = run;
  r.add(std::move(info));
}

}  // namespace effopt::passes
