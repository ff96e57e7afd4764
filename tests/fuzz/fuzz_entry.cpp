// libFuzzer's entry point for one target, chosen at compile time
// (EFFOPT_FUZZ_TARGET_FN, set by tests/fuzz/CMakeLists.txt).
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return EFFOPT_FUZZ_TARGET_FN(data, size); }
