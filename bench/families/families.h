// The executor's bench families (issue 27) and ORT-prediction conformance
// cases (issue 29): CNN and transformer architectures written as PyTorch's
// exporter writes them, with seeded He-scaled random weights (speed and op
// patterns only; the numbers mean nothing).
//
// Each family has two bench sizes and a tiny instance with the same structure
// and op patterns for tests:
//   efficientnet  efficientnet_b0 (224), efficientnet_b2 (260), efficientnet_tiny
//   mobilenetv3   mobilenetv3_large, mobilenetv3_small (224), mobilenetv3_tiny
//   regnety       regnety_400mf, regnety_800mf (224), regnety_tiny
//   shufflenetv2  shufflenetv2_x1_0, shufflenetv2_x0_5 (224), shufflenetv2_tiny
//   gpt           gpt_seq128, gpt_seq512 (6 layers, d=512, 8 heads, vocab 16384), gpt_tiny
//   vit           vit_s16, vit_b16 (224), vit_tiny
//
// Opset 13 writes what PyTorch writes there: LayerNormalization decomposed
// (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add), Hardswish as
// HardSigmoid + Mul, the causal mask as a constant -inf triangle added to the
// scores. Opset 17 uses LayerNormalization and HardSwish, and the causal mask
// as Trilu + Where. Batch 1, static shapes, BatchNormalization folded into the
// convs (as an eval-mode export does). docs/benchmarks.md lists each family's
// op patterns.
//
//   auto c = bench::build_family("efficientnet_tiny", {.opset = 13});
//   if (!c) ... c.error().message
//   exec::Session::create(*c->model) ... run(c->inputs)
//   bench::write_family_case(*c, "out/efficientnet_tiny");  // model.onnx + test_data_set_0/input_0.pb
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "exec/tensor_value.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt::bench {

struct FamilyInstance {
  std::string name;    // "efficientnet_b0"
  std::string family;  // "efficientnet"
  bool tiny = false;   // a conformance-test instance, not a bench size
  std::string summary;
};

// Every instance: the two bench sizes of each family, then the tiny ones.
const std::vector<FamilyInstance>& family_instances();
// Names of the bench sizes (12) or of the tiny instances (6), in family_instances() order.
std::vector<std::string> family_names(bool tiny);

struct FamilyOptions {
  int64_t opset = 17;  // 13 or 17
  uint64_t seed = 1;   // weights and inputs
};

struct FamilyCase {
  std::unique_ptr<Model> model;
  // One per graph input, by name: images uniform in [-1, 1), token ids uniform in [0, vocabulary).
  std::vector<std::pair<std::string, exec::TensorValue>> inputs;
  // Trainable parameters (weights, biases, embeddings, normalization scales); constants such as shapes and
  // masks are not counted.
  uint64_t parameters = 0;
};

// Usage error for an unknown name or an opset other than 13 and 17.
Expected<FamilyCase> build_family(const std::string& name, const FamilyOptions& opts = {});

// Writes DIR/model.onnx and DIR/test_data_set_0/input_K.pb (the corpus layout exec_bench reads); creates DIR.
Status write_family_case(const FamilyCase& c, const std::string& dir);

}  // namespace effopt::bench
