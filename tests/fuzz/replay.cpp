// effopt_fuzz_replay: the fuzz targets without libFuzzer (any compiler).
//
//   effopt_fuzz_replay TARGET [PATH...]        replay the generated seeds, then every file under each PATH
//   effopt_fuzz_replay --write-seeds TARGET DIR [DICT]
//                                              write the generated seeds into DIR (and the dictionary)
//   effopt_fuzz_replay --slim MODEL OUT        a structure-only seed of a large model (seeds.h)
//   effopt_fuzz_replay --list                  the target names
//
// A crash or a broken invariant aborts (ctest fails); "replayed N inputs" otherwise.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_targets.h"
#include "seeds.h"

namespace fs = std::filesystem;
using namespace effopt::fuzz;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: effopt_fuzz_replay TARGET [PATH...]\n"
               "       effopt_fuzz_replay --write-seeds TARGET DIR [DICT]\n"
               "       effopt_fuzz_replay --slim MODEL OUT\n"
               "       effopt_fuzz_replay --list\n");
  return 1;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void run(const Target& t, const std::string& bytes, const std::string& what) {
  std::fprintf(stderr, "%.*s: %s (%zu bytes)\n", static_cast<int>(t.name.size()), t.name.data(), what.c_str(),
               bytes.size());
  t.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  if (args[0] == "--list") {
    for (const Target& t : targets()) std::printf("%.*s\n", static_cast<int>(t.name.size()), t.name.data());
    return 0;
  }
  if (args[0] == "--slim") {
    if (args.size() != 3) return usage();
    auto s = slim_model(args[1]);
    if (!s) {
      std::fprintf(stderr, "effopt_fuzz_replay: %s\n", s.error().message.c_str());
      return 1;
    }
    std::ofstream(args[2], std::ios::binary) << *s;
    return 0;
  }
  if (args[0] == "--write-seeds") {
    if (args.size() < 3 || args.size() > 4 || !find_target(args[1])) return usage();
    fs::create_directories(args[2]);
    for (const Seed& s : generated_seeds(args[1])) std::ofstream(fs::path(args[2]) / s.name, std::ios::binary) << s.bytes;
    if (args.size() == 4) std::ofstream(args[3], std::ios::binary) << dictionary(args[1]);
    return 0;
  }
  const Target* t = find_target(args[0]);
  if (!t) {
    std::fprintf(stderr, "effopt_fuzz_replay: unknown target '%s'\n", args[0].c_str());
    return usage();
  }
  set_verbose(true);
  size_t n = 0;
  for (const Seed& s : generated_seeds(t->name)) run(*t, s.bytes, "seed " + s.name), ++n;
  for (size_t i = 1; i < args.size(); ++i) {
    std::vector<fs::path> files;
    if (fs::is_directory(args[i])) {
      for (const auto& e : fs::recursive_directory_iterator(args[i]))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(args[i])) {
      files.push_back(args[i]);
    } else {
      std::fprintf(stderr, "effopt_fuzz_replay: %s is neither a file nor a folder\n", args[i].c_str());
      return 1;
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) run(*t, read_all(f), f.string()), ++n;
  }
  if (n == 0) {
    std::fprintf(stderr, "effopt_fuzz_replay: no input for %s\n", args[0].c_str());
    return 1;
  }
  std::printf("%s: replayed %zu inputs\n", args[0].c_str(), n);
  return 0;
}
