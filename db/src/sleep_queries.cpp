#include "probeseek/sleep_queries.h"

#include "probeseek/saturating.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "schema.sql.h"

namespace probeseek {

Result<std::vector<TimeBelowRow>> time_below(Database& db, int64_t session_id,
                                             const std::string& sleeper) {
  auto sleeps =
      db.prepare(std::string("WITH RECURSIVE ") + PROBESEEK_FUNCTION_CALLS(db, "?1", "?2") +
                 " SELECT c.parent_id, c.duration_ns FROM fcalls fc CROSS JOIN calls c "
                 "ON c.id = fc.id AND c.function_id = fc.fid WHERE c.session_id = ?1 "
                 "AND c.context = 0 AND c.parent_id IS NOT NULL");
  if (!sleeps) return tl::unexpected(sleeps.error());
  sleeps->bind(1, session_id).bind(2, sleeper);
  struct Sleep {
    int64_t parent = 0;
    std::optional<int64_t> ns;
  };
  std::vector<Sleep> list;
  auto done = sleeps->for_each_row([&](const Statement& r) {
    list.push_back({r.int_at(0), r.null_at(1) ? std::nullopt : std::optional(r.int_at(1))});
  });
  if (!done) return tl::unexpected(done.error());
  auto up = db.prepare("SELECT parent_id, function_id FROM calls WHERE id = ? AND session_id = ?");
  if (!up) return tl::unexpected(up.error());
  std::unordered_map<int64_t, TimeBelowRow> by_function;
  for (const Sleep& s : list) {
    std::set<int64_t> functions, visited;
    std::optional<int64_t> at = s.parent;
    for (int level = 0; at && level < 512 && visited.insert(*at).second; ++level) {
      up->reset();
      up->bind(1, *at).bind(2, session_id);
      auto row = up->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      int64_t function = up->int_at(1);
      at = up->null_at(0) ? std::nullopt : std::optional(up->int_at(0));
      if (!functions.insert(function).second) continue;  // recursion: counted once
      TimeBelowRow& t = by_function[function];
      if (s.ns)
        add_to(t.ns, std::max<int64_t>(0, *s.ns));
      else
        add_to(t.open, 1);
    }
  }
  auto names = db.prepare("SELECT id, name FROM functions WHERE session_id = ?");
  if (!names) return tl::unexpected(names.error());
  names->bind(1, session_id);
  std::vector<TimeBelowRow> out;
  done = names->for_each_row([&](const Statement& r) {
    auto it = by_function.find(r.int_at(0));
    if (it == by_function.end()) return;
    it->second.name = r.text_at(1);
    out.push_back(std::move(it->second));
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

Result<std::vector<AfterSleepRow>> after_sleep(Database& db, int64_t session_id,
                                               const std::string& function,
                                               const std::string& sleeper, size_t max_calls) {
  auto calls =
      db.prepare(std::string("WITH RECURSIVE ") + PROBESEEK_FUNCTION_CALLS(db, "?1", "?2") +
                 " SELECT c.id, c.end_id, c.task_id, c.parent_id FROM fcalls fc CROSS "
                 "JOIN calls c ON c.id = fc.id AND c.function_id = fc.fid WHERE "
                 "c.session_id = ?1 AND c.context = 0 AND c.duration_ns IS NOT NULL "
                 "ORDER BY c.id LIMIT ?3");
  if (!calls) return tl::unexpected(calls.error());
  calls->bind(1, session_id).bind(2, function).bind(3, static_cast<int64_t>(max_calls) * 4);
  struct Call {
    int64_t id, end_id, task_id;
    std::optional<int64_t> parent;
  };
  std::vector<Call> list;
  auto done = calls->for_each_row([&](const Statement& r) {
    list.push_back({r.int_at(0), r.int_at(1), r.int_at(2),
                    r.null_at(3) ? std::nullopt : std::optional(r.int_at(3))});
  });
  if (!done) return tl::unexpected(done.error());
  // The sleeper's calls, in id order, read once: the end of the last one inside a span of one
  // task is found among them (it was one indexed query per call; version 3 has no index on
  // function_id, and its link walk is best done once).
  struct SleeperCall {
    int64_t id, task_id;
    std::optional<int64_t> end_id;
  };
  std::vector<SleeperCall> sleeper_calls;
  {
    auto st = db.prepare(std::string("WITH RECURSIVE ") + PROBESEEK_FUNCTION_CALLS(db, "?1", "?2") +
                         " SELECT s.id, s.task_id, s.end_id FROM fcalls fc CROSS JOIN calls s ON "
                         "s.id = fc.id AND s.function_id = fc.fid WHERE s.session_id = ?1 "
                         "ORDER BY s.id");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, session_id).bind(2, sleeper);
    auto read = st->for_each_row([&](const Statement& r) {
      sleeper_calls.push_back(
          {r.int_at(0), r.int_at(1), r.null_at(2) ? std::nullopt : std::optional(r.int_at(2))});
    });
    if (!read) return tl::unexpected(read.error());
  }
  // MAX(end_id) of the sleeper's calls of `task` with ids in (from, to]; nullopt: none.
  auto last_sleep_end = [&](int64_t task, int64_t from, int64_t to) {
    std::optional<int64_t> end;
    auto it = std::upper_bound(sleeper_calls.begin(), sleeper_calls.end(), from,
                               [](int64_t id, const SleeperCall& s) { return id < s.id; });
    for (; it != sleeper_calls.end() && it->id <= to; ++it)
      if (it->task_id == task && it->end_id && (!end || *it->end_id > *end)) end = it->end_id;
    return end;
  };
  auto parent = db.prepare(
      "SELECT c.end_id, f.name FROM calls c JOIN functions f ON f.id = c.function_id "
      "WHERE c.id = ? AND c.session_id = ?");
  // Direct callees of a call, in an id range of its task.
  auto children = db.prepare(
      "SELECT DISTINCT f.name FROM calls s JOIN functions f ON f.id = s.function_id "
      "WHERE s.session_id = ? AND s.task_id = ? AND s.id > ? AND s.id <= ? AND s.parent_id = ?");
  for (auto* st : {&parent, &children})
    if (!*st) return tl::unexpected(st->error());
  std::map<std::pair<std::string, bool>, AfterSleepRow> rows;
  auto add = [&](int64_t task, int64_t from, int64_t to, int64_t parent_id, bool below,
                 const std::string& caller) -> Status {
    children->reset();
    children->bind(1, session_id).bind(2, task).bind(3, from).bind(4, to).bind(5, parent_id);
    return children->for_each_row([&](const Statement& r) {
      AfterSleepRow& row = rows[{r.text_at(0), below}];
      row.name = r.text_at(0);
      row.below = below;
      row.caller = caller;
      add_to(row.calls, 1);
    });
  };
  size_t slept = 0;
  for (const Call& c : list) {
    if (slept >= max_calls || c.end_id < c.id) break;
    const std::optional<int64_t> last = last_sleep_end(c.task_id, c.id, c.end_id);
    if (!last) continue;  // this call did not sleep
    ++slept;
    const int64_t woke = std::clamp(*last, c.id, c.end_id);
    if (auto s = add(c.task_id, woke, c.end_id, c.id, true, function); !s)
      return tl::unexpected(s.error());
    if (!c.parent) continue;
    parent->reset();
    parent->bind(1, *c.parent).bind(2, session_id);
    auto p = parent->step();
    if (!p) return tl::unexpected(p.error());
    if (!*p) continue;
    const int64_t parent_end = parent->int_at(0);
    const std::string caller = parent->text_at(1);
    if (parent_end > c.end_id)
      if (auto s = add(c.task_id, c.end_id, parent_end, *c.parent, false, caller); !s)
        return tl::unexpected(s.error());
  }
  std::vector<AfterSleepRow> out;
  for (auto& [key, row] : rows) out.push_back(std::move(row));
  std::stable_sort(out.begin(), out.end(), [](const AfterSleepRow& a, const AfterSleepRow& b) {
    return a.calls > b.calls;
  });
  return out;
}

}  // namespace probeseek
