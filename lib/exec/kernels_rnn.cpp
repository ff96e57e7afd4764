// Recurrent kernels: RNN, GRU and LSTM (forward, reverse, bidirectional;
// activations with activation_alpha / activation_beta; clip; GRU's
// linear_before_reset; LSTM peepholes and input_forget; sequence_lens;
// initial_h / initial_c; the opset-14 layout attribute; all outputs).
// The input projection X * W^T runs as one GEMM over the whole sequence per
// direction; each step then multiplies the hidden state by R^T.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "exec/gemm.h"
#include "exec/kernel_registry.h"

namespace effopt::exec {

namespace {

enum class Cell { Rnn, Gru, Lstm };

struct Activation {
  enum Kind { Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus };
  Kind kind = Tanh;
  float alpha = 0, beta = 0;
  float operator()(float x) const {
    switch (kind) {
      case Relu: return x > 0 ? x : 0;
      case Tanh: return std::tanh(x);
      case Sigmoid: return 1.f / (1.f + std::exp(-x));
      case Affine: return alpha * x + beta;
      case LeakyRelu: return x >= 0 ? x : alpha * x;
      case ThresholdedRelu: return x > alpha ? x : 0;
      case ScaledTanh: return alpha * std::tanh(beta * x);
      case HardSigmoid: return std::clamp(alpha * x + beta, 0.f, 1.f);
      case Elu: return x >= 0 ? x : alpha * (std::exp(x) - 1);
      case Softsign: return x / (1 + std::fabs(x));
      case Softplus: return std::log1p(std::exp(x));
    }
    return x;
  }
};

// The activations, in order (per direction: RNN f; GRU f, g; LSTM f, g, h). Alphas and betas are consumed in
// order by the activations that take them (as ONNX Runtime 1.30 does); missing ones take the ONNX
// operators' defaults (LeakyRelu 0.01, ...; ONNX Runtime uses 0 instead).
Expected<std::vector<Activation>> parse_activations(const KernelContext& ctx, const std::vector<std::string>& defaults,
                                                    size_t dirs) {
  std::vector<std::string> names;
  if (const Attribute* a = ctx.node.attr("activations")) names = a->strings;
  if (names.empty())
    for (size_t d = 0; d < dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  if (names.size() == defaults.size() && dirs == 2) {  // one list for both directions
    auto copy = names;
    names.insert(names.end(), copy.begin(), copy.end());
  }
  if (names.size() != defaults.size() * dirs)
    return ctx.fail("activations must list " + std::to_string(defaults.size() * dirs) + " functions, got " +
                    std::to_string(names.size()));
  std::vector<float> alphas, betas;
  if (const Attribute* a = ctx.node.attr("activation_alpha")) alphas = a->floats;
  if (const Attribute* a = ctx.node.attr("activation_beta")) betas = a->floats;
  size_t ai = 0, bi = 0;
  std::vector<Activation> out;
  for (size_t pos = 0; pos < names.size(); ++pos) {
    const std::string& raw = names[pos];
    std::string n = raw;
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    Activation a;
    float def_a = 0, def_b = 0;
    bool takes_a = false, takes_b = false;
    if (n == "relu") a.kind = Activation::Relu;
    else if (n == "tanh") a.kind = Activation::Tanh;
    else if (n == "sigmoid") a.kind = Activation::Sigmoid;
    else if (n == "affine") { a.kind = Activation::Affine; takes_a = takes_b = true; def_a = 1; }
    else if (n == "leakyrelu") { a.kind = Activation::LeakyRelu; takes_a = true; def_a = 0.01f; }
    else if (n == "thresholdedrelu") { a.kind = Activation::ThresholdedRelu; takes_a = true; def_a = 1; }
    else if (n == "scaledtanh") { a.kind = Activation::ScaledTanh; takes_a = takes_b = true; def_a = def_b = 1; }
    else if (n == "hardsigmoid") { a.kind = Activation::HardSigmoid; takes_a = takes_b = true; def_a = 0.2f; def_b = 0.5f; }
    else if (n == "elu") { a.kind = Activation::Elu; takes_a = true; def_a = 1; }
    else if (n == "softsign") a.kind = Activation::Softsign;
    else if (n == "softplus") a.kind = Activation::Softplus;
    else return ctx.fail("unknown activation '" + raw + "'");
    a.alpha = takes_a ? (ai < alphas.size() ? alphas[ai++] : def_a) : 0;
    a.beta = takes_b ? (bi < betas.size() ? betas[bi++] : def_b) : 0;
    out.push_back(a);
  }
  return out;
}

// Swaps the first two axes of a rank-3 float tensor (layout 1 <-> layout 0).
std::vector<float> swap01(const float* x, int64_t a, int64_t b, int64_t c) {
  std::vector<float> out(static_cast<size_t>(a * b * c));
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j) std::memcpy(&out[static_cast<size_t>((j * a + i) * c)], x + (i * b + j) * c, sizeof(float) * c);
  return out;
}

Status rnn_kernel(KernelContext& ctx, Cell cell) {
  const int64_t G = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4;
  const TensorValue& X = ctx.in(0);
  const TensorValue& W = ctx.in(1);
  const TensorValue& R = ctx.in(2);
  for (const TensorValue* t : {&X, &W, &R})
    if (t->dtype() != DataType::Float || t->rank() != 3) return ctx.fail("X, W and R must be rank-3 float tensors");
  const int64_t layout = ctx.opset >= 14 ? ctx.node.attr_int("layout", 0) : 0;
  const std::string direction = ctx.node.attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    return ctx.fail("unknown direction '" + direction + "'");
  const int64_t D = direction == "bidirectional" ? 2 : 1;
  const int64_t seq = layout ? X.dim(1) : X.dim(0), batch = layout ? X.dim(0) : X.dim(1), I = X.dim(2);
  const int64_t H = ctx.node.attr_int("hidden_size", R.dim(2));
  const int64_t GH = G * H;
  if (W.dim(0) != D || W.dim(1) != GH || W.dim(2) != I)
    return ctx.fail("W must be " + dims_to_string({D, GH, I}) + ", got " + dims_to_string(W.dims()));
  if (R.dim(0) != D || R.dim(1) != GH || R.dim(2) != H)
    return ctx.fail("R must be " + dims_to_string({D, GH, H}) + ", got " + dims_to_string(R.dims()));
  auto check_dims = [&](size_t i, std::vector<int64_t> want, const char* name) -> Status {
    if (!ctx.has_input(i)) return ok();
    if (ctx.in(i).dtype() != DataType::Float && i != 4) return ctx.fail(std::string(name) + " must be float");
    if (ctx.in(i).dims() != want)
      return ctx.fail(std::string(name) + " must be " + dims_to_string(want) + ", got " + dims_to_string(ctx.in(i).dims()));
    return ok();
  };
  std::vector<int64_t> state_dims = layout ? std::vector<int64_t>{batch, D, H} : std::vector<int64_t>{D, batch, H};
  EFFOPT_TRY(check_dims(3, {D, 2 * GH}, "B"));
  EFFOPT_TRY(check_dims(5, state_dims, "initial_h"));
  if (cell == Cell::Lstm) {
    EFFOPT_TRY(check_dims(6, state_dims, "initial_c"));
    EFFOPT_TRY(check_dims(7, {D, 3 * H}, "P"));
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
  if (ctx.has_input(4)) {
    EFFOPT_TRY_ASSIGN(lens, read_ints(ctx.in(4), ctx));
    if (lens.size() != static_cast<size_t>(batch)) return ctx.fail("sequence_lens must have one entry per batch item");
    for (int64_t l : lens)
      if (l < 0 || l > seq) return ctx.fail("sequence_lens entry " + std::to_string(l) + " is out of range [0, " + std::to_string(seq) + "]");
  }
  const bool has_clip = ctx.node.attr("clip") != nullptr;
  const float clip = ctx.node.attr_float("clip", 0);
  auto clipped = [&](float v) { return has_clip ? std::clamp(v, -clip, clip) : v; };
  const bool lbr = cell == Cell::Gru && ctx.node.attr_int("linear_before_reset", 0) != 0;
  const bool input_forget = cell == Cell::Lstm && ctx.node.attr_int("input_forget", 0) != 0;
  std::vector<std::string> defaults = cell == Cell::Rnn   ? std::vector<std::string>{"Tanh"}
                                      : cell == Cell::Gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                          : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  EFFOPT_TRY_ASSIGN(auto acts, parse_activations(ctx, defaults, static_cast<size_t>(D)));

  // Time-major copies of X and the initial states.
  std::vector<float> xs_buf, h0_buf, c0_buf;
  const float* xs = X.data<float>();
  if (layout) { xs_buf = swap01(xs, batch, seq, I); xs = xs_buf.data(); }
  auto state_init = [&](size_t i, std::vector<float>& buf) {
    if (!ctx.has_input(i)) { buf.assign(static_cast<size_t>(D * batch * H), 0.f); return; }
    const float* p = ctx.in(i).data<float>();
    if (layout) buf = swap01(p, batch, D, H);
    else buf.assign(p, p + D * batch * H);
  };
  state_init(5, h0_buf);
  if (cell == Cell::Lstm) state_init(6, c0_buf);

  std::vector<float> Y(static_cast<size_t>(seq * D * batch * H), 0.f), Yh(static_cast<size_t>(D * batch * H)),
      Yc(cell == Cell::Lstm ? static_cast<size_t>(D * batch * H) : 0);
  std::vector<float> xw(static_cast<size_t>(seq * batch * GH)), hr(static_cast<size_t>(batch * GH));
  std::vector<float> h(static_cast<size_t>(batch * H)), c, hn(static_cast<size_t>(batch * H)), rh, rhr;
  if (cell == Cell::Gru && !lbr) { rh.assign(static_cast<size_t>(batch * H), 0.f); rhr.assign(static_cast<size_t>(batch * H), 0.f); }
  std::vector<float> zeros_b(static_cast<size_t>(2 * GH), 0.f);
  const size_t A = defaults.size();

  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const float* Wd = W.data<float>() + d * GH * I;
    const float* Rd = R.data<float>() + d * GH * H;
    const float* Wb = ctx.has_input(3) ? ctx.in(3).data<float>() + d * 2 * GH : zeros_b.data();
    const float* Rb = Wb + GH;
    const float* P = cell == Cell::Lstm && ctx.has_input(7) ? ctx.in(7).data<float>() + d * 3 * H : nullptr;
    const Activation& f = acts[static_cast<size_t>(d) * A];
    const Activation& g = A > 1 ? acts[static_cast<size_t>(d) * A + 1] : f;
    const Activation& hact = A > 2 ? acts[static_cast<size_t>(d) * A + 2] : f;
    // X * W^T for every step at once, plus both biases (except GRU's Rbh with linear_before_reset, which
    // is applied inside the reset product).
    if (seq * batch > 0)
      sgemm_tiled(ctx.pool, false, true, seq * batch, GH, I, 1.f, xs, I, Wd, I, 0.f, xw.data(), GH);
    for (int64_t r = 0; r < seq * batch; ++r)
      for (int64_t j = 0; j < GH; ++j) {
        float bias = Wb[j];
        if (!(cell == Cell::Gru && j >= 2 * H)) bias += Rb[j];
        xw[static_cast<size_t>(r * GH + j)] += bias;
      }
    std::copy_n(h0_buf.begin() + d * batch * H, batch * H, h.begin());
    if (cell == Cell::Lstm) c.assign(c0_buf.begin() + d * batch * H, c0_buf.begin() + (d + 1) * batch * H);
    for (int64_t s = 0; s < seq; ++s) {
      // h * R^T (GRU without linear_before_reset: only the z and r rows here).
      int64_t cols = cell == Cell::Gru && !lbr ? 2 * H : GH;
      sgemm(false, true, batch, cols, H, 1.f, h.data(), H, Rd, H, 0.f, hr.data(), GH);
      auto t_of = [&](int64_t b) { return reverse ? lens[static_cast<size_t>(b)] - 1 - s : s; };
      if (cell == Cell::Gru && !lbr) {
        // r ⊙ h first, then its product with Rh.
        for (int64_t b = 0; b < batch; ++b) {
          if (s >= lens[static_cast<size_t>(b)]) continue;
          const float* x = &xw[static_cast<size_t>((t_of(b) * batch + b) * GH)];
          for (int64_t j = 0; j < H; ++j) {
            float r = f(clipped(x[H + j] + hr[static_cast<size_t>(b * GH + H + j)]));
            rh[static_cast<size_t>(b * H + j)] = r * h[static_cast<size_t>(b * H + j)];
          }
        }
        sgemm(false, true, batch, H, H, 1.f, rh.data(), H, Rd + 2 * H * H, H, 0.f, rhr.data(), H);
      }
      for (int64_t b = 0; b < batch; ++b) {
        if (s >= lens[static_cast<size_t>(b)]) continue;
        const int64_t t = t_of(b);
        const float* x = &xw[static_cast<size_t>((t * batch + b) * GH)];
        const float* q = &hr[static_cast<size_t>(b * GH)];
        float* hb = &h[static_cast<size_t>(b * H)];
        float* out = &hn[static_cast<size_t>(b * H)];
        for (int64_t j = 0; j < H; ++j) {
          if (cell == Cell::Rnn) {
            out[j] = f(clipped(x[j] + q[j]));
          } else if (cell == Cell::Gru) {
            float z = f(clipped(x[j] + q[j]));
            float hh;
            if (lbr) {
              float r = f(clipped(x[H + j] + q[H + j]));
              hh = g(clipped(x[2 * H + j] + r * (q[2 * H + j] + Rb[2 * H + j])));
            } else {
              hh = g(clipped(x[2 * H + j] + rhr[static_cast<size_t>(b * H + j)] + Rb[2 * H + j]));
            }
            out[j] = (1 - z) * hh + z * hb[j];
          } else {
            float& cb = c[static_cast<size_t>(b * H + j)];
            float ig = x[j] + q[j] + (P ? P[j] * cb : 0);
            float i = f(clipped(ig));
            float fg = x[2 * H + j] + q[2 * H + j] + (P ? P[2 * H + j] * cb : 0);
            float fo = input_forget ? 1 - i : f(clipped(fg));
            float cc = g(clipped(x[3 * H + j] + q[3 * H + j]));
            cb = fo * cb + i * cc;
            float o = f(clipped(x[H + j] + q[H + j] + (P ? P[H + j] * cb : 0)));
            out[j] = o * hact(cb);
          }
        }
        std::copy_n(out, H, hb);
        std::copy_n(out, H, &Y[static_cast<size_t>(((t * D + d) * batch + b) * H)]);
      }
    }
    std::copy_n(h.begin(), batch * H, Yh.begin() + d * batch * H);
    if (cell == Cell::Lstm) std::copy_n(c.begin(), batch * H, Yc.begin() + d * batch * H);
  }

  auto emit_state = [&](size_t o, const std::vector<float>& v) {
    if (o >= ctx.outputs.size()) return;
    std::vector<float> buf = layout ? swap01(v.data(), D, batch, H) : v;
    ctx.outputs[o] = TensorValue::from_vector(DataType::Float, state_dims, buf);
  };
  if (!ctx.outputs.empty()) {
    if (layout) {
      // [seq, D, batch, H] -> [batch, seq, D, H]
      std::vector<float> yl(Y.size());
      for (int64_t t = 0; t < seq; ++t)
        for (int64_t d = 0; d < D; ++d)
          for (int64_t b = 0; b < batch; ++b)
            std::memcpy(&yl[static_cast<size_t>(((b * seq + t) * D + d) * H)], &Y[static_cast<size_t>(((t * D + d) * batch + b) * H)],
                        sizeof(float) * H);
      ctx.outputs[0] = TensorValue::from_vector(DataType::Float, {batch, seq, D, H}, yl);
    } else {
      ctx.outputs[0] = TensorValue::from_vector(DataType::Float, {seq, D, batch, H}, Y);
    }
  }
  emit_state(1, Yh);
  if (cell == Cell::Lstm) emit_state(2, Yc);
  return ok();
}

}  // namespace

void register_rnn_kernels(KernelRegistry& r) {
  const auto FC = KernelFlags::FloatCompute;
  r.add("RNN", 7, INT64_MAX, [](KernelContext& c) { return rnn_kernel(c, Cell::Rnn); }, FC);
  r.add("GRU", 7, INT64_MAX, [](KernelContext& c) { return rnn_kernel(c, Cell::Gru); }, FC);
  r.add("LSTM", 7, INT64_MAX, [](KernelContext& c) { return rnn_kernel(c, Cell::Lstm); }, FC);
}

}  // namespace effopt::exec
