// Ops-table memberships verified in kernel memory, kept with a session (the scan itself is
// discover/ops_store.h). A scan also records that it ran: "fits proto.connect but no table
// holds it" is evidence too, and must be told apart from "never looked". The tables
// (ops_scans, ops_memberships) are created by the first scan; databases without them read as
// "never scanned". Schema in docs/schema.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/db.h"
#include "probeseek/error.h"

namespace probeseek {

// One slot that holds a recorded function: "tcp_prot.connect = tcp_v4_connect".
struct OpsMembershipRow {
  std::string function;  // the recorded name (may be a clone: f.isra.0)
  std::string table;     // "tcp_prot"
  std::string module;    // "" for vmlinux
  uint64_t table_address = 0;
  std::string struct_name;  // "proto"
  std::string member;       // "connect"
  std::string target;       // the symbol the slot points to: the function or its clone
};
struct OpsScanRow {
  std::string memory;  // "/proc/kcore"
  std::string scanned_at;
  int64_t structs = 0, tables = 0, memberships = 0, unreadable_symbols = 0;
  double seconds = 0;
};
// A slot of a member that holds a recorded function, in any table: the recorded function's own
// slots and its siblings' ("tcpv6_prot.connect = tcp_v6_connect" beside tcp_prot's).
struct OpsSlotRow {
  std::string struct_name, member;
  std::string table, module;
  std::string target;  // the symbol the slot points to
};
// Replaces the session's earlier scan, if any, with this one, in one transaction.
Status replace_ops_scan(Database& db, int64_t session_id, const OpsScanRow& scan,
                        const std::vector<OpsMembershipRow>& memberships,
                        const std::vector<OpsSlotRow>& slots);

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
  // "proto.connect" -> every slot of that member in the tables found (function = the target);
  // slots_scanned: every scanned session stored them (a scan older than ops_slots did not).
  std::map<std::string, std::vector<StoredMembership>, std::less<>> slots;
  bool slots_scanned = false;
  bool any_scan() const { return !scanned.empty(); }
  const std::vector<StoredMembership>* find(std::string_view function) const;
  const std::vector<StoredMembership>* slots_of(std::string_view struct_name,
                                                std::string_view member) const;
};
Result<StoredOps> load_stored_ops(Database& db, const std::vector<int64_t>& session_ids);

}  // namespace probeseek
