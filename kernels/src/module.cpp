// A loadable kernel module (.ko: an ELF64 relocatable object, x86_64), read as the catalogue
// needs it: .modinfo's name, the split BTF in .BTF, the functions its symbol table defines, and
// which of them have an ftrace call site (the relocations of __mcount_loc point into their
// code). Every offset, size and index from the file is checked before use.
#include <algorithm>

#include "bytes.h"
#include "internal.h"
#include "probeseek/text.h"

namespace probeseek::kernels {
namespace {

constexpr uint32_t kShtSymtab = 2, kShtRela = 4, kShtNobits = 8;
constexpr uint8_t kSttFunc = 2, kSttSection = 3;
constexpr uint32_t kMaxSymbols = 1u << 20;

struct Section {
  std::string name;
  uint32_t type = 0, link = 0, info = 0;
  uint64_t offset = 0, size = 0, entsize = 0;
};

struct Symbol {
  std::string_view name;
  uint8_t type = 0;
  uint16_t shndx = 0;
  uint64_t value = 0, size = 0;
};

bool is_module_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// "tun.ko.xz" -> "tun"; "nf_conntrack-ftp.ko" -> "nf_conntrack_ftp".
std::string name_from_file(std::string_view file) {
  file = file.substr(file.rfind('/') + 1);
  std::string name(file.substr(0, file.find(".ko")));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace

Result<KernelModule> read_module(std::string_view bytes, std::string_view file_name,
                                 const std::string& origin, uint64_t max_bytes) {
  std::string plain;
  if (file_name.size() > 3 && file_name.substr(file_name.size() - 3) == ".xz") {
    auto out = unxz(bytes, origin, max_bytes);
    if (!out) return tl::unexpected(out.error());
    plain = std::move(*out);
    bytes = plain;
  } else if (file_name.size() > 4 && file_name.substr(file_name.size() - 4) == ".zst") {
    auto out = unzstd(bytes, origin, max_bytes);
    if (!out) return tl::unexpected(out.error());
    plain = std::move(*out);
    bytes = plain;
  }
  const std::string_view b = bytes;
  auto damaged = [&](const std::string& what) {
    return bad_input("damaged module: " + what, origin,
                     "the package is truncated or corrupt: download it again");
  };
  if (b.size() < 64 ||
      b.substr(0, 4) !=
          "\x7f"
          "ELF" ||
      b[4] != 2 || b[5] != 1 || *read_le<uint16_t>(b, 18) != 62)
    return damaged("not an x86_64 ELF64 little-endian object");
  const uint64_t shoff = *read_le<uint64_t>(b, 0x28);
  const uint64_t shnum = *read_le<uint16_t>(b, 0x3c);
  const uint32_t shstrndx = *read_le<uint16_t>(b, 0x3e);
  if (*read_le<uint16_t>(b, 0x3a) != 64 || shoff > b.size() || shnum > (b.size() - shoff) / 64 ||
      shstrndx >= shnum)
    return damaged("section headers outside the file");
  std::vector<Section> sections(shnum);
  for (uint64_t i = 0; i < shnum; ++i) {
    const char* h = b.data() + shoff + i * 64;
    Section& s = sections[i];
    s.type = load_le<uint32_t>(h + 4);
    s.offset = load_le<uint64_t>(h + 24);
    s.size = load_le<uint64_t>(h + 32);
    s.link = load_le<uint32_t>(h + 40);
    s.info = load_le<uint32_t>(h + 44);
    s.entsize = load_le<uint64_t>(h + 56);
    if (s.type == kShtNobits) s.size = 0;
    if (s.offset > b.size() || b.size() - s.offset < s.size)
      return damaged("section " + std::to_string(i) + " lies outside the file");
  }
  const std::string_view names = b.substr(sections[shstrndx].offset, sections[shstrndx].size);
  for (uint64_t i = 0; i < shnum; ++i) {
    const uint32_t at = load_le<uint32_t>(b.data() + shoff + i * 64);
    if (at < names.size()) {
      std::string_view n = names.substr(at);
      sections[i].name = std::string(n.substr(0, n.find('\0')));
    }
  }
  auto contents = [&](const Section& s) { return b.substr(s.offset, s.size); };
  auto find = [&](std::string_view name) -> const Section* {
    for (const Section& s : sections)
      if (s.name == name) return &s;
    return nullptr;
  };

  KernelModule m;
  m.name = name_from_file(file_name);
  if (const Section* info = find(".modinfo")) {
    std::string_view text = contents(*info);
    for (size_t at = 0; at < text.size();) {
      size_t end = text.find('\0', at);
      if (end == std::string_view::npos) end = text.size();
      std::string_view entry = text.substr(at, end - at);
      if (starts_with(entry, "name=")) m.name = std::string(entry.substr(5));
      at = end + 1;
    }
  }
  if (!is_module_name(m.name)) return damaged("a module name that is not [A-Za-z0-9_]");
  if (const Section* btf = find(".BTF")) m.btf = std::string(contents(*btf));

  // The symbol table and its strings.
  const Section* symtab = nullptr;
  for (const Section& s : sections)
    if (s.type == kShtSymtab) symtab = &s;
  if (symtab == nullptr) return m;  // stripped: no functions to list
  if (symtab->link >= shnum) return damaged("symbol table without its strings");
  const std::string_view strings = contents(sections[symtab->link]);
  const uint64_t count = symtab->size / 24;
  if (count > kMaxSymbols) return damaged("more than a million symbols");
  std::vector<Symbol> symbols(count);
  const std::string_view table = contents(*symtab);
  for (uint64_t i = 0; i < count; ++i) {
    const char* e = table.data() + i * 24;
    Symbol& s = symbols[i];
    const uint32_t name = load_le<uint32_t>(e);
    s.type = static_cast<uint8_t>(e[4]) & 0xf;
    s.shndx = load_le<uint16_t>(e + 6);
    s.value = load_le<uint64_t>(e + 8);
    s.size = load_le<uint64_t>(e + 16);
    if (name < strings.size()) {
      std::string_view n = strings.substr(name);
      s.name = n.substr(0, n.find('\0'));
    }
  }
  // Defined functions by section, sorted by address, for the call sites below.
  std::vector<const Symbol*> functions;
  for (const Symbol& s : symbols)
    if (s.type == kSttFunc && s.shndx != 0 && s.shndx < shnum && is_kernel_symbol_name(s.name))
      functions.push_back(&s);
  std::sort(functions.begin(), functions.end(), [](const Symbol* a, const Symbol* c) {
    return a->shndx != c->shndx ? a->shndx < c->shndx : a->value < c->value;
  });
  for (const Symbol* f : functions) m.functions.emplace_back(f->name);
  std::sort(m.functions.begin(), m.functions.end());
  m.functions.erase(std::unique(m.functions.begin(), m.functions.end()), m.functions.end());

  // __mcount_loc holds one address per ftrace call site; in a .ko each is a relocation
  // (section symbol + addend, or function symbol + addend) into the function's code.
  for (const Section& rela : sections) {
    if (rela.type != kShtRela || rela.name != ".rela__mcount_loc") continue;
    if (rela.link >= shnum || &sections[rela.link] != symtab) continue;
    const std::string_view r = contents(rela);
    std::vector<std::string_view> found;
    for (uint64_t at = 0; at + 24 <= r.size(); at += 24) {
      const uint64_t info = load_le<uint64_t>(r.data() + at + 8);
      const int64_t addend = load_le<int64_t>(r.data() + at + 16);
      const uint64_t index = info >> 32;
      if (index >= count) continue;
      const Symbol& target = symbols[index];
      if (target.type != kSttSection && target.type != kSttFunc) continue;
      const uint64_t address = target.value + static_cast<uint64_t>(addend);
      // The last function of that section starting at or before the site, if the site is in it.
      auto it = std::upper_bound(
          functions.begin(), functions.end(), std::pair{target.shndx, address},
          [](const std::pair<uint16_t, uint64_t>& key, const Symbol* f) {
            return key.first != f->shndx ? key.first < f->shndx : key.second < f->value;
          });
      if (it == functions.begin()) continue;
      const Symbol* f = *(it - 1);
      if (f->shndx != target.shndx || address - f->value > std::max<uint64_t>(f->size, 16))
        continue;
      found.push_back(f->name);
    }
    for (std::string_view n : found) m.traceable.emplace_back(n);
  }
  std::sort(m.traceable.begin(), m.traceable.end());
  m.traceable.erase(std::unique(m.traceable.begin(), m.traceable.end()), m.traceable.end());
  return m;
}

}  // namespace probeseek::kernels
