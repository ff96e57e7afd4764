// effopt passes [NAME] [--markdown]: the pass registry for people (every
// pass with its summary and options, or one with its docs) and for
// docs/passes.md (--markdown).
#include <cstdio>

#include "cli.h"
#include "pass/pass_docs.h"

namespace effopt::cli {

std::function<Status()> setup_passes(CLI::App& sub, GlobalOptions&) {
  struct Opts { std::string name; bool markdown = false; };
  auto o = std::make_shared<Opts>();
  sub.add_option("name", o->name, "show one pass with its documentation");
  sub.add_flag("--markdown", o->markdown, "print docs/passes.md (generated from the registry)");
  return [o]() -> Status {
    const pass::PassRegistry& reg = pass::PassRegistry::global();
    std::string text;
    if (o->markdown) {
      if (!o->name.empty()) return usage_error("passes --markdown documents every pass; give no NAME");
      text = pass::passes_markdown(reg);
    } else if (!o->name.empty()) {
      const pass::PassInfo* p = reg.find(o->name);
      if (!p) {
        std::string near = reg.nearest(o->name);
        return usage_error("unknown pass '" + o->name + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)"));
      }
      text = pass::pass_text(*p, true);
    } else {
      for (const pass::PassInfo* p : reg.all()) text += pass::pass_text(*p, false) + "\n";
      text += "Pipelines: effopt run MODEL --passes 'a,b{key=value},repeat{max-iterations=8}(c,d)' (docs/passes.md)\n";
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return ok();
  };
}

}  // namespace effopt::cli
