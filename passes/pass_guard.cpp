// The quality guard of lossy passes (pass_guard.h).
#include "passes/pass_guard.h"

#include <cmath>
#include <cstdlib>

#include "analysis/footprint.h"
#include "analysis/shape_propagation.h"
#include "onnx/model_io.h"

namespace effopt::passes::guard {

namespace {

Expected<std::optional<double>> number_option(const pass::PassOptions& po, std::string_view pass_name,
                                              const char* name) {
  const std::string& text = po.get_string(name);
  if (text.empty()) return std::optional<double>();
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (*end || !std::isfinite(v))
    return usage_error(std::string(pass_name) + ": option '" + name + "': '" + text + "' is not a number");
  return std::optional<double>(v);
}

}  // namespace

Expected<std::optional<FidelityLimits>> parse_limits(const pass::PassOptions& po, std::string_view pass_name) {
  const std::string pass(pass_name);
  FidelityLimits l;
  EFFOPT_TRY_ASSIGN(l.max_error, number_option(po, pass_name, "max-error"));
  if (l.max_error && *l.max_error < 0)
    return usage_error(pass + ": option 'max-error': " + po.get_string("max-error") +
                       ": an error limit cannot be negative");
  auto metric = parse_metric(po.get_string("metric"));
  if (!metric) return usage_error(pass + ": option 'metric': " + metric.error().message);
  l.metric = *metric;
  EFFOPT_TRY_ASSIGN(l.min_sqnr_db, number_option(po, pass_name, "min-sqnr"));
  EFFOPT_TRY_ASSIGN(l.min_accuracy, number_option(po, pass_name, "min-accuracy"));
  if (l.min_accuracy && (*l.min_accuracy < 0 || *l.min_accuracy > 1))
    return usage_error(pass + ": option 'min-accuracy': " + po.get_string("min-accuracy") +
                       ": a fraction from 0 to 1 (0.99 = 99%)");
  if (!l.any()) {
    if (po.get_string("metric") != "rel-l2")
      return usage_error(pass + ": option 'metric' is the metric of max-error: give max-error too");
    if (!po.get_string("data").empty() || po.get_int("random") > 0)
      return usage_error(pass + ": guard data (--data, --random) is given but no quality limit (max-error, "
                         "min-sqnr, min-accuracy): the guard would not read it");
    return std::optional<FidelityLimits>();
  }
  return std::optional<FidelityLimits>(l);
}

Expected<GuardData> data(const pass::PassContext& ctx, const Graph& g) {
  const pass::PassSamples* s = ctx.samples;
  return guard_samples(s ? s->evaluation : nullptr, s ? s->calibration : nullptr,
                       s ? s->random : exec::RandomInputOptions{}, g);
}

Expected<MacCount> count_macs(const Model& m, const SampleSource& samples) {
  MacCount out;
  out.node_macs.assign(m.graph->nodes().size(), 0);
  EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> copy, clone_model(m));
  std::vector<ShapeBinding> bindings;
  if (samples.size() > 0) {
    EFFOPT_TRY_ASSIGN(Sample first, samples.load(0));
    for (const auto& [name, value] : first.inputs) bindings.push_back({name, value.dims()});
  }
  // Counting is best effort: a model whose shapes cannot be inferred still gets its guard, with no MACs.
  if (Status st = infer_shapes_with_bindings(*copy, bindings); !st) {
    out.unknown.push_back("every node (shape inference: " + st.error().message + ")");
    return out;
  }
  FootprintOptions fo;
  fo.read_tensor_bytes = false;
  Footprint f = compute_footprint(*copy, fo);
  for (size_t i = 0; i < f.nodes.size() && i < out.node_macs.size(); ++i) {
    const NodeFootprint& n = f.nodes[i];
    if (n.op_type != "Conv" && n.op_type != "ConvTranspose" && n.op_type != "Gemm" && n.op_type != "MatMul") continue;
    if (!n.macs) {
      out.unknown.push_back(n.name + " (" + n.op_type + ")");
      continue;
    }
    out.node_macs[i] = *n.macs;
    out.total += *n.macs;
  }
  return out;
}

void note_unknown_macs(const MacCount& macs, pass::PassResult& r) {
  if (!macs.unknown.empty())
    r.note("quality guard: the MACs of " + std::to_string(macs.unknown.size()) +
           " Conv/Gemm/MatMul nodes are unknown (first: " + macs.unknown.front() +
           "); they count for neither the units nor the share left at the top level");
}

void record(pass::PassResult& r, GuardResult g) {
  g.model.reset();
  size_t stepped = 0;
  for (const GuardUnitResult& u : g.units) stepped += u.level > 0;
  r.note("quality guard " + std::string(g.passed ? "passed" : "failed") + " on " + g.samples + " (" + g.origin +
         "): " + std::to_string(stepped) + " of " + std::to_string(g.units.size()) + " stepped back, " +
         std::to_string(g.evaluations) + " candidates measured" + (g.passed ? "" : ": " + g.failure));
  r.count("guard-evaluations", static_cast<int64_t>(g.evaluations));
  r.count("guard-units-stepped-back", static_cast<int64_t>(stepped));
  r.quality_guard = std::make_shared<GuardResult>(std::move(g));
}

}  // namespace effopt::passes::guard
