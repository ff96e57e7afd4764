// Test helper shared by the executor's control-flow and RNN tests: runs a
// model in effopt's executor and in ONNX Runtime 1.30 and compares every
// output (floats within a tolerance, other types bit for bit).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "exec/executor.h"
#include "onnx/convert_proto.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

namespace effopt::test {

inline onnx::TensorProto to_proto(const exec::TensorValue& t, const std::string& name) {
  return make_tensor_raw(name, static_cast<int32_t>(t.dtype()), t.dims(),
                         std::string(reinterpret_cast<const char*>(t.raw()), t.byte_size()));
}

// Our outputs for `model` (copied out of the session).
inline std::vector<exec::TensorValue> run_exec(const Model& model,
                                               const std::vector<std::pair<std::string, exec::TensorValue>>& in) {
  auto s = exec::Session::create(model);
  if (!s) FAIL("create: " << s.error().message);
  auto r = (*s)->run(in);
  if (!r) FAIL("run: " << r.error().message);
  std::vector<exec::TensorValue> out;
  for (auto& t : *r) out.push_back(exec::TensorValue::from_bytes(t.dtype(), t.dims(), {t.raw(), t.byte_size()}));
  return out;
}

// Runs `model` in both; returns false (after test::skip) when ONNX Runtime is unavailable.
inline bool matches_ort(const Model& model, const std::vector<std::pair<std::string, exec::TensorValue>>& in,
                        double tol = 1e-5) {
  std::vector<exec::TensorValue> ours = run_exec(model, in);
  auto* ort = ort_or_skip();
  if (!ort) return false;
  std::vector<std::pair<std::string, onnx::TensorProto>> ort_in;
  for (auto& [name, t] : in) ort_in.emplace_back(name, to_proto(t, name));
  OrtRun r = ort->run_model(to_proto_inline(model), ort_in);
  INFO("ONNX Runtime: " << r.error);
  REQUIRE(r.ok);
  REQUIRE(r->outputs.size() == ours.size());
  for (size_t k = 0; k < ours.size(); ++k) {
    onnx::TensorProto mine = to_proto(ours[k], r->outputs[k].name());
    const onnx::TensorProto& want = r->outputs[k];
    INFO("output " << k << " (" << want.name() << ")");
    std::string why;
    if (mine.data_type() == onnx::TensorProto::FLOAT || mine.data_type() == onnx::TensorProto::DOUBLE) {
      REQUIRE(std::vector<int64_t>(mine.dims().begin(), mine.dims().end()) ==
              std::vector<int64_t>(want.dims().begin(), want.dims().end()));
      double d = max_abs_diff(mine, want);
      INFO("max abs diff " << d);
      CHECK(d <= tol);
    } else {
      bool same = tensors_bit_identical(mine, want, &why);
      INFO(why);
      CHECK(same);
    }
  }
  return true;
}

}  // namespace effopt::test
