// Decodes a recording's spill files: each holds one CPU's ring-buffer pages as the kernel wrote
// them. The CPUs are merged by timestamp, one page per CPU in memory at a time, and every
// record goes through the same decoder as a trace.dat's.
extern "C" {
#include <kbuffer.h>  // a C header without extern "C"
}
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "funcgraph_decoder.h"
#include "recorder_internal.h"

namespace probeseek {

namespace {

// One CPU's pages, read a batch at a time, walked record by record with a kbuffer.
class SpillStream {
 public:
  SpillStream(int cpu, std::string path, size_t page_size, kbuffer* kbuf)
      : cpu_(cpu),
        path_(std::move(path)),
        page_size_(page_size),
        kbuf_(kbuf),
        fd_(::open(path_.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~SpillStream() {
    if (kbuf_) kbuffer_free(kbuf_);
    if (fd_ >= 0) ::close(fd_);
  }
  SpillStream(const SpillStream&) = delete;
  SpillStream& operator=(const SpillStream&) = delete;

  bool ok() const { return kbuf_ && fd_ >= 0; }
  int cpu() const { return cpu_; }
  const std::string& path() const { return path_; }
  // The next record, or false at the end (error() tells an I/O error from the end).
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
    record_.cpu = cpu_;
    record_.missed_events = kbuffer_missed_events(kbuf_);
    return true;
  }
  const tep_record& record() const { return record_; }
  int error() const { return error_; }

 private:
  static constexpr size_t kPagesPerRead = 64;
  bool load_page() {
    if (page_ >= pages_) {
      buf_.resize(page_size_ * kPagesPerRead);
      ssize_t n;
      do n = ::read(fd_, buf_.data(), buf_.size());
      while (n < 0 && errno == EINTR);
      if (n < 0) error_ = errno;
      if (n <= 0) return false;
      page_ = 0;
      pages_ = static_cast<size_t>(n) / page_size_;  // a torn last page is dropped
      if (pages_ == 0) return false;
    }
    kbuffer_load_subbuffer(kbuf_, buf_.data() + page_ * page_size_);
    ++page_;
    return true;
  }

  int cpu_;
  std::string path_;
  size_t page_size_;
  kbuffer* kbuf_;
  int fd_;
  std::vector<char> buf_;
  size_t page_ = 0, pages_ = 0;
  unsigned long long ts_ = 0;
  bool started_ = false;
  int error_ = 0;
  tep_record record_{};
};

}  // namespace

Result<SourceInfo> Recording::read_into(CallTreeBuilder& builder) const {
  const Impl& r = *impl_;
  detail::FuncgraphDecoder decoder(r.tep.get(), builder);
  if (decoder.problem() != detail::FuncgraphDecoder::Problem::kNone)
    return runtime_error("the kernel's function_graph event formats lack the func/depth fields",
                         "events/ftrace/funcgraph_entry/format", 0,
                         "this kernel's function_graph records are not ones probeseek can read");
  decoder.ignore_pid(r.recorder_pid);
  auto long_size = tep_get_header_page_size(r.tep.get()) == 8 ? KBUFFER_LSIZE_8 : KBUFFER_LSIZE_4;
  auto endian = tep_is_file_bigendian(r.tep.get()) ? KBUFFER_ENDIAN_BIG : KBUFFER_ENDIAN_LITTLE;
  std::vector<std::unique_ptr<SpillStream>> cpus;
  for (int cpu : r.cpus_with_data) {
    auto s = std::make_unique<SpillStream>(cpu, r.spill.file(cpu), static_cast<size_t>(r.page_size),
                                           kbuffer_alloc(long_size, endian));
    if (!s->ok()) return runtime_error("cannot read the spill file", s->path(), errno);
    cpus.push_back(std::move(s));
  }
  std::vector<bool> live(cpus.size());
  for (size_t c = 0; c < cpus.size(); ++c) live[c] = cpus[c]->advance();
  for (;;) {
    int next = -1;
    for (size_t c = 0; c < cpus.size(); ++c)
      if (live[c] && (next < 0 || cpus[c]->record().ts < cpus[next]->record().ts))
        next = static_cast<int>(c);
    if (next < 0) break;
    decoder.decode(cpus[next]->record(), cpus[next]->cpu());
    live[next] = cpus[next]->advance();
  }
  for (const auto& s : cpus)
    if (s->error() != 0) return runtime_error("cannot read the spill file", s->path(), s->error());
  for (const CpuLoss& loss : r.losses)
    builder.kernel_dropped(loss.cpu, loss.overrun + loss.dropped);

  SourceInfo info;
  info.format = TraceFormat::kLive;
  info.kernel_release = r.kernel.release;
  info.tracer = "function_graph";
  info.cpus = r.cpus;
  return info;
}

}  // namespace probeseek
