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
#include "probeseek/ops_rows.h"  // what a scan stores, and reading it back
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

}  // namespace probeseek
