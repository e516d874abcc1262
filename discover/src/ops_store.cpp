#include "probeseek/ops_store.h"
#include "probeseek/text.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>
#include <unordered_map>

namespace probeseek {

namespace {

Status ensure_tables(Database& db) {
  // Owned here rather than by db/'s schema: only sessions recorded (or scanned) on a kernel
  // whose memory was readable have rows, and older databases gain the tables on first use.
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
      "  PRIMARY KEY(session_id, function, table_symbol, module, member)) WITHOUT ROWID;");
}

Status delete_rows(Database& db, int64_t session_id) {
  for (const char* table : {"ops_scans", "ops_memberships"}) {
    auto st = db.prepare(std::string("DELETE FROM ") + table + " WHERE session_id = ?");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, session_id);
    if (auto s = st->run(); !s) return s;
  }
  return {};
}

}  // namespace

std::string StoredMembership::text() const {
  std::string where = memory;
  if (!scanned_at.empty()) where += " at record time, " + scanned_at;
  return table + (module.empty() ? "" : " [" + module + "]") + "." + member + " = " + function +
         " (verified in " + where + ")";
}

const std::vector<StoredMembership>* StoredOps::find(std::string_view function) const {
  auto it = memberships.find(function);
  if (it == memberships.end()) it = memberships.find(strip_clone_suffix(function));
  return it == memberships.end() ? nullptr : &it->second;
}

Result<OpsScanReport> scan_and_store_ops(Database& db, int64_t session_id, const Btf& btf,
                                         const KernelMemory& memory, const SymbolTable& symbols) {
  auto started = std::chrono::steady_clock::now();
  OpsScanReport report;
  report.memory = memory.describe();

  // The session's functions, by their BTF name (clones map to the original's prototype).
  std::unordered_map<std::string, std::vector<std::string>> recorded_by_btf_name;
  {
    auto st = db.prepare("SELECT DISTINCT name FROM functions WHERE session_id = ?");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, session_id);
    if (auto s = st->for_each_row([&](const Statement& row) {
          std::string name = row.text_at(0);
          recorded_by_btf_name[std::string(strip_clone_suffix(name))].push_back(name);
        });
        !s)
      return tl::unexpected(s.error());
  }
  OpsIndex ops = OpsIndex::build(btf);
  std::set<std::string> structs;
  std::vector<std::string> with_fits;
  for (auto& [btf_name, recorded] : recorded_by_btf_name) {
    auto fits = ops.fits(btf, btf_name);
    if (fits.empty()) continue;
    with_fits.push_back(btf_name);
    for (const OpsFit& f : fits) structs.insert(f.struct_name);
  }
  std::sort(with_fits.begin(), with_fits.end());
  report.functions_with_fits = with_fits.size();
  report.structs = structs.size();

  auto verifier = OpsVerifier::create(memory, symbols, btf, ops);
  if (!verifier) return tl::unexpected(verifier.error());
  if (!structs.empty()) {
    // One pass over the data symbols for all of them; verify() below then reads the cache.
    auto instances = verifier->scan_all({structs.begin(), structs.end()});
    if (!instances) return tl::unexpected(instances.error());
    report.tables = instances->size();
  }

  if (auto s = db.exec("BEGIN IMMEDIATE"); !s) return tl::unexpected(s.error());
  auto fail = [&](const Error& e) -> Result<OpsScanReport> {
    (void)db.exec("ROLLBACK");
    return tl::unexpected(e);
  };
  if (auto s = ensure_tables(db); !s) return fail(s.error());
  if (auto s = delete_rows(db, session_id); !s) return fail(s.error());
  auto insert = db.prepare(
      "INSERT OR IGNORE INTO ops_memberships(session_id, function, table_symbol, module, "
      "table_address, struct_name, member, target) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return fail(insert.error());
  for (const std::string& btf_name : with_fits) {
    for (const VerifiedMembership& v : verifier->verify(btf_name)) {
      // Stored under the recorded name(s): what rank and explain look up.
      for (const std::string& recorded : recorded_by_btf_name[btf_name]) {
        insert->bind(1, session_id)
            .bind(2, recorded)
            .bind(3, v.table)
            .bind(4, v.module)
            .bind(5, static_cast<int64_t>(v.table_address))
            .bind(6, v.struct_name)
            .bind(7, v.member)
            .bind(8, v.function);
        if (auto s = insert->run(); !s) return fail(s.error());
        ++report.memberships;
      }
    }
  }
  report.unreadable_symbols = verifier->stats().unreadable_symbols;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto scan = db.prepare(
      "INSERT INTO ops_scans(session_id, memory, scanned_at, structs, tables, memberships, "
      "unreadable_symbols, seconds) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  if (!scan) return fail(scan.error());
  scan->bind(1, session_id)
      .bind(2, report.memory)
      .bind(3, now_utc())
      .bind(4, static_cast<int64_t>(report.structs))
      .bind(5, static_cast<int64_t>(report.tables))
      .bind(6, static_cast<int64_t>(report.memberships))
      .bind(7, static_cast<int64_t>(report.unreadable_symbols))
      .bind(8, report.seconds);
  if (auto s = scan->run(); !s) return fail(s.error());
  if (auto s = db.exec("COMMIT"); !s) return fail(s.error());
  return report;
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
  return out;
}

}  // namespace probeseek
