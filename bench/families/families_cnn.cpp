// The CNN families: EfficientNet, MobileNetV3, RegNetY, ShuffleNetV2, after
// torchvision's definitions (torchvision/models/{efficientnet,mobilenetv3,
// regnet,shufflenetv2}.py), exported in eval mode: every BatchNormalization is
// folded into its Conv (which then has a bias), Dropout and stochastic depth
// vanish, AdaptiveAvgPool2d(1) is GlobalAveragePool, Linear is Gemm.
#include <algorithm>
#include <cmath>
#include <functional>

#include "families/families_internal.h"

namespace effopt::bench::detail {
namespace {

// A feature map and its geometry (batch 1, NCHW).
struct Feat {
  Value* v;
  int64_t c, h, w;
};

// torchvision's _make_divisible: round to a multiple of `divisor`, never more than 10% below v.
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(r) < 0.9 * v) r += divisor;
  return r;
}

// Conv (BatchNormalization folded: always a bias), "same" padding for odd kernels.
Feat conv(GraphBuilder& b, const std::string& scope, const Feat& x, int64_t cout, int64_t k, int64_t stride,
          int64_t groups = 1) {
  auto s = b.scope(scope);
  const int64_t pad = (k - 1) / 2, cin_per_group = x.c / groups;
  Value* w = b.he_weight("weight", {cout, cin_per_group, k, k}, cin_per_group * k * k);
  Value* y = b.op("Conv", {x.v, w, b.bias("bias", cout)},
                  {attr_ints("dilations", {1, 1}), attr_int("group", groups),
                   attr_ints("kernel_shape", {k, k}), attr_ints("pads", {pad, pad, pad, pad}),
                   attr_ints("strides", {stride, stride})});
  return {y, cout, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1};
}

using Act = std::function<Value*(GraphBuilder&, Value*)>;

Value* relu(GraphBuilder& b, Value* x) { return b.op("Relu", {x}); }
// nn.SiLU: PyTorch writes x * sigmoid(x).
Value* silu(GraphBuilder& b, Value* x) { return b.op("Mul", {x, b.op("Sigmoid", {x})}); }
Value* hard_sigmoid(GraphBuilder& b, Value* x) {
  return b.op("HardSigmoid", {x}, {attr_float("alpha", 1.0f / 6), attr_float("beta", 0.5f)});
}
// nn.Hardswish: the op from opset 14, HardSigmoid + Mul before.
Value* hard_swish(GraphBuilder& b, Value* x) {
  if (b.opset() >= 14) return b.op("HardSwish", {x});
  return b.op("Mul", {x, hard_sigmoid(b, x)});
}
// The hand-written forms older MobileNetV3 code uses: h_sigmoid = relu6(x + 3) / 6, h_swish = x * h_sigmoid(x).
Value* h_sigmoid_written_out(GraphBuilder& b, Value* x) {
  Value* clip = b.op("Clip", {b.op("Add", {x, b.scalar(3)}), b.scalar(0), b.scalar(6)});
  return b.op("Div", {clip, b.scalar(6)});
}
Value* h_swish_written_out(GraphBuilder& b, Value* x) { return b.op("Mul", {x, h_sigmoid_written_out(b, x)}); }

Feat act(GraphBuilder& b, const Feat& x, const Act& f) { return {f(b, x.v), x.c, x.h, x.w}; }

// torchvision.ops.SqueezeExcitation: scale = gate(fc2(inner(fc1(avgpool(x))))); scale * x.
Feat squeeze_excitation(GraphBuilder& b, const std::string& scope, const Feat& x, int64_t squeeze, const Act& inner,
                        const Act& gate) {
  auto s = b.scope(scope);
  Feat pooled{b.op("GlobalAveragePool", {x.v}), x.c, 1, 1};
  Feat f1 = act(b, conv(b, "fc1", pooled, squeeze, 1, 1), inner);
  Feat scale = act(b, conv(b, "fc2", f1, x.c, 1, 1), gate);
  return {b.op("Mul", {scale.v, x.v}), x.c, x.h, x.w};
}

Value* linear(GraphBuilder& b, const std::string& scope, Value* x, int64_t in, int64_t out) {
  auto s = b.scope(scope);
  Value* w = b.he_weight("weight", {out, in}, in);
  return b.op("Gemm", {x, w, b.bias("bias", out)},
              {attr_float("alpha", 1), attr_float("beta", 1), attr_int("transB", 1)});
}

Value* flatten(GraphBuilder& b, Value* x) { return b.op("Flatten", {x}, {attr_int("axis", 1)}); }

Feat image_input(GraphBuilder& b, int64_t res) { return {b.input("input", DataType::Float, {1, 3, res, res}), 3, res, res}; }

// ---- EfficientNet (torchvision efficientnet_b*: MBConv with SiLU and SE) ----

struct MBConvStage {
  int64_t expand, kernel, stride, in, out, layers;
};

struct EfficientNetConfig {
  int64_t resolution;
  double width, depth;
  int64_t stem;
  std::vector<MBConvStage> stages;
  int64_t classes;
};

// torchvision _efficientnet_conf("efficientnet_b0"...): the B0 table, scaled by width and depth.
const std::vector<MBConvStage> kEfficientNetB0Stages = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};

}  // namespace

Status build_efficientnet(GraphBuilder& b, const std::string& name) {
  EfficientNetConfig cfg;
  if (name == "efficientnet_b0") cfg = {224, 1.0, 1.0, 32, kEfficientNetB0Stages, 1000};
  else if (name == "efficientnet_b2") cfg = {260, 1.1, 1.2, 32, kEfficientNetB0Stages, 1000};
  // 3x3 at strides 1 and 2, 5x5 at strides 2 and 1, expand ratio 1 and >1, residuals, SE: every pattern of B0.
  else if (name == "efficientnet_tiny") cfg = {32, 1.0, 1.0, 8, {{1, 3, 1, 8, 8, 1}, {4, 3, 2, 8, 8, 2}, {4, 5, 2, 8, 16, 2}}, 10};
  else return usage_error("unknown EfficientNet instance: " + name);
  auto ch = [&](int64_t c) { return make_divisible(static_cast<double>(c) * cfg.width); };
  Feat x = image_input(b, cfg.resolution);
  x = act(b, conv(b, "features.0.0", x, ch(cfg.stem), 3, 2), silu);
  int64_t stage_index = 1;
  for (const MBConvStage& st : cfg.stages) {
    const int64_t layers = static_cast<int64_t>(std::ceil(static_cast<double>(st.layers) * cfg.depth));
    for (int64_t l = 0; l < layers; ++l) {
      auto s = b.scope("features." + std::to_string(stage_index) + "." + std::to_string(l));
      const int64_t in = l == 0 ? ch(st.in) : ch(st.out), out = ch(st.out), stride = l == 0 ? st.stride : 1;
      const int64_t expanded = make_divisible(static_cast<double>(in * st.expand));
      Feat h = x;
      int64_t part = 0;
      auto next = [&] { return "block." + std::to_string(part++); };
      if (expanded != in) h = act(b, conv(b, next(), h, expanded, 1, 1), silu);
      h = act(b, conv(b, next(), h, expanded, st.kernel, stride, expanded), silu);
      h = squeeze_excitation(b, next(), h, std::max<int64_t>(1, in / 4), silu,
                             [](GraphBuilder& g, Value* v) { return g.op("Sigmoid", {v}); });
      h = conv(b, next(), h, out, 1, 1);
      if (stride == 1 && in == out) h.v = b.op("Add", {h.v, x.v});
      x = h;
    }
    ++stage_index;
  }
  x = act(b, conv(b, "features." + std::to_string(stage_index) + ".0", x, 4 * x.c, 1, 1), silu);
  Value* pooled = flatten(b, b.op("GlobalAveragePool", {x.v}));
  b.output(linear(b, "classifier.1", pooled, x.c, cfg.classes));
  return {};
}

// ---- MobileNetV3 (torchvision mobilenet_v3_large / _small) ----

namespace {
struct Bneck {
  int64_t in, kernel, expanded, out;
  bool se, hard_swish;
  int64_t stride;
};
}  // namespace

Status build_mobilenetv3(GraphBuilder& b, const std::string& name) {
  int64_t res = 224, stem = 16, hidden = 0, classes = 1000;
  std::vector<Bneck> blocks;
  if (name == "mobilenetv3_large") {
    hidden = 1280;
    blocks = {{16, 3, 16, 16, false, false, 1},   {16, 3, 64, 24, false, false, 2},  {24, 3, 72, 24, false, false, 1},
              {24, 5, 72, 40, true, false, 2},    {40, 5, 120, 40, true, false, 1},  {40, 5, 120, 40, true, false, 1},
              {40, 3, 240, 80, false, true, 2},   {80, 3, 200, 80, false, true, 1},  {80, 3, 184, 80, false, true, 1},
              {80, 3, 184, 80, false, true, 1},   {80, 3, 480, 112, true, true, 1},  {112, 3, 672, 112, true, true, 1},
              {112, 5, 672, 160, true, true, 2},  {160, 5, 960, 160, true, true, 1}, {160, 5, 960, 160, true, true, 1}};
  } else if (name == "mobilenetv3_small") {
    hidden = 1024;
    blocks = {{16, 3, 16, 16, true, false, 2},  {16, 3, 72, 24, false, false, 2}, {24, 3, 88, 24, false, false, 1},
              {24, 5, 96, 40, true, true, 2},   {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
              {40, 5, 120, 48, true, true, 1},  {48, 5, 144, 48, true, true, 1},  {48, 5, 288, 96, true, true, 2},
              {96, 5, 576, 96, true, true, 1},  {96, 5, 576, 96, true, true, 1}};
  } else if (name == "mobilenetv3_tiny") {
    res = 32, stem = 8, hidden = 64, classes = 10;
    blocks = {{8, 3, 8, 8, true, false, 2},      {8, 3, 24, 12, false, false, 2}, {12, 3, 36, 12, false, false, 1},
              {12, 5, 36, 16, true, true, 2},    {16, 5, 48, 16, true, true, 1}};
  } else {
    return usage_error("unknown MobileNetV3 instance: " + name);
  }
  Feat x = image_input(b, res);
  x = act(b, conv(b, "features.0.0", x, stem, 3, 2), hard_swish);
  int64_t index = 1;
  for (const Bneck& bk : blocks) {
    auto s = b.scope("features." + std::to_string(index++));
    const Act a = bk.hard_swish ? Act(hard_swish) : Act(relu);
    Feat h = x;
    int64_t part = 0;
    auto next = [&] { return "block." + std::to_string(part++); };
    if (bk.expanded != bk.in) h = act(b, conv(b, next(), h, bk.expanded, 1, 1), a);
    h = act(b, conv(b, next(), h, bk.expanded, bk.kernel, bk.stride, bk.expanded), a);
    if (bk.se) h = squeeze_excitation(b, next(), h, make_divisible(static_cast<double>(bk.expanded / 4)), relu, hard_sigmoid);
    h = conv(b, next(), h, bk.out, 1, 1);
    if (bk.stride == 1 && bk.in == bk.out) h.v = b.op("Add", {h.v, x.v});
    x = h;
  }
  x = act(b, conv(b, "features." + std::to_string(index), x, 6 * x.c, 1, 1), hard_swish);
  Value* v = flatten(b, b.op("GlobalAveragePool", {x.v}));
  v = linear(b, "classifier.0", v, x.c, hidden);
  {
    // The head's Hardswish as hand-written code writes it (Add, Clip, Div, Mul): both forms in one model.
    auto s = b.scope("classifier.1");
    v = h_swish_written_out(b, v);
  }
  b.output(linear(b, "classifier.3", v, hidden, classes));
  return {};
}

// ---- RegNetY (torchvision regnet_y_*: ResBottleneckBlock with grouped 3x3 and SE) ----

Status build_regnety(GraphBuilder& b, const std::string& name) {
  // Stage widths and depths as torchvision's BlockParams.from_init_params computes them:
  // 400MF: depth 16, w_0 48, w_a 27.89, w_m 2.09, group width 8; 800MF: depth 14, w_0 56, w_a 38.84, w_m 2.4,
  // group width 16; SE ratio 0.25 and bottleneck multiplier 1 for both.
  std::vector<int64_t> widths, depths;
  int64_t res = 224, group_width = 0, classes = 1000, stem = 32;
  if (name == "regnety_400mf") widths = {48, 104, 208, 440}, depths = {1, 3, 6, 6}, group_width = 8;
  else if (name == "regnety_800mf") widths = {64, 144, 320, 784}, depths = {1, 3, 8, 2}, group_width = 16;
  else if (name == "regnety_tiny") widths = {16, 32}, depths = {1, 2}, group_width = 8, res = 32, classes = 10, stem = 8;
  else return usage_error("unknown RegNetY instance: " + name);
  Feat x = image_input(b, res);
  x = act(b, conv(b, "stem.0", x, stem, 3, 2), relu);
  for (size_t st = 0; st < widths.size(); ++st) {
    for (int64_t l = 0; l < depths[st]; ++l) {
      auto s = b.scope("trunk_output.block" + std::to_string(st + 1) + ".block" + std::to_string(st + 1) + "-" +
                       std::to_string(l));
      const int64_t w_out = widths[st], stride = l == 0 ? 2 : 1, w_in = x.c;
      Feat shortcut = x;
      if (w_in != w_out || stride != 1) shortcut = conv(b, "proj", x, w_out, 1, stride);
      auto f = b.scope("f");
      Feat h = act(b, conv(b, "a", x, w_out, 1, 1), relu);
      h = act(b, conv(b, "b", h, w_out, 3, stride, w_out / group_width), relu);
      h = squeeze_excitation(b, "se", h, static_cast<int64_t>(std::lround(0.25 * static_cast<double>(w_in))), relu,
                             [](GraphBuilder& g, Value* v) { return g.op("Sigmoid", {v}); });
      h = conv(b, "c", h, w_out, 1, 1);
      x = {b.op("Relu", {b.op("Add", {shortcut.v, h.v})}), w_out, h.h, h.w};
    }
  }
  Value* v = flatten(b, b.op("GlobalAveragePool", {x.v}));
  b.output(linear(b, "fc", v, x.c, classes));
  return {};
}

// ---- ShuffleNetV2 (torchvision shufflenet_v2_x*: channel split, branches, concat, channel shuffle) ----

Status build_shufflenetv2(GraphBuilder& b, const std::string& name) {
  std::vector<int64_t> repeats = {4, 8, 4}, channels;
  int64_t res = 224, classes = 1000;
  if (name == "shufflenetv2_x1_0") channels = {24, 116, 232, 464, 1024};
  else if (name == "shufflenetv2_x0_5") channels = {24, 48, 96, 192, 1024};
  else if (name == "shufflenetv2_tiny") channels = {8, 16, 32, 64}, repeats = {3, 2}, res = 32, classes = 10;
  else return usage_error("unknown ShuffleNetV2 instance: " + name);
  Feat x = image_input(b, res);
  x = act(b, conv(b, "conv1.0", x, channels[0], 3, 2), relu);
  {
    auto s = b.scope("maxpool");
    x = {b.op("MaxPool", {x.v},
              {attr_int("ceil_mode", 0), attr_ints("dilations", {1, 1}),
               attr_ints("kernel_shape", {3, 3}), attr_ints("pads", {1, 1, 1, 1}),
               attr_ints("strides", {2, 2})}),
         x.c, (x.h - 1) / 2 + 1, (x.w - 1) / 2 + 1};
  }
  for (size_t st = 0; st < repeats.size(); ++st) {
    const int64_t out = channels[st + 1], half = out / 2;
    for (int64_t l = 0; l < repeats[st]; ++l) {
      auto s = b.scope("stage" + std::to_string(st + 2) + "." + std::to_string(l));
      Value *left, *right_in;
      Feat right;
      if (l == 0) {  // stride 2: both branches read the whole input
        Feat b1 = conv(b, "branch1.0", x, x.c, 3, 2, x.c);
        b1 = act(b, conv(b, "branch1.2", b1, half, 1, 1), relu);
        left = b1.v;
        right = x;
      } else {
        // x.chunk(2, dim=1): PyTorch writes Split, older exports two Slices; the blocks alternate so both
        // forms occur in every instance.
        if (l % 2 == 1) {
          Node* split = b.node("Split", {x.v, b.int_vector({half, half})}, 2, {attr_int("axis", 1)});
          left = split->output(0), right_in = split->output(1);
        } else {
          auto slice = [&](int64_t from, int64_t to) {
            return b.op("Slice", {x.v, b.int_vector({from}), b.int_vector({to}), b.int_vector({1})});
          };
          left = slice(0, half), right_in = slice(half, out);
        }
        right = {right_in, half, x.h, x.w};
      }
      const int64_t stride = l == 0 ? 2 : 1;
      Feat r = act(b, conv(b, "branch2.0", right, half, 1, 1), relu);
      r = conv(b, "branch2.3", r, half, 3, stride, half);
      r = act(b, conv(b, "branch2.5", r, half, 1, 1), relu);
      Value* cat = b.op("Concat", {left, r.v}, {attr_int("axis", 1)});
      // channel_shuffle(x, 2): view(b, 2, c / 2, h, w), transpose(1, 2), view(b, -1, h, w).
      Value* v = b.op("Reshape", {cat, b.int_vector({1, 2, half, r.h, r.w})});
      v = b.op("Transpose", {v}, {attr_ints("perm", {0, 2, 1, 3, 4})});
      v = b.op("Reshape", {v, b.int_vector({1, -1, r.h, r.w})});
      x = {v, out, r.h, r.w};
    }
  }
  x = act(b, conv(b, "conv5.0", x, channels.back(), 1, 1), relu);
  Value* v;
  {
    auto s = b.scope("mean");  // x.mean([2, 3])
    v = b.op("ReduceMean", {x.v}, {attr_ints("axes", {2, 3}), attr_int("keepdims", 0)});
  }
  b.output(linear(b, "fc", v, x.c, classes));
  return {};
}

}  // namespace effopt::bench::detail
