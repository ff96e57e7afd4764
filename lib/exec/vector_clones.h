// EFFOPT_VECTOR_CLONES: compiles a hot loop in three versions, AVX-512 (x86-64-v4), AVX2 + FMA
// (x86-64-v3) and baseline x86-64, and picks one at load time for the CPU it runs on (GCC's
// target_clones). The library itself is built for baseline x86-64 so one binary runs everywhere. The
// v3/v4 versions may contract a multiply-add into FMA, so the bits of such loops depend on the machine's
// ISA (as oneDNN's do), never on the thread count.
#pragma once

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define EFFOPT_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EFFOPT_VECTOR_CLONES
#endif
