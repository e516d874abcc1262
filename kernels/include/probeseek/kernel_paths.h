// The running kernel: where its files are, and what it lets probeseek do. This is the one place
// that names them: record, reset, doctor, attach, verify, rank, explain and `kernels add live`
// take a KernelPaths, every path a parameter with the live default, so tests point them at
// fixtures (or at nothing, to play a kernel without a feature). The feature checks here are the
// ones every command shares, so doctor and attach give the same answer on the same machine.
#pragma once

#include <string>
#include <string_view>

namespace probeseek {

struct KernelPaths {
  // The tracefs mount. Empty: the mounted one, else one probeseek mounts privately (record,
  // doctor); files of it read without mounting (attach) are then looked for at the usual place.
  std::string tracing_dir;
  std::string state_dir = "/run/probeseek";  // probeseek's state files of running recordings
  std::string kallsyms = "/proc/kallsyms";
  std::string btf = "/sys/kernel/btf/vmlinux";  // module BTF lies beside it (/sys/kernel/btf/M)
  std::string kcore = "/proc/kcore";
  std::string notes = "/sys/kernel/notes";  // ELF notes: the build id
  std::string kprobe_blacklist = "/sys/kernel/debug/kprobes/blacklist";
  std::string kprobe_pmu = "/sys/bus/event_source/devices/kprobe/type";
  std::string kernel_config = "/proc/config.gz";
  std::string lockdown = "/sys/kernel/security/lockdown";
  std::string mounts = "/proc/self/mounts";
  std::string filesystems = "/proc/filesystems";

  static constexpr const char* kUsualTracingDir = "/sys/kernel/tracing";
  // A file of tracefs: tracing_dir/NAME, or under kUsualTracingDir when tracing_dir is empty.
  std::string tracing_file(std::string_view name) const;
};

// The lockdown LSM's state: the file reads "none [integrity] confidentiality".
struct Lockdown {
  bool readable = false;  // false: no such file (securityfs not mounted, or no lockdown LSM)
  std::string text;       // the file's line, trimmed
  std::string mode;       // the bracketed mode: "none", "integrity", "confidentiality", or ""
};
Lockdown read_lockdown(const KernelPaths& paths);
std::string lockdown_mode_of(std::string_view text);  // the bracketed word, "" if none

// Can kprobes be attached the way probeseek attaches them: as bpf_link fds through the kprobe
// PMU (perf_event_open), which the kernel removes when the fd closes? A kernel that only has the
// legacy kprobe_events file would leave a probe behind a killed process, so it does not count.
// When not available, `why_not` says what the kernel lacks, precisely enough to act on.
struct KprobeSupport {
  bool available = false;
  bool events_file = false;  // tracefs has kprobe_events (the legacy interface)
  std::string why_not;
};
KprobeSupport kprobe_support(const KernelPaths& paths);

// "y", "m", "n" (explicitly not set) or "" (no config to read, or not mentioned) for CONFIG_NAME in
// a kernel config file (plain or .gz, as /proc/config.gz).
std::string kernel_config_value(const std::string& config_path, const std::string& name);

}  // namespace probeseek
