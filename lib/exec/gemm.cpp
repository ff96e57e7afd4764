#include "exec/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "exec/vector_clones.h"

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

namespace {

// C[j] = alpha * dot(a, B[j]) (+ beta * C[j]) for j < N: 16-lane partial sums (lane l takes k = l, l + 16, ...),
// the lanes added in a fixed tree and the tail last, so the order depends on K only. One pass over B, which a
// classifier head reads from memory once per inference (measured: the baseline-x86 loop of 8 scalar sums was
// 4% of a MobileNetV3-Large profile).
EFFOPT_VECTOR_CLONES void gemv_rows(const float* a, const float* B, int64_t ldb, int64_t N, int64_t K, float alpha,
                                    float beta, float* C) {
  using Vec = float __attribute__((vector_size(16 * sizeof(float))));
  constexpr int64_t R = 4;  // rows of B per pass: four independent streams from memory, each a's load shared
  for (int64_t j0 = 0; j0 < N; j0 += R) {
    const int64_t rows = std::min(R, N - j0);
    const float* b[R];
    for (int64_t r = 0; r < R; ++r) b[r] = B + (j0 + std::min(r, rows - 1)) * ldb;  // a short pass repeats a row
    Vec acc[R] = {};
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      Vec x;
      std::memcpy(&x, a + k, sizeof x);
      for (int64_t r = 0; r < R; ++r) {
        Vec y;
        std::memcpy(&y, b[r] + k, sizeof y);
        acc[r] += x * y;
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float lanes[16];
      std::memcpy(lanes, &acc[r], sizeof lanes);
      for (int w = 8; w > 0; w /= 2)
        for (int l = 0; l < w; ++l) lanes[l] += lanes[l + w];
      float s = lanes[0];
      for (int64_t t = k; t < K; ++t) s += a[t] * b[r][t];
      float* c = C + j0 + r;
      *c = beta == 0 ? alpha * s : alpha * s + beta * *c;
    }
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0 ? 0.f : beta * C[i * ldc + j];
    return;
  }
  if (M == 1 && !trans_a && trans_b) {
    // Vector times a transposed matrix (the classifier head of most CNNs): dot products, which oneDNN runs
    // slowly for this shape.
    gemv_rows(A, B, ldb, N, K, alpha, beta, C);
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
