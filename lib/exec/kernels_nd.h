// N-dimensional convolution and pooling (any spatial rank), used by the Conv
// and pooling kernels for inputs of rank 5 and more (the 1-D/2-D kernels in
// kernels_nn.cpp are specialized), and by ConvTranspose for every rank.
#pragma once

#include "exec/kernel_registry.h"

namespace effopt::exec {

Status conv_nd_kernel(KernelContext& ctx);
Status pool_nd_kernel(KernelContext& ctx, bool is_max);

}  // namespace effopt::exec
