// How far a candidate tensor is from a reference: the one definition of each
// error metric, used by `effopt compare` and the quality guards
// (analysis/fidelity.h) and by the pass manager's --check-outputs
// (pass/manager.h). docs/report.md, "The fidelity block", states the same
// definitions for users.
//
// With a = reference values and b = candidate values, pooled over every
// element added (compare pools all samples and batch rows; --check-outputs
// takes one output at a time):
//   max / mean absolute error   max |b - a|, mean |b - a|  (0 for no elements)
//   relative L2 error           ||b - a|| / ||a||
//                               0 when b == a (also when both are all zeros);
//                               inf when a is all zeros and b is not: an
//                               error relative to nothing is unbounded, so
//                               every rel-l2 limit fails (the absolute size
//                               is in max_abs_error)
//   cosine similarity           <a, b> / (||a|| ||b||)   (1 when both are all zeros; 0 when one is)
//   SQNR                        10 log10(||a||^2 / ||b - a||^2) dB
//                               (inf when b == a; -inf when a is all zeros and b is not)
// Non-finite values: positions where both are NaN, or both the same infinity,
// count as equal and add no error and no energy. Where only one side is NaN
// or infinite, or the infinities differ in sign (a "non-finite mismatch"),
// the errors are inf, SQNR -inf and cosine NaN, so every limit fails.
// Values are compared as doubles: any element types with a numeric reading
// (exec::to_doubles), so int outputs are compared by value.
//
// Top-1: a classifier-shaped output is a floating-point tensor of shape [C]
// or [N, C, 1, ..., 1] with C >= 2: one row per N (one row for [C]); its
// top-1 is the first index of the row's maximum, a NaN counting as the
// maximum (numpy's argmax).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "exec/tensor_value.h"

namespace effopt::exec {

struct ErrorMetrics {
  uint64_t elements = 0;
  double max_abs_error = 0;
  double mean_abs_error = 0;
  double rel_l2_error = 0;
  double cosine_similarity = 1;
  double sqnr_db = 0;  // set by ErrorAccumulator::metrics (inf when exact)
  uint64_t nonfinite_mismatches = 0;
  // Index (in the order elements were added) of the first non-finite mismatch.
  std::optional<uint64_t> first_nonfinite_mismatch;
  double cosine_distance() const { return 1 - cosine_similarity; }
  // The reference was all zeros (or empty, or only matching non-finite values).
  bool zero_reference = true;
};

// Accumulates the pooled sums behind ErrorMetrics, one tensor pair at a time.
class ErrorAccumulator {
 public:
  // Same element count required (the caller checks the shapes).
  void add(const TensorValue& reference, const TensorValue& candidate);
  void add(std::span<const double> reference, std::span<const double> candidate);
  ErrorMetrics metrics() const;

 private:
  uint64_t count_ = 0, nonfinite_ = 0;
  std::optional<uint64_t> first_nonfinite_;
  double max_abs_ = 0, sum_abs_ = 0, sum_sq_diff_ = 0, sum_sq_ref_ = 0, sum_sq_cand_ = 0, dot_ = 0;
};

// The metrics of one pair of equally sized tensors.
ErrorMetrics error_metrics(const TensorValue& reference, const TensorValue& candidate);

struct ClassifierShape {
  uint64_t rows = 0, classes = 0;
};
// nullopt unless the type and dims are classifier-shaped (see above).
std::optional<ClassifierShape> classifier_shape(DataType dtype, const std::vector<int64_t>& dims);
// Top-1 class of each row of a classifier-shaped tensor.
std::vector<int64_t> top1(const TensorValue& t, const ClassifierShape& shape);

}  // namespace effopt::exec
