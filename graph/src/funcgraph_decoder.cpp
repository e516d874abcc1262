#include "funcgraph_decoder.h"

#include <algorithm>
#include <array>
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

namespace {

std::string function_name_at(uint64_t address, std::optional<KallsymsFunctions::Found> found) {
  std::string name;
  if (found) {
    uint64_t start = found->start;
    name = found->name;
    // function_graph records the address of the function's ftrace call site, which follows
    // an ENDBR64 on kernels built with IBT (6.12's Debian kernels: __x64_sys_connect+0x4): that
    // is the function itself, as the kernel's and trace-cmd's output name it. Anything further
    // in is shown with its offset, as trace-cmd shows it.
    if (address - start > kCallSiteOffsetMax) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(address - start));
      name += buf;
    }
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(address));
    name = buf;
  }
  return name;
}

}  // namespace

std::string funcgraph_function_name(tep_handle* tep, uint64_t address) {
  std::optional<KallsymsFunctions::Found> found;
  if (const char* n = tep_find_function(tep, address))
    found = KallsymsFunctions::Found{n, tep_find_function_address(tep, address)};
  return function_name_at(address, found);
}

std::optional<KallsymsFunctions> KallsymsFunctions::parse(std::string text) {
  KallsymsFunctions out;
  if (text.find('\0') != std::string::npos || text.size() > UINT32_MAX) return std::nullopt;
  // Tables, not comparisons: 87k lines of 40 bytes are read here on every import.
  static const auto kClass = [] {
    std::array<int8_t, 256> c{};
    c.fill(-1);  // not a hex digit
    for (int d = 0; d < 10; ++d) c['0' + d] = static_cast<int8_t>(d);
    for (int d = 0; d < 6; ++d) c['a' + d] = c['A' + d] = static_cast<int8_t>(10 + d);
    for (unsigned char w : {' ', '\t', '\n', '\r', '\v', '\f'}) c[w] = -2;  // isspace()
    return c;
  }();
  auto hex = [](char c) -> int { return kClass[static_cast<unsigned char>(c)]; };
  auto space = [](char c) { return kClass[static_cast<unsigned char>(c)] == -2; };
  out.entries_.reserve(text.size() / 40);
  for (size_t pos = 0; pos < text.size();) {
    const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
    if (end == pos) {  // strtok_r skips empty lines
      pos = end + 1;
      continue;
    }
    uint64_t address = 0;
    size_t i = pos;
    int digits = 0;
    for (int d; i < end && digits < 16 && (d = hex(text[i])) >= 0; ++i, ++digits)
      address = (address << 4) | static_cast<uint64_t>(d);
    // The shape register_kallsyms() (trace_dat_container.cpp) registers line by line.
    if (digits == 0 || i + 3 > end || text[i] != ' ' || space(text[i + 1]) || text[i + 2] != ' ' ||
        space(text[i + 3]))
      return std::nullopt;
    const char type = text[i + 1];
    const size_t name = i + 3;
    i = name;
    while (i < end && !space(text[i])) ++i;
    const size_t name_end = i;
    if (i < end) {  // "\t[MODULE]" and nothing else
      if (text[i] != '\t' || i + 3 > end || text[i + 1] != '[') return std::nullopt;
      size_t module = i + 2;
      i = module;
      while (i < end && !space(text[i])) ++i;
      if (i != end || text[i - 1] != ']' || i - 1 <= module) return std::nullopt;
    }
    if (text[name] != '$' && type != 'A' && type != 'a')
      out.entries_.push_back(
          {address, static_cast<uint32_t>(name), static_cast<uint32_t>(name_end - name)});
    pos = end + 1;
  }
  // tep_register_function() prepends to a list that func_map_init() walks from its head.
  std::reverse(out.entries_.begin(), out.entries_.end());
  std::stable_sort(out.entries_.begin(), out.entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.address < b.address; });
  out.text_ = std::move(text);
  return out;
}

std::optional<KallsymsFunctions::Found> KallsymsFunctions::find(uint64_t address) const {
  // glibc's bsearch over entries_ with libtraceevent's func_bcmp, whose entry past the last is
  // a sentinel of address 0: an address beyond the last symbol matches only exactly.
  size_t l = 0, u = entries_.size();
  while (l < u) {
    size_t idx = (l + u) / 2;
    const Entry& e = entries_[idx];
    const uint64_t next = idx + 1 < entries_.size() ? entries_[idx + 1].address : 0;
    if (address == e.address || (address > e.address && address < next))
      return Found{std::string_view(text_).substr(e.name, e.length), e.address};
    if (address < e.address)
      u = idx;
    else
      l = idx + 1;
  }
  return std::nullopt;
}

// The kernel's depth is an int the return stack keeps small; clamp whatever else arrives.
int FuncgraphDecoder::bounded_depth(uint64_t raw) {
  auto depth = static_cast<int32_t>(raw);
  return depth < 0 ? 0 : std::min(depth, kMaxGraphDepth);
}

std::string_view FuncgraphDecoder::function_name(uint64_t address) {
  auto it = names_.find(address);
  if (it != names_.end()) return it->second;
  std::string name = functions_ ? function_name_at(address, functions_->find(address))
                                : funcgraph_function_name(tep_, address);
  return names_.emplace(address, std::move(name)).first->second;
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
