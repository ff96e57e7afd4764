#include "exec/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstdlib>

extern "C" void omp_set_num_threads(int);  // libgomp, which oneDNN's OpenMP build uses

namespace effopt::exec {

// oneDNN's OpenMP runtime uses omp_get_max_threads() threads per call made
// outside a parallel region; the executor wants one, in every thread that
// calls it (the setting is per thread).
void dnnl_single_thread() {
  thread_local bool done = false;
  if (!done) {
    omp_set_num_threads(1);
    done = true;
  }
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0 ? 0.f : beta * C[i * ldc + j];
    return;
  }
  if (M == 1 && !trans_a && trans_b) {
    // Vector times a transposed matrix (the classifier head of most CNNs):
    // dot products, which oneDNN runs slowly for this shape.
    for (int64_t j = 0; j < N; ++j) {
      const float* b = B + j * ldb;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t k = 0;
      for (; k + 8 <= K; k += 8)
        for (int u = 0; u < 8; ++u) acc[u] += A[k + u] * b[k + u];
      float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
      for (; k < K; ++k) s += A[k] * b[k];
      C[j] = beta == 0 ? alpha * s : alpha * s + beta * C[j];
    }
    return;
  }
  dnnl_single_thread();
  dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_tiled(ThreadPool& pool, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (flops < 4e6) {
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (N >= M) {  // column tiles
    const int64_t tile = 256;
    pool.parallel_for(chunk_count(N, tile), [&](int64_t t) {
      int64_t j0 = t * tile, n = std::min(tile, N - j0);
      const float* b = trans_b ? B + j0 * ldb : B + j0;
      sgemm(trans_a, trans_b, M, n, K, alpha, A, lda, b, ldb, beta, C + j0, ldc);
    });
  } else {  // row tiles
    const int64_t tile = 64;
    pool.parallel_for(chunk_count(M, tile), [&](int64_t t) {
      int64_t i0 = t * tile, m = std::min(tile, M - i0);
      const float* a = trans_a ? A + i0 : A + i0 * lda;
      sgemm(trans_a, trans_b, m, N, K, alpha, a, lda, B, ldb, beta, C + i0 * ldc, ldc);
    });
  }
}

}  // namespace effopt::exec
