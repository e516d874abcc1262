// `probeseek export`: a session's calls as a flame graph's collapsed stacks (folded), a Chrome
// Trace Event Format file (chrome) or a Perfetto protobuf trace (perfetto), streamed from the
// database in id order with one stack per task: memory does not grow with the session's length.
// Rows are not trusted: what does not nest is clamped, counted in ExportReport and, for chrome,
// written into the file's otherData. docs/export.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "probeseek/database.h"
#include "probeseek/error.h"

namespace probeseek {

enum class ExportFormat { kFolded, kChrome, kPerfetto };
enum class ExportWeight { kSelf, kTotal, kCalls };  // folded only

// "folded", "chrome", "perfetto" (and "self", "total", "calls"); nullopt for anything else.
std::optional<ExportFormat> parse_export_format(std::string_view s);
std::optional<ExportWeight> parse_export_weight(std::string_view s);

struct ExportOptions {
  ExportFormat format = ExportFormat::kFolded;
  std::string under;           // function name: only calls at or below its (outermost) calls
  std::optional<int64_t> pid;  // only this task (process id)
  ExportWeight weight = ExportWeight::kSelf;
  bool task_only = false;  // leave interrupt and exception work (and all below it) out
  // Called every 65,536 rows read, with the rows read so far (cli/ shows it on a terminal).
  std::function<void(int64_t calls_read)> progress;
};

// Where the bytes go: a file being written (views/output_file.h), stdout, or a test's string.
class ExportOutput {
 public:
  virtual ~ExportOutput() = default;
  virtual Status write(std::string_view bytes) = 0;
};

// The bytes kept in memory: for tests and the fuzz targets (small sessions).
class StringOutput : public ExportOutput {
 public:
  Status write(std::string_view bytes) override {
    text.append(bytes);
    return {};
  }
  std::string text;
};

// What an export wrote, and what it repaired on the way.
struct ExportReport {
  int64_t calls_read = 0;                // rows of the session's tasks (and --pid) read
  int64_t calls_exported = 0;            // one event, slice or stack sample each
  int64_t interrupt_calls_left_out = 0;  // --task-only
  int64_t weight_sum = 0;                // folded: the sum of the written counts (saturating)
  int64_t stacks = 0;                    // folded: lines written
  int64_t tasks = 0;                     // chrome, perfetto: tracks written
  // Calls without a recorded exit: still running when the recording stopped (ended at the
  // session's end) or exit lost (ended with their last descendant).
  int64_t open_at_session_end = 0;
  int64_t open_ended_by_descendant = 0;
  // Repairs, by name (docs/export.md lists them); only the ones that happened.
  std::vector<std::pair<std::string, int64_t>> clamps;
  int64_t clamp(std::string_view name) const;  // 0 when it did not happen
};

// Exports the session `session_id` of `db` to `out`. Bad input (an unknown --under function, a
// pid with no calls) and database errors are errors; damaged rows are not.
Result<ExportReport> export_session(Database& db, int64_t session_id, const ExportOptions& options,
                                    ExportOutput& out);

// The frame name a folded line carries for a function: kernel names unchanged; any byte that
// would break the format (';', ' ', control and non-ASCII bytes) and '\' as \xNN.
std::string folded_frame(std::string_view name);

}  // namespace probeseek
