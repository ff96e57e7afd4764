// Integer GEMM for the executor's quantized kernels (MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv): 8-bit operands, exact int32 accumulation.
//
// C[m, n] = sum_k (A[m, k] - a_zp[m]) * (B[k, n] - b_zp[n])   (int32, wrapping on overflow)
//
// Zero points are per row of A and per column of B (a per-tensor zero point is
// the same value repeated). The product itself runs with zero offsets and the
// zero points are applied afterwards from row / column sums, so any
// combination of int8 / uint8 operands and zero-point granularity uses the same
// core. Always single-threaded: callers split work into fixed tiles.
// docs/executor.md ("Quantization kernels") has the measurements behind the
// choice of core.
#pragma once

#include <cstdint>

namespace effopt::exec {

enum class QGemmCore {
  Auto,    // oneDNN on CPUs with VNNI (exact there), the loop elsewhere
  Loop,    // plain C++ loop, int32 accumulation
  OneDnn,  // dnnl_gemm_u8s8s32 / dnnl_gemm_s8s8s32 (falls back to Loop without VNNI)
};

struct QOperand {
  const void* data = nullptr;  // row-major
  int64_t ld = 0;              // elements between rows
  bool is_signed = false;      // int8 or uint8
  // Zero points: nullptr = 0; else `zp_per_index` ? one per row of A / column
  // of B : one value for all.
  const int32_t* zp = nullptr;
  bool zp_per_index = false;
};

// A: [M, K], B: [K, N], C: [M, N] with leading dimension ldc.
void qgemm(int64_t M, int64_t N, int64_t K, const QOperand& A, const QOperand& B, int32_t* C, int64_t ldc,
           QGemmCore core = QGemmCore::Auto);

// True when QGemmCore::Auto uses oneDNN on this CPU.
bool qgemm_uses_onednn();

}  // namespace effopt::exec
