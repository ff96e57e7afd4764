// Integer GEMM (qgemm.h): oneDNN's u8s8s32 / s8s8s32 kernels where they are
// exact, a plain loop elsewhere, and the zero points applied from row / column
// sums afterwards.
#include "exec/qgemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstring>
#include <vector>

extern "C" void omp_set_num_threads(int);  // libgomp, which oneDNN's OpenMP build uses

namespace effopt::exec {

namespace {

// oneDNN's integer GEMM multiplies u8 x s8 pairs with VPMADDUBSW on CPUs without
// VNNI, which saturates the int16 sum of two products (its documentation warns of
// intermediate saturation); VNNI's VPDPBUSD accumulates in int32 and is exact.
bool cpu_has_vnni() {
  static const bool v = [] {
    unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
    return (isa & static_cast<unsigned>(dnnl_cpu_isa_avx512_core_vnni & ~dnnl_cpu_isa_avx512_core)) != 0 ||
           (isa & static_cast<unsigned>(dnnl_cpu_isa_avx2_vnni & ~dnnl_cpu_isa_avx2)) != 0;
  }();
  return v;
}

void single_thread_onednn() {
  thread_local bool done = false;
  if (!done) {
    omp_set_num_threads(1);
    done = true;
  }
}

// Raw products S[m, n] = sum_k A[m, k] * B[k, n], accumulated modulo 2^32.
template <class TA, class TB>
void loop_product(int64_t M, int64_t N, int64_t K, const TA* a, int64_t lda, const TB* b, int64_t ldb, int32_t* c,
                  int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    uint32_t* __restrict row = reinterpret_cast<uint32_t*>(c + m * ldc);
    std::fill(row, row + N, 0u);
    for (int64_t k = 0; k < K; ++k) {
      uint32_t av = static_cast<uint32_t>(static_cast<int32_t>(a[m * lda + k]));
      if (av == 0) continue;
      const TB* __restrict brow = b + k * ldb;
      for (int64_t n = 0; n < N; ++n) row[n] += av * static_cast<uint32_t>(static_cast<int32_t>(brow[n]));
    }
  }
}

void loop_product_any(int64_t M, int64_t N, int64_t K, const QOperand& A, const QOperand& B, int32_t* C, int64_t ldc) {
  if (A.is_signed && B.is_signed)
    loop_product(M, N, K, static_cast<const int8_t*>(A.data), A.ld, static_cast<const int8_t*>(B.data), B.ld, C, ldc);
  else if (A.is_signed)
    loop_product(M, N, K, static_cast<const int8_t*>(A.data), A.ld, static_cast<const uint8_t*>(B.data), B.ld, C, ldc);
  else if (B.is_signed)
    loop_product(M, N, K, static_cast<const uint8_t*>(A.data), A.ld, static_cast<const int8_t*>(B.data), B.ld, C, ldc);
  else
    loop_product(M, N, K, static_cast<const uint8_t*>(A.data), A.ld, static_cast<const uint8_t*>(B.data), B.ld, C, ldc);
}

// Raw products through oneDNN. B must be signed there: a uint8 B is shifted to
// int8 (b - 128) and 128 * rowsum(A) is added back by the caller (returns true).
bool onednn_product(int64_t M, int64_t N, int64_t K, const QOperand& A, const QOperand& B, int32_t* C, int64_t ldc) {
  single_thread_onednn();
  const int8_t* b = static_cast<const int8_t*>(B.data);
  int64_t ldb = B.ld;
  thread_local std::vector<int8_t> shifted;
  bool shift = !B.is_signed;
  if (shift) {
    shifted.resize(static_cast<size_t>(K * N));
    // Raw pointers: through the thread_local vector the compiler reloads its data pointer every element.
    int8_t* __restrict dst = shifted.data();
    const uint8_t* __restrict src = static_cast<const uint8_t*>(B.data);
    for (int64_t k = 0; k < K; ++k) {
      const uint8_t* __restrict s = src + k * B.ld;
      uint8_t* __restrict d = reinterpret_cast<uint8_t*>(dst) + k * N;
      for (int64_t n = 0; n < N; ++n) d[n] = static_cast<uint8_t>(s[n] ^ 0x80u);
    }
    b = dst;
    ldb = N;
  }
  const int32_t co = 0;
  if (A.is_signed)
    dnnl_gemm_s8s8s32('N', 'N', 'F', M, N, K, 1.f, static_cast<const int8_t*>(A.data), A.ld, 0, b, ldb, 0, 0.f, C, ldc,
                      &co);
  else
    dnnl_gemm_u8s8s32('N', 'N', 'F', M, N, K, 1.f, static_cast<const uint8_t*>(A.data), A.ld, 0, b, ldb, 0, 0.f, C,
                      ldc, &co);
  return shift;
}

int32_t value_at(const QOperand& o, int64_t i) {
  if (!o.zp) return 0;
  return o.zp_per_index ? o.zp[i] : o.zp[0];
}

}  // namespace

bool qgemm_uses_onednn() { return cpu_has_vnni(); }

void qgemm(int64_t M, int64_t N, int64_t K, const QOperand& A, const QOperand& B, int32_t* C, int64_t ldc,
           QGemmCore core) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t m = 0; m < M; ++m) std::fill(C + m * ldc, C + m * ldc + N, 0);
    return;
  }
  // oneDNN wins from small sizes on (docs/executor.md); only tiny products stay in the loop.
  bool use_dnnl = cpu_has_vnni() && (core == QGemmCore::OneDnn || (core == QGemmCore::Auto && M * N * K >= 4096));
  bool shifted = false;
  if (use_dnnl) shifted = onednn_product(M, N, K, A, B, C, ldc);
  else loop_product_any(M, N, K, A, B, C, ldc);

  bool any_b_zp = false, any_a_zp = false;
  for (int64_t n = 0; n < (B.zp ? (B.zp_per_index ? N : 1) : 0) && !any_b_zp; ++n) any_b_zp = B.zp[n] != 0;
  for (int64_t m = 0; m < (A.zp ? (A.zp_per_index ? M : 1) : 0) && !any_a_zp; ++m) any_a_zp = A.zp[m] != 0;
  if (!shifted && !any_b_zp && !any_a_zp) return;

  // sum_k (a - za)(b - zb) = sum ab - zb * rowsum(A) - za * colsum(B) + K za zb, all modulo 2^32.
  thread_local std::vector<uint32_t> row_sum, col_sum;
  row_sum.assign(static_cast<size_t>(M), 0);
  col_sum.assign(static_cast<size_t>(N), 0);
  if (shifted || any_b_zp)
    for (int64_t m = 0; m < M; ++m) {
      uint32_t s = 0;
      if (A.is_signed) {
        const int8_t* a = static_cast<const int8_t*>(A.data) + m * A.ld;
        for (int64_t k = 0; k < K; ++k) s += static_cast<uint32_t>(static_cast<int32_t>(a[k]));
      } else {
        const uint8_t* a = static_cast<const uint8_t*>(A.data) + m * A.ld;
        for (int64_t k = 0; k < K; ++k) s += a[k];
      }
      row_sum[static_cast<size_t>(m)] = s;
    }
  if (any_a_zp)
    for (int64_t k = 0; k < K; ++k) {
      if (B.is_signed) {
        const int8_t* b = static_cast<const int8_t*>(B.data) + k * B.ld;
        for (int64_t n = 0; n < N; ++n) col_sum[static_cast<size_t>(n)] += static_cast<uint32_t>(static_cast<int32_t>(b[n]));
      } else {
        const uint8_t* b = static_cast<const uint8_t*>(B.data) + k * B.ld;
        for (int64_t n = 0; n < N; ++n) col_sum[static_cast<size_t>(n)] += b[n];
      }
    }
  uint32_t shift = shifted ? 128u : 0u, kk = static_cast<uint32_t>(K);
  thread_local std::vector<uint32_t> zbs;
  zbs.resize(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) zbs[static_cast<size_t>(n)] = static_cast<uint32_t>(value_at(B, n));
  const uint32_t* __restrict zb = zbs.data();
  const uint32_t* __restrict cs = col_sum.data();
  for (int64_t m = 0; m < M; ++m) {
    uint32_t za = static_cast<uint32_t>(value_at(A, m)), ra = row_sum[static_cast<size_t>(m)];
    uint32_t* __restrict row = reinterpret_cast<uint32_t*>(C + m * ldc);
    for (int64_t n = 0; n < N; ++n) row[n] += (shift - zb[n]) * ra - za * cs[n] + kk * za * zb[n];
  }
}

}  // namespace effopt::exec
