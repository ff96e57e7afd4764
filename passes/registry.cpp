// The table of built-in passes: every pass file in passes/ defines one
// `register_<name>` function (the pass name with '-' as '_') and is listed
// here, as Binaryen's pass.cpp lists its passes. An explicit list, not static
// initializers: a static library drops object files nobody references.
#include <cassert>

#include "pass/pass.h"
#include "passes/passes.h"

namespace effopt::passes {

void register_builtin_passes(pass::PassRegistry& r) {
  // Keep sorted by pass name.
  register_convert_opset(r);
  register_dedup_initializers(r);
  register_eliminate_common_subexpressions(r);
  register_eliminate_dead_code(r);
  register_eliminate_identity(r);
  register_eliminate_noop(r);
  register_fix_shapes(r);
  register_fold_constants(r);
  register_fold_shapes(r);
  register_fuse_consecutive_reshapes(r);
  register_fuse_consecutive_transposes(r);
  register_fuse_conv_add(r);
  register_fuse_conv_bn(r);
  register_fuse_conv_mul(r);
  register_fuse_gelu(r);
  register_fuse_layer_norm(r);
  register_fuse_matmul_add(r);
  register_fuse_matmul_bn(r);
  register_fuse_pad(r);
  register_fuse_reshape_chain(r);
  register_fuse_transpose_into_gemm(r);
  register_hoist_constants(r);
}

}  // namespace effopt::passes

namespace effopt::pass {

PassRegistry& PassRegistry::global() {
  static PassRegistry* r = [] {
    auto* reg = new PassRegistry();
    passes::register_builtin_passes(*reg);
    return reg;
  }();
  return *r;
}

Expected<PassResult> apply_pass(std::string_view name, Model& model, int threads) {
  const PassInfo* info = PassRegistry::global().find(name);
  assert(info && "unknown pass");
  PassOptions opts(&info->options);
  return apply_pass(*info, model, opts, threads);
}

}  // namespace effopt::pass
