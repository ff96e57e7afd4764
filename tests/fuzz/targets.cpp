// The table of fuzz targets and the invariant check they share.
#include <cstdio>
#include <cstdlib>

#include "fuzz_targets.h"

namespace effopt::fuzz {

const std::vector<Target>& targets() {
  static const std::vector<Target> k = {
      {"model_roundtrip", model_roundtrip, "import -> verify -> export -> import -> export: byte-identical exports"},
      {"model_report", model_report, "import -> shape inference -> footprint -> report (effopt report, inspect)"},
      {"pipeline", pipeline, "--passes pipeline text: parse, print, parse again"},
      {"tensor_pb", tensor_pb, ".pb TensorProto reader: parse, serialize, parse again"},
      {"npy", npy, ".npy reader"},
      {"shape_binding", shape_binding, "--shape text: parse, bind on a model with symbolic dims, infer, count"},
  };
  return k;
}

const Target* find_target(std::string_view name) {
  for (const Target& t : targets())
    if (t.name == name) return &t;
  return nullptr;
}

namespace {
bool g_verbose = false;
}

void set_verbose(bool on) { g_verbose = on; }

int refused(std::string_view target, const std::string& message) {
  if (g_verbose)
    std::fprintf(stderr, "%.*s: refused: %s\n", static_cast<int>(target.size()), target.data(), message.c_str());
  return 0;
}

void invariant_broken(std::string_view target, const std::string& why) {
  std::fprintf(stderr, "effopt fuzz target %.*s: invariant broken: %s\n", static_cast<int>(target.size()),
               target.data(), why.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace effopt::fuzz
