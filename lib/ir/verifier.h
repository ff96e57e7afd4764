// Structural checks of the IR: single assignment (also across scopes),
// topological order, every input defined in scope, use/def links, initializer
// types, subgraph scoping. Cheap enough to run after every pass
// (--verify-each); a failure there is a bug in the pass.
//
// And the check of every node's inputs and outputs against its operator's
// signature (verify_node_signatures), which the importer and the executor run
// on every model they accept: code past them may index a node's required
// inputs without a bounds check. The signatures come from the layer that
// knows ONNX's schemas (onnx/op_signatures.h); ir itself knows no operator.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

// Returns InvalidModel describing the first problems found (up to 10).
Status verify(const Model& model);
Status verify_graph(const Graph& graph);

// An operator's formal inputs, outputs and attributes, as ONNX's OpSchema
// declares them.
struct OpSignature {
  enum class Arity : uint8_t {
    Single,    // exactly one value, never empty
    Optional,  // one value or empty ("" / nullptr)
    Variadic,  // the last formal parameter only: any number, at least min_arity
  };
  struct Param {
    std::string name;
    Arity arity = Arity::Single;
  };
  struct Attr {
    std::string name;
    AttrType type = AttrType::Undefined;
    bool required = false;
  };
  std::string label;  // "MaxPool-12": the op and the version whose schema this is
  std::vector<Param> inputs, outputs;
  int min_inputs = 0, max_inputs = 0, min_outputs = 0, max_outputs = 0;  // INT_MAX: unbounded
  // The attributes the schema declares; empty when effopt does not know them
  // (they are then not checked).
  std::vector<Attr> attributes;
};

// The signature of `op_type` in `domain` ("" for ai.onnx) at the opset the
// node's model or function imports for that domain (0 when none); nullopt
// when unknown, and the node is then not checked.
using OpSignatureLookup =
    std::function<std::optional<OpSignature>(std::string_view domain, std::string_view op_type, int64_t opset)>;

// Checks every node of the main graph, its subgraphs and the model-local
// functions against its operator's signature, as ONNX's checker does: the
// input and output counts are within the signature's bounds, no Single
// input or output (nor an input of a variadic list) is empty, every required
// attribute is there, and an attribute the schema declares has the declared
// type (when its type is set: attributes of old models may leave it
// UNDEFINED; attributes the schema does not declare are let pass). Nodes that call a
// model-local function are not checked. InvalidModel naming each node at fault
// (up to 10).
Status verify_node_signatures(const Model& model, const OpSignatureLookup& lookup);

}  // namespace effopt
