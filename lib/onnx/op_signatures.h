// Operator signatures (formal inputs, outputs and attributes, ir/verifier.h) from ONNX's
// schemas, and the check every imported or executed model passes.
//
// Where a signature comes from:
// - ai.onnx at opsets 1..17, ai.onnx.ml 1..3, ai.onnx.training 1 and
//   ai.onnx.preview.training 1: libonnx 1.12's OpSchema of the op's version in
//   effect at the node's opset.
// - ai.onnx at opsets 18..21: an op whose version there is one ONNX 1.12
//   knows keeps that schema; the versions added at 18..21 come from effopt's
//   table in op_signatures.cpp (ONNX 1.16's operator documentation; most only
//   widened types and inherit the previous version's parameters; their
//   attributes are not checked).
// - Anything else is unknown and its nodes are not checked: other domains
//   (com.microsoft, custom ops), domain versions past those, ops no schema
//   defines, and a domain the model does not import.
// - The executor's rule (NewerOpsets::NewestKnown): ai.onnx past opset 21 is
//   checked against the newest version effopt knows, since its kernels
//   implement at most that version and index inputs on that assumption.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "ir/verifier.h"

namespace effopt {

enum class NewerOpsets {
  Unknown,      // ai.onnx past opset 21: not checked (the importer's rule)
  NewestKnown,  // ai.onnx past opset 21: the op's newest version up to 21 (the executor's rule)
};

// The signature of `op_type` in `domain` ("" or "ai.onnx" for the default
// domain) at domain version `opset`; nullopt when unknown (see above).
std::optional<OpSignature> onnx_op_signature(std::string_view domain, std::string_view op_type, int64_t opset,
                                             NewerOpsets newer = NewerOpsets::Unknown);

// verify_node_signatures with onnx_op_signature.
Status verify_onnx_signatures(const Model& model, NewerOpsets newer = NewerOpsets::Unknown);

}  // namespace effopt
