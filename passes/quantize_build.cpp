// quantize: building the quantized model from a precision plan (passes/quantize.h).
//
// Per planned tensor W (an initializer or a Constant node's value):
//   W_quantized (int8/uint8/int4/uint4), W_scale (W's float type), W_zero_point (unsigned types)
// and, per reader:
//   DequantizeLinear(W_quantized, W_scale[, W_zero_point]) -> W       every reader that is not below
//   Gather(W_quantized, idx) -> Cast -> Mul(Gather(W_scale_rows, idx)) gathered rows (per-row scales; one
//                                                                     DequantizeLinear per Gather when per-tensor)
//   DynamicQuantizeLinear(A) -> MatMulInteger(A_q, W_quantized, A_zp) -> Cast -> Mul(A_scale * W_scale)
//                                                                     dynamic mode, MatMul/Gemm reading W directly
// The value W keeps its name (it becomes the DequantizeLinear's output), and so
// does every rewritten node's output.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <array>
#include <map>
#include <set>
#include <unordered_map>

#include "exec/thread_pool.h"
#include "ir/dtype.h"
#include "passes/pass_util.h"
#include "passes/quantize.h"

namespace effopt::passes::quant {

TensorPtr make_tensor(DataType t, std::vector<int64_t> dims, std::vector<std::byte> bytes) {
  auto out = std::make_shared<Tensor>();
  out->data_type = t;
  out->dims = std::move(dims);
  out->set_bytes(std::move(bytes));
  return out;
}

namespace {

using util::node_label;

// Scales in the tensor's own float type (float16 only in float16 models).
TensorPtr scale_tensor(const std::vector<float>& scales, std::vector<int64_t> dims, DataType float_type) {
  std::vector<double> d(scales.begin(), scales.end());
  return tensor_from_values(float_type, std::move(dims), d);
}

TensorPtr zero_point_tensor(const std::vector<int32_t>& zps, std::vector<int64_t> dims, DataType t) {
  std::vector<int8_t> v;
  for (int32_t z : zps) v.push_back(static_cast<int8_t>(static_cast<uint8_t>(z & 0xFF)));
  return make_tensor(t, std::move(dims), pack_values(v, t));
}

struct Item {
  const TensorPlan* plan;
  Graph* graph;
  Value* value;
  TensorPtr tensor;
  Node* constant_node;  // when a Constant node holds it
};

class Builder {
 public:
  Builder(Model& m, const Options& o, pass::PassContext& ctx, pass::PassResult& r) : m_(m), o_(o), ctx_(ctx), r_(r) {}

  Status run(const PrecisionPlan& plan) {
    std::vector<Item> items;
    for (const TensorPlan& tp : plan.tensors) {
      if (tp.precision == Precision::Float) continue;
      Graph* g = graph_at(m_, tp.scope);
      Value* v = g ? g->find_local(tp.name) : nullptr;
      if (!v) return internal_error("quantize: the plan names tensor '" + tp.name + "', which this model lacks");
      Item it{&tp, g, v, nullptr, nullptr};
      if (v->initializer) {
        it.tensor = v->initializer;
      } else if (util::is_op(v->producer(), "Constant")) {
        it.constant_node = v->producer();
        const Attribute* a = it.constant_node->attr("value");
        if (a && a->type == AttrType::Tensor) it.tensor = a->t;
      }
      if (!it.tensor || it.tensor->dims != tp.dims)
        return internal_error("quantize: tensor '" + tp.name + "' is not the constant the plan was made for");
      items.push_back(it);
    }
    // The numbers first, tensors in parallel (each tensor's result does not
    // depend on the threads: quantize_values' contract); then the graph
    // edits, which are not thread-safe, in plan order. A few large tensors
    // (fewer than two per thread) are each quantized on all threads instead.
    std::vector<Expected<Quantized>> quantized(items.size(), internal_error("quantize: not run"));
    int threads = std::max(1, ctx_.threads);
    bool across = threads > 1 && items.size() >= 2 * static_cast<size_t>(threads);
    auto one = [&](int64_t i) {
      quantized[static_cast<size_t>(i)] = quantize_numbers(items[static_cast<size_t>(i)], across ? 1 : threads);
    };
    if (across) {
      exec::ThreadPool pool(threads);
      pool.parallel_for(static_cast<int64_t>(items.size()), one);
    } else {
      for (size_t i = 0; i < items.size(); ++i) one(static_cast<int64_t>(i));
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (!quantized[i]) return quantized[i].error();
      EFFOPT_TRY(quantize_one(items[i], std::move(*quantized[i])));
    }
    for (Graph* g : touched_) g->prune_dead_values();
    return ok();
  }

 private:
  // A planned tensor's integers (packed), scales and zero points, as stored.
  struct Quantized {
    QuantizedValues q;
    std::vector<int64_t> dims;  // of the stored integers ([K, N] when store_transposed)
    std::vector<std::byte> packed;
  };

  // Touches nothing but the tensor's bytes: safe on any thread.
  Expected<Quantized> quantize_numbers(const Item& it, int threads) const {
    const TensorPlan& tp = *it.plan;
    std::vector<float> x = tensor_floats(*it.tensor);
    if (x.size() != tp.elements) return internal_error("quantize: cannot read tensor '" + tp.name + "'");
    // The float bytes are read once: a mapped file's pages go back to the page
    // cache now rather than counting in the process's memory until the model is
    // written (a later read maps them in again).
    if (it.tensor->storage) it.tensor->storage->release_file_pages();
    Quantized out;
    out.dims = tp.dims;
    if (tp.store_transposed) {
      // [N, K] -> [K, N]
      int64_t N = out.dims[0], K = out.dims[1];
      std::vector<float> t(x.size());
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) t[static_cast<size_t>(k * N + n)] = x[static_cast<size_t>(n * K + k)];
      x.swap(t);
      out.dims = {K, N};
    }
    out.q = quantize_values(x, out.dims, tp.precision, tp.granularity, tp.symmetric, tp.reduce_range,
                            o_.scale_search, threads);
    std::vector<float>().swap(x);
    out.packed = pack_values(out.q.values, out.q.type);
    std::vector<int8_t>().swap(out.q.values);  // only the packed bytes are used from here on
    return out;
  }

  Status quantize_one(const Item& it, Quantized quantized) {
    const TensorPlan& tp = *it.plan;
    Graph& g = *it.graph;
    Value* v = it.value;
    std::vector<ConstantUse> uses = constant_uses(m_, v, tp.dims, o_);
    const std::vector<int64_t>& dims = quantized.dims;
    QuantizedValues& q = quantized.q;
    uint64_t bytes_before = it.tensor->byte_size();
    Value* qv = util::add_constant(g, ctx_, make_tensor(q.type, dims, std::move(quantized.packed)),
                                   tp.name + "_quantized");
    Value* sv = util::add_constant(g, ctx_, scale_tensor(q.scales, q.scale_dims, tp.float_type), tp.name + "_scale");
    Value* zv = nullptr;
    if (!q.zero_points.empty())
      zv = util::add_constant(g, ctx_, zero_point_tensor(q.zero_points, q.scale_dims, q.type), tp.name + "_zero_point");
    uint64_t bytes_after = util::fixed_constant(qv)->byte_size() + util::fixed_constant(sv)->byte_size() +
                   (zv ? util::fixed_constant(zv)->byte_size() : 0);
    touched_.insert(&g);

    // Readers that take the quantized tensor directly.
    for (const ConstantUse& u : uses) {
      if (u.role == ConstantUse::Role::Embedding) {
        EFFOPT_TRY(gather_then_dequantize(it, u, q, qv, sv, zv));
      } else if (std::find(tp.integer_nodes.begin(), tp.integer_nodes.end(), node_label(*u.node)) !=
                 tp.integer_nodes.end()) {
        EFFOPT_TRY(integer_matmul(it, u, q, qv, sv, zv));
      } else if (tp.store_transposed) {
        u.node->set_attr(Attribute::make_int("transB", 0));
      }
    }
    // Everyone else reads the DequantizeLinear's output, under W's name.
    bool read = !v->uses().empty() || v->is_output_of_any_graph();
    if (read) {
      std::vector<Value*> inputs = {qv, sv};
      if (zv) inputs.push_back(zv);
      std::vector<Attribute> attrs;
      if (tp.granularity.kind != Granularity::Kind::PerTensor)
        attrs.push_back(Attribute::make_int("axis", tp.granularity.axis));
      if (tp.granularity.kind == Granularity::Kind::Blocked)
        attrs.push_back(Attribute::make_int("block_size", tp.granularity.block_size));
      Node* dq = replace_producer(g, it, "DequantizeLinear", inputs);
      dq->name = g.unique_name(tp.name + "_DequantizeLinear");
      dq->attributes = std::move(attrs);
      std::vector<Dim> shape;
      for (int64_t d : dims) shape.push_back(Dim::known(d));
      v->type = Type::tensor(tp.float_type, shape);
      r_.count("dequantize-nodes");
    } else {
      remove_constant(g, it);
    }
    r_.count(std::string("tensors-") + precision_name(tp.precision));
    r_.count("weight-bytes-before", static_cast<int64_t>(bytes_before));
    r_.count("weight-bytes-after", static_cast<int64_t>(bytes_after));
    r_.changed = true;
    return ok();
  }

  // Makes `v` (the planned constant) the output of a new node instead of an
  // initializer or a Constant node, placed right before its first reader.
  Node* replace_producer(Graph& g, const Item& it, std::string op, std::vector<Value*> inputs) {
    Value* v = it.value;
    // Right before its first reader: the float tensor lives only as long as
    // needed (placed first, every dequantized weight would be alive from the
    // start: resnet18's predicted peak activation memory went 6.4 MB -> 53 MB).
    size_t pos = g.nodes().size();
    for (const Use& u : v->uses()) {
      const Node* n = u.node;
      while (n && n->graph() != &g) n = n->graph()->owner_node();
      if (n) pos = std::min(pos, g.index_of(n));
    }
    if (it.constant_node) {
      if (g.index_of(it.constant_node) < pos) --pos;
      std::vector<Use> saved = util::detach_uses(v);
      g.erase_node(it.constant_node);
      Node* n = g.create_node_with_outputs(std::move(op), std::move(inputs), {v}, "", pos);
      util::restore_uses(v, saved);
      return n;
    }
    g.remove_initializer(v);
    return g.create_node_with_outputs(std::move(op), std::move(inputs), {v}, "", pos);
  }

  void remove_constant(Graph& g, const Item& it) {
    if (it.constant_node) g.erase_node(it.constant_node);
    else g.remove_initializer(it.value);
  }

  // A rewritten reader read the stored constant through `input`, an Identity
  // chain: erases the Identity nodes nobody reads any more.
  void drop_identity_chain(Value* input) {
    Node* p = input ? input->producer() : nullptr;
    while (util::is_op(p, "Identity") && p->output(0)->uses().empty() && !p->output(0)->is_output_of_any_graph()) {
      Value* next = p->input(0);
      Graph* g = p->graph();
      g->erase_node(p);
      touched_.insert(g);
      p = next ? next->producer() : nullptr;
    }
  }

  // Gather(W, idx) -> Gather(W_quantized, idx) dequantized with the gathered rows' scales.
  Status gather_then_dequantize(const Item& it, const ConstantUse& u, const QuantizedValues& q, Value* qv, Value* sv,
                                Value* zv) {
    const TensorPlan& tp = *it.plan;
    Node* G = u.node;
    Graph& gg = *G->graph();
    Value* out = G->output(0);
    Value* idx = G->input(1);
    Value* table = G->input(0);
    int64_t rank = static_cast<int64_t>(tp.dims.size());
    int64_t axis = G->attr_int("axis", 0);
    if (axis < 0) axis += rank;
    // New nodes go in front of G; the last one takes over G's output.
    size_t pos = gg.index_of(G);
    std::string base = out->name();
    auto named = [&](std::string op, std::vector<Value*> in, const std::string& hint) {
      Node* n = gg.create_node(std::move(op), std::move(in), {gg.unique_name(hint)}, "", pos++);
      n->name = n->output(0)->name();
      return n;
    };
    auto gather = [&](Value* t, const std::string& hint) {
      Node* n = named("Gather", {t, idx}, hint);
      if (axis != 0) n->set_attr(Attribute::make_int("axis", axis));
      return n->output(0);
    };
    Value* rows = gather(qv, base + "_quantized_rows");
    std::string final_op;
    std::vector<Value*> final_in;
    if (tp.granularity.kind == Granularity::Kind::PerAxis) {
      // Per-row scales shaped to broadcast over the gathered rows: [1.., V, ..1].
      std::vector<int64_t> sdims(static_cast<size_t>(rank), 1);
      sdims[static_cast<size_t>(axis)] = tp.dims[static_cast<size_t>(axis)];
      Value* srows_c = util::add_constant(*it.graph, ctx_, scale_tensor(q.scales, sdims, tp.float_type),
                                          tp.name + "_row_scale");
      Value* srows = gather(srows_c, base + "_row_scales");
      Node* cast = named("Cast", {rows}, base + "_rows_float");
      cast->set_attr(Attribute::make_int("to", static_cast<int64_t>(tp.float_type)));
      Value* f = cast->output(0);
      if (zv) {
        Value* zrows_c = util::add_constant(*it.graph, ctx_, zero_point_tensor(q.zero_points, sdims, q.type),
                                            tp.name + "_row_zero_point");
        Node* zc = named("Cast", {gather(zrows_c, base + "_row_zero_points")}, base + "_row_zero_points_float");
        zc->set_attr(Attribute::make_int("to", static_cast<int64_t>(tp.float_type)));
        f = named("Sub", {f, zc->output(0)}, base + "_rows_centered")->output(0);
      }
      final_op = "Mul";
      final_in = {f, srows};
    } else {
      final_op = "DequantizeLinear";
      final_in = {rows, sv};
      if (zv) final_in.push_back(zv);
      r_.count("dequantize-nodes");
    }
    std::vector<Use> saved = util::detach_uses(out);
    gg.erase_node(G);
    Node* last = gg.create_node_with_outputs(final_op, final_in, {out}, "", pos);
    last->name = gg.unique_name(base + "_dequantize");
    util::restore_uses(out, saved);
    drop_identity_chain(table);
    touched_.insert(&gg);
    r_.count("gathers-dequantized-after");
    return ok();
  }

  // The DynamicQuantizeLinear of activation `a`, shared by every integer
  // MatMul reading it in the same graph; placed right after a's producer.
  std::array<Value*, 3> dynamic_quantized(Graph& g, Value* a) {
    auto key = std::make_pair(&g, a);
    auto found = dql_.find(key);
    if (found != dql_.end()) return found->second;
    size_t pos = 0;
    if (a->producer() && a->producer()->graph() == &g) pos = g.index_of(a->producer()) + 1;
    std::string base = a->name();
    Node* n = g.create_node("DynamicQuantizeLinear", {a},
                            {g.unique_name(base + "_quantized"), g.unique_name(base + "_scale"),
                             g.unique_name(base + "_zero_point")},
                            "", pos);
    n->name = g.unique_name(base + "_DynamicQuantizeLinear");
    std::array<Value*, 3> outs = {n->output(0), n->output(1), n->output(2)};
    dql_[key] = outs;
    r_.count("dynamic-quantize-nodes");
    return outs;
  }

  // MatMul(A, W) / Gemm(A, W, C) -> MatMulInteger on DynamicQuantizeLinear(A), scaled back to float.
  Status integer_matmul(const Item& it, const ConstantUse& u, const QuantizedValues& q, Value* qv, Value* sv,
                        Value* zv) {
    const TensorPlan& tp = *it.plan;
    Node* N = u.node;
    Graph& gn = *N->graph();
    Value* a = N->input(0);
    Value* out = N->output(0);
    Value* weight = N->input(1);
    Value* c = N->op_type == "Gemm" ? N->input(2) : nullptr;
    double alpha = N->op_type == "Gemm" ? N->attr_float("alpha", 1.f) : 1.0;
    double beta = N->op_type == "Gemm" ? N->attr_float("beta", 1.f) : 1.0;
    auto dq = dynamic_quantized(gn, a);
    size_t pos = gn.index_of(N);
    std::string base = out->name();
    auto named = [&](std::string op, std::vector<Value*> in, const std::string& hint) {
      Node* n = gn.create_node(std::move(op), std::move(in), {gn.unique_name(hint)}, "", pos++);
      n->name = n->output(0)->name();
      return n;
    };
    std::vector<Value*> mm_in = {dq[0], qv, dq[2]};
    if (zv) mm_in.push_back(zv);
    Node* mm = named("MatMulInteger", mm_in, base + "_int32");
    Node* cast = named("Cast", {mm->output(0)}, base + "_int32_float");
    cast->set_attr(Attribute::make_int("to", static_cast<int64_t>(DataType::Float)));
    Value* wscale = sv;
    if (alpha != 1.0) {
      std::vector<float> s = q.scales;
      for (float& x : s) x = static_cast<float>(x * alpha);
      wscale = util::add_constant(*it.graph, ctx_, scale_tensor(s, q.scale_dims, DataType::Float),
                                  tp.name + "_scale_alpha");
    }
    // A_scale * W_scale first: ONNX Runtime fuses this form into MatMulIntegerToFloat.
    Node* sm = named("Mul", {dq[1], wscale}, base + "_scale");
    std::string final_op = "Mul";
    std::vector<Value*> final_in = {cast->output(0), sm->output(0)};
    if (c) {
      Value* bias = c;
      if (beta != 1.0) {
        // The bias is untied for this reader: beta * C, its own tensor.
        TensorPtr ct = util::fixed_constant(c);
        auto cv = ct ? to_doubles(*ct) : std::nullopt;
        if (cv) {
          for (double& x : *cv) x *= beta;
          bias = util::add_constant(gn, ctx_, tensor_from_values(ct->data_type, ct->dims, *cv), c->name() + "_beta");
          r_.count("biases-untied");
        } else {
          Value* b = util::add_constant(gn, ctx_, tensor_from_values(DataType::Float, {}, {beta}), base + "_beta");
          bias = named("Mul", {c, b}, base + "_bias")->output(0);
        }
      }
      final_in = {named("Mul", final_in, base + "_matmul")->output(0), bias};
      final_op = "Add";
    }
    std::vector<Use> saved = util::detach_uses(out);
    gn.erase_node(N);
    Node* last = gn.create_node_with_outputs(final_op, final_in, {out}, "", pos);
    last->name = gn.unique_name(base + (c ? "_bias_add" : "_MatMulInteger_scaled"));
    util::restore_uses(out, saved);
    drop_identity_chain(weight);
    touched_.insert(&gn);
    r_.count("integer-matmuls");
    return ok();
  }

  Model& m_;
  const Options& o_;
  pass::PassContext& ctx_;
  pass::PassResult& r_;
  std::map<std::pair<Graph*, Value*>, std::array<Value*, 3>> dql_;
  std::set<Graph*> touched_;
};

}  // namespace

Status build_quantized(Model& m, const PrecisionPlan& plan, const Options& o, pass::PassContext& ctx,
                       pass::PassResult& r) {
  Builder b(m, o, ctx, r);
  return b.run(plan);
}

}  // namespace effopt::passes::quant
