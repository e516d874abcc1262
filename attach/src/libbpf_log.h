// libbpf prints its warnings (and the verifier's log) to stderr unless told otherwise, and
// nothing below cli/ may print. This routes them into a buffer instead, so that the lines that
// explain a failure can be put into the Error that reports it.
#pragma once

#include <string>
#include <vector>

namespace probeseek::internal {

// Installs the capturing print callback (once; libbpf's callback is process-wide).
void capture_libbpf_log();
// Forgets what was captured so far (call before an operation whose failure you will explain).
void clear_libbpf_log();
// The captured warnings, most recent last, at most `max_lines`, joined with "; ".
std::string libbpf_log_tail(size_t max_lines);

// While one lives, libbpf's debug lines are kept too (what a CO-RE relocation matched), at most
// `max_lines` of them. One at a time (the callback is process-wide).
class LibbpfDebugLines {
 public:
  explicit LibbpfDebugLines(size_t max_lines = 1u << 20);
  ~LibbpfDebugLines();
  LibbpfDebugLines(const LibbpfDebugLines&) = delete;
  LibbpfDebugLines& operator=(const LibbpfDebugLines&) = delete;
  std::vector<std::string> take();  // the lines so far, and forgets them
};

}  // namespace probeseek::internal
