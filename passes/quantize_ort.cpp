// quantize: emit=ort (passes/quantize.h), the last step of the pass: an int4
// block-wise DequantizeLinear that only a MatMul's B reads becomes ONNX
// Runtime's com.microsoft MatMulNBits, the kernel ORT itself fuses such a pair
// into (DQMatMulToMatMulNBits) when nothing else rewrites the MatMul first
// (its MatMulAddFusion turns a MatMul + bias Add into a Gemm before that).
//
// Before: W = DequantizeLinear<axis = 0, block_size = 128>(Wq (int4[K,N]), s (float[K/128,N])); y = MatMul(x, W)
// After:  y = com.microsoft.MatMulNBits<K, N, bits = 4, block_size = 128>(x, B (uint8[N,K/128,64]), s' (float[N,K/128]))
//
// Maths: MatMulNBits stores each column's blocks as unsigned 4-bit values,
// two per byte, low nibble first, with a zero point of 8 when none is given:
// a signed int4 q becomes q + 8, so (q + 8 - 8) s = q s; uint4 values keep
// their zero points, packed the same way per column. A K that is not a
// multiple of the block is padded with the zero point (it adds nothing).
#include <cstring>

#include "passes/pass_util.h"
#include "passes/quantize.h"

namespace effopt::passes::quant {

namespace {

// The nibble at element i of a packed int4/uint4 tensor.
uint8_t nibble(const std::byte* data, uint64_t i) {
  uint8_t b = static_cast<uint8_t>(data[i / 2]);
  return i % 2 ? b >> 4 : b & 0x0F;
}

}  // namespace

Status emit_ort_contrib_ops(Model& m, pass::PassContext& ctx, pass::PassResult& r) {
  Graph& g = *m.graph;
  std::vector<Node*> dqs;
  for (const auto& n : g.nodes())
    if (util::is_op(n.get(), "DequantizeLinear") && n->attr_int("block_size", 0) > 0) dqs.push_back(n.get());
  int64_t rewritten = 0;
  for (Node* dq : dqs) {
    Value* w = dq->output(0);
    TensorPtr q = util::fixed_constant(dq->input(0)), s = util::fixed_constant(dq->input(1));
    TensorPtr zp = dq->input(2) ? util::fixed_constant(dq->input(2)) : nullptr;
    if (!q || !s || (dq->input(2) && !zp)) continue;
    bool is_signed = q->data_type == DataType::Int4;
    if ((!is_signed && q->data_type != DataType::UInt4) || q->dims.size() != 2 || dq->attr_int("axis", 1) != 0)
      continue;
    // Every reader a MatMul reading it as B (a shared weight: each MatMulNBits shares the packed tensors).
    if (s->data_type != DataType::Float || w->uses().empty() || w->is_output_of_any_graph()) continue;
    bool all_matmul = true;
    for (const Use& u : w->uses())
      all_matmul &= util::is_op(u.node, "MatMul") && u.index == 1 && u.node->graph() == &g &&
                    util::elem_type(u.node->input(0)) == DataType::Float;
    if (!all_matmul) continue;
    int64_t K = q->dims[0], N = q->dims[1], bs = dq->attr_int("block_size", 0);
    int64_t blocks = (K + bs - 1) / bs, blob = bs / 2;
    std::vector<float> scales = tensor_floats(*s);
    if (static_cast<int64_t>(scales.size()) != blocks * N) continue;
    const std::byte* qd = q->bytes().data();
    const std::byte* zd = zp ? zp->bytes().data() : nullptr;
    // B: [N, blocks, blob], column n's block b holds rows b*bs .. b*bs+bs-1.
    std::vector<std::byte> b(static_cast<size_t>(N * blocks * blob), std::byte{0});
    std::vector<float> sc(static_cast<size_t>(N * blocks));
    std::vector<std::byte> zpack;
    int64_t zrow = (blocks + 1) / 2;
    if (zp) zpack.assign(static_cast<size_t>(N * zrow), std::byte{0});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t bl = 0; bl < blocks; ++bl) {
        uint8_t z = zp ? nibble(zd, static_cast<uint64_t>(bl * N + n)) : 8;
        for (int64_t i = 0; i < bs; ++i) {
          int64_t k = bl * bs + i;
          uint8_t v = z;  // padding past K
          if (k < K) {
            uint8_t raw = nibble(qd, static_cast<uint64_t>(k * N + n));
            v = is_signed ? static_cast<uint8_t>((raw ^ 0x8) & 0x0F) : raw;  // two's complement + 8
          }
          size_t at = static_cast<size_t>((n * blocks + bl) * blob + i / 2);
          b[at] |= static_cast<std::byte>(i % 2 ? v << 4 : v);
        }
        sc[static_cast<size_t>(n * blocks + bl)] = scales[static_cast<size_t>(bl * N + n)];
        if (zp) zpack[static_cast<size_t>(n * zrow + bl / 2)] |= static_cast<std::byte>(bl % 2 ? z << 4 : z);
      }
    std::string base = w->name();
    Value* bv = util::add_constant(g, ctx, make_tensor(DataType::UInt8, {N, blocks, blob}, std::move(b)), base + "_nbits");
    std::vector<double> scd(sc.begin(), sc.end());
    Value* sv = util::add_constant(g, ctx, tensor_from_values(DataType::Float, {N, blocks}, scd), base + "_nbits_scale");
    Value* zv = zp ? util::add_constant(g, ctx, make_tensor(DataType::UInt8, {N, zrow}, std::move(zpack)),
                                        base + "_nbits_zero_point")
                   : nullptr;
    std::vector<Node*> readers;
    for (const Use& u : w->uses()) readers.push_back(u.node);
    for (Node* mm : readers) {
      std::vector<Value*> ins = {mm->input(0), bv, sv};
      if (zv) ins.push_back(zv);
      Value* out = mm->output(0);
      size_t pos = g.index_of(mm);
      std::string name = mm->name;
      std::vector<Use> saved = util::detach_uses(out);
      mm->set_input(1, nullptr);
      g.erase_node(mm);
      Node* nb = g.create_node_with_outputs("MatMulNBits", ins, {out}, "com.microsoft", pos);
      nb->name = name.empty() ? g.unique_name(out->name() + "_MatMulNBits") : name;
      nb->set_attr(Attribute::make_int("K", K));
      nb->set_attr(Attribute::make_int("N", N));
      nb->set_attr(Attribute::make_int("bits", 4));
      nb->set_attr(Attribute::make_int("block_size", bs));
      util::restore_uses(out, saved);
    }
    std::vector<Value*> dq_inputs = dq->inputs();
    g.erase_node(dq);
    for (Value* v : dq_inputs)
      if (v && v->initializer && v->uses().empty() && !v->is_output_of_any_graph()) g.remove_initializer(v);
    rewritten += static_cast<int64_t>(readers.size());
  }
  if (rewritten) {
    g.prune_dead_values();
    if (m.opset("com.microsoft") == 0) m.set_opset("com.microsoft", 1);
    r.count("matmulnbits", rewritten);
    r.changed = true;
  }
  r.note("emit=ort: " + std::to_string(rewritten) +
         " MatMul(s) reading an int4 DequantizeLinear became com.microsoft.MatMulNBits (ONNX Runtime only; the other "
         "quantized tensors stay standard ONNX)");
  return ok();
}

}  // namespace effopt::passes::quant
