// Stable depth-first topological sort. Walking the original order, a node
// whose inputs are not yet produced is preceded by their producers
// (recursively): a sorted graph keeps its order exactly and an unsorted one
// moves as little as possible. Outer-scope values read inside a node's
// subgraphs count as that node's inputs.
#pragma once

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

// Sorts `g` (not its subgraphs). Fails with InvalidModel naming a node on a
// cycle. Sets *changed when the order moved.
Status topo_sort(Graph& g, bool* changed = nullptr);
// Sorts `g` and every subgraph below it.
Status topo_sort_all(Graph& g, bool* changed = nullptr);

// Values of enclosing graphs that `n`'s subgraphs read (implicit inputs).
std::vector<Value*> implicit_inputs(const Node& n);

}  // namespace effopt
