// import, sessions, functions, tree, sql: getting recordings in and looking at them.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "output.h"
#include "probeseek/btf.h"
#include "probeseek/db.h"
#include "probeseek/ingest.h"
#include "probeseek/progress.h"
#include "probeseek/text.h"

namespace probeseek::cli {

int report(const Error& error) {
  // Messages quote names from the database and the kernel: shown, never interpreted.
  std::cerr << "error: " << printable(error.message()) << "\n";
  if (!error.hint.empty()) std::cerr << "hint: " << printable(error.hint) << "\n";
  return error.exit_status();
}

namespace {

using nlohmann::json;

constexpr const char* kDefaultDb = "probeseek.db";

// Prints rows as a table, columns padded to their widest cell, every cell through printable():
// names from a kernel may hold escape sequences. Streams: rows are printed as they are added,
// past the first kWidthRows, which alone decide the column widths (a longer cell later just
// pushes its line out), so a query of millions of rows neither waits nor grows in memory.
class TablePrinter {
 public:
  static constexpr size_t kWidthRows = 1000;
  // width_rows: how many rows decide the widths (all of them, when the caller has them all).
  explicit TablePrinter(const std::vector<std::string>& header, size_t width_rows = kWidthRows)
      : width_rows_(width_rows) {
    add(header);
  }
  ~TablePrinter() { flush(); }
  TablePrinter(const TablePrinter&) = delete;
  TablePrinter& operator=(const TablePrinter&) = delete;
  void add(const std::vector<std::string>& row) {
    std::vector<std::string> cells;
    cells.reserve(row.size());
    for (auto& c : row) cells.push_back(printable(c));
    if (streaming_) return print(cells);
    if (width_.size() < cells.size()) width_.resize(cells.size());
    for (size_t i = 0; i < cells.size(); ++i) width_[i] = std::max(width_[i], cells[i].size());
    held_.push_back(std::move(cells));
    if (held_.size() > width_rows_) flush();  // the header and width_rows_ rows
  }
  // Prints what is held; the widths are fixed from then on.
  void flush() {
    for (auto& r : held_) print(r);
    held_.clear();
    held_.shrink_to_fit();
    streaming_ = true;
  }

 private:
  void print(const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 == cells.size()) break;
      size_t w = i < width_.size() ? width_[i] : 0;
      out += std::string(w > cells[i].size() ? w - cells[i].size() + 2 : 2, ' ');
    }
    out += "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  size_t width_rows_;
  std::vector<size_t> width_;
  std::vector<std::vector<std::string>> held_;
  bool streaming_ = false;
};

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  TablePrinter table(header, rows.size());
  for (auto& r : rows) table.add(r);
}

std::string us(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1000.0);
  return buf;
}

Result<Database> open_existing(const std::string& path) {
  return Database::open(path, Database::Mode::kReadOnly);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// "stored BTF of 2 module(s) from DIR: a, b".
void print_module_btf(const IngestResult& result, const std::string& dir) {
  std::cerr << "stored BTF of " << result.modules_with_btf.size() << " module(s) from "
            << printable(dir)
            << (result.modules_with_btf.empty() ? "" : ": " + join(result.modules_with_btf))
            << "\n";
}

// import --module-btf DIR without recordings: for the sessions already in the database.
Status store_module_btf_for_all(Database& db, const std::string& dir) {
  auto all = Store(db).sessions();
  if (!all) return tl::unexpected(all.error());
  if (all->empty())
    return bad_input("the database holds no session to store module BTF for", db.path(),
                     "import recordings with --btf FILE --module-btf DIR");
  auto stored = store_module_btf(db, *all, dir);
  if (!stored) return tl::unexpected(stored.error());
  for (auto& w : stored->warnings) std::cerr << "warning: " << printable(w) << "\n";
  print_module_btf(*stored, dir);
  return {};
}

struct ImportOptions {
  std::string db_path = kDefaultDb;
  IngestRequest request;
  std::string kallsyms, filter_functions, blacklist, btf, module_btf;
};

Status run_import(ImportOptions& o, bool& created) {
  IngestRequest& request = o.request;
  if (!o.kallsyms.empty()) request.symbols.kallsyms_path = o.kallsyms;
  if (!o.filter_functions.empty()) request.symbols.filter_functions_path = o.filter_functions;
  if (!o.blacklist.empty()) request.symbols.kprobe_blacklist_path = o.blacklist;
  if (!o.btf.empty()) {
    auto loaded = Btf::load(o.btf);
    if (!loaded) {
      Error e = loaded.error();
      e.kind = ErrorKind::kBadInput;
      return tl::unexpected(e);
    }
    request.symbols.btf_bytes = loaded->raw_bytes();
    request.symbols.btf_source = o.btf;
  }
  if (!o.module_btf.empty()) {
    if (!is_directory(o.module_btf))
      return bad_input("--module-btf needs a directory", o.module_btf,
                       "copy the traced machine's /sys/kernel/btf (one file per module)");
    if (!request.files.empty() && o.btf.empty())
      return bad_input("--module-btf needs the vmlinux BTF the modules were built against",
                       o.module_btf, "pass --btf FILE (that machine's /sys/kernel/btf/vmlinux)");
  }
  auto db = Database::open(o.db_path);
  if (!db) return tl::unexpected(db.error());
  created = db->created();
  const bool only_module_btf =
      !o.module_btf.empty() && request.files.empty() && !request.symbols.kallsyms_path &&
      !request.symbols.filter_functions_path && !request.symbols.kprobe_blacklist_path;
  if (only_module_btf) return store_module_btf_for_all(*db, o.module_btf);
  if (!request.files.empty()) request.module_btf_dir = o.module_btf;
  // On a terminal: "import: curl_v4.dat: 12 MiB of 22 MiB, 610k calls, 3 s". The bytes are what
  // the process has read since the previous file (the readers use pread), at most the size.
  auto line = ProgressLine::on_stderr();
  uint64_t read_from = process_bytes_read();
  if (line.active())
    request.on_calls = [&](size_t file, uint64_t calls, bool writing) {
      const std::string& path = request.files.at(file);
      std::string name = printable(path.substr(path.find_last_of('/') + 1));
      std::string text = "import: " + name;
      if (request.files.size() > 1)
        text +=
            " (" + std::to_string(file + 1) + " of " + std::to_string(request.files.size()) + ")";
      if (writing) {
        line.update(text + ": " + human_count(calls) +
                        " calls read, writing aggregates and indexes, " + line.elapsed(),
                    true);
        read_from = process_bytes_read();
        return;
      }
      std::error_code ec;
      const uint64_t size = std::filesystem::file_size(path, ec);
      const uint64_t done = std::min(process_bytes_read() - read_from, ec ? 0 : size);
      if (!ec) text += ": " + human_bytes(done) + " of " + human_bytes(size);
      line.update(text + ", " + human_count(calls) + " calls, " + line.elapsed());
    };
  auto result = ingest(*db, request);
  line.clear();
  if (!result) return tl::unexpected(result.error());
  for (auto& w : result->warnings) std::cerr << "warning: " << printable(w) << "\n";
  Store store(*db);
  for (auto& name : result->sessions) {
    auto s = store.session(name);
    if (!s) return tl::unexpected(s.error());
    std::cerr << "imported " << printable(s->name) << ": " << s->calls << " calls, " << s->tasks
              << " tasks, " << s->functions << " functions, " << s->lost_events << " lost events ("
              << s->format << ", " << printable(s->source) << ")\n";
  }
  if (result->sessions.empty())
    std::cerr << "stored " << result->symbol_set_ids.size() << " symbol table(s)\n";
  if (o.module_btf.empty()) return {};
  if (!result->sessions.empty()) {
    print_module_btf(*result, o.module_btf);
    return {};
  }
  return store_module_btf_for_all(*db, o.module_btf);  // symbol tables, then module BTF
}

}  // namespace

void register_import_commands(CLI::App& app, Context& ctx) {
  // ---- import
  auto* import_cmd = app.add_subcommand(
      "import",
      "Import function_graph recordings (trace.dat or 'trace-cmd report' text) and "
      "kernel symbol tables into the database");
  auto import_options = std::make_shared<ImportOptions>();
  ImportOptions& io = *import_options;
  import_cmd->add_option("--db", io.db_path, "database file")->capture_default_str();
  import_cmd->add_option("--name", io.request.name, "session name (default: from the file name)");
  import_cmd->add_flag("--replace", io.request.replace, "replace a session of the same name");
  import_cmd->add_option("--kallsyms", io.kallsyms,
                         "/proc/kallsyms of the traced kernel (plain or .gz)");
  import_cmd->add_option("--filter-functions", io.filter_functions,
                         "available_filter_functions of the traced kernel");
  import_cmd->add_option("--kprobe-blacklist", io.blacklist,
                         "debugfs kprobes/blacklist of the traced kernel");
  import_cmd->add_option("--btf", io.btf,
                         "BTF of the traced kernel (raw, e.g. its /sys/kernel/btf/vmlinux, or an "
                         "ELF with .BTF), stored with the sessions");
  import_cmd->add_option("--module-btf", io.module_btf,
                         "directory of the traced kernel's module BTF, one file per module (a "
                         "copy of its /sys/kernel/btf); needs --btf, or sessions with stored BTF");
  import_cmd->add_option("FILE", io.request.files, "trace.dat or report text (plain or .gz)");
  import_cmd->callback([&ctx, import_options] {
    // A database this import created is removed again if the import fails or is refused: a
    // full disk or a bad file must not leave a new, empty database behind.
    bool created = false;
    run(ctx, [&]() -> Status { return run_import(*import_options, created); });
    // Only when nothing was committed: with several files, the sessions imported before the
    // failing one stay.
    if (ctx.status != 0 && created) {
      bool empty = false;
      {
        auto db = Database::open(import_options->db_path, Database::Mode::kReadOnly);
        empty = db && db->holds_nothing().value_or(false);
      }  // closed before its file goes
      if (empty) remove_database_files(import_options->db_path);
    }
  });

  // ---- sessions
  auto* sessions = app.add_subcommand("sessions", "List the sessions in the database");
  struct SessionsOptions {
    bool as_json = false;
    bool check = false;
    std::string db_path = kDefaultDb;
  };
  auto so = std::make_shared<SessionsOptions>();
  sessions->add_option("--db", so->db_path, "database file")->capture_default_str();
  sessions->add_flag("--json", so->as_json, "JSON array on stdout");
  sessions->add_flag("--check", so->check,
                     "also check the database file's integrity (PRAGMA quick_check; reads every "
                     "page): problems are printed, and the exit status is 1");
  sessions->callback([&ctx, so] {
    run(ctx, [&]() -> Status {
      auto db = open_existing(so->db_path);
      if (!db) return tl::unexpected(db.error());
      Store store(*db);
      auto all = store.sessions();
      if (!all) return tl::unexpected(all.error());
      json out = json::array();
      std::vector<std::vector<std::string>> rows;
      for (auto& s : *all) {
        auto stats = store.session_stats(s.id);
        if (!stats) return tl::unexpected(stats.error());
        json js = json::array();
        std::string notes;
        for (auto& st : *stats) {
          js.push_back({{"name", st.name},
                        {"cpu", st.cpu < 0 ? json(nullptr) : json(st.cpu)},
                        {"value", st.value},
                        {"severity", st.severity},
                        {"description", st.description}});
          notes += (notes.empty() ? "" : ", ") + st.name +
                   (st.cpu >= 0 ? "[cpu" + std::to_string(st.cpu) + "]" : "") + "=" +
                   std::to_string(st.value);
        }
        out.push_back({{"name", s.name},
                       {"source", s.source},
                       {"format", s.format},
                       {"kernel_release", s.kernel_release},
                       {"imported_at", s.imported_at},
                       {"calls", s.calls},
                       {"tasks", s.tasks},
                       {"functions", s.functions},
                       {"lost_events", s.lost_events},
                       {"cpus", s.cpus},
                       {"duration_s", s.duration_s},
                       {"stats", js}});
        rows.push_back({s.name, std::to_string(s.calls), std::to_string(s.tasks),
                        std::to_string(s.functions), std::to_string(s.lost_events),
                        s.kernel_release.empty() ? "-" : s.kernel_release, s.format, s.source,
                        notes.empty() ? "-" : notes});
      }
      if (so->as_json)
        std::cout << dump_json(out) << "\n";
      else
        print_table({"name", "calls", "tasks", "functions", "lost_events", "kernel", "format",
                     "source", "stats"},
                    rows);
      if (so->check) {
        std::fflush(stdout);
        auto problems = db->quick_check();
        if (!problems) return tl::unexpected(problems.error());
        for (auto& p : *problems) std::cerr << "warning: " << printable(p) << "\n";
        if (!problems->empty())
          return runtime_error("the database is damaged (" + std::to_string(problems->size()) +
                                   " problem(s) found by PRAGMA quick_check)",
                               so->db_path, 0,
                               "re-import the recordings into a new database with --db NEW.db");
        std::cerr << "integrity: ok (PRAGMA quick_check)\n";
      }
      return {};
    });
  });

  // ---- functions
  auto* functions = app.add_subcommand("functions", "Functions seen in a session");
  struct FunctionsOptions {
    std::string db_path = kDefaultDb;
    std::string session;
    std::string under;
    bool as_json = false;
    int limit = 0;
  };
  auto fo = std::make_shared<FunctionsOptions>();
  functions->add_option("--db", fo->db_path, "database file")->capture_default_str();
  functions->add_option("--session", fo->session, "session name (default: the only one)");
  functions->add_option("--under", fo->under, "only calls below this function");
  functions->add_option("--limit", fo->limit, "at most N rows (0: all)");
  functions->add_flag("--json", fo->as_json, "JSON array on stdout");
  functions->callback([&ctx, fo, functions] {
    run(ctx, [&]() -> Status {
      // An empty name or a negative count would silently mean "no filter".
      if (functions->count("--under") > 0 && fo->under.empty())
        return bad_input("--under needs a function name", "",
                         "leave --under out to list every function");
      if (fo->limit < 0)
        return bad_input("--limit must be 0 (all) or more", std::to_string(fo->limit),
                         "--limit 0 lists every function");
      auto db = open_existing(fo->db_path);
      if (!db) return tl::unexpected(db.error());
      Store store(*db);
      auto s = store.session(fo->session);
      if (!s) return tl::unexpected(s.error());
      auto rows = store.functions(s->id, fo->under);
      if (!rows) return tl::unexpected(rows.error());
      if (fo->limit > 0 && rows->size() > static_cast<size_t>(fo->limit))
        rows->resize(static_cast<size_t>(fo->limit));
      if (fo->as_json) {
        json out = json::array();
        for (auto& r : *rows) {
          json syscalls = json::array();
          size_t pos = 0;
          while (pos < r.syscalls.size()) {
            size_t comma = r.syscalls.find(',', pos);
            if (comma == std::string::npos) comma = r.syscalls.size();
            syscalls.push_back(r.syscalls.substr(pos, comma - pos));
            pos = comma + 1;
          }
          out.push_back({{"function", r.function},
                         {"address", r.address},
                         {"calls", r.calls},
                         {"task_calls", r.task_calls},
                         {"total_us", static_cast<double>(r.total_ns) / 1000.0},
                         {"self_us", static_cast<double>(r.self_ns) / 1000.0},
                         {"callers", r.callers},
                         {"syscalls", syscalls}});
        }
        std::cout << dump_json(out) << "\n";
        return {};
      }
      std::vector<std::vector<std::string>> table;
      for (auto& r : *rows)
        table.push_back({r.function, std::to_string(r.calls), std::to_string(r.task_calls),
                         us(r.total_ns), us(r.self_ns), std::to_string(r.callers),
                         r.syscalls.empty() ? "-" : r.syscalls});
      print_table({"function", "calls", "task_calls", "total_us", "self_us", "callers", "syscalls"},
                  table);
      return {};
    });
  });

  // ---- tree
  auto* tree = app.add_subcommand("tree", "Print the call tree, function_graph style");
  struct TreeOptions {
    std::string db_path = kDefaultDb;
    std::string session;
    Store::TreeOptions options;
    int pid = 0;
  };
  auto to = std::make_shared<TreeOptions>();
  tree->add_option("--db", to->db_path, "database file")->capture_default_str();
  tree->add_option("--session", to->session, "session name (default: the only one)");
  tree->add_option("--root", to->options.root, "show only the subtrees of this function");
  tree->add_option("--pid", to->pid, "only this task");
  tree->add_option("--max-depth", to->options.max_depth, "levels shown below each root");
  tree->callback([&ctx, to, tree] {
    run(ctx, [&]() -> Status {
      // An empty name or a negative number would silently mean "no filter".
      if (tree->count("--root") > 0 && to->options.root.empty())
        return bad_input("--root needs a function name", "",
                         "leave --root out to show every call tree");
      if (tree->count("--pid") > 0) {
        if (to->pid < 0)
          return bad_input("--pid must be a process id (0 or more)", std::to_string(to->pid),
                           "leave --pid out to show every task");
        to->options.pid = to->pid;
      }
      if (tree->count("--max-depth") > 0 && to->options.max_depth < 0)
        return bad_input("--max-depth must be 0 or more", std::to_string(to->options.max_depth),
                         "leave --max-depth out to show every level");
      auto db = open_existing(to->db_path);
      if (!db) return tl::unexpected(db.error());
      Store store(*db);
      auto s = store.session(to->session);
      if (!s) return tl::unexpected(s.error());
      auto text = store.tree(s->id, to->options);
      if (!text) return tl::unexpected(text.error());
      std::fwrite(text->data(), 1, text->size(), stdout);  // printable already (store.h)
      return {};
    });
  });

  // ---- sql
  auto* sql = app.add_subcommand("sql", "Run a read-only SQL query on the database");
  struct SqlOptions {
    std::string db_path = kDefaultDb;
    std::string query;
    bool as_json = false;
    double timeout = 0;
  };
  auto qo = std::make_shared<SqlOptions>();
  sql->add_option("--db", qo->db_path, "database file")->capture_default_str();
  sql->add_flag("--json", qo->as_json, "JSON array of objects on stdout");
  sql->add_option("--timeout", qo->timeout, "stop the query after SECONDS (0: no limit)");
  sql->add_option("QUERY", qo->query, "SELECT ...")->required();
  sql->callback([&ctx, qo] {
    run(ctx, [&]() -> Status {
      if (!(qo->timeout >= 0))
        return bad_input("--timeout must be 0 (no limit) or more seconds",
                         std::to_string(qo->timeout), "--timeout 0 lets the query run to its end");
      auto db = open_existing(qo->db_path);
      if (!db) return tl::unexpected(db.error());
      Store store(*db);
      Store::SqlOptions options;
      options.timeout_s = qo->timeout;
      // Rows are printed as SQLite produces them (see TablePrinter); JSON is one array written
      // an object at a time.
      std::vector<std::string> columns;
      std::optional<TablePrinter> table;
      size_t json_rows = 0;
      auto status = store.sql(
          qo->query, options,
          [&](const std::vector<std::string>& names) {
            columns = names;
            if (!qo->as_json) table.emplace(names);
          },
          [&](const Store::SqlRow& row) {
            if (qo->as_json) {
              json o = json::object();
              for (size_t i = 0; i < row.size(); ++i)
                o[columns[i]] = row[i] ? json(*row[i]) : json(nullptr);
              std::string text = dump_json(o);
              // Indented as a whole-array dump(2) would be.
              std::string indented = "  ";
              for (char c : text) {
                indented += c;
                if (c == '\n') indented += "  ";
              }
              std::fputs(json_rows++ ? ",\n" : "[\n", stdout);
              std::fwrite(indented.data(), 1, indented.size(), stdout);
              return;
            }
            std::vector<std::string> cells;
            for (auto& c : row) cells.push_back(c ? *c : "NULL");
            table->add(cells);
          });
      table.reset();  // prints what it holds, also before an error message
      // After an error the JSON array stays open: the output is not mistaken for all the rows.
      if (qo->as_json && status) std::fputs(json_rows ? "\n]\n" : "[]\n", stdout);
      return status;
    });
  });
}  // namespace probeseek::cli

}  // namespace probeseek::cli
