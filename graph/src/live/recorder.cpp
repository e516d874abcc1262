// `probeseek record`: arms function_graph for the target processes, moves the per-CPU
// ring-buffer pages into spill files while the workload runs, and puts the tracing state back.
//
// One thread does everything: it splices full pages out of every CPU's trace_pipe_raw every
// 50 ms (or sooner when a signal or the command's exit wakes it), so the kernel's buffers never
// hold more than a few polls' worth and memory stays at one page per CPU; the pages wait on
// disk. Decoding happens afterwards (recorder_replay.cpp), merged by timestamp, which the
// per-task call-tree builder needs and which live pages arriving CPU by CPU cannot give.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "kernel_state.h"
#include "probeseek/c_string.h"
#include "probeseek/dir.h"
#include "probeseek/fd.h"
#include "probeseek/record.h"
#include "probeseek/text.h"
#include "recorder_internal.h"
#include "tracefs_shim.h"

namespace probeseek {

namespace detail {

// ---- Signals: handlers only note the signal and wake the loop through a pipe ----

namespace {

volatile sig_atomic_t g_stop_signal = 0;
int g_wake_pipe[2] = {-1, -1};

extern "C" void on_signal(int sig) {
  int saved = errno;
  if (sig != SIGCHLD && g_stop_signal == 0) g_stop_signal = sig;
  if (g_wake_pipe[1] >= 0) {
    char c = 0;
    ssize_t ignored = ::write(g_wake_pipe[1], &c, 1);
    (void)ignored;
  }
  errno = saved;
}

constexpr int kHandledSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};

// Installs the handlers for its lifetime and puts the previous ones back after.
class SignalGuard {
 public:
  SignalGuard() {
    if (::pipe2(g_wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_wake_pipe[0] = g_wake_pipe[1] = -1;
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < std::size(kHandledSignals); ++i)
      ::sigaction(kHandledSignals[i], &sa, &previous_[i]);
  }
  ~SignalGuard() {
    for (size_t i = 0; i < std::size(kHandledSignals); ++i)
      ::sigaction(kHandledSignals[i], &previous_[i], nullptr);
    for (int& fd : g_wake_pipe) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  struct sigaction previous_[std::size(kHandledSignals)]{};
};

int stop_signal() {
  return g_stop_signal;
}

// Sleeps until a signal arrives or the timeout passes; empties the wake-up pipe.
void wait_for_wakeup(int timeout_ms) {
  pollfd p{g_wake_pipe[0], POLLIN, 0};
  if (g_wake_pipe[0] < 0 || ::poll(&p, 1, timeout_ms) <= 0) return;
  char buf[64];
  while (::read(g_wake_pipe[0], buf, sizeof buf) > 0) {
  }
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal " + std::to_string(sig);
  }
}

}  // namespace

// ---- Spill directory ----

Result<SpillDir> SpillDir::create(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  // Absolute: the state file names it for 'probeseek reset', which runs elsewhere.
  if (base.front() != '/') {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd))
      return runtime_error("cannot resolve the spill directory", base, errno,
                           "pass --spill-dir an absolute path");
    base = std::string(cwd) + "/" + base;
  }
  std::string tmpl = base + "/probeseek-record-XXXXXX";
  if (!::mkdtemp(tmpl.data()))
    return runtime_error("cannot create a directory for the raw trace pages", tmpl, errno,
                         "pass --spill-dir DIR on a writable filesystem");
  return SpillDir(tmpl);
}

SpillDir& SpillDir::operator=(SpillDir&& o) noexcept {
  if (this != &o) {
    remove();
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

SpillDir::~SpillDir() {
  remove();
}

void SpillDir::remove() {
  if (path_.empty()) return;
  if (auto names = list_directory(path_))
    for (const std::string& name : *names) ::unlink((path_ + "/" + name).c_str());
  ::rmdir(path_.c_str());
  path_.clear();
}

}  // namespace detail

// ---- record() ----

namespace {

using detail::KernelStateGuard;

struct TracefsInstanceFree {
  void operator()(tracefs_instance* i) const { ps_tracefs_instance_free(i); }
};
using TracefsInstance = std::unique_ptr<tracefs_instance, TracefsInstanceFree>;

struct CpuReaderClose {
  void operator()(tracefs_cpu* r) const { ps_tracefs_cpu_close(r); }
};

// One CPU's trace_pipe_raw and the file its pages go to.
struct CpuSpill {
  int cpu = 0;
  std::unique_ptr<tracefs_cpu, CpuReaderClose> reader;
  Fd file;
  uint64_t bytes = 0;
  CpuLoss before;  // the kernel's counters when tracing was switched on
};

// The CPUs the ring buffer has (per_cpu/cpuN), in order.
std::vector<int> ring_buffer_cpus(const std::string& tracing_dir) {
  std::vector<int> cpus;
  if (auto names = list_directory(tracing_dir + "/per_cpu"))
    for (const std::string& name : *names) {
      if (!starts_with(name, "cpu")) continue;
      if (auto n = parse_int(std::string_view(name).substr(3)); n && *n >= 0)
        cpus.push_back(static_cast<int>(*n));
    }
  std::sort(cpus.begin(), cpus.end());
  return cpus;
}

// per_cpu/cpuN/stats: "overrun: 5" (pages overwritten before they were read) and "dropped
// events: 0" (events refused while the buffer was full).
CpuLoss read_cpu_loss(tracefs_instance* instance, int cpu) {
  CpuLoss loss;
  loss.cpu = cpu;
  std::string file = "per_cpu/cpu" + std::to_string(cpu) + "/stats";
  const CString text(ps_tracefs_read(instance, file.c_str()));
  if (!text) return loss;
  std::string_view all(text.get());
  for_each_line(all, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view key = trim(line.substr(0, colon));
    auto value = parse_int(trim(line.substr(colon + 1)));
    if (!value) return;
    if (key == "overrun") loss.overrun = *value;
    if (key == "dropped events") loss.dropped = *value;
  });
  return loss;
}

// The threads of a process: set_ftrace_pid filters by thread, and -p means the whole process.
std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> out;
  if (auto names = list_directory("/proc/" + std::to_string(pid) + "/task"))
    for (const std::string& name : *names)
      if (auto n = parse_int(name); n && *n > 0) out.push_back(static_cast<pid_t>(*n));
  if (out.empty()) out.push_back(pid);
  std::sort(out.begin(), out.end());
  return out;
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// The kernel's files that make the session usable elsewhere, read before anything changes.
Result<KernelSnapshot> snapshot_kernel(const KernelPaths& paths, const std::string& tracing_dir) {
  KernelSnapshot k;
  k.release = running_release();
  auto kallsyms = read_whole_file(paths.kallsyms);
  if (!kallsyms)
    return runtime_error("cannot read the kernel's symbols", paths.kallsyms,
                         kallsyms.error().err_no,
                         "run as root: call trees name functions through kallsyms");
  k.kallsyms_path = paths.kallsyms;
  k.kallsyms_text = std::move(*kallsyms);
  if (auto f = read_whole_file(tracing_dir + "/available_filter_functions"))
    k.filter_functions_text = std::move(*f);
  else
    k.notes.push_back("available_filter_functions not saved: " + f.error().message());
  std::string blacklist = paths.kprobe_blacklist;
  if (::access(blacklist.c_str(), R_OK) != 0 && starts_with(blacklist, "/sys/kernel/debug/"))
    detail::find_debugfs(paths.mounts);  // mounts it privately when it is not mounted
  if (auto b = read_whole_file(blacklist))
    k.kprobe_blacklist_text = std::move(*b);
  else
    k.notes.push_back("kprobe blacklist not saved: " + b.error().message());
  if (::access(paths.btf.c_str(), R_OK) == 0)
    k.btf_path = paths.btf;
  else
    k.notes.push_back("no BTF saved: " + paths.btf + ": " + std::strerror(errno));
  if (auto clock = read_whole_file(tracing_dir + "/trace_clock")) {
    // "[local] global counter ..." -> "local"
    size_t open = clock->find('['), close = clock->find(']');
    if (open != std::string::npos && close > open)
      k.trace_clock = clock->substr(open + 1, close - open - 1);
  }
  return k;
}

Status validate(const RecordOptions& o) {
  if (o.command.empty() && o.pids.empty())
    return bad_input("nothing to record", "",
                     "give a command after '--' (probeseek record -- curl http://host/) or "
                     "-p PID of a running process");
  if (!o.command.empty() && !o.pids.empty())
    return bad_input("-p and a command do not go together", "",
                     "record a command, or running processes, not both");
  if (!o.user.empty()) {
    if (o.command.empty())
      return bad_input("--user goes with a command", "",
                       "probeseek record --user USER -- CMD ARGS runs CMD as USER");
    if (auto as = resolve_run_as(o.user); !as) return tl::unexpected(as.error());
  }
  for (pid_t pid : o.pids)
    if (pid <= 0 || !process_exists(pid))
      return bad_input("no such process", "pid " + std::to_string(pid),
                       "list running processes with 'ps -e'");
  if (o.duration_s && !(*o.duration_s > 0 && std::isfinite(*o.duration_s)))
    return bad_input("--duration must be a positive number of seconds");
  if (o.max_depth && *o.max_depth < 1) return bad_input("--max-depth must be at least 1");
  if (o.buffer_size_kb && *o.buffer_size_kb < 4)
    return bad_input("--buffer-size must be at least 4 (KB per CPU)");
  for (const std::string& f : o.graph_functions)
    if (!is_kernel_symbol_name(f))
      return bad_input("not a kernel function name", f,
                       "names are letters, digits, '_' and '.'; see available_filter_functions");
  return {};
}

}  // namespace

Result<Recording> record(const RecordOptions& options) {
  auto progress = [&](const std::string& text) {
    if (options.progress) options.progress(text);
  };
  if (auto s = validate(options); !s) return tl::unexpected(s.error());

  // Fail fast, before anything changes, when this kernel cannot do it at all.
  bool private_mount = false;
  std::string tracing_dir = options.paths.tracing_dir;
  if (tracing_dir.empty()) {
    auto found = detail::find_tracefs(options.paths.mounts, &private_mount);
    if (!found) return tl::unexpected(found.error());
    tracing_dir = *found;
  }
  if (private_mount)
    progress("tracefs was not mounted: mounted it at " + tracing_dir +
             " for probeseek only (a private mount namespace)");
  auto tracers = read_whole_file(tracing_dir + "/available_tracers");
  if (!tracers) {
    Error e = tracers.error();
    e.what = "cannot read the kernel's tracers (" + e.what + ")";
    e.hint = "run as root; 'probeseek doctor' shows what this kernel offers";
    return tl::unexpected(e);
  }
  if (!detail::has_word(*tracers, "function_graph"))
    return runtime_error(
        "this kernel has no function_graph tracer (available_tracers: " +
            std::string(trim(*tracers)) + ")",
        tracing_dir + "/available_tracers", 0,
        "it needs CONFIG_FUNCTION_GRAPH_TRACER; record on a kernel that has it and bring the "
        "trace here with 'probeseek import' (trace-cmd record -p function_graph -F CMD), or "
        "use the kernel lab (tests/lab, docs/lab.md); 'probeseek doctor' lists what is missing");
  if (::geteuid() != 0)
    return runtime_error("recording needs root", tracing_dir, EPERM,
                         "run it with sudo, or import a trace recorded elsewhere");
  if (ps_tracefs_use_dir(tracing_dir.c_str()) != 0)
    return runtime_error("libtracefs does not accept the tracing directory", tracing_dir, errno);

  auto kernel = snapshot_kernel(options.paths, tracing_dir);
  if (!kernel) return tl::unexpected(kernel.error());

  auto spill = detail::SpillDir::create(options.spill_dir);
  if (!spill) return tl::unexpected(spill.error());
  auto impl = std::make_unique<Recording::Impl>(Recording::Impl{std::move(*spill)});
  impl->kernel = std::move(*kernel);
  impl->recorder_pid = ::getpid();
  impl->description = options.command.empty() ? "pid " : join(options.command, " ");
  if (options.command.empty())
    for (size_t i = 0; i < options.pids.size(); ++i)
      impl->description += (i ? " " : "") + std::to_string(options.pids[i]);

  // From here on the kernel changes: signals only stop the recording, the guard restores.
  auto signals = std::make_shared<detail::SignalGuard>();
  impl->signal_guard = signals;
  auto interrupted = [&]() -> Status {
    if (int sig = detail::stop_signal())
      return runtime_error("interrupted by " + detail::signal_name(sig) +
                               " before recording started; nothing was recorded",
                           "", 0, "the tracing state was restored");
    return {};
  };

  auto guard = KernelStateGuard::create(options.paths.state_dir, tracing_dir);
  if (!guard) return tl::unexpected(guard.error());
  if (auto s = guard->note_spill_dir(impl->spill.path()); !s) return tl::unexpected(s.error());

  // A private instance keeps us out of everyone's way, when it can run function_graph (6.12
  // instances can, 6.1's cannot). set_graph_function and max_graph_depth exist only at the top.
  bool needs_top = !options.graph_functions.empty() || options.max_depth.has_value();
  TracefsInstance instance;
  if (!needs_top) {
    std::string name = "probeseek-" + std::to_string(::getpid());
    if (auto s = guard->note_instance(name); !s) return tl::unexpected(s.error());
    instance.reset(ps_tracefs_instance_create(name.c_str()));
    if (!instance) {
      int e = errno;
      // Not ours (it may be someone else's of that name): the restore must not remove it.
      (void)guard->note_instance("");
      return runtime_error("cannot create a tracing instance", tracing_dir + "/instances/" + name,
                           e);
    }
    const CString available(ps_tracefs_read(instance.get(), "available_tracers"));
    bool has_graph = available && detail::has_word(available.get(), "function_graph");
    if (has_graph) {
      impl->instance = name;
      progress("using private tracing instance " + name);
    } else {
      instance.reset();
      if (::rmdir((tracing_dir + "/instances/" + name).c_str()) != 0)
        return runtime_error("cannot remove the tracing instance",
                             tracing_dir + "/instances/" + name, errno);
      if (auto s = guard->note_instance(""); !s) return tl::unexpected(s.error());
      progress(
          "this kernel's tracing instances cannot run function_graph: using the top-level "
          "instance (its settings are saved and restored)");
    }
  } else {
    progress(
        "using the top-level tracing instance (--graph-function and --max-depth exist "
        "only there); its settings are saved and restored");
  }
  bool top = !instance;
  if (top) {
    auto use = detail::top_level_users(tracing_dir, options.paths.state_dir);
    if (!use.killed_recordings.empty())
      return runtime_error("a killed probeseek recording left the tracing state changed",
                           join(use.killed_recordings, ", "), 0,
                           "run 'probeseek reset' to restore it, then record again");
    if (!use.others.empty() && !options.force)
      return runtime_error(
          "someone else is using the top-level tracing instance: " + join(use.others, "; "),
          tracing_dir, 0,
          std::string("nothing was changed; stop the other tracing first (e.g. 'trace-cmd reset'), "
                      "or pass --force to record anyway (probeseek puts their settings back "
                      "afterwards)") +
              (needs_top ? "; without --graph-function and --max-depth probeseek uses a private "
                           "instance where the kernel allows it"
                         : ""));
    if (!use.others.empty()) progress("--force: recording although " + join(use.others, "; "));
  }

  // Set a file of our instance; at the top level, save it first.
  auto set = [&](const std::string& file, const std::string& value) -> Status {
    if (top)
      if (auto s = guard->save(file); !s) return s;
    if (ps_tracefs_write(instance.get(), file.c_str(), value.c_str()) != 0) {
      int e = errno;
      std::string where = tracing_dir + (top ? "" : "/instances/" + impl->instance) + "/" + file;
      return runtime_error("cannot write '" + value + "' to " + file, where, e,
                           file == "set_graph_function"
                               ? "each --graph-function must be in available_filter_functions"
                               : "");
    }
    return {};
  };
  auto fail = [](const Status& s) { return tl::unexpected(s.error()); };

  std::optional<HeldChild> command;
  std::vector<pid_t> traced;
  if (!options.command.empty()) {
    HeldChildOptions held;
    if (!options.user.empty()) {
      auto resolved = resolve_run_as(options.user);
      if (!resolved) return tl::unexpected(resolved.error());
      held.as = std::move(*resolved);
    }
    auto child = HeldChild::spawn(options.command, held);
    if (!child) return tl::unexpected(child.error());
    command.emplace(std::move(*child));
    traced.push_back(command->pid());
  } else {
    for (pid_t pid : options.pids)
      for (pid_t tid : threads_of(pid)) traced.push_back(tid);
  }
  std::string pid_list;
  for (pid_t pid : traced) pid_list += (pid_list.empty() ? "" : " ") + std::to_string(pid);

  if (auto s = set("tracing_on", "0"); !s) return fail(s);
  int wanted_kb = options.buffer_size_kb.value_or(RecordOptions::kDefaultBufferKb);
  {
    const CString size(ps_tracefs_read(instance.get(), "buffer_size_kb"));
    std::string current = size ? detail::restore_text_for("buffer_size_kb", size.get()) : "";
    auto current_kb = parse_int(current);
    if (options.buffer_size_kb || !current_kb || *current_kb < wanted_kb)
      if (auto s = set("buffer_size_kb", std::to_string(wanted_kb)); !s) return fail(s);
  }
  if (auto s = set("options/function-fork", "1"); !s) return fail(s);
  if (options.max_depth)
    if (auto s = set("max_graph_depth", std::to_string(*options.max_depth)); !s) return fail(s);
  if (!options.graph_functions.empty())
    if (auto s = set("set_graph_function", join(options.graph_functions, " ")); !s) return fail(s);
  if (auto s = set("set_ftrace_pid", pid_list); !s) return fail(s);
  if (auto s = interrupted(); !s) return fail(s);
  progress(
      "switching current_tracer to function_graph (the kernel patches every traceable "
      "function: seconds, longer under emulation)");
  if (auto s = set("current_tracer", "function_graph"); !s) return fail(s);
  if (auto s = interrupted(); !s) return fail(s);

  std::vector<CpuSpill> spills;
  for (int cpu : ring_buffer_cpus(tracing_dir)) {
    CpuSpill c;
    c.cpu = cpu;
    c.reader.reset(ps_tracefs_cpu_open(instance.get(), cpu));
    if (!c.reader)
      return runtime_error("cannot open the ring buffer of CPU " + std::to_string(cpu),
                           "per_cpu/cpu" + std::to_string(cpu) + "/trace_pipe_raw", errno);
    std::string file = impl->spill.file(cpu);
    c.file = Fd(::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (c.file.get() < 0) return runtime_error("cannot create a spill file", file, errno);
    c.before = read_cpu_loss(instance.get(), cpu);
    spills.push_back(std::move(c));
  }
  if (spills.empty()) return runtime_error("the ring buffer has no CPUs", tracing_dir + "/per_cpu");
  impl->cpus = spills.back().cpu + 1;
  impl->page_size = ps_tracefs_cpu_page_size(spills.front().reader.get());

  // Drains what every CPU has ready; an error names the CPU.
  auto drain = [&]() -> Status {
    for (CpuSpill& c : spills) {
      for (;;) {
        int n = ps_tracefs_cpu_splice_to(c.reader.get(), c.file.get());
        if (n < 0)
          return runtime_error("cannot move ring-buffer pages of CPU " + std::to_string(c.cpu) +
                                   " to the spill file",
                               impl->spill.file(c.cpu), errno);
        if (n == 0) break;
        c.bytes += static_cast<uint64_t>(n);
      }
    }
    return {};
  };

  if (ps_tracefs_trace_on(instance.get()) != 0)
    return runtime_error("cannot switch tracing on", "tracing_on", errno);
  auto started = std::chrono::steady_clock::now();
  if (command) {
    if (auto s = command->release(); !s) return fail(s);
  }
  std::string who = command                               ? " (pid " + pid_list + ")"
                    : traced.size() > options.pids.size() ? " (threads " + pid_list + ")"
                                                          : "";
  progress("recording " + impl->description + who + "; Ctrl-C stops and keeps the data");

  for (;;) {
    if (auto s = drain(); !s) return fail(s);
    if (int sig = detail::stop_signal()) {
      impl->stopped_by = detail::signal_name(sig);
      // The command would have had it too from a terminal; a kill aimed at us reaches it here.
      if (command && !command->exited()) ::kill(command->pid(), sig);
      break;
    }
    if (command && command->exited()) {
      impl->stopped_by = "command exited";
      break;
    }
    if (!command && std::none_of(options.pids.begin(), options.pids.end(), process_exists)) {
      impl->stopped_by = "the traced processes exited";
      break;
    }
    int timeout_ms = 50;
    if (options.duration_s) {
      double left =
          *options.duration_s -
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (left <= 0) {
        impl->stopped_by = "duration";
        if (command && !command->exited())
          progress(
              "the duration is over; the command keeps running, and probeseek waits for it "
              "to exit once the recording is saved");
        break;
      }
      timeout_ms = std::min(timeout_ms, static_cast<int>(left * 1000) + 1);
    }
    detail::wait_for_wakeup(timeout_ms);
  }

  // Stop, then take what is left: the partly filled pages only a read() returns.
  ps_tracefs_trace_off(instance.get());
  if (auto s = drain(); !s) return fail(s);
  std::vector<char> page(static_cast<size_t>(std::max(impl->page_size, 4096)));
  for (CpuSpill& c : spills) {
    for (;;) {
      int n = ps_tracefs_cpu_flush(c.reader.get(), page.data());
      if (n <= 0) break;
      // Pages stay page-sized in the file, whatever the read returned.
      std::fill(page.begin() + n, page.end(), 0);
      if (::write(c.file.get(), page.data(), page.size()) != static_cast<ssize_t>(page.size()))
        return runtime_error("cannot write the spill file", impl->spill.file(c.cpu), errno);
      c.bytes += page.size();
    }
    CpuLoss after = read_cpu_loss(instance.get(), c.cpu);
    CpuLoss lost{c.cpu, after.overrun - c.before.overrun, after.dropped - c.before.dropped};
    if (lost.overrun > 0 || lost.dropped > 0) impl->losses.push_back(lost);
    impl->bytes += c.bytes;
    if (c.bytes > 0) impl->cpus_with_data.push_back(c.cpu);
  }

  // What decoding needs from tracefs, while it is there: the event formats and the comms.
  impl->tep.reset(ps_tracefs_funcgraph_events());
  if (!impl->tep)
    return runtime_error("cannot read the function_graph event formats",
                         tracing_dir + "/events/ftrace/funcgraph_entry/format", errno);
  ps_tracefs_load_cmdlines(tracing_dir.c_str(), impl->tep.get());
  if (tep_parse_kallsyms(impl->tep.get(), impl->kernel.kallsyms_text.c_str()) < 0)
    return runtime_error("cannot load the kernel's symbols into libtraceevent",
                         options.paths.kallsyms);

  // Put the kernel back before anything else can fail.
  spills.clear();
  instance.reset();
  progress("restoring the tracing state (switching the tracer off takes a few seconds)");
  detail::RestoreReport restored = guard->restore();
  if (!restored.failures.empty()) {
    Error e = restored.failures.front();
    e.hint = "the recording is lost; run 'probeseek reset' to finish restoring (" +
             std::to_string(restored.failures.size()) + " file(s) could not be restored)";
    return tl::unexpected(e);
  }
  if (command) impl->command.emplace(std::move(*command));
  impl->state.emplace(std::move(*guard));
  return Recording(std::move(impl));
}

// ---- Recording ----

Recording::Recording(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Recording::~Recording() = default;
Recording::Recording(Recording&&) noexcept = default;
Recording& Recording::operator=(Recording&&) noexcept = default;
const KernelSnapshot& Recording::kernel() const {
  return impl_->kernel;
}
const std::vector<CpuLoss>& Recording::losses() const {
  return impl_->losses;
}
std::string Recording::instance() const {
  return impl_->instance;
}
std::string Recording::description() const {
  return impl_->description;
}
std::string Recording::stopped_by() const {
  return impl_->stopped_by;
}
uint64_t Recording::bytes() const {
  return impl_->bytes;
}

std::optional<int> Recording::wait_command() {
  if (!impl_->command) return std::nullopt;
  return impl_->command->wait();
}

}  // namespace probeseek
