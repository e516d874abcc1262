// Calls in flight: the tasks that are inside a function at the moment its probe is attached.
//
// A return probe (kretprobe, fexit, and the kprobe+kretprobe pair attach uses to read a socket
// at return) sees only the returns of calls that entered after it was attached: a kretprobe
// hooks the return address at entry, an fexit trampoline runs the function from its start. A
// server already asleep in inet_csk_accept when the probe is attached returns from that call
// unseen. Silence from a return probe is trusted only after looking at who was inside: the
// kernel stack of every task (/proc/PID/task/TID/stack, root only, CONFIG_STACKTRACE), read
// right after attaching, so that a task entering after the scan is one the probe sees.
//
//   auto scan = scan_in_flight(probes, {});   // after Tracer::attach_set
//   for (auto& t : scan.tasks) ... in_flight_warning(t) ...
//
// The stack files are outside data: sizes are bounded and names validated before use.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/attach.h"

namespace probeseek {

// One task inside a probed function when the scan ran.
struct InFlightTask {
  int pid = 0;           // the process (tgid)
  int tid = 0;           // the thread
  std::string comm;      // the thread's name, as the kernel gave it (print through printable())
  std::string function;  // the probe's function, as requested ("inet_csk_accept")
  std::string frame;     // the name on the stack ("inet_csk_accept", "f.isra.0", "f.cold")
  size_t probe = 0;      // index of the probe (in the list given to scan_in_flight)
};

struct InFlightOptions {
  std::string proc_root = "/proc";  // tests point it at a fake tree
  std::optional<int> pid;           // only this process's tasks (attach --pid)
  int exclude_pid = 0;              // never this process (probeseek itself, or verify's hold)
  size_t max_tasks = 100000;        // stop after this many tasks (a bound, not a sample)
};

struct InFlightScan {
  bool scanned = false;    // at least one return probe: the scan ran
  size_t stacks_read = 0;  // kernel stacks read
  size_t unreadable = 0;   // tasks whose stack could not be read (they may have exited)
  int first_errno = 0;     // why the first unreadable one was not
  std::string first_path;  // ...and which file it was
  bool truncated = false;  // more tasks than max_tasks: the rest were not looked at
  double elapsed_ms = 0;
  std::vector<InFlightTask> tasks;
  // "read 37 kernel stacks in 4 ms" (+ "; 2 could not be read: Permission denied")
  std::string cost() const;
  // When no stack could be read: one sentence saying why and what it means; "" otherwise.
  std::string unreadable_why() const;
};

// Scans every task (or those of options.pid) for frames of the probes that report at return
// (at_return); probes at entry are not looked for (an entry before the attach is simply before
// the window). Never fails: what could not be read is counted and said by cost()/unreadable_why().
InFlightScan scan_in_flight(const std::vector<const AttachedProbe*>& probes,
                            const InFlightOptions& options);

// "pid 99 httpd-tiny is inside inet_csk_accept now: its current call will not be seen; its
// next one will" (comm made printable; a thread other than the main one is named too).
std::string in_flight_warning(const InFlightTask& task);
// "pid 99 httpd-tiny" or "pid 99 (thread 101) httpd-tiny", printable.
std::string in_flight_task_name(const InFlightTask& task);

namespace internal {
constexpr size_t kMaxStackFileBytes = 64 * 1024;  // a stack has at most 64 frames (~100 bytes)
constexpr size_t kMaxStackLineBytes = 1024;       // a frame: "[<0>] " + name (<= 512) + offsets
// The function names of a /proc/PID/stack text ("[<0>] inet_csk_accept+0x1a3/0x2e0",
// "[<0>] nft_do_chain+0x1/0x2 [nf_tables]"), innermost first; lines that are not frames, names
// that are not kernel symbol names and lines longer than kMaxStackLineBytes are skipped.
std::vector<std::string> kernel_stack_functions(std::string_view text);
// Whether a frame is code of the probed symbol: the symbol itself, or its cold part
// ("f.cold", "f.cold.1"), which GCC jumps to rather than calls, so f is not on the stack then.
bool frame_is_function(std::string_view frame, std::string_view symbol);
}  // namespace internal

}  // namespace probeseek
