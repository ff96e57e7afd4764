// effopt's fuzz targets: each runs one input's bytes through a piece of
// effopt that reads untrusted data, and returns 0. Bad input must end as an
// error value; a crash, a sanitizer report, a hang or a broken invariant (the
// target aborts with a message naming it) is a bug.
//
// The same functions are linked twice: into one libFuzzer binary per target
// (fuzz_entry.cpp; clang build with EFFOPT_FUZZ, tests/fuzz/run.sh), and
// into effopt_fuzz_replay, which replays the inputs in regressions/<target>/
// and seeds/<target>/ as ctest tests in the normal build (docs/reliability.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace effopt::fuzz {

using TargetFn = int (*)(const uint8_t* data, size_t size);

struct Target {
  std::string_view name;  // the folder names under regressions/ and seeds/, and the binary's: fuzz_<name>
  TargetFn fn;
  std::string_view what;
};

// Every target, in a fixed order.
const std::vector<Target>& targets();
const Target* find_target(std::string_view name);

// model bytes -> import (from memory, no base folder: external data refused) -> verify -> export ->
// import -> export again; the two exports must be byte-identical, and what effopt exported must import.
int model_roundtrip(const uint8_t* data, size_t size);
// model bytes -> import -> shape inference -> footprint -> the report (text, JSON, runtime prediction):
// what `effopt report` does to any file.
int model_report(const uint8_t* data, size_t size);
// pipeline text (--passes) -> parse; a parsed pipeline prints to text that parses to the same print.
int pipeline(const uint8_t* data, size_t size);
// a serialized TensorProto (.pb) -> parse; a parsed tensor serializes and parses back to the same bytes.
int tensor_pb(const uint8_t* data, size_t size);
// a .npy file -> parse.
int npy(const uint8_t* data, size_t size);
// --shape text -> parse -> bind on a small model with symbolic dims -> shape inference.
int shape_binding(const uint8_t* data, size_t size);

// effopt_fuzz_replay sets this: the targets then print why an input ended early (the error it met).
void set_verbose(bool on);
// Returns 0, printing "TARGET: refused: MESSAGE" when verbose.
int refused(std::string_view target, const std::string& message);

// Prints "effopt fuzz target TARGET: invariant broken: WHY" to stderr and aborts.
[[noreturn]] void invariant_broken(std::string_view target, const std::string& why);

}  // namespace effopt::fuzz
