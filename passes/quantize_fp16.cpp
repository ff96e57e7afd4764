// quantize: mode=fp16 (passes/quantize.h).
#include "passes/quantize.h"

namespace effopt::passes::quant {

Status convert_to_float16(Model& m, const Options& o, pass::PassContext& ctx, pass::PassResult& r) {
  return usage_error("quantize: mode=fp16 is not built yet");
}

}  // namespace effopt::passes::quant
