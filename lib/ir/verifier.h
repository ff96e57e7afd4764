// Structural checks of the IR: single assignment (also across scopes),
// topological order, every input defined in scope, use/def links, initializer
// types, subgraph scoping. Cheap enough to run after every pass
// (--verify-each); a failure there is a bug in the pass.
#pragma once

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

// Returns InvalidModel describing the first problems found (up to 10).
Status verify(const Model& model);
Status verify_graph(const Graph& graph);

}  // namespace effopt
