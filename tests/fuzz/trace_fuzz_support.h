// What the two trace-reader fuzz targets share: the input as a file (the readers and
// libtracecmd take a path), a sink that touches what it is given, and the LSan suppression for
// libtraceevent's own leak.
#pragma once

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

namespace fuzz {

class NullSink : public probeseek::CallSink {
 public:
  void on_function(uint32_t, std::string_view name, uint64_t) override { bytes += name.size(); }
  void on_task(uint32_t, int, int, std::string_view comm) override { bytes += comm.size(); }
  void on_call(const probeseek::CallRecord& call) override { bytes += call.depth & 1; }
  void on_reparent(uint64_t, uint64_t) override {}
  size_t bytes = 0;
};

// The input as a memfd, named by /proc/self/fd/N; closed when it goes out of scope.
class MemFile {
 public:
  MemFile(const char* name, const uint8_t* data, size_t size)
      : fd_(memfd_create(name, MFD_CLOEXEC)) {
    size_t done = 0;
    while (fd_ >= 0 && done < size) {
      ssize_t n = write(fd_, data + done, size - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    complete_ = fd_ >= 0 && done == size;
  }
  ~MemFile() {
    if (fd_ >= 0) close(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  bool ok() const { return complete_; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
  bool complete_ = false;
};

}  // namespace fuzz
