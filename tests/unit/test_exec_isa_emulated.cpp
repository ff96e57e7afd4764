// The vectorized kernels on the instruction sets this host does not pick by itself. The library compiles its
// hot loops three times (vector_clones.h: AVX-512, AVX2 + FMA, baseline x86-64) and oneDNN picks its JIT
// kernels from CPUID, so on an AVX-512 host the AVX2 and baseline versions never run. This test runs this
// test binary's vector-kernel tests under QEMU's user-mode emulator with an AVX2 + FMA CPU (Haswell) and a
// baseline one (qemu64): the CPUID they see selects those versions, in both the clones and oneDNN.
// Needs qemu-x86_64 (Debian's qemu-user, tools/install-deps.sh); without it the check is skipped as a host
// feature (the same tests run natively on every host). Not built with AddressSanitizer (CI's clang stage): its
// shadow memory cannot be mapped under qemu-user (the emulated run is killed), and clang builds have no vector
// clones to select (vector_clones.h); CI's GCC Release stage runs it.
#include <catch2/catch.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define EFFOPT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EFFOPT_TEST_ASAN 1
#endif
#endif

#include <cstdlib>
#include <filesystem>

#include "util/skip.h"
#include "util/test_util.h"

using namespace effopt;

#ifndef EFFOPT_TEST_ASAN
TEST_CASE("exec vector kernels pass their tests on emulated AVX2 + FMA and baseline x86-64 CPUs", "[exec][isa-emulated]") {
  std::string qemu;
  for (const char* dir : {"/usr/bin", "/usr/local/bin"})
    if (std::filesystem::exists(std::string(dir) + "/qemu-x86_64")) qemu = std::string(dir) + "/qemu-x86_64";
  if (qemu.empty()) {
    test::skip(test::Needs::HostFeature, "qemu-x86_64 (qemu-user) is not installed: the AVX2 and baseline kernels are not run on this host");
    return;
  }
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  // The vectorized kernels' own tests; not this one (no recursion).
  const std::string tags = "[activation],[gemv],[global-pool],[max-pool],[layer-norm],[conv-depthwise],[conv-dnnl]";
  for (const char* cpu : {"Haswell", "qemu64"}) {
    INFO("qemu-x86_64 -cpu " << cpu << " " << self << " " << tags);
    test::RunResult r = test::run_program(qemu, {"-cpu", cpu, self, tags});
    INFO(r.out.substr(r.out.size() > 4000 ? r.out.size() - 4000 : 0));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("All tests passed") != std::string::npos);
  }
}
#endif  // EFFOPT_TEST_ASAN
