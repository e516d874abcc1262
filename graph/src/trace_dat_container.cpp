// The trace.dat container (see trace_dat_container.h): the header, version 7 option sections
// and metadata, the chunk tables of compressed CPU data, and the whole-file walk of version 6.
#include "trace_dat_container.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

#include "tracecmd_shim.h"

namespace probeseek::detail {

namespace {

// Whether `division(i)` holds for one of the '/' and '%' at i in a format's print-fmt
// arguments, outside their string literals.
template <typename Division>
bool print_fmt_divides(std::string_view format, Division division) {
  const size_t print = format.find("print fmt:");
  if (print == std::string_view::npos) return false;
  bool in_string = false;
  for (size_t i = print + 10; i < format.size(); ++i) {
    const char c = format[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if ((c == '/' || c == '%') && division(i)) {
      return true;
    }
  }
  // A string literal that never ends: libtraceevent's tokenizer does not agree with this scan
  // about where its arguments start (fuzz_trace_dat: a '"' turned into 0x1e hid a '/' that
  // libtraceevent then folded and divided by), so say it may divide.
  return in_string;
}

// libtraceevent evaluates constant arithmetic in a format's `print fmt` arguments (arg_num_eval)
// and divides without checking for zero: a hostile format kills the process with SIGFPE
// (tests/fuzz/regressions/trace_dat/print-fmt-division-by-zero, and
// print-fmt-unterminated-string-hides-division where a broken string literal hid the '/' from
// a scan). probeseek reads fields, never tep's printing: every format of a version 7 file is
// parsed with an empty print fmt, so no print-fmt argument is ever evaluated.
std::string format_without_print(std::string_view format) {
  const size_t print = format.find("print fmt:");
  if (print == std::string_view::npos) return std::string(format);
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
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  return print_fmt_divides(format, [&](size_t i) {
    size_t j = i + 1;
    while (j < format.size() &&
           (std::isspace(static_cast<unsigned char>(format[j])) || format[j] == '(' ||
            format[j] == '-' || format[j] == '+' || format[j] == '~' || format[j] == '!'))
      ++j;
    size_t end = j;
    while (end < format.size() && ident(format[end])) ++end;
    if (end == j) return false;  // a string, a cast's ')', nothing: not a folded constant
    const std::string token(format.substr(j, end - j));
    if (std::isdigit(static_cast<unsigned char>(token[0])))
      return std::strtoull(token.c_str(), nullptr, 0) == 0;
    if (token == "REC") return false;
    size_t k = end;
    while (k < format.size() && std::isspace(static_cast<unsigned char>(format[k]))) ++k;
    if (k < format.size() && format[k] == '(') return false;  // a call
    return true;                                              // a bare name: 0 to libtraceevent
  });
}

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

// Reads a NUL-terminated string at `pos` of `buf`; nullopt past the end.
std::optional<std::string> string_at(const std::vector<char>& buf, size_t& pos) {
  size_t end = pos;
  while (end < buf.size() && buf[end] != '\0') ++end;
  if (end >= buf.size()) return std::nullopt;
  std::string out(buf.data() + pos, end - pos);
  pos = end + 1;
  return out;
}

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
    if (!z.run(in, data.data(), data.size()))
      return damaged(at, "a compressed section that does not decompress");
  } else {
    data.resize(size);
    if (!f.read(at + 16, data.data(), size)) return damaged(at, "a truncated section");
  }
  return data;
}

}  // namespace

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

namespace {

// A version 7 CPU's compressed chunks, decompressed one at a time (see cpu_pages).
class ChunkPages final : public PageSource {
 public:
  ChunkPages(const DatFile& f, const Decompressor& z, uint32_t page_size, uint64_t first,
             uint32_t count)
      : f_(f), z_(z), page_size_(page_size), next_(first), chunks_left_(count) {}

  bool next(PageBlock& block, std::optional<PageFailure>& failure) override {
    auto fail = [&](uint64_t at, std::string what) {
      failure = PageFailure{at, std::move(what), 0};
      return false;
    };
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
      buf_.resize(size + kPageSlack);
      std::memset(buf_.data() + size, 0, kPageSlack);
      if (!z_.run(zbuf_, buf_.data(), size)) return fail(next_, "a chunk that does not decompress");
      // Records of compressed pages are named by their chunk.
      block = PageBlock{buf_.data(), size / page_size_, next_, 0};
      next_ += 8 + uint64_t{zsize};
      if (block.count > 0) return true;
    }
    return false;
  }

 private:
  const DatFile& f_;
  const Decompressor& z_;
  uint32_t page_size_;
  uint64_t next_;  // file offset of the next chunk header
  uint32_t chunks_left_;
  std::vector<char> zbuf_, buf_;  // one compressed chunk, its pages
};

// Checks every page of one CPU's raw (uncompressed) data as PageStream reads it (the data size
// of each page and the length of each record inside the page): libtracecmd's kbuffer trusts both.
Status check_raw_pages(const DatFile& f, uint64_t offset, uint64_t size, const PageFormat& format,
                       const Damage& damaged) {
  if (size % format.page_size != 0) return damaged(offset, "a CPU's data that is not whole pages");
  PageStream pages(0, file_pages(f.fd(), offset, size, format.page_size), format);
  if (!pages.ok()) return runtime_error("cannot allocate a kbuffer", damaged.path(), ENOMEM);
  while (pages.advance()) {
  }
  if (const auto& failure = pages.failure()) return damaged(failure->offset, failure->what);
  return {};
}

}  // namespace

DatFile::DatFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
  struct stat st {};
  if (fd_ && ::fstat(fd_.get(), &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
}

bool DatFile::read(uint64_t offset, void* into, uint64_t n) const {
  if (offset > size_ || n > size_ - offset) return false;
  return pread_exactly(fd_.get(), offset, into, n);
}

Decompressor::Decompressor(std::string name) : name_(std::move(name)) {
  if (name_ == "zstd") zstd_ = ZSTD_createDCtx();
}

Decompressor::~Decompressor() {
  if (zstd_) ZSTD_freeDCtx(zstd_);
}

// A zstd frame says its content size (trace-cmd always writes it), zlib cannot expand more
// than 1032 to 1.
bool Decompressor::plausible(const std::vector<char>& in, uint64_t size) const {
  if (size > kMaxContent) return false;
  if (zstd_) {
    unsigned long long n = ZSTD_getFrameContentSize(in.data(), in.size());
    if (n == ZSTD_CONTENTSIZE_ERROR) return false;
    return n == ZSTD_CONTENTSIZE_UNKNOWN || n == size;
  }
  return size <= uint64_t{in.size()} * 1032 + 64;
}

bool Decompressor::run(const std::vector<char>& in, char* out, size_t size) const {
  if (zstd_) {
    size_t n = ZSTD_decompressDCtx(zstd_, out, size, in.data(), in.size());
    return !ZSTD_isError(n) && n == size;
  }
  uLongf n = size;
  return uncompress(reinterpret_cast<Bytef*>(out), &n, reinterpret_cast<const Bytef*>(in.data()),
                    in.size()) == Z_OK &&
         n == size;
}

tl::unexpected<Error> Damage::operator()(uint64_t offset, const std::string& what) const {
  return bad_input("damaged trace.dat: " + what, path_ + " at offset " + std::to_string(offset),
                   "the file is truncated or corrupted; record it again, or see what "
                   "'trace-cmd report -i FILE' makes of it");
}

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
    const std::string format = format_without_print(std::string_view(ftrace->data() + at, size));
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
    meta.kallsyms = symbols;
    if (!symbols.empty()) {
      meta.functions = KallsymsFunctions::parse(std::move(symbols));
      if (!meta.functions) register_kallsyms(tep, meta.kallsyms);
    }
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

Result<std::unique_ptr<PageSource>> cpu_pages(const DatFile& f, const DatMeta& meta,
                                              const CpuRegion& region, const Decompressor& z,
                                              const Damage& damaged) {
  if (!meta.compressed) {
    if (region.size % meta.page_size != 0)
      return damaged(region.offset, "a CPU's data that is not whole pages");
    return file_pages(f.fd(), region.offset, region.size, meta.page_size);
  }
  // Every chunk header checked before any record is used, so a damaged file is refused before
  // the builder sees it. The region's size counts the chunks, not the chunk count before them.
  uint32_t count;
  if (!f.read_number(region.offset, &count))
    return damaged(region.offset, "a truncated chunk table");
  if (count > f.size() / 8) return damaged(region.offset, "more chunks than the file can hold");
  uint64_t at = region.offset + 4;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t zsize, size;
    if (!f.read_number(at, &zsize) || !f.read_number(at + 4, &size))
      return damaged(at, "a chunk header past the end of the file");
    if (size % meta.page_size != 0 || size > (256u << 20))
      return damaged(at, "a chunk of " + std::to_string(size) + " bytes, not whole pages");
    at += 8 + uint64_t{zsize};
    if (at > f.size()) return damaged(at - zsize - 8, "a chunk past the end of the file");
  }
  return std::make_unique<ChunkPages>(f, z, meta.page_size, region.offset + 4, count);
}

// A version 6 file, walked whole before libtracecmd sees it (trace-cmd.dat.v6(5)): every size
// and offset within the file, every label where it belongs, every page header sound.
// libtracecmd trusts them and crashes on a truncated or damaged file.
Status check_v6(const DatFile& f, const DatHeader& h, const Damage& damaged,
                std::string* kallsyms) {
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
  PageFormat pages;
  {
    TepHandle tep(tep_alloc());
    if (!tep) return runtime_error("cannot allocate a tep handle", damaged.path(), ENOMEM);
    tep_set_file_bigendian(tep.get(), f.big_endian ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
    tep_set_long_size(tep.get(), h.long_size);
    std::vector<char> format(at - header_page_at - 8);
    f.read(header_page_at + 8, format.data(), format.size());  // sized() checked it
    tep_parse_header_page(tep.get(), format.data(), format.size(), h.long_size);
    pages = page_format_of(tep.get(), h.page_size);
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
  const uint64_t kallsyms_at = at;
  if (!(ok = sized(4, "the kallsyms text"))) return ok;
  if (kallsyms) {  // sized() checked that the text fits the file
    uint32_t size = 0;
    f.read_number(kallsyms_at, &size);
    std::string text(size, '\0');
    if (size > 0 && !f.read(kallsyms_at + 4, text.data(), size))
      return damaged(kallsyms_at, "a truncated kallsyms text");
    text.resize(strnlen(text.data(), text.size()));  // read as a C string, as libtracecmd does
    *kallsyms = std::move(text);
  }
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
    if (!(ok = check_raw_pages(f, offset, size, pages, damaged))) return ok;
  }
  // libtracecmd allocates the text's size plus one and reads that many bytes into it (a size
  // of 2^64 - 1 is a one-byte buffer and the rest of the file read into it).
  if (trace_clock)
    if (!(ok = sized(8, "the trace clock"))) return ok;
  return {};
}

}  // namespace probeseek::detail
