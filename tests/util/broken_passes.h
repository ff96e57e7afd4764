// Deliberately broken passes for the pass manager's guards: one breaks the
// graph (--verify-each must name it), one changes the outputs (--check-outputs
// must name it), and a lossy twin of the latter (must not be flagged).
// Registered in the unit tests and in the effopt_test_passes CLI binary.
#pragma once

#include "pass/pass.h"

namespace effopt::test {

// Adds test-break-graph, test-add-one, test-lossy-add-one, test-add-milli
// (adds 0.001 to the first output, float32 or float16) and
// test-read-file{file=...} (a File option; changes nothing), test-calibrate
// (notes the minmax ranges of the graph outputs on the calibration data) and
// test-guarded-offsets (a lossy pass under the quality guard), once.
void register_broken_passes(pass::PassRegistry& r);

}  // namespace effopt::test
