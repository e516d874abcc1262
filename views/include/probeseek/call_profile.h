// A session's calls merged by call path: a calling-context tree, the data behind a flame graph
// and the report's collapsible call tree. Built by export's walk (export.h: same order, same
// repairs of rows that do not nest, same --under/--pid/--task-only), so its figures are those
// of the folded export: a node's calls and self time summed over its nodes equal the database's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "probeseek/export.h"

namespace probeseek {

struct ProfileNode {
  uint32_t parent = 0;   // nodes[0] is the root above every stack; its parent is itself
  uint32_t depth = 0;    // 0 for the root
  uint32_t name = 0;     // index into CallProfile::names
  int64_t calls = 0;     // calls that took this path
  int64_t total_ns = 0;  // their time, as placed by the export's repairs (saturating sums)
  int64_t self_ns = 0;   // of which not in calls below them
  std::vector<uint32_t> children;  // in the order first seen
};

struct CallProfile {
  // Function names as stored, then the markers of work in another context, written as the
  // folded export writes them: "[softirq]", "[hardirq]", "[nmi]", "[exception]", "[unknown]",
  // and "[deeper]" for calls below kMaxDepth levels (weighed there, not lost).
  std::vector<std::string> names;
  std::vector<uint32_t> context_marker;  // per name: 1 for a "[...]" marker, else 0
  std::vector<ProfileNode> nodes;        // nodes[0]: the root (calls 0; totals of its children)
  ExportReport report;                   // what was read, repaired, left out
  bool truncated = false;  // more distinct paths than max_nodes: the rest weighed in "[more]"
};

struct ProfileOptions {
  ExportOptions scope;  // under, pid, task_only (format and weight are ignored)
  // Distinct paths kept; calls on further new paths are weighed in a "[more]" node under the
  // deepest kept one, so totals stay exact while memory stays bounded.
  size_t max_nodes = 200000;
};

inline constexpr uint32_t kMaxProfileDepth = 512;

Result<CallProfile> call_profile(Database& db, int64_t session_id, const ProfileOptions& options);

}  // namespace probeseek
