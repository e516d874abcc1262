// The text of `trace-cmd report` (plain and latency form, gzip or not): the line reader, the
// record parser, the call-tree builder behind it. The input is the whole file, handed over as a
// memfd (the reader takes a path).
#include "trace_fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemFile file("fuzz_report_text", data, size);
  if (!file.ok()) return 0;
  fuzz::NullSink sink;
  probeseek::CallTreeBuilder builder(sink);
  if (probeseek::read_report_text(file.path(), builder)) {
    builder.finish();
    (void)builder.stats().lost_events_total();
  }
  return 0;
}
