// The vector-times-transposed-matrix path of exec::sgemm (M == 1, B transposed: classifier heads), 16-lane
// partial sums with a scalar tail: against a double-precision dot product, for lengths around the vector
// width, with alpha and beta, and the same bits for the same row whatever the other rows.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "exec/gemm.h"

using namespace effopt;

TEST_CASE("exec sgemm M == 1, B transposed: dot products within float rounding of double, every tail length", "[exec][gemv]") {
  for (int64_t K : {1, 7, 15, 16, 17, 31, 33, 100, 1280}) {
    const int64_t N = 9, ldb = K + 3;  // a row stride wider than K: only K elements of each row are read
    std::vector<float> a(static_cast<size_t>(K)), B(static_cast<size_t>(N * ldb), std::nanf("")), C(N), C0(N);
    for (int64_t k = 0; k < K; ++k) a[static_cast<size_t>(k)] = std::sin(0.37f * k) + 0.25f;
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) B[static_cast<size_t>(j * ldb + k)] = std::cos(0.11f * (j * K + k)) * 2.f;
    for (int64_t j = 0; j < N; ++j) C0[static_cast<size_t>(j)] = 0.5f * j - 1.f;
    for (float beta : {0.f, 2.f}) {
      INFO("K " << K << ", beta " << beta);
      C = C0;
      exec::sgemm(false, true, 1, N, K, 0.75f, a.data(), K, B.data(), ldb, beta, C.data(), N);
      int bad = 0;
      for (int64_t j = 0; j < N; ++j) {
        double dot = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          double p = static_cast<double>(a[static_cast<size_t>(k)]) * B[static_cast<size_t>(j * ldb + k)];
          dot += p, mag += std::fabs(p);
        }
        double want = 0.75 * dot + beta * C0[static_cast<size_t>(j)];
        if (!(std::fabs(C[static_cast<size_t>(j)] - want) <= 1e-6 * (mag + std::fabs(want)) + 1e-7) && bad++ < 5)
          FAIL_CHECK("column " << j << ": " << C[static_cast<size_t>(j)] << ", want " << want);
      }
      CHECK(bad == 0);
      // one column alone gives the bits it gave among the others
      float one = C0[4];
      exec::sgemm(false, true, 1, 1, K, 0.75f, a.data(), K, B.data() + 4 * ldb, ldb, beta, &one, 1);
      CHECK(std::memcmp(&one, &C[4], sizeof one) == 0);
    }
  }
}
