#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "probeseek/db.h"
#include "probeseek/text.h"
#include "probeseek/transaction.h"
#include "schema.sql.h"

namespace probeseek {

void SqliteClose::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}
void SqliteFinalize::operator()(sqlite3_stmt* st) const {
  sqlite3_finalize(st);
}

int64_t Statement::int_at(int col) const {
  return sqlite3_column_int64(st_.get(), col);
}
double Statement::double_at(int col) const {
  return sqlite3_column_double(st_.get(), col);
}
bool Statement::null_at(int col) const {
  return sqlite3_column_type(st_.get(), col) == SQLITE_NULL;
}

Statement& Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(st_.get(), i, v);
  return *this;
}
Statement& Statement::bind(int i, double v) {
  sqlite3_bind_double(st_.get(), i, v);
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  sqlite3_bind_text(st_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(st_.get(), i);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(st_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Named by its file: "disk is full" alone does not say which disk.
  sqlite3* db = sqlite3_db_handle(st_.get());
  const char* file = sqlite3_db_filename(db, "main");
  std::string object = std::string(file && *file ? file : "database") + ": " + sqlite3_errmsg(db);
  if ((rc & 0xff) == SQLITE_CORRUPT)
    return runtime_error("the database is damaged", object, 0,
                         "see what is damaged with: probeseek sessions --check --db FILE; "
                         "re-import the recordings into a new database");
  return runtime_error("database statement failed", object);
}

Status Statement::run() {
  auto r = step();
  sqlite3_reset(st_.get());
  if (!r) return tl::unexpected(r.error());
  return {};
}

void Statement::reset() {
  sqlite3_reset(st_.get());
  sqlite3_clear_bindings(st_.get());
}

std::string Statement::text_at(int col) const {
  // Every byte, NULs included: names from a kernel are bytes, not C strings.
  const unsigned char* t = sqlite3_column_text(st_.get(), col);
  if (!t) return {};
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<size_t>(sqlite3_column_bytes(st_.get(), col)));
}

Error Database::error(const std::string& what) const {
  return Error{ErrorKind::kRuntime, what, path_ + ": " + sqlite3_errmsg(db_.get()), 0, {}};
}

Status Database::create_indexes() {
  return exec(schema::kIndexes);
}

Status Database::exec(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "unknown error";
    sqlite3_free(msg);
    return runtime_error("database error", path_ + ": " + m);
  }
  return {};
}

Result<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &st, nullptr) !=
      SQLITE_OK)
    return tl::unexpected(error("cannot prepare SQL"));
  return Statement(st);
}

Result<std::vector<std::string>> Database::quick_check() {
  auto st = prepare("PRAGMA quick_check(100)");
  if (!st) return tl::unexpected(st.error());
  std::vector<std::string> problems;
  for (;;) {
    auto row = st->step();
    if (!row) {
      problems.push_back(row.error().object);
      break;
    }
    if (!*row) break;
    std::string line = st->text_at(0);
    if (line != "ok") problems.push_back(std::move(line));
  }
  return problems;
}

Result<bool> Database::has_table(std::string_view name) {
  auto st = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, name);
  return st->step();
}

namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A new database file is created here, before SQLite sees it, with mode 0600 whatever the
// umask: it may hold kernel addresses (--kallsyms as root: commit_creds's address defeats
// KASLR). SQLite gives its journal the database's mode. An existing file keeps its mode.
// Returns whether this call created the file.
Result<bool> create_private(const std::string& path) {
  auto created = create_private_file(path);
  if (!created)
    return fail(ErrorKind::kBadInput, "cannot create database", path, created.error().err_no,
                "check the path and its directory's permissions");
  return *created;
}

// A read-only connection cannot roll back a hot journal (an import or record that was killed
// mid-transaction leaves one): a read-write connection does so on its first read. Done here
// once, then the caller opens read-only again.
Status recover_hot_journal(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, SqliteClose> owner(raw);
  const std::string hint =
      "an interrupted import or record left " + path +
      "-journal, which holds the pages to undo it: run any probeseek command as a user who can "
      "write " +
      path + " and its directory (e.g. probeseek sessions --db " + path +
      "); do not delete the journal";
  if (rc != SQLITE_OK || sqlite3_db_readonly(raw, "main") == 1)
    return runtime_error("database needs recovery after an interrupted write",
                         path + ": cannot open it for writing", 0, hint);
  sqlite3_busy_timeout(raw, 5000);
  rc = sqlite3_exec(raw, "PRAGMA user_version", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK)
    return runtime_error("database needs recovery after an interrupted write",
                         path + ": " + sqlite3_errmsg(raw), 0, hint);
  return {};
}

}  // namespace

void remove_database_files(const std::string& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
}

Result<Database> Database::open(const std::string& path, Mode mode) {
  return open(path, mode, /*may_recover=*/true);
}

Result<bool> Database::holds_nothing() {
  auto kernels = has_table("kernels");  // the catalogue; absent from older databases
  if (!kernels) return tl::unexpected(kernels.error());
  auto st = prepare(std::string("SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM "
                                "symbol_sets)") +
                    (*kernels ? " + (SELECT count(*) FROM kernels)" : ""));
  if (!st) return tl::unexpected(st.error());
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  return *row && st->int_at(0) == 0;
}

Result<Database> Database::open(const std::string& path, Mode mode, bool may_recover) {
  Database db;
  db.path_ = path;
  if (mode == Mode::kReadWrite) {
    auto created = create_private(path);
    if (!created) return tl::unexpected(created.error());
    db.created_ = *created;
  } else if (!file_exists(path)) {
    return fail(ErrorKind::kBadInput, "cannot open database", path, ENOENT,
                "import a recording first: probeseek import FILE");
  }
  // From here on, a file this call created is removed again if the open fails.
  auto undo = [&](Error e) {
    if (db.created_) {
      db.db_.reset();
      remove_database_files(path);
    }
    return tl::unexpected(std::move(e));
  };
  // Sorts (CREATE INDEX's, and the window sort that links a version 1 or 2 file's calls) keep up to
  // 8 MiB in memory before spilling to temporary files, whatever the page cache: with the import's
  // 2 MiB cache, curl_v4's 284k index entries were sorted in four runs and merged, 100 M
  // instructions more (issue 15). Memory stays bounded: 8 MiB, not the trace's length. Set
  // once, before SQLite initializes (it refuses afterwards, which changes nothing).
  static const bool sorter_configured = [] {
    return sqlite3_config(SQLITE_CONFIG_PMASZ, 1024) == SQLITE_OK;
  }();
  (void)sorter_configured;
  sqlite3* raw = nullptr;
  // One connection, one thread: no per-call mutex (Debian builds SQLite serialized, and the
  // bulk load makes millions of bind/step calls).
  int flags =
      SQLITE_OPEN_NOMUTEX |
      (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db.db_.reset(raw);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    return undo(Error{ErrorKind::kBadInput, "cannot open database", path + ": " + msg, 0,
                      mode == Mode::kReadOnly ? "import a recording first: probeseek import FILE"
                                              : "check the path and its directory's permissions"});
  }
  sqlite3_busy_timeout(raw, 5000);
  // Up to 64 MiB of page cache for the read side (an import sets its own, small one).
  (void)db.exec("PRAGMA cache_size = -65536");
  // A corrupt or foreign file fails here, before anything is written to it.
  auto version = db.prepare("PRAGMA user_version");
  if (!version) return undo(db.error("cannot read database"));
  auto has_row = version->step();
  if (!has_row) {
    int code = sqlite3_extended_errcode(raw);
    if (code == SQLITE_READONLY_ROLLBACK && mode == Mode::kReadOnly && may_recover) {
      version = {};
      db.db_.reset();
      if (auto s = recover_hot_journal(path); !s) return tl::unexpected(s.error());
      return open(path, mode, /*may_recover=*/false);
    }
    if (code == SQLITE_READONLY_ROLLBACK)
      return runtime_error("database needs recovery after an interrupted write",
                           path + ": " + sqlite3_errmsg(raw), 0,
                           "run any probeseek command as a user who can write " + path +
                               " and its directory; do not delete " + path + "-journal");
    if ((code & 0xff) == SQLITE_NOTADB)
      return undo(Error{ErrorKind::kBadInput, "not a probeseek database (not an SQLite file)", path,
                        0, "choose another file with --db"});
    // Locked, unreadable, an I/O error: the file may be a good database.
    return undo(Error{
        ErrorKind::kRuntime, "cannot read database", path + ": " + sqlite3_errmsg(raw), 0, {}});
  }
  int64_t user_version = version->int_at(0);
  version->reset();
  db.schema_version_ = schema::kVersion;  // what a read-write open leaves
  if (mode == Mode::kReadWrite) {
    if (user_version == 0) {
      // Refuse to add tables to someone else's SQLite database.
      {
        auto count = db.prepare("SELECT count(*) FROM sqlite_master");
        if (!count) return undo(count.error());
        (void)count->step();
        bool foreign = count->int_at(0) > 0;
        count->reset();  // no statement may be active when the page size is set
        if (foreign)
          return undo(Error{ErrorKind::kBadInput,
                            "not a probeseek database (it holds other tables)", path, 0,
                            "choose another file with --db"});
      }
      // Before the first write. The schema in one transaction: one sync, not one per table.
      // Larger pages: fewer B-tree levels and splits for the call rows.
      if (auto s = db.exec("PRAGMA page_size = 8192"); !s) return undo(s.error());
      Status schema_created = [&]() -> Status {
        auto tx = Transaction::begin(db);
        if (!tx) return tl::unexpected(tx.error());
        if (auto s = db.exec(std::string(schema::kTables) + schema::kAdditions +
                             "PRAGMA user_version = " + std::to_string(schema::kVersion) + ";");
            !s)
          return s;  // rolled back by tx
        return tx->commit();
      }();
      if (!schema_created) return undo(schema_created.error());
    } else if (user_version == schema::kVersion) {
      if (auto s = db.exec(schema::kAdditions); !s) return tl::unexpected(s.error());
    } else if (user_version == 1 || user_version == 2) {
      // Version 1 stored every column of calls; version 2 stores small numbers and computes
      // the same columns from them; version 3 links each call to the previous call of its
      // function instead of indexing calls by function. Rebuilt once, in one transaction: a
      // failure leaves the file as it was.
      Status migrated = [&]() -> Status {
        auto tx = Transaction::begin(db);
        if (!tx) return tl::unexpected(tx.error());
        if (auto s = db.exec(std::string(user_version == 1 ? schema::kCallsFromVersion1
                                                           : schema::kCallsFromVersion2) +
                             schema::kLinksFromCalls + schema::kIndexes + schema::kAdditions +
                             "PRAGMA user_version = " + std::to_string(schema::kVersion) + ";");
            !s)
          return s;  // rolled back by tx
        return tx->commit();
      }();
      if (!migrated)
        return runtime_error(
            "cannot bring the database to schema version " + std::to_string(schema::kVersion),
            migrated.error().object, 0,
            "it is left as it was; import into a new database with --db NEW.db");
    } else {
      return bad_input("database schema version " + std::to_string(user_version) +
                           " is not the version this probeseek uses (" +
                           std::to_string(schema::kVersion) + ")",
                       path, "import into a new database with --db NEW.db");
    }
  } else if (user_version == 0) {
    return bad_input("not a probeseek database", path,
                     "import a recording first: probeseek import --db FILE TRACE");
  } else if (user_version != schema::kVersion && user_version != 1 && user_version != 2) {
    // Versions 1 and 2 are read as they are: their calls have every column version 3's view
    // computes, and their calls_by_function index answers "the calls of F".
    return bad_input("database schema version " + std::to_string(user_version) +
                         " is not the version this probeseek uses (" +
                         std::to_string(schema::kVersion) + ")",
                     path, "read it with the probeseek that wrote it");
  }
  if (mode == Mode::kReadOnly) db.schema_version_ = user_version;
  return db;
}

}  // namespace probeseek
