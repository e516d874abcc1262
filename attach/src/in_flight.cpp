// Calls in flight: which tasks are inside a probed function, from their kernel stacks.
#include "probeseek/in_flight.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "probeseek/dir.h"
#include "probeseek/fd.h"
#include "probeseek/text.h"

namespace probeseek {
namespace internal {

std::vector<std::string> kernel_stack_functions(std::string_view text) {
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) {
    if (line.size() > kMaxStackLineBytes) return;
    // "[<0>] name+0xOFF/0xSIZE" or "[<ffffffff...>] name+0xOFF/0xSIZE [module]"; the address is
    // hidden as 0 for everyone since 4.x, but its form is not relied on.
    if (!starts_with(line, "[<")) return;
    const size_t close = line.find(">] ");
    if (close == std::string_view::npos) return;
    std::string_view rest = line.substr(close + 3);
    const size_t plus = rest.find('+');
    if (plus == std::string_view::npos) return;
    std::string_view name = rest.substr(0, plus);
    if (!is_kernel_symbol_name(name)) return;
    out.emplace_back(name);
  });
  return out;
}

bool frame_is_function(std::string_view frame, std::string_view symbol) {
  if (symbol.empty()) return false;
  if (frame == symbol) return true;
  // GCC's hot/cold splitting moves rarely run blocks into "f.cold" (or "f.cold.N") and jumps
  // there: a task asleep in that part has no frame named f, yet its call of f is in flight.
  if (frame.size() <= symbol.size() + 1 || !starts_with(frame, symbol) ||
      frame[symbol.size()] != '.')
    return false;
  std::string_view tail = frame.substr(symbol.size() + 1);
  if (tail == "cold") return true;
  if (!starts_with(tail, "cold.")) return false;
  tail.remove_prefix(5);
  return !tail.empty() && tail.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace internal

namespace {

// A /proc file read whole, up to `max` bytes (the rest is left unread and `truncated` set).
// Opened non-blocking and checked to be a regular file, so that a fake tree (or a hostile one)
// holding a FIFO or a device cannot hang or flood the scan. 0, or the errno.
int read_bounded(const std::string& path, size_t max, std::string& out, bool& truncated) {
  out.clear();
  truncated = false;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) return errno;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EINVAL;
  char buf[4096];
  while (out.size() < max) {
    const size_t want = std::min(sizeof buf, max - out.size());
    const ssize_t n = ::read(fd.get(), buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out.append(buf, static_cast<size_t>(n));
  }
  char extra;
  ssize_t n;
  do n = ::read(fd.get(), &extra, 1);
  while (n < 0 && errno == EINTR);
  truncated = n > 0;
  return 0;
}

std::optional<int> task_number(const std::string& name) {
  if (name.empty() || name.size() > 10 || name.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto v = parse_int(name);
  if (!v || *v <= 0 || *v > 0x7fffffff) return std::nullopt;
  return static_cast<int>(*v);
}

std::string thread_comm(const std::string& task_dir) {
  std::string text;
  bool truncated = false;
  // TASK_COMM_LEN is 16; 64 leaves room for a kernel that widens it, and bounds a fake one.
  if (read_bounded(task_dir + "/comm", 64, text, truncated) != 0) return "?";
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text.empty() ? "?" : text;
}

}  // namespace

InFlightScan scan_in_flight(const std::vector<const AttachedProbe*>& probes,
                            const InFlightOptions& options) {
  InFlightScan scan;
  std::vector<size_t> wanted;  // probes reported at return
  for (size_t i = 0; i < probes.size(); ++i)
    if (probes[i] && probes[i]->at_return) wanted.push_back(i);
  if (wanted.empty()) return scan;
  scan.scanned = true;
  const auto started = std::chrono::steady_clock::now();

  std::vector<int> pids;
  if (options.pid) {
    pids.push_back(*options.pid);
  } else if (auto entries = list_directory(options.proc_root); entries) {
    for (const std::string& e : *entries)
      if (auto pid = task_number(e)) pids.push_back(*pid);
  } else {
    scan.unreadable = 1;
    scan.first_errno = entries.error().err_no ? entries.error().err_no : ENOENT;
    scan.first_path = options.proc_root;
  }

  size_t tasks_seen = 0;
  std::string text;
  for (int pid : pids) {
    if (pid == options.exclude_pid) continue;
    const std::string proc_dir = options.proc_root + "/" + std::to_string(pid);
    auto tids = list_directory(proc_dir + "/task");
    if (!tids) continue;  // the process exited between the two listings
    for (const std::string& t : *tids) {
      auto tid = task_number(t);
      if (!tid) continue;
      if (++tasks_seen > options.max_tasks) {
        scan.truncated = true;
        break;
      }
      const std::string task_dir = proc_dir + "/task/" + t;
      bool truncated = false;
      if (int err =
              read_bounded(task_dir + "/stack", internal::kMaxStackFileBytes, text, truncated);
          err != 0) {
        if (++scan.unreadable == 1) {
          scan.first_errno = err;
          scan.first_path = task_dir + "/stack";
        }
        continue;
      }
      ++scan.stacks_read;
      // A file cut at the bound ends in a partial line, whose name could be a prefix of another.
      if (truncated) text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
      const std::vector<std::string> frames = internal::kernel_stack_functions(text);
      for (size_t w : wanted) {
        for (const std::string& frame : frames) {
          if (!internal::frame_is_function(frame, probes[w]->symbol)) continue;
          InFlightTask task;
          task.pid = pid;
          task.tid = *tid;
          task.comm = thread_comm(task_dir);
          task.function = probes[w]->function;
          task.frame = frame;
          task.probe = w;
          scan.tasks.push_back(std::move(task));
          break;  // once per task and probe, even when it recursed
        }
      }
    }
    if (scan.truncated) break;
  }
  scan.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return scan;
}

std::string InFlightScan::cost() const {
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.0f ms", elapsed_ms);
  std::string out = "read " + std::to_string(stacks_read) + " kernel stack" +
                    (stacks_read == 1 ? "" : "s") + " in " + ms;
  if (unreadable > 0)
    out += "; " + std::to_string(unreadable) + " could not be read (" + std::strerror(first_errno) +
           ")";
  if (truncated) out += "; stopped after the first " + std::to_string(stacks_read + unreadable);
  return out;
}

std::string InFlightScan::unreadable_why() const {
  // No task at all (only probeseek itself) leaves nothing unknown.
  if (!scanned || stacks_read > 0 || unreadable == 0) return "";
  std::string why;
  // proc_pid_stack() wants CAP_SYS_ADMIN in the initial user namespace (EACCES), after the
  // ptrace access check on the task (EPERM: a container, Yama or another security module).
  if (first_errno == EACCES)
    why = "reading a task's kernel stack needs root (CAP_SYS_ADMIN in the initial user namespace)";
  else if (first_errno == EPERM)
    why =
        "the kernel's ptrace access check refused it (a container or a security module); "
        "root on the host can read it";
  else if (first_errno == ENOENT)
    why = "this kernel has no /proc/PID/stack (built without CONFIG_STACKTRACE)";
  return "cannot see calls already in flight (" + printable(first_path) + ": " +
         std::strerror(first_errno) + (why.empty() ? "" : "; " + why) + ")" +
         ": a task already inside the function now returns from that call unseen, and "
         "probeseek cannot tell whether one is; its next call will be seen";
}

std::string in_flight_task_name(const InFlightTask& task) {
  std::string out = "pid " + std::to_string(task.pid);
  if (task.tid != task.pid) out += " (thread " + std::to_string(task.tid) + ")";
  return out + " " + printable(task.comm);
}

std::string in_flight_warning(const InFlightTask& task) {
  return in_flight_task_name(task) + " is inside " + printable(task.function) +
         (task.frame != task.function ? " (" + printable(task.frame) + ")" : "") +
         " now: its current call will not be seen; its next one will";
}

}  // namespace probeseek
