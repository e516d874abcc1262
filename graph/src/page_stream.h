// Ring-buffer pages, as the kernel writes them per CPU, walked record by record with
// libtraceevent's kbuffer, and the CPUs merged by timestamp. One walker for every source of
// pages: a trace.dat's raw pages or decompressed chunks, and the live recorder's spill files.
// Every page's data size and every record's length are checked against the page before a
// record is handed on: kbuffer trusts both.
#pragma once

#include <event-parse.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/error.h"

struct kbuffer;

namespace probeseek::detail {

// What went wrong in a stream of pages: where (an offset in its file), what, and errno when a
// read failed (0: the pages themselves are damaged).
struct PageFailure {
  uint64_t offset = 0;
  std::string what;
  int error = 0;
};

// A block of whole pages, followed by kPageSlack readable bytes (kbuffer reads a record's
// header before it knows the record's length).
struct PageBlock {
  const char* pages = nullptr;
  size_t count = 0;
  uint64_t offset = 0;       // in the file, of the first page or of the chunk they came from
  uint64_t page_stride = 0;  // offset of page i = offset + i * page_stride (0: all at offset)
};
constexpr size_t kPageSlack = 64;

// Where one CPU's pages come from.
class PageSource {
 public:
  virtual ~PageSource() = default;
  // The next block of at least one page; false at the end, or with `failure` set on an error.
  virtual bool next(PageBlock& block, std::optional<PageFailure>& failure) = 0;
};

// Raw pages from `size` bytes at `offset` of a file read with pread (a trace.dat's uncompressed
// CPU data: `fd` borrowed, checked to be whole pages first), or a spill file (the fd owned: a
// torn last page, written when the recording stopped, is dropped). A spill file is read once:
// the disk space of each block is given back (FALLOC_FL_PUNCH_HOLE) as soon as it is read.
std::unique_ptr<PageSource> file_pages(int fd, uint64_t offset, uint64_t size, uint32_t page_size);
Result<std::unique_ptr<PageSource>> open_spill_pages(const std::string& path, uint32_t page_size);

// pread(2) of exactly `n` bytes; false on an error (errno set) or a short read (errno 0).
bool pread_exactly(int fd, uint64_t offset, void* into, uint64_t n);

// How the pages are laid out: the size of the page header's commit field (the kernel's long
// per the header_page format), the byte order, the pre-2.6.31 page format.
struct PageFormat {
  uint32_t page_size = 0;
  int commit_size = 8;
  bool big_endian = false;
  bool old_format = false;
};
// The format a tep_handle's header_page says, for pages of `page_size` bytes.
PageFormat page_format_of(tep_handle* tep, uint32_t page_size);

// One CPU's records, in the order its ring buffer holds them.
class PageStream {
 public:
  PageStream(int cpu, std::unique_ptr<PageSource> source, const PageFormat& format);
  ~PageStream();
  PageStream(const PageStream&) = delete;
  PageStream& operator=(const PageStream&) = delete;

  bool ok() const { return kbuf_ != nullptr; }  // false: the kbuffer could not be allocated
  int cpu() const { return cpu_; }
  // The next record (record() then holds it, its offset the page's or chunk's), or false at the
  // end or on failure (failure() says which).
  bool advance();
  const tep_record& record() const { return record_; }
  const std::optional<PageFailure>& failure() const { return failure_; }

 private:
  bool load_page();
  bool fail(uint64_t at, std::string what);

  int cpu_;
  std::unique_ptr<PageSource> source_;
  PageFormat format_;
  kbuffer* kbuf_;  // owned: freed by the destructor
  PageBlock block_;
  size_t page_ = 0;
  uint64_t page_offset_ = 0;          // file offset of the current page, or of its chunk
  const char* page_start_ = nullptr;  // the current page, in the source's block
  bool started_ = false;
  std::optional<PageFailure> failure_;
  tep_record record_{};
};

// The records of several CPUs in timestamp order, ties to the lower index (as libtracecmd's
// iteration orders them): a task's exit can land on another CPU than its entry, and the
// builder needs them in the order they happened.
class RecordMerge {
 public:
  explicit RecordMerge(std::vector<std::unique_ptr<PageStream>> streams);
  // The stream holding the next record, or null at the end or when a stream failed (failed()
  // then names it). Each call moves past the record the previous one returned.
  PageStream* next();
  const PageStream* failed() const { return failed_; }
  const std::vector<std::unique_ptr<PageStream>>& streams() const { return streams_; }

 private:
  std::vector<std::unique_ptr<PageStream>> streams_;
  std::vector<bool> live_;
  int current_ = -1;  // the index of the stream next() returned last
  const PageStream* failed_ = nullptr;
  bool started_ = false;
};

}  // namespace probeseek::detail
