// A one-line progress display on stderr for long steps (writing a multi-GB
// model, later calibration). Shown only when stderr is a terminal and the
// step is long enough to be worth it; silent otherwise, so logs and pipes
// stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace effopt {

class Progress {
 public:
  // `enabled` lets callers honour --quiet.
  Progress(std::string label, uint64_t total_bytes, bool enabled = true);
  ~Progress();
  void update(uint64_t done_bytes);

 private:
  std::string label_;
  uint64_t total_;
  bool active_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// Whether callers should create progress displays at all (set by tools/).
void set_progress_enabled(bool enabled);
bool progress_enabled();

}  // namespace effopt
