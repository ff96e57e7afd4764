// convert-opset{to=N}: moves the default-domain opset to N (7..21) with effopt's adapters (lib/onnx/opset_convert.h).
#include "analysis/shape_inference.h"
#include "onnx/opset_convert.h"
#include "passes/passes.h"

namespace effopt::passes {

namespace {

Expected<pass::PassResult> run(Model& model, pass::PassContext& ctx) {
  pass::PassResult r;
  int64_t to = ctx.options.get_int("to");
  int64_t from = model.opset();
  if (to == 0 || to == from) return r;
  if (to < 7) return usage_error("convert-opset{to=" + std::to_string(to) + "}: effopt converts to opsets 7..21");
  // Known ranks let adapters pick the simplest rewrite (e.g. Softmax on its
  // last axis needs no Flatten/Reshape).
  ShapeInferenceStats ss;
  EFFOPT_TRY(infer_shapes(model, {}, &ss));
  OpsetConvertStats cs;
  EFFOPT_TRY(convert_opset(model, to, &cs));
  r.changed = true;
  r.count("from-opset", from);
  r.count("to-opset", to);
  r.count("nodes-rewritten", static_cast<int64_t>(cs.changes.size()));
  for (auto& c : cs.changes) r.note(std::move(c));
  return r;
}

}  // namespace

void register_convert_opset(pass::PassRegistry& r) {
  pass::PassInfo p;
  p.name = "convert-opset";
  p.summary = "Move the default-domain opset to N (7..21) with effopt's adapters (docs/opsets.md)";
  p.doc =
      "Upgrades rewrite every op whose meaning changed (Softmax axis semantics at 13, attributes that became inputs, "
      "...) in the main graph, subgraphs and local functions, and raise the IR version as the target needs. A "
      "downgrade over an op that changed, or an op with no equivalent at the target, is refused (exit 2) naming "
      "the op and node. `to=0` (the default) keeps the model's opset; so does `to` equal to it. "
      "`effopt convert --opset N` runs `convert-opset{to=N}`; `effopt fuse --opset N` puts it first. "
      "Each rewrite is a note in the report.";
  p.options = {{"to", pass::OptionType::Int, "0", "target opset of the default domain (7..21; 0 = keep)", {}, 0, 21}};
  p.run_on_model = run;
  r.add(std::move(p));
}

}  // namespace effopt::passes
