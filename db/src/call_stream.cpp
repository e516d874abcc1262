// Streaming reads for exports: every value a row holds is returned as it is (NULLs made
// explicit); the reader (views/) decides what to repair.
#include "probeseek/call_stream.h"

namespace probeseek {

namespace {

std::optional<int64_t> optional_int(const Statement& st, int col) {
  if (st.null_at(col)) return std::nullopt;
  return st.int_at(col);
}

// The columns CallRow holds, in its order; `p.` prefixes them for a join.
std::string call_columns(const std::string& p) {
  return p + "id, " + p + "end_id, " + p + "parent_id, " + p + "task_id, " + p + "function_id, " +
         p + "entry_ns, " + p + "duration_ns, " + p + "self_ns, " + p + "context, " + p + "flags";
}

void fill_call(const Statement& st, CallRow& row) {
  row.id = st.int_at(0);
  row.end_id = st.null_at(1) ? row.id : st.int_at(1);
  row.parent_id = optional_int(st, 2);
  row.task_id = st.int_at(3);
  row.function_id = st.int_at(4);
  row.entry_ns = st.int_at(5);
  row.duration_ns = optional_int(st, 6);
  row.self_ns = optional_int(st, 7);
  row.context = st.int_at(8);
  row.flags = st.int_at(9);
}

}  // namespace

Status use_small_page_cache(Database& db) {
  return db.exec("PRAGMA cache_size = -8192");
}

Result<SessionFacts> read_session_facts(Database& db, int64_t session_id) {
  auto st = db.prepare(
      "SELECT id, name, source, source_format, COALESCE(kernel_release, ''), calls, tasks, "
      "functions, lost_events, COALESCE(cpus, 0), COALESCE(first_ts_ns, 0), "
      "COALESCE(last_ts_ns, 0), first_call_id, last_call_id FROM sessions WHERE id = ?1");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return bad_input("no session with id " + std::to_string(session_id), db.path());
  SessionFacts s;
  s.id = st->int_at(0);
  s.name = st->text_at(1);
  s.source = st->text_at(2);
  s.format = st->text_at(3);
  s.kernel_release = st->text_at(4);
  s.calls = st->int_at(5);
  s.tasks = st->int_at(6);
  s.functions = st->int_at(7);
  s.lost_events = st->int_at(8);
  s.cpus = st->int_at(9);
  s.first_ts_ns = st->int_at(10);
  s.last_ts_ns = st->int_at(11);
  s.first_call_id = optional_int(*st, 12);
  s.last_call_id = optional_int(*st, 13);
  return s;
}

Result<std::vector<TaskRow>> read_tasks(Database& db, int64_t session_id) {
  auto st = db.prepare(
      "SELECT id, pid, idle_cpu, COALESCE(comm, '') FROM tasks WHERE session_id = ?1 "
      "ORDER BY id");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  std::vector<TaskRow> out;
  auto done = st->for_each_row([&](const Statement& r) {
    out.push_back(TaskRow{r.int_at(0), r.int_at(1), optional_int(r, 2), r.text_at(3)});
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

Result<std::vector<FunctionName>> read_function_names(Database& db, int64_t session_id) {
  auto st = db.prepare("SELECT id, name FROM functions WHERE session_id = ?1 ORDER BY id");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  std::vector<FunctionName> out;
  auto done = st->for_each_row([&](const Statement& r) {
    out.push_back(FunctionName{r.int_at(0), r.text_at(1)});
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

Result<CallStream> CallStream::open(Database& db, const SessionFacts& session) {
  // A session's calls are one id range: a rowid range scan in id order. The session_id test
  // keeps a damaged range from reaching into another session.
  auto st = db.prepare("SELECT " + call_columns("") +
                       " FROM calls WHERE id BETWEEN ?1 AND ?2 AND session_id = ?3 ORDER BY id");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session.first_call_id.value_or(1));
  st->bind(2, session.last_call_id.value_or(0));  // no calls: an empty range
  st->bind(3, session.id);
  CallStream out(std::move(*st));
  out.done_ = !session.first_call_id || !session.last_call_id;
  return out;
}

Result<bool> CallStream::next(CallRow& row) {
  if (done_) return false;
  auto more = st_.step();
  if (!more) return tl::unexpected(more.error());
  if (!*more) {
    done_ = true;
    return false;
  }
  fill_call(st_, row);
  return true;
}

Result<std::vector<AdoptingFrame>> read_adopting_frames(Database& db, const SessionFacts& session) {
  if (!session.first_call_id || !session.last_call_id) return std::vector<AdoptingFrame>{};
  // Children whose parent has a larger id were adopted (reparented) after they were written.
  auto st = db.prepare("SELECT " + call_columns("p.") +
                       ", a.first FROM (SELECT parent_id AS adopter, MIN(id) AS first FROM calls "
                       "WHERE id BETWEEN ?1 AND ?2 AND session_id = ?3 AND parent_id > id "
                       "GROUP BY parent_id) a JOIN calls p ON p.id = a.adopter "
                       "WHERE p.session_id = ?3 ORDER BY p.id");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, *session.first_call_id);
  st->bind(2, *session.last_call_id);
  st->bind(3, session.id);
  std::vector<AdoptingFrame> out;
  auto done = st->for_each_row([&](const Statement& r) {
    AdoptingFrame f;
    fill_call(r, f.frame);
    f.first_child_id = r.int_at(10);
    out.push_back(std::move(f));
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

}  // namespace probeseek
