#include <zlib.h>

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

Result<int64_t> store_kallsyms_text(Database& db, std::string_view text, size_t entries,
                                    const std::string& source) {
  uLongf bound = compressBound(text.size());
  std::string packed(bound, '\0');
  // Level 1: four times smaller, at a cost that does not show next to the import itself.
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &bound,
                reinterpret_cast<const Bytef*>(text.data()), text.size(), 1) != Z_OK)
    return runtime_error("cannot compress the recording's kallsyms", source);
  packed.resize(bound);
  auto set = new_set(db, "kallsyms", source, entries);
  if (!set) return set;
  auto st = db.prepare("UPDATE symbol_sets SET compressed_text = ?2 WHERE id = ?1");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, *set);
  sqlite3_bind_blob(st->get(), 2, packed.data(), static_cast<int>(packed.size()), SQLITE_TRANSIENT);
  if (auto r = st->run(); !r) return tl::unexpected(r.error());
  return set;
}

Result<SymbolTable> load_kallsyms_set(Database& db, int64_t set_id) {
  auto st = db.prepare("SELECT compressed_text, source FROM symbol_sets WHERE id = ? AND kind = 'kallsyms'");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, set_id);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return bad_input("no kallsyms set " + std::to_string(set_id), db.path());
  std::string source = st->text_at(1);
  if (!st->null_at(0)) {
    const auto* data = static_cast<const Bytef*>(sqlite3_column_blob(st->get(), 0));
    int size = sqlite3_column_bytes(st->get(), 0);
    // The text is about 4x the compressed size; grow until it fits.
    std::string text(static_cast<size_t>(size) * 6 + 4096, '\0');
    for (;;) {
      uLongf out = text.size();
      int rc = uncompress(reinterpret_cast<Bytef*>(text.data()), &out, data, size);
      if (rc == Z_OK) {
        text.resize(out);
        break;
      }
      if (rc != Z_BUF_ERROR) return runtime_error("corrupt kallsyms blob in the database", source);
      text.resize(text.size() * 2);
    }
    return SymbolTable::parse(text, source);
  }
  auto rows = db.prepare("SELECT address, type, name, COALESCE(module, '') FROM kallsyms WHERE set_id = ?");
  if (!rows) return tl::unexpected(rows.error());
  rows->bind(1, set_id);
  std::vector<KernelSymbol> symbols;
  for (;;) {
    auto r = rows->step();
    if (!r) return tl::unexpected(r.error());
    if (!*r) break;
    KernelSymbol s;
    s.address = static_cast<uint64_t>(rows->int_at(0));
    std::string type = rows->text_at(1);
    s.type = type.empty() ? '?' : type[0];
    s.name = rows->text_at(2);
    s.module = rows->text_at(3);
    symbols.push_back(std::move(s));
  }
  return SymbolTable::from_symbols(std::move(symbols));
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
