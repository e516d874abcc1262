// `probeseek doctor`: what the running kernel offers probeseek, and for each missing piece what
// probeseek cannot do and what to do instead. It changes nothing that outlives it: tracefs and
// debugfs are mounted in a private mount namespace when they are not mounted, and the one
// active probe (can the function tracer run?) happens in a private instance it removes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "kernel_state.h"
#include "probeseek/c_string.h"
#include "probeseek/line_reader.h"
#include "probeseek/record.h"
#include "probeseek/text.h"
#include "tracefs_shim.h"

namespace probeseek {

std::string_view to_string(DoctorCheck::Status status) {
  switch (status) {
    case DoctorCheck::Status::kOk:
      return "ok";
    case DoctorCheck::Status::kMissing:
      return "missing";
    case DoctorCheck::Status::kUnknown:
      return "unknown";
  }
  return "unknown";
}

namespace {

using Status_ = DoctorCheck::Status;

constexpr const char* kLab = "the kernel lab (tests/lab, docs/lab.md)";

DoctorCheck check(std::string feature, Status_ status, std::string detail, std::string cannot = {},
                  std::string instead = {}) {
  return DoctorCheck{std::move(feature), status, std::move(detail), std::move(cannot),
                     std::move(instead)};
}

std::optional<std::string> read_trimmed(const std::string& path) {
  auto text = read_whole_file(path);
  if (!text) return std::nullopt;
  return std::string(trim(*text));
}

bool filesystem_known(const KernelPaths& paths, std::string_view type) {
  auto text = read_whole_file(paths.filesystems);
  if (!text) return false;
  bool known = false;
  for_each_line(*text, [&](std::string_view line) {
    auto f = split_ws(line);
    known |= !f.empty() && f.back() == type;
  });
  return known;
}

// kallsyms: how many symbols, whether addresses show, whether data symbols are listed, and
// whether the BPF trampoline code (fentry) is in this kernel.
struct KallsymsFacts {
  bool readable = false;
  size_t symbols = 0;
  size_t text_symbols = 0;
  size_t data_symbols = 0;
  bool addresses = false;
  bool trampolines = false;
};

KallsymsFacts kallsyms_facts(const std::string& path) {
  KallsymsFacts k;
  auto reader = LineReader::open(path);
  if (!reader) return k;
  k.readable = true;
  std::string_view line;
  while (reader->next(line)) {
    auto f = split_ws(line);
    if (f.size() < 3) continue;
    ++k.symbols;
    if (!k.addresses) {
      auto a = parse_hex(f[0]);
      k.addresses = a && *a != 0;
    }
    char type = f[1].empty() ? '?' : f[1][0];
    if (std::strchr("dDbBrR", type)) ++k.data_symbols;
    if (std::strchr("tTwW", type)) ++k.text_symbols;
    if (f[2] == "arch_prepare_bpf_trampoline" || f[2] == "bpf_trampoline_link_prog")
      k.trampolines = true;
  }
  return k;
}

// Tries the function tracer in a private instance, then removes it: the only way to know
// whether the kernel lets ftrace filter and patch function entries (a restricted kernel lists the
// tracer and refuses it). First a one-function set_ftrace_filter (a restricted kernel refuses
// that already); then the tracer itself, on that one call site -- but only when the top-level
// buffer is already expanded: on 6.1 the first tracer set anywhere marks every buffer as
// expanded, which would leave the top level's unused 7 KB buffer at 7 KB for good. An empty
// string means it worked; `switched_on` says how far the probe went.
std::optional<std::string> try_function_tracer(const std::string& tracing_dir, bool* switched_on) {
  *switched_on = false;
  std::string name = "probeseek-" + std::to_string(::getpid());
  tracefs_instance* instance = ps_tracefs_instance_create(name.c_str());
  if (!instance) return std::nullopt;
  std::string result;
  auto functions = LineReader::open(tracing_dir + "/available_filter_functions");
  std::string_view first;
  std::string function;
  if (functions && functions->next(first) && !split_ws(first).empty())
    function = std::string(split_ws(first).front());
  auto top_buffer = read_trimmed(tracing_dir + "/buffer_size_kb");
  bool top_expanded = top_buffer && top_buffer->find("expanded") == std::string::npos;
  if (function.empty() || ps_tracefs_write(instance, "set_ftrace_filter", function.c_str()) != 0) {
    result = std::string("cannot set set_ftrace_filter: ") + std::strerror(errno);
  } else if (top_expanded) {
    if (ps_tracefs_write(instance, "current_tracer", "function") != 0)
      result =
          std::string("the kernel refused 'function' in current_tracer: ") + std::strerror(errno);
    else
      *switched_on = true;
    ps_tracefs_write(instance, "current_tracer", "nop");
  }
  ps_tracefs_instance_free(instance);
  ::rmdir((tracing_dir + "/instances/" + name).c_str());
  return result;
}

}  // namespace

std::vector<DoctorCheck> doctor(const KernelPaths& paths, const FentryProbe& fentry_probe) {
  std::vector<DoctorCheck> out;
  bool root = ::geteuid() == 0;
  out.push_back(
      root ? check("root", Status_::kOk, "running as root")
           : check("root", Status_::kMissing, "running as uid " + std::to_string(::getuid()),
                   "record, read kallsyms addresses, /proc/kcore and the kprobe blacklist",
                   "run probeseek as root (sudo)"));

  // tracefs
  std::string tracing_dir = paths.tracing_dir;
  if (tracing_dir.empty()) {
    auto mounted = detail::mount_point_of(paths.mounts, "tracefs");
    if (mounted) {
      tracing_dir = *mounted;
      out.push_back(check("tracefs", Status_::kOk, "mounted at " + tracing_dir));
    } else if (filesystem_known(paths, "tracefs")) {
      bool privately = false;
      auto found = detail::find_tracefs(paths.mounts, &privately);
      if (found) {
        tracing_dir = *found;
        out.push_back(check("tracefs", Status_::kOk,
                            "not mounted; mountable (probeseek mounts it at " + tracing_dir +
                                " for itself while it runs)"));
      } else {
        out.push_back(check("tracefs", Status_::kMissing,
                            "not mounted, and mounting failed: " + found.error().message(),
                            "record", found.error().hint));
      }
    } else {
      out.push_back(
          check("tracefs", Status_::kMissing, "this kernel has no tracefs",
                "record anything live (tracepoints, function tracing)",
                "record on another machine and 'probeseek import' the trace.dat, or use " +
                    std::string(kLab)));
    }
  } else {
    out.push_back(check("tracefs", Status_::kOk, "given: " + tracing_dir));
  }
  if (!tracing_dir.empty()) ps_tracefs_use_dir(tracing_dir.c_str());

  // Tracers
  std::optional<std::string> tracers =
      tracing_dir.empty() ? std::nullopt : read_trimmed(tracing_dir + "/available_tracers");
  bool has_graph = tracers && detail::has_word(*tracers, "function_graph");
  if (!tracers) {
    out.push_back(check("function_graph tracer", Status_::kUnknown,
                        "cannot read available_tracers" + std::string(root ? "" : " (needs root)"),
                        "", root ? "" : "run probeseek doctor as root"));
  } else if (has_graph) {
    out.push_back(check("function_graph tracer", Status_::kOk, "available_tracers: " + *tracers));
  } else {
    out.push_back(check("function_graph tracer", Status_::kMissing,
                        "available_tracers: " + *tracers,
                        "probeseek record (call trees need function_graph: "
                        "CONFIG_FUNCTION_GRAPH_TRACER is off)",
                        "record where it exists (trace-cmd record -p function_graph -F CMD) and "
                        "'probeseek import' the trace.dat, or use " +
                            std::string(kLab)));
  }
  if (has_graph && root) {
    std::string name = "probeseek-" + std::to_string(::getpid());
    tracefs_instance* instance = ps_tracefs_instance_create(name.c_str());
    if (!instance) {
      out.push_back(check("function_graph in private instances", Status_::kUnknown,
                          std::string("cannot create an instance: ") + std::strerror(errno)));
    } else {
      const CString available(ps_tracefs_read(instance, "available_tracers"));
      bool in_instance = available && detail::has_word(available.get(), "function_graph");
      std::string listed = available ? std::string(trim(available.get())) : "?";
      ps_tracefs_instance_free(instance);
      ::rmdir((tracing_dir + "/instances/" + name).c_str());
      out.push_back(in_instance
                        ? check("function_graph in private instances", Status_::kOk,
                                "instances offer: " + listed + " (record uses its own instance)")
                        : check("function_graph in private instances", Status_::kMissing,
                                "instances offer only: " + listed,
                                "record next to other tracing users: record uses the top-level "
                                "instance, refuses while someone else traces, and restores its "
                                "settings afterwards",
                                "stop other tracing first, or pass --force"));
    }
  }
  if (tracers && detail::has_word(*tracers, "function")) {
    bool switched_on = false;
    std::optional<std::string> tried =
        root ? try_function_tracer(tracing_dir, &switched_on) : std::nullopt;
    if (!tried)
      out.push_back(check("function tracer", Status_::kUnknown, "listed; not tried (needs root)"));
    else if (tried->empty())
      out.push_back(check("function tracer", Status_::kOk,
                          switched_on ? "listed, and runs (tried on one function)"
                                      : "listed, and accepts a function filter (not switched on: "
                                        "that would expand the unused trace buffers)"));
    else
      out.push_back(check(
          "function tracer", Status_::kMissing, "listed, but " + *tried,
          "trace function entries live: the kernel refuses to patch them, so "
          "fentry and kprobe attachment are likely refused too",
          "record and attach on a kernel without that restriction, e.g. " + std::string(kLab)));
  } else if (tracers) {
    out.push_back(check("function tracer", Status_::kMissing, "not in available_tracers",
                        "trace function entries live (CONFIG_FUNCTION_TRACER is off)",
                        "use " + std::string(kLab)));
  }

  // kprobes: the check attach makes (the kprobe PMU), on the tracefs found above.
  KernelPaths here = paths;
  here.tracing_dir = tracing_dir;
  const KprobeSupport kprobes = kprobe_support(here);
  out.push_back(kprobes.available ? check("kprobes", Status_::kOk,
                                          "kprobe PMU: " + paths.kprobe_pmu + " exists" +
                                              (kprobes.events_file ? "; kprobe_events too" : ""))
                                  : check("kprobes", Status_::kMissing, kprobes.why_not,
                                          "kprobe/kretprobe probes (attach, verify)",
                                          "fentry/fexit probes where BPF trampolines work, or " +
                                              std::string(kLab)));
  std::string blacklist = paths.kprobe_blacklist;
  if (::access(blacklist.c_str(), R_OK) != 0 && starts_with(blacklist, "/sys/kernel/debug/"))
    detail::find_debugfs(paths.mounts);
  if (auto b = read_whole_file(blacklist)) {
    size_t lines = static_cast<size_t>(std::count(b->begin(), b->end(), '\n'));
    out.push_back(check("kprobe blacklist", Status_::kOk,
                        blacklist + ": " + std::to_string(lines) + " entries"));
  } else {
    out.push_back(check("kprobe blacklist", Status_::kMissing, b.error().message(),
                        "mark the functions kprobes refuse in rank/explain",
                        kprobes.events_file
                            ? "mount debugfs (mount -t debugfs none /sys/kernel/debug) "
                              "and run as root"
                            : "import --kprobe-blacklist FILE from the traced machine"));
  }

  // BTF, kallsyms, fentry
  struct stat st {};
  bool btf = ::stat(paths.btf.c_str(), &st) == 0 && ::access(paths.btf.c_str(), R_OK) == 0;
  out.push_back(
      btf ? check("BTF", Status_::kOk, paths.btf + ": " + std::to_string(st.st_size) + " bytes")
          : check("BTF", Status_::kMissing, paths.btf + ": " + std::strerror(errno),
                  "prototypes for --arg, ops tables, CO-RE probes",
                  "pass --btf FILE (the traced kernel's BTF, or a vmlinux with .BTF)"));
  KallsymsFacts k = kallsyms_facts(paths.kallsyms);
  if (!k.readable)
    out.push_back(check("kallsyms", Status_::kMissing, "cannot read " + paths.kallsyms,
                        "name recorded functions, locate ops tables",
                        "import --kallsyms FILE from the traced machine"));
  else if (!k.addresses)
    out.push_back(check("kallsyms", Status_::kMissing,
                        std::to_string(k.symbols) + " symbols, addresses hidden (kptr_restrict)",
                        "name recorded functions, locate ops tables in kernel memory",
                        "run as root, or sysctl kernel.kptr_restrict=0"));
  // Without CONFIG_KALLSYMS_ALL only a few dozen section markers (__start_*, _sdata) are data
  // symbols; with it, the kernel's objects number in the tens of thousands.
  else if (k.data_symbols < 1000)
    out.push_back(check(
        "kallsyms", Status_::kMissing,
        std::to_string(k.symbols) + " symbols with addresses: " + std::to_string(k.text_symbols) +
            " text, only " + std::to_string(k.data_symbols) +
            " data (no CONFIG_KALLSYMS_ALL: ops tables are not listed)",
        "verify ops-table membership from live kernel memory (tables are data "
        "symbols)",
        "explain --vmlinux FILE (a vmlinux with symbols, e.g. from the -dbg package)"));
  else
    out.push_back(check("kallsyms", Status_::kOk,
                        std::to_string(k.symbols) +
                            " symbols with addresses: " + std::to_string(k.text_symbols) +
                            " text, " + std::to_string(k.data_symbols) + " data (complete)"));
  // The code being there is not the kernel letting it run (lockdown refuses the load): when it
  // can, doctor asks the kernel by loading a program, exactly as attach will.
  bool fentry = btf && k.trampolines;
  std::optional<std::string> refused;
  if (fentry_probe && (btf || k.trampolines)) {
    refused = fentry_probe();
    fentry = !refused;
  }
  const std::string instead = kprobes.available ? "kprobes" : std::string("use ") + kLab;
  if (fentry)
    out.push_back(check("fentry (BPF trampolines)", Status_::kOk,
                        fentry_probe ? "an fentry program loads and attaches"
                                     : "BTF and the BPF trampoline code are present"));
  else if (refused)
    out.push_back(check("fentry (BPF trampolines)", Status_::kMissing, *refused,
                        "fentry/fexit probes", instead));
  else
    out.push_back(check(
        "fentry (BPF trampolines)", k.readable ? Status_::kMissing : Status_::kUnknown,
        btf ? "no BPF trampoline code in kallsyms" : "no BTF", "fentry/fexit probes", instead));

  // Kernel memory
  int kcore = ::open(paths.kcore.c_str(), O_RDONLY | O_CLOEXEC);
  if (kcore >= 0) {
    ::close(kcore);
    out.push_back(check("/proc/kcore", Status_::kOk, paths.kcore + " opens"));
  } else {
    out.push_back(check("/proc/kcore", Status_::kMissing, paths.kcore + ": " + std::strerror(errno),
                        "verify ops-table membership from live kernel memory",
                        "explain --vmlinux FILE (reads the tables from a vmlinux with symbols)"));
  }
  if (::access(paths.lockdown.c_str(), R_OK) != 0 &&
      starts_with(paths.lockdown, "/sys/kernel/security/"))
    detail::find_or_mount(paths.mounts, "securityfs", "/sys/kernel/security");
  const Lockdown lockdown = read_lockdown(paths);
  if (!lockdown.readable) {
    out.push_back(check("lockdown", Status_::kUnknown,
                        paths.lockdown + " not readable (securityfs not mounted?)"));
  } else if (lockdown.mode == "none") {
    out.push_back(check("lockdown", Status_::kOk, lockdown.text));
  } else {
    out.push_back(
        check("lockdown", Status_::kMissing, "locked down: " + lockdown.text,
              lockdown.mode == "confidentiality"
                  ? "read kernel memory (/proc/kcore, bpf_probe_read_kernel), kprobes"
                  : "some kernel features (unsigned modules, /dev/mem; BPF writes to user memory)",
              "a kernel booted without lockdown, e.g. " + std::string(kLab)));
  }
  return out;
}

}  // namespace probeseek
