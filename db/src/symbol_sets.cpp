#include <zlib.h>
#include <zstd.h>

#include <sqlite3.h>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>

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

namespace {

// FNV-1a 64: identifies identical BTF blobs (the same kernel imported twice), not a security hash.
std::string digest_of(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char buf[40];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx:%zu", static_cast<unsigned long long>(h),
                bytes.size());
  return buf;
}

// zstd level 1: a kernel's 3.6 MB of kallsyms in about 15 M instructions, where zlib's
// fastest level took 200 M (docs/performance.md, issue 15), and a smaller blob.
std::string compress_text(std::string_view text) {
  std::string packed(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(packed.data(), packed.size(), text.data(), text.size(), 1);
  if (ZSTD_isError(n)) return {};
  packed.resize(n);
  return packed;
}

bool is_zstd(const void* data, int size) {
  static const unsigned char kMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
  return size >= 4 && std::memcmp(data, kMagic, 4) == 0;
}

// A blob written by this version (zstd) or an earlier one (zlib). A database may come from
// someone else: a zstd frame's declared size is checked against a cap before anything is
// allocated, and must be what it decompresses to.
Result<std::string> uncompress_blob(const void* data, int size, size_t expected,
                                    const std::string& what) {
  if (is_zstd(data, size)) {
    constexpr unsigned long long kMax = 256ull << 20;  // a kernel's kallsyms: about 10 MB
    unsigned long long declared = ZSTD_getFrameContentSize(data, static_cast<size_t>(size));
    if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN ||
        declared > kMax)
      return runtime_error("corrupt compressed data in the database", what);
    std::string out(static_cast<size_t>(declared), '\0');
    size_t n = ZSTD_decompress(out.data(), out.size(), data, static_cast<size_t>(size));
    if (ZSTD_isError(n) || n != out.size())
      return runtime_error("corrupt compressed data in the database", what);
    return out;
  }
  std::string out(expected ? expected : static_cast<size_t>(size) * 6 + 4096, '\0');
  for (;;) {
    uLongf n = out.size();
    int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &n, static_cast<const Bytef*>(data),
                        static_cast<uLong>(size));
    if (rc == Z_OK) {
      out.resize(n);
      return out;
    }
    if (rc != Z_BUF_ERROR) return runtime_error("corrupt compressed data in the database", what);
    out.resize(out.size() * 2);
  }
}

}  // namespace

Result<int64_t> store_kallsyms(Database& db, const SymbolTable& table, const std::string& source) {
  auto set = new_set(db, "kallsyms", source, table.symbols().size());
  if (!set) return set;
  auto st =
      db.prepare("INSERT INTO kallsyms(set_id, address, type, name, module) VALUES(?,?,?,?,?)");
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
  std::string packed = compress_text(text);
  if (packed.empty()) return runtime_error("cannot compress the recording's kallsyms", source);
  // Recordings of one boot carry the same kallsyms: stored once, shared by their sessions (the
  // same text compresses to the same bytes; sets are never deleted, so sharing is safe).
  auto same = db.prepare(
      "SELECT id FROM symbol_sets WHERE kind = 'kallsyms' AND entries = ?1 AND "
      "compressed_text = ?2 LIMIT 1");
  if (!same) return tl::unexpected(same.error());
  same->bind(1, static_cast<int64_t>(entries));
  sqlite3_bind_blob(same->get(), 2, packed.data(), static_cast<int>(packed.size()), SQLITE_STATIC);
  auto found = same->step();
  if (!found) return tl::unexpected(found.error());
  if (*found) return same->int_at(0);
  auto set = new_set(db, "kallsyms", source, entries);
  if (!set) return set;
  auto st = db.prepare("UPDATE symbol_sets SET compressed_text = ?2 WHERE id = ?1");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, *set);
  sqlite3_bind_blob(st->get(), 2, packed.data(), static_cast<int>(packed.size()), SQLITE_TRANSIENT);
  if (auto r = st->run(); !r) return tl::unexpected(r.error());
  return set;
}

Result<std::string> load_kallsyms_text(Database& db, int64_t set_id) {
  auto st = db.prepare("SELECT compressed_text, source FROM symbol_sets WHERE id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, set_id);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row || st->null_at(0))
    return bad_input("no compressed kallsyms in set " + std::to_string(set_id), db.path());
  return uncompress_blob(sqlite3_column_blob(st->get(), 0), sqlite3_column_bytes(st->get(), 0), 0,
                         st->text_at(1));
}

Result<SymbolTable> load_kallsyms_set(Database& db, int64_t set_id) {
  auto st = db.prepare(
      "SELECT compressed_text, source FROM symbol_sets WHERE id = ? AND kind = 'kallsyms'");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, set_id);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return bad_input("no kallsyms set " + std::to_string(set_id), db.path());
  std::string source = st->text_at(1);
  if (!st->null_at(0)) {
    auto text = uncompress_blob(sqlite3_column_blob(st->get(), 0),
                                sqlite3_column_bytes(st->get(), 0), 0, source);
    if (!text) return tl::unexpected(text.error());
    return SymbolTable::parse(*text, source);
  }
  auto rows =
      db.prepare("SELECT address, type, name, COALESCE(module, '') FROM kallsyms WHERE set_id = ?");
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

Result<int64_t> store_btf(Database& db, std::string_view raw_btf, const std::string& source) {
  std::string digest = digest_of(raw_btf);
  auto existing = db.prepare("SELECT id FROM btfs WHERE digest = ?");
  if (!existing) return tl::unexpected(existing.error());
  existing->bind(1, digest);
  auto row = existing->step();
  if (!row) return tl::unexpected(row.error());
  if (*row) return existing->int_at(0);
  // Kept raw: loading it must be quick (rank answers in well under 100 ms), and it is stored
  // once per distinct kernel.
  const std::string_view& packed = raw_btf;
  auto st = db.prepare("INSERT INTO btfs(digest, source, bytes, data) VALUES(?,?,?,?)");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, digest).bind(2, source).bind(3, static_cast<int64_t>(raw_btf.size()));
  sqlite3_bind_blob(st->get(), 4, packed.data(), static_cast<int>(packed.size()), SQLITE_TRANSIENT);
  if (auto r = st->run(); !r) return tl::unexpected(r.error());
  return sqlite3_last_insert_rowid(db.raw());
}

Status link_session_btf(Database& db, int64_t session_id, int64_t btf_id) {
  auto st = db.prepare("UPDATE sessions SET btf_id = ? WHERE id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, btf_id).bind(2, session_id);
  return st->run();
}

Result<std::optional<StoredBtf>> load_session_btf(Database& db, int64_t session_id) {
  auto st = db.prepare(
      "SELECT b.id, b.source, b.bytes, b.data FROM sessions s JOIN btfs b ON b.id = s.btf_id "
      "WHERE s.id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<StoredBtf>();
  StoredBtf out;
  out.id = st->int_at(0);
  out.source = st->text_at(1);
  const char* data = static_cast<const char*>(sqlite3_column_blob(st->get(), 3));
  out.bytes.assign(data ? data : "", static_cast<size_t>(sqlite3_column_bytes(st->get(), 3)));
  return std::optional<StoredBtf>(std::move(out));
}

Result<std::optional<int64_t>> find_btf(Database& db, std::string_view raw_btf) {
  auto st = db.prepare("SELECT id FROM btfs WHERE digest = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, digest_of(raw_btf));
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(st->int_at(0));
}

namespace {

// A database written before module_btfs existed, opened read-only, does not have it.
Result<bool> has_module_btfs(Database& db) {
  return db.has_table("module_btfs");
}

}  // namespace

Result<int64_t> store_module_btf(Database& db, int64_t base_btf_id, const std::string& module,
                                 std::string_view raw_btf, const std::string& source) {
  std::string digest = digest_of(raw_btf);
  auto existing =
      db.prepare("SELECT id, digest FROM module_btfs WHERE base_btf_id = ? AND module = ?");
  if (!existing) return tl::unexpected(existing.error());
  existing->bind(1, base_btf_id).bind(2, module);
  auto row = existing->step();
  if (!row) return tl::unexpected(row.error());
  std::optional<int64_t> id;
  if (*row) {
    if (existing->text_at(1) == digest) return existing->int_at(0);
    id = existing->int_at(0);
  }
  existing->reset();
  auto st =
      db.prepare(id ? "UPDATE module_btfs SET digest = ?1, source = ?2, bytes = ?3, data = ?4 "
                      "WHERE id = ?5"
                    : "INSERT INTO module_btfs(digest, source, bytes, data, base_btf_id, "
                      "module) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, digest).bind(2, source).bind(3, static_cast<int64_t>(raw_btf.size()));
  sqlite3_bind_blob(st->get(), 4, raw_btf.data(), static_cast<int>(raw_btf.size()),
                    SQLITE_TRANSIENT);
  if (id)
    st->bind(5, *id);
  else
    st->bind(5, base_btf_id).bind(6, module);
  if (auto r = st->run(); !r) return tl::unexpected(r.error());
  return id ? *id : sqlite3_last_insert_rowid(db.raw());
}

Result<std::optional<StoredModuleBtf>> load_module_btf(Database& db, int64_t base_btf_id,
                                                       const std::string& module) {
  auto exists = has_module_btfs(db);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return std::optional<StoredModuleBtf>();
  auto st =
      db.prepare("SELECT id, source, data FROM module_btfs WHERE base_btf_id = ? AND module = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, base_btf_id).bind(2, module);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<StoredModuleBtf>();
  StoredModuleBtf out;
  out.id = st->int_at(0);
  out.module = module;
  out.source = st->text_at(1);
  const char* data = static_cast<const char*>(sqlite3_column_blob(st->get(), 2));
  out.bytes.assign(data ? data : "", static_cast<size_t>(sqlite3_column_bytes(st->get(), 2)));
  return std::optional<StoredModuleBtf>(std::move(out));
}

Result<std::vector<std::string>> stored_module_btfs(Database& db, int64_t base_btf_id) {
  std::vector<std::string> out;
  auto exists = has_module_btfs(db);
  if (!exists) return tl::unexpected(exists.error());
  if (!*exists) return out;
  auto st = db.prepare("SELECT module FROM module_btfs WHERE base_btf_id = ? ORDER BY module");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, base_btf_id);
  if (auto done = st->for_each_row([&](const Statement& row) { out.push_back(row.text_at(0)); });
      !done)
    return tl::unexpected(done.error());
  return out;
}

Result<std::vector<std::string>> session_modules(Database& db, int64_t session_id) {
  std::set<std::string> modules;
  std::vector<std::string> unplaced;  // functions the session's rows give no module
  auto st = db.prepare("SELECT name, module FROM functions WHERE session_id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  if (auto done = st->for_each_row([&](const Statement& row) {
        std::string module = row.text_at(1);
        if (!module.empty())
          modules.insert(std::move(module));
        else
          unplaced.push_back(row.text_at(0));
      });
      !done)
    return tl::unexpected(done.error());
  if (!unplaced.empty()) {
    auto lookups = SymbolLookups::open(db, {session_id});
    if (!lookups) return tl::unexpected(lookups.error());
    if ((*lookups)->has_kallsyms())
      for (const std::string& name : unplaced)
        if (std::string module = (*lookups)->module_of(name); !module.empty())
          modules.insert(std::move(module));
  }
  return std::vector<std::string>(modules.begin(), modules.end());
}

Result<int64_t> store_filter_functions(Database& db, const std::vector<FilterFunction>& functions,
                                       const std::string& source) {
  auto set = new_set(db, "filter_functions", source, functions.size());
  if (!set) return set;
  auto st =
      db.prepare("INSERT INTO filter_functions(set_id, name, module, address) VALUES(?,?,?,?)");
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
