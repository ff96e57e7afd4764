// Spatial geometry of convolutions and pooling (kernels_nn.cpp), shared with the
// quantized convolutions (kernels_quant.cpp): kernel, strides, dilations, pads
// and auto_pad read from a node, over 1 or 2 spatial dims (1-D runs as H = 1).
#pragma once

#include <cstdint>
#include <vector>

#include "exec/kernel_registry.h"

namespace effopt::exec {

struct Geometry {
  int64_t H = 1, W = 1, kH = 1, kW = 1, sH = 1, sW = 1, dH = 1, dW = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t OH = 1, OW = 1;
};

// Output length of one spatial dim.
int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode);
// Applies the node's auto_pad (SAME_UPPER, SAME_LOWER, VALID, NOTSET) to
// `pads` ([begin..., end...] over the spatial dims `in`), any spatial rank.
Status resolve_auto_pad(const KernelContext& ctx, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                        const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                        std::vector<int64_t>& pads);
// Reads kernel_shape/strides/dilations/pads/auto_pad. x_dims: [N, C, spatial...]; kernel: spatial kernel dims.
Expected<Geometry> geometry(const KernelContext& ctx, const std::vector<int64_t>& x_dims, std::vector<int64_t> kernel,
                            bool ceil_mode);
// [N, c, OH, OW] (or [N, c, OW] for 1-D).
std::vector<int64_t> out_dims(const std::vector<int64_t>& x, int64_t c, const Geometry& g);

}  // namespace effopt::exec
