// The kernel catalogue's rows. Names and prototypes repeat across kernels (sixty Debian builds
// share most of their 60k functions), so both are interned: a kernel costs one 4-integer row
// per function plus its compressed BTF and symbols.
#include <sqlite3.h>
#include <zstd.h>

#include <memory>
#include <unordered_map>

#include "probeseek/catalog_store.h"
#include "probeseek/text.h"
#include "probeseek/transaction.h"

namespace probeseek {
namespace {

// Level 9: within a few percent of level 19's size for BTF and symbol text, at a tenth of the
// time (adding sixty kernels must not be dominated by compression).
Result<std::string> compress(std::string_view raw, const std::string& what) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 9);
  if (ZSTD_isError(n)) return runtime_error("cannot compress " + what, ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// A database may come from someone else: the frame's declared size is checked against the
// stored size and a cap before anything is allocated.
Result<std::string> decompress(std::string_view packed, int64_t expected, const std::string& what,
                               const std::string& db_path) {
  constexpr int64_t kMax = int64_t{512} << 20;
  unsigned long long declared = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (expected < 0 || expected > kMax || declared != static_cast<unsigned long long>(expected))
    return bad_input("damaged catalogue: " + what + " has a bad size", db_path,
                     "add the kernel again: probeseek kernels add --replace SOURCE");
  std::string out(static_cast<size_t>(expected), '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != out.size())
    return bad_input("damaged catalogue: cannot decompress " + what, db_path,
                     "add the kernel again: probeseek kernels add --replace SOURCE");
  return out;
}

std::string_view blob_at(const Statement& st, int col) {
  const void* data = sqlite3_column_blob(st.get(), col);
  int size = sqlite3_column_bytes(st.get(), col);
  if (data == nullptr || size <= 0) return {};
  return {static_cast<const char*>(data), static_cast<size_t>(size)};
}

Status bind_blob(Statement& st, int i, std::string_view bytes) {
  sqlite3_bind_blob(st.get(), i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return {};
}

// Interns strings into a (id, text UNIQUE) table within the caller's transaction.
class Interner {
 public:
  static Result<Interner> make(Database& db, const std::string& table, const std::string& column) {
    Interner in;
    auto find = db.prepare("SELECT id FROM " + table + " WHERE " + column + " = ?");
    if (!find) return tl::unexpected(find.error());
    auto add = db.prepare("INSERT INTO " + table + "(" + column + ") VALUES(?)");
    if (!add) return tl::unexpected(add.error());
    in.find_ = std::move(*find);
    in.add_ = std::move(*add);
    return in;
  }
  Result<int64_t> id(Database& db, const std::string& text) {
    if (auto it = cache_.find(text); it != cache_.end()) return it->second;
    find_.reset();
    find_.bind(1, text);
    auto row = find_.step();
    if (!row) return tl::unexpected(row.error());
    int64_t id = 0;
    if (*row) {
      id = find_.int_at(0);
    } else {
      add_.bind(1, text);
      if (auto s = add_.run(); !s) return tl::unexpected(s.error());
      id = sqlite3_last_insert_rowid(db.raw());
    }
    find_.reset();
    cache_.emplace(text, id);
    return id;
  }

 private:
  Statement find_, add_;
  std::unordered_map<std::string, int64_t> cache_;
};

// A kernel has a few tens of thousands of function pointers in its ops tables (6.1: ~30k).
constexpr size_t kMaxOpsSlots = size_t{1} << 20;
constexpr int64_t kMaxOpsBytes = int64_t{64} << 20;

bool is_slot(const CatalogOpsSlot& s) {
  return is_ops_slot_name(s.table) && is_ops_slot_name(s.struct_name) &&
         is_ops_slot_name(s.member) && is_ops_slot_name(s.function);
}

Status insert_kernel(Database& db, const CatalogKernelInput& input, int64_t* id) {
  const CatalogKernel& k = input.kernel;
  auto btf = compress(input.btf, "BTF");
  if (!btf) return tl::unexpected(btf.error());
  auto symbols = compress(input.symbols_text, "symbols");
  if (!symbols) return tl::unexpected(symbols.error());
  auto st = db.prepare(
      "INSERT INTO kernels(name, build_id, source, added_at, compression, symbols_from, config, "
      "symbols, functions, traceable, blacklisted, btf_bytes, btf_zstd, symbols_bytes, "
      "symbols_zstd) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, k.name).bind(2, k.build_id).bind(3, k.source).bind(4, now_utc());
  st->bind(5, k.compression).bind(6, k.symbols_from).bind(7, k.config);
  st->bind(8, k.symbols).bind(9, k.functions);
  if (k.traceable)
    st->bind(10, *k.traceable);
  else
    st->bind_null(10);
  if (k.blacklisted)
    st->bind(11, *k.blacklisted);
  else
    st->bind_null(11);
  st->bind(12, static_cast<int64_t>(input.btf.size()));
  bind_blob(*st, 13, *btf);
  st->bind(14, static_cast<int64_t>(input.symbols_text.size()));
  bind_blob(*st, 15, *symbols);
  if (auto s = st->run(); !s) return s;
  *id = sqlite3_last_insert_rowid(db.raw());

  auto names = Interner::make(db, "kernel_names", "name");
  if (!names) return tl::unexpected(names.error());
  auto protos = Interner::make(db, "kernel_prototypes", "signature");
  if (!protos) return tl::unexpected(protos.error());
  auto row = db.prepare(
      "INSERT OR REPLACE INTO kernel_functions(kernel_id, name_id, prototype_id, flags, symbols, "
      "clones) VALUES(?,?,?,?,?,?)");
  if (!row) return tl::unexpected(row.error());
  auto in_module =
      db.prepare("INSERT INTO kernel_function_modules(kernel_id, name_id, module) VALUES(?,?,?)");
  if (!in_module) return tl::unexpected(in_module.error());
  for (const CatalogFunction& f : input.functions) {
    auto name_id = names->id(db, f.name);
    if (!name_id) return tl::unexpected(name_id.error());
    if (!f.module.empty()) {
      in_module->bind(1, *id).bind(2, *name_id).bind(3, f.module);
      if (auto s = in_module->run(); !s) return s;
    }
    row->bind(1, *id).bind(2, *name_id);
    if (f.signature.empty()) {
      row->bind_null(3);
    } else {
      auto proto_id = protos->id(db, f.signature);
      if (!proto_id) return tl::unexpected(proto_id.error());
      row->bind(3, *proto_id);
    }
    row->bind(4, static_cast<int64_t>(f.flags)).bind(5, static_cast<int64_t>(f.symbols));
    if (f.clones.empty())
      row->bind_null(6);
    else
      row->bind(6, f.clones);
    if (auto s = row->run(); !s) return s;
  }
  auto module = db.prepare("INSERT OR IGNORE INTO kernel_modules(kernel_id, module) VALUES(?,?)");
  if (!module) return tl::unexpected(module.error());
  for (const std::string& m : input.modules) {
    module->bind(1, *id).bind(2, m);
    if (auto s = module->run(); !s) return s;
  }
  if (input.ops) {
    if (input.ops->size() > kMaxOpsSlots)
      return bad_input(std::to_string(input.ops->size()) + " ops-table slots, more than " +
                           std::to_string(kMaxOpsSlots),
                       k.source);
    std::string text;
    for (const CatalogOpsSlot& slot : *input.ops) {
      if (!is_slot(slot))
        return bad_input("an ops-table slot's names are not C symbol names", k.source);
      text += slot.table + ' ' + slot.struct_name + ' ' + slot.member + ' ' + slot.function + '\n';
    }
    auto packed = compress(text, "ops-table slots");
    if (!packed) return tl::unexpected(packed.error());
    auto ops = db.prepare("INSERT INTO kernel_ops(kernel_id, slots, bytes, data) VALUES(?,?,?,?)");
    if (!ops) return tl::unexpected(ops.error());
    ops->bind(1, *id).bind(2, static_cast<int64_t>(input.ops->size()));
    ops->bind(3, static_cast<int64_t>(text.size()));
    bind_blob(*ops, 4, *packed);
    if (auto s = ops->run(); !s) return s;
  }
  auto member = db.prepare(
      "INSERT OR REPLACE INTO kernel_members(kernel_id, type, member, member_type, offset_bits) "
      "VALUES(?,?,?,?,?)");
  if (!member) return tl::unexpected(member.error());
  for (const CatalogMember& m : input.members) {
    member->bind(1, *id).bind(2, m.type).bind(3, m.member).bind(4, m.member_type);
    member->bind(5, m.offset_bits);
    if (auto s = member->run(); !s) return s;
  }
  return {};
}

Status delete_kernel(Database& db, int64_t id) {
  for (const char* table : {"kernel_functions", "kernel_members", "kernel_ops", "kernel_modules",
                            "kernel_function_modules"}) {
    auto st = db.prepare(std::string("DELETE FROM ") + table + " WHERE kernel_id = ?");
    if (!st) return tl::unexpected(st.error());
    st->bind(1, id);
    if (auto s = st->run(); !s) return s;
  }
  auto st = db.prepare("DELETE FROM kernels WHERE id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, id);
  return st->run();
}

CatalogFunction function_from_row(Statement& st) {
  CatalogFunction f;
  f.name = st.text_at(0);
  f.signature = st.null_at(1) ? "" : st.text_at(1);
  f.flags = static_cast<uint32_t>(st.int_at(2));
  f.symbols = static_cast<uint32_t>(st.int_at(3));
  f.clones = st.null_at(4) ? "" : st.text_at(4);
  f.module = st.null_at(5) ? "" : st.text_at(5);
  return f;
}

// A read-only open of a catalogue written before modules were kept has no module table.
Result<std::string> function_columns(Database& db) {
  auto has = db.has_table("kernel_function_modules");
  if (!has) return tl::unexpected(has.error());
  return std::string("SELECT n.name, p.signature, f.flags, f.symbols, f.clones, ") +
         (*has ? "(SELECT module FROM kernel_function_modules m WHERE m.kernel_id = f.kernel_id "
                 "AND m.name_id = f.name_id) "
               : "NULL ") +
         "FROM kernel_functions f JOIN kernel_names n ON n.id = f.name_id "
         "LEFT JOIN kernel_prototypes p ON p.id = f.prototype_id ";
}

}  // namespace

Result<StoredKernel> store_catalog_kernel(Database& db, const CatalogKernelInput& input,
                                          bool replace) {
  const CatalogKernel& k = input.kernel;
  // The same build (by build id, else by name) is there already: nothing to do.
  auto same = db.prepare(
      "SELECT id, name, build_id FROM kernels WHERE (?1 <> '' AND build_id = ?1) OR name = ?2");
  if (!same) return tl::unexpected(same.error());
  same->bind(1, k.build_id).bind(2, k.name);
  std::optional<int64_t> replaced;
  for (;;) {
    auto row = same->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    const std::string name = same->text_at(1), build_id = same->text_at(2);
    const bool same_build =
        k.build_id.empty() || build_id.empty() ? name == k.name : build_id == k.build_id;
    if (same_build && !replace) return StoredKernel{same->int_at(0), false};
    if (!same_build && !replace)
      return bad_input("another build of " + printable(k.name) + " is in the catalogue (build id " +
                           build_id + ", this one " + k.build_id + ")",
                       db.path(), "add it with --replace to replace the catalogued one");
    replaced = same->int_at(0);
  }
  same->reset();

  auto tx = Transaction::begin(db);
  if (!tx) return tl::unexpected(tx.error());
  int64_t id = 0;
  Status done = replaced ? delete_kernel(db, *replaced) : Status{};
  if (done) done = insert_kernel(db, input, &id);
  if (done) done = tx->commit();
  if (!done) {  // rolled back by tx
    Error e = done.error();
    if (e.object.find(db.path()) == std::string::npos) e.object = db.path() + ": " + e.object;
    return tl::unexpected(e);
  }
  return StoredKernel{id, true};
}

Result<std::vector<CatalogKernel>> list_catalog_kernels(Database& db) {
  std::vector<CatalogKernel> out;
  auto has = db.has_table("kernels");  // a read-only open of an older database lacks it
  if (!has) return tl::unexpected(has.error());
  if (!*has) return out;
  auto has_ops = db.has_table("kernel_ops");  // not in a read-only open of an older database
  if (!has_ops) return tl::unexpected(has_ops.error());
  auto st = db.prepare(
      std::string("SELECT k.id, k.name, k.build_id, k.source, k.added_at, k.compression, "
                  "k.symbols_from, k.config, k.symbols, k.functions, k.traceable, k.blacklisted, "
                  "k.btf_bytes, ") +
      (*has_ops ? "o.slots, (SELECT count(*) FROM kernel_modules m WHERE m.kernel_id = k.id) "
                  "FROM kernels k LEFT JOIN kernel_ops o ON o.kernel_id = k.id"
                : "NULL, 0 FROM kernels k"));
  if (!st) return tl::unexpected(st.error());
  auto s = st->for_each_row([&](Statement& r) {
    CatalogKernel k;
    k.id = r.int_at(0);
    k.name = r.text_at(1);
    k.build_id = r.text_at(2);
    k.source = r.text_at(3);
    k.added_at = r.text_at(4);
    k.compression = r.text_at(5);
    k.symbols_from = r.text_at(6);
    k.config = r.text_at(7);
    k.symbols = r.int_at(8);
    k.functions = r.int_at(9);
    if (!r.null_at(10)) k.traceable = r.int_at(10);
    if (!r.null_at(11)) k.blacklisted = r.int_at(11);
    k.btf_bytes = r.int_at(12);
    if (!r.null_at(13)) k.ops_slots = r.int_at(13);
    k.modules = r.int_at(14);
    out.push_back(std::move(k));
  });
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<std::vector<CatalogFunction>> catalog_functions(Database& db, int64_t kernel_id,
                                                       const std::vector<std::string>& names) {
  std::vector<CatalogFunction> out;
  auto columns = function_columns(db);
  if (!columns) return tl::unexpected(columns.error());
  auto st = db.prepare(*columns +
                       "WHERE f.kernel_id = ?1 AND f.name_id = "
                       "(SELECT id FROM kernel_names WHERE name = ?2)");
  if (!st) return tl::unexpected(st.error());
  for (const std::string& name : names) {
    st->bind(1, kernel_id).bind(2, name);
    auto s = st->for_each_row([&](Statement& r) { out.push_back(function_from_row(r)); });
    if (!s) return tl::unexpected(s.error());
    st->reset();
  }
  return out;
}

Result<std::vector<std::pair<int64_t, std::string>>> catalog_names(Database& db) {
  std::vector<std::pair<int64_t, std::string>> out;
  auto st = db.prepare("SELECT id, name FROM kernel_names");
  if (!st) return tl::unexpected(st.error());
  auto s = st->for_each_row([&](Statement& r) { out.emplace_back(r.int_at(0), r.text_at(1)); });
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<CatalogLookup> CatalogLookup::make(Database& db) {
  auto columns = function_columns(db);
  if (!columns) return tl::unexpected(columns.error());
  auto st = db.prepare(*columns + "WHERE f.kernel_id = ? AND f.name_id = ?");
  if (!st) return tl::unexpected(st.error());
  CatalogLookup lookup;
  lookup.st_ = std::move(*st);
  return lookup;
}

Result<std::optional<CatalogFunction>> CatalogLookup::get(int64_t kernel_id, int64_t name_id) {
  st_.reset();
  st_.bind(1, kernel_id).bind(2, name_id);
  auto row = st_.step();
  if (!row) return tl::unexpected(row.error());
  std::optional<CatalogFunction> out;
  if (*row) out = function_from_row(st_);
  st_.reset();
  return out;
}

Result<std::vector<CatalogMember>> catalog_members(Database& db, int64_t kernel_id) {
  std::vector<CatalogMember> out;
  auto st = db.prepare(
      "SELECT type, member, member_type, offset_bits FROM kernel_members WHERE kernel_id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, kernel_id);
  auto s = st->for_each_row([&](Statement& r) {
    out.push_back(CatalogMember{r.text_at(0), r.text_at(1), r.text_at(2), r.int_at(3)});
  });
  if (!s) return tl::unexpected(s.error());
  return out;
}

namespace {
Result<std::string> load_blob(Database& db, int64_t kernel_id, const char* size_col,
                              const char* data_col, const std::string& what) {
  auto st = db.prepare(std::string("SELECT ") + size_col + ", " + data_col +
                       " FROM kernels WHERE id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, kernel_id);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return bad_input("no kernel with id " + std::to_string(kernel_id), db.path());
  return decompress(blob_at(*st, 1), st->int_at(0), what, db.path());
}
}  // namespace

Result<std::vector<std::string>> session_kernel_releases(Database& db) {
  std::vector<std::string> out;
  auto st = db.prepare(
      "SELECT kernel_release FROM sessions WHERE kernel_release IS NOT NULL AND kernel_release <> "
      "'' ORDER BY id DESC");
  if (!st) return tl::unexpected(st.error());
  auto s = st->for_each_row([&](Statement& r) { out.push_back(r.text_at(0)); });
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<std::string> catalog_btf(Database& db, int64_t kernel_id) {
  return load_blob(db, kernel_id, "btf_bytes", "btf_zstd", "a kernel's BTF");
}

Result<std::string> catalog_symbols_text(Database& db, int64_t kernel_id) {
  return load_blob(db, kernel_id, "symbols_bytes", "symbols_zstd", "a kernel's symbols");
}

// Fields are separated by \x1e, their parts by \x1f: "RET\x1fRETKEY" then "TYPE\x1fNAME\x1fKEY"
// per parameter, then "..." when variadic. C type spellings never hold either byte.
std::string encode_signature(const SignatureParts& parts) {
  std::string out = parts.return_type + '\x1f' + parts.return_key;
  for (const SignatureParam& p : parts.params)
    out += '\x1e' + p.type + '\x1f' + p.name + '\x1f' + p.key;
  if (parts.variadic) out += "\x1e...";
  return out;
}

SignatureParts decode_signature(std::string_view signature) {
  auto split = [](std::string_view field) {
    std::vector<std::string> parts;
    size_t at = 0;
    for (;;) {
      size_t end = field.find('\x1f', at);
      parts.emplace_back(field.substr(at, end == std::string_view::npos ? end : end - at));
      if (end == std::string_view::npos) return parts;
      at = end + 1;
    }
  };
  SignatureParts out;
  size_t at = 0;
  for (bool first = true;; first = false) {
    size_t end = signature.find('\x1e', at);
    std::string_view field = signature.substr(at, end == std::string_view::npos ? end : end - at);
    std::vector<std::string> parts = split(field);
    parts.resize(3);
    if (first) {
      out.return_type = parts[0];
      out.return_key = parts[1];
    } else if (field == "...") {
      out.variadic = true;
    } else {
      out.params.push_back(SignatureParam{parts[0], parts[1], parts[2]});
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return out;
}

}  // namespace probeseek

namespace probeseek {

bool is_ops_slot_name(std::string_view s) {
  if (s.empty() || s.size() > 256 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Result<std::optional<std::vector<CatalogOpsSlot>>> catalog_ops(Database& db, int64_t kernel_id) {
  std::optional<std::vector<CatalogOpsSlot>> out;
  auto has = db.has_table("kernel_ops");
  if (!has) return tl::unexpected(has.error());
  if (!*has) return out;
  auto st = db.prepare("SELECT slots, bytes, data FROM kernel_ops WHERE kernel_id = ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, kernel_id);
  auto row = st->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return out;
  const int64_t slots = st->int_at(0), bytes = st->int_at(1);
  auto damaged = [&](const std::string& what) {
    return bad_input(
        "damaged catalogue: ops-table slots of kernel " + std::to_string(kernel_id) + ": " + what,
        db.path(), "add the kernel again: probeseek kernels add --replace SOURCE");
  };
  if (slots < 0 || static_cast<uint64_t>(slots) > kMaxOpsSlots || bytes > kMaxOpsBytes)
    return damaged("bad size");
  auto text = decompress(blob_at(*st, 2), bytes, "ops-table slots", db.path());
  if (!text) return tl::unexpected(text.error());
  std::vector<CatalogOpsSlot> list;
  list.reserve(static_cast<size_t>(slots));
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    if (end == std::string_view::npos) return damaged("a line without its end");
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    std::string_view field[4];
    for (int i = 0; i < 4; ++i) {
      const size_t space = i < 3 ? line.find(' ') : line.size();
      if (space == std::string_view::npos) return damaged("a line without four fields");
      field[i] = line.substr(0, space);
      line.remove_prefix(std::min(line.size(), space + 1));
    }
    CatalogOpsSlot slot{std::string(field[0]), std::string(field[1]), std::string(field[2]),
                        std::string(field[3])};
    if (!is_slot(slot)) return damaged("a name that is not a C symbol name");
    if (list.size() == static_cast<size_t>(slots)) return damaged("more slots than counted");
    list.push_back(std::move(slot));
  }
  if (list.size() != static_cast<size_t>(slots)) return damaged("fewer slots than counted");
  out = std::move(list);
  return out;
}

}  // namespace probeseek
