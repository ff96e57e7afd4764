// Textual pass pipelines, MLIR style: parse, print, record.
//
//   fold-constants,fuse-conv-bn,prune{sparsity=0.5 granularity=channel}
//   repeat{max-iterations=8}(eliminate-identity,fold-constants,eliminate-dead-code),fuse-gelu
//   convert-opset{to=17},@fuse
//
// Grammar (whitespace is allowed between tokens):
//   pipeline := item (',' item)*
//   item     := NAME [options]                      a pass from the registry
//             | '@' NAME                            a named pipeline (named_pipelines.h), expanded in place
//             | 'repeat' [options] '(' pipeline ')' a group run to a fixed point
//   options  := '{' [KEY '=' VALUE (' ' KEY '=' VALUE)*] '}'
//   VALUE    := characters up to a space or '}' (',' '=' ';' are fine:
//               shapes=x=1,3,224,224;y=1,10), or "a quoted string" in which
//               a backslash escapes '"' and itself
// A group repeats its body until no pass in it reports a change, at most
// max-iterations times (default 8); groups nest. A bare NAME is always a
// pass; a named pipeline takes no options.
//
// print_pipeline gives the expanded form: every `@name` replaced by its
// passes and groups, every option of every pass with its value, defaults
// filled in, in the pass's option order; parsing that text gives the same
// pipeline again. record_pipeline is the same text with each file of a File
// or Files option written as `NAME@sha256:HEX` (the file's name without its
// folder and its SHA-256; a Files list keeps its order and ';'), the form
// effopt stores in metadata_props and reports, so outputs do not depend on
// where files live.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "pass/pass.h"
#include "support/error.h"

namespace effopt::pass {

inline constexpr std::string_view kRepeatKeyword = "repeat";

struct PipelineItem {
  enum class Kind { Pass, Repeat };
  Kind kind = Kind::Pass;
  const PassInfo* pass = nullptr;  // Kind::Pass
  // A pass's options; for a group, the group's options (max-iterations).
  PassOptions options;
  std::vector<PipelineItem> body;  // Kind::Repeat
  size_t offset = 0;               // where the item starts in the parsed text

  int64_t max_iterations() const { return options.get_int("max-iterations"); }
};

struct Pipeline {
  std::vector<PipelineItem> items;
  bool empty() const { return items.empty(); }
};

// The options of a `repeat` group.
const std::vector<OptionSpec>& repeat_options();

// Parses pipeline text against `registry` (named pipelines too). A Usage
// error names what is wrong (unknown pass with the nearest name, unknown
// named pipeline with the list of them, unknown option with the valid ones, a
// bad value, unbalanced braces or parentheses, an empty name or group, ...)
// and shows the text with a caret under the column at fault.
Expected<Pipeline> parse_pipeline(std::string_view text, const PassRegistry& registry = PassRegistry::global());

// The expanded text (every option with its value).
std::string print_pipeline(const Pipeline& p);
std::string print_item(const PipelineItem& item);
// The options alone, `key=value key2=value2`, values quoted as the printer does.
std::string print_options(const PassOptions& options);

// SHA-256 (64 lowercase hex digits) of a file; an I/O error if unreadable.
// Supplied by the caller (lib/report has the hash; lib/pass sits below it).
using FileDigest = std::function<Expected<std::string>(const std::string& path)>;
// The expanded text with File and Files options as `NAME@sha256:HEX` (a value
// already in that form stays as it is; "" stays "").
Expected<std::string> record_pipeline(const Pipeline& p, const FileDigest& digest);

// Splits a File option's value `PATH@sha256:HEX` into path and digest (empty
// when the value names a plain path).
std::pair<std::string, std::string> split_file_value(const std::string& value);

// A value as the printer writes it: bare when it has no space, brace, quote
// or backslash and is not empty, else quoted.
std::string quote_option_value(std::string_view value);

// `text` with a caret under column `offset`, for error messages:
//   "  fold-constant,fuse-conv-bn\n  ^"
std::string caret_excerpt(std::string_view text, size_t offset);

}  // namespace effopt::pass
