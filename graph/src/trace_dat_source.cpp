// Reads a trace-cmd trace.dat with libtracecmd. tracecmd_iterate_events() merges the per-CPU
// buffers by timestamp, which the per-task builder needs: a task's exit can land on another
// CPU than its entry.
#include <event-parse.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "probeseek/graph.h"
#include "probeseek/text.h"
#include "tracecmd_shim.h"

namespace probeseek {

namespace {

constexpr int kTraceFlagNmi = 0x40;  // kernel TRACE_FLAG_NMI; libtraceevent has no name for it

struct TracecmdClose {
  void operator()(tracecmd_input* h) const { ps_tracecmd_close(h); }
};
using TracecmdInput = std::unique_ptr<tracecmd_input, TracecmdClose>;

struct Fields {
  tep_event* entry = nullptr;
  tep_event* exit = nullptr;
  tep_format_field* entry_func = nullptr;
  tep_format_field* entry_depth = nullptr;
  tep_format_field* exit_func = nullptr;
  tep_format_field* exit_depth = nullptr;
  tep_format_field* exit_calltime = nullptr;
  tep_format_field* exit_rettime = nullptr;
};

struct ReadState {
  tep_handle* tep;  // owned by the tracecmd handle
  Fields f;
  CallTreeBuilder* builder;
  std::unordered_map<uint64_t, std::string> names;  // address -> resolved name, cached
  std::string scratch;
  bool failed = false;
};

std::string_view function_name(ReadState& s, uint64_t address) {
  auto it = s.names.find(address);
  if (it != s.names.end()) return it->second;
  std::string name;
  if (const char* n = tep_find_function(s.tep, address)) {
    unsigned long long start = tep_find_function_address(s.tep, address);
    name = n;
    // An address inside a function (not at its start) is shown as trace-cmd shows it.
    if (start != address) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "+0x%llx", address - start);
      name += buf;
    }
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(address));
    name = buf;
  }
  return s.names.emplace(address, std::move(name)).first->second;
}

uint64_t read_field(tep_format_field* field, tep_record* record) {
  unsigned long long v = 0;
  if (field) tep_read_number_field(field, record->data, &v);
  return v;
}

int on_record(tep_record* record, int cpu, void* data) {
  auto& s = *static_cast<ReadState*>(data);
  if (record->missed_events != 0) s.builder->lost_events(cpu, record->missed_events);
  int type = tep_data_type(s.tep, record);
  bool is_entry = s.f.entry && type == s.f.entry->id;
  bool is_exit = s.f.exit && type == s.f.exit->id;
  if (!is_entry && !is_exit) {
    s.builder->note_other_event();
    return 0;
  }
  GraphEvent e;
  e.cpu = cpu;
  e.pid = tep_data_pid(s.tep, record);
  e.comm = tep_data_comm_from_pid(s.tep, e.pid);
  e.timestamp_ns = record->ts;
  int flags = tep_data_flags(s.tep, record);
  if (flags >= 0) {
    if (flags & kTraceFlagNmi)
      e.flags_context = CallContext::kNmi;
    else if (flags & TRACE_FLAG_HARDIRQ)
      e.flags_context = CallContext::kHardirq;
    else if (flags & TRACE_FLAG_SOFTIRQ)
      e.flags_context = CallContext::kSoftirq;
    else
      e.flags_context = CallContext::kTask;
  }
  if (is_entry) {
    e.kind = GraphEvent::Kind::kEntry;
    e.function_address = read_field(s.f.entry_func, record);
    e.depth = static_cast<int>(read_field(s.f.entry_depth, record));
  } else {
    e.kind = GraphEvent::Kind::kExit;
    e.function_address = read_field(s.f.exit_func, record);
    e.depth = static_cast<int>(read_field(s.f.exit_depth, record));
    uint64_t calltime = read_field(s.f.exit_calltime, record);
    uint64_t rettime = read_field(s.f.exit_rettime, record);
    if (rettime >= calltime && calltime != 0) {
      e.calltime_ns = calltime;
      e.duration_ns = rettime - calltime;
      e.has_duration = true;
    }
  }
  e.function = function_name(s, e.function_address);
  s.builder->add(e);
  return 0;
}

std::string release_from_uname(const char* uname) {
  // "Linux host 6.1.0-56-cloud-amd64 #1 SMP ..." -> "6.1.0-56-cloud-amd64"
  if (!uname) return {};
  auto fields = split_ws(uname);
  return fields.size() >= 3 ? std::string(fields[2]) : std::string();
}

// "CPU: 0\nentries: 1\noverrun: 5\n...dropped events: 0" -> events the kernel lost, per CPU.
void add_overruns(const char* cpustats, CallTreeBuilder& builder) {
  if (!cpustats) return;
  std::string_view text(cpustats);
  int cpu = -1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (starts_with(line, "CPU:")) {
      if (auto v = parse_int(trim(line.substr(4)))) cpu = static_cast<int>(*v);
    } else if (cpu >= 0 && (starts_with(line, "overrun:") || starts_with(line, "dropped events:"))) {
      // overrun: overwritten in an overwrite-mode buffer; dropped: refused when it was full.
      auto v = parse_int(trim(line.substr(line.find(':') + 1)));
      if (v && *v > 0) builder.kernel_dropped(cpu, *v);
    }
  }
}

// libtraceevent's listing "ADDR NAME [MODULE]" -> kallsyms lines "ADDR ? NAME [MODULE]": the
// type letter was not kept, so it is '?' (unknown).
std::string kallsyms_lines(std::string_view listing) {
  std::string out;
  out.reserve(listing.size() + listing.size() / 16);
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t nl = listing.find('\n', pos);
    if (nl == std::string_view::npos) nl = listing.size();
    std::string_view line = listing.substr(pos, nl - pos);
    pos = nl + 1;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    out.append(line.substr(0, sp));
    out.append(" ?");
    out.append(line.substr(sp));
    out.push_back('\n');
  }
  return out;
}

}  // namespace

Result<SourceInfo> read_trace_dat(const std::string& path, CallTreeBuilder& builder) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return bad_input("cannot open trace file", path + ": " + std::strerror(errno));
  TracecmdInput handle(ps_tracecmd_open(path.c_str()));
  if (!handle)
    return bad_input("not a readable trace.dat (libtracecmd could not parse its headers)", path,
                     "the file may be truncated or from an unsupported trace-cmd version; try "
                     "'trace-cmd report -i FILE' to see what trace-cmd makes of it");
  ReadState s{};
  s.tep = ps_tracecmd_tep(handle.get());
  s.builder = &builder;
  s.f.entry = tep_find_event_by_name(s.tep, "ftrace", "funcgraph_entry");
  s.f.exit = tep_find_event_by_name(s.tep, "ftrace", "funcgraph_exit");
  if (!s.f.entry || !s.f.exit)
    return bad_input("trace.dat has no function_graph event formats", path,
                     "record with 'trace-cmd record -p function_graph' or 'probeseek record'");
  s.f.entry_func = tep_find_field(s.f.entry, "func");
  s.f.entry_depth = tep_find_field(s.f.entry, "depth");
  s.f.exit_func = tep_find_field(s.f.exit, "func");
  s.f.exit_depth = tep_find_field(s.f.exit, "depth");
  s.f.exit_calltime = tep_find_field(s.f.exit, "calltime");
  s.f.exit_rettime = tep_find_field(s.f.exit, "rettime");
  if (!s.f.entry_func || !s.f.entry_depth || !s.f.exit_func || !s.f.exit_depth)
    return bad_input("trace.dat's function_graph event format lacks func/depth fields", path);

  uint64_t before = builder.stats().entries + builder.stats().exits;
  if (ps_tracecmd_iterate(handle.get(), on_record, &s) < 0)
    return bad_input("cannot read the trace.dat's event data", path,
                     "the file may be truncated; record it again");
  uint64_t graph_records = builder.stats().entries + builder.stats().exits - before;
  if (graph_records == 0) {
    std::string what = builder.stats().other_events > 0
                           ? "trace.dat holds no function_graph records (" +
                                 std::to_string(builder.stats().other_events) +
                                 " other events: a recording of another tracer or of plain events)"
                           : "trace.dat holds no records at all";
    return bad_input(what, path,
                     "record with 'trace-cmd record -p function_graph -F CMD' or 'probeseek record'");
  }
  add_overruns(ps_tracecmd_cpustats(handle.get()), builder);

  SourceInfo info;
  info.format = TraceFormat::kTraceDat;
  info.kernel_release = release_from_uname(ps_tracecmd_uname(handle.get()));
  info.tracer = "function_graph";
  info.cpus = ps_tracecmd_cpus(handle.get());
  if (char* symbols = ps_tracecmd_kallsyms(handle.get())) {
    info.kallsyms_text = kallsyms_lines(symbols);
    std::free(symbols);
  }
  return info;
}

}  // namespace probeseek
