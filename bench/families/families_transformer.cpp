// The transformer families: a GPT-2-style decoder (HuggingFace GPT2Model's
// layout: pre-LayerNorm blocks, fused QKV projection split in three, tanh-Gelu
// written out, causal mask) and a ViT (timm's VisionTransformer: patchify
// Conv, class token, erf-Gelu, attention without mask). Linear layers on 3-D
// activations are MatMul + Add with the weight stored [in, out], as PyTorch
// exports them.
#include <cmath>
#include <limits>

#include "families/families_internal.h"

namespace effopt::bench::detail {

Value* layer_norm(GraphBuilder& b, const std::string& scope, Value* x, int64_t d, float epsilon) {
  auto s = b.scope(scope);
  Value* gamma = b.uniform("weight", {d}, 0.1f, 1.0f);
  Value* beta = b.uniform("bias", {d}, 0.1f);
  if (b.opset() >= 17)
    return b.op("LayerNormalization", {x, gamma, beta},
                {attr_int("axis", -1), attr_float("epsilon", epsilon)});
  // F.layer_norm below opset 17: (x - mean) / sqrt(var + eps) * gamma + beta, variance from Pow(2).
  auto mean = [&](Value* v) {
    return b.op("ReduceMean", {v}, {attr_ints("axes", {-1}), attr_int("keepdims", 1)});
  };
  Value* centered = b.op("Sub", {x, mean(x)});
  Value* var = mean(b.op("Pow", {centered, b.scalar(2)}));
  Value* stddev = b.op("Sqrt", {b.op("Add", {var, b.scalar(epsilon)})});
  Value* normed = b.op("Div", {centered, stddev});
  return b.op("Add", {b.op("Mul", {normed, gamma}), beta});
}

namespace {

// nn.Linear on a 3-D activation: MatMul with the weight stored [in, out], then Add of the bias.
Value* linear(GraphBuilder& b, const std::string& scope, Value* x, int64_t in, int64_t out, bool bias = true) {
  auto s = b.scope(scope);
  Value* y = b.op("MatMul", {x, b.he_weight("weight", {in, out}, in)});
  return bias ? b.op("Add", {y, b.bias("bias", out)}) : y;
}

// HuggingFace NewGELUActivation: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
Value* gelu_tanh(GraphBuilder& b, Value* x) {
  Value* half_x = b.op("Mul", {x, b.scalar(0.5f)});
  Value* cube = b.op("Mul", {b.op("Pow", {x, b.scalar(3)}), b.scalar(0.044715f)});
  Value* inner = b.op("Mul", {b.op("Add", {x, cube}), b.scalar(static_cast<float>(std::sqrt(2.0 / M_PI)))});
  return b.op("Mul", {half_x, b.op("Add", {b.op("Tanh", {inner}), b.scalar(1)})});
}

// nn.GELU() below opset 20: x * (1 + erf(x / sqrt(2))) * 0.5.
Value* gelu_erf(GraphBuilder& b, Value* x) {
  Value* e = b.op("Erf", {b.op("Div", {x, b.scalar(static_cast<float>(std::sqrt(2.0)))})});
  return b.op("Mul", {b.op("Mul", {x, b.op("Add", {e, b.scalar(1)})}), b.scalar(0.5f)});
}

enum class Attn { CausalDecoder, Encoder };

// Fused QKV projection, Split, per-head Reshape/Transpose (K transposed for the scores MatMul), scaled scores,
// optional causal mask, Softmax, context MatMul, heads merged, output projection.
Value* attention(GraphBuilder& b, const std::string& scope, Value* x, int64_t d, int64_t heads, int64_t seq, Attn kind) {
  auto s = b.scope(scope);
  const int64_t hd = d / heads;
  Value* qkv = linear(b, kind == Attn::CausalDecoder ? "c_attn" : "qkv", x, d, 3 * d);
  Node* split = b.node("Split", {qkv, b.int_vector({d, d, d})}, 3, {attr_int("axis", 2)});
  auto heads_of = [&](Value* v, std::vector<int64_t> perm) {
    Value* r = b.op("Reshape", {v, b.int_vector({1, seq, heads, hd})});
    return b.op("Transpose", {r}, {attr_ints("perm", std::move(perm))});
  };
  Value* q = heads_of(split->output(0), {0, 2, 1, 3});
  Value* k_t = heads_of(split->output(1), {0, 2, 3, 1});  // k.transpose(-1, -2), merged by the exporter
  Value* v = heads_of(split->output(2), {0, 2, 1, 3});
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  Value* scores;
  if (kind == Attn::CausalDecoder) {
    // GPT-2: (q @ k^T) / sqrt(head_dim), then the causal mask.
    scores = b.op("Div", {b.op("MatMul", {q, k_t}), b.scalar(1.0f / scale)});
    const float neg_inf = -std::numeric_limits<float>::infinity();
    if (b.opset() >= 14) {
      std::vector<uint8_t> ones(static_cast<size_t>(seq * seq), 1);
      Value* causal = b.op("Trilu", {b.bools("bias", {seq, seq}, ones)}, {attr_int("upper", 0)});
      scores = b.op("Where", {causal, scores, b.scalar(neg_inf)});
    } else {
      std::vector<float> mask(static_cast<size_t>(seq * seq), 0.0f);
      for (int64_t i = 0; i < seq; ++i)
        for (int64_t j = i + 1; j < seq; ++j) mask[static_cast<size_t>(i * seq + j)] = neg_inf;
      scores = b.op("Add", {scores, b.floats("causal_mask", {seq, seq}, mask)});
    }
  } else {
    // timm: q * scale, then q @ k^T.
    scores = b.op("MatMul", {b.op("Mul", {q, b.scalar(scale)}), k_t});
  }
  Value* probs = b.op("Softmax", {scores}, {attr_int("axis", -1)});
  Value* ctx = b.op("Transpose", {b.op("MatMul", {probs, v})}, {attr_ints("perm", {0, 2, 1, 3})});
  ctx = b.op("Reshape", {ctx, b.int_vector({1, seq, d})});
  return linear(b, kind == Attn::CausalDecoder ? "c_proj" : "proj", ctx, d, d);
}

}  // namespace

Status build_gpt(GraphBuilder& b, const std::string& name) {
  int64_t layers = 6, d = 512, heads = 8, vocab = 16384, seq = 0;
  if (name == "gpt_seq128") seq = 128;
  else if (name == "gpt_seq512") seq = 512;
  else if (name == "gpt_tiny") layers = 2, d = 32, heads = 4, vocab = 64, seq = 16;
  else return usage_error("unknown GPT decoder instance: " + name);
  Value* ids = b.input("input_ids", DataType::Int64, {1, seq});
  Value* h;
  {
    auto s = b.scope("transformer");
    // Embeddings: std 0.02 as GPT-2 initializes them (uniform of that variance).
    Value* tok = b.op("Gather", {b.uniform("wte.weight", {vocab, d}, 0.0346f), ids}, {attr_int("axis", 0)});
    std::vector<int64_t> positions(static_cast<size_t>(seq));
    for (int64_t i = 0; i < seq; ++i) positions[static_cast<size_t>(i)] = i;
    Value* pos = b.op("Gather", {b.uniform("wpe.weight", {seq, d}, 0.0346f), b.ints("position_ids", {1, seq}, positions)},
                      {attr_int("axis", 0)});
    h = b.op("Add", {tok, pos});
    for (int64_t l = 0; l < layers; ++l) {
      auto layer = b.scope("h." + std::to_string(l));
      Value* a = attention(b, "attn", layer_norm(b, "ln_1", h, d, 1e-5f), d, heads, seq, Attn::CausalDecoder);
      h = b.op("Add", {h, a});
      Value* normed = layer_norm(b, "ln_2", h, d, 1e-5f);
      auto mlp = b.scope("mlp");
      Value* m = linear(b, "c_fc", normed, d, 4 * d);
      m = linear(b, "c_proj", gelu_tanh(b, m), 4 * d, d);
      h = b.op("Add", {h, m});
    }
    h = layer_norm(b, "ln_f", h, d, 1e-5f);
  }
  b.output(linear(b, "lm_head", h, d, vocab, /*bias=*/false));
  return {};
}

Status build_vit(GraphBuilder& b, const std::string& name) {
  int64_t res = 224, patch = 16, d = 0, depth = 12, heads = 0, mlp = 0, classes = 1000;
  if (name == "vit_s16") d = 384, heads = 6, mlp = 1536;
  else if (name == "vit_b16") d = 768, heads = 12, mlp = 3072;
  else if (name == "vit_tiny") res = 32, patch = 8, d = 32, depth = 2, heads = 4, mlp = 64, classes = 10;
  else return usage_error("unknown ViT instance: " + name);
  const int64_t grid = res / patch, tokens = grid * grid + 1;
  Value* img = b.input("input", DataType::Float, {1, 3, res, res});
  Value* x;
  {
    auto s = b.scope("patch_embed.proj");
    Value* w = b.he_weight("weight", {d, 3, patch, patch}, 3 * patch * patch);
    x = b.op("Conv", {img, w, b.bias("bias", d)},
             {attr_ints("dilations", {1, 1}), attr_int("group", 1),
              attr_ints("kernel_shape", {patch, patch}), attr_ints("pads", {0, 0, 0, 0}),
              attr_ints("strides", {patch, patch})});
    // x.flatten(2).transpose(1, 2)
    x = b.op("Reshape", {x, b.int_vector({1, d, grid * grid})});
    x = b.op("Transpose", {x}, {attr_ints("perm", {0, 2, 1})});
  }
  x = b.op("Concat", {b.uniform("cls_token", {1, 1, d}, 0.0346f), x}, {attr_int("axis", 1)});
  x = b.op("Add", {x, b.uniform("pos_embed", {1, tokens, d}, 0.0346f)});
  for (int64_t l = 0; l < depth; ++l) {
    auto s = b.scope("blocks." + std::to_string(l));
    x = b.op("Add", {x, attention(b, "attn", layer_norm(b, "norm1", x, d, 1e-6f), d, heads, tokens, Attn::Encoder)});
    Value* normed = layer_norm(b, "norm2", x, d, 1e-6f);
    auto m = b.scope("mlp");
    Value* h = linear(b, "fc1", normed, d, mlp);
    x = b.op("Add", {x, linear(b, "fc2", gelu_erf(b, h), mlp, d)});
  }
  x = layer_norm(b, "norm", x, d, 1e-6f);
  x = b.op("Gather", {x, b.ints("Constant", {}, {0})}, {attr_int("axis", 1)});  // x[:, 0]
  auto s = b.scope("head");
  Value* w = b.he_weight("weight", {classes, d}, d);
  b.output(b.op("Gemm", {x, w, b.bias("bias", classes)},
                {attr_float("alpha", 1), attr_float("beta", 1), attr_int("transB", 1)}));
  return {};
}

}  // namespace effopt::bench::detail
