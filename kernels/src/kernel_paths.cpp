#include "probeseek/kernel_paths.h"

#include <unistd.h>

#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek {

namespace {

bool exists(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), F_OK) == 0;
}

}  // namespace

std::string KernelPaths::tracing_file(std::string_view name) const {
  return (tracing_dir.empty() ? std::string(kUsualTracingDir) : tracing_dir) + "/" +
         std::string(name);
}

std::string lockdown_mode_of(std::string_view text) {
  const size_t open = text.find('[');
  const size_t close = text.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return "";
  return std::string(text.substr(open + 1, close - open - 1));
}

Lockdown read_lockdown(const KernelPaths& paths) {
  Lockdown l;
  auto text = read_whole_file(paths.lockdown);
  if (!text) return l;
  l.readable = true;
  l.text = std::string(trim(*text));
  l.mode = lockdown_mode_of(l.text);
  return l;
}

std::string kernel_config_value(const std::string& config_path, const std::string& name) {
  auto reader = LineReader::open(config_path);
  if (!reader) return "";
  std::string_view line;
  const std::string set = name + "=";
  const std::string unset = "# " + name + " is not set";
  while (reader->next(line)) {
    if (starts_with(line, set)) return std::string(line.substr(set.size()));
    if (line == unset) return "n";
  }
  return "";
}

KprobeSupport kprobe_support(const KernelPaths& paths) {
  KprobeSupport s;
  const std::string events = paths.tracing_file("kprobe_events");
  s.events_file = exists(events);
  // libbpf attaches through the kprobe PMU (perf_event_open + BPF_LINK_CREATE): the probe lives
  // as long as the fd. Without the PMU it would fall back to writing kprobe_events, which stays
  // behind when the process is killed: we do not let it.
  if (exists(paths.kprobe_pmu)) {
    s.available = true;
    return s;
  }
  const std::string kprobes = kernel_config_value(paths.kernel_config, "CONFIG_KPROBES");
  if (kprobes == "n") {
    s.why_not = "kernel built without kprobes (CONFIG_KPROBES is not set in " +
                paths.kernel_config + "; no " + paths.kprobe_pmu + ", no kprobe_events)";
  } else if (s.events_file) {
    s.why_not = "no kprobe PMU (" + paths.kprobe_pmu +
                " is missing); only the legacy kprobe_events interface exists, and a probe "
                "made there outlives a killed process, so it is not used";
  } else {
    s.why_not = "kernel built without kprobes (no " + paths.kprobe_pmu + ", no " + events +
                "; CONFIG_KPROBES and CONFIG_KPROBE_EVENTS are needed)";
  }
  return s;
}

}  // namespace probeseek
