// Seeds for the fuzz targets, made by effopt's own code (ONNX text models,
// tensors written by effopt's writer, pipeline texts from the pass registry,
// .npy files), including the bad inputs the tests check: generated, never
// copied from ../shared/corpus. tests/fuzz/run.sh adds corpus models at fuzz
// time; effopt_fuzz_replay replays these in the normal build.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/error.h"

namespace effopt::fuzz {

struct Seed {
  std::string name;   // file name
  std::string bytes;
};

// The seeds of one target (fuzz_targets.h); empty for an unknown name.
std::vector<Seed> generated_seeds(std::string_view target);

// A small seed made from a large model file: the main graph's initializers and
// Constant-node tensors over 1 KiB become typed graph inputs, so the graph's
// structure (ops, attributes, shapes) stays and the weights go. run.sh makes
// these from the corpus models too large to mutate quickly.
Expected<std::string> slim_model(const std::string& path);

// A libFuzzer dictionary for the target ("" when it has none): pass and
// option names for pipeline, op and attribute names for the model targets.
std::string dictionary(std::string_view target);

}  // namespace effopt::fuzz
