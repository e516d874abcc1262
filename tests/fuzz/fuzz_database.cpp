// The database opener and the read paths (sessions, session stats, functions, tree) on a file
// that is anything at all: SQLite checks its own format, but our code must not trust the rows it
// reads (negative or dangling ids, NULLs, huge counts and depths, parent cycles). The bytes are
// written to a temporary file and opened read-only, as `probeseek sessions --db FILE` does. The
// kernel catalogue is read as `kernels` and `compat` read it; rank and explain read the
// sessions' edges, ops scans and sibling slots, and the time below schedule().
#include <sqlite3.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "probeseek/catalog_store.h"
#include "probeseek/compat.h"
#include "probeseek/db.h"
#include "probeseek/diff.h"
#include "probeseek/explain.h"
#include "probeseek/export.h"
#include "probeseek/ops_rows.h"
#include "probeseek/rank.h"
#include "probeseek/report.h"
#include "probeseek/sleep_queries.h"

namespace {

const std::string& temp_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir ? dir : "/tmp") + "/probeseek-fuzz-db-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    if (fd >= 0) ::close(fd);
    return tmpl;
  }();
  return path;
}

// A file can hold a view that never ends (WITH RECURSIVE): every query stops after this many
// virtual machine steps, so an input is judged in bounded time.
int too_long(void* arg) {
  return ++*static_cast<int*>(arg) > 2000;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = temp_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  {
    auto db = probeseek::Database::open(path, probeseek::Database::Mode::kReadOnly);
    if (db) {
      int ticks = 0;
      sqlite3_progress_handler(db->raw(), 1000, too_long, &ticks);
      probeseek::Store store(*db);
      auto sessions = store.sessions();
      if (sessions) {
        int n = 0;
        for (const auto& s : *sessions) {
          if (++n > 3) break;
          (void)store.session_stats(s.id);
          (void)store.functions(s.id, "");
          (void)store.functions(s.id, "tcp_sendmsg");
          probeseek::Store::TreeOptions all;
          (void)store.tree(s.id, all);
          probeseek::Store::TreeOptions some;
          some.root = "tcp_sendmsg";
          some.max_depth = 2;
          some.pid = 0;
          (void)store.tree(s.id, some);
          (void)probeseek::time_below(*db, s.id, "schedule");
          for (auto format : {probeseek::ExportFormat::kFolded, probeseek::ExportFormat::kChrome,
                              probeseek::ExportFormat::kPerfetto}) {
            probeseek::StringOutput out;
            probeseek::ExportOptions options;
            options.format = format;
            (void)probeseek::export_session(*db, s.id, options, out);
          }
          (void)probeseek::after_sleep(*db, s.id, "inet_csk_accept", "schedule", 8);
        }
        (void)store.session("");
        // rank and explain over the stored evidence: function edges, record's ops scan and
        // its sibling slots (layers), without BTF (none is read from outside the file).
        std::vector<int64_t> ids;
        for (const auto& s : *sessions) ids.push_back(s.id);
        (void)probeseek::load_stored_ops(*db, ids);
        probeseek::RankRequest rank;
        rank.live.btf = "/nonexistent/probeseek-fuzz-btf";
        rank.limit = 5;
        rank.complete = true;
        (void)probeseek::rank(*db, rank);
        probeseek::ExplainRequest explain;
        rank.live.kcore = rank.live.kallsyms = "/nonexistent/probeseek-fuzz";
        explain.live = rank.live;
        if (!sessions->empty()) {
          probeseek::DiffRequest diff;
          diff.a = {sessions->front().name};
          diff.b = {sessions->back().name};
          diff.live = rank.live;
          (void)probeseek::diff(*db, diff);
        }
        for (const char* function : {"vfs_read", "inet_csk_accept"}) {
          explain.function = function;
          (void)probeseek::explain(*db, explain);
        }
        // The report: every section over the same rows (rank, explain, verify rows, call
        // profiles, diff, the probe without BTF), escaped into one page.
        probeseek::ReportRequest report;
        report.live = rank.live;
        report.limit = 3;
        probeseek::StringOutput page;
        (void)probeseek::write_report(*db, report, page);
      }
      // The kernel catalogue: rows, compressed blobs and prototypes from the file, and compat
      // over them (replacement search and member checks included).
      auto kernels = probeseek::list_catalog_kernels(*db);
      if (kernels && !kernels->empty()) {
        int n = 0;
        for (const auto& k : *kernels) {
          if (++n > 3) break;
          (void)probeseek::catalog_btf(*db, k.id);
          (void)probeseek::catalog_symbols_text(*db, k.id);
          (void)probeseek::catalog_members(*db, k.id);
          (void)probeseek::catalog_ops(*db, k.id);
        }
        probeseek::CompatRequest request;
        request.functions = {"tcp_v4_connect", "inet_csk_accept"};
        (void)probeseek::compat(*db, request);
      }
    }
  }
  ::unlink((path + "-journal").c_str());
  return 0;
}
