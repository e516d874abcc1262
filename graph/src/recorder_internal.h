// What a finished recording holds between record() and read_into(): shared by recorder.cpp
// (which fills it) and recorder_replay.cpp (which decodes it).
#pragma once

#include <event-parse.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "funcgraph_decoder.h"  // TepHandle
#include "kernel_state.h"
#include "probeseek/record.h"

namespace probeseek {

namespace detail {

// A directory of spill files, removed with everything in it when this goes away.
class SpillDir {
 public:
  static Result<SpillDir> create(const std::string& parent);
  SpillDir(SpillDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  SpillDir& operator=(SpillDir&& o) noexcept;
  ~SpillDir();
  const std::string& path() const { return path_; }
  std::string file(int cpu) const { return path_ + "/cpu" + std::to_string(cpu) + ".raw"; }

 private:
  explicit SpillDir(std::string path) : path_(std::move(path)) {}
  void remove();
  std::string path_;
};

// Who `record --user USER -- CMD` runs the command as: resolved before forking (the C library's
// user database calls are not safe between fork and exec).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, as initgroups(3) would set them
};
// A user name or a numeric uid; bad input when there is no such user.
Result<RunAs> resolve_run_as(const std::string& user);

// The command run under `record -- CMD`: forked before tracing is armed, it waits on a pipe and
// execs only when released, so its first system calls are in the trace.
class CommandChild {
 public:
  // With `as`, the child drops to that user (setgroups, setgid, setuid, as perf and strace -u
  // do) before it execs: the workload runs unprivileged while probeseek traces it as root.
  static Result<CommandChild> spawn(const std::vector<std::string>& argv,
                                    const RunAs* as = nullptr);
  CommandChild(CommandChild&& o) noexcept;
  CommandChild& operator=(CommandChild&&) = delete;
  ~CommandChild();  // not released: it is told to give up, and reaped; running: left to run

  pid_t pid() const { return pid_; }
  // Lets it exec; an error when exec failed (the command could not be run).
  Status release();
  // Reaps it if it has exited (never blocks); true once it has.
  bool exited();
  // Blocks until it exits.
  int wait();
  std::optional<int> status() const { return status_; }  // 128 + signal when killed

 private:
  CommandChild() = default;
  void record_status(int wait_status);
  pid_t pid_ = -1;
  int go_fd_ = -1;          // write end: one byte releases the child, closing it aborts it
  int exec_error_fd_ = -1;  // read end: the child's errno when exec failed, EOF when it worked
  std::string name_;
  bool released_ = false;
  std::optional<int> status_;
};

}  // namespace detail

struct Recording::Impl {
  detail::SpillDir spill;
  int cpus = 0;
  int page_size = 0;
  std::vector<int> cpus_with_data;
  detail::TepHandle tep;  // funcgraph event formats, the kernel's kallsyms and saved comms
  KernelSnapshot kernel;
  std::vector<CpuLoss> losses;
  std::string instance;
  std::string description;
  std::string stopped_by;
  uint64_t bytes = 0;
  pid_t recorder_pid = 0;
  std::optional<detail::CommandChild> command;
  std::shared_ptr<void> signal_guard;  // keeps the recorder's signal handlers installed
  // The state file, saying only "spill" now that the tracing state is restored: it goes after
  // the spill directory, so that 'probeseek reset' can remove that after a SIGKILL while saving.
  std::optional<detail::KernelStateGuard> state;
};

}  // namespace probeseek
