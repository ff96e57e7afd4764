#include "cli.h"

#include <sys/stat.h>

#include <filesystem>

#include "support/atomic_file.h"

namespace effopt::cli {

namespace fs = std::filesystem;

namespace {
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa{}, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// An existing device or FIFO (/dev/null): written to, never replaced.
bool is_special_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

// The report is written by rename like the model: it must not replace either.
Status check_report_path(const GlobalOptions& g, const std::string& input, const std::string& out) {
  if (g.report.empty() || g.report == "-" || is_special_file(g.report)) return ok();
  if (input != "-" && (g.report == input || same_file(input, g.report)))
    return usage_error("--report " + g.report + " is the input model; give the report another name");
  if (out != "-" && (g.report == out || same_file(out, g.report)))
    return usage_error("--report " + g.report + " is also the output model; give the report another name");
  return ok();
}
}  // namespace

Expected<std::string> resolve_output(const GlobalOptions& g, const std::string& input, const std::string& suffix) {
  if (g.in_place) {
    if (!g.output.empty()) return usage_error("--in-place and -o/--output cannot be used together");
    if (input == "-") return usage_error("--in-place needs a model file, not standard input");
    EFFOPT_TRY(check_report_path(g, input, input));
    return input;
  }
  std::string out = g.output;
  if (out.empty()) {
    if (input == "-") return usage_error("the model comes from standard input: give -o FILE, or -o - for standard output");
    fs::path p(input);
    std::string stem = p.extension() == ".onnx" ? p.stem().string() : p.filename().string();
    out = (p.parent_path() / (stem + "." + suffix + ".onnx")).string();
  }
  if (out == "-") {
    if (g.report == "-") return usage_error("-o - and --report - both want standard output; send one to a file");
    EFFOPT_TRY(check_report_path(g, input, out));
    return out;
  }
  if (input != "-" && same_file(input, out))
    return usage_error("output " + out + " is the input file; use --in-place to replace the input");
  EFFOPT_TRY(check_report_path(g, input, out));
  std::error_code ec;
  // A device or FIFO (-o /dev/null) is written to, not replaced: no --force needed.
  if (fs::exists(out, ec) && !is_special_file(out) && !g.force)
    return usage_error("output " + out + " exists (use --force to replace it)");
  // --external-data writes OUT.data too: refused the same way, before any work. (When external data is
  // chosen by the model, save_model checks the same.)
  if (g.external_data && !g.force && fs::exists(out + ".data", ec))
    return usage_error("external data file " + out + ".data exists (use --force to replace it)");
  if (fs::is_directory(out, ec)) return usage_error("output " + out + " is a directory");
  return out;
}

Status write_text(const std::string& path, const std::string& text) {
  EFFOPT_TRY_ASSIGN(auto f, AtomicFile::create(path));
  EFFOPT_TRY(f->write(text.data(), text.size()));
  return f->commit();
}

}  // namespace effopt::cli
