#include <sqlite3.h>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>

#include "probeseek/db.h"
#include "schema.sql.h"

namespace probeseek {

namespace {

SessionSummary session_from_row(const Statement& st) {
  SessionSummary s;
  s.id = st.int_at(0);
  s.name = st.text_at(1);
  s.source = st.text_at(2);
  s.format = st.text_at(3);
  s.kernel_release = st.text_at(4);
  s.imported_at = st.text_at(5);
  s.calls = st.int_at(6);
  s.tasks = st.int_at(7);
  s.functions = st.int_at(8);
  s.lost_events = st.int_at(9);
  s.cpus = st.int_at(10);
  s.duration_s = static_cast<double>(st.int_at(11)) / 1e9;
  return s;
}

constexpr const char* kSessionColumns =
    "SELECT id, name, source, source_format, kernel_release, imported_at, calls, tasks, "
    "functions, lost_events, cpus, COALESCE(last_ts_ns - first_ts_ns, 0) FROM sessions";

}  // namespace

Result<std::vector<SessionSummary>> Store::sessions() {
  auto st = db_.prepare(std::string(kSessionColumns) + " ORDER BY id");
  if (!st) return tl::unexpected(st.error());
  std::vector<SessionSummary> out;
  if (auto done =
          st->for_each_row([&](const Statement& row) { out.push_back(session_from_row(row)); });
      !done)
    return tl::unexpected(done.error());
  return out;
}

Result<SessionSummary> Store::session(const std::string& name) {
  auto all = sessions();
  if (!all) return tl::unexpected(all.error());
  if (all->empty())
    return bad_input("the database holds no session", db_.path(),
                     "import a recording first: probeseek import FILE");
  if (name.empty()) {
    if (all->size() == 1) return all->front();
    std::string names;
    for (auto& s : *all) names += (names.empty() ? "" : ", ") + s.name;
    return bad_input("several sessions in the database; say which with --session", db_.path(),
                     "sessions: " + names);
  }
  for (auto& s : *all)
    if (s.name == name) return s;
  std::string names;
  for (auto& s : *all) names += (names.empty() ? "" : ", ") + s.name;
  return bad_input("no session named '" + name + "'", db_.path(), "sessions: " + names);
}

Result<std::vector<SessionStat>> Store::session_stats(int64_t session_id) {
  auto st = db_.prepare(
      "SELECT name, COALESCE(cpu, -1), value, severity, description FROM session_stats "
      "WHERE session_id = ? ORDER BY name, cpu");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  std::vector<SessionStat> out;
  if (auto done = st->for_each_row([&](const Statement& row) {
        out.push_back(SessionStat{row.text_at(0), row.int_at(1), row.int_at(2), row.text_at(3),
                                  row.text_at(4)});
      });
      !done)
    return tl::unexpected(done.error());
  return out;
}

Result<std::vector<Store::FunctionRow>> Store::functions(int64_t session_id,
                                                         const std::string& under) {
  std::string sql;
  if (under.empty()) {
    sql =
        "SELECT f.name, COALESCE(f.address, 0), s.calls, s.task_calls, s.total_ns, s.self_ns, "
        "s.callers, (SELECT group_concat(sf.name, ',') FROM function_syscalls fs "
        "  JOIN functions sf ON sf.id = fs.syscall_function_id WHERE fs.function_id = f.id) "
        "FROM function_stats s JOIN functions f ON f.id = s.function_id "
        "WHERE s.session_id = ?1 ORDER BY s.calls DESC, f.name";
  } else {
    // Every call below any call of `under` (not the call itself), counted once even when
    // `under` recurses: a call's descendants are its task's calls in (id, end_id].
    sql = std::string("WITH RECURSIVE ") + PROBESEEK_FUNCTION_CALLS(db_, "?1", "?2") +
          ", below(id) AS ("
          "  SELECT DISTINCT c.id FROM fcalls fc CROSS JOIN calls u ON u.id = fc.id AND "
          "  u.function_id = fc.fid "
          // CROSS JOIN and +task_id: a rowid range scan per call (the planner, not knowing
          // fcalls is short, built an automatic index on task_id over every call: 2.7 s).
          "  CROSS JOIN calls c ON c.id > u.id AND c.id <= u.end_id AND +c.task_id = u.task_id) "
          "SELECT f.name, COALESCE(f.address, 0), COUNT(*), SUM(c.context = 0), "
          "SUM(COALESCE(c.duration_ns, 0)), SUM(COALESCE(c.self_ns, 0)), "
          "COUNT(DISTINCT p.function_id), NULL "
          "FROM below b JOIN calls c ON c.id = b.id JOIN functions f ON f.id = c.function_id "
          "LEFT JOIN calls p ON p.id = c.parent_id GROUP BY c.function_id "
          "ORDER BY 3 DESC, f.name";
  }
  auto st = db_.prepare(sql);
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  if (!under.empty()) st->bind(2, under);
  std::vector<FunctionRow> out;
  if (auto done = st->for_each_row([&](const Statement& row) {
        FunctionRow r;
        r.function = row.text_at(0);
        r.address = static_cast<uint64_t>(row.int_at(1));
        r.calls = row.int_at(2);
        r.task_calls = row.int_at(3);
        r.total_ns = row.int_at(4);
        r.self_ns = row.int_at(5);
        r.callers = row.int_at(6);
        r.syscalls = row.text_at(7);
        out.push_back(std::move(r));
      });
      !done)
    return tl::unexpected(done.error());
  if (!under.empty() && out.empty()) {
    auto seen = db_.prepare("SELECT 1 FROM functions WHERE session_id = ? AND name = ?");
    if (!seen) return tl::unexpected(seen.error());
    seen->bind(1, session_id).bind(2, under);
    auto row = seen->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row)
      return bad_input("function '" + under + "' does not appear in this session", db_.path(),
                       "list what was recorded with: probeseek functions");
  }
  return out;
}

namespace {

// Interrupts a statement past its deadline: SQLite calls this every kProgressOps virtual
// machine instructions, and a non-zero return ends the step with SQLITE_INTERRUPT.
struct Deadline {
  std::chrono::steady_clock::time_point at;
  bool passed = false;
};
constexpr int kProgressOps = 10000;
int past_deadline(void* arg) {
  auto* d = static_cast<Deadline*>(arg);
  d->passed = std::chrono::steady_clock::now() >= d->at;
  return d->passed ? 1 : 0;
}
// Removes the progress handler when the query ends, however it ends.
struct ProgressHandler {
  sqlite3* db;
  ProgressHandler(sqlite3* db, Deadline* d) : db(db) {
    sqlite3_progress_handler(db, kProgressOps, past_deadline, d);
  }
  ~ProgressHandler() { sqlite3_progress_handler(db, 0, nullptr, nullptr); }
  ProgressHandler(const ProgressHandler&) = delete;
  ProgressHandler& operator=(const ProgressHandler&) = delete;
};

constexpr const char* kTablesHint =
    "tables: sessions, tasks, functions, calls, function_stats, function_edges, "
    "function_syscalls, session_stats (docs/schema.md)";

}  // namespace

Status Store::sql(const std::string& query, const SqlOptions& options,
                  const std::function<void(const std::vector<std::string>&)>& on_columns,
                  const std::function<void(const SqlRow&)>& on_row) {
  sqlite3* db = db_.raw();
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db, query.c_str(), static_cast<int>(query.size()), &raw, &tail) !=
      SQLITE_OK)
    return bad_input("SQL error", sqlite3_errmsg(db), kTablesHint);
  Statement st(raw);
  if (!raw) return bad_input("empty SQL statement", "", "pass a query: probeseek sql 'SELECT ...'");
  // What follows the statement may be whitespace, semicolons and comments: SQLite's parser
  // says so by preparing nothing from it. Anything it can prepare is a second statement.
  const char* end = query.c_str() + query.size();
  while (tail && tail < end) {
    sqlite3_stmt* next = nullptr;
    const char* rest = nullptr;
    int rc = sqlite3_prepare_v2(db, tail, static_cast<int>(end - tail), &next, &rest);
    Statement owner(next);
    if (rc != SQLITE_OK || next)
      return bad_input("one SQL statement at a time", std::string(tail),
                       "run each statement with its own probeseek sql");
    if (rest == tail) break;
    tail = rest;
  }
  if (!sqlite3_stmt_readonly(raw))
    return bad_input("only read-only SQL is allowed", query,
                     "probeseek sql runs SELECT queries; the database is changed by import");
  std::vector<std::string> columns;
  int n = sqlite3_column_count(raw);
  for (int i = 0; i < n; ++i) {
    const char* name = sqlite3_column_name(raw, i);
    columns.push_back(name ? name : "");
  }
  on_columns(columns);
  Deadline deadline;
  std::optional<ProgressHandler> handler;
  if (options.timeout_s > 0) {
    deadline.at = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(options.timeout_s));
    handler.emplace(db, &deadline);
  }
  SqlRow row(static_cast<size_t>(n));
  for (;;) {
    int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      if (rc == SQLITE_INTERRUPT && deadline.passed) {
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g", options.timeout_s);
        return runtime_error(std::string("query stopped: it ran past --timeout ") + secs + " s",
                             db_.path(), 0,
                             "narrow it (WHERE, LIMIT), or allow it more time with --timeout");
      }
      int code = rc & 0xff;
      if (code == SQLITE_CORRUPT)
        return runtime_error("the database is damaged", db_.path() + ": " + sqlite3_errmsg(db), 0,
                             "see what is damaged with: probeseek sessions --check --db FILE; "
                             "re-import the recordings into a new database");
      if (code == SQLITE_CORRUPT || code == SQLITE_IOERR || code == SQLITE_NOMEM ||
          code == SQLITE_FULL || code == SQLITE_BUSY || code == SQLITE_LOCKED ||
          code == SQLITE_CANTOPEN || code == SQLITE_NOTADB)
        return runtime_error("SQL failed", db_.path() + ": " + sqlite3_errmsg(db));
      return bad_input("SQL error", sqlite3_errmsg(db), kTablesHint);
    }
    for (int i = 0; i < n; ++i) {
      if (sqlite3_column_type(raw, i) == SQLITE_NULL)
        row[static_cast<size_t>(i)].reset();
      else
        row[static_cast<size_t>(i)] = st.text_at(i);
    }
    on_row(row);
  }
  return {};
}

}  // namespace probeseek
