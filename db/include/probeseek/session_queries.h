// The read queries over recorded sessions that rank, explain and the ops scan run (discover/),
// typed, so that their SQL lives in db/ with the schema it depends on (docs/schema.md).
// Names are returned as stored; the caller sums same-name static functions where it wants to.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/db.h"
#include "probeseek/error.h"

namespace probeseek {

// function_stats of one function of a session (a name may be several same-name statics).
struct FunctionStatsRow {
  std::string name;
  int64_t calls = 0, task_calls = 0, softirq_calls = 0, hardirq_calls = 0, exception_calls = 0;
  int64_t callers = 0;
  int64_t total_ns = 0;  // of its completed calls, every context
};
Status for_each_function_stats(Database& db, int64_t session_id,
                               const std::function<void(const FunctionStatsRow&)>& fn);
// The rows of one name only.
Status for_each_function_stats_of(Database& db, int64_t session_id, const std::string& name,
                                  const std::function<void(const FunctionStatsRow&)>& fn);

// function_syscalls: which syscall entry points reach a function, and how.
struct FunctionSyscallRow {
  std::string name, syscall;
  int64_t task_calls = 0, invocations = 0, syscall_invocations = 0, min_depth_below = 0;
};
Status for_each_function_syscall(Database& db, int64_t session_id,
                                 const std::function<void(const FunctionSyscallRow&)>& fn);

// One call of a function: its descendants are its task's calls with ids in (id, end_id].
struct CallSpan {
  int64_t id = 0, end_id = 0, task_id = 0;
  int depth = 0;
};
Result<std::vector<CallSpan>> calls_of(Database& db, int64_t session_id, const std::string& name);

// A call inside a span, with its parent's function (none for a task's outermost call).
struct CallInSpan {
  int64_t function_id = 0;
  int context = 0;  // CallContext: 0 task, else interrupt work
  int depth = 0;
  std::optional<int64_t> parent_function_id;
};
// One prepared range scan, reused for every span.
class CallsInSpan {
 public:
  static Result<CallsInSpan> make(Database& db);
  // Only task-context calls at most `max_below` levels below the span's call, without their
  // parent's function (diff's call paths): filtered inside SQLite, no parent lookup per row.
  static Result<CallsInSpan> task_calls_near(Database& db, int max_below);
  Status for_each(const CallSpan& span, const std::function<void(const CallInSpan&)>& fn);

 private:
  Statement st_, parent_;
  bool with_parent_ = false;
  std::optional<int> max_below_;
};

// call_paths of a session (docs/schema.md): diff's call paths below the syscall entries,
// counted at import, those at most `max_depth` frames below their root, parents first.
// Nothing when the session has none (imported before them, or its syscall calls nest), stores
// fewer levels than asked, or its rows do not hold together (a parent that is not a row read
// before it, one level up; a depth or a count out of range): the caller walks the calls then.
struct CallPathRow {
  size_t parent = 0;  // index + 1 of the parent's row, 0 for a root
  int64_t function_id = 0;
  int depth = 0;
  int64_t calls = 0;
};
Result<std::optional<std::vector<CallPathRow>>> call_paths(Database& db, int64_t session_id,
                                                           int max_depth);

// Every function of a session: id and name.
Status for_each_function(Database& db, int64_t session_id,
                         const std::function<void(int64_t id, const std::string& name)>& fn);
// The distinct function names of a session.
Result<std::vector<std::string>> function_names(Database& db, int64_t session_id);

// Caller -> callee edges seen in task context.
Status for_each_task_edge(
    Database& db, int64_t session_id,
    const std::function<void(const std::string& callee, const std::string& caller)>& fn);

// The callers (or callees) of a function with their summed calls, most first.
struct NeighbourRow {
  std::string name;
  int64_t calls = 0;
};
Result<std::vector<NeighbourRow>> neighbours(Database& db, int64_t session_id,
                                             const std::string& function, bool callers);

}  // namespace probeseek
