// Depthwise convolution (lib/exec/conv_depthwise.h): both kernels, planes and channel blocks, forced over
// every configuration, compared bit for bit with each other and across thread counts, and with ONNX
// Runtime 1.30 (rtol 1e-4, atol 1e-5): strides 1-3 (the phase-split copy), dilations, asymmetric pads,
// non-square kernels, channel counts that leave a partial block of lanes, a channel multiplier, batch,
// a fused Relu, 1-D. Without ONNX Runtime the ORT comparison calls test::skip.
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "exec/conv_depthwise.h"
#include "exec/executor.h"
#include "onnx/convert_proto.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

struct Case {
  std::string what;
  std::vector<int64_t> x;  // [N, C, (H,) W]
  int64_t M;               // output channels (a multiple of C)
  std::vector<int64_t> kernel, strides, dilations, pads;
  bool bias, relu;
};

std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

std::string model_text(const Case& c) {
  std::vector<int64_t> w = {c.M, 1};
  w.insert(w.end(), c.kernel.begin(), c.kernel.end());
  std::ostringstream t;
  t << "<ir_version: 8, opset_import: [\"\" : 13]>\n"
    << "g (float[" << list(c.x) << "] x, float[" << list(w) << "] w" << (c.bias ? ", float[" + std::to_string(c.M) + "] b" : "")
    << ") => (float y) {\n"
    << "  c = Conv <group = " << c.x[1] << ", strides = [" << list(c.strides) << "], dilations = [" << list(c.dilations)
    << "], pads = [" << list(c.pads) << "]> (x, w" << (c.bias ? ", b" : "") << ")\n"
    << (c.relu ? "  y = Relu(c)\n" : "  y = Identity(c)\n") << "}\n";
  return t.str();
}

TensorValue from_proto(const onnx::TensorProto& p) { return test::value_from_proto(p); }

std::vector<float> run(const Model& m, const std::vector<std::pair<std::string, TensorValue>>& in,
                       exec::DepthwiseKernel k, int threads) {
  exec::set_depthwise_kernel(k);
  auto s = exec::Session::create(m, {threads});
  REQUIRE(s);
  auto r = (*s)->run(in);
  exec::set_depthwise_kernel(exec::DepthwiseKernel::ByShape);
  REQUIRE(r);
  auto sp = (*r)[0].span<float>();
  return {sp.begin(), sp.end()};
}

}  // namespace

TEST_CASE("depthwise conv: planes and channel blocks give the same bits and match ONNX Runtime", "[exec][conv-depthwise]") {
  const std::vector<Case> cases = {
      {"wide plane, 3x3 pad 1", {1, 8, 40, 37}, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, false},
      {"stride 2, asymmetric pads", {1, 6, 21, 70}, 6, {3, 3}, {2, 2}, {1, 1}, {0, 1, 1, 0}, true, true},
      {"stride 3, dilation 2, 5x5", {1, 4, 30, 101}, 4, {5, 5}, {3, 3}, {2, 2}, {2, 2, 2, 2}, false, false},
      {"20 channels: a partial block of lanes, fused Relu", {1, 20, 7, 7}, 20, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, true},
      {"channel multiplier 2", {1, 3, 9, 9}, 6, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, false},
      {"batch 2, 17 channels, stride 2", {2, 17, 14, 14}, 17, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, false},
      {"non-square kernel and strides", {1, 5, 11, 48}, 5, {1, 3}, {1, 2}, {1, 1}, {0, 1, 0, 1}, false, false},
      {"pads wider than the kernel", {1, 2, 4, 4}, 2, {3, 3}, {1, 1}, {1, 1}, {3, 2, 3, 2}, true, false},
      {"17 wide, 5x5 unrolled (channel blocks by shape)", {1, 19, 17, 17}, 19, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}, true, true},
      {"33 wide, 5x5 stride 2 (channel blocks by shape: 5x5 under 48 wide)", {1, 3, 65, 66}, 3, {5, 5}, {2, 2}, {1, 1}, {2, 2, 2, 2}, true, false},
      {"33 wide, 3x3 (planes by shape)", {1, 4, 33, 33}, 4, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, false},
      {"1-D", {2, 5, 50}, 5, {3}, {1}, {1}, {1, 1}, true, true},
  };
  test::OrtHarness* ort = test::ort_or_skip();  // the kernels are still compared with each other without it
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    std::string text = model_text(c);
    INFO("case " << i << " (" << c.what << "):\n" << text);
    auto m = test::parse_or_fail(text);
    onnx::ModelProto proto = to_proto_inline(*m);
    auto inputs = test::random_inputs(proto, 0xd3d3 + i);
    std::vector<std::pair<std::string, TensorValue>> in;
    for (auto& [name, tp] : inputs) in.emplace_back(name, from_proto(tp));

    auto planes = run(*m, in, exec::DepthwiseKernel::Planes, 1);
    auto blocks = run(*m, in, exec::DepthwiseKernel::ChannelBlocks, 1);
    auto by_shape = run(*m, in, exec::DepthwiseKernel::ByShape, 2);
    REQUIRE(planes.size() == blocks.size());
    CHECK(planes == blocks);
    CHECK(by_shape == planes);
    CHECK(run(*m, in, exec::DepthwiseKernel::Planes, 2) == planes);
    CHECK(run(*m, in, exec::DepthwiseKernel::ChannelBlocks, 3) == blocks);
    if (c.relu)
      for (float f : planes) CHECK(f >= 0.f);

    if (!ort) continue;
    test::OrtRun r = ort->run_model(proto, inputs);
    REQUIRE(r);
    TensorValue want = from_proto(r->outputs[0]);
    REQUIRE(want.element_count() == planes.size());
    auto w = want.span<float>();
    int bad = 0;
    for (size_t j = 0; j < planes.size(); ++j)
      if (!(std::fabs(planes[j] - w[j]) <= 1e-5 + 1e-4 * std::fabs(w[j])) && bad++ < 5)
        FAIL_CHECK("element " << j << ": effopt " << planes[j] << ", ORT " << w[j]);
    CHECK(bad == 0);
  }
}
