// GlobalAveragePool sums eight planes at once with independent running sums (kernels_nn.cpp): each plane's
// mean must be exactly the left-to-right float sum divided by the plane size, for channel counts that leave
// a partial group of eight and plane sizes of every remainder, at batch 2 and across thread counts.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "exec/executor.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

TEST_CASE("exec GlobalAveragePool: each mean is the left-to-right sum over the plane, bit for bit", "[exec][global-pool]") {
  struct Shape { int64_t N, C, H, W; };
  for (Shape sh : {Shape{1, 8, 4, 4}, Shape{2, 13, 7, 7}, Shape{1, 67, 3, 5}, Shape{1, 3, 1, 1}, Shape{2, 129, 9, 11}}) {
    INFO("x " << sh.N << "x" << sh.C << "x" << sh.H << "x" << sh.W);
    std::string dims = std::to_string(sh.N) + "," + std::to_string(sh.C) + "," + std::to_string(sh.H) + "," +
                       std::to_string(sh.W);
    auto m = test::parse_or_fail("<ir_version: 8, opset_import: [\"\" : 13]>\ng (float[" + dims +
                                 "] x) => (float y) {\n  y = GlobalAveragePool(x)\n}\n");
    int64_t S = sh.H * sh.W, planes = sh.N * sh.C;
    std::vector<float> x(static_cast<size_t>(planes * S));
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i) * 0.731f) * 100.f + 1e-3f * i;
    auto in = TensorValue::from_vector(DataType::Float, {sh.N, sh.C, sh.H, sh.W}, x);
    for (int threads : {1, 2}) {
      auto s = exec::Session::create(*m, {threads});
      REQUIRE(s);
      auto r = (*s)->run({{"x", in}});
      REQUIRE(r);
      REQUIRE((*r)[0].dims() == std::vector<int64_t>{sh.N, sh.C, 1, 1});
      auto y = (*r)[0].span<float>();
      int bad = 0;
      for (int64_t p = 0; p < planes; ++p) {
        float acc = 0;
        for (int64_t k = 0; k < S; ++k) acc += x[static_cast<size_t>(p * S + k)];
        float want = acc / static_cast<float>(S);
        if (std::memcmp(&want, &y[static_cast<size_t>(p)], sizeof want) != 0 && bad++ < 5)
          FAIL_CHECK("plane " << p << " (" << threads << " threads): " << y[static_cast<size_t>(p)] << ", want " << want);
      }
      CHECK(bad == 0);
    }
  }
}
