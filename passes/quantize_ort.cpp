// quantize: emit=ort (passes/quantize.h).
#include "passes/quantize.h"

namespace effopt::passes::quant {

Status emit_ort_contrib_ops(Model& m, pass::PassContext& ctx, pass::PassResult& r) {
  return usage_error("quantize: emit=ort is not built yet");
}

}  // namespace effopt::passes::quant
