// Fuzz targets on text and tensor files: pipeline, tensor_pb, npy, shape_binding.
#include <cstring>
#include <span>

#include "analysis/footprint.h"
#include "analysis/shape_propagation.h"
#include "exec/tensor_io.h"
#include "fuzz_targets.h"
#include "onnx/model_io.h"
#include "pass/pipeline.h"
#include "report/run_report.h"

namespace effopt::fuzz {

namespace {

std::span<const std::byte> as_bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

}  // namespace

int pipeline(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = pass::parse_pipeline(text);
  if (!p) return refused("pipeline", p.error().message);
  std::string printed = pass::print_pipeline(*p);
  auto again = pass::parse_pipeline(printed);
  if (!again) invariant_broken("pipeline", "the printed pipeline does not parse: " + again.error().message);
  if (pass::print_pipeline(*again) != printed)
    invariant_broken("pipeline", "the printed pipeline parses to another pipeline: " + printed);
  // The recorded form (File options as NAME@sha256:HEX) parses too.
  auto recorded = pass::record_pipeline(*p, [](const std::string&) -> Expected<std::string> {
    return std::string(64, '0');
  });
  if (!recorded) return refused("pipeline", recorded.error().message);
  auto parsed_record = pass::parse_pipeline(*recorded);
  if (!parsed_record)
    invariant_broken("pipeline", "the recorded pipeline does not parse: " + parsed_record.error().message);
  return 0;
}

int tensor_pb(const uint8_t* data, size_t size) {
  std::string name;
  auto t = exec::parse_tensor_proto(as_bytes(data, size), "<fuzz>", &name);
  if (!t) return refused("tensor_pb", t.error().message);
  auto bytes = exec::serialize_tensor_proto(*t, name);
  if (!bytes) return refused("tensor_pb", bytes.error().message);  // a value the writer cannot express
  std::string name2;
  auto t2 = exec::parse_tensor_proto(as_bytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()),
                                     "<fuzz again>", &name2);
  if (!t2) invariant_broken("tensor_pb", "a tensor effopt wrote does not read back: " + t2.error().message);
  auto bytes2 = exec::serialize_tensor_proto(*t2, name2);
  if (!bytes2 || *bytes2 != *bytes) invariant_broken("tensor_pb", "a tensor read back serializes differently");
  return 0;
}

int npy(const uint8_t* data, size_t size) {
  auto t = exec::parse_npy(as_bytes(data, size), "<fuzz>");
  if (!t) return refused("npy", t.error().message);
  auto bytes = exec::serialize_tensor_proto(*t);
  if (!bytes) return refused("npy", bytes.error().message);
  auto back = exec::parse_tensor_proto(as_bytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()),
                                       "<fuzz .pb>");
  if (!back) invariant_broken("npy", "an .npy tensor written as .pb does not read back: " + back.error().message);
  return 0;
}

namespace {

// Symbolic batch and spatial dims, a Conv (MACs), a Reshape fed by shape arithmetic, and a Loop whose trip
// count comes from a dim: the bindings reach every part of shape propagation and the footprint.
const char* kBindingModel = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N, 3, H, W] X, float[N, T] S) => (float[N, M] Y, float[N, T] Z)
<float[4, 3, 1, 1] K = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, int64[1] minus1 = {-1}, int64[1] zero = {0}>
{
  C = Conv (X, K)
  R = Relu(C)
  sh = Shape(R)
  n = Gather <axis = 0> (sh, zero)
  shp = Concat <axis = 0> (n, minus1)
  Y = Reshape(R, shp)
  ts = Shape(S)
  one = Constant <value = int64[1] {1}> ()
  t = Gather <axis = 0> (ts, one)
  tt = Squeeze(t, zero)
  cond = Constant <value = bool {1}> ()
  Z = Loop (tt, cond, S) <body = b (int64 i, bool c, float[N, T] s) => (bool co, float[N, T] so) {
    co = Identity(c)
    so = Sigmoid(s)
  }>
}
)";

}  // namespace

int shape_binding(const uint8_t* data, size_t size) {
  // One binding per line, as repeated --shape options.
  std::vector<ShapeBinding> bindings;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  while (!text.empty() && bindings.size() < 4) {
    size_t nl = text.find('\n');
    std::string line(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto b = parse_shape_binding(line);
    if (!b) return refused("shape_binding", b.error().message);
    bindings.push_back(std::move(*b));
  }
  static const std::string model_bytes = [] {
    auto m = parse_model_text(kBindingModel);
    if (!m) invariant_broken("shape_binding", "the target's model does not parse: " + m.error().message);
    auto s = serialize_model(**m);
    if (!s) invariant_broken("shape_binding", "the target's model does not serialize: " + s.error().message);
    return *s;
  }();
  std::vector<std::byte> bytes(model_bytes.size());
  std::memcpy(bytes.data(), model_bytes.data(), bytes.size());
  auto m = load_model_from_bytes(std::move(bytes), "<binding model>");
  if (!m) invariant_broken("shape_binding", "the target's model does not import: " + m.error().message);
  for (const ShapeBinding& b : bindings) (void)binding_matches(**m, b);
  if (auto st = infer_shapes_with_bindings(**m, bindings); !st) return refused("shape_binding", st.error().message);
  (void)json_text(to_json(compute_footprint(**m)));
  return 0;
}

}  // namespace effopt::fuzz
