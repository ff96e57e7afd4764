#include "support/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace effopt {

namespace {
std::atomic<bool> g_enabled{false};
constexpr auto kDelay = std::chrono::milliseconds(500);     // short steps show nothing
constexpr auto kInterval = std::chrono::milliseconds(100);  // redraw rate
}  // namespace

void set_progress_enabled(bool enabled) { g_enabled = enabled; }
bool progress_enabled() { return g_enabled; }

Progress::Progress(std::string label, uint64_t total_bytes, bool enabled)
    : label_(std::move(label)),
      total_(total_bytes),
      active_(enabled && g_enabled && isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::update(uint64_t done) {
  if (!active_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - start_ < kDelay || (now - last_ < kInterval && done < total_)) return;
  last_ = now;
  shown_ = true;
  double pct = total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
  std::fprintf(stderr, "\r%s %5.1f%% (%llu / %llu MB)", label_.c_str(), pct,
               static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total_ >> 20));
  std::fflush(stderr);
}

Progress::~Progress() {
  if (shown_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace effopt
