// Quoting for command lines effopt prints for the user to paste (e.g. the
// --shape flags the footprint report suggests).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace effopt {

// `s` as one POSIX shell word: unchanged when every character is safe
// (letters, digits, _-.,=:/+@%), else in single quotes ("'" as '\'').
inline std::string shell_quote(const std::string& s) {
  bool safe = !s.empty();
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("_-.,=:/+@%").find(c) == std::string_view::npos)
      safe = false;
  if (safe) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace effopt
