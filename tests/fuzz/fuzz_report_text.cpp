// The text of `trace-cmd report` (plain and latency form, gzip or not): the line reader, the
// record parser, the call-tree builder behind it. The input is the whole file, handed over as a
// memfd (the reader takes a path).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "probeseek/graph.h"

// libtraceevent 1.7.1 leaks a few bytes on some error paths of tep_parse_event() when an event
// format is malformed: not probeseek's memory (tests/fuzz/lsan.supp says the same for runners).
extern "C" const char* __lsan_default_suppressions() {
  return "leak:tep_parse_event\nleak:libtraceevent.so\n";
}

namespace {

class NullSink : public probeseek::CallSink {
 public:
  void on_function(uint32_t, std::string_view name, uint64_t) override { bytes += name.size(); }
  void on_task(uint32_t, int, int, std::string_view comm) override { bytes += comm.size(); }
  void on_call(const probeseek::CallRecord& call) override { bytes += call.depth & 1; }
  void on_reparent(uint64_t, uint64_t) override {}
  size_t bytes = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("fuzz_report_text", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done == size) {
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    NullSink sink;
    probeseek::CallTreeBuilder builder(sink);
    auto info = probeseek::read_report_text(path, builder);
    if (info) {
      builder.finish();
      (void)builder.stats().lost_events_total();
    }
  }
  close(fd);
  return 0;
}
