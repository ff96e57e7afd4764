// Float32 2-D convolution on oneDNN's convolution primitives (JIT kernels for
// the widest vector ISA the CPU has, AVX-512 or AVX2, picked at run time), with
// the weights reordered into the primitive's blocked layout once per Session
// (KernelContext::state) instead of being repacked by every GEMM call.
//
// Determinism: the work is split into tasks whose boundaries depend only on
// the shapes (a batch of images, as many as divide N and give about 4096 output
// pixels, x fixed chunk of output channels, or of groups), each task
// runs its own single-threaded primitive, so every output element is computed
// by the same primitive with the same instructions whatever the thread count.
#pragma once

#include <cstdint>

#include "exec/kernel_registry.h"

namespace effopt::exec {

// Whether Conv uses this path: on unless EFFOPT_EXEC_REFERENCE_CONV is set in
// the environment (to measure or debug against the reference kernels); tests
// switch it with set_dnnl_conv_enabled().
bool dnnl_conv_enabled();
void set_dnnl_conv_enabled(bool on);
// How many Conv nodes this path has computed in this process (for tests).
uint64_t dnnl_conv_count();

struct ConvShape {
  int64_t N, C, H, W;      // input (1-D convs as H = 1)
  int64_t M, kH, kW;       // output channels, kernel
  int64_t sH, sW, dH, dW;  // strides, dilations
  int64_t pt, pl, pb, pr;  // pads: top, left, bottom, right
  int64_t group;
  int64_t OH, OW;
};

// Computes Y = conv(X, W) + B into y (NCHW) and applies ctx.activation (the
// fused epilogue). Returns false when oneDNN cannot
// run this configuration; the caller then computes all of y with its own
// kernel.
bool dnnl_conv2d(KernelContext& ctx, const ConvShape& s, const float* x, const float* w, bool w_constant,
                 const float* bias, float* y);

}  // namespace effopt::exec
