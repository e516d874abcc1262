// The read side: sessions, their functions and call trees, and read-only SQL.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/database.h"
#include "probeseek/session_writer.h"

namespace probeseek {

// Read side.
class Store {
 public:
  explicit Store(Database& db) : db_(db) {}
  Result<std::vector<SessionSummary>> sessions();
  Result<std::vector<SessionStat>> session_stats(int64_t session_id);
  // Resolves a session by name; an empty name means "the only session" (error if several).
  Result<SessionSummary> session(const std::string& name);

  struct FunctionRow {
    std::string function;
    uint64_t address = 0;
    int64_t calls = 0;
    int64_t task_calls = 0;  // calls in task context (not interrupts or exceptions)
    int64_t total_ns = 0;
    int64_t self_ns = 0;
    int64_t callers = 0;
    std::string syscalls;  // comma-separated syscall entry points reaching it
  };
  // Functions seen in a session; with `under`, only calls below any call of that function.
  Result<std::vector<FunctionRow>> functions(int64_t session_id, const std::string& under);

  struct TreeOptions {
    std::string root;  // function name; empty: every root call
    std::optional<int> pid;
    int max_depth = -1;  // levels below the root shown; -1: all
    bool show_interrupts = true;
  };
  // The call tree as function_graph-like text, identical sibling subtrees folded. Printable as
  // it is: function and task names from the file are escaped as printable() escapes them.
  Result<std::string> tree(int64_t session_id, const TreeOptions& options);

  // One read-only statement (checked by sqlite3_stmt_readonly; comments and whitespace may
  // follow it), streamed: on_columns once, then on_row per row as SQLite produces it, so a
  // runaway query prints as it goes and memory does not grow. With timeout_s > 0 the query is
  // interrupted past that many seconds (runtime error). Values are text (NUL bytes kept),
  // nullopt for NULL.
  struct SqlOptions {
    double timeout_s = 0;
  };
  using SqlRow = std::vector<std::optional<std::string>>;
  Status sql(const std::string& query, const SqlOptions& options,
             const std::function<void(const std::vector<std::string>&)>& on_columns,
             const std::function<void(const SqlRow&)>& on_row);

 private:
  Database& db_;
};

}  // namespace probeseek
