// Deliberately broken passes (broken_passes.h).
#include "util/broken_passes.h"

#include <cstring>

#include "analysis/calibration.h"
#include "analysis/quality_guard.h"
#include "exec/tensor_value.h"
#include "onnx/model_io.h"

namespace effopt::test {

namespace {

// Reverses the main graph's nodes: no longer topologically sorted.
Expected<pass::PassResult> break_graph(Graph& g, pass::PassContext&) {
  pass::PassResult r;
  if (g.parent() || g.nodes().size() < 2) return r;
  std::vector<Node*> order;
  for (auto it = g.nodes().rbegin(); it != g.nodes().rend(); ++it) order.push_back(it->get());
  g.reorder(order);
  r.changed = true;
  r.count("nodes-reversed", static_cast<int64_t>(order.size()));
  return r;
}

// Adds `amount` to the main graph's first output (float32 or float16).
Expected<pass::PassResult> add_constant(Graph& g, float amount) {
  pass::PassResult r;
  if (g.parent() || g.outputs().empty() || g.owner_node()) return r;
  Value* y = g.outputs()[0];
  DataType dt = y->type.elem_type == DataType::Float16 ? DataType::Float16 : DataType::Float;
  auto t = std::make_shared<Tensor>();
  t->name = g.unique_name("test_constant");
  t->data_type = dt;
  std::vector<std::byte> bytes(dt == DataType::Float16 ? 2 : 4);
  if (dt == DataType::Float16) {
    uint16_t h = exec::float_to_half(amount);
    std::memcpy(bytes.data(), &h, 2);
  } else {
    std::memcpy(bytes.data(), &amount, 4);
  }
  t->set_bytes(std::move(bytes));
  Value* c = g.add_initializer(t);
  c->type = Type::tensor(dt, std::vector<Dim>{});
  Node* add = g.create_node("Add", {y, c}, {g.unique_name(y->name() + "_plus_one")});
  add->output(0)->type = y->type;
  g.set_output(0, add->output(0));
  r.changed = true;
  r.count("ones-added");
  return r;
}

Expected<pass::PassResult> add_one(Graph& g, pass::PassContext&) { return add_constant(g, 1.0f); }
Expected<pass::PassResult> add_milli(Graph& g, pass::PassContext&) { return add_constant(g, 1e-3f); }

// Calibrates the graph outputs (minmax) on PassContext::samples->calibration and notes their ranges.
Expected<pass::PassResult> calibrate_outputs(Model& m, pass::PassContext& ctx) {
  pass::PassResult r;
  if (!ctx.samples || !ctx.samples->calibration) {
    r.note("no calibration data");
    return r;
  }
  std::vector<std::string> outputs;
  for (const Value* v : m.graph->outputs()) outputs.push_back(v->name());
  CalibrationOptions o;
  EFFOPT_TRY_ASSIGN(CalibrationResult c, calibrate(m, *ctx.samples->calibration, outputs, o));
  r.count("calibration-rows", static_cast<int64_t>(c.samples));
  for (const auto& [name, range] : c.ranges)
    r.note(name + " [" + std::to_string(range.lo) + ", " + std::to_string(range.hi) + "]");
  return r;
}

// Adds `delta` to every element of a float32 initializer of the main graph.
void offset_initializer(Value* v, float delta) {
  auto t = std::make_shared<Tensor>(*v->initializer);
  std::vector<std::byte> bytes(t->byte_size());
  std::memcpy(bytes.data(), v->initializer->bytes().data(), bytes.size());
  for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    float f;
    std::memcpy(&f, bytes.data() + i, 4);
    f += delta;
    std::memcpy(bytes.data() + i, &f, 4);
  }
  t->set_bytes(std::move(bytes));
  v->initializer = t;
}

// A guarded lossy pass: unit k (the k-th float32 initializer) "lowered" adds delta * 10^k to its weight; the
// quality guard (max-error, on PassContext::samples) steps units back.
Expected<pass::PassResult> guarded_offsets(Model& m, pass::PassContext& ctx) {
  pass::PassResult r;
  std::vector<GuardUnit> units;
  std::vector<std::string> names;
  for (const Value* v : m.graph->initializers())
    if (v->initializer && v->initializer->data_type == DataType::Float) {
      names.push_back(v->name());
      units.push_back({v->name(), {"offset", "exact"}, 1});
    }
  const double delta = ctx.options.get_float("delta");
  CandidateBuilder build = [&](const std::vector<size_t>& levels) -> Expected<std::unique_ptr<Model>> {
    EFFOPT_TRY_ASSIGN(std::unique_ptr<Model> c, clone_model(m));
    double d = delta;
    for (size_t u = 0; u < units.size(); ++u, d *= 10)
      if (levels[u] == 0) offset_initializer(c->graph->find(names[u]), static_cast<float>(d));
    return c;
  };
  GuardOptions o;
  o.limits.max_error = ctx.options.get_float("max-error");
  o.top_name = "exact";
  exec::RandomInputOptions random = ctx.samples ? ctx.samples->random : exec::RandomInputOptions{};
  EFFOPT_TRY_ASSIGN(GuardData data, guard_samples(ctx.samples ? ctx.samples->evaluation : nullptr,
                                                  ctx.samples ? ctx.samples->calibration : nullptr, random, *m.graph));
  EFFOPT_TRY_ASSIGN(GuardResult g, run_quality_guard(m, units, build, data, o));
  m = std::move(*g.model);
  g.model.reset();
  r.changed = true;
  r.quality_guard = std::make_shared<GuardResult>(std::move(g));
  return r;
}

}  // namespace

void register_broken_passes(pass::PassRegistry& r) {
  if (r.find("test-break-graph")) return;
  pass::PassInfo b;
  b.name = "test-break-graph";
  b.summary = "test only: reverses the node order";
  b.run_on_graph = break_graph;
  r.add(std::move(b));
  pass::PassInfo a;
  a.name = "test-add-one";
  a.summary = "test only: adds 1 to the first output";
  a.run_on_graph = add_one;
  r.add(std::move(a));
  pass::PassInfo l;
  l.name = "test-lossy-add-one";
  l.summary = "test only: adds 1 to the first output, declared lossy";
  l.lossy = true;
  l.run_on_graph = add_one;
  r.add(std::move(l));
  pass::PassInfo s;
  s.name = "test-add-milli";
  s.summary = "test only: adds 0.001 to the first output";
  s.run_on_graph = add_milli;
  r.add(std::move(s));
  pass::PassInfo f;
  f.name = "test-read-file";
  f.summary = "test only: takes a file option and changes nothing";
  f.options = {{"file", pass::OptionType::File, "", "any file", {}}};
  f.run_on_graph = [](Graph&, pass::PassContext&) -> Expected<pass::PassResult> { return pass::PassResult{}; };
  r.add(std::move(f));
  pass::PassInfo c;
  c.name = "test-calibrate";
  c.summary = "test only: calibrates the graph outputs (minmax) and notes their ranges; changes nothing";
  c.options = pass::calibration_data_options();
  c.run_on_model = calibrate_outputs;
  r.add(std::move(c));
  pass::PassInfo g;
  g.name = "test-guarded-offsets";
  g.summary = "test only: offsets float weights (delta, 10 delta, ...) under a quality guard";
  g.lossy = true;
  g.options = {{"delta", pass::OptionType::Float, "0.001", "offset of the first weight", {}},
               {"max-error", pass::OptionType::Float, "0.01", "the guard's rel-l2 limit", {}}};
  for (auto& o : pass::evaluation_data_options()) g.options.push_back(o);
  for (auto& o : pass::calibration_data_options()) g.options.push_back(o);
  g.run_on_model = guarded_offsets;
  r.add(std::move(g));
}

}  // namespace effopt::test
