// Streaming reads for exports (views/): a session's facts, its tasks and function names (small:
// bounded by what ran, not by how long it was recorded), and its calls one row at a time in id
// order, so that exporting a session of any length keeps a stack per task and nothing more.
// Rows are returned as stored: the reader repairs what does not fit (views/ counts it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/database.h"

namespace probeseek {

// A pass over the calls gains nothing from a page cache as large as the file (a connection's
// is 64 MB): 8 MB keeps an export's memory flat whatever the session's length. Call first.
Status use_small_page_cache(Database& db);

struct SessionFacts {
  int64_t id = 0;
  std::string name, source, format, kernel_release;
  int64_t calls = 0, tasks = 0, functions = 0, lost_events = 0, cpus = 0;
  int64_t first_ts_ns = 0, last_ts_ns = 0;
  std::optional<int64_t> first_call_id, last_call_id;  // nullopt: the session has no calls
};
Result<SessionFacts> read_session_facts(Database& db, int64_t session_id);

struct TaskRow {
  int64_t id = 0;
  int64_t pid = 0;
  std::optional<int64_t> idle_cpu;  // the CPU of a pid-0 idle task
  std::string comm;
};
Result<std::vector<TaskRow>> read_tasks(Database& db, int64_t session_id);

struct FunctionName {
  int64_t id = 0;
  std::string name;
};
Result<std::vector<FunctionName>> read_function_names(Database& db, int64_t session_id);

// One row of `calls` (docs/schema.md), NULLs made explicit.
struct CallRow {
  int64_t id = 0;
  int64_t end_id = 0;
  std::optional<int64_t> parent_id;
  int64_t task_id = 0;
  int64_t function_id = 0;
  int64_t entry_ns = 0;
  std::optional<int64_t> duration_ns;  // nullopt: no exit recorded
  std::optional<int64_t> self_ns;
  int64_t context = 0;
  int64_t flags = 0;
};

// The calls of a session in id order (a rowid range scan: no sort, no index needed).
class CallStream {
 public:
  static Result<CallStream> open(Database& db, const SessionFacts& session);
  // Fills `row` and returns true, or returns false at the end.
  Result<bool> next(CallRow& row);

 private:
  explicit CallStream(Statement st) : st_(std::move(st)) {}
  Statement st_;
  bool done_ = false;
};

// Frames that adopted calls numbered before them: a frame whose entry was not recorded is
// written when its exit is seen, after its children (graph/CallTreeBuilder::on_reparent), so
// its own id range is empty. `first_child_id` is its smallest adopted child's id (the children
// have parent_id = frame.id > their own id); one scan of the session's calls.
struct AdoptingFrame {
  CallRow frame;
  int64_t first_child_id = 0;
};
Result<std::vector<AdoptingFrame>> read_adopting_frames(Database& db, const SessionFacts& session);

}  // namespace probeseek
