// Pipeline text: a recursive-descent parser with positioned errors, and the
// printer whose output parses back to the same pipeline (pipeline.h).
#include "pass/pipeline.h"

#include <algorithm>
#include <filesystem>

#include "pass/named_pipelines.h"

namespace effopt::pass {

const std::vector<OptionSpec>& repeat_options() {
  static const std::vector<OptionSpec> specs = {
      {"max-iterations", OptionType::Int, "8",
       "run the body at most this many times; stops earlier when an iteration changes nothing", {}, 1, 1000},
  };
  return specs;
}

std::string caret_excerpt(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t begin = 0;  // the line holding the offset
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') begin = i + 1;
  size_t end = text.find('\n', offset);
  if (end == std::string_view::npos) end = text.size();
  std::string line(text.substr(begin, end - begin));
  std::string pad;
  for (size_t i = begin; i < offset; ++i) pad += text[i] == '\t' ? '\t' : ' ';
  return "  " + line + "\n  " + pad + "^";
}

std::string quote_option_value(std::string_view value) {
  bool bare = !value.empty() && value.find_first_of(" \t\r\n{}\"\\") == std::string_view::npos;
  if (bare) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::pair<std::string, std::string> split_file_value(const std::string& value) {
  static constexpr std::string_view kTag = "@sha256:";
  size_t at = value.rfind(kTag);
  if (at == std::string::npos) return {value, ""};
  std::string hex = value.substr(at + kTag.size());
  bool is_hex = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
                  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                });
  if (!is_hex) return {value, ""};
  return {value.substr(0, at), hex};
}

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Named pipelines may use other named pipelines; this bounds the nesting
// (and stops a table entry from using itself).
constexpr int kMaxNamedDepth = 8;

std::string named_pipeline_list() {
  std::string list;
  for (const NamedPipeline& p : named_pipelines()) list += (list.empty() ? "@" : ", @") + p.name;
  return list.empty() ? std::string("none") : list;
}

class Parser {
 public:
  Parser(std::string_view text, const PassRegistry& reg, int depth = 0) : text_(text), reg_(reg), depth_(depth) {}

  Expected<Pipeline> parse() {
    Pipeline p;
    skip_ws();
    if (pos_ == text_.size()) return error(pos_, "the pipeline is empty: give at least one pass");
    EFFOPT_TRY_ASSIGN(p.items, parse_items(std::string::npos));
    return p;
  }

 private:
  Error error(size_t at, const std::string& what) const {
    return usage_error("pipeline: " + what + " (column " + std::to_string(at + 1) + ")\n" + caret_excerpt(text_, at));
  }

  void skip_ws() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }

  // Items up to the end of the text (group_open == npos) or the ')' closing
  // the group whose '(' is at group_open.
  Expected<std::vector<PipelineItem>> parse_items(size_t group_open) {
    std::vector<PipelineItem> items;
    for (;;) {
      skip_ws();
      EFFOPT_TRY(parse_item(group_open, items));
      skip_ws();
      if (pos_ == text_.size()) {
        if (group_open != std::string::npos)
          return error(group_open, "unbalanced parentheses: this '(' is never closed");
        return items;
      }
      char c = text_[pos_];
      if (c == ',') {
        size_t comma = pos_++;
        skip_ws();
        if (pos_ == text_.size()) return error(comma, "the pipeline ends with ','; a pass name must follow it");
        continue;
      }
      if (c == ')') {
        if (group_open == std::string::npos) return error(pos_, "unbalanced parentheses: ')' without '('");
        ++pos_;
        return items;
      }
      if (c == '}') return error(pos_, "unbalanced braces: '}' without '{'");
      if (c == '(')
        return error(pos_, "only 'repeat' takes a body in parentheses: repeat{max-iterations=8}(pass,...)");
      return error(pos_, std::string("expected ',' between passes, found '") + c + "'");
    }
  }

  // `@name`: the named pipeline's items, expanded in place.
  Status parse_named(std::vector<PipelineItem>& out) {
    size_t start = pos_++;  // '@'
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    std::string name(text_.substr(start + 1, pos_ - start - 1));
    if (name.empty())
      return error(start, "expected a named pipeline after '@' (named pipelines: " + named_pipeline_list() + ")");
    const NamedPipeline* np = find_named_pipeline(name);
    if (!np)
      return error(start, "unknown named pipeline '@" + name + "' (named pipelines: " + named_pipeline_list() + ")");
    if (np->text.empty()) return error(start, "named pipeline '@" + name + "' has no passes yet");
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == '{')
      return error(pos_, "a named pipeline takes no options; to change one, write out its expanded form "
                         "(--print-pipeline prints it)");
    if (depth_ >= kMaxNamedDepth) return error(start, "named pipelines nest too deeply at '@" + name + "'");
    auto inner = Parser(np->text, reg_, depth_ + 1).parse();
    if (!inner) {  // only with another registry: tests parse every named pipeline against the built-in one
      std::string why = inner.error().message;
      why = why.substr(0, why.find('\n'));                                  // not its caret excerpt
      if (why.rfind("pipeline: ", 0) == 0) why = why.substr(10);
      if (size_t col = why.rfind(" (column "); col != std::string::npos) why.resize(col);  // a column of its text
      return error(start, "named pipeline '@" + name + "' does not parse: " + why);
    }
    for (PipelineItem& item : inner->items) {
      item.offset = start;
      out.push_back(std::move(item));
    }
    return ok();
  }

  Status parse_item(size_t group_open, std::vector<PipelineItem>& out) {
    if (pos_ < text_.size() && text_[pos_] == '@') return parse_named(out);
    size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    std::string name(text_.substr(start, pos_ - start));
    if (name.empty()) {
      if (pos_ < text_.size() && text_[pos_] == ',') return error(pos_, "empty pass name before ','");
      if (pos_ < text_.size() && text_[pos_] == ')') {
        if (group_open != std::string::npos && text_.substr(group_open + 1, pos_ - group_open - 1).find_first_not_of(
                                                    " \t\r\n") == std::string_view::npos)
          return error(group_open, "empty group: 'repeat(...)' needs at least one pass");
        return error(pos_, "empty pass name before ')'");
      }
      if (pos_ < text_.size() && text_[pos_] == '{') return error(pos_, "options '{...}' without a pass name");
      if (pos_ == text_.size()) {
        if (group_open != std::string::npos)
          return error(group_open, "unbalanced parentheses: this '(' is never closed");
        return error(pos_, "expected a pass name");
      }
      return error(pos_, std::string("expected a pass name, found '") + text_[pos_] + "'");
    }
    PipelineItem item;
    item.offset = start;
    const PassInfo* info = reg_.find(name);
    if (!info && name == kRepeatKeyword) {
      item.kind = PipelineItem::Kind::Repeat;
      item.options = PassOptions(&repeat_options());
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == '{') EFFOPT_TRY(parse_options(item.options, "repeat"));
      skip_ws();
      if (pos_ == text_.size() || text_[pos_] != '(')
        return error(pos_, "'repeat' needs a body in parentheses: repeat{max-iterations=8}(pass,...)");
      size_t open = pos_++;
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == ')') return error(open, "empty group: 'repeat(...)' needs at least one pass");
      EFFOPT_TRY_ASSIGN(item.body, parse_items(open));
      out.push_back(std::move(item));
      return ok();
    }
    if (!info) {
      std::string msg = "unknown pass '" + name + "'";
      if (find_named_pipeline(name)) {
        msg += " ('" + name + "' is a named pipeline: write '@" + name + "')";
      } else {
        std::string near = reg_.nearest(name);
        if (!near.empty()) msg += " (did you mean '" + near + "'? 'effopt passes' lists them all)";
      }
      return error(start, msg);
    }
    item.pass = info;
    item.options = PassOptions(&info->options);
    skip_ws();
    if (pos_ < text_.size() && text_[pos_] == '{') EFFOPT_TRY(parse_options(item.options, name));
    out.push_back(std::move(item));
    return ok();
  }

  Status parse_options(PassOptions& opts, const std::string& owner) {
    size_t open = pos_++;
    std::vector<std::string> seen;
    for (;;) {
      skip_ws();
      if (pos_ == text_.size()) return error(open, "unbalanced braces: this '{' is never closed");
      if (text_[pos_] == '}') {
        ++pos_;
        return ok();
      }
      size_t key_start = pos_;
      while (pos_ < text_.size() && !is_space(text_[pos_]) && text_[pos_] != '=' && text_[pos_] != '}' &&
             text_[pos_] != '{')
        ++pos_;
      std::string key(text_.substr(key_start, pos_ - key_start));
      if (key.empty()) {
        if (text_[pos_] == '=') return error(pos_, "empty option name before '='");
        return error(pos_, "unexpected '{' inside options");
      }
      if (pos_ == text_.size() || text_[pos_] != '=')
        return error(key_start, "option '" + key + "' of '" + owner + "' needs a value: " + key + "=VALUE");
      ++pos_;  // '='
      size_t value_start = pos_;
      std::string value;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        ++pos_;
        bool closed = false;
        while (pos_ < text_.size()) {
          char c = text_[pos_++];
          if (c == '\\' && pos_ < text_.size()) {
            value += text_[pos_++];
          } else if (c == '"') {
            closed = true;
            break;
          } else {
            value += c;
          }
        }
        if (!closed) return error(value_start, "unterminated quoted value");
      } else {
        while (pos_ < text_.size() && !is_space(text_[pos_]) && text_[pos_] != '}' && text_[pos_] != '{' &&
               text_[pos_] != '"')
          value += text_[pos_++];
        if (pos_ < text_.size() && (text_[pos_] == '{' || text_[pos_] == '"'))
          return error(pos_, std::string("unexpected '") + text_[pos_] + "' in the value of '" + key +
                                 "' (quote values holding braces or quotes: " + key + "=\"...\")");
        if (value.empty()) return error(value_start, "option '" + key + "' has an empty value (write " + key + "=\"\")");
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        return error(key_start, "option '" + key + "' of '" + owner + "' is given twice");
      seen.push_back(key);
      bool known = false;
      for (const auto& [k, v] : opts.values()) known = known || k == key;
      Status st = opts.set(key, value);
      if (!st) return error(known ? value_start : key_start, "'" + owner + "': " + st.error().message);
    }
  }

  std::string_view text_;
  const PassRegistry& reg_;
  int depth_ = 0;
  size_t pos_ = 0;
};

std::string print_options(const PassOptions& opts, const std::vector<OptionSpec>* specs, const FileDigest* digest,
                          Status* status) {
  std::string out;
  const auto& values = opts.values();
  for (size_t i = 0; i < values.size(); ++i) {
    std::string v = values[i].second;
    const OptionType type = specs ? (*specs)[i].type : OptionType::String;
    if (digest && (type == OptionType::File || type == OptionType::Files) && !v.empty()) {
      std::vector<std::string> recorded;
      for (const std::string& file : type == OptionType::File ? std::vector<std::string>{v} : split_file_list(v)) {
        auto [path, hex] = split_file_value(file);
        if (hex.empty()) {
          auto d = (*digest)(path);
          if (!d) {
            *status = std::move(d).error();
            return "";
          }
          hex = *d;
        }
        recorded.push_back(std::filesystem::path(path).filename().string() + "@sha256:" + hex);
      }
      v = join_file_list(recorded);
    }
    out += (out.empty() ? "" : " ") + values[i].first + "=" + quote_option_value(v);
  }
  return out;
}

std::string print_items(const std::vector<PipelineItem>& items, const FileDigest* digest, Status* status);

std::string print_one(const PipelineItem& item, const FileDigest* digest, Status* status) {
  if (item.kind == PipelineItem::Kind::Repeat)
    return std::string(kRepeatKeyword) + "{" + print_options(item.options, &repeat_options(), nullptr, status) +
           "}(" + print_items(item.body, digest, status) + ")";
  std::string opts = print_options(item.options, &item.pass->options, digest, status);
  return item.pass->name + (opts.empty() ? "" : "{" + opts + "}");
}

std::string print_items(const std::vector<PipelineItem>& items, const FileDigest* digest, Status* status) {
  std::string out;
  for (const PipelineItem& it : items) out += (out.empty() ? "" : ",") + print_one(it, digest, status);
  return out;
}

}  // namespace

Expected<Pipeline> parse_pipeline(std::string_view text, const PassRegistry& registry) {
  return Parser(text, registry).parse();
}

std::string print_options(const PassOptions& options) {
  Status st;
  return print_options(options, nullptr, nullptr, &st);
}

std::string print_item(const PipelineItem& item) {
  Status st;
  return print_one(item, nullptr, &st);
}

std::string print_pipeline(const Pipeline& p) {
  Status st;
  return print_items(p.items, nullptr, &st);
}

Expected<std::string> record_pipeline(const Pipeline& p, const FileDigest& digest) {
  Status st;
  std::string text = print_items(p.items, &digest, &st);
  if (!st) return std::move(st).error();
  return text;
}

}  // namespace effopt::pass
