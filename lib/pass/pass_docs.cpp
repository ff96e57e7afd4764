// Pass listings and docs/passes.md from the registry (pass_docs.h).
#include "pass/pass_docs.h"

#include <cmath>

#include "pass/named_pipelines.h"
#include "pass/pipeline.h"

namespace effopt::pass {

namespace {

std::string bound(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

std::string range(const OptionSpec& s) {
  bool has_min = s.min > -1e299, has_max = s.max < 1e299;
  if (!has_min && !has_max) return "";
  return " (" + (has_min ? bound(s.min) : std::string("")) + ".." + (has_max ? bound(s.max) : std::string("")) + ")";
}

std::string md_escape(std::string s) {
  for (size_t p = s.find('|'); p != std::string::npos; p = s.find('|', p + 2)) s.replace(p, 1, "\\|");
  return s;
}

std::string shown_default(const OptionSpec& s) { return s.default_value.empty() ? "\"\"" : s.default_value; }

}  // namespace

std::string option_type_text(const OptionSpec& spec) {
  switch (spec.type) {
    case OptionType::Bool: return "bool";
    case OptionType::Int: return "int" + range(spec);
    case OptionType::Float: return "float" + range(spec);
    case OptionType::String: return "string";
    case OptionType::File: return "file";
    case OptionType::Enum: {
      std::string c;
      for (const auto& x : spec.choices) c += (c.empty() ? "" : "|") + x;
      return "enum: " + c;
    }
  }
  return "?";
}

std::string pass_text(const PassInfo& info, bool with_doc) {
  std::string out = info.name + (info.lossy ? " (lossy)" : "") + (info.run_on_model ? " [model]" : "") + "\n  " +
                    info.summary + "\n";
  if (info.options.empty()) {
    out += "  options: none\n";
  } else {
    out += "  options:\n";
    for (const OptionSpec& s : info.options)
      out += "    " + s.name + "=" + shown_default(s) + "  " + option_type_text(s) + ": " + s.help + "\n";
  }
  if (with_doc && !info.doc.empty()) out += "\n" + info.doc + "\n";
  return out;
}

std::string passes_markdown(const PassRegistry& registry) {
  std::string o =
      "# Passes\n\n"
      "Generated from the pass registry by `effopt passes --markdown` (`tests/unit/test_pass_docs.cpp` checks this "
      "file;\n`EFFOPT_REGEN_DOCS=1 build/tests/effopt_unit_tests \"[docs]\"` rewrites it). `effopt passes NAME` shows "
      "one pass.\n\n"
      "## Pipelines\n\n"
      "`effopt run MODEL --passes PIPELINE` runs a pipeline; `--print-pipeline` prints it expanded (every option "
      "with\nits value) and parsing that text again gives the same pipeline. The grammar (whitespace is allowed "
      "between tokens):\n\n"
      "```\n"
      "pipeline := item (',' item)*\n"
      "item     := NAME [options]                       a pass\n"
      "          | repeat [options] '(' pipeline ')'    a group, run to a fixed point; groups nest\n"
      "options  := '{' [KEY=VALUE (' ' KEY=VALUE)*] '}'\n"
      "VALUE    := characters up to a space or '}' (',' '=' ';' are fine), or \"a quoted string\" with \\\" and \\\\\n"
      "```\n\n"
      "Example: `repeat{max-iterations=8}(eliminate-identity,fold-constants),prune{sparsity=0.5 "
      "granularity=channel}`.\n\n"
      "A `repeat` group runs its body again while any pass in it reports a change, at most `max-iterations` "
      "times\n(1..1000, default 8); when the limit is reached with the body still changing the model, the log warns "
      "and the\nreport's `groups` entry has `limit_reached: true`. Errors point at the text with a caret.\n\n"
      "Options of type `file` are recorded in outputs (metadata_props `effopt.pipeline`) and reports as\n"
      "`NAME@sha256:HEX`: the file's name without its folder and its SHA-256, so output bytes do not depend on\n"
      "where the files live. A pipeline holding that form checks the file's hash before running.\n\n"
      "## Named pipelines\n\n| command | what | pipeline |\n|---|---|---|\n";
  for (const NamedPipeline& p : named_pipelines())
    o += "| `effopt " + p.name + "` | " + md_escape(p.summary) + " | " +
         (p.text.empty() ? std::string("(no pass registered yet)") : "`" + md_escape(p.text) + "`") + " |\n";
  o += "\n`effopt fuse --opset N` puts `convert-opset{to=N}` first and `--shape NAME=DIMS` adds\n"
       "`fix-shapes{shapes=...}` after it; `effopt fuse` never changes the opset by itself.\n\n"
       "A lossless named pipeline never makes a model file bigger than 1% + 4 KB over its input (the report's\n"
       "`file_bytes`, external data included; tests/conformance/test_no_growth.cpp checks every corpus, light and\n"
       "generated model): fold-constants stores results only where the stored model does not grow, and fusions\n"
       "never store a rewritten copy beside a weight that other nodes read.\n\n"
       "## Every pass\n\n| pass | scope | lossy | summary |\n|---|---|---|---|\n";
  for (const PassInfo* p : registry.all())
    o += "| [" + p->name + "](#" + p->name + ") | " + (p->run_on_model ? "model" : "graph") + " | " +
         (p->lossy ? "yes" : "no") + " | " + md_escape(p->summary) + " |\n";
  for (const PassInfo* p : registry.all()) {
    o += "\n### " + p->name + "\n\n" + p->summary + (p->lossy ? " (lossy)" : "") + "\n\n";
    if (!p->options.empty()) {
      o += "| option | type | default | meaning |\n|---|---|---|---|\n";
      for (const OptionSpec& s : p->options)
        o += "| `" + s.name + "` | " + md_escape(option_type_text(s)) + " | `" + md_escape(shown_default(s)) + "` | " +
             md_escape(s.help) + " |\n";
      o += "\n";
    }
    PipelineItem item;
    item.pass = p;
    item.options = PassOptions(&p->options);
    std::string expanded = print_item(item);
    o += "Expanded with defaults: `" + expanded + "`\n\n";
    if (!p->doc.empty()) o += p->doc + "\n";
  }
  return o;
}

}  // namespace effopt::pass
