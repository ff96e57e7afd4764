// The prune pass's own API (passes/prune.cpp): parsed options, the pruning
// plan, and the functions that make a plan and build the pruned model.
//
// As quantize, two steps so that a quality guard can sit between them:
//   plan = make_prune_plan(model, options)          which weights are layers, and each one's target sparsity
//   pruned = prune_candidate(original, plan, targets, options)
//                                                   a fresh copy with layer i pruned to targets[i]
// A guard (lib/analysis/quality_guard.h) gives each layer the levels
// {plan target, lower sparsities ..., 0 = dense} and builds its candidates with
// prune_candidate; plans name weights by scope and value name, so a plan made
// on one copy applies to another.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/ir.h"
#include "pass/pass.h"
#include "support/error.h"

namespace effopt::passes::prune {

enum class Granularity { Element, Channel, NM };
enum class Scope { Layer, Global };
enum class Criterion { L1, L2 };

// The pass options, parsed and with every `auto` resolved.
struct Options {
  Granularity granularity = Granularity::Element;
  double sparsity = 0.5;        // element, channel: fraction of weights (channels) removed
  int64_t n = 2, m = 4;         // n:m: at most n nonzeros in every m consecutive weights
  Scope scope = Scope::Global;  // auto: global for element, layer for channel
  Criterion criterion = Criterion::L1;
  std::set<std::string> op_types;  // ops whose weights are pruned
  std::set<std::string> exclude_ops;
  std::optional<std::regex> exclude_node;
  int64_t min_size = 1024;
  std::vector<std::string> auto_notes;  // what each `auto` became
};
// Parses and checks the pass options (Usage error naming the option).
Expected<Options> parse_options(const pass::PassOptions& po);

// One prunable weight ("layer"): a stored float constant that only the weight
// input of prunable ops reads.
struct LayerPlan {
  std::string scope;  // the graph holding it (quant::scope_of)
  std::string name;   // its value's name
  std::string readers;  // "Conv 'c1'", for notes
  std::vector<int64_t> dims;
  uint64_t elements = 0;
  int64_t reduction_axis = -1;  // n:m: the stored axis the groups of m run along
  double target = 0;            // sparsity the plan gives it (global scope: what the global threshold reaches)
  std::vector<size_t> reader_nodes;  // main-graph node indexes of its readers (for the guard's MACs)
};

struct PrunePlan {
  std::vector<LayerPlan> layers;
  std::vector<std::string> notes;  // weights left dense and why, n:m skips
};

// Finds the layers of `m` and their targets (global scope reads every layer's
// magnitudes to place one threshold). Granularity channel is not planned here.
Expected<PrunePlan> make_prune_plan(Model& m, const Options& o);

// Zeroes the smallest-magnitude weights of each layer of `plan` in `m` (made
// on this model or an identical copy): layer i to sparsity targets[i]
// (element), or to at most n nonzeros per group of m where targets[i] > 0
// (n:m; 0 leaves it dense). Ties broken by position, so results are
// deterministic. One note per layer ("layer 'W' (...): target 0.9000, reached
// 0.9001", plus " (quality guard: planned 0.9500)" when targets[i] is not the
// plan's target) and the counters prunable-elements, prunable-zeros-before,
// prunable-zeros-after, layers-pruned go to `r` when given.
Status apply_prune_plan(Model& m, const PrunePlan& plan, const std::vector<double>& targets, const Options& o,
                        pass::PassResult* r);

// The sparsities the quality guard tries for a layer planned at `target`,
// from the target down to 0 (dense): the target, then those of 0.98, 0.95,
// 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1 below it, then 0.
// Under n:m a layer has two: its N:M pattern (the target) and dense.
std::vector<double> guard_ladder(double target, Granularity g);

// The guard's candidate: a fresh copy of `original` pruned as
// apply_prune_plan(copy, plan, targets, o) says.
Expected<std::unique_ptr<Model>> prune_candidate(const Model& original, const PrunePlan& plan,
                                                 const std::vector<double>& targets, const Options& o);

}  // namespace effopt::passes::prune
