// The executor's control flow (If, Loop, Scan), sequences and optionals on
// small ONNX-text graphs, each compared with ONNX Runtime 1.30 (test::skip when
// it is absent), plus the session's checks of malformed bodies.
#include <catch2/catch.hpp>

#include "exec_ort_compare.h"

using namespace effopt;
using exec::TensorValue;

namespace {

TensorValue F(std::vector<int64_t> dims, std::vector<float> v) {
  return TensorValue::from_vector(DataType::Float, std::move(dims), v);
}
TensorValue I64(std::vector<int64_t> dims, std::vector<int64_t> v) {
  return TensorValue::from_vector(DataType::Int64, std::move(dims), v);
}
TensorValue B(bool b) { return TensorValue::from_vector(DataType::Bool, {}, std::vector<uint8_t>{b}); }

// ONNX 1.12's text parser (Debian's) spells neither empty inputs nor seq(...) types, so tests write a
// placeholder and fix the IR after parsing.
Node* node_named(Graph& g, const std::string& op) {
  for (auto& n : g.nodes())
    if (n->op_type == op) return n.get();
  FAIL("no " << op << " node");
  return nullptr;
}
void make_sequence(Value* v) {
  Type seq;
  seq.kind = Type::Kind::Sequence;
  seq.elem = std::make_shared<Type>(v->type);
  v->type = seq;
}

std::string create_error(const std::string& text) {
  auto m = test::parse_or_fail(text);
  auto s = exec::Session::create(*m);
  if (s) FAIL("the session was created");
  return s.error().message;
}

}  // namespace

TEST_CASE("exec-ctrl: If reads values of the enclosing graph", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2,3] x, float[2,3] y) => (float[2,3] z, float[2,3] s) {
  s = Add(x, y)
  z = If<then_branch = t () => (float[2,3] a) { a = Mul(s, x) },
         else_branch = e () => (float[2,3] b) { b = Sub(s, y) }>(c)
}
)");
  TensorValue x = F({2, 3}, {1, 2, 3, 4, 5, 6}), y = F({2, 3}, {0.5f, -1, 2, 0, 3, -2});
  for (bool c : {true, false}) {
    INFO("cond " << c);
    auto out = test::run_exec(*m, {{"c", B(c)}, {"x", x}, {"y", y}});
    // By hand: then (x + y) * x, else (x + y) - y = x.
    float want0 = c ? (1 + 0.5f) * 1 : 1;
    CHECK(out[0].data<float>()[0] == want0);
    test::matches_ort(*m, {{"c", B(c)}, {"x", x}, {"y", y}});
  }
}

TEST_CASE("exec-ctrl: Loop with a trip count, a condition and scan outputs", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, bool c0, float[2] x) => (float[2] acc, float[?,2] scan) {
  acc, scan = Loop<body = b (int64 i, bool cin, float[2] a) => (bool cout, float[2] a2, float[2] sc) {
    fi = Cast<to = 1>(i)
    a2 = Add(a, fi)
    s = ReduceSum<keepdims = 0>(a2)
    limit = Constant<value = float {10}>()
    cout = Less(s, limit)
    sc = Mul(a2, x)
  }>(n, c0, x)
}
)");
  // Trip count 3 stops first; trip count 10 runs until the sum reaches 10; cond false runs nothing.
  for (auto [n, c0] : {std::pair<int64_t, bool>{3, true}, {10, true}, {10, false}, {0, true}}) {
    INFO("M " << n << ", cond " << c0);
    std::vector<std::pair<std::string, TensorValue>> in{{"n", I64({}, {n})}, {"c0", B(c0)}, {"x", F({2}, {1, 2})}};
    auto out = test::run_exec(*m, in);
    if (n == 3 && c0) {  // a: [1,2] -> +0 -> +1 -> +2 = [4,5]
      CHECK(out[0].data<float>()[0] == 4);
      CHECK(out[1].dims() == std::vector<int64_t>{3, 2});
    }
    if (!c0) CHECK(out[1].dims() == std::vector<int64_t>{0, 2});
    test::matches_ort(*m, in);
  }
}

TEST_CASE("exec-ctrl: Loop without a trip count stops on its condition", "[exec-ctrl]") {
  auto m2 = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 16]>
g (float[1] x, int64 placeholder) => (float[1] y, int64 k) {
  t = Constant<value = bool {1}>()
  zero = Constant<value = int64 {0}>()
  y, k = Loop<body = b (int64 i, bool cin, float[1] a, int64 kin) => (bool cout, float[1] a2, int64 k2) {
    two = Constant<value = float {2}>()
    a2 = Mul(a, two)
    one = Constant<value = int64 {1}>()
    k2 = Add(kin, one)
    lim = Constant<value = float {100}>()
    s = ReduceSum<keepdims = 0>(a2)
    cout = Less(s, lim)
  }>(placeholder, t, x, zero)
}
)");
  Node* loop = node_named(*m2->graph, "Loop");
  loop->set_input(0, nullptr);  // no trip count
  m2->graph->remove_input(m2->graph->find_local("placeholder"));
  auto out = test::run_exec(*m2, {{"x", F({1}, {3})}});
  // 3 -> 6 -> 12 -> 24 -> 48 -> 96 -> 192 (>= 100 stops): 6 iterations.
  CHECK(out[0].data<float>()[0] == 192);
  CHECK(out[1].data<int64_t>()[0] == 6);
  test::matches_ort(*m2, {{"x", F({1}, {3})}});
}

TEST_CASE("exec-ctrl: Loop carries a sequence", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, float[3] x) => (float[?,3] out, int64 len, float[3] last) {
  seq0 = SequenceEmpty<dtype = 1>()
  t = Constant<value = bool {1}>()
  seqf = Loop<body = b (int64 i, bool cin, float[3] s) => (bool cout, float[3] s2) {
    cout = Identity(cin)
    fi = Cast<to = 1>(i)
    v = Mul(x, fi)
    s2 = SequenceInsert(s, v)
  }>(n, t, seq0)
  out = ConcatFromSequence<axis = 0, new_axis = 1>(seqf)
  len = SequenceLength(seqf)
  minus1 = Constant<value = int64 {-1}>()
  last = SequenceAt(seqf, minus1)
}
)");
  // The body's loop-carried value and the Loop's output are sequences of float[3].
  Node* loop = node_named(*m->graph, "Loop");
  Graph& body = *loop->attr("body")->g;
  make_sequence(body.inputs()[2]);
  make_sequence(body.outputs()[1]);
  if (loop->output(0)->has_value_info()) make_sequence(loop->output(0));
  std::vector<std::pair<std::string, TensorValue>> in{{"n", I64({}, {4})}, {"x", F({3}, {1, 2, 3})}};
  auto out = test::run_exec(*m, in);
  CHECK(out[0].dims() == std::vector<int64_t>{4, 3});
  CHECK(out[1].data<int64_t>()[0] == 4);
  CHECK(out[2].data<float>()[2] == 9);  // x * 3
  test::matches_ort(*m, in);
}

TEST_CASE("exec-ctrl: Scan (opset 16) forward and reverse, inputs and outputs on other axes", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 16]>
g (float[2] s0, float[3,2] xs, float[2,3] ys) => (float[2] sn, float[3,2] o1, float[2,3] o2) {
  sn, o1, o2 = Scan<num_scan_inputs = 2, scan_input_directions = [0, 1], scan_input_axes = [0, 1],
                    scan_output_directions = [0, 1], scan_output_axes = [0, -1],
                    body = b (float[2] s, float[2] x, float[2] y) => (float[2] s2, float[2] p, float[2] q) {
    s2 = Add(s, x)
    p = Mul(s2, y)
    q = Sub(s2, y)
  }>(s0, xs, ys)
}
)");
  std::vector<std::pair<std::string, TensorValue>> in{{"s0", F({2}, {1, -1})},
                                                       {"xs", F({3, 2}, {1, 2, 3, 4, 5, 6})},
                                                       {"ys", F({2, 3}, {1, 2, 3, 4, 5, 6})}};
  auto out = test::run_exec(*m, in);
  CHECK(out[0].data<float>()[0] == 1 + 1 + 3 + 5);
  test::matches_ort(*m, in);
}

TEST_CASE("exec-ctrl: Scan (opset 8) with a batch axis, directions and sequence_lens", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 4, opset_import: ["" : 8]>
g (int64[2] lens, float[2,2] s0, float[2,3,2] xs) => (float[2,2] sn, float[2,3,2] ys) {
  sn, ys = Scan<num_scan_inputs = 1, directions = [1],
                body = b (float[2] s, float[2] x) => (float[2] s2, float[2] y) {
    s2 = Add(s, x)
    y = Identity(s2)
  }>(lens, s0, xs)
}
)");
  std::vector<std::pair<std::string, TensorValue>> in{{"lens", I64({2}, {3, 2})},
                                                       {"s0", F({2, 2}, {0, 0, 10, 10})},
                                                       {"xs", F({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})}};
  auto out = test::run_exec(*m, in);
  // Batch 1 scans only its first 2 steps, reversed: 10 + 9 + 7.
  CHECK(out[0].data<float>()[2] == 26);
  test::matches_ort(*m, in);
}

TEST_CASE("exec-ctrl: If nested in a Loop reads values two graphs up", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, float[2] x, float[2] w) => (float[2] y) {
  t = Constant<value = bool {1}>()
  y = Loop<body = b (int64 i, bool c, float[2] a) => (bool co, float[2] a2) {
    co = Identity(c)
    two = Constant<value = int64 {2}>()
    r = Mod(i, two)
    zero = Constant<value = int64 {0}>()
    even = Equal(r, zero)
    a2 = If<then_branch = t1 () => (float[2] u) { u = Add(a, w) },
            else_branch = e1 () => (float[2] v) { v = Mul(a, x) }>(even)
  }>(n, t, x)
}
)");
  std::vector<std::pair<std::string, TensorValue>> in{{"n", I64({}, {5})}, {"x", F({2}, {2, 3})}, {"w", F({2}, {1, -1})}};
  auto out = test::run_exec(*m, in);
  // a = 2: +1 = 3, *2 = 6, +1 = 7, *2 = 14, +1 = 15.
  CHECK(out[0].data<float>()[0] == 15);
  test::matches_ort(*m, in);
}

TEST_CASE("exec-ctrl: sequence ops", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4,3] x, int64 p) => (float[?,3] a, int64 n, float[3,3] c, float[8,3] d, float[4,3] e) {
  split = Constant<value = int64[2] {1, 3}>()
  sq = SplitToSequence<axis = 0>(x, split)
  a = SequenceAt(sq, p)
  s2 = SplitToSequence<axis = 0, keepdims = 0>(x)
  one = Constant<value = int64 {1}>()
  s3 = SequenceErase(s2, one)
  n = SequenceLength(s3)
  c = ConcatFromSequence<axis = 1, new_axis = 1>(s3)
  s4 = SequenceConstruct(x, x)
  d = ConcatFromSequence<axis = 0>(s4)
  two = Constant<value = int64 {2}>()
  sc = SplitToSequence<axis = 0>(x, two)
  e = ConcatFromSequence<axis = -2>(sc)
}
)");
  for (int64_t p : {0, 1, -1, -2}) {
    std::vector<std::pair<std::string, TensorValue>> in{
        {"x", F({4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})}, {"p", I64({}, {p})}};
    auto out = test::run_exec(*m, in);
    CHECK(out[1].data<int64_t>()[0] == 3);
    test::matches_ort(*m, in);
  }
}

TEST_CASE("exec-ctrl: optionals", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 18]>
g (float[2] x) => (bool h1, bool h2, float[2] y) {
  o = Optional(x)
  h1 = OptionalHasElement(o)
  e = Optional()
  h2 = OptionalHasElement(e)
  y = OptionalGetElement(o)
}
)");
  // An empty Optional needs its type attribute (optional(float tensor)), which ONNX 1.12's parser cannot spell.
  Attribute a;
  a.name = "type";
  a.type = AttrType::TypeProto;
  a.tp = Type::tensor(DataType::Float);
  Node* empty = nullptr;
  for (auto& n : m->graph->nodes())
    if (n->op_type == "Optional" && n->inputs().empty()) empty = n.get();
  REQUIRE(empty);
  empty->set_attr(std::move(a));
  auto out = test::run_exec(*m, {{"x", F({2}, {1, 2})}});
  CHECK(*out[0].data<bool>());
  CHECK_FALSE(*out[1].data<bool>());
  test::matches_ort(*m, {{"x", F({2}, {1, 2})}});
}

TEST_CASE("exec-ctrl: a Loop body with the wrong number of outputs is refused", "[exec-ctrl]") {
  std::string msg = create_error(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, float[2] x, float[2] z) => (float[2] y, float[2] y2) {
  t = Constant<value = bool {1}>()
  y, y2 = Loop<body = b (int64 i, bool c, float[2] a, float[2] a2) => (bool co, float[2] r) {
    co = Identity(c)
    r = Add(a, a2)
  }>(n, t, x, z)
}
)");
  INFO(msg);
  CHECK(msg.find("Loop node") != std::string::npos);
  CHECK(msg.find("loop-carried") != std::string::npos);
}

TEST_CASE("exec-ctrl: If branches that disagree are refused", "[exec-ctrl]") {
  std::string count = create_error(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] x) => (float[2] z) {
  z = If<then_branch = t () => (float[2] a) { a = Neg(x) },
         else_branch = e () => (float[2] b, float[2] b2) { b = Abs(x)  b2 = Neg(x) }>(c)
}
)");
  INFO(count);
  CHECK(count.find("then_branch has 1 and else_branch 2") != std::string::npos);
  std::string types = create_error(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[2] x) => (float[2] z) {
  z = If<then_branch = t () => (float[2] a) { a = Neg(x) },
         else_branch = e () => (int64[2] b) { b = Cast<to = 7>(x) }>(c)
}
)");
  INFO(types);
  CHECK(types.find("float32 in then_branch but int64 in else_branch") != std::string::npos);
}

TEST_CASE("exec-ctrl: unsupported ops inside bodies are listed with where they are", "[exec-ctrl]") {
  std::string msg = create_error(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 n, bool c, float[2] x) => (float[2] y) {
  y = Loop<body = b (int64 i, bool ci, float[2] a) => (bool co, float[2] r) {
    co = Identity(ci)
    r = If<then_branch = t () => (float[2] u) { u = Det(a) },
           else_branch = e () => (float[2] v) { v = Neg(a) }>(ci)
  }>(n, c, x)
}
)");
  INFO(msg);
  CHECK(msg.find("Det (opset 13) at node #0 in the then_branch of If node #1 in the body of Loop node #0") !=
        std::string::npos);
}

TEST_CASE("exec-ctrl: a sequence given to a tensor op is an error, not a crash", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] x) => (float[2] y) {
  s = SequenceConstruct(x, x)
  y = Relu(s)
}
)");
  auto s = exec::Session::create(*m);
  REQUIRE(s);
  auto r = (*s)->run({{"x", F({2}, {1, 2})}});
  REQUIRE_FALSE(r);
  INFO(r.error().message);
  CHECK(r.error().message.find("is a sequence, but this op takes tensors") != std::string::npos);
}

TEST_CASE("exec-ctrl: a body's intermediates are freed and counted while it runs", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool c, float[256] x) => (float[256] z) {
  z = If<then_branch = t () => (float[256] a) { u = Neg(x)  v = Abs(u)  a = Neg(v) },
         else_branch = e () => (float[256] b) { b = Neg(x) }>(c)
}
)");
  auto s = exec::Session::create(*m);
  REQUIRE(s);
  REQUIRE((*s)->run({{"c", B(true)}, {"x", F({256}, std::vector<float>(256, 1.f))}}));
  // then_branch: u and v (1 KiB each) are live together, then v and a; the branch's output is handed over
  // as the If's output z (the branch frame stops counting it first).
  CHECK((*s)->last_stats().peak_live_bytes == 2048);
  CHECK((*s)->last_stats().nodes_run == 4);
}

TEST_CASE("exec-ctrl: sequence graph outputs come back through run_values", "[exec-ctrl]") {
  auto m = test::parse_or_fail(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3,2] x) => (float[2] s) {
  s = SplitToSequence<axis = 0, keepdims = 0>(x)
}
)");
  make_sequence(m->graph->outputs()[0]);
  auto s = exec::Session::create(*m);
  REQUIRE(s);
  TensorValue x = F({3, 2}, {1, 2, 3, 4, 5, 6});
  auto as_tensors = (*s)->run({{"x", x}});
  REQUIRE_FALSE(as_tensors);
  CHECK(as_tensors.error().message.find("is a sequence, not a tensor: use Session::run_values") != std::string::npos);
  auto r = (*s)->run_values({exec::RuntimeValue::of(x)});
  REQUIRE(r);
  REQUIRE((*r)[0].is_sequence());
  const auto& items = (*r)[0].seq();
  REQUIRE(items.size() == 3);
  CHECK(items[2].dims() == std::vector<int64_t>{2});
  CHECK(items[2].data<float>()[1] == 6);
  // Three float[2] items, counted while live (the graph output until the end).
  CHECK((*s)->last_stats().peak_live_bytes == 24);
}
