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

// True when a feed can replace `v`'s initializer at run time: in the main
// graph of an IR >= 4 model an initializer also listed among the graph inputs
// is only a default (ONNX Runtime lets a fed input of that name override it;
// for IR < 4 such initializers are constants). Initializers listed among the
// inputs of a subgraph or function count as feedable too (conservative).
bool is_feedable_initializer(const Value* v, const Model& m);
// The constant tensor behind `v` that may be folded into new weights:
// constant_tensor(v) unless the chain ends in a feedable or sparse
// initializer, or in a Constant node whose value is a function attribute
// reference; nullptr then.
TensorPtr fixed_constant_tensor(const Value* v, const Model& m);
// The same rule for models that list an initializer among graph inputs only
// when a feed may override it (IR >= 4, or IR < 4 after
// detach_initializer_inputs, as every pass sees a model): any initializer
// that is also an input of its graph is feedable. The passes' rule
// (passes/pass_util.h: fixed_constant).
bool is_listed_initializer_input(const Value* v);
TensorPtr fixed_constant_tensor(const Value* v);

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
