// Counting the nodes that do work at inference time, the way the fusion
// benchmark compares effopt with ONNX Runtime's optimizer (issue 18): only
// nodes that depend on a graph input count (an input with an initializer is a
// weight, not an input), plus every node inside the subgraphs of a counted
// node (Constant nodes there included). Nodes that only build constant weights
// (ConstantOfShape in the light zoo models) are weights, not work.
#pragma once

#include <cstdint>

#include "ir/ir.h"

namespace effopt {

struct NodeCount {
  uint64_t work_nodes = 0;   // the figure above
  uint64_t all_nodes = 0;    // every node of the main graph and its subgraphs
};

NodeCount count_work_nodes(const Model& m);

}  // namespace effopt
