#include "page_stream.h"

extern "C" {
#include <kbuffer.h>  // a C header without extern "C"
}
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "probeseek/fd.h"

namespace probeseek::detail {

namespace {

// Raw pages read a block at a time.
class FilePages final : public PageSource {
 public:
  FilePages(int fd, Fd owned, uint64_t offset, uint64_t size, uint32_t page_size, bool release_read)
      : fd_(fd),
        owned_(std::move(owned)),
        next_(offset),
        end_(offset + size / page_size * page_size),
        page_size_(page_size),
        release_read_(release_read) {}

  bool next(PageBlock& block, std::optional<PageFailure>& failure) override {
    uint64_t n = std::min<uint64_t>(end_ - next_, uint64_t{page_size_} * kPagesPerRead);
    if (n == 0) return false;
    buf_.assign(n + kPageSlack, 0);
    errno = 0;
    if (!pread_exactly(fd_, next_, buf_.data(), n)) {
      failure = PageFailure{next_, "truncated ring-buffer pages", errno};
      return false;
    }
    // A spill file's pages are in buf_ now: their disk space goes back (the database being
    // written beside them needs it). Where the filesystem cannot punch holes the file simply
    // keeps its size until it is removed.
    if (release_read_ && release_supported_ &&
        ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(next_),
                    static_cast<off_t>(n)) != 0)
      release_supported_ = false;
    block = PageBlock{buf_.data(), n / page_size_, next_, page_size_};
    next_ += n;
    return true;
  }

 private:
  static constexpr uint64_t kPagesPerRead = 64;
  int fd_;
  Fd owned_;  // the spill file's; a trace.dat's fd belongs to its DatFile
  uint64_t next_, end_;
  uint32_t page_size_;
  bool release_read_, release_supported_ = true;
  std::vector<char> buf_;
};

// Whether a record kbuffer returned lies inside its page (kbuffer trusts the length a record
// gives itself; the last one of a damaged page can claim more than the page holds).
bool inside_page(const char* page, uint32_t page_size, const void* data, int size) {
  const char* p = static_cast<const char*>(data);
  return p >= page && size >= 0 && p <= page + page_size &&
         static_cast<uint64_t>(size) <= static_cast<uint64_t>(page + page_size - p);
}

}  // namespace

bool pread_exactly(int fd, uint64_t offset, void* into, uint64_t n) {
  auto* p = static_cast<char*>(into);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<uint64_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

std::unique_ptr<PageSource> file_pages(int fd, uint64_t offset, uint64_t size, uint32_t page_size) {
  return std::make_unique<FilePages>(fd, Fd(), offset, size, page_size, false);
}

Result<std::unique_ptr<PageSource>> open_spill_pages(const std::string& path, uint32_t page_size) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));  // read-write: read pages are punched out
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0)
    return runtime_error("cannot read the spill file", path, errno);
  if (page_size == 0) return runtime_error("cannot read the spill file", path, EINVAL);
  int raw = fd.get();
  return std::make_unique<FilePages>(raw, std::move(fd), 0, static_cast<uint64_t>(st.st_size),
                                     page_size, true);
}

PageFormat page_format_of(tep_handle* tep, uint32_t page_size) {
  PageFormat f;
  f.page_size = page_size;
  f.commit_size = tep_get_header_page_size(tep) == 8 ? 8 : 4;
  f.big_endian = tep_is_file_bigendian(tep);
  f.old_format = tep_is_old_format(tep);
  return f;
}

PageStream::PageStream(int cpu, std::unique_ptr<PageSource> source, const PageFormat& format)
    : cpu_(cpu),
      source_(std::move(source)),
      format_(format),
      kbuf_(kbuffer_alloc(format.commit_size == 8 ? KBUFFER_LSIZE_8 : KBUFFER_LSIZE_4,
                          format.big_endian ? KBUFFER_ENDIAN_BIG : KBUFFER_ENDIAN_LITTLE)) {
  if (kbuf_ && format.old_format) kbuffer_set_old_format(kbuf_);
  record_.cpu = cpu;
}

PageStream::~PageStream() {
  if (kbuf_) kbuffer_free(kbuf_);
}

bool PageStream::advance() {
  if (!kbuf_) return fail(0, "cannot allocate a kbuffer");
  unsigned long long ts = 0;
  void* data = started_ ? kbuffer_next_event(kbuf_, &ts) : nullptr;
  started_ = true;
  while (!data) {
    if (!load_page()) return false;
    data = kbuffer_read_event(kbuf_, &ts);
  }
  record_.ts = ts;
  record_.data = data;
  record_.size = kbuffer_event_size(kbuf_);
  // kbuffer takes a record's length from the record: it must end inside its page.
  if (!inside_page(page_start_, format_.page_size, data, record_.size))
    return fail(page_offset_, "a record that overruns its ring-buffer page");
  record_.missed_events = kbuffer_missed_events(kbuf_);
  record_.offset = page_offset_;
  return true;
}

bool PageStream::load_page() {
  if (page_ >= block_.count) {
    page_ = 0;
    block_ = PageBlock{};
    if (!source_->next(block_, failure_)) return false;
  }
  const char* page = block_.pages + page_ * format_.page_size;
  page_start_ = page;
  page_offset_ = block_.offset + page_ * block_.page_stride;
  ++page_;
  // A page: its timestamp, then the size of its data (the commit field, a kernel long whose
  // top bits are flags). kbuffer trusts that size; a damaged page must not send it past the
  // page (and the slack after the block keeps a truncated last record's fields readable).
  uint64_t commit = 0;
  if (format_.commit_size == 8) {
    std::memcpy(&commit, page + 8, 8);
    if (format_.big_endian != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__))
      commit = __builtin_bswap64(commit);
  } else {
    uint32_t c32;
    std::memcpy(&c32, page + 8, 4);
    if (format_.big_endian != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__))
      c32 = __builtin_bswap32(c32);
    commit = c32;
  }
  if ((commit & ((1u << 27) - 1)) >
      format_.page_size - 8 - static_cast<unsigned>(format_.commit_size))
    return fail(page_offset_, "a ring-buffer page whose data size overruns the page");
  // kbuffer reads the page in place and never writes it; its API takes a non-const pointer.
  kbuffer_load_subbuffer(kbuf_, const_cast<char*>(page));
  return true;
}

bool PageStream::fail(uint64_t at, std::string what) {
  failure_ = PageFailure{at, std::move(what), 0};
  return false;
}

RecordMerge::RecordMerge(std::vector<std::unique_ptr<PageStream>> streams)
    : streams_(std::move(streams)), live_(streams_.size()) {}

PageStream* RecordMerge::next() {
  auto advance = [&](size_t c) {
    live_[c] = streams_[c]->advance();
    if (streams_[c]->failure()) failed_ = streams_[c].get();
  };
  if (failed_) return nullptr;
  if (!started_) {
    started_ = true;
    for (size_t c = 0; c < streams_.size() && !failed_; ++c) advance(c);
  } else if (current_ >= 0) {
    advance(static_cast<size_t>(current_));
  }
  if (failed_) return nullptr;
  int next = -1;
  for (size_t c = 0; c < streams_.size(); ++c)
    if (live_[c] && (next < 0 || streams_[c]->record().ts < streams_[next]->record().ts))
      next = static_cast<int>(c);
  current_ = next;
  return next < 0 ? nullptr : streams_[next].get();
}

}  // namespace probeseek::detail
