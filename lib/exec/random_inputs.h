// Seeded random inputs for a graph: one tensor per non-initializer input,
// drawn to the input's element type and shape. Floats are uniform in
// [-1, 1), integers uniform in [0, 10) and bools 0/1, unless a range says
// otherwise (half-open [LO, HI) for every type). Element k of input j of
// sample s depends only on (seed, s, j, k), so results never depend on the
// thread count or on which other samples are drawn.
//
//   auto plan = exec::plan_random_inputs(*model.graph, {.seed = 7, .shapes = {{"N", {1}}}});
//   auto inputs = exec::random_inputs(*plan, 7, /*sample=*/0);
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "exec/tensor_value.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt::exec {

// An input's whole shape (name = the input) or one symbolic dim (name = the
// dim's param, dims = its one value).
struct ShapeSpec {
  std::string name;
  std::vector<int64_t> dims;
};

// Values in [lo, hi); name empty = every input.
struct RangeSpec {
  std::string name;
  double lo = 0, hi = 0;
};
// "x=0:255", "-1.5:2" (every input). Usage error naming the text otherwise.
Expected<RangeSpec> parse_range(const std::string& text);

struct RandomInputOptions {
  uint64_t seed = 0;
  std::vector<ShapeSpec> shapes;
  std::vector<RangeSpec> ranges;
};

// What is drawn for one input.
struct RandomInputPlan {
  std::string name;
  DataType dtype = DataType::Undefined;
  std::vector<int64_t> dims;
  double lo = 0, hi = 0;
  size_t index = 0;  // position among the non-initializer inputs (the stream)
};

// Resolves every non-initializer input's concrete shape and range. Usage
// errors name the input and dim at fault (a symbolic or unknown dim without
// --shape, a shape or range naming no input or dim, a range outside the
// element type); an IO error when one sample cannot fit in memory.
Expected<std::vector<RandomInputPlan>> plan_random_inputs(const Graph& g, const RandomInputOptions& opts);

// One input's tensor for `sample`.
TensorValue random_tensor(const RandomInputPlan& p, uint64_t seed, uint64_t sample);
// Every planned input for `sample`, by name.
std::vector<std::pair<std::string, TensorValue>> random_inputs(const std::vector<RandomInputPlan>& plan, uint64_t seed,
                                                               uint64_t sample);

}  // namespace effopt::exec
