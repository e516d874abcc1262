#include <unordered_map>

#include "probeseek/db.h"
#include "probeseek/text.h"

namespace probeseek {

struct SymbolLookups::Impl {
  int64_t kallsyms_set = 0, filter_set = 0, blacklist_set = 0;
  bool kallsyms_packed = false;
  Statement kallsyms_by_name, module_by_name, filter_by_name, blacklist_by_name;
  // A recording's own kallsyms: the decompressed text and views into it, by name.
  struct Packed {
    uint64_t address;
    std::string_view module;  // "" for vmlinux
  };
  std::string text;
  std::unordered_multimap<std::string_view, Packed> packed;
};

SymbolLookups::~SymbolLookups() = default;
bool SymbolLookups::has_kallsyms() const {
  return impl_->kallsyms_set != 0;
}
bool SymbolLookups::has_filter_functions() const {
  return impl_->filter_set != 0;
}
bool SymbolLookups::has_kprobe_blacklist() const {
  return impl_->blacklist_set != 0;
}
int64_t SymbolLookups::kallsyms_set() const {
  return impl_->kallsyms_set;
}

Result<std::unique_ptr<SymbolLookups>> SymbolLookups::open(
    Database& db, const std::vector<int64_t>& session_ids) {
  std::unique_ptr<SymbolLookups> out(new SymbolLookups());
  out->impl_ = std::make_unique<Impl>();
  Impl& m = *out->impl_;
  std::string ids;
  for (int64_t id : session_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  if (ids.empty()) return out;
  auto sets = db.prepare(
      "SELECT ss.id, ss.kind, ss.compressed_text IS NOT NULL FROM symbol_sets ss "
      "JOIN session_symbol_sets l ON l.set_id = ss.id WHERE l.session_id IN (" +
      ids + ") ORDER BY ss.id DESC");
  if (!sets) return tl::unexpected(sets.error());
  if (auto done = sets->for_each_row([&](const Statement& row) {
        std::string kind = row.text_at(1);
        bool packed = row.int_at(2) != 0;
        int64_t id = row.int_at(0);
        if (kind == "kallsyms" && (!m.kallsyms_set || (m.kallsyms_packed && !packed))) {
          m.kallsyms_set = id;
          m.kallsyms_packed = packed;
        }
        if (kind == "filter_functions" && !m.filter_set) m.filter_set = id;
        if (kind == "kprobe_blacklist" && !m.blacklist_set) m.blacklist_set = id;
      });
      !done)
    return tl::unexpected(done.error());
  auto prep = [&](Statement& into, const char* sql) -> Status {
    auto st = db.prepare(sql);
    if (!st) return tl::unexpected(st.error());
    into = std::move(*st);
    return {};
  };
  if (m.kallsyms_set && !m.kallsyms_packed) {
    if (auto s =
            prep(m.kallsyms_by_name, "SELECT address FROM kallsyms WHERE set_id = ? AND name = ?");
        !s)
      return tl::unexpected(s.error());
    if (auto s = prep(m.module_by_name,
                      "SELECT module FROM kallsyms WHERE set_id = ? AND name = ? AND module IS NOT "
                      "NULL AND module != '' LIMIT 1");
        !s)
      return tl::unexpected(s.error());
  }
  if (m.kallsyms_set && m.kallsyms_packed) {
    auto table = load_kallsyms_text(db, m.kallsyms_set);
    if (!table) return tl::unexpected(table.error());
    m.text = std::move(*table);
    // One pass, no copies: "ADDR TYPE NAME [MODULE]" lines, names viewed in place.
    std::string_view all(m.text);
    m.packed.reserve(all.size() / 40);
    for_each_line(all, [&](std::string_view line) {
      size_t a = line.find(' ');
      if (a == std::string_view::npos) return;
      size_t b = line.find(' ', a + 1);
      if (b == std::string_view::npos) return;
      size_t e = line.find_first_of(" \t", b + 1);
      std::string_view name = line.substr(b + 1, e == std::string_view::npos ? e : e - b - 1);
      std::string_view module;
      if (e != std::string_view::npos) {
        module = line.substr(e + 1);
        while (!module.empty() && (module.front() == ' ' || module.front() == '\t'))
          module.remove_prefix(1);
        if (size_t close = module.find(']');
            module.size() > 1 && module.front() == '[' && close != std::string_view::npos)
          module = module.substr(1, close - 1);
        else
          module = {};
      }
      m.packed.emplace(name, Impl::Packed{parse_hex(line.substr(0, a)).value_or(0), module});
    });
  }
  if (m.filter_set) {
    if (auto s =
            prep(m.filter_by_name, "SELECT 1 FROM filter_functions WHERE set_id = ? AND name = ?");
        !s)
      return tl::unexpected(s.error());
  }
  if (m.blacklist_set) {
    if (auto s = prep(m.blacklist_by_name,
                      "SELECT 1 FROM kprobe_blacklist WHERE set_id = ? AND name = ?");
        !s)
      return tl::unexpected(s.error());
  }
  return out;
}

std::vector<uint64_t> SymbolLookups::kallsyms_addresses(std::string_view name) {
  Impl& m = *impl_;
  std::vector<uint64_t> out;
  if (!m.kallsyms_set) return out;
  if (m.kallsyms_packed) {
    auto [b, e] = m.packed.equal_range(name);
    for (auto it = b; it != e; ++it) out.push_back(it->second.address);
    return out;
  }
  m.kallsyms_by_name.reset();
  m.kallsyms_by_name.bind(1, m.kallsyms_set).bind(2, name);
  while (m.kallsyms_by_name.step().value_or(false))
    out.push_back(static_cast<uint64_t>(m.kallsyms_by_name.int_at(0)));
  m.kallsyms_by_name.reset();
  return out;
}

int SymbolLookups::kallsyms_count(std::string_view name) {
  return static_cast<int>(kallsyms_addresses(name).size());
}

std::string SymbolLookups::module_of(std::string_view name) {
  Impl& m = *impl_;
  if (!m.kallsyms_set) return {};
  if (m.kallsyms_packed) {
    auto [b, e] = m.packed.equal_range(name);
    for (auto it = b; it != e; ++it)
      if (!it->second.module.empty()) return std::string(it->second.module);
    return {};
  }
  m.module_by_name.reset();
  m.module_by_name.bind(1, m.kallsyms_set).bind(2, name);
  std::string out;
  if (m.module_by_name.step().value_or(false)) out = m.module_by_name.text_at(0);
  m.module_by_name.reset();
  return out;
}

namespace {
bool exists(Statement& st, int64_t set, std::string_view name) {
  st.reset();
  st.bind(1, set).bind(2, name);
  bool found = st.step().value_or(false);
  st.reset();
  return found;
}
}  // namespace

bool SymbolLookups::traceable(std::string_view name) {
  return impl_->filter_set && exists(impl_->filter_by_name, impl_->filter_set, name);
}

bool SymbolLookups::blacklisted(std::string_view name) {
  return impl_->blacklist_set && exists(impl_->blacklist_by_name, impl_->blacklist_set, name);
}

}  // namespace probeseek
