// Decodes a recording's spill files: each holds one CPU's ring-buffer pages as the kernel wrote
// them. The CPUs are merged by timestamp, one block of pages per CPU in memory at a time, and
// every record goes through the same page walker and decoder as a trace.dat's.
#include <cerrno>
#include <memory>
#include <vector>

#include "../funcgraph_decoder.h"
#include "../page_stream.h"
#include "recorder_internal.h"

namespace probeseek {

Result<SourceInfo> Recording::read_into(CallTreeBuilder& builder) {
  Impl& r = *impl_;
  if (r.pages_read)
    return runtime_error("the recording's pages were already read", r.spill.path(), 0,
                         "a recording is decoded once: its spill files are given back to the "
                         "filesystem as they are read");
  r.pages_read = true;
  detail::FuncgraphDecoder decoder(r.tep.get(), builder);
  if (decoder.problem() != detail::FuncgraphDecoder::Problem::kNone)
    return runtime_error("the kernel's function_graph event formats lack the func/depth fields",
                         "events/ftrace/funcgraph_entry/format", 0,
                         "this kernel's function_graph records are not ones probeseek can read");
  decoder.ignore_pid(r.recorder_pid);
  const auto page_size = static_cast<uint32_t>(r.page_size);
  const detail::PageFormat format = detail::page_format_of(r.tep.get(), page_size);
  std::vector<std::unique_ptr<detail::PageStream>> cpus;
  std::vector<std::string> paths;  // per stream, for its errors
  for (int cpu : r.cpus_with_data) {
    paths.push_back(r.spill.file(cpu));
    auto pages = detail::open_spill_pages(paths.back(), page_size);
    if (!pages) return tl::unexpected(pages.error());
    cpus.push_back(std::make_unique<detail::PageStream>(cpu, std::move(*pages), format));
    if (!cpus.back()->ok())
      return runtime_error("cannot read the spill file", paths.back(), ENOMEM);
  }
  detail::RecordMerge merge(std::move(cpus));
  while (const detail::PageStream* next = merge.next()) decoder.decode(next->record(), next->cpu());
  if (const detail::PageStream* bad = merge.failed()) {
    const detail::PageFailure& failure = *bad->failure();
    size_t i = 0;
    while (merge.streams()[i].get() != bad) ++i;
    const std::string& path = paths[i];
    if (failure.error != 0) return runtime_error("cannot read the spill file", path, failure.error);
    return runtime_error("damaged spill file: " + failure.what,
                         path + " at offset " + std::to_string(failure.offset));
  }
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
