// fix-shapes{shapes=NAME=DIMS;...}: binds graph inputs' symbolic or unknown dims to sizes.
#include <algorithm>

#include "analysis/shape_propagation.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

std::string input_names(const Graph& g) {
  std::string names;
  for (const Value* v : g.inputs())
    if (!v->initializer && !v->sparse_initializer) names += (names.empty() ? "" : ", ") + v->name();
  return names.empty() ? "none" : names;
}

// Checks one binding against the model; the error says what is wrong.
Status check_binding(const Model& model, const ShapeBinding& b, const std::string& text) {
  const Graph& g = *model.graph;
  for (const Value* v : g.inputs()) {
    if (v->name() != b.name || v->initializer || v->sparse_initializer) continue;
    if (v->type.kind != Type::Kind::Tensor && v->type.kind != Type::Kind::None)
      return usage_error("fix-shapes: '" + text + "': input '" + b.name + "' is not a tensor");
    if (!v->type.shape) return ok();
    const auto& shape = *v->type.shape;
    if (shape.size() != b.dims.size())
      return usage_error("fix-shapes: '" + text + "': input '" + b.name + "' has rank " + std::to_string(shape.size()) +
                         " (" + shape_to_string(shape) + "), the binding gives " + std::to_string(b.dims.size()) +
                         " dims");
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i].is_known() && *shape[i].value != b.dims[i])
        return usage_error("fix-shapes: '" + text + "': input '" + b.name + "' dim " + std::to_string(i) + " is " +
                           std::to_string(*shape[i].value) + ", not " + std::to_string(b.dims[i]) +
                           " (only symbolic or unknown dims can be fixed)");
    return ok();
  }
  for (const Value* v : g.inputs())
    if (v->name() == b.name)
      return usage_error("fix-shapes: '" + text + "': '" + b.name + "' is an initializer, not a runtime input");
  if (b.dims.size() == 1 && binding_matches(model, b)) return ok();
  return usage_error("fix-shapes: '" + text + "': no graph input" +
                     std::string(b.dims.size() == 1 ? " or symbolic dim" : "") + " is named '" + b.name +
                     "' (inputs: " + input_names(g) + ")");
}

Expected<pass::PassResult> run(Model& model, pass::PassContext& ctx) {
  pass::PassResult r;
  const std::string& spec = ctx.options.get_string("shapes");
  if (!model.graph) return invalid_model("the model has no graph");
  std::vector<ShapeBinding> bindings;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = std::min(spec.find(';', start), spec.size());
    std::string text = spec.substr(start, end - start);
    start = end + 1;
    if (text.empty()) continue;
    auto b = parse_shape_binding(text);
    if (!b) return usage_error("fix-shapes: '" + text + "': " + b.error().message);
    for (const ShapeBinding& seen : bindings)
      if (seen.name == b->name) return usage_error("fix-shapes: '" + b->name + "' is bound twice");
    EFFOPT_TRY(check_binding(model, *b, text));
    bindings.push_back(std::move(*b));
  }
  if (bindings.empty()) return r;
  std::vector<Type> before;
  for (const Value* v : model.graph->inputs()) before.push_back(v->type);
  EFFOPT_TRY(apply_shape_bindings(model, bindings));
  for (size_t i = 0; i < model.graph->inputs().size(); ++i)
    if (!(model.graph->inputs()[i]->type == before[i])) {
      r.count("inputs-fixed");
      r.changed = true;
    }
  return r;
}

}  // namespace

void register_fix_shapes(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "fix-shapes";
  p.summary = "Bind graph inputs' symbolic or unknown dims to fixed sizes (like onnx-simplifier's --overwrite-input-shape)";
  p.doc =
      "`shapes` is a `;`-separated list of bindings. `NAME=DIMS` with NAME a graph input gives its whole shape "
      "(`x=1,3,224,224`, also `x=1x3x224x224`); with NAME a symbolic dim it gives that dim one size everywhere it "
      "appears (`N=1`). Symbolic dims of a bound input are bound everywhere too, so outputs and value_info stay "
      "consistent. The output model carries the fixed input shapes. A NAME that is neither, a rank mismatch, or a "
      "size that contradicts a known dim is a usage error (exit 1). Empty `shapes` changes nothing. An input "
      "binding is idempotent; a symbolic-dim binding fails when run again (the dim is gone), so put fix-shapes "
      "first, outside `repeat` groups. `--check-outputs` sizes its random inputs from these bindings too.\n\n"
      "Before: `x: float32[N,3,224,224]`; `fix-shapes{shapes=x=1,3,224,224}`; after: `x: float32[1,3,224,224]`.";
  p.options = {{"shapes", pass::OptionType::String, "", "bindings NAME=DIMS;NAME2=DIMS (input shape or one symbolic dim)", {}}};
  p.run_on_model = run;
  r.add(std::move(p));
}

}  // namespace effopt::passes
