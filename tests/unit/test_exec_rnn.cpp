// The executor's RNN, GRU and LSTM kernels on randomized configurations
// (direction, activations with alpha/beta, clip, linear_before_reset,
// peepholes, input_forget, sequence_lens, initial states, layout), each
// compared with ONNX Runtime 1.30 (test::skip when it is absent).
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <sstream>

#include "exec_ort_compare.h"

using namespace effopt;
using exec::TensorValue;

namespace {

struct RnnConfig {
  std::string op;  // RNN, GRU, LSTM
  std::string direction = "forward";
  int64_t S = 3, B = 2, I = 3, H = 2;
  int layout = 0;  // 1 needs opset 14
  bool bias = true, lens = false, init_h = false, init_c = false, peep = false;
  bool lbr = false, input_forget = false;
  std::optional<float> clip;
  std::vector<std::string> acts;
  std::vector<float> alphas, betas;

  std::string describe() const {
    std::ostringstream s;
    s << op << " " << direction << " S" << S << " B" << B << " I" << I << " H" << H << " layout " << layout
      << (bias ? " bias" : "") << (lens ? " lens" : "") << (init_h ? " h0" : "") << (init_c ? " c0" : "")
      << (peep ? " peepholes" : "") << (lbr ? " linear_before_reset" : "") << (input_forget ? " input_forget" : "");
    if (clip) s << " clip " << *clip;
    for (auto& a : acts) s << " " << a;
    for (float a : alphas) s << " a" << a;
    for (float b : betas) s << " b" << b;
    return s.str();
  }
};

std::string dims(std::vector<int64_t> d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

std::string floats(const std::vector<float>& v) {
  std::ostringstream s;
  s << std::showpoint << "[";  // "0.0", not "0": the parser would read an int list
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

TensorValue random_tensor(std::mt19937& rng, std::vector<int64_t> d, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(exec::shape_size(d)));
  for (auto& x : v) x = u(rng);
  return TensorValue::from_vector(DataType::Float, std::move(d), v);
}

// Swaps the first two axes of a rank-3 (or the first two of rank-4) float tensor.
TensorValue swap01(const TensorValue& t) {
  std::vector<int64_t> d = t.dims();
  int64_t a = d[0], b = d[1], inner = 1;
  for (size_t i = 2; i < d.size(); ++i) inner *= d[i];
  std::swap(d[0], d[1]);
  TensorValue out = TensorValue::allocate(DataType::Float, d);
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      std::memcpy(out.mutable_data<float>() + (j * a + i) * inner, t.data<float>() + (i * b + j) * inner,
                  sizeof(float) * inner);
  return out;
}

// Y [S, D, B, H] <-> [B, S, D, H]
TensorValue y_to_layout1(const TensorValue& y) {
  int64_t S = y.dim(0), D = y.dim(1), B = y.dim(2), H = y.dim(3);
  TensorValue out = TensorValue::allocate(DataType::Float, {B, S, D, H});
  for (int64_t t = 0; t < S; ++t)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(out.mutable_data<float>() + ((b * S + t) * D + d) * H, y.data<float>() + ((t * D + d) * B + b) * H,
                    sizeof(float) * H);
  return out;
}

std::unique_ptr<Model> build_model(const RnnConfig& c, int layout) {
  const int64_t G = c.op == "RNN" ? 1 : c.op == "GRU" ? 3 : 4;
  const int64_t D = c.direction == "bidirectional" ? 2 : 1;
  const bool lstm = c.op == "LSTM";
  std::vector<int64_t> xd = layout ? std::vector<int64_t>{c.B, c.S, c.I} : std::vector<int64_t>{c.S, c.B, c.I};
  std::vector<int64_t> sd = layout ? std::vector<int64_t>{c.B, D, c.H} : std::vector<int64_t>{D, c.B, c.H};
  std::vector<int64_t> yd = layout ? std::vector<int64_t>{c.B, c.S, D, c.H} : std::vector<int64_t>{c.S, D, c.B, c.H};
  std::ostringstream attrs;
  attrs << "hidden_size = " << c.H << ", direction = \"" << c.direction << "\"";
  if (layout) attrs << ", layout = 1";
  if (c.clip) attrs << ", clip = " << std::showpoint << *c.clip << std::noshowpoint;
  if (c.lbr) attrs << ", linear_before_reset = 1";
  if (c.input_forget) attrs << ", input_forget = 1";
  if (!c.acts.empty()) {
    attrs << ", activations = [";
    for (size_t i = 0; i < c.acts.size(); ++i) attrs << (i ? ", " : "") << "\"" << c.acts[i] << "\"";
    attrs << "]";
  }
  if (!c.alphas.empty()) attrs << ", activation_alpha = " << floats(c.alphas);
  if (!c.betas.empty()) attrs << ", activation_beta = " << floats(c.betas);
  std::ostringstream text;
  text << "<ir_version: 8, opset_import: [\"\" : " << (layout ? 14 : 7) << "]>\n"
       << "g (float" << dims(xd) << " X, float" << dims({D, G * c.H, c.I}) << " W, float" << dims({D, G * c.H, c.H})
       << " R, float" << dims({D, 2 * G * c.H}) << " Bias, int32" << dims({c.B}) << " lens, float" << dims(sd) << " h0";
  if (lstm) text << ", float" << dims(sd) << " c0, float" << dims({D, 3 * c.H}) << " P";
  text << ") => (float" << dims(yd) << " Y, float" << dims(sd) << " Yh" << (lstm ? ", float" + dims(sd) + " Yc" : "")
       << ") {\n  Y, Yh" << (lstm ? ", Yc" : "") << " = " << c.op << "<" << attrs.str() << ">(X, W, R, Bias, lens, h0"
       << (lstm ? ", c0, P" : "") << ")\n}\n";
  auto m = test::parse_or_fail(text.str());
  // Inputs not in this configuration become absent optional inputs (ONNX 1.12's parser cannot spell "").
  Node* n = m->graph->nodes()[0].get();
  const bool use[] = {true, true, true, c.bias, c.lens, c.init_h, c.init_c, c.peep};
  const char* names[] = {"X", "W", "R", "Bias", "lens", "h0", "c0", "P"};
  for (size_t i = 0; i < n->inputs().size(); ++i)
    if (!use[i]) {
      n->set_input(i, nullptr);
      m->graph->remove_input(m->graph->find_local(names[i]));
    }
  // Trailing absent inputs are dropped, as ONNX writes them.
  auto ins = n->inputs();
  while (!ins.empty() && !ins.back()) ins.pop_back();
  n->set_inputs(ins);
  return m;
}

// Layout 0 is compared with ONNX Runtime. ONNX Runtime refuses layout 1 ("Batchwise recurrent operations
// (layout == 1) are not supported"), so a layout-1 model is compared with the layout-0 result on the same
// data, transposed (bit for bit: the arithmetic is the same).
void check_config(const RnnConfig& c, std::mt19937& rng) {
  INFO(c.describe());
  const int64_t G = c.op == "RNN" ? 1 : c.op == "GRU" ? 3 : 4;
  const int64_t D = c.direction == "bidirectional" ? 2 : 1;
  const bool lstm = c.op == "LSTM";
  std::vector<std::pair<std::string, TensorValue>> in0, in1;
  auto add = [&](const char* name, bool use, TensorValue t, bool batch_first_in_layout1) {
    if (!use) return;
    in1.emplace_back(name, batch_first_in_layout1 ? swap01(t) : t);
    in0.emplace_back(name, std::move(t));
  };
  add("X", true, random_tensor(rng, {c.S, c.B, c.I}), true);
  add("W", true, random_tensor(rng, {D, G * c.H, c.I}), false);
  add("R", true, random_tensor(rng, {D, G * c.H, c.H}), false);
  add("Bias", c.bias, random_tensor(rng, {D, 2 * G * c.H}), false);
  std::vector<int32_t> lens(static_cast<size_t>(c.B));
  for (auto& l : lens) l = std::uniform_int_distribution<int32_t>(1, static_cast<int32_t>(c.S))(rng);
  add("lens", c.lens, TensorValue::from_vector(DataType::Int32, {c.B}, lens), false);
  add("h0", c.init_h, random_tensor(rng, {D, c.B, c.H}), true);
  if (lstm) {
    add("c0", c.init_c, random_tensor(rng, {D, c.B, c.H}), true);
    add("P", c.peep, random_tensor(rng, {D, 3 * c.H}), false);
  }
  auto m0 = build_model(c, 0);
  auto ours = test::run_exec(*m0, in0);
  REQUIRE(ours.size() == (lstm ? 3u : 2u));
  CHECK(ours[0].dims() == std::vector<int64_t>{c.S, D, c.B, c.H});
  test::matches_ort(*m0, in0, 2e-5);
  if (c.layout) {
    auto m1 = build_model(c, 1);
    auto ours1 = test::run_exec(*m1, in1);
    REQUIRE(ours1.size() == ours.size());
    std::vector<TensorValue> want{y_to_layout1(ours[0])};
    for (size_t k = 1; k < ours.size(); ++k) want.push_back(swap01(ours[k]));
    for (size_t k = 0; k < ours.size(); ++k) {
      INFO("layout 1, output " << k);
      REQUIRE(ours1[k].dims() == want[k].dims());
      CHECK(std::memcmp(ours1[k].raw(), want[k].raw(), want[k].byte_size()) == 0);
    }
  }
}

}  // namespace

TEST_CASE("exec-rnn: default RNN, GRU and LSTM", "[exec-rnn]") {
  std::mt19937 rng(1);
  for (const char* op : {"RNN", "GRU", "LSTM"}) {
    RnnConfig c;
    c.op = op;
    check_config(c, rng);
  }
}

TEST_CASE("exec-rnn: randomized configurations match ONNX Runtime", "[exec-rnn]") {
  std::mt19937 rng(20261202);
  const std::vector<std::string> names = {"Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu",
                                          "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"};
  auto coin = [&] { return std::uniform_int_distribution<int>(0, 1)(rng) == 1; };
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int k = 0; k < 60; ++k) {
    RnnConfig c;
    c.op = std::vector<std::string>{"RNN", "GRU", "LSTM"}[static_cast<size_t>(k % 3)];
    c.direction = std::vector<std::string>{"forward", "reverse", "bidirectional"}[static_cast<size_t>(pick(0, 2))];
    c.S = pick(1, 5);
    c.B = pick(1, 3);
    c.I = pick(1, 4);
    c.H = pick(1, 4);
    c.layout = coin() ? 1 : 0;
    c.bias = coin();
    c.lens = coin();
    c.init_h = coin();
    c.init_c = coin();
    c.peep = coin();
    c.lbr = c.op == "GRU" && coin();
    c.input_forget = c.op == "LSTM" && pick(0, 3) == 0;
    if (pick(0, 2) == 0) c.clip = 0.5f + static_cast<float>(pick(0, 4)) * 0.25f;
    if (coin()) {
      size_t per_dir = c.op == "RNN" ? 1 : c.op == "GRU" ? 2 : 3;
      size_t n = per_dir * (c.direction == "bidirectional" ? 2 : 1);
      for (size_t i = 0; i < n; ++i) c.acts.push_back(names[static_cast<size_t>(pick(0, static_cast<int>(names.size()) - 1))]);
      // How many alphas and betas the chosen activations take.
      size_t na = 0, nb = 0;
      for (auto& a : c.acts) {
        if (a == "Affine" || a == "LeakyRelu" || a == "ThresholdedRelu" || a == "ScaledTanh" || a == "HardSigmoid" || a == "Elu") ++na;
        if (a == "Affine" || a == "ScaledTanh" || a == "HardSigmoid") ++nb;
      }
      // ONNX Runtime defaults every missing alpha / beta to 0, where ONNX says the activation's own default
      // (LeakyRelu 0.01, ...): give them all, so the comparison tests what both agree on.
      for (size_t i = 0; i < na; ++i) c.alphas.push_back(0.25f * static_cast<float>(pick(1, 4)));
      for (size_t i = 0; i < nb; ++i) c.betas.push_back(0.25f * static_cast<float>(pick(0, 3)));
    }
    check_config(c, rng);
  }
}

TEST_CASE("exec-rnn: missing activation alphas take the ONNX defaults", "[exec-rnn]") {
  // One step, H = I = 1, W = 1, R = 0, no bias: Y = f(x). LeakyRelu's ONNX default alpha is 0.01, so
  // f(-2) = -0.02 (ONNX Runtime would give 0: it defaults every alpha to 0).
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 7]>
g (float[1,1,1] X, float[1,1,1] W, float[1,1,1] R) => (float[1,1,1,1] Y, float[1,1,1] Yh) {
  Y, Yh = RNN<hidden_size = 1, activations = ["LeakyRelu"]>(X, W, R)
}
)");
  auto one = [](float v) { return TensorValue::from_vector(DataType::Float, {1, 1, 1}, std::vector<float>{v}); };
  auto out = test::run_exec(*m, {{"X", one(-2)}, {"W", one(1)}, {"R", one(0)}});
  CHECK(out[0].data<float>()[0] == Approx(-0.02f));
  CHECK(out[1].data<float>()[0] == Approx(-0.02f));
}
