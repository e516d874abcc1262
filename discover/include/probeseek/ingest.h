// Sessions into the database, from any source: trace files (`import`) or a live recording
// (`record`). One assembly for both: the traced kernel's symbol tables and BTF, the call trees,
// the BTF of the modules whose functions were recorded, then one commit per session; and for a
// live recording, the ops-table slots that hold the recorded functions, read from kernel memory
// while that kernel is still running. The library never prints: what the user should know comes
// back as warnings and notes. docs/import.md and docs/record.md tell the user's side.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/database.h"
#include "probeseek/ops_store.h"
#include "probeseek/record.h"
#include "probeseek/session_writer.h"

namespace probeseek {

struct IngestRequest {
  // The recordings: trace.dat or report-text files, one session each, or one live recording
  // (its kernel snapshot then stands for `symbols`).
  std::vector<std::string> files;
  Recording* recording = nullptr;  // read once (Recording::read_into)
  std::string name;                // only with one recording; default: from the file name
  std::string source;              // for a live recording: what was recorded ("curl -s URL")
  bool replace = false;
  SymbolInputs symbols;  // the traced kernel's tables and BTF, read before anything is written
  // BTF of the traced kernel's modules, one file per module (its /sys/kernel/btf); only the
  // modules the recording's functions live in are stored, over the vmlinux BTF.
  std::string module_btf_dir;
  // A live recording's kernel memory (/proc/kcore): the ops tables the recorded functions fit
  // are read from it after the commit. "" = do not.
  std::string kernel_memory;
  std::function<void(std::string_view)> progress;  // "verifying ops tables in /proc/kcore"
  // For a progress line (cli/): the file being read (an index into `files`) and the calls read
  // from it so far, every 65,536 calls; then once with `writing` set, when every call is read
  // and the session's aggregates, indexes and commit follow.
  std::function<void(size_t file, uint64_t calls, bool writing)> on_calls;
};

struct IngestResult {
  std::vector<std::string> sessions;  // names, in order
  std::vector<int64_t> session_ids;
  std::vector<int64_t> symbol_set_ids;
  std::vector<std::string> modules_with_btf;  // module BTF stored, by name
  std::optional<OpsScanReport> ops;           // the record-time ops scan, when it ran
  std::vector<std::string> warnings;          // lost events and the like, for main to print
};

// A failure leaves every earlier session committed and the failing one absent; the symbol sets
// are committed with the first session that succeeds. Without recordings, only the symbol
// tables are stored. A damaged input is ErrorKind::kBadInput, naming the file.
Result<IngestResult> ingest(Database& db, const IngestRequest& request);

// Module BTF for sessions already in the database, over each one's stored vmlinux BTF (one
// transaction for all; `import --module-btf DIR` without recordings).
Result<IngestResult> store_module_btf(Database& db, const std::vector<SessionSummary>& sessions,
                                      const std::string& dir);

// "curl_v4.report.txt.gz" -> "curl_v4.report", "/x/curl_v4.dat" -> "curl_v4".
std::string default_session_name(const std::string& path);

}  // namespace probeseek
