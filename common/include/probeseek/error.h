// Errors are values: every library function that can fail returns Result<T>.
// An Error says what failed, on which object, the errno text, and a hint with the fix.
// Only main() turns an Error into a message and an exit status.
#pragma once

#include <string>
#include <tl/expected.hpp>

namespace probeseek {

enum class ErrorKind {
  kBadInput,  // the user's input or usage is wrong: exit status 2
  kRuntime,   // the environment failed us (kernel feature, I/O, database): exit status 1
};

struct Error {
  ErrorKind kind = ErrorKind::kRuntime;
  std::string what;    // "cannot open trace file"
  std::string object;  // "/tmp/x.dat", "tcp_v4_connect", "/sys/kernel/tracing/current_tracer"
  int err_no = 0;      // errno when a system call failed, 0 otherwise
  std::string hint;    // one line: what the user can do about it

  // "cannot open trace file: /tmp/x.dat: No such file or directory"
  std::string message() const;
  int exit_status() const { return kind == ErrorKind::kBadInput ? 2 : 1; }
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string what, std::string object = {},
                                  int err_no = 0, std::string hint = {}) {
  return tl::unexpected<Error>(
      Error{kind, std::move(what), std::move(object), err_no, std::move(hint)});
}
inline tl::unexpected<Error> bad_input(std::string what, std::string object = {},
                                       std::string hint = {}) {
  return fail(ErrorKind::kBadInput, std::move(what), std::move(object), 0, std::move(hint));
}
inline tl::unexpected<Error> runtime_error(std::string what, std::string object = {},
                                           int err_no = 0, std::string hint = {}) {
  return fail(ErrorKind::kRuntime, std::move(what), std::move(object), err_no, std::move(hint));
}

}  // namespace probeseek
