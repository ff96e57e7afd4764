// Pass listings and docs/passes.md from the registry (pass_docs.h).
#include "pass/pass_docs.h"

#include <cmath>
#include <string_view>
#include <vector>

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

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// A pass's doc (PassInfo::doc) as Markdown: "Before:" paragraphs and lines
// indented by two spaces become code blocks, section labels ("When:",
// "Not when:", "Maths:") bold; other text stays as it is.
std::string doc_markdown(const std::string& doc) {
  std::vector<std::string> paragraphs;
  for (size_t start = 0; start <= doc.size();) {
    size_t end = doc.find("\n\n", start);
    if (end == std::string::npos) end = doc.size();
    paragraphs.push_back(doc.substr(start, end - start));
    start = end + 2;
  }
  std::string out;
  for (const std::string& para : paragraphs) {
    if (para.empty()) continue;
    if (!out.empty()) out += "\n";
    if (starts_with(para, "Before:")) {
      out += "```\n" + para + "\n```\n";
      continue;
    }
    std::string text = para;
    for (std::string_view label : {"When", "Not when", "Maths"})
      if (starts_with(text, label)) {
        size_t colon = text.find(':');
        if (colon != std::string::npos && text.find('\n') > colon)
          text = "**" + text.substr(0, colon + 1) + "**" + text.substr(colon + 1);
        break;
      }
    // Lines indented by two spaces (a chain of nodes) form a code block.
    std::string block;
    bool in_code = false;
    for (size_t start = 0; start <= text.size();) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      start = end + 1;
      bool code = starts_with(line, "  ");
      if (code && !in_code) block += "\n```\n";
      if (!code && in_code) block += "```\n";
      in_code = code;
      block += (code ? line.substr(2) : line) + "\n";
    }
    if (in_code) block += "```\n";
    out += block;
  }
  return out;
}

}  // namespace

std::string option_type_text(const OptionSpec& spec) {
  switch (spec.type) {
    case OptionType::Bool: return "bool";
    case OptionType::Int: return "int" + range(spec);
    case OptionType::Float: return "float" + range(spec);
    case OptionType::String: return "string";
    case OptionType::File: return "file";
    case OptionType::Files: return "files";
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
      "`effopt run MODEL --passes PIPELINE` runs a pipeline; `--print-pipeline` prints it expanded (every "
      "`@name`\nreplaced by its passes, every option with its value) and parsing that text again gives the same "
      "pipeline; the\nexpanded text is also what outputs (metadata_props `effopt.pipeline`) and reports record. "
      "The grammar\n(whitespace is allowed between tokens):\n\n"
      "```\n"
      "pipeline := item (',' item)*\n"
      "item     := NAME [options]                       a pass\n"
      "          | @NAME                                a named pipeline, expanded in place\n"
      "          | repeat [options] '(' pipeline ')'    a group, run to a fixed point; groups nest\n"
      "options  := '{' [KEY=VALUE (' ' KEY=VALUE)*] '}'\n"
      "VALUE    := characters up to a space or '}' (',' '=' ';' are fine), or \"a quoted string\" with \\\" and \\\\\n"
      "```\n\n"
      "Examples: `repeat{max-iterations=8}(eliminate-identity,fold-constants),prune{sparsity=0.5 "
      "granularity=channel}`;\n`convert-opset{to=17},@fuse` (the fuse pipeline after an opset conversion).\n\n"
      "A bare NAME is always a pass (`fuse` is an error that points at `@fuse`); a named pipeline takes no "
      "options (to\nchange one, start from its `--print-pipeline` text). An unknown `@NAME` is a usage error that "
      "lists the named\npipelines.\n\n"
      "A `repeat` group runs its body again while any pass in it reports a change, at most `max-iterations` "
      "times\n(1..1000, default 8); when the limit is reached with the body still changing the model, the log warns "
      "and the\nreport's `groups` entry has `limit_reached: true`. Errors point at the text with a caret.\n\n"
      "Options of type `file` are recorded in outputs (metadata_props `effopt.pipeline`) and reports as\n"
      "`NAME@sha256:HEX`: the file's name without its folder and its SHA-256, so output bytes do not depend on\n"
      "where the files live. A pipeline holding that form checks the file's hash before running.\n\n"
      "### Data files\n\n"
      "A pass that calibrates or runs a quality guard declares data options (type `files`: paths separated by "
      "`;`):\n`calibration` and `calibration-samples` (rows of the calibration data used, batches split into rows; 0 "
      "= all),\nand for the guard `data`, `random`, `seed`, `range`. The command line fills them from `--calibration`,\n"
      "`--calibration-samples`, `--data`, `--random`, `--seed` and `--range`, which take the forms `compare --data` "
      "takes\n(test_data_set folders, `.pb`, `.npy`). The recorded pipeline lists every data file read, in order, as\n"
      "`NAME@sha256:HEX`, and how many rows were used; to rerun it, give the same files with the same flags: effopt\n"
      "checks their SHA-256 against the record (a mismatch, or a recorded file without its flag, is a usage error).\n"
      "A flag no pass in the pipeline reads is a usage error. The passes read the samples from effopt, never the "
      "files.\n\n"
      "## Named pipelines\n\n| pipeline | command | what | expands to |\n|---|---|---|---|\n";
  for (const NamedPipeline& p : named_pipelines()) {
    std::string expanded = "(no pass registered yet)";
    if (!p.text.empty()) {
      auto parsed = parse_pipeline(p.text, registry);
      expanded = "`" + md_escape(parsed ? print_pipeline(*parsed) : p.text) + "`";
    }
    o += "| `@" + p.name + "` | `effopt " + p.name + "` | " + md_escape(p.summary) + " | " + expanded + " |\n";
  }
  o += "\n`effopt fuse` runs `@fuse`; `effopt fuse --opset N` puts `convert-opset{to=N}` first and `--shape "
       "NAME=DIMS`\nadds `fix-shapes{shapes=...}` after it; `effopt fuse` never changes the opset by itself.\n\n"
       "A lossless named pipeline never makes a model file bigger than 1% + 4 KB over its input (the report's\n"
       "`file_bytes`, external data included; tests/conformance/test_no_growth.cpp checks every corpus, light and\n"
       "generated model): fold-constants stores results only where the stored model does not grow, and fusions\n"
       "never store a rewritten copy beside a weight that other nodes read.\n\n"
       "## Every pass\n\nEach pass is one file, `passes/NAME.cpp`, listed in `passes/passes.def`; its text below "
       "is its registry entry.\n\n| pass | scope | lossy | summary |\n|---|---|---|---|\n";
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
    if (!p->doc.empty()) o += doc_markdown(p->doc);
  }
  return o;
}

}  // namespace effopt::pass
