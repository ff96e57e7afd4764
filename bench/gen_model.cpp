// Generates large float32 models for the import/export benchmarks with
// effopt's own IR and exporter: a chain of MatMul+Add+Relu layers whose
// weights total about --mb megabytes, with seeded pseudo-random weights.
//
//   gen_model OUT.onnx --mb 600 [--external] [--seed 1]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "onnx/model_io.h"

using namespace effopt;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: gen_model OUT.onnx [--mb N] [--external] [--seed S]\n");
    return 1;
  }
  std::string out = argv[1];
  uint64_t mb = 600, seed = 1;
  bool external = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mb") && i + 1 < argc) mb = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--external")) external = true;
  }
  const int64_t d = 2048;  // 16 MiB per layer weight
  const uint64_t layer_bytes = static_cast<uint64_t>(d * d * 4);
  const uint64_t layers = std::max<uint64_t>(1, mb * 1024 * 1024 / layer_bytes);

  Model m;
  m.ir_version = 8;
  m.opset_imports = {{"", 13}};
  m.producer_name = "effopt-bench";
  m.graph = std::make_unique<Graph>();
  Graph& g = *m.graph;
  g.name = "mlp";
  Value* x = g.create_value("x");
  x->type = Type::tensor(DataType::Float, std::vector<Dim>{Dim::symbolic("N"), Dim::known(d)});
  g.add_input(x);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&] {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  Value* cur = x;
  for (uint64_t l = 0; l < layers; ++l) {
    auto w = std::make_shared<Tensor>();
    w->name = "w" + std::to_string(l);
    w->data_type = DataType::Float;
    w->dims = {d, d};
    std::vector<std::byte> bytes(layer_bytes);
    auto* f = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < d * d; ++i) f[i] = static_cast<float>(static_cast<int64_t>(next() % 2001) - 1000) * 1e-5f;
    w->set_bytes(std::move(bytes));
    Value* wv = g.add_initializer(w);
    std::string ln = std::to_string(l);
    Node* mm = g.create_node("MatMul", {cur, wv}, {"mm" + ln});
    mm->name = "matmul" + ln;
    Node* relu = g.create_node("Relu", {mm->output(0)}, {"h" + ln});
    relu->name = "relu" + ln;
    cur = relu->output(0);
  }
  g.add_output(cur);
  cur->type = Type::tensor(DataType::Float, std::vector<Dim>{Dim::symbolic("N"), Dim::known(d)});
  ExportOptions eo;
  eo.external = external ? ExternalData::Always : ExternalData::Auto;
  ExportStats es;
  if (auto st = save_model(m, out, eo, &es); !st) {
    std::fprintf(stderr, "gen_model: %s\n", st.error().message.c_str());
    return 1;
  }
  std::printf("wrote %s: %llu layers, %llu bytes%s\n", out.c_str(), static_cast<unsigned long long>(layers),
              static_cast<unsigned long long>(es.model_bytes + es.external_bytes),
              external ? " (external data)" : "");
  return 0;
}
