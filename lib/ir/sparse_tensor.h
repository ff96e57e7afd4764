// Sparse tensors (SparseTensor, ir/tensor.h) made dense.
#pragma once

#include <string>

#include "ir/tensor.h"

namespace effopt {

// The dense tensor of `s` (named as its values; implicit elements are zero
// bytes, i.e. 0 of every numeric type), as ONNX Runtime densifies sparse
// initializers at load. nullptr with *why set when `s` is malformed: indices
// not INT64 [NNZ] (linear) or [NNZ, rank] (coordinates), an index out of range,
// values not [NNZ] of a whole-byte type, or more than 2^32 elements.
TensorPtr densify(const SparseTensor& s, std::string* why);

}  // namespace effopt
