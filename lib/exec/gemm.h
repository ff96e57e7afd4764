// Single-precision GEMM for the executor: oneDNN's dnnl_sgemm, always run
// single-threaded inside (parallelism comes from the executor's fixed tiles,
// so results do not depend on the thread count). docs/executor.md has the
// measurements behind the choice of oneDNN.
#pragma once

#include <cstdint>

#include "exec/thread_pool.h"

namespace effopt::exec {

// Makes oneDNN calls from this thread run single-threaded (idempotent, cheap).
void dnnl_single_thread();

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Same, split into fixed tiles of rows or columns (chosen from the shape only)
// run on the pool.
void sgemm_tiled(ThreadPool& pool, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace effopt::exec
