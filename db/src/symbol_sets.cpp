#include <ctime>

#include "probeseek/db.h"

namespace probeseek {

namespace {

Result<int64_t> new_set(Database& db, const char* kind, const std::string& source, size_t entries) {
  auto st = db.prepare(
      "INSERT INTO symbol_sets(kind, source, entries, loaded_at) "
      "VALUES(?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, std::string_view(kind)).bind(2, source).bind(3, static_cast<int64_t>(entries));
  if (auto s = st->run(); !s) return tl::unexpected(s.error());
  return sqlite3_last_insert_rowid(db.raw());
}

void bind_optional_text(Statement& st, int i, const std::string& v) {
  if (v.empty())
    st.bind_null(i);
  else
    st.bind(i, v);
}

}  // namespace

Result<int64_t> store_kallsyms(Database& db, const SymbolTable& table, const std::string& source) {
  auto set = new_set(db, "kallsyms", source, table.symbols().size());
  if (!set) return set;
  auto st = db.prepare("INSERT INTO kallsyms(set_id, address, type, name, module) VALUES(?,?,?,?,?)");
  if (!st) return tl::unexpected(st.error());
  for (const KernelSymbol& s : table.symbols()) {
    st->bind(1, *set)
        .bind(2, static_cast<int64_t>(s.address))
        .bind(3, std::string_view(&s.type, 1))
        .bind(4, s.name);
    bind_optional_text(*st, 5, s.module);
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
  }
  return set;
}

Result<int64_t> store_filter_functions(Database& db, const std::vector<FilterFunction>& functions,
                                       const std::string& source) {
  auto set = new_set(db, "filter_functions", source, functions.size());
  if (!set) return set;
  auto st = db.prepare("INSERT INTO filter_functions(set_id, name, module, address) VALUES(?,?,?,?)");
  if (!st) return tl::unexpected(st.error());
  for (const FilterFunction& f : functions) {
    st->bind(1, *set).bind(2, f.name);
    bind_optional_text(*st, 3, f.module);
    if (f.address)
      st->bind(4, static_cast<int64_t>(f.address));
    else
      st->bind_null(4);
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
  }
  return set;
}

Result<int64_t> store_kprobe_blacklist(Database& db, const std::vector<BlacklistEntry>& entries,
                                       const std::string& source) {
  auto set = new_set(db, "kprobe_blacklist", source, entries.size());
  if (!set) return set;
  auto st = db.prepare(
      "INSERT INTO kprobe_blacklist(set_id, start_address, end_address, name) VALUES(?,?,?,?)");
  if (!st) return tl::unexpected(st.error());
  for (const BlacklistEntry& e : entries) {
    st->bind(1, *set)
        .bind(2, static_cast<int64_t>(e.start))
        .bind(3, static_cast<int64_t>(e.end))
        .bind(4, e.name);
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
  }
  return set;
}

}  // namespace probeseek
