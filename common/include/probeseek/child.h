// Running a program and collecting what it prints: argv (no shell), a working directory, a cap
// on the captured output, a timeout. Meant to become probeseek's one child-process type
// (issue 11): the other places that fork and exec should move onto it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "probeseek/error.h"

namespace probeseek {

struct ChildOptions {
  std::string cwd;                           // "" = the caller's
  size_t output_cap = size_t{16} << 20;      // per stream; more is read and dropped
  std::chrono::milliseconds timeout{60000};  // then SIGKILL; 0 = none
};

struct ChildResult {
  int exit_status = -1;  // the exit code, or -1 when killed by a signal
  int signal = 0;        // the signal that ended it, 0 when it exited
  bool timed_out = false;
  bool truncated = false;  // some output was beyond output_cap
  std::string out, err;
  bool ok() const { return exit_status == 0 && !timed_out; }
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null. An error only when it cannot be
// started or watched; a program that fails is a ChildResult with its status and stderr.
Result<ChildResult> run_child(const std::vector<std::string>& argv, const ChildOptions& opts = {});

}  // namespace probeseek
