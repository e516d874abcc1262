// probeseek's child processes, the two ways it runs them: run_child runs a program and collects
// what it prints (argv, no shell; a working directory, a cap on the output, a timeout);
// HeldChild forks a workload held at a pipe until the tracer, knowing its pid, has set up what
// filters on it, then lets it exec (record's command, verify's workload).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
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

// A user to run a workload as (setgroups, setgid, setuid before exec, as perf and strace -u do).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, as initgroups(3) would set them
};
// A user name or a numeric uid; bad input when there is no such user.
Result<RunAs> resolve_run_as(const std::string& user);

struct HeldChildOptions {
  std::string what = "the command";  // in messages: "cannot run the command"
  std::optional<RunAs> as;           // drop to this user before exec
  bool stdout_to_stderr = false;     // keep the caller's stdout (a report) clean
  bool kill_on_destroy = false;      // a running child dies with its owner (else it is left)
};

class HeldChild {
 public:
  // Forks argv[0], looked up in PATH first, so a typo fails before anything is armed.
  static Result<HeldChild> spawn(const std::vector<std::string>& argv,
                                 const HeldChildOptions& options = {});
  HeldChild(HeldChild&& o) noexcept;
  HeldChild& operator=(HeldChild&&) = delete;
  // Never released: it is told to give up (exits 126 running nothing) and reaped.
  ~HeldChild();

  pid_t pid() const { return pid_; }
  Status release();  // lets it exec; an error when exec failed
  bool exited();     // reaps it if it has exited (never blocks); true once it has
  int wait();        // blocks until it exits
  int kill_now();    // SIGKILL and reap
  std::optional<int> status() const { return status_; }  // 128 + signal when killed

 private:
  HeldChild() = default;
  void record_status(int wait_status);
  pid_t pid_ = -1;
  int go_fd_ = -1;          // write end: one byte releases the child, closing it aborts it
  int exec_error_fd_ = -1;  // read end: the child's errno when exec failed, EOF when it worked
  std::string name_;
  HeldChildOptions options_;
  bool released_ = false;
  std::optional<int> status_;
};

}  // namespace probeseek
