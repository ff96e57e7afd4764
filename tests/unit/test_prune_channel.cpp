// Channel pruning (passes/prune_channel.h), one behaviour per test on small
// text graphs. The channels meant to go have all-zero filters (and zero bias,
// and a BatchNormalization that maps 0 to 0), so they rank lowest and the
// pruned model must compute exactly what the original computes (executor,
// rel-l2 <= 1e-5); the pruned model must pass the verifier and ONNX's checker
// and run in ONNX Runtime 1.30 with the same outputs.
#include "fusion_test_util.h"

#include <set>

#include "ir/constants.h"
#include "passes/pass_util.h"
#include "passes/prune_channel.h"

using namespace effopt;
using namespace effopt::test::fusion;
using effopt::test::parse_or_fail;
using passes::prune::ChannelPruneOptions;
using passes::prune::ChannelPruneResult;
using passes::prune::prune_channels;

namespace {

// `count` filters of `fan_in` numbers each, in [-1, 1) but never near zero; filters in `zero` are all 0.
std::string filters(int64_t count, int64_t fan_in, const std::set<int64_t>& zero, uint64_t seed, double scale = 1) {
  auto vals = numbers(static_cast<size_t>(count * fan_in), seed, 0.2, 1);
  std::string out;
  size_t pos = 0;
  for (int64_t f = 0; f < count; ++f)
    for (int64_t i = 0; i < fan_in; ++i) {
      const size_t end = vals.find(',', pos);
      double x = std::stod(vals.substr(pos, end - pos)) * scale * ((f + i) % 2 ? -1 : 1);
      pos = end == std::string::npos ? end : end + 2;
      if (zero.count(f)) x = 0;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6f", x);
      out += (out.empty() ? "" : ", ") + std::string(buf);
    }
  return out;
}

// The same, written transposed: a [fan_in, count] matrix whose columns are the filters (MatMul's B).
std::string columns(int64_t count, int64_t fan_in, const std::set<int64_t>& zero, uint64_t seed) {
  std::vector<std::string> vals;
  const std::string rows = filters(count, fan_in, zero, seed);
  for (size_t pos = 0; pos != std::string::npos;) {
    const size_t end = rows.find(',', pos);
    vals.push_back(rows.substr(pos, end == std::string::npos ? end : end - pos));
    pos = end == std::string::npos ? end : end + 2;
  }
  std::string out;
  for (int64_t i = 0; i < fan_in; ++i)
    for (int64_t f = 0; f < count; ++f) out += (out.empty() ? "" : ", ") + vals[static_cast<size_t>(f * fan_in + i)];
  return out;
}

std::string constant(const std::string& name, const std::string& dims, const std::string& values) {
  return name + " = Constant<value = float[" + dims + "] {" + values + "}>()\n";
}

std::string model(const std::string& inputs, const std::string& outputs, const std::string& body, int opset = 13) {
  return "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + "]>\ng (" + inputs + ") => (" +
         outputs + ") {\n" + body + "}\n";
}

// The model of `text`, each node named after its first output (ONNX's text syntax names no nodes).
std::unique_ptr<Model> named(const std::string& text) {
  auto m = parse_or_fail(text);
  for (auto& n : m->graph->nodes())
    if (n->name.empty() && n->output(0)) n->name = n->output(0)->name();
  return m;
}

ChannelPruneOptions opts(double sparsity) {
  ChannelPruneOptions o;
  o.sparsity = sparsity;
  o.min_size = 0;
  return o;
}

// Prunes `text` with `o`: the result verifies, passes ONNX's checker, keeps the output names and shapes, and
// computes what the original computes (executor) when `exact`. Returns the pruned model and the result.
std::pair<std::unique_ptr<Model>, ChannelPruneResult> prune(const std::string& text, const ChannelPruneOptions& o,
                                                            bool exact = true) {
  auto before = named(text), m = named(text);
  auto r = prune_channels(*m, o);
  if (!r) FAIL("prune_channels: " << r.error().message);
  auto st = verify(*m);
  if (!st) FAIL("verifier: " << st.error().message);
  CHECK(test::onnx_check(*m) == "");
  REQUIRE(output_names(*m) == output_names(*before));
  for (size_t i = 0; i < m->graph->outputs().size(); ++i)
    CHECK(m->graph->outputs()[i]->type == before->graph->outputs()[i]->type);
  if (exact) CHECK(exec_rel_l2(*before, *m) <= 1e-5);
  return {std::move(m), std::move(*r)};
}

const Node* node_named(const Model& m, const std::string& name) {
  for (auto& n : m.graph->nodes())
    if (n->name == name) return n.get();
  FAIL("no node " << name);
  return nullptr;
}
std::vector<int64_t> weight_dims(const Model& m, const std::string& node, size_t slot = 1) {
  TensorPtr t = constant_tensor(node_named(m, node)->input(slot));
  REQUIRE(t);
  return t->dims;
}
const passes::prune::ChannelPruneLayer& layer(const ChannelPruneResult& r, const std::string& node) {
  for (auto& l : r.layers)
    if (l.node == node) return l;
  FAIL("no layer " << node);
  return r.layers.front();
}
bool any_note(const ChannelPruneResult& r, const std::string& part) {
  for (auto& n : r.notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("prune-channel: Conv -> BatchNormalization -> Relu -> Conv drops filters, BN entries and input channels",
          "[prune-channel]") {
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,3,6,6] y",
      constant("W1", "8,4,3,3", filters(8, 36, {1, 2}, 1)) + constant("b1", "8", "0.1, 0, 0, 0.2, 0.3, -0.1, 0.2, 0.1") +
          constant("s", "8", numbers(8, 2, 0.5, 1.5)) + constant("t", "8", "0.1, 0, 0, 0.3, -0.2, 0.1, 0.2, 0.3") +
          constant("mu", "8", "0.2, 0, 0, -0.1, 0.1, 0.3, -0.2, 0.1") + constant("var", "8", numbers(8, 3, 0.5, 2)) +
          constant("W2", "3,8,1,1", filters(3, 8, {}, 4)) +
          "a = Conv <pads = [1, 1, 1, 1]> (x, W1, b1)\n"
          "n = BatchNormalization (a, s, t, mu, var)\n"
          "r = Relu (n)\n"
          "y = Conv (r, W2)\n");
  auto [m, r] = prune(text, opts(0.25));
  CHECK(weight_dims(*m, "a") == std::vector<int64_t>{6, 4, 3, 3});
  CHECK(weight_dims(*m, "a", 2) == std::vector<int64_t>{6});
  for (auto& n : m->graph->nodes()) {
    if (n->op_type == "BatchNormalization")
      for (size_t i = 1; i < 5; ++i) CHECK(constant_tensor(n->input(i))->dims == std::vector<int64_t>{6});
    if (n->op_type == "Conv" && n->name != "a") CHECK(constant_tensor(n->input(1))->dims == std::vector<int64_t>{3, 6, 1, 1});
  }
  CHECK(layer(r, "a").removed == 2);
  CHECK(r.changed);
}

TEST_CASE("prune-channel: the producers of a residual Add drop the same channels", "[prune-channel]") {
  const std::string text = model(
      "float[1,4,5,5] x", "float[1,3,5,5] y",
      constant("W1", "8,4,1,1", filters(8, 4, {3, 6}, 1)) + constant("W2", "8,8,3,3", filters(8, 72, {3, 6}, 2)) +
          constant("W3", "3,8,1,1", filters(3, 8, {}, 3)) +
          "a = Conv (x, W1)\n"
          "ra = Relu (a)\n"
          "b = Conv <pads = [1, 1, 1, 1]> (ra, W2)\n"
          "s = Add (ra, b)\n"
          "rs = Relu (s)\n"
          "y = Conv (rs, W3)\n");
  auto [m, r] = prune(text, opts(0.25));
  CHECK(weight_dims(*m, "a") == std::vector<int64_t>{6, 4, 1, 1});
  CHECK(weight_dims(*m, "b") == std::vector<int64_t>{6, 6, 3, 3});
  CHECK(layer(r, "a").removed == 2);
  CHECK(layer(r, "b").removed == 2);
}

TEST_CASE("prune-channel: Concat keeps each input's channel offsets", "[prune-channel]") {
  const std::string text = model(
      "float[1,3,4,4] x", "float[1,4,4,4] y",
      constant("W1", "4,3,1,1", filters(4, 3, {1}, 1)) + constant("W2", "6,3,1,1", filters(6, 3, {0, 3}, 2)) +
          constant("W3", "4,10,1,1", filters(4, 10, {}, 3)) +
          "a = Conv (x, W1)\n"
          "b = Conv (x, W2)\n"
          "c = Concat <axis = 1> (a, b)\n"
          "y = Conv (c, W3)\n");
  auto [m, r] = prune(text, opts(0.25));
  CHECK(weight_dims(*m, "a")[0] == 3);
  CHECK(weight_dims(*m, "b")[0] == 5);  // floor(0.25 * 6) = 1
  CHECK(weight_dims(*m, "y") == std::vector<int64_t>{4, 8, 1, 1});
}

TEST_CASE("prune-channel: a depthwise Conv follows its input and stays depthwise", "[prune-channel]") {
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,4,6,6] y",
      constant("W1", "8,4,1,1", filters(8, 4, {2, 5}, 1)) + constant("Wd", "8,1,3,3", filters(8, 9, {}, 2)) +
          constant("bd", "8", "0.1, 0.2, 0, 0.3, -0.1, 0, 0.2, 0.1") + constant("W3", "4,8,1,1", filters(4, 8, {}, 3)) +
          "a = Conv (x, W1)\n"
          "ra = Clip (a)\n"
          "d = Conv <group = 8, pads = [1, 1, 1, 1]> (ra, Wd, bd)\n"
          "rd = Relu (d)\n"
          "y = Conv (rd, W3)\n");
  auto [m, r] = prune(text, opts(0.25));
  CHECK(weight_dims(*m, "d") == std::vector<int64_t>{6, 1, 3, 3});
  CHECK(weight_dims(*m, "d", 2) == std::vector<int64_t>{6});
  CHECK(node_named(*m, "d")->attr_int("group", 0) == 6);
  CHECK(layer(r, "a").removed == 2);
}

TEST_CASE("prune-channel: a grouped Conv loses the same number of channels in every group", "[prune-channel]") {
  // Input channels 0, 1 (group 0) and 4, 5 (group 1) are zero, and so are the grouped Conv's output channels
  // 0, 1, 4, 5 (which follow them): two per group go.
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,4,6,6] y",
      constant("W1", "8,4,1,1", filters(8, 4, {0, 1, 4, 5}, 1)) +
          constant("Wg", "8,4,3,3", filters(8, 36, {0, 1, 4, 5}, 2)) +
          constant("W3", "4,8,1,1", filters(4, 8, {}, 3)) +
          "a = Conv (x, W1)\n"
          "ra = Relu (a)\n"
          "g = Conv <group = 2, pads = [1, 1, 1, 1]> (ra, Wg)\n"
          "rg = Relu (g)\n"
          "y = Conv (rg, W3)\n");
  auto [m, r] = prune(text, opts(0.5));
  CHECK(weight_dims(*m, "g") == std::vector<int64_t>{4, 2, 3, 3});
  CHECK(node_named(*m, "g")->attr_int("group", 0) == 2);
  CHECK(weight_dims(*m, "a")[0] == 4);
}

TEST_CASE("prune-channel: when the weakest channels sit in one group, each group still loses as many",
          "[prune-channel]") {
  // Channels 0-3 (all of group 0) are the weakest; at 50% two go from each group, never group 0 alone.
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,4,6,6] y",
      constant("W1", "8,4,1,1", filters(8, 4, {0, 1, 2, 3}, 1)) + constant("Wg", "8,4,3,3", filters(8, 36, {}, 2)) +
          constant("W3", "4,8,1,1", filters(4, 8, {}, 3)) +
          "a = Conv (x, W1)\n"
          "ra = Relu (a)\n"
          "g = Conv <group = 2, pads = [1, 1, 1, 1]> (ra, Wg)\n"
          "rg = Relu (g)\n"
          "y = Conv (rg, W3)\n");
  auto [m, r] = prune(text, opts(0.5), /*exact=*/false);
  CHECK(weight_dims(*m, "g") == std::vector<int64_t>{4, 2, 3, 3});
  CHECK(node_named(*m, "g")->attr_int("group", 0) == 2);
  CHECK(layer(r, "a").removed == 4);
}

TEST_CASE("prune-channel: a grouped Conv with Cin != Cout loses input and output channels per group",
          "[prune-channel]") {
  // a's filters 0 and 4 (one in each of g's input groups) are zero; g (group 2: 4 -> 6 channels per group)
  // has zero filters 1 and 7 (one in each output group). At 25%: a loses 2 (one per group), g 3 -> 1 per group.
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,4,6,6] y",
      constant("W1", "8,4,1,1", filters(8, 4, {0, 4}, 1)) + constant("Wg", "12,4,3,3", filters(12, 36, {1, 7}, 2)) +
          constant("W3", "4,12,1,1", filters(4, 12, {}, 3)) +
          "a = Conv (x, W1)\n"
          "ra = Relu (a)\n"
          "g = Conv <group = 2, pads = [1, 1, 1, 1]> (ra, Wg)\n"
          "rg = Relu (g)\n"
          "y = Conv (rg, W3)\n");
  auto [m, r] = prune(text, opts(0.25));
  CHECK(weight_dims(*m, "a") == std::vector<int64_t>{6, 4, 1, 1});
  CHECK(weight_dims(*m, "g") == std::vector<int64_t>{10, 3, 3, 3});
  CHECK(node_named(*m, "g")->attr_int("group", 0) == 2);
  CHECK(weight_dims(*m, "y") == std::vector<int64_t>{4, 10, 1, 1});
  CHECK(layer(r, "a").removed == 2);
  CHECK(layer(r, "g").removed == 2);
  auto d = ort_rel_l2(*named(text), *m);  // ONNX Runtime runs it, with the same outputs
  if (!d) return;
  CHECK(*d <= 1e-5);
}

TEST_CASE("prune-channel: channels are followed through Resize, Squeeze, Unsqueeze and Transpose",
          "[prune-channel]") {
  // a's filters 2 and 5 are zero: they go, and so do the matching rows of both MatMuls' B, found through a
  // Resize by scales, a pool, Squeeze, Unsqueeze (the channels move to the last axis) and a Transpose.
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,1,5] y, float[1,6,6,3] z",
      constant("W1", "8,4,1,1", filters(8, 4, {2, 5}, 1)) + constant("B", "8,5", filters(8, 5, {}, 2)) +
          constant("B2", "8,3", filters(8, 3, {}, 3)) +
          "sc = Constant<value = float[4] {1, 1, 2, 2}>()\n"
          "ax = Constant<value = int64[2] {2, 3}>()\n"
          "ax0 = Constant<value = int64[1] {0}>()\n"
          "a = Conv (x, W1)\n"
          "ra = Relu (a)\n"
          "up = Resize (ra, , sc)\n"
          "p = GlobalAveragePool (up)\n"
          "s = Squeeze (p, ax)\n"
          "u = Unsqueeze (s, ax0)\n"
          "y = MatMul (u, B)\n"
          "t = Transpose <perm = [0, 2, 3, 1]> (ra)\n"
          "z = MatMul (t, B2)\n",
      13);
  auto [m, r] = prune(text, opts(0.25));
  CHECK(layer(r, "a").removed == 2);
  CHECK(weight_dims(*m, "a") == std::vector<int64_t>{6, 4, 1, 1});
  CHECK(weight_dims(*m, "y") == std::vector<int64_t>{6, 5});
  CHECK(weight_dims(*m, "z") == std::vector<int64_t>{6, 3});
  auto d = ort_rel_l2(*named(text), *m);  // ONNX Runtime runs it, with the same outputs
  if (!d) return;
  CHECK(*d <= 1e-5);
}

TEST_CASE("prune-channel: a Resize to given sizes keeps the channels it reads, with a note", "[prune-channel]") {
  // Its sizes input names the channel count (8): the channels stay rather than the sizes being rewritten.
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,3,12,12] y",
      constant("W1", "8,4,1,1", filters(8, 4, {2, 5}, 1)) + constant("W2", "3,8,1,1", filters(3, 8, {}, 2)) +
          "sz = Constant<value = int64[4] {1, 8, 12, 12}>()\n"
          "a = Conv (x, W1)\n"
          "up = Resize (a, , , sz)\n"
          "y = Conv (up, W2)\n",
      13);
  auto [m, r] = prune(text, opts(0.25));
  CHECK_FALSE(r.changed);
  CHECK(layer(r, "a").removed == 0);
  CHECK(any_note(r, "resizes to given sizes"));
}

TEST_CASE("prune-channel: a squeeze-and-excitation expand Conv drops the feature map's channels", "[prune-channel]") {
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,4,6,6] y",
      constant("W1", "8,4,1,1", filters(8, 4, {0, 7}, 1)) + constant("Ws", "2,8,1,1", filters(2, 8, {}, 2)) +
          constant("bs", "2", "0.1, -0.2") + constant("We", "8,2,1,1", filters(8, 2, {0, 7}, 3)) +
          constant("be", "8", numbers(8, 4)) + constant("W3", "4,8,1,1", filters(4, 8, {}, 5)) +
          "f0 = Conv (x, W1)\n"
          "f = Relu (f0)\n"
          "p = GlobalAveragePool (f)\n"
          "q = Conv (p, Ws, bs)\n"
          "rq = Relu (q)\n"
          "e = Conv (rq, We, be)\n"
          "gate = Sigmoid (e)\n"
          "z = Mul (f, gate)\n"
          "y = Conv (z, W3)\n");
  auto [m, r] = prune(text, opts(0.25));
  CHECK(weight_dims(*m, "f0")[0] == 6);
  CHECK(weight_dims(*m, "q") == std::vector<int64_t>{2, 6, 1, 1});
  CHECK(weight_dims(*m, "e") == std::vector<int64_t>{6, 2, 1, 1});
  CHECK(weight_dims(*m, "e", 2) == std::vector<int64_t>{6});
  CHECK(layer(r, "q").removed == 0);  // floor(0.25 * 2) = 0
}

TEST_CASE("prune-channel: Flatten or Reshape into Gemm drops each removed channel's spatial block",
          "[prune-channel]") {
  const std::string head = constant("W1", "4,2,3,3", filters(4, 18, {2}, 1)) +
                           constant("B", "64,5", filters(64, 5, {}, 2)) + constant("c", "5", numbers(5, 3)) +
                           "a = Conv <pads = [1, 1, 1, 1]> (x, W1)\n"
                           "ra = Relu (a)\n";
  SECTION("Flatten") {
    auto [m, r] = prune(model("float[1,2,4,4] x", "float[1,5] y",
                              head + "f = Flatten (ra)\ny = Gemm (f, B, c)\n"),
                        opts(0.25));
    CHECK(weight_dims(*m, "a")[0] == 3);
    CHECK(weight_dims(*m, "y") == std::vector<int64_t>{48, 5});
  }
  SECTION("Reshape with an explicit size") {
    auto [m, r] = prune(model("float[1,2,4,4] x", "float[1,5] y",
                              head + "shape = Constant<value = int64[2] {1, 64}>()\n"
                                     "f = Reshape (ra, shape)\ny = Gemm (f, B, c)\n"),
                        opts(0.25));
    CHECK(weight_dims(*m, "y") == std::vector<int64_t>{48, 5});
    for (auto& n : m->graph->nodes())
      if (n->op_type == "Reshape") CHECK(*passes::util::constant_ints(n->input(1)) == std::vector<int64_t>{1, 48});
  }
}

TEST_CASE("prune-channel: MatMul and Gemm output features, their bias entries and the next layer's K rows",
          "[prune-channel]") {
  SECTION("MatMul + Add bias") {
    const std::string text = model("float[2,3,6] x", "float[2,3,4] y",
                                    constant("B1", "6,8", columns(8, 6, {1, 4}, 1)) +
                                        constant("bias", "8", "0.1, 0, 0.2, 0.3, 0, -0.1, 0.2, 0.1") +
                                        constant("B2", "8,4", filters(8, 4, {}, 2)) +
                                        "h = MatMul (x, B1)\n"
                                        "hb = Add (h, bias)\n"
                                        "r = Relu (hb)\n"
                                        "y = MatMul (r, B2)\n");
    auto [m, r] = prune(text, opts(0.25));
    CHECK(weight_dims(*m, "h") == std::vector<int64_t>{6, 6});
    CHECK(weight_dims(*m, "hb") == std::vector<int64_t>{6});
    CHECK(weight_dims(*m, "y") == std::vector<int64_t>{6, 4});
  }
  SECTION("Gemm with transB and C") {
    const std::string text = model("float[3,6] x", "float[3,4] y",
                                    constant("B1", "8,6", filters(8, 6, {2, 5}, 1)) +
                                        constant("c1", "8", "0.1, 0.3, 0, 0.3, 0.2, 0, 0.2, 0.1") +
                                        constant("B2", "4,8", columns(4, 8, {}, 2)) +
                                        "h = Gemm <transB = 1> (x, B1, c1)\n"
                                        "r = Relu (h)\n"
                                        "y = Gemm <transB = 1> (r, B2)\n");
    auto [m, r] = prune(text, opts(0.25));
    CHECK(weight_dims(*m, "h") == std::vector<int64_t>{6, 6});
    CHECK(weight_dims(*m, "h", 2) == std::vector<int64_t>{6});
    CHECK(weight_dims(*m, "y") == std::vector<int64_t>{4, 6});
  }
}

TEST_CASE("prune-channel: features reaching a graph output are kept", "[prune-channel]") {
  const std::string text = model("float[1,4,4,4] x", "float[1,8,4,4] y, float[1,3,4,4] z",
                                 constant("W1", "8,4,1,1", filters(8, 4, {1, 2}, 1)) +
                                     constant("W2", "3,8,1,1", filters(3, 8, {}, 2)) +
                                     "a = Conv (x, W1)\n"
                                     "y = Relu (a)\n"
                                     "z = Conv (y, W2)\n");
  auto [m, r] = prune(text, opts(0.5));
  CHECK_FALSE(r.changed);
  CHECK(layer(r, "a").removed == 0);
  CHECK(layer(r, "a").reason.find("graph output 'y'") != std::string::npos);
  CHECK(any_note(r, "graph output 'y'"));
  CHECK(weight_dims(*m, "a")[0] == 8);
}

TEST_CASE("prune-channel: a layer never loses all its channels", "[prune-channel]") {
  // Global scope: every filter of c1 is zero, so all 8 rank below c2's; 8 of the 16 go, but c1 keeps one.
  const std::string text = model("float[1,4,4,4] x", "float[1,3,4,4] y",
                                 constant("W1", "8,4,1,1", filters(8, 4, {0, 1, 2, 3, 4, 5, 6, 7}, 1)) +
                                     constant("W2", "8,8,1,1", filters(8, 8, {}, 2)) +
                                     constant("W3", "3,8,1,1", filters(3, 8, {}, 3)) +
                                     "a = Conv (x, W1)\n"
                                     "ra = Relu (a)\n"
                                     "b = Conv (ra, W2)\n"
                                     "rb = Relu (b)\n"
                                     "y = Conv (rb, W3)\n");
  auto o = opts(0.5);
  o.global = true;
  auto [m, r] = prune(text, o, /*exact=*/false);
  CHECK(weight_dims(*m, "a")[0] == 1);
  CHECK(weight_dims(*m, "b")[0] == 7);
}

TEST_CASE("prune-channel: global scope ranks by norms normalized by fan-in, layer scope per layer",
          "[prune-channel]") {
  // c1: fan-in 3, |w| in [0.04, 0.2) (raw L1 at most 0.6); c2: fan-in 72, |w| in [0.008, 0.04) (raw L1 at
  // least 0.58, about 1.7). Raw norms would strip c1 first; normalized by fan-in, c2 ranks lowest.
  const std::string text = model("float[1,3,4,4] x", "float[1,2,4,4] y",
                                 constant("W1", "8,3,1,1", filters(8, 3, {}, 1, 0.2)) +
                                     constant("W2", "8,8,3,3", filters(8, 72, {}, 2, 0.04)) +
                                     constant("W3", "2,8,1,1", filters(2, 8, {}, 3)) +
                                     "a = Conv (x, W1)\n"
                                     "ra = Relu (a)\n"
                                     "b = Conv <pads = [1, 1, 1, 1]> (ra, W2)\n"
                                     "rb = Relu (b)\n"
                                     "y = Conv (rb, W3)\n");
  SECTION("global") {
    auto o = opts(0.5);
    o.global = true;
    auto [m, r] = prune(text, o, false);
    CHECK(layer(r, "b").removed == 7);  // all it may lose
    CHECK(layer(r, "a").removed == 1);  // the rest of the 8
  }
  SECTION("global, L2") {
    auto o = opts(0.5);
    o.global = true;
    o.l2 = true;
    auto [m, r] = prune(text, o, false);
    CHECK(layer(r, "b").removed == 7);
    CHECK(layer(r, "a").removed == 1);
  }
  SECTION("layer") {
    auto [m, r] = prune(text, opts(0.5), false);
    CHECK(layer(r, "a").removed == 4);
    CHECK(layer(r, "b").removed == 4);
  }
  SECTION("a per-layer override") {
    auto o = opts(0.5);
    o.layer_sparsity["b"] = 0.25;
    auto [m, r] = prune(text, o, false);
    CHECK(layer(r, "a").removed == 4);
    CHECK(layer(r, "b").removed == 2);
  }
}

TEST_CASE("prune-channel: an unknown consumer keeps the channels it reads, with a note", "[prune-channel]") {
  const std::string text = model("float[1,4,4,4] x", "float[1,3,4,4] y",
                                 constant("W1", "8,4,1,1", filters(8, 4, {1, 2}, 1)) +
                                     constant("W2", "3,8,1,1", filters(3, 8, {}, 2)) +
                                     "a = Conv (x, W1)\n"
                                     "s = Softmax <axis = 1> (a)\n"
                                     "y = Conv (s, W2)\n");
  auto [m, r] = prune(text, opts(0.5));
  CHECK_FALSE(r.changed);
  CHECK(layer(r, "a").removed == 0);
  CHECK(any_note(r, "'s'"));
}

TEST_CASE("prune-channel: excluded nodes, --min-size and bad options", "[prune-channel]") {
  const std::string text = model("float[1,4,4,4] x", "float[1,3,4,4] y",
                                 constant("W1", "8,4,1,1", filters(8, 4, {1, 2}, 1)) +
                                     constant("W2", "3,8,1,1", filters(3, 8, {}, 2)) +
                                     "a = Conv (x, W1)\n"
                                     "y = Conv (a, W2)\n");
  SECTION("exclude-node") {
    auto o = opts(0.5);
    o.exclude_node = std::regex("^a$");
    auto [m, r] = prune(text, o);
    CHECK_FALSE(r.changed);
    CHECK(r.layers.size() == 1);  // c2 only, whose output is a graph output
  }
  SECTION("min-size") {
    auto o = opts(0.5);
    o.min_size = 33;  // W1 has 32 elements
    auto [m, r] = prune(text, o);
    CHECK_FALSE(r.changed);
    CHECK(any_note(r, "min-size"));
  }
  SECTION("sparsity outside [0, 1)") {
    auto m = named(text);
    auto r = prune_channels(*m, opts(1.0));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Usage);
  }
}

TEST_CASE("prune-channel: pruned models run in ONNX Runtime with the same outputs", "[prune-channel][ort]") {
  const std::string text = model(
      "float[1,4,6,6] x", "float[1,5] y",
      constant("W1", "8,4,1,1", filters(8, 4, {0, 7}, 1)) + constant("Wd", "8,1,3,3", filters(8, 9, {}, 2)) +
          constant("Ws", "2,8,1,1", filters(2, 8, {}, 3)) + constant("We", "8,2,1,1", filters(8, 2, {0, 7}, 4)) +
          constant("B", "8,5", filters(8, 5, {}, 5)) +
          "f0 = Conv (x, W1)\n"
          "f1 = Relu (f0)\n"
          "f = Conv <group = 8, pads = [1, 1, 1, 1]> (f1, Wd)\n"
          "p = GlobalAveragePool (f)\n"
          "q = Conv (p, Ws)\n"
          "rq = Relu (q)\n"
          "e = Conv (rq, We)\n"
          "gate = Sigmoid (e)\n"
          "z = Mul (f, gate)\n"
          "g = GlobalAveragePool (z)\n"
          "h = Flatten (g)\n"
          "y = Gemm (h, B)\n");
  auto [m, r] = prune(text, opts(0.25));
  CHECK(r.removed >= 2);
  auto before = named(text);
  auto d = ort_rel_l2(*before, *m);
  if (!d) return;
  CHECK(*d <= 1e-5);
}
