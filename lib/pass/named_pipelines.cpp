// The named pipelines (named_pipelines.h). Each entry lists only registered
// passes or other named pipelines (tests/unit/test_pipeline.cpp parses every
// one).
#include "pass/named_pipelines.h"

#include <string_view>

#include "pass/pipeline.h"

namespace effopt::pass {

namespace {

// The fuse pipeline: cleanup and fusion passes together in one group run to a
// fixed point, so each pass sees what the others left: cleanup makes patterns
// canonical for fusion (no Identity between Conv and BatchNormalization, folded
// shape arithmetic), fusion exposes new cleanup (a Conv+Mul+Add chain folds one
// step per pass), and eliminate-dead-code removes what both left unused.
const std::vector<std::string_view> kFuseCleanup = {
    "eliminate-identity",
    "eliminate-noop",
    "hoist-constants",
    "fold-constants",
    "fold-shapes",
    "fuse-reshape-chain",
    "dedup-initializers",
    "eliminate-common-subexpressions",
};
const std::vector<std::string_view> kFuseFusion = {
    "fuse-conv-bn",
    "fuse-conv-mul",
    "fuse-conv-add",
    "fuse-matmul-bn",
    "fuse-matmul-add",
    "fuse-transpose-into-gemm",
    "fuse-consecutive-transposes",
    "fuse-consecutive-reshapes",
    "fuse-pad",
    "fuse-layer-norm",
    "fuse-gelu",
    "eliminate-dead-code",
};

// The quantize preparation, as ONNX Runtime's quant_pre_process: constants
// made plain and folded (weights behind Identity or computed from constants
// become stored tensors the pass can quantize), equal tensors merged, and
// BatchNormalization folded into the Conv or MatMul before it, so no
// DequantizeLinear lands in front of a weight that BatchNormalization should
// still fold into. No fuse-matmul-add: ONNX Runtime fuses an int4 MatMul into
// MatMulNBits, not a Gemm.
const std::vector<std::string_view> kQuantizePrep = {
    "hoist-constants", "eliminate-identity", "fold-constants",  "fold-shapes",
    "dedup-initializers", "fuse-conv-bn",    "fuse-matmul-bn", "eliminate-dead-code",
};

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ",") + std::string(n);
  return out;
}

std::string fuse_text() {
  return "repeat{max-iterations=8}(" + join(kFuseCleanup) + "," + join(kFuseFusion) + ")";
}

std::string quantize_prep_text() { return "repeat{max-iterations=8}(" + join(kQuantizePrep) + ")"; }

// convert-opset{to=N} and fix-shapes{shapes=...} for the commands' --opset and --shape.
std::string command_prefix(int64_t opset, const std::vector<std::string>& shapes) {
  std::string out;
  if (opset != 0) out = "convert-opset{to=" + std::to_string(opset) + "}";
  if (!shapes.empty()) {
    std::string joined;
    for (const std::string& s : shapes) joined += (joined.empty() ? "" : ";") + s;
    out += (out.empty() ? "" : ",") + std::string("fix-shapes{shapes=") + quote_option_value(joined) + "}";
  }
  return out;
}

}  // namespace

const std::vector<NamedPipeline>& named_pipelines() {
  static const std::vector<NamedPipeline> table = {
      {"fuse", "lossless cleanup (to a fixed point) and operator fusion", fuse_text()},
      {"quantize",
       "preparation (constants folded, BatchNormalization folded into Conv/MatMul), then the quantize pass",
       quantize_prep_text() + ",quantize"},
  };
  return table;
}

const NamedPipeline* find_named_pipeline(const std::string& name) {
  for (const NamedPipeline& p : named_pipelines())
    if (p.name == name) return &p;
  return nullptr;
}

std::string fuse_pipeline_text(int64_t opset, const std::vector<std::string>& shapes) {
  std::string out = command_prefix(opset, shapes);
  return out + (out.empty() ? "" : ",") + "@fuse";
}

std::string quantize_pipeline_text(int64_t opset, const std::vector<std::string>& shapes,
                                   const std::string& quantize_options) {
  std::string out = command_prefix(opset, shapes);
  // @quantize with options on its last pass: a named pipeline takes none, so spelled out.
  std::string q = quantize_options.empty() ? "@quantize"
                                           : quantize_prep_text() + ",quantize{" + quantize_options + "}";
  return out + (out.empty() ? "" : ",") + q;
}

}  // namespace effopt::pass
