// The trace.dat reader: container (header, option sections), compressed sections and chunks,
// ring-buffer pages, event formats, and the libtracecmd fallback (version 6, adjusted
// timestamps) behind the container check. The input is the whole file, handed over as a memfd
// (the reader and libtracecmd take a path).
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
  int fd = memfd_create("fuzz_trace_dat", MFD_CLOEXEC);
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
    auto info = probeseek::read_trace_dat(path, builder);
    if (info) builder.finish();
  }
  close(fd);
  return 0;
}
