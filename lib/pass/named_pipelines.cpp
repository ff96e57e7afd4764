// The named pipelines (named_pipelines.h). Each entry lists only registered
// passes (tests/unit/test_pipeline.cpp parses every one).
#include "pass/named_pipelines.h"

#include <string_view>

#include "pass/pipeline.h"

namespace effopt::pass {

namespace {

// The fuse pipeline, in its intended full order:
//   repeat{max-iterations=8}(eliminate-identity,eliminate-noop,hoist-constants,fold-constants,fold-shapes,
//                            fuse-reshape-chain,dedup-initializers,eliminate-common-subexpressions,
//                            eliminate-dead-code),
//   fuse-conv-bn,fuse-conv-mul,fuse-conv-add,fuse-matmul-bn,fuse-matmul-add,fuse-transpose-into-gemm,
//   fuse-consecutive-transposes,fuse-consecutive-reshapes,fuse-pad,fuse-layer-norm,fuse-gelu,
//   repeat{max-iterations=8}(the same cleanup passes)
// Cleanup runs to a fixed point first so fusion sees canonical patterns (no
// Identity between Conv and BatchNormalization, folded shape arithmetic), and
// again afterwards to remove what fusion left dead. A pass joins the pipeline
// by adding its name (one line) to the list below once it is registered.
const std::vector<std::string_view> kFuseCleanup = {
    // "eliminate-identity",
    // "eliminate-noop",
    // "hoist-constants",
    // "fold-constants",
    // "fold-shapes",
    // "fuse-reshape-chain",
    // "dedup-initializers",
    // "eliminate-common-subexpressions",
    // "eliminate-dead-code",
};
const std::vector<std::string_view> kFuseFusion = {
    // "fuse-conv-bn",
    // "fuse-conv-mul",
    // "fuse-conv-add",
    // "fuse-matmul-bn",
    // "fuse-matmul-add",
    // "fuse-transpose-into-gemm",
    // "fuse-consecutive-transposes",
    // "fuse-consecutive-reshapes",
    // "fuse-pad",
    // "fuse-layer-norm",
    // "fuse-gelu",
};

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ",") + std::string(n);
  return out;
}

std::string fuse_text() {
  std::string cleanup = kFuseCleanup.empty() ? "" : "repeat{max-iterations=8}(" + join(kFuseCleanup) + ")";
  std::string out = cleanup;
  for (const std::string& part : {join(kFuseFusion), cleanup})
    if (!part.empty()) out += (out.empty() ? "" : ",") + part;
  return out;
}

}  // namespace

const std::vector<NamedPipeline>& named_pipelines() {
  static const std::vector<NamedPipeline> table = {
      {"fuse", "lossless cleanup (to a fixed point) and operator fusion", fuse_text()},
  };
  return table;
}

const NamedPipeline* find_named_pipeline(const std::string& name) {
  for (const NamedPipeline& p : named_pipelines())
    if (p.name == name) return &p;
  return nullptr;
}

std::string fuse_pipeline_text(int64_t opset, const std::vector<std::string>& shapes) {
  std::string out;
  if (opset != 0) out = "convert-opset{to=" + std::to_string(opset) + "}";
  if (!shapes.empty()) {
    std::string joined;
    for (const std::string& s : shapes) joined += (joined.empty() ? "" : ";") + s;
    out += (out.empty() ? "" : ",") + std::string("fix-shapes{shapes=") + quote_option_value(joined) + "}";
  }
  const std::string& fuse = find_named_pipeline("fuse")->text;
  if (!fuse.empty()) out += (out.empty() ? "" : ",") + fuse;
  return out;
}

}  // namespace effopt::pass
