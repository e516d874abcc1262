#include "kernel.h"

#include <unistd.h>

#include "probeseek/btf.h"
#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek::internal {
namespace {

bool exists(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), F_OK) == 0;
}

// "y", "n" (explicitly not set) or "" (no config to read) for CONFIG_NAME.
std::string config_value(const std::string& config_path, const std::string& name) {
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

}  // namespace

KprobeSupport kprobe_support(const AttachPaths& paths) {
  KprobeSupport s;
  // libbpf attaches through the kprobe PMU (perf_event_open + BPF_LINK_CREATE): the probe lives
  // as long as the fd. Without the PMU it would fall back to writing kprobe_events, which stays
  // behind when the process is killed: we do not let it.
  if (exists(paths.kprobe_pmu)) {
    s.available = true;
    return s;
  }
  std::string kprobes = config_value(paths.kernel_config, "CONFIG_KPROBES");
  bool events = exists(paths.kprobe_events);
  if (kprobes == "n") {
    s.why_not = "kernel built without kprobes (CONFIG_KPROBES is not set in " +
                paths.kernel_config + "; no " + paths.kprobe_pmu + ", no kprobe_events)";
  } else if (events) {
    s.why_not = "no kprobe PMU (" + paths.kprobe_pmu +
                " is missing); only the legacy kprobe_events interface exists, and a probe "
                "made there outlives a killed process, so it is not used";
  } else {
    s.why_not = "kernel built without kprobes (no " + paths.kprobe_pmu + ", no " +
                paths.kprobe_events + "; CONFIG_KPROBES and CONFIG_KPROBE_EVENTS are needed)";
  }
  return s;
}

std::string lockdown_mode(const AttachPaths& paths) {
  auto text = read_whole_file(paths.lockdown);
  if (!text) return "";
  // "none [integrity] confidentiality": the active mode is in brackets.
  std::string_view t = *text;
  size_t open = t.find('['), close = t.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return "";
  return std::string(t.substr(open + 1, close - open - 1));
}

KernelTable KernelTable::read(const std::string& path) {
  KernelTable t;
  auto text = read_whole_file(path);
  if (!text) return t;
  t.readable = true;
  t.text = std::move(*text);
  return t;
}

namespace {

// Calls fn(line) for each line of text.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    fn(text.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace

SymbolFacts symbol_facts(const KernelTable& kallsyms, const std::string& function) {
  SymbolFacts f;
  if (!kallsyms.readable || kallsyms.text.empty()) return f;
  f.readable = true;
  const std::string ksymtab = "__ksymtab_" + function;
  for_each_line(kallsyms.text, [&](std::string_view line) {
    // Most lines do not mention the function: skip them before splitting.
    if (line.find(function) == std::string_view::npos) return;
    // "ffffffff81a2b3c0 T tcp_v4_connect" or "... t nft_do_chain\t[nf_tables]"
    auto fields = split_ws(line);
    if (fields.size() < 3) return;
    std::string_view name = fields[2];
    if (name == ksymtab) {
      f.exported = true;
      return;
    }
    char type = fields[1].empty() ? '?' : fields[1][0];
    if (type != 't' && type != 'T' && type != 'w' && type != 'W') return;
    std::string module;
    if (fields.size() >= 4 && fields[3].size() > 2 && fields[3].front() == '[')
      module = std::string(fields[3].substr(1, fields[3].size() - 2));
    if (name == function) {
      if (++f.exact == 1) f.module = module;
    } else if (strip_clone_suffix(name) == function) {
      f.clones.emplace_back(name);
      if (f.exact == 0 && f.clones.size() == 1) f.module = module;
    }
  });
  return f;
}

std::optional<bool> listed_in(const KernelTable& table, const std::string& name, size_t field) {
  if (!table.readable) return std::nullopt;
  bool found = false;
  for_each_line(table.text, [&](std::string_view line) {
    if (found || line.find(name) == std::string_view::npos) return;
    auto fields = split_ws(line);
    found = fields.size() > field && fields[field] == name;
  });
  return found;
}

}  // namespace probeseek::internal
