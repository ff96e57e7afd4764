// Helpers for the fusion-pass tests (tests/unit/test_pass_fuse-*.cpp): run a
// pass on an ONNX-text model, verify the IR, count ops, and compare outputs
// before vs after on the executor or in ONNX Runtime (relative L2 error).
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "ir/verifier.h"
#include "onnx/convert_proto.h"
#include "pass/pass.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

namespace effopt::test::fusion {

inline bool is_op_output(const Value* v, const std::string& op) {
  return v->producer() && v->producer()->op_type == op;
}

inline size_t count_ops(const Model& m, const std::string& op) {
  size_t n = 0;
  for (const auto& node : m.graph->nodes())
    if (node->op_type == op) ++n;
  return n;
}

// Applies `pass` (default options), requires success and a verifying model.
inline pass::PassResult apply(const std::string& pass_name, Model& m) {
  auto r = pass::apply_pass(pass_name, m);
  if (!r) FAIL(pass_name << ": " << r.error().message);
  auto st = verify(m);
  if (!st) FAIL("verifier after " << pass_name << ": " << st.error().message);
  return *r;
}

// Deterministic float inputs in [lo, hi) for every runtime input of `m`
// (static shapes required).
inline std::vector<std::pair<std::string, exec::TensorValue>> random_float_inputs(const Model& m, uint64_t seed = 7,
                                                                                   double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<std::pair<std::string, exec::TensorValue>> out;
  for (Value* v : m.graph->inputs()) {
    if (v->initializer) continue;
    std::vector<int64_t> dims;
    for (const Dim& d : *v->type.shape) dims.push_back(d.value.value_or(1));
    size_t n = 1;
    for (int64_t d : dims) n *= static_cast<size_t>(d);
    if (v->type.elem_type == DataType::Double) {
      std::vector<double> vals(n);
      for (double& x : vals) x = dist(rng);
      out.emplace_back(v->name(), exec::TensorValue::from_vector(DataType::Double, dims, vals));
    } else if (v->type.elem_type == DataType::Float16) {
      std::vector<uint16_t> vals(n);
      for (uint16_t& x : vals) x = exec::float_to_half(static_cast<float>(dist(rng)));
      out.emplace_back(v->name(), exec::TensorValue::from_vector(DataType::Float16, dims, vals));
    } else {
      std::vector<float> vals(n);
      for (float& x : vals) x = static_cast<float>(dist(rng));
      out.emplace_back(v->name(), exec::TensorValue::from_vector(DataType::Float, dims, vals));
    }
  }
  return out;
}

// ||a - b|| / ||a||.
inline double rel_l2(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += a[i] * a[i];
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

// The executor runs every node as written (internal_rewrites off): with its load-time BatchNormalization fold
// or Conv+activation fusion on, a fusion pass would be checked against a second copy of its own maths.
inline exec::RunOptions as_written() {
  exec::RunOptions o;
  o.internal_rewrites = false;
  return o;
}

inline std::vector<std::vector<double>> run_exec(const Model& m,
                                                 const std::vector<std::pair<std::string, exec::TensorValue>>& in) {
  auto s = exec::Session::create(m, as_written());
  if (!s) FAIL("executor: " << s.error().message);
  auto r = (*s)->run(in);
  if (!r) FAIL("executor run: " << r.error().message);
  std::vector<std::vector<double>> out;
  for (auto& t : *r) out.push_back(exec::to_doubles(t));
  return out;
}

// The float inputs of a corpus case (DIR/test_data_set_0/input_K.pb), named
// after `m`'s runtime inputs.
inline std::vector<std::pair<std::string, exec::TensorValue>> corpus_inputs(const Model& m, const std::string& dir) {
  auto protos = load_test_data_set(dir + "/test_data_set_0");
  std::vector<std::pair<std::string, exec::TensorValue>> out;
  size_t k = 0;
  for (Value* v : m.graph->inputs()) {
    if (v->initializer) continue;
    REQUIRE(k < protos.size());
    const onnx::TensorProto& t = protos[k++];
    std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    std::string bytes = tensor_bytes(t);
    out.emplace_back(v->name(), exec::TensorValue::from_bytes(static_cast<DataType>(t.data_type()), dims,
                                                              {reinterpret_cast<const std::byte*>(bytes.data()),
                                                               bytes.size()}));
  }
  return out;
}

inline double worst_rel_l2(const Model& before, const Model& after,
                           const std::vector<std::pair<std::string, exec::TensorValue>>& in) {
  auto a = run_exec(before, in), b = run_exec(after, in);
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, rel_l2(a[i], b[i]));
  return worst;
}

// Outputs of `before` and `after` on the same random inputs, on the executor;
// returns the largest relative L2 error over the outputs.
inline double exec_rel_l2(const Model& before, const Model& after, uint64_t seed = 7) {
  return worst_rel_l2(before, after, random_float_inputs(before, seed));
}

// The same in ONNX Runtime (for ops the executor lacks); nullopt (after test::skip)
// when ONNX Runtime is unavailable.
inline std::optional<double> ort_rel_l2(const Model& before, const Model& after, uint64_t seed = 7) {
  auto* ort = ort_or_skip();
  if (!ort) return std::nullopt;
  onnx::ModelProto pa = to_proto_inline(before), pb = to_proto_inline(after);
  auto inputs = random_inputs(pa, seed);
  auto ra = ort->run_model(pa, inputs), rb = ort->run_model(pb, inputs);
  if (!ra) FAIL("ORT (before): " << ra.error);
  if (!rb) FAIL("ORT (after): " << rb.error);
  REQUIRE(ra->outputs.size() == rb->outputs.size());
  double worst = 0;
  for (size_t i = 0; i < ra->outputs.size(); ++i)
    worst = std::max(worst, rel_l2(tensor_values(ra->outputs[i]), tensor_values(rb->outputs[i])));
  return worst;
}

}  // namespace effopt::test::fusion

namespace effopt::test::fusion {

// `n` comma-separated pseudo-random numbers in [lo, hi), for ONNX-text constants.
inline std::string numbers(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", dist(rng));
    s += (i ? ", " : "") + std::string(buf);
  }
  return s;
}

}  // namespace effopt::test::fusion

namespace effopt::test::fusion {

// Graph output names, in order.
inline std::vector<std::string> output_names(const Model& m) {
  std::vector<std::string> out;
  for (const Value* v : m.graph->outputs()) out.push_back(v->name());
  return out;
}

// Applies `pass` to `text`: it must fire `times` times, keep the output names,
// verify, and keep the outputs (executor, rel-l2 <= 1e-5). Returns the result model.
inline std::unique_ptr<Model> check_fires(const std::string& pass_name, const std::string& text, int64_t times = 1) {
  auto before = parse_or_fail(text), m = parse_or_fail(text);
  auto r = apply(pass_name, *m);
  CHECK(r.counter("fused") == times);
  CHECK(r.changed);
  CHECK(output_names(*m) == output_names(*before));
  CHECK(exec_rel_l2(*before, *m) <= 1e-5);
  return m;
}

// Applies `pass` to `text`: it must not fire and must leave the node count alone.
inline void check_no_fire(const std::string& pass_name, const std::string& text) {
  auto m = parse_or_fail(text);
  size_t nodes = m->graph->nodes().size();
  auto r = apply(pass_name, *m);
  CHECK(r.counter("fused") == 0);
  CHECK_FALSE(r.changed);
  CHECK(m->graph->nodes().size() == nodes);
}

}  // namespace effopt::test::fusion
