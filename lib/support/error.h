// Recoverable errors as values (LLVM's Expected<T> style). lib/ never exits
// the process: it returns an Error whose kind maps to a documented exit code
// in tools/. Programming errors are asserts, not Errors.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace effopt {

// Values are the CLI exit codes (docs/cli.md). Keep them stable.
enum class ErrorKind : int {
  Usage = 1,         // bad option, existing output without --force
  InvalidModel = 2,  // malformed or unsupported model
  CheckFailed = 3,   // a budget or quality check failed
  IO = 4,            // unreadable input, unwritable output, disk full
  Internal = 5,      // a bug in effopt
};

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string message;

  // Prefixes context ("while reading x.onnx: ...") without changing the kind.
  Error& context(const std::string& what) {
    message = what + ": " + message;
    return *this;
  }
};

inline Error make_error(ErrorKind kind, std::string message) { return Error{kind, std::move(message)}; }
inline Error invalid_model(std::string message) { return Error{ErrorKind::InvalidModel, std::move(message)}; }
inline Error io_error(std::string message) { return Error{ErrorKind::IO, std::move(message)}; }
inline Error usage_error(std::string message) { return Error{ErrorKind::Usage, std::move(message)}; }
inline Error internal_error(std::string message) { return Error{ErrorKind::Internal, std::move(message)}; }

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Expected(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& operator*() & { assert(has_value()); return std::get<0>(v_); }
  const T& operator*() const& { assert(has_value()); return std::get<0>(v_); }
  T&& operator*() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T* operator->() { assert(has_value()); return &std::get<0>(v_); }
  const T* operator->() const { assert(has_value()); return &std::get<0>(v_); }

  const Error& error() const& { assert(!has_value()); return std::get<1>(v_); }
  Error&& error() && { assert(!has_value()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Status: Expected<void>.
template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { assert(!ok_); return err_; }
  Error&& error() && { assert(!ok_); return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Expected<void>;
inline Status ok() { return {}; }

}  // namespace effopt

// Propagates an error from an Expected/Status expression out of the current
// function. EFFOPT_TRY_ASSIGN(x, expr) binds the value.
#define EFFOPT_TRY(expr)                                 \
  do {                                                   \
    auto effopt_try_status_ = (expr);                    \
    if (!effopt_try_status_) return std::move(effopt_try_status_).error(); \
  } while (0)

#define EFFOPT_CONCAT_INNER(a, b) a##b
#define EFFOPT_CONCAT(a, b) EFFOPT_CONCAT_INNER(a, b)
#define EFFOPT_TRY_ASSIGN(lhs, expr) EFFOPT_TRY_ASSIGN_IMPL(EFFOPT_CONCAT(effopt_try_tmp_, __LINE__), lhs, expr)
#define EFFOPT_TRY_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp) return std::move(tmp).error();     \
  lhs = std::move(*tmp)
