// Opset conversion of the default ONNX domain ("" / ai.onnx), on effopt's IR.
//
// `effopt convert --opset N` moves a model from any default-domain opset
// (1 and up) to any opset from 7 to 21. ONNX 1.12's own version converter
// stops at 17 and needs static shapes where effopt does not (its Softmax
// 12->13 adapter), so effopt has its own adapters: a table of
// {op, version at which it changed, adapter}. ONNX 1.12's schema registry says
// at which version each op changed up to opset 17; a table in the .cpp covers
// opsets 18..21. An op whose version changes with no adapter in the table
// changed only compatibly (new types, new attributes whose defaults keep the
// old behaviour) and just moves to the new version.
//
// Upgrades rewrite the main graph, every subgraph and every model-local
// function with a default-domain import. Downgrades are accepted only when no
// op present changed between the two opsets.
//
// Constants the adapters create are initializers of the graph that uses them
// (uniquely named across the model); when the result is IR 3 they are also
// listed among the main graph's inputs, as IR 3 requires; in function bodies
// they are Constant nodes. Existing graph inputs are left as they are. Node and
// value names that are not replaced stay, so graph outputs keep their names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

struct OpsetConvertStats {
  // Human-readable, one entry per rewrite, e.g.
  // "Softmax 'sm1': axis semantics 12->13 via Flatten/Reshape".
  std::vector<std::string> changes;
};

// Converts `model` to default-domain opset `target` (7..21, else Usage).
// Raises ir_version to what the target opset needs (never lowers it). An
// impossible conversion returns InvalidModel naming the op, the node and why;
// the model may then be partly rewritten, so callers discard it.
Status convert_opset(Model& model, int64_t target, OpsetConvertStats* stats = nullptr);

// The lowest IR version a model importing default-domain opset `opset` needs
// (ONNX's release table: opset 7,8 -> 3, 9 -> 4, ..., 21 -> 10).
int64_t min_ir_version_for_opset(int64_t opset);

// The version of `op` (default domain) in effect at `opset`: its since_version,
// or 0 if the op does not exist there. Covers opsets 1..21.
int64_t onnx_op_version(const std::string& op, int64_t opset);

// One adapter of the table, for documentation (docs/opsets.md) and tests.
struct OpsetAdapterInfo {
  std::string op;
  int64_t version;  // the opset version at which the op changed
  std::string what; // what changed and what the adapter does
};
std::vector<OpsetAdapterInfo> opset_adapters();
// Ops removed from the standard (experimental ops of ONNX <= 1.4) and what
// effopt does with them.
std::vector<OpsetAdapterInfo> legacy_op_handlers();

}  // namespace effopt
