// Reads a trace-cmd trace.dat.
//
// Version 7 files (trace-cmd 3.x) are read here: the sections a function_graph import needs
// (header page, ftrace event formats, kallsyms, saved command lines) go into a tep_handle set
// up as libtracecmd sets it up, and each CPU's ring-buffer pages are streamed one compressed
// chunk at a time through libtraceevent's kbuffer, merged by timestamp (the per-task builder
// needs it: a task's exit can land on another CPU than its entry). Why not libtracecmd:
// tracecmd_open() parses every event format of every subsystem (about 1,400) and sscanf()s
// every kallsyms line, a third of an import's CPU time, and libtracecmd 3.1 keeps every
// decompressed chunk until the file is closed, so its memory grows with the recording.
//
// Version 6 files and timestamps that libtracecmd adjusts on reading (date, offset, TSC
// conversion, guest time shift) go through libtracecmd. libtracecmd trusts every size, offset,
// count and option in the file (a truncated file is a double free or a segfault in it), so the
// whole container is checked here first, pages and option contents included, and a damaged
// file is refused naming the offset, never handed to libtracecmd. A latency tracer's trace
// (text, no function_graph records; libtracecmd sets up no per-CPU data for it) is refused.
#include <event-parse.h>
#include <fcntl.h>
extern "C" {
#include <kbuffer.h>  // a C header without extern "C"
}
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "funcgraph_decoder.h"
#include "probeseek/graph.h"
#include "probeseek/text.h"
#include "tracecmd_shim.h"

namespace probeseek {

namespace {

// libtraceevent evaluates constant arithmetic in a format's `print fmt` arguments (arg_num_eval)
// and divides without checking for zero: a hostile format kills the process with SIGFPE
// (tests/fuzz/regressions/trace_dat/print-fmt-division-by-zero). probeseek reads fields, never
// tep's printing, so a format whose print-fmt arguments divide (a '/' or '%' outside string
// literals) is parsed with an empty print fmt instead. No ftrace format of a real kernel divides.
std::string format_without_dividing_print(std::string_view format) {
  const size_t print = format.find("print fmt:");
  if (print == std::string_view::npos) return std::string(format);
  bool in_string = false, divides = false;
  for (size_t i = print + 10; i < format.size() && !divides; ++i) {
    const char c = format[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '/' || c == '%') {
      divides = true;
    }
  }
  if (!divides) return std::string(format);
  return std::string(format.substr(0, print)) + "print fmt: \"\"\n";
}

// The same division, for version 6 files, whose formats libtracecmd parses itself (so they
// cannot be rewritten on the way): whether a '/' or '%' in the print-fmt arguments has a right
// operand that libtraceevent may fold to the constant 0 — a literal 0 (0, 0x0, 0L), or a bare
// name (it evaluates a name as strtoll(name) = 0), possibly in parentheses. A `REC->` field or a
// call (`sizeof(u64)`, `__get_dynamic_array_len(x)`) is never folded, nor is a nonzero literal:
// real kernels' formats divide only so (timer's `REC->value_nsec / 1000L`, writeback's
// `(jiffies - REC->dirtied_when) / 250`, dma's `... / sizeof(u64)`, measured on 2,323 formats).
bool print_fmt_may_divide_by_zero(std::string_view format) {
  const size_t print = format.find("print fmt:");
  if (print == std::string_view::npos) return false;
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  bool in_string = false;
  for (size_t i = print + 10; i < format.size(); ++i) {
    const char c = format[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '/' && c != '%') continue;
    size_t j = i + 1;
    while (j < format.size() &&
           (std::isspace(static_cast<unsigned char>(format[j])) || format[j] == '(' ||
            format[j] == '-' || format[j] == '+' || format[j] == '~' || format[j] == '!'))
      ++j;
    size_t end = j;
    while (end < format.size() && ident(format[end])) ++end;
    if (end == j) continue;  // a string, a cast's ')', nothing: not a folded constant
    const std::string token(format.substr(j, end - j));
    if (std::isdigit(static_cast<unsigned char>(token[0]))) {
      if (std::strtoull(token.c_str(), nullptr, 0) == 0) return true;
      continue;
    }
    if (token == "REC") continue;
    size_t k = end;
    while (k < format.size() && std::isspace(static_cast<unsigned char>(format[k]))) ++k;
    if (k < format.size() && format[k] == '(') continue;  // a call
    return true;                                          // a bare name: 0 to libtraceevent
  }
  return false;
}

constexpr int kTraceFlagNmi = 0x40;  // kernel TRACE_FLAG_NMI; libtraceevent has no name for it

struct TracecmdClose {
  void operator()(tracecmd_input* h) const { ps_tracecmd_close(h); }
};
using TracecmdInput = std::unique_ptr<tracecmd_input, TracecmdClose>;

// Where a field sits in a record, read without libtraceevent's per-call lookups (same
// result as tep_read_number_field: 1, 2, 4 or 8 bytes in the file's byte order, else 0).
struct FieldAt {
  int offset = -1;
  int size = 0;
  bool present() const { return offset >= 0; }
};

FieldAt field_at(const tep_format_field* field) {
  return field ? FieldAt{field->offset, field->size} : FieldAt{};
}

struct Fields {
  tep_event* entry = nullptr;
  tep_event* exit = nullptr;
  FieldAt type, pid, flags;  // common fields
  FieldAt entry_func, entry_depth, exit_func, exit_depth, exit_calltime, exit_rettime;
};

struct ReadState {
  tep_handle* tep;  // owned by the tracecmd handle
  Fields f;
  bool swap = false;  // the file's byte order is not the host's
  CallTreeBuilder* builder;
  std::unordered_map<uint64_t, std::string> names;  // address -> resolved name, cached
  std::unordered_map<int, std::string_view> comms;  // pid -> saved command line, cached
  int last_pid = -1;
  std::string_view last_comm;
  // Set by on_record when a record is damaged (a field past its end, an impossible depth):
  // reading stops and the caller refuses the file, naming this offset.
  std::optional<std::string> damage;
  uint64_t damage_offset = 0;
};

uint64_t read_number(const ReadState& s, const void* data, FieldAt f) {
  const auto* p = static_cast<const unsigned char*>(data) + f.offset;
  switch (f.size) {
    case 1:
      return *p;
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return s.swap ? __builtin_bswap16(v) : v;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return s.swap ? __builtin_bswap32(v) : v;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return s.swap ? __builtin_bswap64(v) : v;
    }
    default:
      return 0;
  }
}

uint64_t read_field(const ReadState& s, FieldAt f, const tep_record* record) {
  return f.present() ? read_number(s, record->data, f) : 0;
}

std::string_view function_name(ReadState& s, uint64_t address) {
  auto it = s.names.find(address);
  if (it != s.names.end()) return it->second;
  return s.names.emplace(address, detail::funcgraph_function_name(s.tep, address)).first->second;
}

// The saved command line of a pid (tep_data_comm_from_pid's answer, which never changes).
std::string_view comm_of(ReadState& s, int pid) {
  if (pid == s.last_pid) return s.last_comm;
  auto it = s.comms.find(pid);
  if (it == s.comms.end()) it = s.comms.emplace(pid, tep_data_comm_from_pid(s.tep, pid)).first;
  s.last_pid = pid;
  s.last_comm = it->second;
  return it->second;
}

// The function_graph fields a record must hold, per its event format: a format parsed from
// the file can put a field anywhere, so each read is checked against the record's size.
bool fields_fit(const tep_record* record, std::initializer_list<FieldAt> fields) {
  for (FieldAt f : fields)
    if (f.present() && (f.size < 0 || int64_t{f.offset} + f.size > int64_t{record->size}))
      return false;
  return true;
}

int refuse_record(ReadState& s, const tep_record* record, std::string what) {
  s.damage = std::move(what);
  s.damage_offset = record->offset;
  return -1;
}

int on_record(tep_record* record, int cpu, void* data) {
  auto& s = *static_cast<ReadState*>(data);
  if (!record->data || record->size < 0) return refuse_record(s, record, "a record without data");
  if (!fields_fit(record, {s.f.type, s.f.pid, s.f.flags}))
    return refuse_record(s, record,
                         "a record of " + std::to_string(record->size) +
                             " bytes, shorter than the common fields of its event format");
  if (record->missed_events != 0) s.builder->lost_events(cpu, record->missed_events);
  int type = static_cast<int>(read_field(s, s.f.type, record));
  bool is_entry = type == s.f.entry->id;
  bool is_exit = type == s.f.exit->id;
  if (!is_entry && !is_exit) {
    s.builder->note_other_event();
    return 0;
  }
  bool fit = is_entry ? fields_fit(record, {s.f.entry_func, s.f.entry_depth})
                      : fields_fit(record, {s.f.exit_func, s.f.exit_depth, s.f.exit_calltime,
                                            s.f.exit_rettime});
  if (!fit)
    return refuse_record(s, record,
                         std::string(is_entry ? "a funcgraph_entry" : "a funcgraph_exit") +
                             " record of " + std::to_string(record->size) +
                             " bytes, shorter than its event format's fields");
  GraphEvent e;
  e.cpu = cpu;
  e.pid = static_cast<int>(read_field(s, s.f.pid, record));
  e.comm = comm_of(s, e.pid);
  e.timestamp_ns = record->ts;
  int flags = s.f.flags.present() ? static_cast<int>(read_number(s, record->data, s.f.flags)) : -1;
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
  // The kernel's graph depth is a small non-negative int (the return stack holds a few
  // hundred frames); anything else is a damaged record, not a call tree to build.
  FieldAt depth_field = is_entry ? s.f.entry_depth : s.f.exit_depth;
  uint64_t raw_depth = read_field(s, depth_field, record);
  int64_t depth = depth_field.size == 4   ? int64_t{static_cast<int32_t>(raw_depth)}
                  : depth_field.size == 2 ? int64_t{static_cast<int16_t>(raw_depth)}
                                          : static_cast<int64_t>(raw_depth);
  if (depth < 0 || depth > kMaxGraphDepth)
    return refuse_record(s, record,
                         "a function_graph record with depth " + std::to_string(depth) + " (0 to " +
                             std::to_string(kMaxGraphDepth) + " is possible)");
  e.depth = static_cast<int>(depth);
  if (is_entry) {
    e.kind = GraphEvent::Kind::kEntry;
    e.function_address = read_field(s, s.f.entry_func, record);
  } else {
    e.kind = GraphEvent::Kind::kExit;
    e.function_address = read_field(s, s.f.exit_func, record);
    uint64_t calltime = read_field(s, s.f.exit_calltime, record);
    uint64_t rettime = read_field(s, s.f.exit_rettime, record);
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

// ---- The per-CPU data of a version 7 trace.dat, streamed (see the comment at the top) ----

// Option and section ids of the version 7 format (trace-cmd.dat.v7(5)).
enum : uint16_t {
  kOptionDone = 0,
  kOptionDate = 1,
  kOptionCpuStat = 2,
  kOptionBuffer = 3,
  kOptionTraceClock = 4,
  kOptionUname = 5,
  kOptionHook = 6,
  kOptionOffset = 7,
  kOptionCpuCount = 8,
  kOptionVersion = 9,
  kOptionProcMaps = 10,
  kOptionTimeShift = 12,
  kOptionGuest = 13,
  kOptionTsc2Nsec = 14,
  kOptionHeaderInfo = 16,
  kOptionFtraceEvents = 17,
  kOptionKallsyms = 19,
  kOptionCmdlines = 21,
  kOptionBufferText = 22,
  kOptionLastBootInfo = 24,
};
constexpr uint16_t kSectionCompressed = 1;

class DatFile {
 public:
  explicit DatFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    struct stat st {};
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
  }
  ~DatFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  DatFile(const DatFile&) = delete;
  DatFile& operator=(const DatFile&) = delete;
  bool ok() const { return fd_ >= 0; }
  uint64_t size() const { return size_; }
  bool read(uint64_t offset, void* into, uint64_t n) const {
    if (offset > size_ || n > size_ - offset) return false;
    auto* p = static_cast<char*>(into);
    while (n > 0) {
      ssize_t r = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      p += r;
      n -= static_cast<uint64_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return true;
  }
  bool big_endian = false;
  template <typename T>
  T number(const void* p) const {
    T v;
    std::memcpy(&v, p, sizeof v);
    bool swap = big_endian != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
    if (swap) {
      if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
      if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
      if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
    }
    return v;
  }
  template <typename T>
  bool read_number(uint64_t offset, T* v) const {
    unsigned char buf[sizeof(T)];
    if (!read(offset, buf, sizeof buf)) return false;
    *v = number<T>(buf);
    return true;
  }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Decompresses trace-cmd's blocks: zstd or zlib frames, as trace-cmd writes them.
class Decompressor {
 public:
  explicit Decompressor(std::string name) : name_(std::move(name)) {
    if (name_ == "zstd") zstd_ = ZSTD_createDCtx();
  }
  ~Decompressor() {
    if (zstd_) ZSTD_freeDCtx(zstd_);
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  bool supported() const { return zstd_ != nullptr || name_ == "zlib"; }
  // Whether `in` can decompress to `size` bytes, checked before `size` bytes are allocated: a
  // zstd frame says its content size (trace-cmd always writes it), zlib cannot expand more
  // than 1032 to 1.
  bool plausible(const std::vector<char>& in, uint64_t size) const {
    if (size > kMaxContent) return false;
    if (zstd_) {
      unsigned long long n = ZSTD_getFrameContentSize(in.data(), in.size());
      if (n == ZSTD_CONTENTSIZE_ERROR) return false;
      return n == ZSTD_CONTENTSIZE_UNKNOWN || n == size;
    }
    return size <= uint64_t{in.size()} * 1032 + 64;
  }
  static constexpr uint64_t kMaxContent = uint64_t{1} << 30;
  // Fills exactly `size` bytes of `out`.
  bool run(const std::vector<char>& in, char* out, size_t size) const {
    if (zstd_) {
      size_t n = ZSTD_decompressDCtx(zstd_, out, size, in.data(), in.size());
      return !ZSTD_isError(n) && n == size;
    }
    uLongf n = size;
    return uncompress(reinterpret_cast<Bytef*>(out), &n, reinterpret_cast<const Bytef*>(in.data()),
                      in.size()) == Z_OK &&
           n == size;
  }
  bool run(const std::vector<char>& in, std::vector<char>& out) const {
    return run(in, out.data(), out.size());
  }

 private:
  std::string name_;
  ZSTD_DCtx* zstd_ = nullptr;
};

struct CpuRegion {
  uint64_t offset = 0;  // in the file
  uint64_t size = 0;    // bytes in the file (compressed: the chunks, after their count)
};

struct TepFree {
  void operator()(tep_handle* tep) const { tep_free(tep); }
};

// What the reader needs of a version 7 file, read without libtracecmd.
struct DatMeta {
  std::unique_ptr<tep_handle, TepFree> tep;  // ftrace event formats, kallsyms, command lines
  uint32_t page_size = 0;
  std::string compression;      // "none", "zstd", "zlib"
  bool compressed = false;      // the flyrecord section is compressed in chunks
  std::vector<CpuRegion> cpus;  // in the order libtracecmd numbers them
  std::string uname;
  std::string cpustats;  // the CPUSTAT options, one after the other, as libtracecmd keeps them
  bool needs_libtracecmd = false;  // sound, but read through libtracecmd (see the top)
};

// Reads a NUL-terminated string at `pos` of `buf`; nullopt past the end.
std::optional<std::string> string_at(const std::vector<char>& buf, size_t& pos) {
  size_t end = pos;
  while (end < buf.size() && buf[end] != '\0') ++end;
  if (end >= buf.size()) return std::nullopt;
  std::string out(buf.data() + pos, end - pos);
  pos = end + 1;
  return out;
}

// Refusals of a damaged file: what is wrong, the file and the offset where it was found.
class Damage {
 public:
  explicit Damage(const std::string& path) : path_(path) {}
  tl::unexpected<Error> operator()(uint64_t offset, const std::string& what) const {
    return bad_input("damaged trace.dat: " + what, path_ + " at offset " + std::to_string(offset),
                     "the file is truncated or corrupted; record it again, or see what "
                     "'trace-cmd report -i FILE' makes of it");
  }
  const std::string& path() const { return path_; }

 private:
  const std::string& path_;
};

// What libtracecmd's handle_options() (trace-input.c, versions 6 and 7) takes for granted in
// an option's content, unchecked: the text options are C strings it strdup()s, strtoll()s or
// strtok()s (past the option when it has no NUL), a CPU count is 4 bytes it reads, a CPUSTAT
// option's last byte is overwritten (the byte before the buffer when the option is empty), a
// hook it cannot parse is a NULL dereference, a guest's CPU ids index an array. Why the
// option would hurt libtracecmd, or nullopt when it can take it.
std::optional<std::string> unsafe_for_libtracecmd(const DatFile& f, uint16_t id, const char* data,
                                                  uint64_t size) {
  auto ends_at = [&](uint64_t from) -> std::optional<uint64_t> {  // the NUL at or after `from`
    if (from >= size) return std::nullopt;
    const void* nul = std::memchr(data + from, '\0', size - from);
    if (!nul) return std::nullopt;
    return static_cast<uint64_t>(static_cast<const char*>(nul) - data);
  };
  std::string option = "option " + std::to_string(id);
  switch (id) {
    case kOptionDate:
    case kOptionTraceClock:
    case kOptionUname:
    case kOptionOffset:
    case kOptionVersion:
    case kOptionProcMaps:
    case kOptionLastBootInfo:
      if (!ends_at(0)) return option + " whose text does not end inside it";
      return std::nullopt;
    case kOptionHook:
      if (!ends_at(0) || !ps_tracecmd_hook_parses(data))
        return std::string("a hook option that is not a hook");
      return std::nullopt;
    case kOptionCpuStat:
      if (size == 0) return std::string("an empty CPU statistics option");
      return std::nullopt;
    case kOptionCpuCount:
      if (size != 4) return "a CPU count option of " + std::to_string(size) + " bytes, not 4";
      return std::nullopt;
    case kOptionBuffer:
    case kOptionBufferText:
      if (size < 8 || !ends_at(8)) return std::string("a buffer option without its name");
      return std::nullopt;
    case kOptionGuest: {
      // The guest's name, its trace id (8 bytes), its CPU count, then (CPU id, pid) pairs.
      auto name_end = ends_at(0);
      if (!name_end || size - *name_end - 1 < 12)
        return std::string("a guest option without its name, trace id and CPU count");
      uint64_t at = *name_end + 1 + 8;
      uint32_t vcpus = f.number<uint32_t>(data + at);
      at += 4;
      if (vcpus > (size - at) / 8)
        return "a guest option of " + std::to_string(vcpus) + " CPUs, more than it holds";
      for (uint32_t i = 0; i < vcpus; ++i)
        if (f.number<uint32_t>(data + at + 8 * uint64_t{i}) >= vcpus)
          return "a guest option naming a CPU it does not have";
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

// A file whose top buffer is a latency tracer's text (a 'latency' section in version 6, a
// BUFFER_TEXT option in version 7): no function_graph records to import, and libtracecmd sets
// up no per-CPU data for it while still counting the CPUs, so reading the first record of CPU
// 0 dereferences its null per-CPU array.
tl::unexpected<Error> latency_trace(const std::string& path, uint64_t offset) {
  return bad_input("trace.dat holds a latency tracer's text, not function_graph records",
                   path + " at offset " + std::to_string(offset),
                   "record with 'trace-cmd record -p function_graph' or 'probeseek record'; "
                   "'trace-cmd report -i FILE' prints a latency trace");
}

// A section's content (decompressed), checking its id and every size against the file.
Result<std::vector<char>> read_section(const DatFile& f, const Decompressor& z, uint64_t at,
                                       uint16_t id, const Damage& damaged) {
  unsigned char sh[16];
  if (!f.read(at, sh, sizeof sh)) return damaged(at, "a section header past the end of the file");
  uint16_t sid = f.number<uint16_t>(sh), flags = f.number<uint16_t>(sh + 2);
  uint64_t size = f.number<uint64_t>(sh + 8);
  if (sid != id)
    return damaged(
        at, "section " + std::to_string(sid) + " where section " + std::to_string(id) + " belongs");
  if (size > f.size() - std::min<uint64_t>(f.size(), at + 16))
    return damaged(at, "a section of " + std::to_string(size) + " bytes, past the end of the file");
  std::vector<char> data;
  if (flags & kSectionCompressed) {
    uint32_t zsize, rsize;
    if (!z.supported())
      return damaged(at, "a compressed section, but the file names no compression");
    if (size < 8 || !f.read_number(at + 16, &zsize) || !f.read_number(at + 20, &rsize) ||
        zsize > size - 8)
      return damaged(at, "a compressed section whose sizes do not fit it");
    std::vector<char> in(zsize);
    if (!f.read(at + 24, in.data(), zsize)) return damaged(at, "a truncated compressed section");
    if (!z.plausible(in, rsize))
      return damaged(
          at, "a compressed section that claims " + std::to_string(rsize) + " bytes of content");
    data.resize(rsize);
    if (!z.run(in, data)) return damaged(at, "a compressed section that does not decompress");
  } else {
    data.resize(size);
    if (!f.read(at + 16, data.data(), size)) return damaged(at, "a truncated section");
  }
  return data;
}

// Registers the functions of a kallsyms text with the tep exactly as tep_parse_kallsyms()
// does, in the same order (so its function map, ties included, is the same), without its
// sscanf per line. Lines in another shape than "ADDR TYPE NAME[\t[MODULE]]" go to
// tep_parse_kallsyms() itself, whole.
void register_kallsyms(tep_handle* tep, std::string text) {
  struct Line {
    uint64_t address;
    size_t name, name_end, module, module_end;  // module == 0: none
    char type;
  };
  std::vector<Line> lines;
  lines.reserve(text.size() / 40);
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  bool simple = text.find('\0') == std::string::npos;
  for (size_t pos = 0; simple && pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (end == pos) {  // strtok_r skips empty lines
      pos = end + 1;
      continue;
    }
    Line l{};
    size_t i = pos;
    int digits = 0;
    for (int d; i < end && digits < 16 && (d = hex(text[i])) >= 0; ++i, ++digits)
      l.address = (l.address << 4) | static_cast<uint64_t>(d);
    // "ADDR T NAME": one space each side of the type, a name without spaces.
    if (digits == 0 || i + 3 > end || text[i] != ' ' || space(text[i + 1]) || text[i + 2] != ' ' ||
        space(text[i + 3])) {
      simple = false;
      break;
    }
    l.type = text[i + 1];
    l.name = i + 3;
    i = l.name;
    while (i < end && !space(text[i])) ++i;
    l.name_end = i;
    if (i < end) {  // "\t[MODULE]" and nothing else
      if (text[i] != '\t' || i + 3 > end || text[i + 1] != '[') {
        simple = false;
        break;
      }
      l.module = i + 2;
      i = l.module;
      while (i < end && !space(text[i])) ++i;
      l.module_end = i;
      if (i != end || text[i - 1] != ']' || l.module_end - 1 <= l.module) {
        simple = false;
        break;
      }
      l.module_end -= 1;  // the ']'
    }
    lines.push_back(l);
    pos = end + 1;
  }
  if (!simple) {
    tep_parse_kallsyms(tep, text.c_str());
    return;
  }
  for (const Line& l : lines) {
    // libtraceevent skips arm's '$' mapping symbols and x86-64's absolute per-CPU offsets.
    if (text[l.name] == '$' || l.type == 'A' || l.type == 'a') continue;
    text[l.name_end] = '\0';
    char* module = nullptr;
    if (l.module) {
      text[l.module_end] = '\0';
      module = &text[l.module];
    }
    tep_register_function(tep, &text[l.name], l.address, module);
  }
}

// The header of a trace.dat, both versions: magic, version, byte order, long size, page size.
struct DatHeader {
  int version = 0;
  int long_size = 0;
  uint32_t page_size = 0;
  size_t end = 0;  // offset of what follows the page size
};

Result<DatHeader> read_header(DatFile& f, const std::vector<char>& head, const Damage& damaged) {
  if (head.size() < 10 || std::memcmp(head.data(), "\x17\x08\x44tracing", 10) != 0)
    return bad_input("not a trace.dat (no trace-cmd magic bytes)", damaged.path(),
                     "pass a trace.dat or the output of 'trace-cmd report -i FILE'");
  size_t pos = 10;
  auto version = string_at(head, pos);
  if (!version) return damaged(10, "the header ends before its version");
  DatHeader h;
  if (*version == "6")
    h.version = 6;
  else if (*version == "7")
    h.version = 7;
  else
    return bad_input("unsupported trace.dat version '" + version->substr(0, 16) + "'",
                     damaged.path() + " at offset 10",
                     "probeseek reads versions 6 and 7 (trace-cmd 2.x and 3.x)");
  if (pos + 6 > head.size()) return damaged(pos, "the header ends before its page size");
  f.big_endian = head[pos] != 0;
  h.long_size = head[pos + 1];
  if (h.long_size != 4 && h.long_size != 8)
    return damaged(pos + 1, "a long size of " + std::to_string(h.long_size) + " bytes");
  pos += 2;
  h.page_size = f.number<uint32_t>(head.data() + pos);
  // libtracecmd divides by it and sizes buffers with it: a power of two a kernel can have.
  if (h.page_size < 1024 || h.page_size > (1u << 20) || (h.page_size & (h.page_size - 1)) != 0)
    return damaged(pos, "a page size of " + std::to_string(h.page_size) + " bytes");
  h.end = pos + 4;
  return h;
}

// The metadata of a version 7 file and the layout of its top flyrecord buffer. A damaged file
// is an error naming the offset; a sound file this reader does not stream itself (timestamps
// libtracecmd adjusts, a latency buffer) comes back with needs_libtracecmd set, checked whole
// all the same.
Result<DatMeta> read_meta(DatFile& f, const DatHeader& h, const std::vector<char>& head,
                          const Damage& damaged) {
  size_t pos = h.end;
  DatMeta meta;
  meta.page_size = h.page_size;
  int long_size = h.long_size;
  auto zname = string_at(head, pos);
  auto zversion = string_at(head, pos);
  if (!zname || !zversion) return damaged(h.end, "the header ends in its compression name");
  if (pos + 8 > head.size()) return damaged(pos, "the header ends before its options offset");
  meta.compression = *zname;
  Decompressor z(meta.compression);
  if (meta.compression != "none" && !z.supported())
    return bad_input("unsupported trace.dat compression '" + meta.compression.substr(0, 32) + "'",
                     damaged.path() + " at offset " + std::to_string(h.end),
                     "trace-cmd 3.1 writes zstd or zlib; 'trace-cmd convert --compression none' "
                     "rewrites the file without compression");
  uint64_t options = f.number<uint64_t>(head.data() + pos);

  std::optional<uint64_t> buffer_section, header_info, ftrace_events, kallsyms, cmdlines;
  std::optional<uint64_t> latency;  // the option section of a top-level BUFFER_TEXT option
  // The first option libtracecmd could not take (see unsafe_for_libtracecmd): a refusal if
  // the file turns out to need libtracecmd; this reader does not read those options that way.
  std::optional<std::pair<uint64_t, std::string>> unsafe;
  std::vector<uint64_t> seen;  // option sections read: a chain that loops is damage
  while (options != 0) {
    if (seen.size() >= 64 || std::find(seen.begin(), seen.end(), options) != seen.end())
      return damaged(options, "option sections that chain in a loop");
    seen.push_back(options);
    uint64_t section_at = options;
    auto data = read_section(f, z, section_at, 0, damaged);
    if (!data) return tl::unexpected(data.error());
    options = 0;
    size_t p = 0;
    while (p + 6 <= data->size()) {
      uint16_t oid = f.number<uint16_t>(data->data() + p);
      uint32_t osize = f.number<uint32_t>(data->data() + p + 2);
      p += 6;
      if (osize > data->size() - p)
        return damaged(section_at, "option " + std::to_string(oid) + " of " +
                                       std::to_string(osize) + " bytes overruns its section");
      std::vector<char> o(data->begin() + static_cast<long>(p),
                          data->begin() + static_cast<long>(p + osize));
      p += osize;
      if (!unsafe)
        if (auto why = unsafe_for_libtracecmd(f, oid, o.data(), o.size()))
          unsafe.emplace(section_at, *why);
      // A section offset: within the file, or the option is damaged.
      auto offset = [&]() -> Result<uint64_t> {
        if (o.size() < 8 || f.number<uint64_t>(o.data()) >= f.size())
          return damaged(section_at,
                         "option " + std::to_string(oid) + " points to no section of the file");
        return f.number<uint64_t>(o.data());
      };
      Result<uint64_t> at;
      switch (oid) {
        case kOptionDone:
          if (o.size() < 8) return damaged(section_at, "a truncated end-of-options option");
          options = f.number<uint64_t>(o.data());
          if (options >= f.size())
            return damaged(section_at, "the next option section is past the end of the file");
          p = data->size();
          continue;
        case kOptionDate:
        case kOptionOffset:
        case kOptionTimeShift:
        case kOptionTsc2Nsec:
          meta.needs_libtracecmd = true;  // timestamps adjusted on reading: libtracecmd knows how
          continue;
        case kOptionHeaderInfo:
        case kOptionFtraceEvents:
        case kOptionKallsyms:
        case kOptionCmdlines:
          at = offset();
          if (!at) return tl::unexpected(at.error());
          (oid == kOptionHeaderInfo     ? header_info
           : oid == kOptionFtraceEvents ? ftrace_events
           : oid == kOptionKallsyms     ? kallsyms
                                        : cmdlines) = *at;
          continue;
        case kOptionUname:
          if (!o.empty()) meta.uname.assign(o.data(), strnlen(o.data(), o.size()));
          continue;
        case kOptionCpuStat:
          // libtracecmd turns each one's last byte (its NUL) into a newline and appends it.
          if (!o.empty()) {
            o.back() = '\n';
            meta.cpustats.append(o.data(), o.size());
          }
          continue;
        case kOptionBuffer:
        case kOptionBufferText:
          break;
        default:
          continue;
      }
      at = offset();
      if (!at) return tl::unexpected(at.error());
      size_t q = 8;
      auto name = string_at(o, q);
      auto clock = string_at(o, q);
      if (!name || !clock) return damaged(section_at, "a buffer option without name and clock");
      if (!name->empty()) continue;  // another instance: libtracecmd reads the top one
      // libtracecmd keeps the last top-level buffer option; this reader checks the one there is.
      if (buffer_section || latency) return damaged(section_at, "a second top-level buffer option");
      if (oid == kOptionBufferText) {
        latency = section_at;
        continue;
      }
      buffer_section = *at;
      // CPU count and CPUs, optionally preceded by the buffer's page size (trace-cmd 3.1+).
      size_t rest = o.size() - q;
      uint32_t cpus = 0;
      if (rest >= 4 && rest == 4 + 20ull * f.number<uint32_t>(o.data() + q)) {
        cpus = f.number<uint32_t>(o.data() + q);
        q += 4;
      } else if (rest >= 8 && rest == 8 + 20ull * f.number<uint32_t>(o.data() + q + 4)) {
        if (f.number<uint32_t>(o.data() + q) != meta.page_size)
          return damaged(section_at, "a buffer whose page size is not the file's");
        cpus = f.number<uint32_t>(o.data() + q + 4);
        q += 8;
      } else {
        return damaged(section_at, "a buffer option whose CPU list does not fit it");
      }
      for (uint32_t c = 0; c < cpus; ++c, q += 20) {
        CpuRegion r{f.number<uint64_t>(o.data() + q + 4), f.number<uint64_t>(o.data() + q + 12)};
        if (r.offset > f.size() || r.size > f.size() - r.offset)
          return damaged(section_at, "CPU " + std::to_string(c) + "'s data (" +
                                         std::to_string(r.size) + " bytes at offset " +
                                         std::to_string(r.offset) +
                                         ") is past the end of the file");
        meta.cpus.push_back(r);
      }
    }
  }
  if (latency) return latency_trace(damaged.path(), *latency);
  if (!buffer_section) return damaged(h.end, "no flyrecord buffer option");
  if (meta.needs_libtracecmd && unsafe) return damaged(unsafe->first, unsafe->second);
  if (!header_info) return damaged(h.end, "no header-info option");
  if (!ftrace_events) return damaged(h.end, "no ftrace event formats option");
  unsigned char sh[16];
  if (!f.read(*buffer_section, sh, sizeof sh) || f.number<uint16_t>(sh) != kOptionBuffer)
    return damaged(*buffer_section, "the flyrecord buffer's section header is not one");
  meta.compressed = (f.number<uint16_t>(sh + 2) & kSectionCompressed) != 0;
  if (meta.compressed && !z.supported())
    return damaged(*buffer_section, "a compressed buffer, but the file names no compression");

  // The tep, as libtracecmd sets it up (tracecmd_alloc_fd, read_header_files, ...), minus
  // the formats of the events a function_graph import never decodes.
  meta.tep.reset(tep_alloc());
  tep_handle* tep = meta.tep.get();
  if (!tep) return runtime_error("cannot allocate a tep handle", damaged.path(), ENOMEM);
  tep_set_file_bigendian(tep, f.big_endian ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
  tep_set_local_bigendian(
      tep, __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
  tep_set_long_size(tep, long_size);

  auto header = read_section(f, z, *header_info, kOptionHeaderInfo, damaged);
  if (!header) return tl::unexpected(header.error());
  if (header->size() < 20 || std::memcmp(header->data(), "header_page", 12) != 0)
    return damaged(*header_info, "a header-info section without its header_page");
  uint64_t header_size = f.number<uint64_t>(header->data() + 12);
  if (header_size > header->size() - 20)
    return damaged(*header_info, "a header_page format longer than its section");
  tep_parse_header_page(tep, header->data() + 20, header_size, long_size);

  auto ftrace = read_section(f, z, *ftrace_events, kOptionFtraceEvents, damaged);
  if (!ftrace) return tl::unexpected(ftrace.error());
  if (ftrace->size() < 4) return damaged(*ftrace_events, "an empty ftrace formats section");
  uint32_t count = f.number<uint32_t>(ftrace->data());
  size_t at = 4;
  for (uint32_t i = 0; i < count; ++i) {
    if (ftrace->size() - at < 8)
      return damaged(*ftrace_events, "fewer ftrace formats than the section's count");
    uint64_t size = f.number<uint64_t>(ftrace->data() + at);
    at += 8;
    if (size > ftrace->size() - at)
      return damaged(*ftrace_events, "an ftrace format longer than its section");
    const std::string format =
        format_without_dividing_print(std::string_view(ftrace->data() + at, size));
    tep_parse_event(tep, format.data(), format.size(), "ftrace");
    at += size;
  }

  if (kallsyms) {
    auto text = read_section(f, z, *kallsyms, kOptionKallsyms, damaged);
    if (!text) return tl::unexpected(text.error());
    if (text->size() < 4) return damaged(*kallsyms, "a truncated kallsyms section");
    uint32_t size = f.number<uint32_t>(text->data());
    if (size > text->size() - 4) return damaged(*kallsyms, "kallsyms text longer than its section");
    // libtracecmd reads it as a C string: it ends at its first NUL, if any.
    std::string symbols(text->data() + 4, strnlen(text->data() + 4, size));
    if (!symbols.empty()) register_kallsyms(tep, std::move(symbols));
  }
  if (cmdlines) {
    auto text = read_section(f, z, *cmdlines, kOptionCmdlines, damaged);
    if (!text) return tl::unexpected(text.error());
    if (text->size() < 8) return damaged(*cmdlines, "a truncated command-lines section");
    uint64_t size = f.number<uint64_t>(text->data());
    if (size > text->size() - 8)
      return damaged(*cmdlines, "command lines longer than their section");
    std::string lines(text->data() + 8, size);
    tep_parse_saved_cmdlines(tep, lines.c_str());
  }
  return meta;
}

// Whether a record kbuffer returned lies inside its page (kbuffer trusts the length a record
// gives itself; the last one of a damaged page can claim more than the page holds).
bool inside_page(const char* page, uint32_t page_size, const void* data, int size) {
  const char* p = static_cast<const char*>(data);
  return p >= page && size >= 0 && p <= page + page_size &&
         static_cast<uint64_t>(size) <= static_cast<uint64_t>(page + page_size - p);
}

// One CPU's records, page by page: the current page in a kbuffer, the chunk it came from.
class CpuStream {
 public:
  CpuStream(const DatFile& f, const DatMeta& layout, const CpuRegion& region, const Decompressor& z,
            kbuffer* kbuf, int header_long)
      : f_(f),
        layout_(layout),
        z_(z),
        kbuf_(kbuf),
        next_(region.offset),
        end_(region.offset + region.size),
        header_long_(header_long) {}
  ~CpuStream() { kbuffer_free(kbuf_); }
  CpuStream(const CpuStream&) = delete;
  CpuStream& operator=(const CpuStream&) = delete;

  // Checks every chunk header (compressed data) or the page alignment, before any record is
  // used, so a damaged file is refused before the builder sees it.
  bool check() {
    if (!kbuf_) return fail(next_, "cannot allocate a kbuffer");
    if (!layout_.compressed) {
      if ((end_ - next_) % layout_.page_size != 0)
        return fail(next_, "a CPU's data that is not whole pages");
      return true;
    }
    // The region's size counts the chunks, not the chunk count before them.
    uint32_t count;
    if (!f_.read_number(next_, &count)) return fail(next_, "a truncated chunk table");
    if (count > f_.size() / 8) return fail(next_, "more chunks than the file can hold");
    uint64_t at = next_ + 4;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t zsize, size;
      if (!f_.read_number(at, &zsize) || !f_.read_number(at + 4, &size))
        return fail(at, "a chunk header past the end of the file");
      if (size % layout_.page_size != 0 || size > (256u << 20))
        return fail(at, "a chunk of " + std::to_string(size) + " bytes, not whole pages");
      at += 8 + uint64_t{zsize};
      if (at > f_.size()) return fail(at - zsize - 8, "a chunk past the end of the file");
    }
    chunks_left_ = count;
    next_ += 4;
    return true;
  }

  // The next record, or false at the end (failed() tells an error from the end).
  bool advance() {
    void* data = started_ ? kbuffer_next_event(kbuf_, &ts_) : nullptr;
    started_ = true;
    while (!data) {
      if (!load_page()) return false;
      data = kbuffer_read_event(kbuf_, &ts_);
    }
    record_.ts = ts_;
    record_.data = data;
    record_.size = kbuffer_event_size(kbuf_);
    // kbuffer takes a record's length from the record: it must end inside its page.
    if (!inside_page(page_start_, layout_.page_size, data, record_.size))
      return fail(page_offset_, "a record that overruns its ring-buffer page");
    record_.missed_events = kbuffer_missed_events(kbuf_);
    record_.offset = page_offset_;
    return true;
  }
  tep_record* record() { return &record_; }
  bool failed() const { return failed_; }
  uint64_t failed_at() const { return failed_at_; }
  const std::string& failure() const { return failure_; }

 private:
  bool load_page() {
    if (page_ >= pages_) {
      if (!load_block()) return false;
    }
    char* page = buf_.data() + page_ * layout_.page_size;
    page_start_ = page;
    if (!layout_.compressed) page_offset_ = block_offset_ + page_ * layout_.page_size;
    ++page_;
    // A page: its timestamp, then the size of its data (the commit field, a kernel long whose
    // top bits are flags). kbuffer trusts that size; a damaged page must not send it past the
    // page (and the slack after the block keeps a truncated last record's fields readable).
    uint64_t commit =
        header_long_ == 8 ? f_.number<uint64_t>(page + 8) : f_.number<uint32_t>(page + 8);
    if ((commit & ((1u << 27) - 1)) > layout_.page_size - 8 - static_cast<unsigned>(header_long_))
      return fail(page_offset_, "a ring-buffer page whose data size overruns the page");
    kbuffer_load_subbuffer(kbuf_, page);
    return true;
  }
  bool load_block() {
    page_ = pages_ = 0;
    if (!layout_.compressed) {
      uint64_t left = end_ - next_;
      if (left == 0) return false;
      uint64_t n = std::min<uint64_t>(left, uint64_t{layout_.page_size} * 16);
      buf_.assign(n + kSlack, 0);
      if (!f_.read(next_, buf_.data(), n)) return fail(next_, "truncated ring-buffer pages");
      block_offset_ = next_;
      next_ += n;
      pages_ = n / layout_.page_size;
      return true;
    }
    while (chunks_left_ > 0) {
      --chunks_left_;
      uint32_t zsize, size;
      if (!f_.read_number(next_, &zsize) || !f_.read_number(next_ + 4, &size))
        return fail(next_, "a truncated chunk header");
      zbuf_.resize(zsize);
      if (!f_.read(next_ + 8, zbuf_.data(), zsize)) return fail(next_, "a truncated chunk");
      if (!z_.plausible(zbuf_, size))
        return fail(next_,
                    "a chunk that cannot hold the " + std::to_string(size) + " bytes it claims");
      buf_.resize(size + kSlack);
      std::memset(buf_.data() + size, 0, kSlack);
      if (!z_.run(zbuf_, buf_.data(), size)) return fail(next_, "a chunk that does not decompress");
      page_offset_ = next_;  // records of compressed pages are named by their chunk
      next_ += 8 + uint64_t{zsize};
      pages_ = size / layout_.page_size;
      if (pages_ > 0) return true;
    }
    return false;
  }
  bool fail(uint64_t at, std::string what) {
    failed_ = true;
    failed_at_ = at;
    failure_ = std::move(what);
    return false;
  }

  static constexpr size_t kSlack = 64;

  const DatFile& f_;
  const DatMeta& layout_;
  const Decompressor& z_;
  kbuffer* kbuf_;
  uint64_t next_;  // file offset of the next chunk header (or raw page)
  uint64_t end_;
  int header_long_;  // size of the page header's commit field
  uint32_t chunks_left_ = 0;
  std::vector<char> zbuf_, buf_;  // one compressed chunk, its pages
  size_t page_ = 0, pages_ = 0;
  uint64_t block_offset_ = 0;         // file offset of buf_'s first page (uncompressed data)
  uint64_t page_offset_ = 0;          // file offset of the current page, or of its chunk
  const char* page_start_ = nullptr;  // the current page, in buf_
  unsigned long long ts_ = 0;
  bool started_ = false;
  bool failed_ = false;
  uint64_t failed_at_ = 0;
  std::string failure_;
  tep_record record_{};
};

// Streams the records of every CPU, merged by timestamp (ties: the lower CPU index first, as
// ps_tracecmd_iterate does), into on_record; with s == nullptr only checks every page (for a
// file libtracecmd then reads). A damaged chunk table, page or record is an error naming its
// offset, returned before the builder sees any record when the damage is in the tables.
Status stream_cpu_data(const DatFile& f, const DatMeta& meta, tep_handle* tep, ReadState* s,
                       const Damage& damaged) {
  Decompressor z(meta.compression);
  int header_long = tep_get_header_page_size(tep);
  auto long_size = header_long == 8 ? KBUFFER_LSIZE_8 : KBUFFER_LSIZE_4;
  auto endian = tep_is_file_bigendian(tep) ? KBUFFER_ENDIAN_BIG : KBUFFER_ENDIAN_LITTLE;
  std::vector<std::unique_ptr<CpuStream>> cpus;
  auto refuse = [&](const CpuStream& c) { return damaged(c.failed_at(), c.failure()); };
  for (const CpuRegion& region : meta.cpus) {
    kbuffer* kbuf = kbuffer_alloc(long_size, endian);
    if (kbuf && tep_is_old_format(tep)) kbuffer_set_old_format(kbuf);
    cpus.push_back(std::make_unique<CpuStream>(f, meta, region, z, kbuf, header_long == 8 ? 8 : 4));
    if (!cpus.back()->check()) return refuse(*cpus.back());
  }
  std::vector<bool> live(cpus.size());
  for (size_t c = 0; c < cpus.size(); ++c) {
    live[c] = cpus[c]->advance();
    if (cpus[c]->failed()) return refuse(*cpus[c]);
  }
  for (;;) {
    int next = -1;
    for (size_t c = 0; c < cpus.size(); ++c)
      if (live[c] && (next < 0 || cpus[c]->record()->ts < cpus[next]->record()->ts))
        next = static_cast<int>(c);
    if (next < 0) break;
    cpus[next]->record()->cpu = next;
    if (s && on_record(cpus[next]->record(), next, s) != 0)
      return damaged(s->damage_offset, s->damage.value_or("a damaged record"));
    live[next] = cpus[next]->advance();
    if (cpus[next]->failed()) return refuse(*cpus[next]);
  }
  return {};
}

// Checks every page header of one CPU's raw (uncompressed) data: its data size (the commit
// field) must stay inside the page, as load_page checks it for our own reader.
Status check_raw_pages(const DatFile& f, uint64_t offset, uint64_t size, uint32_t page_size,
                       int long_size, bool old_format, const Damage& damaged) {
  if (size % page_size != 0) return damaged(offset, "a CPU's data that is not whole pages");
  struct KbufferFree {
    void operator()(kbuffer* k) const { kbuffer_free(k); }
  };
  std::unique_ptr<kbuffer, KbufferFree> kbuf(
      kbuffer_alloc(long_size == 8 ? KBUFFER_LSIZE_8 : KBUFFER_LSIZE_4,
                    f.big_endian ? KBUFFER_ENDIAN_BIG : KBUFFER_ENDIAN_LITTLE));
  if (!kbuf) return runtime_error("cannot allocate a kbuffer", damaged.path(), ENOMEM);
  if (old_format) kbuffer_set_old_format(kbuf.get());
  std::vector<char> block;
  for (uint64_t done = 0; done < size;) {
    uint64_t n = std::min<uint64_t>(size - done, uint64_t{page_size} * 64);
    block.assign(n + 64, 0);  // slack: kbuffer reads a header of up to 8 bytes at the end
    if (!f.read(offset + done, block.data(), n))
      return damaged(offset + done, "truncated ring-buffer pages");
    for (uint64_t page = 0; page < n; page += page_size) {
      const char* p = block.data() + page;
      uint64_t commit = long_size == 8 ? f.number<uint64_t>(p + 8) : f.number<uint32_t>(p + 8);
      if ((commit & ((1u << 27) - 1)) > page_size - 8 - static_cast<unsigned>(long_size))
        return damaged(offset + done + page,
                       "a ring-buffer page whose data size overruns the page");
      // Every record inside the page: libtracecmd's kbuffer trusts their lengths.
      kbuffer_load_subbuffer(kbuf.get(), const_cast<char*>(p));
      unsigned long long ts;
      for (void* r = kbuffer_read_event(kbuf.get(), &ts); r;
           r = kbuffer_next_event(kbuf.get(), &ts))
        if (!inside_page(p, page_size, r, kbuffer_event_size(kbuf.get())))
          return damaged(offset + done + page, "a record that overruns its ring-buffer page");
    }
    done += n;
  }
  return {};
}

// A version 6 file, walked whole before libtracecmd sees it (trace-cmd.dat.v6(5)): every size
// and offset within the file, every label where it belongs, every page header sound.
// libtracecmd trusts them and crashes on a truncated or damaged file.
Status check_v6(const DatFile& f, const DatHeader& h, const Damage& damaged) {
  uint64_t at = h.end;
  auto need = [&](uint64_t n, const char* what) -> Status {
    if (at > f.size() || n > f.size() - at)
      return damaged(at, std::string(what) + " past the end of the file");
    return {};
  };
  auto label = [&](std::string_view want) -> Status {
    char buf[16];
    if (auto ok = need(want.size(), "a section label"); !ok) return ok;
    if (!f.read(at, buf, want.size()) || std::string_view(buf, want.size()) != want)
      return damaged(at, "no '" + std::string(want.substr(0, want.find('\0'))) + "' label here");
    at += want.size();
    return {};
  };
  // A size field of `width` bytes, then that many bytes.
  auto sized = [&](int width, const char* what) -> Status {
    uint64_t size = 0;
    if (auto ok = need(width, what); !ok) return ok;
    if (width == 8) {
      f.read_number(at, &size);
    } else {
      uint32_t s32 = 0;
      f.read_number(at, &s32);
      size = s32;
    }
    uint64_t start = at;
    at += width;
    if (size > f.size() - at)
      return damaged(start, std::string(what) + " of " + std::to_string(size) +
                                " bytes, past the end of the file");
    at += size;
    return {};
  };
  auto count = [&](const char* what, uint32_t& n) -> Status {
    if (auto ok = need(4, what); !ok) return ok;
    f.read_number(at, &n);
    // Each item takes at least 8 bytes.
    if (n > (f.size() - at) / 8)
      return damaged(at,
                     std::string(what) + " of " + std::to_string(n) + ", more than fit the file");
    at += 4;
    return {};
  };
  Status ok;
  if (!(ok = label(std::string_view("header_page\0", 12)))) return ok;
  uint64_t header_page_at = at;
  if (!(ok = sized(8, "the header_page format"))) return ok;
  // libtracecmd reads the pages with the commit field's size from the header_page format as
  // the kernel's long (not the header's long size), in the old format if the format says so:
  // the pages are checked as it reads them.
  int page_long = 4;
  bool old_format = false;
  {
    std::unique_ptr<tep_handle, TepFree> tep(tep_alloc());
    if (!tep) return runtime_error("cannot allocate a tep handle", damaged.path(), ENOMEM);
    tep_set_file_bigendian(tep.get(), f.big_endian ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
    tep_set_long_size(tep.get(), h.long_size);
    std::vector<char> format(at - header_page_at - 8);
    f.read(header_page_at + 8, format.data(), format.size());  // sized() checked it
    tep_parse_header_page(tep.get(), format.data(), format.size(), h.long_size);
    page_long = tep_get_header_page_size(tep.get()) == 8 ? 8 : 4;
    old_format = tep_is_old_format(tep.get());
  }
  if (!(ok = label(std::string_view("header_event\0", 13)))) return ok;
  if (!(ok = sized(8, "the header_event format"))) return ok;
  uint32_t n = 0;
  if (!(ok = count("an ftrace format count", n))) return ok;
  // An event format, sized, that libtraceevent can parse without dividing by zero.
  auto event_format = [&](const char* what) -> Status {
    const uint64_t start = at;
    if (auto ok = sized(8, what); !ok) return ok;
    std::string text(at - start - 8, '\0');
    f.read(start + 8, text.data(), text.size());  // sized() checked it
    if (print_fmt_may_divide_by_zero(text))
      return damaged(start, std::string(what) +
                                " whose print fmt divides by a constant that can be 0 "
                                "(libtraceevent divides it unchecked while parsing: SIGFPE)");
    return {};
  };
  for (uint32_t i = 0; i < n; ++i)
    if (!(ok = event_format("an ftrace event format"))) return ok;
  uint32_t systems = 0;
  if (!(ok = count("an event system count", systems))) return ok;
  for (uint32_t i = 0; i < systems; ++i) {
    // The system's name, NUL-terminated, at most a page long.
    char name[256];
    uint64_t left = std::min<uint64_t>(sizeof name, f.size() - std::min(at, f.size()));
    if (!f.read(at, name, left) || !std::memchr(name, '\0', left))
      return damaged(at, "an event system name without its end");
    at += std::strlen(name) + 1;
    if (!(ok = count("an event format count", n))) return ok;
    for (uint32_t j = 0; j < n; ++j)
      if (!(ok = event_format("an event format"))) return ok;
  }
  if (!(ok = sized(4, "the kallsyms text"))) return ok;
  if (!(ok = sized(4, "the printk formats"))) return ok;
  if (!(ok = sized(8, "the saved command lines"))) return ok;
  uint32_t cpus = 0;
  if (!(ok = need(4, "the CPU count"))) return ok;
  f.read_number(at, &cpus);
  if (cpus > (f.size() - at) / 16)
    return damaged(at, "a CPU count of " + std::to_string(cpus) + ", more than fit the file");
  uint64_t cpu_count_at = at;  // where the count libtracecmd uses is (an option can change it)
  bool trace_clock = false;    // a trace clock option: the clock's text follows the CPUs' data
  at += 4;
  for (int sections = 0;; ++sections) {
    char buf[10];
    if (!(ok = need(10, "a section label"))) return ok;
    f.read(at, buf, 10);
    std::string_view l(buf, 10);
    if (l == std::string_view("options  \0", 10) && sections < 8) {
      at += 10;
      for (;;) {
        uint16_t id = 0;
        if (!(ok = need(2, "an option"))) return ok;
        f.read_number(at, &id);
        at += 2;
        if (id == 0) break;
        uint64_t option_at = at;
        if (!(ok = sized(4, "an option"))) return ok;
        uint32_t size = 0;
        f.read_number(option_at, &size);
        std::vector<char> o(size);
        f.read(option_at + 4, o.data(), size);  // inside the file: sized() checked it
        if (auto why = unsafe_for_libtracecmd(f, id, o.data(), size))
          return damaged(option_at, *why);
        if (id == kOptionBuffer) {  // another instance's flyrecord: its offset, then its name
          if (f.number<uint64_t>(o.data()) >= f.size())
            return damaged(option_at, "a buffer option pointing past the end of the file");
        }
        if (id == kOptionCpuCount) {
          cpu_count_at = option_at;
          cpus = f.number<uint32_t>(o.data());
        }
        if (id == kOptionTraceClock) trace_clock = true;
      }
      continue;
    }
    if (l == std::string_view("latency  \0", 10)) return latency_trace(damaged.path(), at);
    if (l != std::string_view("flyrecord\0", 10))
      return damaged(at, "no 'flyrecord', 'latency' or 'options' label here");
    at += 10;
    break;
  }
  // libtracecmd reads as many offset and size pairs as the last CPU count option says, if any,
  // else as the count before the options.
  if (cpus > (f.size() - at) / 16)
    return damaged(cpu_count_at, "a CPU count of " + std::to_string(cpus) +
                                     ", more CPUs than the flyrecord section holds");
  for (uint32_t c = 0; c < cpus; ++c, at += 16) {
    uint64_t offset = 0, size = 0;
    if (!(ok = need(16, "a CPU's data offset and size"))) return ok;
    f.read_number(at, &offset);
    f.read_number(at + 8, &size);
    if (offset > f.size() || size > f.size() - offset)
      return damaged(at, "CPU " + std::to_string(c) + "'s data (" + std::to_string(size) +
                             " bytes at offset " + std::to_string(offset) +
                             ") is past the end of the file");
    if (size != 0 && offset % h.page_size != 0)
      return damaged(at, "CPU " + std::to_string(c) + "'s data at offset " +
                             std::to_string(offset) + ", not on a page boundary");
    if (!(ok = check_raw_pages(f, offset, size, h.page_size, page_long, old_format, damaged)))
      return ok;
  }
  // libtracecmd allocates the text's size plus one and reads that many bytes into it (a size
  // of 2^64 - 1 is a one-byte buffer and the rest of the file read into it).
  if (trace_clock)
    if (!(ok = sized(8, "the trace clock"))) return ok;
  return {};
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
    } else if (cpu >= 0 &&
               (starts_with(line, "overrun:") || starts_with(line, "dropped events:"))) {
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

// The function_graph formats and where their fields sit.
Status find_fields(ReadState& s, const std::string& path) {
  s.f.entry = tep_find_event_by_name(s.tep, "ftrace", "funcgraph_entry");
  s.f.exit = tep_find_event_by_name(s.tep, "ftrace", "funcgraph_exit");
  if (!s.f.entry || !s.f.exit)
    return bad_input("trace.dat has no function_graph event formats", path,
                     "record with 'trace-cmd record -p function_graph' or 'probeseek record'");
  s.f.entry_func = field_at(tep_find_field(s.f.entry, "func"));
  s.f.entry_depth = field_at(tep_find_field(s.f.entry, "depth"));
  s.f.exit_func = field_at(tep_find_field(s.f.exit, "func"));
  s.f.exit_depth = field_at(tep_find_field(s.f.exit, "depth"));
  s.f.exit_calltime = field_at(tep_find_field(s.f.exit, "calltime"));
  s.f.exit_rettime = field_at(tep_find_field(s.f.exit, "rettime"));
  if (!s.f.entry_func.present() || !s.f.entry_depth.present() || !s.f.exit_func.present() ||
      !s.f.exit_depth.present())
    return bad_input("trace.dat's function_graph event format lacks func/depth fields", path);
  // The common fields, where tep_data_type/pid/flags find them (every event has them).
  s.f.type = field_at(tep_find_common_field(s.f.entry, "common_type"));
  s.f.pid = field_at(tep_find_common_field(s.f.entry, "common_pid"));
  s.f.flags = field_at(tep_find_common_field(s.f.entry, "common_flags"));
  s.swap = tep_is_file_bigendian(s.tep) != tep_is_local_bigendian(s.tep);
  return {};
}

Status no_graph_records(const BuildStats& st, uint64_t before, const std::string& path) {
  if (st.entries + st.exits > before) return {};
  std::string what = st.other_events > 0
                         ? "trace.dat holds no function_graph records (" +
                               std::to_string(st.other_events) +
                               " other events: a recording of another tracer or of plain events)"
                         : "trace.dat holds no records at all";
  return bad_input(what, path,
                   "record with 'trace-cmd record -p function_graph -F CMD' or 'probeseek record'");
}

tl::unexpected<Error> unreadable_data(const std::string& path) {
  return bad_input("cannot read the trace.dat's event data", path,
                   "the file may be truncated; record it again");
}

void take_kallsyms(char* listing, SourceInfo& info) {
  if (!listing) return;
  info.kallsyms_text = kallsyms_lines(listing);
  std::free(listing);
}

}  // namespace

Result<SourceInfo> read_trace_dat(const std::string& path, CallTreeBuilder& builder) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return bad_input("cannot open trace file", path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return bad_input("not a trace.dat (not a regular file)", path,
                     "pass a trace.dat written by trace-cmd or 'probeseek record'");
  uint64_t before = builder.stats().entries + builder.stats().exits;
  Damage damaged(path);

  // Every size and offset in the file is checked before anything is read through it, and
  // before libtracecmd (which trusts them) sees the file.
  DatFile file(path);
  if (!file.ok()) return bad_input("cannot open trace file", path + ": " + std::strerror(errno));
  std::vector<char> head(std::min<uint64_t>(512, file.size()));
  if (!file.read(0, head.data(), head.size())) return damaged(0, "an unreadable header");
  auto header = read_header(file, head, damaged);
  if (!header) return tl::unexpected(header.error());

  if (header->version == 7) {
    auto meta = read_meta(file, *header, head, damaged);
    if (!meta) return tl::unexpected(meta.error());
    ReadState s{};
    s.tep = meta->tep.get();
    s.builder = &builder;
    if (auto found = find_fields(s, path); !found) return tl::unexpected(found.error());
    if (meta->needs_libtracecmd) {
      // Every page checked here first; libtracecmd below reads the records.
      if (auto sound = stream_cpu_data(file, *meta, s.tep, nullptr, damaged); !sound)
        return tl::unexpected(sound.error());
    } else {
      // Version 7 files: our own reader (see the top of this file).
      if (auto read = stream_cpu_data(file, *meta, s.tep, &s, damaged); !read)
        return tl::unexpected(read.error());
      if (auto some = no_graph_records(builder.stats(), before, path); !some)
        return tl::unexpected(some.error());
      add_overruns(meta->cpustats.empty() ? nullptr : meta->cpustats.c_str(), builder);
      SourceInfo info;
      info.format = TraceFormat::kTraceDat;
      info.kernel_release = release_from_uname(meta->uname.c_str());
      info.tracer = "function_graph";
      info.cpus = static_cast<int>(meta->cpus.size());
      take_kallsyms(ps_tep_kallsyms(s.tep), info);
      return info;
    }
  } else if (auto sound = check_v6(file, *header, damaged); !sound) {
    return tl::unexpected(sound.error());
  }

  TracecmdInput handle(ps_tracecmd_open(path.c_str()));
  if (!handle)
    return bad_input("not a readable trace.dat (libtracecmd could not parse its headers)", path,
                     "the file may be truncated or from an unsupported trace-cmd version; try "
                     "'trace-cmd report -i FILE' to see what trace-cmd makes of it");
  ReadState s{};
  s.tep = ps_tracecmd_tep(handle.get());
  s.builder = &builder;
  if (auto found = find_fields(s, path); !found) return tl::unexpected(found.error());
  if (ps_tracecmd_iterate(handle.get(), on_record, &s) < 0) {
    if (s.damage) return damaged(s.damage_offset, *s.damage);
    return unreadable_data(path);
  }
  if (auto some = no_graph_records(builder.stats(), before, path); !some)
    return tl::unexpected(some.error());
  add_overruns(ps_tracecmd_cpustats(handle.get()), builder);

  SourceInfo info;
  info.format = TraceFormat::kTraceDat;
  info.kernel_release = release_from_uname(ps_tracecmd_uname(handle.get()));
  info.tracer = "function_graph";
  info.cpus = ps_tracecmd_cpus(handle.get());
  take_kallsyms(ps_tracecmd_kallsyms(handle.get()), info);
  return info;
}

}  // namespace probeseek
