// `effopt sweep` (docs/sweep.md): the points of a quality-versus-footprint
// sweep, their Pareto frontiers, the built-in configs grid, the pick under an
// error budget, and the sweep's files (sweep.json, sweep.csv, the terminal
// table). tools/cmd_sweep.cpp runs the points; everything here is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/error.h"

namespace effopt {

// One config of the grid: a name (a folder name under DIR/points/) and a
// pipeline text (`effopt run --passes`).
struct SweepConfig {
  std::string name;
  std::string pipeline;
};

// The built-in grid (`effopt sweep --print-configs`). Static quantization
// configs need calibration data: they are included only `with_calibration`.
std::vector<SweepConfig> builtin_sweep_configs(bool with_calibration);
// `[{"name": ..., "pipeline": ...}]`.
nlohmann::json sweep_configs_json(const std::vector<SweepConfig>& configs);
// The same format back; a usage error naming `source` and the entry when an
// entry is malformed, a name is not a plain folder name ([A-Za-z0-9._-],
// not "reference") or is used twice.
Expected<std::vector<SweepConfig>> parse_sweep_configs(const std::string& text, const std::string& source);

struct SweepPoint {
  std::string name, pipeline;
  std::string command;  // the point's command line, paths relative to the sweep's folder ("" for the reference)
  // "ok"; "failed" (the run exited 1..4: a mode the model cannot take);
  // "crashed" (exit 5, a signal, or no report): the sweep then exits 5.
  std::string status = "ok";
  std::string reason;  // why it failed (the run's last error line)
  std::optional<uint64_t> file_bytes, gzip_bytes, params, params_nonzero, macs, peak_activation_bytes,
      inference_ram_bytes;
  std::optional<double> latency_ms, error, accuracy;
  bool pareto = false, pareto_latency = false;
  bool ok() const { return status == "ok"; }
};

// The Pareto frontier of points (x, y), both lower-is-better: flags[i] is true
// when no other point is at most as large in both and smaller in one. Equal
// points (duplicates) are all on it. Points with !valid[i] are neither on it
// nor dominate anything.
std::vector<bool> pareto_frontier(const std::vector<double>& x, const std::vector<double>& y,
                                  const std::vector<bool>& valid);

// Sets `pareto` (error against file bytes) and `pareto_latency` (error
// against latency, or against MACs when no point has a latency) of every
// point; points that failed or lack either number are off both.
void mark_frontiers(std::vector<SweepPoint>& points);

// What --pick minimizes.
enum class PickKey { FileBytes, GzipBytes, Macs, Latency };
Expected<PickKey> parse_pick_key(const std::string& text);
// The point with error <= max_error and the smallest key (ties: lower error,
// then the earlier point), never the unmodified model ("reference"); nullopt
// when no other point meets max_error.
std::optional<size_t> pick_point(const std::vector<SweepPoint>& points, double max_error, PickKey key);

struct SweepInfo {
  std::string model, metric, data;  // data: the --data paths, as given
  bool latency = false;             // latency_ms measured (effopt's executor on this machine)
};
inline constexpr int kSweepSchemaVersion = 1;
// sweep.json (docs/sweep.md, docs/sweep.schema.json).
nlohmann::json sweep_json(const SweepInfo& info, const std::vector<SweepPoint>& points);
// A point back from its sweep.json form (for tests and --collect of an older sweep.json).
SweepPoint sweep_point_from_json(const nlohmann::json& j);
// sweep.csv: a header line of the point columns, then one line per point
// (RFC 4180 quoting; empty cells for unknown numbers).
std::string sweep_csv(const std::vector<SweepPoint>& points);
// The terminal table: one line per point, frontier points marked with `*`
// (file bytes) and `+` (latency or MACs).
std::string sweep_table(const std::vector<SweepPoint>& points, const SweepInfo& info);

}  // namespace effopt

namespace effopt {

// The two plots (error against file bytes; against latency, or MACs without one) as standalone SVG
// documents: every plotted point (an "ok" point with both numbers) is a <circle class="point"> (with
// "frontier" too when on that plot's frontier) carrying data-name, labeled with its name; frontier points are
// joined by a line.
enum class SweepPlot { FileBytes, Speed };
std::string sweep_svg(const std::vector<SweepPoint>& points, const SweepInfo& info, SweepPlot plot);
// sweep.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) with both plots and
// the table of every point.
std::string sweep_html(const std::vector<SweepPoint>& points, const SweepInfo& info);

}  // namespace effopt
