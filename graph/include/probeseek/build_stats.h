// What a CallTreeBuilder (graph.h) counted while building a session's call trees: bad or
// surprising input is counted, never fatal (stored as session_stats, docs/schema.md).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace probeseek {

// Counters kept per session: bad or surprising input is counted, never fatal.
struct BuildStats {
  uint64_t entries = 0;  // entry records (and leaves): the number of calls
  uint64_t exits = 0;
  uint64_t exits_without_entry = 0;   // trace started mid-call, or entry lost
  uint64_t entries_without_exit = 0;  // exit lost, skipped by a later shallower record
  uint64_t open_at_end = 0;           // still running when the recording stopped
  uint64_t depth_gaps = 0;            // an entry deeper than its parent + 1: entries lost
  uint64_t interrupt_depth_skew = 0;  // an interrupt recorded at an off-by-one depth (benign)
  uint64_t other_events = 0;          // non-function_graph events, ignored
  uint64_t unparsed_lines = 0;        // report text lines that are not records
  // Lost events, per CPU, from two witnesses: markers in the event stream (a record saying
  // "N events were lost before me", or an unknown number) and the kernel's own per-CPU
  // overrun/dropped counters saved with the recording.
  std::unordered_map<int, int64_t> lost_in_stream_by_cpu;
  std::unordered_map<int, int64_t> lost_markers_by_cpu;
  std::unordered_map<int, int64_t> kernel_dropped_by_cpu;
  // Per CPU, the larger witness; a marker with an unknown count counts as one.
  int64_t lost_events_on_cpu(int cpu) const;
  int64_t lost_events_total() const;
  std::vector<int> cpus_with_losses() const;
};

}  // namespace probeseek
