// Registration functions of the built-in passes, one per file in passes/
// (listed in passes/registry.cpp).
#pragma once

#include "pass/pass.h"

namespace effopt::passes {

void register_convert_opset(pass::PassRegistry& r);
void register_dedup_initializers(pass::PassRegistry& r);
void register_eliminate_common_subexpressions(pass::PassRegistry& r);
void register_eliminate_dead_code(pass::PassRegistry& r);
void register_eliminate_identity(pass::PassRegistry& r);
void register_eliminate_noop(pass::PassRegistry& r);
void register_fix_shapes(pass::PassRegistry& r);
void register_fold_constants(pass::PassRegistry& r);
void register_fold_shapes(pass::PassRegistry& r);
void register_fuse_consecutive_reshapes(pass::PassRegistry& r);
void register_fuse_consecutive_transposes(pass::PassRegistry& r);
void register_fuse_conv_add(pass::PassRegistry& r);
void register_fuse_conv_bn(pass::PassRegistry& r);
void register_fuse_conv_mul(pass::PassRegistry& r);
void register_fuse_gelu(pass::PassRegistry& r);
void register_fuse_layer_norm(pass::PassRegistry& r);
void register_fuse_matmul_add(pass::PassRegistry& r);
void register_fuse_matmul_bn(pass::PassRegistry& r);
void register_fuse_pad(pass::PassRegistry& r);
void register_fuse_reshape_chain(pass::PassRegistry& r);
void register_fuse_transpose_into_gemm(pass::PassRegistry& r);
void register_hoist_constants(pass::PassRegistry& r);

}  // namespace effopt::passes
