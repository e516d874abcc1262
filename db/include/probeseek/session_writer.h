// The write side of sessions: a session's summary and stats, the symbol tables stored with it,
// and SessionWriter, which streams one recording into the database in one transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/database.h"
#include "probeseek/graph.h"
#include "probeseek/kallsyms.h"

namespace probeseek {

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
  Status write_call_paths(const CallTreeBuilder& builder);
  explicit SessionWriter(Database& db);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Database& db_;
  int64_t session_id_ = 0;
  const SymbolTable* symbols_ = nullptr;
  std::optional<Error> stream_error_;
  bool committed_ = false;
};

}  // namespace probeseek
