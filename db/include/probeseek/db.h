// The SQLite store: one database holds many sessions (recordings under investigation).
// Write side: SessionWriter (one transaction per session; bulk insert through prepared
// statements; aggregates computed while streaming; indexes built after the load).
// Read side: Store (sessions, functions, trees, read-only SQL). Schema: docs/schema.md.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/error.h"
#include "probeseek/graph.h"
#include "probeseek/kallsyms.h"

namespace probeseek {

struct SqliteClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteFinalize {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
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
  int64_t int_at(int col) const { return sqlite3_column_int64(st_.get(), col); }
  double double_at(int col) const { return sqlite3_column_double(st_.get(), col); }
  std::string text_at(int col) const;
  bool null_at(int col) const { return sqlite3_column_type(st_.get(), col) == SQLITE_NULL; }

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
  Status exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  // Whether a table exists: tables some commands create on first use (verifications, ops
  // scans, module BTF) are missing from older databases, which read-only opens cannot add.
  Result<bool> has_table(std::string_view name);
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
};

// Removes a database file and its journals (a new database a failed command created).
void remove_database_files(const std::string& path);

struct SessionSummary {
  int64_t id = 0;
  std::string name;
  std::string source;
  std::string format;  // "trace.dat", "report-text", "live"
  std::string kernel_release;
  std::string imported_at;
  int64_t calls = 0;
  int64_t tasks = 0;
  int64_t functions = 0;
  int64_t lost_events = 0;
  int64_t cpus = 0;
  double duration_s = 0;
};

struct SessionStat {  // Perfetto-style: bad or surprising input, counted
  std::string name;
  int64_t cpu = -1;  // -1: the whole session
  int64_t value = 0;
  std::string severity;  // "info", "data_loss", "error"
  std::string description;
};

// Symbol tables given to `import` (or saved by `record`), stored so ranking works offline.
struct SymbolInputs {
  std::optional<std::string> kallsyms_path;
  std::optional<std::string> filter_functions_path;
  std::optional<std::string> kprobe_blacklist_path;
  // Raw BTF of the traced kernel (the caller validates it; db keeps it as bytes).
  std::optional<std::string> btf_bytes;
  std::string btf_source;
};

// Kernel BTF kept with sessions (zlib-compressed raw BTF, stored once per distinct content),
// so ranking works on another machine. Must run inside the caller's transaction.
Result<int64_t> store_btf(Database& db, std::string_view raw_btf, const std::string& source);
Status link_session_btf(Database& db, int64_t session_id, int64_t btf_id);
struct StoredBtf {
  int64_t id = 0;
  std::string source;
  std::string bytes;  // raw BTF
};
// The BTF stored for a session, if any.
Result<std::optional<StoredBtf>> load_session_btf(Database& db, int64_t session_id);
// The id of a stored BTF with exactly these bytes (e.g. the same file given again with --btf),
// so that module BTF stored with it can be found.
Result<std::optional<int64_t>> find_btf(Database& db, std::string_view raw_btf);

// A kernel module's BTF (/sys/kernel/btf/MODULE): split BTF, meaningful only on top of the
// vmlinux BTF it was built against, so it is keyed by that base (a btfs id) and the module's
// name. Raw bytes, as the kernel exposes them. Storing the same bytes again returns the existing
// id; different bytes for the same (base, module) replace the old ones, since one kernel build
// has one BTF per module and the newer copy is the one just read from it. Must run inside the
// caller's transaction. Table module_btfs, added after schema version 1: databases written
// before it gain it on their next read-write open, and the readers below treat its absence as
// "nothing stored".
Result<int64_t> store_module_btf(Database& db, int64_t base_btf_id, const std::string& module,
                                 std::string_view raw_btf, const std::string& source);
struct StoredModuleBtf {
  int64_t id = 0;
  std::string module;
  std::string source;  // where it was read from: "/sys/kernel/btf/nf_tables (probeseek record)"
  std::string bytes;   // raw split BTF
};
Result<std::optional<StoredModuleBtf>> load_module_btf(Database& db, int64_t base_btf_id,
                                                       const std::string& module);
// Names of the modules whose BTF is stored over this base, sorted.
Result<std::vector<std::string>> stored_module_btfs(Database& db, int64_t base_btf_id);
// Modules that own functions recorded in the session, sorted: the module column of its
// functions (filled from the kallsyms the session was written with) and, for functions without
// one, the module the session's linked kallsyms set names for them. Inside the session's own
// transaction, before commit, only the former is known (the links are written by commit()).
Result<std::vector<std::string>> session_modules(Database& db, int64_t session_id);

// Streams one session into the database inside one transaction. Nothing is visible, and the
// database is unchanged, until commit(); destroying an uncommitted writer rolls back.
class SessionWriter : public CallSink {
 public:
  struct Options {
    std::string name;
    std::string source;
    bool replace = false;
  };
  static Result<std::unique_ptr<SessionWriter>> begin(Database& db, const Options& options);
  ~SessionWriter() override;

  // The symbol table functions are looked up in for type and module (optional).
  void set_symbols(const SymbolTable* symbols) { symbols_ = symbols; }
  void on_function(uint32_t id, std::string_view name, uint64_t address) override;
  void on_task(uint32_t id, int pid, int idle_cpu, std::string_view comm) override;
  void on_call(const CallRecord& call) override;
  void on_reparent(uint64_t call_id, uint64_t new_parent_id) override;

  // Stores the symbol tables, aggregates and stats, builds indexes, and commits.
  Status commit(const SourceInfo& info, const CallTreeBuilder& builder,
                const std::vector<int64_t>& symbol_set_ids);
  int64_t session_id() const { return session_id_; }
  // The first error a streaming callback hit (callbacks cannot return one).
  const std::optional<Error>& stream_error() const { return stream_error_; }

 private:
  explicit SessionWriter(Database& db);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Database& db_;
  int64_t session_id_ = 0;
  const SymbolTable* symbols_ = nullptr;
  std::optional<Error> stream_error_;
  bool committed_ = false;
};

// Stores a symbol table file as a symbol set; returns its id. Kinds: "kallsyms",
// "filter_functions", "kprobe_blacklist". Must run inside the caller's transaction.
Result<int64_t> store_kallsyms(Database& db, const SymbolTable& table, const std::string& source);
// A recording's own kallsyms ("ADDR TYPE NAME [MODULE]" lines), kept as one zlib-compressed
// blob in symbol_sets.compressed_text: a trace.dat carries ~90k symbols, and turning them into
// indexed rows would cost more than importing the calls. load_kallsyms_set() reads either form.
Result<int64_t> store_kallsyms_text(Database& db, std::string_view text, size_t entries,
                                    const std::string& source);
Result<SymbolTable> load_kallsyms_set(Database& db, int64_t set_id);
// The text of a recording's own kallsyms set (decompressed).
Result<std::string> load_kallsyms_text(Database& db, int64_t set_id);
Result<int64_t> store_filter_functions(Database& db, const std::vector<FilterFunction>& functions,
                                       const std::string& source);
Result<int64_t> store_kprobe_blacklist(Database& db, const std::vector<BlacklistEntry>& entries,
                                       const std::string& source);

// `probeseek import`: symbol tables first (parsed before anything is written), then one
// transaction per recording. A failure leaves every earlier session committed and the
// failing one absent; the symbol sets are committed with the first session that succeeds.
struct ImportRequest {
  std::vector<std::string> files;
  std::string name;  // only with one file; default: from the file name
  bool replace = false;
  SymbolInputs symbols;
};
struct ImportResult {
  std::vector<std::string> sessions;  // names, in order
  std::vector<std::string> warnings;  // lost events and the like, for main to print
  std::vector<int64_t> symbol_set_ids;
};
Result<ImportResult> import_recordings(Database& db, const ImportRequest& request);
// "curl_v4.report.txt.gz" -> "curl_v4.report", "/x/curl_v4.dat" -> "curl_v4".
std::string default_session_name(const std::string& path);

// Name lookups over the symbol sets linked to some sessions, without loading whole tables:
// indexed queries over rows, or one pass over a recording's own (compressed) kallsyms. The
// newest set of each kind wins; a full --kallsyms beats a recording's own list.
class SymbolLookups {
 public:
  static Result<std::unique_ptr<SymbolLookups>> open(Database& db,
                                                     const std::vector<int64_t>& session_ids);
  ~SymbolLookups();
  bool has_kallsyms() const;
  bool has_filter_functions() const;
  bool has_kprobe_blacklist() const;
  int kallsyms_count(std::string_view name);  // symbols of that name
  // The module ("nf_tables") a symbol of that name belongs to; "" when no symbol of that name is
  // in a module. Callers ask after vmlinux BTF had no prototype, so a module symbol that shares
  // its name with a vmlinux one is the better answer then.
  std::string module_of(std::string_view name);
  std::vector<uint64_t> kallsyms_addresses(std::string_view name);
  bool traceable(std::string_view name);    // in available_filter_functions
  bool blacklisted(std::string_view name);  // in the kprobe blacklist
  int64_t kallsyms_set() const;

 private:
  SymbolLookups() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

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
  // The call tree as function_graph-like text, identical sibling subtrees folded.
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
