#include "probeseek/ops_rows.h"

#include <algorithm>
#include <set>

#include "probeseek/kallsyms.h"
#include "probeseek/transaction.h"

namespace probeseek {

namespace {

Status ensure_tables(Database& db) {
  // Created on first use rather than with the schema: only sessions recorded (or scanned) on a
  // kernel whose memory was readable have rows, and older databases gain the tables then.
  return db.exec(
      "CREATE TABLE IF NOT EXISTS ops_scans("
      "  session_id INTEGER PRIMARY KEY,"
      "  memory TEXT NOT NULL,"
      "  scanned_at TEXT NOT NULL,"
      "  structs INTEGER NOT NULL,"
      "  tables INTEGER NOT NULL,"
      "  memberships INTEGER NOT NULL,"
      "  unreadable_symbols INTEGER NOT NULL,"
      "  seconds REAL NOT NULL);"
      "CREATE TABLE IF NOT EXISTS ops_memberships("
      "  session_id INTEGER NOT NULL,"
      "  function TEXT NOT NULL,"
      "  table_symbol TEXT NOT NULL,"
      "  module TEXT NOT NULL,"
      "  table_address INTEGER NOT NULL,"
      "  struct_name TEXT NOT NULL,"
      "  member TEXT NOT NULL,"
      "  target TEXT NOT NULL,"  // the symbol the slot points to: the function or its clone
      "  PRIMARY KEY(session_id, function, table_symbol, module, member)) WITHOUT ROWID;"
      // Every slot, in every table found, of the members that hold a recorded function: the
      // siblings (tcpv6_prot.connect = tcp_v6_connect beside tcp_prot.connect).
      "CREATE TABLE IF NOT EXISTS ops_slots("
      "  session_id INTEGER NOT NULL,"
      "  struct_name TEXT NOT NULL,"
      "  member TEXT NOT NULL,"
      "  table_symbol TEXT NOT NULL,"
      "  module TEXT NOT NULL,"
      "  target TEXT NOT NULL,"
      "  PRIMARY KEY(session_id, struct_name, member, table_symbol, module)) WITHOUT ROWID;");
}

}  // namespace

Status replace_ops_scan(Database& db, int64_t session_id, const OpsScanRow& scan,
                        const std::vector<OpsMembershipRow>& memberships,
                        const std::vector<OpsSlotRow>& slots) {
  auto tx = Transaction::begin(db);
  if (!tx) return tl::unexpected(tx.error());
  if (auto s = ensure_tables(db); !s) return s;
  for (const char* table : {"ops_scans", "ops_memberships", "ops_slots"}) {
    auto st = db.prepare(std::string("DELETE FROM ") + table + " WHERE session_id = ?");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, session_id);
    if (auto s = st->run(); !s) return s;
  }
  auto insert = db.prepare(
      "INSERT OR IGNORE INTO ops_memberships(session_id, function, table_symbol, module, "
      "table_address, struct_name, member, target) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return tl::unexpected(insert.error());
  for (const OpsMembershipRow& m : memberships) {
    insert->bind(1, session_id)
        .bind(2, m.function)
        .bind(3, m.table)
        .bind(4, m.module)
        .bind(5, static_cast<int64_t>(m.table_address))
        .bind(6, m.struct_name)
        .bind(7, m.member)
        .bind(8, m.target);
    if (auto s = insert->run(); !s) return s;
  }
  auto slot = db.prepare(
      "INSERT OR IGNORE INTO ops_slots(session_id, struct_name, member, table_symbol, module, "
      "target) VALUES(?, ?, ?, ?, ?, ?)");
  if (!slot) return tl::unexpected(slot.error());
  for (const OpsSlotRow& r : slots) {
    slot->bind(1, session_id)
        .bind(2, r.struct_name)
        .bind(3, r.member)
        .bind(4, r.table)
        .bind(5, r.module)
        .bind(6, r.target);
    if (auto s = slot->run(); !s) return s;
  }
  auto row = db.prepare(
      "INSERT INTO ops_scans(session_id, memory, scanned_at, structs, tables, memberships, "
      "unreadable_symbols, seconds) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!row) return tl::unexpected(row.error());
  row->bind(1, session_id)
      .bind(2, scan.memory)
      .bind(3, scan.scanned_at)
      .bind(4, scan.structs)
      .bind(5, scan.tables)
      .bind(6, scan.memberships)
      .bind(7, scan.unreadable_symbols)
      .bind(8, scan.seconds);
  if (auto s = row->run(); !s) return s;
  return tx->commit();
}

std::string StoredMembership::text() const {
  std::string where = memory;
  if (!scanned_at.empty()) where += " at record time, " + scanned_at;
  return table + (module.empty() ? "" : " [" + module + "]") + "." + member + " = " + function +
         " (verified in " + where + ")";
}

const std::vector<StoredMembership>* StoredOps::slots_of(std::string_view struct_name,
                                                         std::string_view member) const {
  auto it = slots.find(std::string(struct_name) + "." + std::string(member));
  return it == slots.end() ? nullptr : &it->second;
}

namespace {

// The slots of every scanned session (a database from before ops_slots has none: siblings
// unknown, not "none").
Result<StoredOps> load_slots(Database& db, const std::string& ids, StoredOps& out) {
  auto exists = db.has_table("ops_slots");
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return std::move(out);
  auto st = db.prepare(
      "SELECT o.target, o.table_symbol, o.module, o.struct_name, o.member, s.memory, "
      "s.scanned_at, o.session_id FROM ops_slots o JOIN ops_scans s ON s.session_id = o.session_id "
      "WHERE o.session_id IN (" +
      ids + ") ORDER BY o.struct_name, o.member, o.table_symbol, o.module, o.session_id");
  if (!st) return tl::unexpected(st.error());
  std::set<int64_t> with_slots;
  if (auto s = st->for_each_row([&](const Statement& r) {
        StoredMembership m{r.text_at(0), r.text_at(1), r.text_at(2), r.text_at(3),
                           r.text_at(4), r.text_at(5), r.text_at(6)};
        with_slots.insert(r.int_at(7));
        auto& list = out.slots[m.struct_name + "." + m.member];
        bool seen = std::any_of(list.begin(), list.end(), [&](const StoredMembership& o) {
          return o.table == m.table && o.module == m.module && o.function == m.function;
        });
        if (!seen) list.push_back(std::move(m));
      });
      !s)
    return tl::unexpected(s.error());
  out.slots_scanned = !out.scanned.empty() && with_slots.size() == out.scanned.size();
  return std::move(out);
}

}  // namespace

const std::vector<StoredMembership>* StoredOps::find(std::string_view function) const {
  auto it = memberships.find(function);
  if (it == memberships.end()) it = memberships.find(strip_clone_suffix(function));
  return it == memberships.end() ? nullptr : &it->second;
}

Result<StoredOps> load_stored_ops(Database& db, const std::vector<int64_t>& session_ids) {
  StoredOps out;
  auto exists = db.has_table("ops_scans");
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists || session_ids.empty()) return out;
  std::string ids;
  for (int64_t id : session_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  auto scans = db.prepare("SELECT session_id FROM ops_scans WHERE session_id IN (" + ids +
                          ") ORDER BY session_id");
  if (!scans) return tl::unexpected(scans.error());
  if (auto s = scans->for_each_row([&](const Statement& r) { out.scanned.push_back(r.int_at(0)); });
      !s)
    return tl::unexpected(s.error());
  auto st = db.prepare(
      "SELECT m.function, m.table_symbol, m.module, m.struct_name, m.member, s.memory, "
      "s.scanned_at FROM ops_memberships m JOIN ops_scans s ON s.session_id = m.session_id "
      "WHERE m.session_id IN (" +
      ids +
      ") ORDER BY m.function, m.table_symbol, m.member, "
      "m.session_id");
  if (!st) return tl::unexpected(st.error());
  if (auto s = st->for_each_row([&](const Statement& r) {
        StoredMembership m{r.text_at(0), r.text_at(1), r.text_at(2), r.text_at(3),
                           r.text_at(4), r.text_at(5), r.text_at(6)};
        // Under the recorded name and, for a clone, under its BTF name as well.
        std::string_view base = strip_clone_suffix(m.function);
        for (std::string key : {m.function, std::string(base)}) {
          auto& list = out.memberships[key];
          bool seen = std::any_of(list.begin(), list.end(), [&](const StoredMembership& o) {
            return o.table == m.table && o.module == m.module && o.member == m.member;
          });
          if (!seen) list.push_back(m);
          if (base == m.function) break;
        }
      });
      !s)
    return tl::unexpected(s.error());
  return load_slots(db, ids, out);
}

}  // namespace probeseek
