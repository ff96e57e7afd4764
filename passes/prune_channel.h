// Structured channel pruning (prune{granularity=channel}): removes whole Conv
// output channels and Gemm / MatMul output features, ranked by the L1 or L2
// norm of their filters, so the model gets smaller in bytes, MACs and memory.
//
//   passes::prune::ChannelPruneOptions o;
//   o.sparsity = 0.3;                          // 30% of the channels of every layer group
//   auto r = passes::prune::prune_channels(model, o);
//   if (!r) ... r.error().message              // usage error: bad options
//   for (auto& l : r->layers) ... l.node, l.channels, l.removed, l.reason
//   for (auto& n : r->notes) ...               // which channels were kept, and why
//
// Rules:
// - Sources are Conv (group 1, and grouped Convs that do not follow their input
//   as below), Gemm with a constant B (and constant or absent C) and MatMul
//   with a constant 2-D B in the main graph, of a type in
//   op_types, not excluded, whose weight has at least min_size elements. A
//   source's output channel c is the filter W[c] (Conv), the row / column of B
//   producing feature c (Gemm, MatMul).
// - Channels are followed forward through every reader; each channel of each
//   tracked value gets an id, and ids that must go together are merged into one
//   class: residual Add / Sub / Mul / ... of two tracked values (element-wise,
//   numpy broadcasting), a squeeze-and-excitation gate (the expand Conv's
//   Sigmoid multiplies the feature map: the same Mul rule), Concat along the
//   channel axis (offsets), depthwise Convs (output channel o follows input
//   channel o / multiplier: its filters go too, it stays depthwise with
//   group = new C), grouped Convs with Cin == Cout (channel o follows input
//   channel o; every group must lose the same number of channels, else the
//   component is kept), other grouped Convs (Cin != Cout: each group loses as
//   many of its input channels as the others, and the Conv is a source whose
//   groups each lose as many output channels), activations, pooling, Dropout,
//   Transpose, Squeeze and Unsqueeze (the channel axis moves; a Squeeze of it
//   keeps the channels), Resize by constant scales of 1 on the channel axis
//   (Resize to given sizes keeps the channels: its sizes name their count),
//   BatchNormalization
//   (its scale, B, mean and var entries go), per-channel constants of
//   element-wise ops (sliced), Flatten / Reshape of [N, C, ...] into [N, C*S]
//   (the S-block of each removed channel goes, and an explicit Reshape size is
//   rewritten). Consumers drop the matching inputs: Conv's weight axis 1,
//   Gemm's K axis of B, MatMul's rows of B.
// - A class is removed as a whole, from every value carrying it. Classes
//   reached by anything else are kept, with the reason in the notes: an
//   unknown or unsupported reader, a graph output (features reaching a graph
//   output are never removed, so output shapes stay), a subgraph reader, an
//   unknown shape, a source that is not pruned (excluded, below min_size,
//   weight not a fixed constant, ...).
// - A component (the sources sharing classes: a residual stage, a conv and its
//   SE expand conv) is one "layer" for the target. Layer scope: each component
//   loses floor(sparsity * classes) of its classes (layer_sparsity overrides
//   it by the name of any of its sources; the smallest override wins), the
//   ones with the smallest summed filter norm. Global scope: one ranking of
//   every class by its filters' norms normalized by fan-in (L1 / fan-in, L2 /
//   sqrt(fan-in): a 147-weight and a 4,608-weight filter become comparable),
//   averaged over the class's filters; the lowest floor(sparsity * classes
//   that may be removed) go (kept classes, such as a classifier's features
//   reaching a graph output, do not count). Either way a component never
//   loses all its classes.
// - Norms are those of the stored weights (a BatchNormalization after the
//   Conv is not folded into them).
// - Shapes: runs the shape-inference service first; tracked values need a
//   known rank and channel dim. The value types of the pruned values are
//   updated; graph outputs keep their shapes. The result passes effopt's
//   verifier and ONNX's checker when the input did.
// - Only the main graph is pruned: subgraph bodies and model-local functions
//   are left alone (what they read from the main graph is kept).
// - Weights must be fixed constants (passes/pass_util.h): call
//   pass::allow_plain_initializers on IR < 4 models first (apply_pass does).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt::passes::prune {

struct ChannelPruneOptions {
  double sparsity = 0.3;  // fraction of channels removed: per component (layer scope) or of all removable (global)
  bool global = false;    // scope: false = layer (the default for channel pruning), true = global
  bool l2 = false;        // criterion: false = L1, true = L2
  std::set<std::string> op_types = {"Conv", "Gemm", "MatMul"};  // source op types
  std::set<std::string> exclude_ops;                             // op types never pruned (nor followed)
  std::optional<std::regex> exclude_node;                        // node names never pruned (nor followed)
  int64_t min_size = 1024;                                       // sources with smaller weights are kept
  std::map<std::string, double> layer_sparsity;                  // per source node name: its component's target
  // Per component (ChannelPruneLayer::component of a run on the same model with the same options: components
  // do not depend on targets): its target, over layer_sparsity. The quality guard's hook, for unnamed nodes too.
  std::map<size_t, double> component_sparsity;
};

struct ChannelPruneLayer {
  std::string node, op_type, weight;  // the source node, its op, its weight's (original) name
  int64_t channels = 0;               // output channels before
  int64_t removed = 0;                // output channels removed
  double target = 0;                  // the fraction aimed at (layer scope: its component's target)
  std::string reason;                 // why fewer than the target were removed (empty when none)
  size_t component = 0;               // its component (sources sharing channels share one), 0-based
};

struct ChannelPruneResult {
  std::vector<ChannelPruneLayer> layers;  // every source, in graph order
  std::vector<std::string> notes;         // channels kept and why; components kept whole
  int64_t channels = 0, removed = 0;      // over every source
  bool changed = false;
};

// Prunes the main graph of `m` in place. Usage error for a sparsity outside
// [0, 1) or a layer_sparsity or component_sparsity outside [0, 1); nothing is
// changed then.
Expected<ChannelPruneResult> prune_channels(Model& m, const ChannelPruneOptions& o);

}  // namespace effopt::passes::prune
