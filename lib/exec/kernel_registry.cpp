#include "exec/kernel_registry.h"

#include <algorithm>
#include <cassert>

#include "ir/dtype.h"

namespace effopt::exec {

std::string KernelContext::where() const {
  return node.op_type + " node '" + (node.name.empty() ? std::string("(unnamed)") : node.name) + "'";
}

void KernelRegistry::add(KernelDef def) {
  std::string dom = def.domain == "ai.onnx" ? std::string() : def.domain;
  defs_[{dom, def.op_type}].push_back(std::move(def));
}

const KernelDef* KernelRegistry::find(std::string_view domain, std::string_view op_type, int64_t opset) const {
  std::string dom = domain == "ai.onnx" ? std::string() : std::string(domain);
  auto it = defs_.find(std::pair<std::string, std::string>(dom, std::string(op_type)));
  if (it == defs_.end()) return nullptr;
  for (auto& d : it->second)
    if (opset >= d.since && opset <= d.until) return &d;
  return nullptr;
}

std::vector<std::string> KernelRegistry::op_names() const {
  std::vector<std::string> out;
  for (auto& [k, v] : defs_) out.push_back(k.first.empty() ? k.second : k.first + "::" + k.second);
  std::sort(out.begin(), out.end());
  return out;
}

const KernelRegistry& KernelRegistry::builtin() {
  static const KernelRegistry r = [] {
    KernelRegistry reg;
    register_elementwise_kernels(reg);
    register_nn_kernels(reg);
    register_shape_kernels(reg);
    register_quant_kernels(reg);
    register_conv_transpose_kernels(reg);
    register_resize_kernels(reg);
    register_index_kernels(reg);
    register_misc_kernels(reg);
    register_control_kernels(reg);
    register_sequence_kernels(reg);
    register_rnn_kernels(reg);
    return reg;
  }();
  return r;
}

Status need_float(const KernelContext& ctx, const TensorValue& t, const char* what) {
  if (t.dtype() != DataType::Float)
    return ctx.fail(std::string(what) + " must be float32 (got " + data_type_name(t.dtype()) + ")");
  return ok();
}

Expected<const float*> conv_bias(const KernelContext& ctx, int64_t M) {
  if (!ctx.has_input(2)) return static_cast<const float*>(nullptr);
  EFFOPT_TRY(need_float(ctx, ctx.in(2), "B"));
  if (ctx.in(2).element_count() != static_cast<uint64_t>(M)) return ctx.fail("B must have M elements");
  return ctx.in(2).data<float>();
}

Expected<int64_t> normalize_axis(int64_t axis, int64_t rank, const KernelContext& ctx) {
  if (axis < -rank || axis >= rank)
    return ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

Expected<std::vector<int64_t>> read_ints(const TensorValue& t, const KernelContext& ctx) {
  if (t.dtype() != DataType::Int64 && t.dtype() != DataType::Int32)
    return ctx.fail(std::string("expected an int32/int64 tensor, got ") + data_type_name(t.dtype()));
  std::vector<int64_t> out(static_cast<size_t>(t.element_count()));
  [[maybe_unused]] bool ok = decode_ints(t.dtype(), {t.raw(), static_cast<size_t>(t.byte_size())}, out);
  assert(ok);
  return out;
}

}  // namespace effopt::exec
