// One view of constant tensors, whatever holds them: an initializer (also one
// listed among graph inputs, as IR < 4 models do), a Constant node (any of its
// value* attributes), or an Identity of a constant. Passes see all of these
// as weights.
#pragma once

#include <cstdint>
#include <functional>

#include "ir/ir.h"

namespace effopt {

// The constant tensor behind `v`, or nullptr if `v` is not constant.
// Follows Identity chains. For Constant nodes with value_float/value_ints/...
// the tensor is materialized (owned, small).
TensorPtr constant_tensor(const Value* v);
bool is_constant(const Value* v);

// Where a stored tensor lives.
enum class ConstantHolder { Initializer, ConstantNode, SparseInitializer, AttributeTensor };

// Calls fn once per stored tensor (each held tensor once, however many nodes
// read it), in the main graph, subgraphs and functions. Sparse initializers
// report their values tensor.
void for_each_stored_tensor(const Model& m, const std::function<void(const Tensor&, ConstantHolder)>& fn);

// Same element type, dims and contents (strings: the same strings).
bool same_tensor_contents(const Tensor& a, const Tensor& b);
// A hash of element type, dims and contents: equal for tensors that are
// same_tensor_contents (reads every byte).
uint64_t tensor_content_hash(const Tensor& t);

// IR < 4 models list initializers among the graph inputs. Removes them from
// the inputs (they become plain weights); returns how many were removed.
size_t detach_initializer_inputs(Graph& g);

}  // namespace effopt
