#include "funcgraph_decoder.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace probeseek::detail {

namespace {
constexpr int kTraceFlagNmi = 0x40;  // kernel TRACE_FLAG_NMI; libtraceevent has no name for it
// How far into a function its ftrace call site can be: 0 (plain fentry), 4 (after ENDBR64 on
// x86 with IBT), 8 (arm64 with BTI and patchable entries).
constexpr unsigned long long kCallSiteOffsetMax = 8;
}  // namespace

FuncgraphDecoder::FieldAt FuncgraphDecoder::field_at(const tep_format_field* field) {
  return field ? FieldAt{field->offset, field->size} : FieldAt{};
}

FuncgraphDecoder::FuncgraphDecoder(tep_handle* tep, CallTreeBuilder& builder)
    : tep_(tep), builder_(builder) {
  tep_event* entry = tep_find_event_by_name(tep, "ftrace", "funcgraph_entry");
  tep_event* exit = tep_find_event_by_name(tep, "ftrace", "funcgraph_exit");
  if (!entry || !exit) {
    problem_ = Problem::kNoFuncgraphEvents;
    return;
  }
  entry_id_ = entry->id;
  exit_id_ = exit->id;
  entry_func_ = field_at(tep_find_field(entry, "func"));
  entry_depth_ = field_at(tep_find_field(entry, "depth"));
  exit_func_ = field_at(tep_find_field(exit, "func"));
  exit_depth_ = field_at(tep_find_field(exit, "depth"));
  exit_calltime_ = field_at(tep_find_field(exit, "calltime"));
  exit_rettime_ = field_at(tep_find_field(exit, "rettime"));
  if (!entry_func_.present() || !entry_depth_.present() || !exit_func_.present() ||
      !exit_depth_.present()) {
    problem_ = Problem::kNoFuncDepthFields;
    return;
  }
  // The common fields, where tep_data_type/pid/flags find them (every event has them).
  type_ = field_at(tep_find_common_field(entry, "common_type"));
  pid_ = field_at(tep_find_common_field(entry, "common_pid"));
  flags_ = field_at(tep_find_common_field(entry, "common_flags"));
  swap_ = tep_is_file_bigendian(tep) != tep_is_local_bigendian(tep);
}

uint64_t FuncgraphDecoder::read_number(const void* data, FieldAt f) const {
  const auto* p = static_cast<const unsigned char*>(data) + f.offset;
  switch (f.size) {
    case 1:
      return *p;
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return swap_ ? __builtin_bswap16(v) : v;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return swap_ ? __builtin_bswap32(v) : v;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return swap_ ? __builtin_bswap64(v) : v;
    }
    default:
      return 0;
  }
}

std::string funcgraph_function_name(tep_handle* tep, uint64_t address) {
  std::string name;
  if (const char* n = tep_find_function(tep, address)) {
    unsigned long long start = tep_find_function_address(tep, address);
    name = n;
    // function_graph records the address of the function's ftrace call site, which follows
    // an ENDBR64 on kernels built with IBT (6.12's Debian kernels: __x64_sys_connect+0x4): that
    // is the function itself, as the kernel's and trace-cmd's output name it. Anything further
    // in is shown with its offset, as trace-cmd shows it.
    if (address - start > kCallSiteOffsetMax) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "+0x%llx", address - start);
      name += buf;
    }
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(address));
    name = buf;
  }
  return name;
}

// The kernel's depth is an int the return stack keeps small; clamp whatever else arrives.
int FuncgraphDecoder::bounded_depth(uint64_t raw) {
  auto depth = static_cast<int32_t>(raw);
  return depth < 0 ? 0 : std::min(depth, kMaxGraphDepth);
}

std::string_view FuncgraphDecoder::function_name(uint64_t address) {
  auto it = names_.find(address);
  if (it != names_.end()) return it->second;
  return names_.emplace(address, funcgraph_function_name(tep_, address)).first->second;
}

// The saved command line of a pid (tep_data_comm_from_pid's answer, which never changes).
std::string_view FuncgraphDecoder::comm_of(int pid) {
  if (pid == last_pid_) return last_comm_;
  auto it = comms_.find(pid);
  if (it == comms_.end()) it = comms_.emplace(pid, tep_data_comm_from_pid(tep_, pid)).first;
  last_pid_ = pid;
  last_comm_ = it->second;
  return last_comm_;
}

bool FuncgraphDecoder::fits(const tep_record& record, std::initializer_list<FieldAt> fields) {
  for (FieldAt f : fields)
    if (f.present() && (f.size < 0 || int64_t{f.offset} + f.size > int64_t{record.size}))
      return false;
  return true;
}

bool FuncgraphDecoder::damaged(std::string what) {
  if (refuse_damaged_) {
    damage_ = std::move(what);
    return false;
  }
  builder_.note_other_event();
  return true;
}

bool FuncgraphDecoder::decode(const tep_record& record, int cpu) {
  if (record.missed_events != 0) builder_.lost_events(cpu, record.missed_events);
  // A record shorter than its format's fields (or a format that puts them anywhere) is not
  // read past its end.
  if (!record.data || record.size < 0) return damaged("a record without data");
  if (!fits(record, {type_, pid_, flags_}))
    return damaged("a record of " + std::to_string(record.size) +
                   " bytes, shorter than the common fields of its event format");
  int type = static_cast<int>(read_field(type_, record));
  bool is_entry = type == entry_id_;
  bool is_exit = type == exit_id_;
  if (!is_entry && !is_exit) {
    builder_.note_other_event();
    return true;
  }
  bool fit = is_entry ? fits(record, {entry_func_, entry_depth_})
                      : fits(record, {exit_func_, exit_depth_, exit_calltime_, exit_rettime_});
  if (!fit)
    return damaged(std::string(is_entry ? "a funcgraph_entry" : "a funcgraph_exit") +
                   " record of " + std::to_string(record.size) +
                   " bytes, shorter than its event format's fields");
  GraphEvent e;
  e.cpu = cpu;
  e.pid = static_cast<int>(read_field(pid_, record));
  if (e.pid == ignored_pid_) {
    builder_.note_other_event();
    return true;
  }
  // The kernel's graph depth is a small non-negative int (the return stack holds a few
  // hundred frames); anything else is a damaged record, not a call tree to build.
  FieldAt depth_field = is_entry ? entry_depth_ : exit_depth_;
  uint64_t raw_depth = read_field(depth_field, record);
  if (refuse_damaged_) {
    int64_t depth = depth_field.size == 4   ? int64_t{static_cast<int32_t>(raw_depth)}
                    : depth_field.size == 2 ? int64_t{static_cast<int16_t>(raw_depth)}
                                            : static_cast<int64_t>(raw_depth);
    if (depth < 0 || depth > kMaxGraphDepth)
      return damaged("a function_graph record with depth " + std::to_string(depth) + " (0 to " +
                     std::to_string(kMaxGraphDepth) + " is possible)");
    e.depth = static_cast<int>(depth);
  } else {
    e.depth = bounded_depth(raw_depth);
  }
  e.comm = comm_of(e.pid);
  e.timestamp_ns = record.ts;
  if (flags_.present()) {
    int flags = static_cast<int>(read_number(record.data, flags_));
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
    e.function_address = read_field(entry_func_, record);
  } else {
    e.kind = GraphEvent::Kind::kExit;
    e.function_address = read_field(exit_func_, record);
    uint64_t calltime = read_field(exit_calltime_, record);
    uint64_t rettime = read_field(exit_rettime_, record);
    if (rettime >= calltime && calltime != 0) {
      e.calltime_ns = calltime;
      e.duration_ns = rettime - calltime;
      e.has_duration = true;
    }
  }
  e.function = function_name(e.function_address);
  builder_.add(e);
  return true;
}

}  // namespace probeseek::detail
