// sparse-storage{mode=auto|on|off}: store mostly-zero initializers as ONNX sparse initializers.
#include <cassert>
#include <cstring>
#include <optional>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

// Why `v` (an int8/uint8 initializer) may be stored sparse: every reader is a
// DequantizeLinear reading it as x with a zero point absent or all zero.
bool zero_is_zero_point(const Value* v) {
  if (v->uses().empty()) return false;
  for (const Use& u : v->uses()) {
    const Node* n = u.node;
    if (!util::is_op(n, "DequantizeLinear") || u.index != 0) return false;
    if (n->inputs().size() > 2 && n->input(2)) {
      auto zp = util::constant_doubles(n->input(2));
      if (!zp) return false;
      for (double z : *zp)
        if (z != 0) return false;
    }
  }
  return true;
}

bool is_zero_element(const std::byte* p, size_t es, DataType t) {
  // +0 and -0 are both zero; -0 stored sparse becomes +0, which no op tells apart in a weight.
  if (t == DataType::Float) {
    float f;
    std::memcpy(&f, p, 4);
    return f == 0.0f;
  }
  if (t == DataType::Double) {
    double d;
    std::memcpy(&d, p, 8);
    return d == 0.0;
  }
  if (t == DataType::Float16 || t == DataType::BFloat16) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return (h & 0x7fff) == 0;
  }
  for (size_t i = 0; i < es; ++i)
    if (p[i] != std::byte{0}) return false;
  return true;
}

// The positions of the nonzero elements of `t` (the tensor behind `v`) when it
// is to be stored sparse: eligible, and smaller sparse (or `always`, with a
// zero); nullopt otherwise.
std::optional<std::vector<int64_t>> nonzero_positions(const Tensor& t, const Value* v, bool always) {
  DataType dt = t.data_type;
  bool float_type =
      dt == DataType::Float || dt == DataType::Double || dt == DataType::Float16 || dt == DataType::BFloat16;
  bool quantized = (dt == DataType::Int8 || dt == DataType::UInt8) && zero_is_zero_point(v);
  if (!float_type && !quantized) return std::nullopt;
  auto count = t.element_count();
  size_t es = static_cast<size_t>(data_type_bits(dt) / 8);
  if (!count || *count == 0 || t.byte_size() != *count * es) return std::nullopt;
  const std::byte* p = t.storage->aligned_data();
  std::vector<int64_t> nz;
  for (uint64_t i = 0; i < *count; ++i)
    if (!is_zero_element(p + i * es, es, dt)) nz.push_back(static_cast<int64_t>(i));
  uint64_t dense = *count * es, sparse = nz.size() * (es + 8);
  if (nz.size() == *count || (!always && sparse >= dense)) return std::nullopt;
  return nz;
}

void collect(Graph& g, std::vector<Graph*>& out) {
  out.push_back(&g);
  for (const auto& n : g.nodes())
    for (Graph* sg : n->subgraphs()) collect(*sg, out);
}

Expected<pass::PassResult> run(Model& m, pass::PassContext& ctx) {
  pass::PassResult r;
  const std::string& mode = ctx.options.get_string("mode");
  if (mode == "off" || !m.graph) return r;
  bool always = mode == "on";
  std::vector<Graph*> graphs;
  collect(*m.graph, graphs);
  int64_t dense_bytes = 0, sparse_bytes = 0, stored = 0;
  for (Graph* g : graphs) {
    // Weights in Constant nodes (PaddleOCR's): made initializers first where they will be stored sparse.
    std::vector<Node*> constants;
    for (const auto& n : g->nodes())
      if (util::is_op(n.get(), "Constant") && n->output(0) && !n->output(0)->is_output_of_any_graph())
        constants.push_back(n.get());
    for (Node* n : constants) {
      TensorPtr t = util::fixed_constant(n->output(0));
      if (t && nonzero_positions(*t, n->output(0), always)) {
        util::replace_node_by_initializers(*g, n, {t}, ctx);
        r.count("constants-made-initializers");
      }
    }
    std::vector<Value*> inits(g->initializers().begin(), g->initializers().end());
    for (Value* v : inits) {
      if (!v->initializer || v->is_graph_input() || v->is_output_of_any_graph()) continue;
      TensorPtr t = v->initializer;
      auto positions = nonzero_positions(*t, v, always);
      if (!positions) continue;
      const std::vector<int64_t>& nz = *positions;
      DataType dt = t->data_type;
      uint64_t count = *t->element_count();
      size_t es = static_cast<size_t>(data_type_bits(dt) / 8);
      const std::byte* p = t->storage->aligned_data();
      uint64_t dense = count * es, sparse = nz.size() * (es + 8);
      auto s = std::make_shared<SparseTensor>();
      s->dims = t->dims;
      s->values.data_type = dt;
      s->values.dims = {static_cast<int64_t>(nz.size())};
      std::vector<std::byte> vb(nz.size() * es);
      for (size_t i = 0; i < nz.size(); ++i) std::memcpy(vb.data() + i * es, p + nz[i] * es, es);
      s->values.set_bytes(std::move(vb));
      s->indices.data_type = DataType::Int64;
      s->indices.dims = {static_cast<int64_t>(nz.size())};
      std::vector<std::byte> ib(nz.size() * 8);
      if (!nz.empty()) std::memcpy(ib.data(), nz.data(), ib.size());  // little-endian hosts only (as the IR)
      s->indices.set_bytes(std::move(ib));
      s->values.name = v->name();
      g->remove_initializer(v);
      Value* added = g->add_sparse_initializer(std::move(s));
      assert(added == v);
      (void)added;
      dense_bytes += static_cast<int64_t>(dense);
      sparse_bytes += static_cast<int64_t>(sparse);
      ++stored;
      r.note("tensor '" + v->name() + "': stored sparse (" + std::to_string(nz.size()) + " of " +
             std::to_string(count) + " nonzero: " + std::to_string(dense) + " -> " + std::to_string(sparse) +
             " bytes)");
    }
  }
  if (stored) {
    r.changed = true;
    r.count("tensors-stored-sparse", stored);
    r.count("dense-bytes", dense_bytes);
    r.count("sparse-bytes", sparse_bytes);
    if (m.ir_version < 6) {
      r.note("IR version raised from " + std::to_string(m.ir_version) + " to 6 (sparse initializers need it)");
      m.ir_version = 6;
    }
  } else {
    r.note(always ? "no eligible tensor has a zero" : "no tensor is smaller stored sparse");
  }
  return r;
}

}  // namespace

void register_sparse_storage(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "sparse-storage";
  p.summary = "Store mostly-zero initializers as ONNX sparse initializers where that is smaller";
  p.doc =
      "Rewrites an initializer as an ONNX `sparse_initializer` (values and INT64 linear indices, ascending, as "
      "the ONNX checker requires; IR version raised to 6 if lower). Lossless: the executor and ONNX Runtime "
      "densify sparse initializers at load, so the gain is on disk and in download size, not in memory or MACs. "
      "Run it last (after prune and quantize): other passes do not read sparse initializers as constants.\n"
      "\n"
      "When: `mode=auto` (the default) where the sparse form is smaller: (element bytes + 8) per nonzero against "
      "element bytes per element, i.e. above ~67% zeros for float32, 80% for float16, ~89% for int8; `mode=on` "
      "every eligible tensor with at least one zero; `mode=off` nothing. Eligible: float32, float64, float16 "
      "and bfloat16 initializers (main graph and subgraphs), and int8/uint8 initializers that only "
      "DequantizeLinear reads (as x) with no zero point or an all-zero one (symmetric quantization keeps a "
      "pruned weight's zeros at 0).\n"
      "\n"
      "Not when: asymmetric quantized tensors (a zero weight is stored as the zero point, not as 0), int4/uint4, "
      "other integer tensors, initializers listed among graph inputs (a caller may feed them) or that are graph "
      "outputs. A `Constant` node whose tensor is to be stored sparse becomes an initializer first.\n"
      "\n"
      "Before: initializer W = float[512,512] with 90% zeros (1,048,576 bytes)\n"
      "After:  sparse_initializer W: values float[26214], indices int64[26214] (314,568 bytes)";
  p.options = {
      {"mode", pass::OptionType::Enum, "auto",
       "auto: where smaller than dense; on: every eligible tensor with a zero; off: none", {"auto", "on", "off"}},
  };
  p.run_on_model = run;
  r.add(std::move(p));
}

}  // namespace effopt::passes
