// The SQLite file itself: opening (schema created or checked, hot journals recovered), prepared
// statements, and removing a database a failed command created. Schema: docs/schema.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/error.h"

struct sqlite3;  // <sqlite3.h> stays inside db/
struct sqlite3_stmt;

namespace probeseek {

struct SqliteClose {
  void operator()(sqlite3* db) const;
};
struct SqliteFinalize {
  void operator()(sqlite3_stmt* st) const;
};

// A prepared statement. Binding and stepping errors surface through Database::check().
class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* st) : st_(st) {}
  sqlite3_stmt* get() const { return st_.get(); }
  Statement& bind(int i, int64_t v);
  Statement& bind(int i, double v);
  Statement& bind(int i, std::string_view v);  // copied (SQLITE_TRANSIENT)
  Statement& bind_null(int i);
  // SQLITE_ROW -> true, SQLITE_DONE -> false; anything else -> error.
  Result<bool> step();
  Status run();  // step to completion and reset
  // Steps through every row, calling fn(*this) for each; stops at the first error.
  template <typename Fn>
  Status for_each_row(Fn&& fn) {
    for (;;) {
      auto row = step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return {};
      fn(*this);
    }
  }
  void reset();
  int64_t int_at(int col) const;
  double double_at(int col) const;
  std::string text_at(int col) const;
  bool null_at(int col) const;

 private:
  std::unique_ptr<sqlite3_stmt, SqliteFinalize> st_;
};

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  // Creates the file (mode 0600: it may hold kernel addresses) and the schema when missing
  // (read-write mode); an existing file's mode is left as it is. A read-only open first rolls
  // back a hot journal an interrupted write left, through a read-write connection, or says how.
  static Result<Database> open(const std::string& path, Mode mode = Mode::kReadWrite);
  // Whether open() created the file: a command that fails may remove it again
  // (remove_database_files), so a failed first import leaves nothing behind.
  bool created() const { return created_; }
  // Whether the database holds no session and no symbol set: what a failed first import leaves.
  Result<bool> holds_nothing();
  sqlite3* raw() const { return db_.get(); }
  const std::string& path() const { return path_; }
  // PRAGMA user_version as opened (after any migration): read-only opens of version 1 and 2
  // files answer through their calls_by_function index, version 3 through the call links.
  int64_t schema_version() const { return schema_version_; }
  Status exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  // Whether a table exists: tables some commands create on first use (verifications, ops
  // scans, module BTF) are missing from older databases, which read-only opens cannot add.
  Result<bool> has_table(std::string_view name);
  // Every table's indexes (IF NOT EXISTS): bulk loads add them after their rows.
  Status create_indexes();
  Error error(const std::string& what) const;  // wraps sqlite3_errmsg
  // SQLite's PRAGMA quick_check: the problems found, empty when the file is sound. It reads
  // every page (~0.4-0.8 s for a 16 MB database holding curl_v4, where `sessions` takes 0.09 s),
  // so read commands do not run it on every open: `sessions --check` does.
  Result<std::vector<std::string>> quick_check();

 private:
  static Result<Database> open(const std::string& path, Mode mode, bool may_recover);
  std::unique_ptr<sqlite3, SqliteClose> db_;
  std::string path_;
  bool created_ = false;
  int64_t schema_version_ = 0;
};

// Removes a database file and its journals (a new database a failed command created).
void remove_database_files(const std::string& path);

}  // namespace probeseek
