// The trace.dat reader: container (header, option sections), compressed sections and chunks,
// ring-buffer pages, event formats, and the libtracecmd fallback (version 6, adjusted
// timestamps) behind the container check. The input is the whole file, handed over as a memfd
// (the reader and libtracecmd take a path).
#include "trace_fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemFile file("fuzz_trace_dat", data, size);
  if (!file.ok()) return 0;
  fuzz::NullSink sink;
  probeseek::CallTreeBuilder builder(sink);
  if (probeseek::read_trace_dat(file.path(), builder)) builder.finish();
  return 0;
}
