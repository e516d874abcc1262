// Live recording: function_graph for one workload, read from the per-CPU ring buffers
// (libtracefs) while it runs, decoded with libtraceevent into the same CallTreeBuilder as
// `import`. The kernel's tracing state is saved before anything is changed and restored on
// success, error, SIGINT, SIGTERM and SIGHUP; after SIGKILL, reset() restores it from the state
// file the recorder leaves. doctor() says what the running kernel offers. Every kernel path is a
// parameter with the live default, so tests point them at fixtures. See docs/record.md.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/error.h"
#include "probeseek/graph.h"
#include "probeseek/kernel_paths.h"

namespace probeseek {

struct RecordOptions {
  KernelPaths paths;
  std::vector<pid_t> pids;           // -p: trace these processes (all their threads)
  std::vector<std::string> command;  // -- CMD ARGS: run and trace this (children followed)
  std::string user;  // --user: run the command as this user (name or uid); "" = as probeseek
  std::optional<double> duration_s;          // stop after this long
  std::vector<std::string> graph_functions;  // set_graph_function (top-level instance only)
  std::optional<int> max_depth;              // max_graph_depth (top-level instance only)
  std::optional<int> buffer_size_kb;         // per CPU; default: at least kDefaultBufferKb
  bool force = false;     // record in the top-level instance even when someone else uses it
  std::string spill_dir;  // where the raw pages wait to be decoded; default $TMPDIR or /tmp
  // Progress for the user ("switching current_tracer to function_graph"): the library never
  // prints, the caller may.
  std::function<void(std::string_view)> progress;
  static constexpr int kDefaultBufferKb = 4096;
};

// What the kernel lost, per CPU: ring-buffer pages overwritten before they were read (overrun)
// and events refused because the buffer was full (dropped).
struct CpuLoss {
  int cpu = 0;
  int64_t overrun = 0;
  int64_t dropped = 0;
};

// The running kernel, saved with the session so rank/explain work on another machine.
struct KernelSnapshot {
  std::string release;                // uname -r
  std::string kallsyms_path;          // where kallsyms_text was read ("/proc/kallsyms")
  std::string kallsyms_text;          // /proc/kallsyms as read by root
  std::string filter_functions_text;  // available_filter_functions
  std::string kprobe_blacklist_text;  // empty when debugfs is not there
  std::string btf_path;               // the running kernel's BTF, when it has one ("" otherwise)
  std::string trace_clock;
  std::vector<std::string> notes;  // what could not be saved, and why
};

// A finished recording: raw ring-buffer pages in spill files (removed with the object), the
// kernel's snapshot, and the command still to be waited for.
class Recording {
 public:
  ~Recording();
  Recording(Recording&&) noexcept;
  Recording& operator=(Recording&&) noexcept;

  // Decodes the pages of every CPU, merged by timestamp (an exit can land on another CPU than
  // its entry), into the builder; also hands it the kernel's per-CPU loss counters. Once: the
  // spill files' disk space is given back as their pages are read; a second call is an error.
  Result<SourceInfo> read_into(CallTreeBuilder& builder);
  const KernelSnapshot& kernel() const;
  const std::vector<CpuLoss>& losses() const;  // CPUs whose counters say events were lost
  std::string instance() const;                // "" (top level) or the private instance's name
  std::string description() const;             // "curl -s http://127.0.0.1:8080/", "pid 42"
  std::string stopped_by() const;              // "command exited", "duration", "SIGINT", ...
  uint64_t bytes() const;                      // raw ring-buffer data read
  // The command's exit status (128 + signal when a signal ended it), waiting for it if it still
  // runs; nullopt without a command.
  std::optional<int> wait_command();

  struct Impl;
  explicit Recording(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Records until the command exits, every -p process has exited, the duration is over, or
// SIGINT/SIGTERM/SIGHUP arrives (the data is kept). The kernel's state is restored before this
// returns, whatever happens. Signal handlers stay installed while the Recording lives, so a
// second Ctrl-C while it is being saved does not lose it.
Result<Recording> record(const RecordOptions& options);

// `probeseek reset`: restores the tracing state that killed recordings left (their state files)
// and removes stale probeseek instances. Recordings still running are left alone unless
// force is set.
// Every state file is tried: one that cannot be read or restored (or that names files outside
// the tracing directory, which is refused) is reported in failures, and the others are restored
// all the same.
struct ResetReport {
  std::vector<std::string> actions;  // "current_tracer: nop (was function_graph)", ...
  std::vector<std::string> skipped;  // recordings still running
  std::vector<Error> failures;       // what could not be restored; its state file stays
};
Result<ResetReport> reset(const KernelPaths& paths, bool force);

// `probeseek doctor`: one line per kernel feature probeseek uses.
struct DoctorCheck {
  enum class Status { kOk, kMissing, kUnknown };
  std::string feature;  // "function_graph tracer"
  Status status = Status::kUnknown;
  std::string detail;   // what was found: "available_tracers: blk function nop"
  std::string cannot;   // when not ok: what probeseek cannot do
  std::string instead;  // and what to do instead
};
// Asks the kernel whether an fentry program loads and attaches: empty when it does, else why not
// (attach's trampoline_support(), which the command line passes in; graph/ has no libbpf).
using FentryProbe = std::function<std::optional<std::string>()>;
// Without a probe, the fentry line only says whether BTF and the trampoline code are there.
std::vector<DoctorCheck> doctor(const KernelPaths& paths, const FentryProbe& fentry_probe = {});
std::string_view to_string(DoctorCheck::Status status);

}  // namespace probeseek
