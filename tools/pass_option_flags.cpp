#include "pass_option_flags.h"

#include "pass/pass_docs.h"
#include "pass/pipeline.h"

namespace effopt::cli {

PassOptionFlags::PassOptionFlags(CLI::App& sub, const pass::PassInfo& info) {
  for (const pass::OptionSpec& spec : info.options) {
    // Data options (--calibration, --data, ...) get their flags from pass_data.h, which reads the files.
    if (spec.data != pass::DataOption::None) continue;
    auto f = std::make_unique<Flag>();
    f->spec = &spec;
    std::string help = spec.help + " (" + info.name + " option " + spec.name + "; default " +
                       (spec.default_value.empty() ? "none" : spec.default_value) + ")";
    if (spec.type == pass::OptionType::Bool) {
      std::string names = "--" + spec.name + (spec.cli_negation.empty() ? "" : ",!--" + spec.cli_negation);
      f->option = sub.add_flag(names, f->on, help);
    } else {
      const pass::OptionSpec* sp = &spec;
      f->option = sub.add_option("--" + spec.name, f->value, help)
                      ->type_name(spec.type == pass::OptionType::File ? "FILE"
                                  : spec.type == pass::OptionType::Enum
                                      ? pass::option_type_text(spec).substr(6)  // "a|b|c"
                                      : spec.type == pass::OptionType::Int ? "INT"
                                      : spec.type == pass::OptionType::Float ? "NUMBER"
                                                                            : "TEXT")
                      ->check(CLI::Validator(
                          [sp](std::string& v) -> std::string {
                            Status st = pass::check_option_value(*sp, v);
                            return st ? std::string() : st.error().message;
                          },
                          ""));
    }
    flags_.push_back(std::move(f));
  }
}

std::string PassOptionFlags::options_text() const {
  std::string out;
  for (const auto& f : flags_) {
    if (f->option->count() == 0) continue;
    std::string v = f->spec->type == pass::OptionType::Bool ? (f->on ? "true" : "false") : f->value;
    out += (out.empty() ? "" : " ") + f->spec->name + "=" + pass::quote_option_value(v);
  }
  return out;
}

}  // namespace effopt::cli
