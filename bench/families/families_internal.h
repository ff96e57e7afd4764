// Shared between the family builders (families_cnn.cpp, families_transformer.cpp) and families.cpp.
#pragma once

#include <string>

#include "families/graph_builder.h"

namespace effopt::bench::detail {

// Each writes the named instance's graph into `b` (inputs, nodes, outputs); usage error for a name it
// does not know.
Status build_efficientnet(GraphBuilder& b, const std::string& name);
Status build_mobilenetv3(GraphBuilder& b, const std::string& name);
Status build_regnety(GraphBuilder& b, const std::string& name);
Status build_shufflenetv2(GraphBuilder& b, const std::string& name);
Status build_gpt(GraphBuilder& b, const std::string& name);
Status build_vit(GraphBuilder& b, const std::string& name);

// LayerNormalization over the last axis as the opset writes it: the op at 17, decomposed at 13.
Value* layer_norm(GraphBuilder& b, const std::string& scope, Value* x, int64_t d, float epsilon);

}  // namespace effopt::bench::detail
