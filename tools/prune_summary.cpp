#include "prune_summary.h"

#include <fmt/format.h>

namespace effopt::cli {

namespace {

const pass::PassRun* last_run(const std::vector<pass::PassRun>& runs, const char* name) {
  const pass::PassRun* run = nullptr;
  for (const pass::PassRun& p : runs)
    if (p.name == name) run = &p;
  return run;
}

std::string option_value(const std::string& options, const std::string& key) {
  size_t p = (" " + options).find(" " + key + "=");
  if (p == std::string::npos) return "";
  size_t start = p + key.size() + 1;
  size_t end = options.find(' ', start);
  std::string v = options.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

// "layer 'NAME' (READERS, E elements, PATTERN): target T, reached R[ (...)]" (prune.cpp's note).
std::optional<nlohmann::json> layer_of(const std::string& note) {
  if (note.rfind("layer '", 0) != 0) return std::nullopt;
  size_t t = note.rfind("): target ");
  size_t rch = note.rfind(", reached ");
  size_t open = note.rfind("' (", t);
  if (t == std::string::npos || rch == std::string::npos || open == std::string::npos || rch < t) return std::nullopt;
  std::string inside = note.substr(open + 3, t - open - 3);  // READERS, E elements, PATTERN
  size_t pat = inside.rfind(", ");
  size_t el = pat == std::string::npos ? std::string::npos : inside.rfind(", ", pat - 1);
  if (el == std::string::npos) return std::nullopt;
  nlohmann::json l;
  l["tensor"] = note.substr(7, open - 7);
  l["readers"] = inside.substr(0, el);
  std::string count = inside.substr(el + 2, pat - el - 2);  // "E elements" or "C channels"
  l[count.find(" channels") != std::string::npos ? "channels" : "elements"] = std::stoull(count);
  l["pattern"] = inside.substr(pat + 2);
  l["target"] = std::stod(note.substr(t + 10, rch - t - 10));
  l["reached"] = std::stod(note.substr(rch + 10));
  // A quality guard's step back: "... reached R (quality guard: planned P)" (prune.cpp).
  static const std::string kPlanned = "quality guard: planned ";
  if (size_t at = note.find(kPlanned, rch); at != std::string::npos)
    l["planned"] = std::stod(note.substr(at + kPlanned.size()));
  return l;
}

}  // namespace

std::optional<nlohmann::json> pruning_summary(const std::vector<pass::PassRun>& runs) {
  const pass::PassRun* prune = last_run(runs, "prune");
  const pass::PassRun* storage = last_run(runs, "sparse-storage");
  if (!prune && !storage) return std::nullopt;
  nlohmann::json p;
  std::string granularity;
  if (prune) {
    const pass::PassResult& r = prune->result;
    granularity = option_value(prune->options, "granularity");
    p["granularity"] = granularity;
    if (granularity == "n:m") p["n_m"] = option_value(prune->options, "n-m");
    p["options"] = prune->options;
    if (granularity == "channel") {
      // Structured: the fraction of the prunable channels removed (their weights are gone, not zero).
      int64_t channels = r.counter("prunable-channels");
      p["prunable_channels"] = channels;
      p["channels_removed"] = r.counter("channels-removed");
      p["pruned_sparsity"] =
          channels ? static_cast<double>(r.counter("channels-removed")) / static_cast<double>(channels) : 0.0;
    } else {
      int64_t elements = r.counter("prunable-elements");
      p["prunable_elements"] = elements;
      p["pruned_sparsity"] =
          elements ? static_cast<double>(r.counter("prunable-zeros-after")) / static_cast<double>(elements) : 0.0;
      p["pruned_sparsity_before"] =
          elements ? static_cast<double>(r.counter("prunable-zeros-before")) / static_cast<double>(elements) : 0.0;
    }
    p["layers_total"] = r.counter("layers");
    p["layers_pruned"] = r.counter("layers-pruned");
    nlohmann::json layers = nlohmann::json::array(), why = nlohmann::json::array();
    for (const std::string& n : r.notes) {
      if (auto l = layer_of(n)) layers.push_back(*l);
      else why.push_back(n);
    }
    p["layers"] = layers;
    p["why"] = why;
  }
  nlohmann::json st = nullptr;
  if (storage) {
    const pass::PassResult& r = storage->result;
    st = {{"mode", option_value(storage->options, "mode")},
          {"tensors", r.counter("tensors-stored-sparse")},
          {"dense_bytes", r.counter("dense-bytes")},
          {"sparse_bytes", r.counter("sparse-bytes")}};
  }
  p["sparse_storage"] = st;
  // Where the gain is: disk / download from sparse storage and compression; MACs only with structured pruning;
  // N:M only on runtimes with N:M sparse kernels.
  nlohmann::json where = nlohmann::json::array();
  std::string text;
  if (granularity == "channel") {
    where = {"disk", "download", "memory", "macs"};
    text = "channels are removed physically: the file, the weights in memory, the activations and the MACs shrink "
           "in every runtime";
  } else if (granularity == "n:m") {
    where.push_back("sparse-kernel runtimes");
    where.push_back("download");
    text = "N:M sparsity pays on runtimes with N:M sparse kernels (e.g. 2:4 on sparse tensor cores); ONNX Runtime's "
           "CPU provider computes it dense: there the gain is only in the compressed (download) size";
  } else {
    bool stored = storage && storage->result.counter("tensors-stored-sparse") > 0;
    if (stored) where.push_back("disk");
    where.push_back("download");
    text = std::string(stored ? "sparse initializers make the file smaller (disk) and " : "") +
           "zeros compress well (download: gzip/zstd); ONNX Runtime densifies sparse initializers at load, so memory "
           "and MACs do not change";
  }
  p["gain"] = {{"where", where}, {"note", text}};
  return p;
}

std::string pruning_line(const nlohmann::json& p) {
  std::string line;
  if (p.contains("pruned_sparsity"))
    line = fmt::format("prune ({}): {} of {} layers pruned, sparsity {:.1f}% over the prunable weights",
                       p["granularity"].get<std::string>(), p["layers_pruned"].get<int64_t>(),
                       p["layers_total"].get<int64_t>(), 100.0 * p["pruned_sparsity"].get<double>());
  if (!p["sparse_storage"].is_null()) {
    const auto& s = p["sparse_storage"];
    line += fmt::format("{}sparse storage: {} tensors ({} -> {} bytes)", line.empty() ? "" : "; ",
                        s["tensors"].get<int64_t>(), s["dense_bytes"].get<int64_t>(), s["sparse_bytes"].get<int64_t>());
  }
  return line;
}

}  // namespace effopt::cli
