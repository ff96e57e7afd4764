// Writes the bench families (bench/families/families.h) as ONNX test cases:
// OUT_DIR/NAME_opsetK/model.onnx + test_data_set_0/input_*.pb, the layout
// exec_bench and the corpus use, and prints a table of node and parameter counts.
//
//   gen_families OUT_DIR [--opset 13|17]... [--tiny] [--seed S] [NAME...]
//   gen_families --list [--tiny]       (the instance names, one a line)
//
// Default: both opsets, the twelve bench sizes (--tiny: the six tiny instances).
// Exit codes: 1 usage, 4 I/O, 5 internal.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "families/families.h"

using namespace effopt;

int main(int argc, char** argv) {
  std::string out;
  std::vector<int64_t> opsets;
  std::vector<std::string> names;
  bool tiny = false, bad = false, list = false;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--opset" && i + 1 < argc) opsets.push_back(std::atoll(argv[++i]));
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--tiny") tiny = true;
    else if (a == "--list") list = true;
    else if (a.rfind("--", 0) == 0) bad = true;
    else if (out.empty()) out = a;
    else names.push_back(a);
  }
  if (list && !bad) {
    for (const std::string& name : bench::family_names(tiny)) std::printf("%s\n", name.c_str());
    return 0;
  }
  if (out.empty() || bad) {
    std::fprintf(stderr, "usage: gen_families OUT_DIR [--opset 13|17]... [--tiny] [--seed S] [NAME...]\n"
                 "       gen_families --list [--tiny]\n");
    return 1;
  }
  if (opsets.empty()) opsets = {13, 17};
  if (names.empty()) names = bench::family_names(tiny);
  std::printf("| case | nodes | parameters | summary |\n|---|---|---|---|\n");
  for (const std::string& name : names) {
    std::string summary;
    for (auto& i : bench::family_instances())
      if (i.name == name) summary = i.summary;
    for (int64_t opset : opsets) {
      auto c = bench::build_family(name, {opset, seed});
      if (!c) {
        std::fprintf(stderr, "gen_families: %s\n", c.error().message.c_str());
        return static_cast<int>(c.error().kind);
      }
      const std::string case_name = name + "_opset" + std::to_string(opset);
      if (auto st = bench::write_family_case(*c, (std::filesystem::path(out) / case_name).string()); !st) {
        std::fprintf(stderr, "gen_families: %s: %s\n", case_name.c_str(), st.error().message.c_str());
        return static_cast<int>(st.error().kind);
      }
      std::printf("| %s | %zu | %.2fM | %s |\n", case_name.c_str(), c->model->graph->nodes().size(),
                  static_cast<double>(c->parameters) / 1e6, summary.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
