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

std::string join(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ",") + std::string(n);
  return out;
}

std::string fuse_text() {
  return "repeat{max-iterations=8}(" + join(kFuseCleanup) + "," + join(kFuseFusion) + ")";
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
  return out + (out.empty() ? "" : ",") + "@fuse";
}

}  // namespace effopt::pass
