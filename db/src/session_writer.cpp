#include <sqlite3.h>
#include <algorithm>
#include <ctime>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "probeseek/db.h"
#include "probeseek/text.h"
#include "probeseek/transaction.h"
#include "schema.sql.h"

namespace probeseek {

namespace {

struct FunctionAggregate {
  int64_t calls = 0;
  int64_t by_context[5] = {0, 0, 0, 0, 0};
  int64_t total_ns = 0;
  int64_t self_ns = 0;
  int64_t callers = 0;
  int64_t callees = 0;
  int min_depth = 1 << 30;
  int max_depth = 0;
  int64_t unfinished = 0;
  int64_t last_call_id = 0;  // database id of its last call: where its link walk starts
};

struct EdgeAggregate {
  int64_t calls = 0;
  int64_t task_calls = 0;
};

struct SyscallAggregate {
  int64_t calls = 0;
  int64_t task_calls = 0;
  int64_t invocations = 0;  // distinct syscall calls it ran under
  int min_depth_below = 1 << 30;
};

// One calls row, database ids already offset; 0 (or -1 for durations) stands for NULL.
struct CallRow {
  int64_t id = 0;
  int64_t parent_id = 0;
  int64_t previous_id = 0;  // the function's call before this one, 0: none
  int64_t end_id = 0;
  int64_t task_id = 0;
  int64_t function_id = 0;
  int64_t entry_ns = 0;
  int64_t duration_ns = -1;
  int64_t self_ns = -1;
  int64_t bits = 0;      // flags, context, depth and cpu, packed (calls_bits)
  bool present = false;  // in the reorder ring: holds a row not yet written
};

// The stored `bits` of a call (schema.sql.h, PROBESEEK_CALLS_COLUMNS): a depth of at most 255
// and a cpu below 2^20 (sources refuse more: kMaxCpu) make the short form, two bytes on disk
// for the usual depths and CPUs 0-3; anything else takes the long, negative form.
int64_t calls_bits(int cpu, int depth, CallContext context, uint8_t flags) {
  const int64_t low = (flags & 3) | ((static_cast<int64_t>(context) & 7) << 2);
  if (depth >= 0 && depth <= 255 && cpu >= 0 && cpu < (1 << 20))
    return low | (int64_t{depth} << 5) | (int64_t{cpu} << 13);
  return -(low | ((int64_t{cpu} & 0xfffff) << 5) | ((int64_t{depth} & 0x3fffffff) << 25));
}

// The rows of a batch, as an eponymous virtual table: INSERT INTO calls SELECT ... FROM it
// hands SQLite each value directly (sqlite3_result_int64), where binding parameters costs a
// call with its checks per value and a copy per value per row.
constexpr const char* kRowsTable = "probeseek_call_rows";

struct RowsTable : sqlite3_vtab {
  const std::vector<CallRow>* rows = nullptr;
};
struct RowsCursor : sqlite3_vtab_cursor {
  const std::vector<CallRow>* rows = nullptr;
  size_t at = 0;
};

int rows_connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(task_id, function_id, entry_ns, duration_ns, "
                                "parent_offset, span, children_ns, bits, previous_offset)");
  if (rc != SQLITE_OK) return rc;
  auto* table = new RowsTable();
  table->rows = static_cast<const std::vector<CallRow>*>(aux);
  *out = table;
  return SQLITE_OK;
}
int rows_disconnect(sqlite3_vtab* table) {
  delete static_cast<RowsTable*>(table);
  return SQLITE_OK;
}
int rows_best_index(sqlite3_vtab*, sqlite3_index_info* info) {
  info->estimatedCost = 1;
  return SQLITE_OK;
}
int rows_open(sqlite3_vtab* table, sqlite3_vtab_cursor** out) {
  auto* cursor = new RowsCursor();
  cursor->rows = static_cast<RowsTable*>(table)->rows;
  *out = cursor;
  return SQLITE_OK;
}
int rows_close(sqlite3_vtab_cursor* cursor) {
  delete static_cast<RowsCursor*>(cursor);
  return SQLITE_OK;
}
int rows_filter(sqlite3_vtab_cursor* cursor, int, const char*, int, sqlite3_value**) {
  static_cast<RowsCursor*>(cursor)->at = 0;
  return SQLITE_OK;
}
int rows_next(sqlite3_vtab_cursor* cursor) {
  ++static_cast<RowsCursor*>(cursor)->at;
  return SQLITE_OK;
}
int rows_eof(sqlite3_vtab_cursor* cursor) {
  auto* c = static_cast<RowsCursor*>(cursor);
  return c->at >= c->rows->size();
}
int rows_column(sqlite3_vtab_cursor* cursor, sqlite3_context* ctx, int column) {
  auto* c = static_cast<RowsCursor*>(cursor);
  const CallRow& r = (*c->rows)[c->at];
  switch (column) {
    case 0:
      sqlite3_result_int64(ctx, r.task_id);
      break;
    case 1:
      sqlite3_result_int64(ctx, r.function_id);
      break;
    case 2:
      sqlite3_result_int64(ctx, r.entry_ns);
      break;
    case 3:
      if (r.duration_ns >= 0)
        sqlite3_result_int64(ctx, r.duration_ns);
      else
        sqlite3_result_null(ctx);
      break;
    case 4:
      if (r.parent_id != 0)
        sqlite3_result_int64(ctx, r.id - r.parent_id);
      else
        sqlite3_result_null(ctx);
      break;
    case 5:
      sqlite3_result_int64(ctx, r.end_id - r.id);
      break;
    case 6:
      if (r.duration_ns >= 0)
        sqlite3_result_int64(ctx, r.duration_ns - r.self_ns);
      else
        sqlite3_result_null(ctx);
      break;
    case 7:
      sqlite3_result_int64(ctx, r.bits);
      break;
    default:
      if (r.previous_id != 0)
        sqlite3_result_int64(ctx, r.id - r.previous_id);
      else
        sqlite3_result_null(ctx);
      break;
  }
  return SQLITE_OK;
}
int rows_rowid(sqlite3_vtab_cursor* cursor, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(static_cast<RowsCursor*>(cursor)->at);
  return SQLITE_OK;
}

// Eponymous-only (no xCreate): usable as "FROM probeseek_call_rows" without a schema entry.
const sqlite3_module kRowsModule = {
    0,          nullptr,    rows_connect, rows_best_index, rows_disconnect, rows_disconnect,
    rows_open,  rows_close, rows_filter,  rows_next,       rows_eof,        rows_column,
    rows_rowid,
};

uint64_t pair_key(uint32_t a, uint32_t b) {
  return (static_cast<uint64_t>(a) << 32) | b;
}

}  // namespace

struct SessionWriter::Impl {
  // First, so that it goes last: the statements are finalized before it rolls back.
  std::optional<Transaction> tx;
  int64_t call_base = 0;  // database id = base + builder id
  int64_t task_base = 0;
  int64_t function_base = 0;
  Statement insert_call;        // one row
  Statement insert_call_batch;  // the batch, from the row source
  Statement insert_task;
  Statement insert_function;
  Statement reparent;
  std::vector<FunctionAggregate> functions{1};  // indexed by builder function id
  std::unordered_map<uint64_t, EdgeAggregate> edges;
  std::unordered_map<uint64_t, SyscallAggregate> syscalls;
  std::unordered_map<uint32_t, int64_t> syscall_invocations;  // syscall function -> calls of it
  std::vector<std::string> syscall_names;  // by builder function id, syscall entries only
  // Functions seen under each syscall call still running (builder ids): counted as one
  // invocation each when the syscall call itself is reported, which comes after every call
  // below it (calls are reported at exit). Bounded by tasks x functions, not trace length.
  struct OpenInvocation {
    std::vector<uint64_t> seen;  // bitmap over builder function ids
    std::vector<uint32_t> functions;
    uint32_t syscall_function = 0;
  };
  std::unordered_map<uint64_t, OpenInvocation> open_invocations;  // by builder syscall call id

  void note_invocation(uint64_t syscall_call, uint32_t syscall_function, uint32_t function) {
    OpenInvocation& inv = open_invocations[syscall_call];
    inv.syscall_function = syscall_function;
    size_t word = function >> 6;
    if (inv.seen.size() <= word) inv.seen.resize(word + 1);
    uint64_t bit = uint64_t{1} << (function & 63);
    if (inv.seen[word] & bit) return;
    inv.seen[word] |= bit;
    inv.functions.push_back(function);
  }
  void close_invocation(uint64_t syscall_call, uint32_t syscall_function) {
    auto it = open_invocations.find(syscall_call);
    if (it == open_invocations.end()) return;
    for (uint32_t f : it->second.functions) ++syscalls[pair_key(f, syscall_function)].invocations;
    open_invocations.erase(it);
  }
  int64_t calls = 0;
  int64_t tasks = 0;
  int64_t last_call_id = 0;

  // Rows are reported in exit order but numbered in entry order; B-tree inserts are cheapest
  // as appends. The ring holds reported rows until every smaller id is written, so rows go
  // out in id order; a call open longer than kRing later ids (a long syscall, a kernel
  // thread's loop) is passed over and inserted on its own when it exits. Memory: kRing rows.
  static constexpr uint64_t kRing = 1 << 14;
  static constexpr size_t kBatch = 1024;  // rows per INSERT ... SELECT
  static constexpr int kCacheKiB = 2048;  // SQLite page cache while importing
  std::optional<int64_t> saved_cache_size;
  std::vector<CallRow> ring = std::vector<CallRow>(kRing);
  uint64_t next_in_order = 1;  // builder id of the next row to write in order
  std::vector<CallRow> batch;  // rows waiting for a multi-row INSERT
  int64_t max_written = 0;     // the largest id in the calls table
  uint64_t rows_out_of_order = 0;
  std::optional<Error> error;

  CallRow& slot(uint64_t builder_id) { return ring[builder_id & (kRing - 1)]; }

  // Binds a row's columns, in the order of the row source's, after its id.
  static void bind_row(sqlite3_stmt* st, const CallRow& r) {
    sqlite3_bind_int64(st, 1, r.id);
    sqlite3_bind_int64(st, 2, r.task_id);
    sqlite3_bind_int64(st, 3, r.function_id);
    sqlite3_bind_int64(st, 4, r.entry_ns);
    if (r.duration_ns >= 0) {
      sqlite3_bind_int64(st, 5, r.duration_ns);
      sqlite3_bind_int64(st, 8, r.duration_ns - r.self_ns);
    } else {
      sqlite3_bind_null(st, 5);
      sqlite3_bind_null(st, 8);
    }
    if (r.parent_id != 0)
      sqlite3_bind_int64(st, 6, r.id - r.parent_id);
    else
      sqlite3_bind_null(st, 6);
    sqlite3_bind_int64(st, 7, r.end_id - r.id);
    sqlite3_bind_int64(st, 9, r.bits);
    if (r.previous_id != 0)
      sqlite3_bind_int64(st, 10, r.id - r.previous_id);
    else
      sqlite3_bind_null(st, 10);
  }

  // After the first error nothing more is written: SQLite may have rolled the whole
  // transaction back (SQLITE_FULL, SQLITE_IOERR), and a statement run now would commit on its
  // own, in autocommit mode, rows of a session that will never exist.
  void run(Statement& st) {
    if (error) return;
    if (auto s = st.run(); !s) error = s.error();
  }

  void insert_explicit(const CallRow& r) {
    bind_row(insert_call.get(), r);
    run(insert_call);
  }

  // The batch is a run of consecutive ids, each one more than the largest id in the table:
  // SQLite assigns exactly those ids (max(rowid) + 1) and appends without a uniqueness seek.
  void flush_batch() {
    if (error) batch.clear();
    if (batch.empty()) return;
    run(insert_call_batch);
    if (!error &&
        sqlite3_last_insert_rowid(sqlite3_db_handle(insert_call_batch.get())) != batch.back().id)
      error = Error{ErrorKind::kRuntime, "calls were numbered out of step", "", 0, {}};
    batch.clear();
  }

  void write(const CallRow& r) {
    if (r.id == max_written + 1) {
      batch.push_back(r);
      max_written = r.id;
      if (batch.size() == kBatch) flush_batch();
      return;
    }
    flush_batch();
    insert_explicit(r);
    max_written = std::max(max_written, r.id);
  }

  void add(const CallRow& r, uint64_t builder_id) {
    if (builder_id < next_in_order) {  // passed over: its id's place is already written
      ++rows_out_of_order;
      write(r);
      return;
    }
    while (builder_id - next_in_order >= kRing) {  // full: pass over the oldest gap
      CallRow& oldest = slot(next_in_order++);
      if (oldest.present) {
        write(oldest);
        oldest.present = false;
      }
    }
    CallRow& into = slot(builder_id);
    into = r;
    into.present = true;
    for (CallRow* next = &slot(next_in_order); next->present; next = &slot(next_in_order)) {
      write(*next);
      next->present = false;
      ++next_in_order;
    }
  }

  // Every row still in the ring, in id order (the calls reported; none is missing by now).
  void drain(uint64_t last_builder_id) {
    for (; next_in_order <= last_builder_id; ++next_in_order) {
      CallRow& r = slot(next_in_order);
      if (r.present) {
        write(r);
        r.present = false;
      }
    }
    flush_batch();
  }

  // The row of builder id `id` if it is still buffered (in the ring or the batch).
  CallRow* buffered(uint64_t builder_id, int64_t db_id) {
    if (builder_id >= next_in_order && builder_id - next_in_order < kRing) {
      CallRow& r = slot(builder_id);
      if (r.present && r.id == db_id) return &r;
    }
    for (CallRow& r : batch)
      if (r.id == db_id) return &r;
    return nullptr;
  }
};

static int64_t max_id(Database& db, const char* table) {
  auto st = db.prepare(std::string("SELECT COALESCE(MAX(id), 0) FROM ") + table);
  if (!st || !st->step().value_or(false)) return 0;
  return st->int_at(0);
}

Result<std::unique_ptr<SessionWriter>> SessionWriter::begin(Database& db, const Options& options) {
  std::unique_ptr<SessionWriter> w(new SessionWriter(db));
  w->impl_ = std::make_unique<Impl>();
  // A small page cache: SQLite writes the transaction's pages out as it goes (new pages need
  // no journal), so memory does not grow with the recording; CREATE INDEX's sorter spills to
  // temporary files past the same size. Restored by the destructor.
  if (auto size = db.prepare("PRAGMA cache_size"); size && size->step().value_or(false))
    w->impl_->saved_cache_size = size->int_at(0);
  (void)db.exec("PRAGMA cache_size = -" + std::to_string(Impl::kCacheKiB));
  auto tx = Transaction::begin(db);
  if (!tx) return tl::unexpected(tx.error());
  // From here on, the destructor rolls back unless commit() ran.
  w->impl_->tx.emplace(std::move(*tx));
  auto existing = db.prepare("SELECT id, source FROM sessions WHERE name = ?");
  if (!existing) return tl::unexpected(existing.error());
  existing->bind(1, options.name);
  auto found = existing->step();
  if (!found) return tl::unexpected(found.error());
  if (*found) {
    if (!options.replace)
      return bad_input("a session named '" + options.name + "' already exists (imported from " +
                           existing->text_at(1) + ")",
                       db.path(), "pick another name with --name, or replace it with --replace");
    int64_t old = existing->int_at(0);
    existing->reset();
    for (const char* table : {"call_rows", "tasks", "functions", "function_stats", "function_edges",
                              "function_syscalls", "call_paths", "call_path_sets", "session_stats",
                              "session_symbol_sets"}) {
      auto del = db.prepare(std::string("DELETE FROM ") + table + " WHERE session_id = ?");
      if (!del) return tl::unexpected(del.error());
      del->bind(1, old);
      if (auto s = del->run(); !s) return tl::unexpected(s.error());
    }
    // Tables other commands create on first use (verify, the ops scan of record): a new
    // session may get the old one's id.
    for (const char* table : {"verifications", "ops_scans", "ops_memberships", "ops_slots"}) {
      auto found = db.has_table(table);
      if (!found) return tl::unexpected(found.error());
      if (!*found) continue;
      auto del = db.prepare(std::string("DELETE FROM ") + table + " WHERE session_id = ?");
      if (!del) return tl::unexpected(del.error());
      del->bind(1, old);
      if (auto s = del->run(); !s) return tl::unexpected(s.error());
    }
    auto del = db.prepare("DELETE FROM sessions WHERE id = ?");
    if (!del) return tl::unexpected(del.error());
    del->bind(1, old);
    if (auto s = del->run(); !s) return tl::unexpected(s.error());
  } else {
    existing->reset();
  }
  auto insert = db.prepare(
      "INSERT INTO sessions(name, source, source_format, imported_at) VALUES(?, ?, '', ?)");
  if (!insert) return tl::unexpected(insert.error());
  insert->bind(1, options.name).bind(2, options.source).bind(3, now_utc());
  if (auto s = insert->run(); !s) return tl::unexpected(s.error());
  w->session_id_ = sqlite3_last_insert_rowid(db.raw());

  Impl& m = *w->impl_;
  m.call_base = max_id(db, "call_rows");
  m.max_written = m.call_base;
  // No call yet: the session's calls are the empty range (call_base, call_base]. With 0 here, a
  // session without calls in a database that has some would make commit() drain ~2^64 ids.
  m.last_call_id = m.call_base;
  m.task_base = max_id(db, "tasks");
  m.function_base = max_id(db, "functions");
  auto prep = [&](Statement& into, const char* sql) -> Status {
    auto st = db.prepare(sql);
    if (!st) return tl::unexpected(st.error());
    into = std::move(*st);
    return {};
  };
  const std::string session = std::to_string(w->session_id_);
  if (auto s =
          prep(m.insert_call,
               ("INSERT INTO call_rows(id, session_id, task_id, function_id, entry_ns, "
                "duration_ns, parent_offset, span, children_ns, bits, previous_offset) VALUES(?1," +
                session + ",?2,?3,?4,?5,?6,?7,?8,?9,?10)")
                   .c_str());
      !s)
    return tl::unexpected(s.error());
  // Rows of a batch get their ids from SQLite (see Impl::flush_batch).
  if (int rc = sqlite3_create_module_v2(db.raw(), kRowsTable, &kRowsModule, &m.batch, nullptr);
      rc != SQLITE_OK)
    return tl::unexpected(db.error("cannot register the row source"));
  if (auto s =
          prep(m.insert_call_batch,
               ("INSERT INTO call_rows(session_id, task_id, function_id, entry_ns, duration_ns, "
                "parent_offset, span, children_ns, bits, previous_offset) SELECT " +
                session + ", * FROM " + kRowsTable)
                   .c_str());
      !s)
    return tl::unexpected(s.error());
  if (auto s = prep(m.insert_task,
                    "INSERT INTO tasks(id, session_id, pid, idle_cpu, comm) VALUES(?,?,?,?,?)");
      !s)
    return tl::unexpected(s.error());
  if (auto s = prep(m.insert_function,
                    "INSERT INTO functions(id, session_id, name, address, ksym_type, module) "
                    "VALUES(?,?,?,?,?,?)");
      !s)
    return tl::unexpected(s.error());
  if (auto s = prep(m.reparent, "UPDATE call_rows SET parent_offset = ?2 - ?1 WHERE id = ?2"); !s)
    return tl::unexpected(s.error());
  return w;
}

SessionWriter::SessionWriter(Database& db) : db_(db) {}

SessionWriter::~SessionWriter() {
  // Finalize statements before rolling back so the rollback is not blocked, and unregister
  // the row source before the rows it points at go.
  std::optional<int64_t> cache_size;
  if (impl_) {
    impl_->insert_call_batch = Statement();
    sqlite3_create_module_v2(db_.raw(), kRowsTable, nullptr, nullptr, nullptr);
    cache_size = impl_->saved_cache_size;
  }
  impl_.reset();  // rolls back unless commit() ran
  if (cache_size) (void)db_.exec("PRAGMA cache_size = " + std::to_string(*cache_size));
}

// Each callback does nothing once a write has failed (see Impl::run): the import stops with
// that error and the destructor rolls back whatever SQLite has not already.
void SessionWriter::on_function(uint32_t id, std::string_view name, uint64_t address) {
  if (stream_error_) return;
  Impl& m = *impl_;
  if (m.functions.size() <= id) m.functions.resize(id + 1);
  if (is_syscall_entry(name)) {
    if (m.syscall_names.size() <= id) m.syscall_names.resize(id + 1);
    m.syscall_names[id] = std::string(name);
  }
  Statement& st = m.insert_function;
  st.bind(1, m.function_base + id).bind(2, session_id_).bind(3, name);
  const KernelSymbol* sym = nullptr;
  if (symbols_) {
    if (address != 0) {
      sym = symbols_->text_symbol_at(address);
      if (sym && sym->name != name) sym = nullptr;
    } else {
      auto all = symbols_->by_name(name);
      if (!all.empty()) sym = all.front();
    }
  }
  if (address != 0)
    st.bind(4, static_cast<int64_t>(address));
  else
    st.bind_null(4);
  if (sym) {
    st.bind(5, std::string_view(&sym->type, 1));
    if (sym->module.empty())
      st.bind_null(6);
    else
      st.bind(6, sym->module);
  } else {
    st.bind_null(5).bind_null(6);
  }
  if (auto s = st.run(); !s && !stream_error_) stream_error_ = s.error();
}

void SessionWriter::on_task(uint32_t id, int pid, int idle_cpu, std::string_view comm) {
  if (stream_error_) return;
  Impl& m = *impl_;
  ++m.tasks;
  Statement& st = m.insert_task;
  st.bind(1, m.task_base + id).bind(2, session_id_).bind(3, int64_t{pid});
  if (idle_cpu >= 0)
    st.bind(4, int64_t{idle_cpu});
  else
    st.bind_null(4);
  st.bind(5, comm);
  if (auto s = st.run(); !s && !stream_error_) stream_error_ = s.error();
}

void SessionWriter::on_call(const CallRecord& c) {
  if (stream_error_) return;
  Impl& m = *impl_;
  ++m.calls;
  int64_t id = m.call_base + static_cast<int64_t>(c.id);
  m.last_call_id = std::max(m.last_call_id, id);
  CallRow r;
  r.id = id;
  r.parent_id = c.parent_id != 0 ? m.call_base + static_cast<int64_t>(c.parent_id) : 0;
  // A link must point strictly backwards (readers stop at anything else).
  r.previous_id = c.previous_call_id != 0 && c.previous_call_id < c.id
                      ? m.call_base + static_cast<int64_t>(c.previous_call_id)
                      : 0;
  r.end_id = m.call_base + static_cast<int64_t>(c.end_id);
  r.task_id = m.task_base + c.task_id;
  r.function_id = m.function_base + c.function_id;
  r.entry_ns = static_cast<int64_t>(c.entry_ns);
  if (c.duration_ns >= 0) {
    r.duration_ns = c.duration_ns;
    r.self_ns = c.self_ns;
  }
  r.bits = calls_bits(c.cpu, c.depth, c.context, c.flags);
  m.add(r, c.id);
  if (m.error && !stream_error_) stream_error_ = m.error;

  // Aggregates, computed while streaming so no pass over the calls table is needed.
  if (m.functions.size() <= c.function_id) m.functions.resize(c.function_id + 1);
  FunctionAggregate& f = m.functions[c.function_id];
  ++f.calls;
  ++f.by_context[static_cast<int>(c.context)];
  if (c.duration_ns >= 0) {
    f.total_ns += c.duration_ns;
    f.self_ns += c.self_ns;
  } else {
    ++f.unfinished;
  }
  f.min_depth = std::min(f.min_depth, c.depth);
  f.last_call_id = std::max(f.last_call_id, id);
  f.max_depth = std::max(f.max_depth, c.depth);
  bool task = c.context == CallContext::kTask;
  if (c.parent_function_id != 0) {
    EdgeAggregate& e = m.edges[pair_key(c.parent_function_id, c.function_id)];
    ++e.calls;
    e.task_calls += task;
  }
  if (c.syscall_function_id != 0) {
    SyscallAggregate& s = m.syscalls[pair_key(c.function_id, c.syscall_function_id)];
    ++s.calls;
    s.task_calls += task;
    s.min_depth_below = std::min(s.min_depth_below, c.depth_below_syscall);
    m.note_invocation(c.syscall_call_id, c.syscall_function_id, c.function_id);
    if (c.syscall_call_id == c.id) {  // the syscall call itself: every call below it is in
      ++m.syscall_invocations[c.syscall_function_id];
      m.close_invocation(c.syscall_call_id, c.syscall_function_id);
    }
  }
}

void SessionWriter::on_reparent(uint64_t call_id, uint64_t new_parent_id) {
  if (stream_error_) return;
  Impl& m = *impl_;
  int64_t id = m.call_base + static_cast<int64_t>(call_id);
  int64_t parent = m.call_base + static_cast<int64_t>(new_parent_id);
  if (CallRow* r = m.buffered(call_id, id)) {
    r->parent_id = parent;
    return;
  }
  m.reparent.bind(1, parent).bind(2, id);
  if (auto s = m.reparent.run(); !s && !stream_error_) stream_error_ = s.error();
}

// call_paths, and the call_path_sets row that says the session has them (docs/schema.md).
// diff's roots are the calls of the functions named as a syscall entry that began a syscall
// call (function_syscalls): a name seen only as a frame synthesized at the start of the
// recording is none, and such a frame has no call in its range, so no path below it.
Status SessionWriter::write_call_paths(const CallTreeBuilder& builder) {
  const std::vector<CallPathNode>* paths = builder.call_paths();
  if (!paths) return {};  // diff walks the calls
  Impl& m = *impl_;
  auto name_of = [&](uint32_t id) -> std::string_view {
    return id < m.syscall_names.size() ? std::string_view(m.syscall_names[id]) : "";
  };
  std::unordered_set<std::string_view> syscall_names;
  for (auto& [key, s] : m.syscalls) syscall_names.insert(name_of(key & 0xffffffffu));
  std::vector<bool> dropped(paths->size() + 1, false);
  for (size_t i = 0; i < paths->size(); ++i) {
    const CallPathNode& p = (*paths)[i];
    if (p.parent > i) return {};  // a parent comes first; never otherwise, but then no paths
    if (p.depth == 0)
      dropped[i + 1] = !syscall_names.count(name_of(p.function_id));
    else if (dropped[p.parent])
      return {};
  }
  auto insert = db_.prepare("INSERT INTO call_paths VALUES(?,?,?,?,?,?)");
  if (!insert) return tl::unexpected(insert.error());
  int64_t written = 0;
  for (size_t i = 0; i < paths->size(); ++i) {
    if (dropped[i + 1]) continue;
    const CallPathNode& p = (*paths)[i];
    insert->bind(1, session_id_)
        .bind(2, static_cast<int64_t>(i + 1))
        .bind(3, int64_t{p.parent})
        .bind(4, m.function_base + p.function_id)
        .bind(5, int64_t{p.depth})
        .bind(6, p.calls);
    if (auto s = insert->run(); !s) return s;
    ++written;
  }
  auto set = db_.prepare("INSERT INTO call_path_sets VALUES(?,?,?)");
  if (!set) return tl::unexpected(set.error());
  set->bind(1, session_id_).bind(2, int64_t{CallTreeBuilder::kCallPathDepth}).bind(3, written);
  return set->run();
}

namespace {

struct StatRow {
  const char* name;
  int64_t cpu;
  int64_t value;
  const char* severity;
  const char* description;
};

}  // namespace

Status SessionWriter::commit(const SourceInfo& info, const CallTreeBuilder& builder,
                             const std::vector<int64_t>& symbol_set_ids) {
  if (stream_error_) return tl::unexpected(*stream_error_);
  Impl& m = *impl_;
  const BuildStats& bs = builder.stats();
  m.drain(static_cast<uint64_t>(m.last_call_id - m.call_base));
  if (m.error) return tl::unexpected(*m.error);
  // Every syscall call has been reported by now; this only guards against a source that
  // stopped early.
  while (!m.open_invocations.empty()) {
    auto it = m.open_invocations.begin();
    m.close_invocation(it->first, it->second.syscall_function);
  }

  auto functions_stmt =
      db_.prepare("INSERT INTO function_stats VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!functions_stmt) return tl::unexpected(functions_stmt.error());
  // Distinct callers and callees come from the edge list.
  for (auto& [key, e] : m.edges) {
    ++m.functions[key >> 32].callees;
    ++m.functions[key & 0xffffffffu].callers;
  }
  for (uint32_t id = 1; id < m.functions.size(); ++id) {
    const FunctionAggregate& f = m.functions[id];
    if (f.calls == 0) continue;
    Statement& st = *functions_stmt;
    st.bind(1, session_id_).bind(2, m.function_base + id).bind(3, f.calls);
    for (int i = 0; i < 5; ++i) st.bind(4 + i, f.by_context[i]);
    st.bind(9, f.total_ns).bind(10, f.self_ns).bind(11, f.callers).bind(12, f.callees);
    st.bind(13, int64_t{f.min_depth}).bind(14, int64_t{f.max_depth}).bind(15, f.unfinished);
    st.bind(16, f.last_call_id);
    if (auto s = st.run(); !s) return s;
  }
  auto edges_stmt = db_.prepare("INSERT INTO function_edges VALUES(?,?,?,?,?)");
  if (!edges_stmt) return tl::unexpected(edges_stmt.error());
  for (auto& [key, e] : m.edges) {
    edges_stmt->bind(1, session_id_)
        .bind(2, m.function_base + static_cast<int64_t>(key >> 32))
        .bind(3, m.function_base + static_cast<int64_t>(key & 0xffffffffu))
        .bind(4, e.calls)
        .bind(5, e.task_calls);
    if (auto s = edges_stmt->run(); !s) return s;
  }
  auto syscalls_stmt = db_.prepare("INSERT INTO function_syscalls VALUES(?,?,?,?,?,?,?,?)");
  if (!syscalls_stmt) return tl::unexpected(syscalls_stmt.error());
  for (auto& [key, s] : m.syscalls) {
    uint32_t syscall = static_cast<uint32_t>(key & 0xffffffffu);
    syscalls_stmt->bind(1, session_id_)
        .bind(2, m.function_base + static_cast<int64_t>(key >> 32))
        .bind(3, m.function_base + static_cast<int64_t>(syscall))
        .bind(4, s.calls)
        .bind(5, s.task_calls)
        .bind(6, s.invocations)
        .bind(7, m.syscall_invocations[syscall])
        .bind(8, int64_t{s.min_depth_below});
    if (auto st = syscalls_stmt->run(); !st) return st;
  }
  if (auto s = write_call_paths(builder); !s) return s;

  // Perfetto-style stats: surprising input is counted and shown, never fatal.
  std::vector<StatRow> stats = {
      {"exits_without_entry", -1, static_cast<int64_t>(bs.exits_without_entry), "info",
       "exits whose entry precedes the recording (or was lost): frames synthesized"},
      {"entries_without_exit", -1, static_cast<int64_t>(bs.entries_without_exit), "data_loss",
       "calls whose exit never came although the task went on (exit lost)"},
      {"open_at_end", -1, static_cast<int64_t>(bs.open_at_end), "info",
       "calls still running when the recording stopped"},
      {"depth_gaps", -1, static_cast<int64_t>(bs.depth_gaps), "data_loss",
       "entries deeper than their parent + 1: entries lost"},
      {"interrupt_depth_skew", -1, static_cast<int64_t>(bs.interrupt_depth_skew), "info",
       "interrupts recorded one level off the interrupted call's depth: nested by context"},
      {"other_events", -1, static_cast<int64_t>(bs.other_events), "info",
       "records of other events, ignored"},
      {"unparsed_lines", -1, static_cast<int64_t>(bs.unparsed_lines), "error",
       "report text lines that are not records, skipped"},
  };
  for (int cpu : bs.cpus_with_losses())
    stats.push_back({"lost_events", cpu, bs.lost_events_on_cpu(cpu), "data_loss",
                     "events the ring buffer lost on this CPU: call trees there have gaps"});
  auto stat_stmt = db_.prepare("INSERT INTO session_stats VALUES(?,?,?,?,?,?)");
  if (!stat_stmt) return tl::unexpected(stat_stmt.error());
  for (const StatRow& r : stats) {
    if (r.value == 0) continue;
    stat_stmt->bind(1, session_id_).bind(2, std::string_view(r.name));
    if (r.cpu >= 0)
      stat_stmt->bind(3, r.cpu);
    else
      stat_stmt->bind_null(3);
    stat_stmt->bind(4, r.value)
        .bind(5, std::string_view(r.severity))
        .bind(6, std::string_view(r.description));
    if (auto s = stat_stmt->run(); !s) return s;
  }
  auto link_stmt = db_.prepare("INSERT OR IGNORE INTO session_symbol_sets VALUES(?,?)");
  if (!link_stmt) return tl::unexpected(link_stmt.error());
  for (int64_t set : symbol_set_ids) {
    link_stmt->bind(1, session_id_).bind(2, set);
    if (auto s = link_stmt->run(); !s) return s;
  }

  auto update = db_.prepare(
      "UPDATE sessions SET source_format = ?, kernel_release = ?, tracer = ?, cpus = ?, "
      "calls = ?, tasks = ?, functions = ?, lost_events = ?, first_ts_ns = ?, last_ts_ns = ?, "
      "first_call_id = ?, last_call_id = ? WHERE id = ?");
  if (!update) return tl::unexpected(update.error());
  update->bind(1, std::string_view(info.format == TraceFormat::kTraceDat     ? "trace.dat"
                                   : info.format == TraceFormat::kReportText ? "report-text"
                                                                             : "live"));
  if (info.kernel_release.empty())
    update->bind_null(2);
  else
    update->bind(2, info.kernel_release);
  update->bind(3, info.tracer)
      .bind(4, int64_t{std::max(info.cpus, builder.cpus_seen())})
      .bind(5, static_cast<int64_t>(bs.entries))
      .bind(6, m.tasks)
      .bind(7, static_cast<int64_t>(builder.functions()))
      .bind(8, bs.lost_events_total())
      .bind(9, static_cast<int64_t>(builder.first_timestamp_ns()))
      .bind(10, static_cast<int64_t>(builder.last_timestamp_ns()))
      .bind(11, m.call_base + 1)
      .bind(12, m.last_call_id)
      .bind(13, session_id_);
  if (auto s = update->run(); !s) return s;

  // Indexes after the bulk load: cheaper than maintaining them row by row.
  m.insert_call = Statement();
  m.insert_call_batch = Statement();
  m.insert_task = Statement();
  m.insert_function = Statement();
  m.reparent = Statement();
  if (auto s = db_.create_indexes(); !s) return s;
  if (auto s = m.tx->commit(); !s) return s;
  committed_ = true;
  return {};
}

}  // namespace probeseek
