// Ops-table membership verified in kernel memory, kept with a session. `record` runs the scan
// while the traced kernel is still there to read (/proc/kcore), so `rank` and `explain` can show
// "tcp_prot.connect = tcp_v4_connect (verified in /proc/kcore at record time)" later, on any
// machine. A scan also records that it ran: "fits proto.connect but no table holds it" is
// evidence too, and it needs to be told apart from "never looked".
//
// The tables (ops_scans, ops_memberships) are created by the first scan; databases without them
// read as "never scanned". Schema in docs/schema.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/db.h"
#include "probeseek/error.h"
#include "probeseek/kallsyms.h"
#include "probeseek/ops_verify.h"

namespace probeseek {

struct OpsScanReport {
  size_t functions_with_fits = 0;  // session functions whose prototype fits some ops member
  size_t structs = 0;              // distinct struct/union types those fits name
  size_t tables = 0;               // instances of them found in memory
  size_t memberships = 0;          // rows stored: (function, table, member)
  size_t unreadable_symbols = 0;
  double seconds = 0;
  std::string memory;  // "/proc/kcore"
};

// Scans `memory` for instances of every ops struct some function of the session fits, and
// stores each table slot that holds one of the session's functions (or a clone of it). Replaces
// an earlier scan of the session. Runs in its own transaction. `symbols` must be the kallsyms of
// the kernel `memory` belongs to, with data symbols (CONFIG_KALLSYMS_ALL).
Result<OpsScanReport> scan_and_store_ops(Database& db, int64_t session_id, const Btf& btf,
                                         const KernelMemory& memory, const SymbolTable& symbols);

struct StoredMembership {
  std::string function;  // as recorded (may be a clone: f.isra.0)
  std::string table;     // "tcp_prot"
  std::string module;    // "" for vmlinux
  std::string struct_name;
  std::string member;
  std::string memory;        // where it was read: "/proc/kcore"
  std::string scanned_at;    // UTC, ISO 8601
  std::string text() const;  // "tcp_prot.connect = tcp_v4_connect (verified in /proc/kcore at ...)"
};

// What the sessions' stored scans say. `scanned` lists the sessions (ids) that have a scan;
// `memberships` maps a recorded function name, and a clone's original name (f for f.isra.0),
// to its table slots over all of them, without duplicates.
struct StoredOps {
  std::vector<int64_t> scanned;
  std::map<std::string, std::vector<StoredMembership>, std::less<>> memberships;
  bool any_scan() const { return !scanned.empty(); }
  const std::vector<StoredMembership>* find(std::string_view function) const;
};
Result<StoredOps> load_stored_ops(Database& db, const std::vector<int64_t>& session_ids);

}  // namespace probeseek
