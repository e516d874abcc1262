// The container of a trace-cmd trace.dat (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)), read
// without libtracecmd: the header, a version 7 file's option sections and the metadata a
// function_graph import needs (a tep_handle with the ftrace formats, kallsyms and command
// lines; each CPU's pages), and the whole-file walk that a version 6 file (or a version 7 file
// libtracecmd reads) passes before libtracecmd, which trusts every size, offset and option in
// it, sees it. No size or offset from the file is used before it is checked against the file;
// a damaged file is an error naming the offset.
#pragma once

#include <event-parse.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "funcgraph_decoder.h"  // TepHandle
#include "page_stream.h"
#include "probeseek/error.h"
#include "probeseek/fd.h"

struct ZSTD_DCtx_s;

namespace probeseek::detail {

// The file, read with pread at offsets checked against its size, numbers in its byte order.
class DatFile {
 public:
  explicit DatFile(const std::string& path);
  bool ok() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }
  uint64_t size() const { return size_; }
  // `n` bytes at `offset`; false when they are not all inside the file or cannot be read.
  bool read(uint64_t offset, void* into, uint64_t n) const;
  bool big_endian = false;
  template <typename T>
  T number(const void* p) const {
    T v;
    std::memcpy(&v, p, sizeof v);
    if (big_endian != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)) {
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
  Fd fd_;
  uint64_t size_ = 0;
};

// Decompresses trace-cmd's blocks: zstd or zlib frames, as trace-cmd writes them.
class Decompressor {
 public:
  explicit Decompressor(std::string name);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  bool supported() const { return zstd_ != nullptr || name_ == "zlib"; }
  // Whether `in` can decompress to `size` bytes, checked before `size` bytes are allocated.
  bool plausible(const std::vector<char>& in, uint64_t size) const;
  // Fills exactly `size` bytes of `out`.
  bool run(const std::vector<char>& in, char* out, size_t size) const;
  static constexpr uint64_t kMaxContent = uint64_t{1} << 30;

 private:
  std::string name_;
  ZSTD_DCtx_s* zstd_ = nullptr;  // owned
};

// Refusals of a damaged file: what is wrong, the file and the offset where it was found.
class Damage {
 public:
  explicit Damage(const std::string& path) : path_(path) {}
  tl::unexpected<Error> operator()(uint64_t offset, const std::string& what) const;
  const std::string& path() const { return path_; }

 private:
  const std::string& path_;
};

// The header of a trace.dat, both versions: magic, version, byte order, long size, page size.
struct DatHeader {
  int version = 0;
  int long_size = 0;
  uint32_t page_size = 0;
  size_t end = 0;  // offset of what follows the page size
};
// `head`: the file's first bytes (up to 512). Sets f.big_endian.
Result<DatHeader> read_header(DatFile& f, const std::vector<char>& head, const Damage& damaged);

struct CpuRegion {
  uint64_t offset = 0;  // in the file
  uint64_t size = 0;    // bytes in the file (compressed: the chunks, after their count)
};

// What the reader needs of a version 7 file, read without libtracecmd.
struct DatMeta {
  TepHandle tep;  // ftrace event formats, kallsyms, command lines
  uint32_t page_size = 0;
  std::string compression;      // "none", "zstd", "zlib"
  bool compressed = false;      // the flyrecord section is compressed in chunks
  std::vector<CpuRegion> cpus;  // in the order libtracecmd numbers them
  std::string uname;
  std::string cpustats;  // the CPUSTAT options, one after the other, as libtracecmd keeps them
  std::string kallsyms;  // the kallsyms section's text as recorded (stored with the session)
  // Its functions by address, for the decoder (nullopt: none, or a text only
  // tep_parse_kallsyms() reads, registered with `tep` instead).
  std::optional<KallsymsFunctions> functions;
  bool needs_libtracecmd = false;  // sound, but its timestamps are adjusted on reading
};

// Registers a kallsyms text's functions with `tep` as tep_parse_kallsyms() would. read_meta()
// does so only for a text KallsymsFunctions cannot read (it looks names up itself): a caller
// that decodes with the tep after reading (a test replaying pages) registers them here.
void register_kallsyms(tep_handle* tep, std::string text);

// The metadata of a version 7 file and the layout of its top flyrecord buffer. A sound file
// this reader does not stream itself (timestamps libtracecmd adjusts) comes back with
// needs_libtracecmd set, its options checked as libtracecmd would take them all the same.
Result<DatMeta> read_meta(DatFile& f, const DatHeader& h, const std::vector<char>& head,
                          const Damage& damaged);

// One CPU's pages of a version 7 file: raw, or its compressed chunks decompressed one at a
// time with `z` (`f` and `z` are borrowed: they outlive the source). The chunk table is
// checked whole first.
Result<std::unique_ptr<PageSource>> cpu_pages(const DatFile& f, const DatMeta& meta,
                                              const CpuRegion& region, const Decompressor& z,
                                              const Damage& damaged);

// A version 6 file, walked whole before libtracecmd sees it: every size and offset within
// the file, every label where it belongs, every page and record inside its page.
// `kallsyms`, when given, receives the file's kallsyms text as recorded.
Status check_v6(const DatFile& f, const DatHeader& h, const Damage& damaged,
                std::string* kallsyms = nullptr);

}  // namespace probeseek::detail
