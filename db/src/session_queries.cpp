#include "probeseek/session_queries.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "schema.sql.h"

namespace probeseek {

namespace {

Status each(Result<Statement> st, const std::function<void(const Statement&)>& fn) {
  if (!st) return tl::unexpected(st.error());
  return st->for_each_row(fn);
}

FunctionStatsRow stats_row(const Statement& r) {
  return {r.text_at(0), r.int_at(1), r.int_at(2), r.int_at(3),
          r.int_at(4),  r.int_at(5), r.int_at(6), r.int_at(7)};
}

constexpr const char* kStats =
    "SELECT f.name, fs.calls, fs.task_calls, fs.softirq_calls, fs.hardirq_calls, "
    "fs.exception_calls, fs.callers, fs.total_ns FROM function_stats fs "
    "JOIN functions f ON f.id = fs.function_id WHERE fs.session_id = ?";

}  // namespace

Status for_each_function_stats(Database& db, int64_t session_id,
                               const std::function<void(const FunctionStatsRow&)>& fn) {
  auto st = db.prepare(kStats);
  if (st) st->bind(1, session_id);
  return each(std::move(st), [&](const Statement& r) { fn(stats_row(r)); });
}

Status for_each_function_stats_of(Database& db, int64_t session_id, const std::string& name,
                                  const std::function<void(const FunctionStatsRow&)>& fn) {
  auto st = db.prepare(std::string(kStats) + " AND f.name = ?");
  if (st) st->bind(1, session_id).bind(2, name);
  return each(std::move(st), [&](const Statement& r) { fn(stats_row(r)); });
}

Status for_each_function_syscall(Database& db, int64_t session_id,
                                 const std::function<void(const FunctionSyscallRow&)>& fn) {
  // The session's function names first (a covering scan of functions_by_name), then the rows
  // alone: joining functions twice cost two B-tree searches a row (3.3 k instructions a row).
  std::unordered_map<int64_t, std::string> names;
  auto ns = db.prepare("SELECT id, name FROM functions WHERE session_id = ?");
  if (ns) ns->bind(1, session_id);
  if (auto done =
          each(std::move(ns), [&](const Statement& r) { names[r.int_at(0)] = r.text_at(1); });
      !done)
    return done;
  auto st = db.prepare(
      "SELECT function_id, syscall_function_id, task_calls, invocations, syscall_invocations, "
      "min_depth_below FROM function_syscalls WHERE session_id = ?");
  if (st) st->bind(1, session_id);
  return each(std::move(st), [&](const Statement& r) {
    auto f = names.find(r.int_at(0)), sf = names.find(r.int_at(1));
    if (f == names.end() || sf == names.end()) return;  // as the join: rows naming no function
    fn({f->second, sf->second, r.int_at(2), r.int_at(3), r.int_at(4), r.int_at(5)});
  });
}

Result<std::optional<std::vector<CallPathRow>>> call_paths(Database& db, int64_t session_id,
                                                           int max_depth) {
  using Paths = std::optional<std::vector<CallPathRow>>;
  // The import stores 64 levels (CallTreeBuilder::kCallPathDepth); a row's path is built from
  // its parent's, so the depth asked for also bounds the work per row.
  constexpr int kMaxDepth = 64;
  if (max_depth < 0) max_depth = 0;
  if (max_depth > kMaxDepth) return Paths();
  auto has = db.has_table("call_path_sets");  // a read-only open of an older database lacks it
  if (!has) return tl::unexpected(has.error());
  if (!*has) return Paths();
  auto set = db.prepare("SELECT max_depth FROM call_path_sets WHERE session_id = ?");
  if (!set) return tl::unexpected(set.error());
  set->bind(1, session_id);
  auto found = set->step();
  if (!found) return tl::unexpected(found.error());
  if (!*found) return Paths();
  const int64_t stored_depth = set->int_at(0);
  set->reset();
  if (stored_depth < max_depth) return Paths();
  // Every row is checked, those deeper than asked too: a damaged row must not hide below the
  // depth read.
  auto st = db.prepare(
      "SELECT path_id, parent_path_id, function_id, depth, calls FROM call_paths "
      "WHERE session_id = ? ORDER BY path_id");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  std::vector<CallPathRow> rows;
  struct Seen {
    int64_t depth;
    size_t row;  // index + 1 in rows, 0 when deeper than asked
  };
  std::unordered_map<int64_t, Seen> seen;  // by path id
  bool sound = true;
  auto done = st->for_each_row([&](const Statement& r) {
    if (!sound) return;
    const int64_t id = r.int_at(0), parent = r.int_at(1), depth = r.int_at(3), calls = r.int_at(4);
    if (depth < 0 || depth > stored_depth || calls < 0 || (depth == 0) != (parent == 0)) {
      sound = false;
      return;
    }
    size_t parent_row = 0;
    if (depth > 0) {
      auto it = seen.find(parent);  // read before: a smaller id, so no loop
      if (it == seen.end() || it->second.depth != depth - 1) {
        sound = false;
        return;
      }
      parent_row = it->second.row;
    }
    size_t row = 0;
    if (depth <= max_depth) {
      rows.push_back({parent_row, r.int_at(2), static_cast<int>(depth), calls});
      row = rows.size();
    }
    if (!seen.emplace(id, Seen{depth, row}).second) sound = false;
  });
  if (!done) return tl::unexpected(done.error());
  if (!sound) return Paths();
  return Paths(std::move(rows));
}

Result<std::vector<CallSpan>> calls_of(Database& db, int64_t session_id, const std::string& name) {
  auto st = db.prepare(std::string("WITH RECURSIVE ") + PROBESEEK_FUNCTION_CALLS(db, "?1", "?2") +
                       " SELECT u.id, u.end_id, u.task_id, u.depth FROM fcalls fc CROSS JOIN calls "
                       "u ON u.id = fc.id AND u.function_id = fc.fid ORDER BY u.id");
  if (st) st->bind(1, session_id).bind(2, name);
  std::vector<CallSpan> out;
  auto done = each(std::move(st), [&](const Statement& r) {
    out.push_back({r.int_at(0), r.int_at(1), r.int_at(2), static_cast<int>(r.int_at(3))});
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

// The parent's function comes from the rows already read (a parent's id is smaller than its
// children's, and it is the span's call or inside it), else from one lookup by id (the span's
// own call, a synthesized frame numbered after the calls it adopted). Before, a LEFT JOIN
// looked every row's parent up in the table's B-tree: 40% of `rank --under`'s instructions.
Result<CallsInSpan> CallsInSpan::make(Database& db) {
  auto st = db.prepare(
      "SELECT c.function_id, c.context, c.depth, c.parent_id, c.id FROM calls c "
      "WHERE c.id > ? AND c.id <= ? AND c.task_id = ?");
  if (!st) return tl::unexpected(st.error());
  auto parent = db.prepare("SELECT function_id FROM calls WHERE id = ?");
  if (!parent) return tl::unexpected(parent.error());
  CallsInSpan out;
  out.st_ = std::move(*st);
  out.parent_ = std::move(*parent);
  out.with_parent_ = true;
  return out;
}

Result<CallsInSpan> CallsInSpan::task_calls_near(Database& db, int max_below) {
  auto st = db.prepare(
      "SELECT c.function_id, c.context, c.depth, NULL FROM calls c WHERE c.id > ? AND c.id <= ? "
      "AND c.task_id = ? AND c.context = 0 AND c.depth <= ?");
  if (!st) return tl::unexpected(st.error());
  CallsInSpan out;
  out.st_ = std::move(*st);
  out.max_below_ = std::max(max_below, 0);
  return out;
}

Status CallsInSpan::for_each(const CallSpan& span,
                             const std::function<void(const CallInSpan&)>& fn) {
  st_.reset();
  st_.bind(1, span.id).bind(2, span.end_id).bind(3, span.task_id);
  if (max_below_) st_.bind(4, static_cast<int64_t>(span.depth) + *max_below_);
  if (!with_parent_)
    return st_.for_each_row([&](const Statement& r) {
      fn({r.int_at(0), static_cast<int>(r.int_at(1)), static_cast<int>(r.int_at(2)), std::nullopt});
    });
  // id -> function_id of the rows read so far: by offset in the span, or (a span of more than
  // a million ids) hashed. -1: not read.
  const int64_t length = span.end_id >= span.id ? span.end_id - span.id : -1;
  const bool dense = length >= 0 && length <= (int64_t{1} << 20);
  std::vector<int64_t> by_offset(dense ? static_cast<size_t>(length) + 1 : 0, -1);
  std::unordered_map<int64_t, int64_t> by_id;
  auto remember = [&](int64_t id, int64_t function) {
    if (!dense)
      by_id.emplace(id, function);
    else if (id >= span.id && id <= span.end_id)
      by_offset[static_cast<size_t>(id - span.id)] = function;
  };
  auto known = [&](int64_t id) -> int64_t {
    if (!dense) {
      auto it = by_id.find(id);
      return it == by_id.end() ? -1 : it->second;
    }
    return id >= span.id && id <= span.end_id ? by_offset[static_cast<size_t>(id - span.id)] : -1;
  };
  Status lookups;  // the first failed lookup by id
  auto done = st_.for_each_row([&](const Statement& r) {
    CallInSpan c{r.int_at(0), static_cast<int>(r.int_at(1)), static_cast<int>(r.int_at(2)),
                 std::nullopt};
    remember(r.int_at(4), c.function_id);
    if (!r.null_at(3)) {
      const int64_t parent_id = r.int_at(3);
      const int64_t function = known(parent_id);
      if (function >= 0) {
        c.parent_function_id = function;
      } else if (lookups) {
        parent_.reset();
        parent_.bind(1, parent_id);
        auto row = parent_.step();
        if (!row) {
          lookups = tl::unexpected(row.error());
        } else if (*row) {
          c.parent_function_id = parent_.int_at(0);
          // The span's own call is asked for by each of its children: remembered.
          if (parent_id == span.id && parent_.int_at(0) >= 0)
            remember(parent_id, parent_.int_at(0));
        }
      }
    }
    fn(c);
  });
  if (!done) return done;
  return lookups;
}

Status for_each_function(Database& db, int64_t session_id,
                         const std::function<void(int64_t, const std::string&)>& fn) {
  auto st = db.prepare("SELECT id, name FROM functions WHERE session_id = ?");
  if (st) st->bind(1, session_id);
  return each(std::move(st), [&](const Statement& r) { fn(r.int_at(0), r.text_at(1)); });
}

Result<std::vector<std::string>> function_names(Database& db, int64_t session_id) {
  auto st = db.prepare("SELECT DISTINCT name FROM functions WHERE session_id = ?");
  if (st) st->bind(1, session_id);
  std::vector<std::string> out;
  auto done = each(std::move(st), [&](const Statement& r) { out.push_back(r.text_at(0)); });
  if (!done) return tl::unexpected(done.error());
  return out;
}

Status for_each_task_edge(Database& db, int64_t session_id,
                          const std::function<void(const std::string&, const std::string&)>& fn) {
  auto st = db.prepare(
      "SELECT ce.name, cr.name FROM function_edges e JOIN functions ce ON ce.id = e.callee_id "
      "JOIN functions cr ON cr.id = e.caller_id WHERE e.session_id = ? AND e.task_calls > 0");
  if (st) st->bind(1, session_id);
  return each(std::move(st), [&](const Statement& r) { fn(r.text_at(0), r.text_at(1)); });
}

Result<std::vector<NeighbourRow>> neighbours(Database& db, int64_t session_id,
                                             const std::string& function, bool callers) {
  auto st = db.prepare(
      callers ? "SELECT o.name, SUM(e.calls) FROM function_edges e "
                "JOIN functions f ON f.id = e.callee_id JOIN functions o ON o.id = e.caller_id "
                "WHERE e.session_id = ? AND f.name = ? GROUP BY o.name ORDER BY 2 DESC, 1"
              : "SELECT o.name, SUM(e.calls) FROM function_edges e "
                "JOIN functions f ON f.id = e.caller_id JOIN functions o ON o.id = e.callee_id "
                "WHERE e.session_id = ? AND f.name = ? GROUP BY o.name ORDER BY 2 DESC, 1");
  if (st) st->bind(1, session_id).bind(2, function);
  std::vector<NeighbourRow> out;
  auto done = each(std::move(st), [&](const Statement& r) {
    out.push_back({r.text_at(0), r.int_at(1)});
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

}  // namespace probeseek
