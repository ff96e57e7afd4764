// The data options of a pipeline and the samples behind them (pass_data.h).
#include "pass_data.h"

#include <map>

#include "analysis/shape_propagation.h"
#include "exec/random_inputs.h"
#include "transform.h"

namespace effopt::cli {

void add_calibration_flags(CLI::App& sub, CalibrationFlags& f) {
  sub.add_option("--calibration", f.paths,
                 "calibration data: a test_data_set folder (input_K.pb), a folder of NAME.npy files, a folder of "
                 "test_data_set_* folders, or a .npy/.pb file; repeat for more; batches are split into rows")
      ->type_name("PATH");
  sub.add_option("--calibration-samples", f.samples, "rows of the calibration data to use (0 = all)")
      ->type_name("N")
      ->each([&f](const std::string&) { f.samples_given = true; });
}

namespace {

using pass::DataOption;

const char* flag_of(DataOption k) {
  switch (k) {
    case DataOption::Calibration: return "--calibration";
    case DataOption::CalibrationSamples: return "--calibration-samples";
    case DataOption::Evaluation: return "--data";
    case DataOption::Random: return "--random";
    case DataOption::Seed: return "--seed";
    case DataOption::Range: return "--range";
    case DataOption::None: break;
  }
  return "?";
}

// Every data option of the pipeline, by kind.
class DataSlots {
 public:
  explicit DataSlots(pass::Pipeline& p) { collect(p.items); }

  bool has(DataOption k) const { return slots_.count(k) > 0; }

  // The value every pass gives option kind `k` (its default when no pass has it): usage error when two differ.
  Expected<std::string> value(DataOption k, const std::string& fallback) const {
    auto it = slots_.find(k);
    if (it == slots_.end()) return fallback;
    const Slot* first = nullptr;
    for (const Slot& s : it->second) {
      if (!first) {
        first = &s;
        continue;
      }
      if (s.value() != first->value())
        return usage_error("passes '" + first->item->pass->name + "' and '" + s.item->pass->name + "' give option '" +
                           s.name() + "' different values (" + quoted(first->value()) + " and " + quoted(s.value()) +
                           "); one run has one " + flag_of(k) + ": give it once");
    }
    return first->value();
  }

  Status set(DataOption k, const std::string& v) {
    auto it = slots_.find(k);
    if (it == slots_.end()) return ok();
    for (Slot& s : it->second) EFFOPT_TRY(s.item->options.set(s.name(), v));
    return ok();
  }

  // "pass 'x' option 'y'" of the first slot, for messages.
  std::string where(DataOption k) const {
    const Slot& s = slots_.at(k).front();
    return "pass '" + s.item->pass->name + "' option '" + s.name() + "'";
  }

 private:
  struct Slot {
    pass::PipelineItem* item;
    size_t index;
    const std::string& name() const { return item->options.values()[index].first; }
    const std::string& value() const { return item->options.values()[index].second; }
  };
  static std::string quoted(const std::string& v) { return v.empty() ? "\"\"" : "'" + v + "'"; }
  void collect(std::vector<pass::PipelineItem>& items) {
    for (pass::PipelineItem& item : items) {
      if (item.kind == pass::PipelineItem::Kind::Repeat) {
        collect(item.body);
        continue;
      }
      for (size_t i = 0; i < item.pass->options.size(); ++i)
        if (item.pass->options[i].data != DataOption::None) slots_[item.pass->options[i].data].push_back({&item, i});
    }
  }
  std::map<DataOption, std::vector<Slot>> slots_;
};

// The files a recorded or plain list names, against the files read: the same count and SHA-256s, in order.
Status check_same_files(const std::string& recorded, const std::vector<std::string>& files, DataOption k,
                        const std::string& where) {
  std::vector<std::string> entries = pass::split_file_list(recorded);
  const std::string flag = flag_of(k);
  if (entries.size() != files.size())
    return usage_error(flag + " gives " + std::to_string(files.size()) + " data file" + (files.size() == 1 ? "" : "s") +
                       ", but " + where + " names " + std::to_string(entries.size()) + ": " + recorded);
  for (size_t i = 0; i < files.size(); ++i) {
    auto [path, hex] = pass::split_file_value(entries[i]);
    if (hex.empty()) {
      EFFOPT_TRY_ASSIGN(hex, file_sha256(path));
    }
    EFFOPT_TRY_ASSIGN(std::string actual, file_sha256(files[i]));
    if (actual != hex)
      return usage_error(flag + ": " + files[i] + " has SHA-256 " + actual + ", but " + where + " records " + entries[i] +
                         " in its place: not the data the pipeline was run with");
  }
  return ok();
}

// The files of option kind `k`: from the flag's paths when given (checked against the pipeline's value), else
// from the pipeline's own value. nullptr when neither gives any.
Expected<std::unique_ptr<SampleSource>> data_source(DataSlots& slots, DataOption k, const std::vector<std::string>& flag,
                                                    const Graph& graph) {
  EFFOPT_TRY_ASSIGN(std::string text, slots.value(k, ""));
  std::vector<std::string> paths = flag;
  if (paths.empty()) {
    if (text.empty()) return std::unique_ptr<SampleSource>();
    paths = pass::split_file_list(text);
    for (const std::string& p : paths)
      if (!pass::split_file_value(p).second.empty())
        return usage_error(slots.where(k) + " records the data it was run with (" + text + "): give those files with " +
                           flag_of(k));
  }
  auto source = data_samples(paths, graph, flag_of(k));
  if (!source) return std::move(source).error();
  if (!flag.empty() && !text.empty()) EFFOPT_TRY(check_same_files(text, (*source)->files(), k, slots.where(k)));
  EFFOPT_TRY(slots.set(k, pass::join_file_list((*source)->files())));
  return std::move(*source);
}

// An integer data option from its flag (when given) or the pipeline; a flag that contradicts a value the pipeline
// sets (not the default) is a usage error.
Expected<uint64_t> int_option(DataSlots& slots, DataOption k, bool given, uint64_t flag) {
  EFFOPT_TRY_ASSIGN(std::string text, slots.value(k, "0"));
  uint64_t v = given ? flag : std::stoull(text);
  if (given && text != "0" && std::stoull(text) != flag)
    return usage_error(std::string(flag_of(k)) + " " + std::to_string(flag) + " contradicts " + slots.where(k) + "=" + text);
  EFFOPT_TRY(slots.set(k, std::to_string(v)));
  return v;
}

}  // namespace

Expected<std::unique_ptr<PassData>> bind_pass_data(pass::Pipeline& pipeline, const CalibrationFlags& calibration,
                                                   const SampleFlags& evaluation, const Graph& graph) {
  DataSlots slots(pipeline);
  auto unused = [&](DataOption k, bool given) -> Status {
    if (given && !slots.has(k))
      return usage_error(std::string(flag_of(k)) + ": no pass in the pipeline reads " +
                         (k == DataOption::Calibration || k == DataOption::CalibrationSamples ? "calibration data"
                                                                                              : "quality-guard data") +
                         " (such a pass has an option '" +
                         (k == DataOption::Calibration          ? "calibration"
                          : k == DataOption::CalibrationSamples ? "calibration-samples"
                          : k == DataOption::Evaluation         ? "data"
                          : k == DataOption::Random             ? "random"
                          : k == DataOption::Seed               ? "seed"
                                                                : "range") +
                         "': effopt passes lists them)");
    return ok();
  };
  EFFOPT_TRY(unused(DataOption::Calibration, !calibration.paths.empty()));
  EFFOPT_TRY(unused(DataOption::CalibrationSamples, calibration.samples_given));
  EFFOPT_TRY(unused(DataOption::Evaluation, !evaluation.data.empty()));
  EFFOPT_TRY(unused(DataOption::Random, evaluation.random > 0));
  EFFOPT_TRY(unused(DataOption::Seed, evaluation.seed_given));
  EFFOPT_TRY(unused(DataOption::Range, !evaluation.ranges.empty()));

  auto data = std::make_unique<PassData>();

  // Calibration: rows of the files.
  EFFOPT_TRY_ASSIGN(auto cal_files, data_source(slots, DataOption::Calibration, calibration.paths, graph));
  EFFOPT_TRY_ASSIGN(uint64_t rows,
                    int_option(slots, DataOption::CalibrationSamples, calibration.samples_given, calibration.samples));
  if (cal_files) {
    auto split = split_rows(std::move(cal_files), graph, rows);
    if (!split) return std::move(split).error().context("--calibration");
    data->calibration = std::move(*split);
  }

  // The quality guard's data: files, or seeded random samples.
  EFFOPT_TRY_ASSIGN(auto eval_files, data_source(slots, DataOption::Evaluation, evaluation.data, graph));
  EFFOPT_TRY_ASSIGN(uint64_t random, int_option(slots, DataOption::Random, evaluation.random > 0, evaluation.random));
  EFFOPT_TRY_ASSIGN(uint64_t seed, int_option(slots, DataOption::Seed, evaluation.seed_given, evaluation.seed));
  std::string range_flag;
  for (const std::string& r : evaluation.ranges) range_flag += (range_flag.empty() ? "" : ";") + r;
  EFFOPT_TRY_ASSIGN(std::string range_text, slots.value(DataOption::Range, ""));
  if (!range_flag.empty() && !range_text.empty() && range_text != range_flag)
    return usage_error("--range " + range_flag + " contradicts " + slots.where(DataOption::Range) + "=" + range_text);
  const std::string ranges = range_flag.empty() ? range_text : range_flag;
  EFFOPT_TRY(slots.set(DataOption::Range, ranges));
  if (eval_files && random) return usage_error("--data and --random cannot be used together");
  if (eval_files && (evaluation.seed_given || seed || !ranges.empty()))
    return usage_error("--seed and --range shape --random inputs; --data files bring their own");

  exec::RandomInputOptions& ro = data->samples.random;
  ro.seed = seed;
  for (const std::string& s : evaluation.shapes) {
    EFFOPT_TRY_ASSIGN(ShapeBinding b, parse_shape_binding(s));
    ro.shapes.push_back({b.name, b.dims});
  }
  for (const std::string& s : pass::split_file_list(ranges)) {
    EFFOPT_TRY_ASSIGN(exec::RangeSpec r, exec::parse_range(s));
    ro.ranges.push_back(r);
  }
  if (eval_files) {
    data->evaluation = std::move(eval_files);
  } else if (random) {
    EFFOPT_TRY_ASSIGN(auto plan, exec::plan_random_inputs(graph, ro));
    data->evaluation = random_samples(std::move(plan), seed, random);
  }
  data->samples.calibration = data->calibration.get();
  data->samples.evaluation = data->evaluation.get();
  return data;
}

}  // namespace effopt::cli
