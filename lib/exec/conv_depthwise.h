// Float32 depthwise 2-D convolution (group == C, one input channel per group,
// any channel multiplier), the layer mobilenet-style models spend most of their
// non-GEMM time in. Two direct kernels, chosen by shape only:
// - planes: one output plane per task, rows computed 16 columns at a time in
//   vector registers from a zero-padded copy of the input plane (split into
//   column phases for strided convs, so every tap reads a contiguous run);
// - channel blocks: for planes narrower than one vector (mobilenet's 14x14 and
//   7x7 layers), 16 output channels per task with the vectors across channels
//   (as ONNX Runtime's NCHWc kernels), the block transposed in and out.
// Both compute every output element as bias, then the taps in (kh, kw) order,
// so they give the same bits (tested), and tasks depend only on the shapes, so
// results are the same for any thread count.
#pragma once

#include <cstdint>

#include "exec/activation.h"
#include "exec/conv_geometry.h"
#include "exec/thread_pool.h"

namespace effopt::exec {

// y[N, M, OH, OW] = depthwise conv of x[N, C, H, W] with w[M, 1, kH, kW] (M a
// multiple of C) plus bias[M] (may be null), then act (a clamp in registers, others in a pass over each
// task's output while it is in cache).
void depthwise_conv2d(ThreadPool& pool, const float* x, const float* w, const float* bias, int64_t N, int64_t C,
                      int64_t M, const Geometry& g, const Activation& act, float* y);

// Which kernel depthwise_conv2d uses: by shape (the default), or one for all
// shapes (for tests that compare the two).
enum class DepthwiseKernel { ByShape, Planes, ChannelBlocks };
void set_depthwise_kernel(DepthwiseKernel k);

}  // namespace effopt::exec
