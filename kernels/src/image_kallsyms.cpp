// The image's own kallsyms tables (what /proc/kallsyms prints), found in .rodata by their shape.
// scripts/kallsyms.c writes them, kernel/kallsyms.c reads them; each table label is 8-aligned:
//   6.1 (Debian's, with kallsyms_seqs_of_names backported):
//     offsets u32[n] | relative_base u64 | num_syms u32 | names | markers u32[ceil(n/256)] |
//     seqs_of_names u8[3n] | token_table | token_index u16[256]
//   6.12: num_syms | names | markers | token_table | token_index | offsets | relative_base |
//     seqs_of_names
// The search anchors on the token table (it always holds the digits "0".."9" as single-character
// tokens), then on markers that end where the token table (or seqs_of_names) starts, then on
// num_syms just before the names the markers describe. Nothing found is trusted until the
// symbol _text decodes to the address of the ELF's .text section.
#include <cstring>

#include "bytes.h"
#include "probeseek/kernel_image.h"

namespace probeseek {
namespace {

using kernels::load_le;
using kernels::read_le;

constexpr uint64_t kMaxSymbols = 4u << 20;
// An entry: one or two length bytes, then at most KSYM_NAME_LEN (512) tokens.
constexpr uint64_t kMaxEntry = 2 + 512;

// .rodata, with alignment taken in virtual-address space as the linker did.
struct Rodata {
  std::string_view b;
  uint64_t base = 0;
  // off rounded up to the next 8-aligned virtual address.
  uint64_t align8(uint64_t off) const { return off + ((0 - (base + off)) & 7); }
  bool aligned(uint64_t off) const { return ((base + off) & 7) == 0; }
  uint32_t u32(uint64_t off) const { return load_le<uint32_t>(b.data() + off); }
};

struct TokenTable {
  uint64_t start = 0, index = 0;  // .rodata offsets of kallsyms_token_table and _token_index
  std::vector<std::string_view> tokens;
};

// Parses 256 non-empty NUL-terminated tokens from t and checks the index after them.
std::optional<TokenTable> tokens_at(const Rodata& r, uint64_t t) {
  TokenTable tt;
  tt.start = t;
  uint64_t x = t;
  std::vector<uint64_t> offs;
  for (int k = 0; k < 256; ++k) {
    if (x >= r.b.size()) return std::nullopt;
    const void* nul = std::memchr(r.b.data() + x, 0, r.b.size() - x);
    if (!nul) return std::nullopt;
    uint64_t e = static_cast<const char*>(nul) - r.b.data();
    if (e == x) return std::nullopt;
    offs.push_back(x - t);
    tt.tokens.push_back(r.b.substr(x, e - x));
    x = e + 1;
  }
  tt.index = r.align8(x);
  if (tt.index > r.b.size() || r.b.size() - tt.index < 512) return std::nullopt;
  for (int k = 0; k < 256; ++k)
    if (load_le<uint16_t>(r.b.data() + tt.index + 2 * k) != offs[k]) return std::nullopt;
  return tt;
}

std::optional<TokenTable> find_token_table(const Rodata& r) {
  static const char kDigits[] =
      "0\0"
      "1\0"
      "2\0"
      "3\0"
      "4\0"
      "5\0"
      "6\0"
      "7\0"
      "8\0"
      "9";
  std::string_view digits(kDigits, sizeof kDigits);  // with the last NUL
  for (size_t p = r.b.find(digits); p != std::string_view::npos; p = r.b.find(digits, p + 1)) {
    // ends[j]: where the j-th string from p ends (NUL included), for j up to 256.
    std::vector<uint64_t> ends{p};
    for (uint64_t x = p; ends.size() <= 256; ends.push_back(x)) {
      const void* nul = x < r.b.size() ? std::memchr(r.b.data() + x, 0, r.b.size() - x) : nullptr;
      if (!nul || nul == r.b.data() + x) break;
      x = static_cast<uint64_t>(static_cast<const char*>(nul) - r.b.data()) + 1;
    }
    // If k tokens precede "0", the index starts at align8(ends[256 - k]) and its k-th entry is
    // the distance from the table's start to "0": that gives the start. It is not found by
    // walking back over NUL-terminated strings: the table before it (seqs_of_names, binary)
    // may end in a non-NUL byte that runs into the first token (6.1.0-47-rt: "...Pz" + "na").
    for (uint64_t k = 0; k < 256; ++k) {
      if (256 - k >= ends.size()) continue;
      uint64_t index = r.align8(ends[256 - k]);
      if (index > r.b.size() || r.b.size() - index < 512 || load_le<uint16_t>(r.b.data() + index))
        continue;
      uint64_t to_digits = load_le<uint16_t>(r.b.data() + index + 2 * k);
      if (to_digits > p || (k == 0) != (to_digits == 0)) continue;
      if (auto tt = tokens_at(r, p - to_digits); tt && tt->index == index) return tt;
    }
  }
  return std::nullopt;
}

struct Names {
  uint64_t num_syms = 0, start = 0, markers = 0;
  uint64_t n = 0;
};

// Walks the n entries of kallsyms_names from start: every 256th entry must sit where its
// marker says, and the names must end at the markers (up to the label's alignment).
bool names_fit(const Rodata& r, uint64_t start, uint64_t n, uint64_t ms) {
  uint64_t x = start;
  for (uint64_t i = 0; i < n; ++i) {
    if (i % 256 == 0 && r.u32(ms + 4 * (i / 256)) != x - start) return false;
    if (x >= ms) return false;
    uint64_t len = static_cast<uint8_t>(r.b[x++]);
    if (len & 0x80) {
      if (x >= ms) return false;
      len = (len & 0x7f) | (uint64_t{static_cast<uint8_t>(r.b[x++])} << 7);
    }
    if (len == 0 || len > ms - x) return false;
    x += len;
  }
  return x <= ms && x + 7 >= ms;
}

// Markers at ms for between n_lo and n_hi symbols (one marker count): cheap checks, then
// num_syms before the names the markers describe.
std::optional<Names> names_for(const Rodata& r, uint64_t ms, uint64_t n_lo, uint64_t n_hi) {
  uint64_t m = (n_lo + 255) / 256;
  if (!r.aligned(ms) || ms > r.b.size() || (r.b.size() - ms) / 4 < m) return std::nullopt;
  if (r.u32(ms) != 0) return std::nullopt;
  for (uint64_t k = 1; k < m; ++k)  // each entry is at least a length byte and one token
    if (r.u32(ms + 4 * k) < uint64_t{r.u32(ms + 4 * (k - 1))} + 2 * 256) return std::nullopt;
  uint64_t last = r.u32(ms + 4 * (m - 1));
  if (last + 8 > ms) return std::nullopt;
  // num_syms sits 8 bytes before the names, and the last block of at most 256 entries lies
  // between the last marker and the markers themselves.
  uint64_t top = ms - last - 8;
  uint64_t bottom = top > 256 * kMaxEntry ? top - 256 * kMaxEntry : 0;
  uint64_t misalign = (r.base + top) & 7;
  if (misalign > top) return std::nullopt;
  for (uint64_t p = top - misalign;; p -= 8) {
    uint32_t n = r.u32(p);
    if (n >= n_lo && n <= n_hi && names_fit(r, p + 8, n, ms)) return Names{p, p + 8, ms, n};
    if (p < bottom + 8) break;
  }
  return std::nullopt;
}

std::optional<Names> find_names(const Rodata& r, uint64_t token_table) {
  uint64_t tt = token_table;
  if (!r.aligned(tt)) return std::nullopt;
  auto rounded = [](uint64_t x) { return (x + 7) & ~uint64_t{7}; };
  for (uint64_t n = 1; n <= kMaxSymbols; ++n) {
    uint64_t mlen = rounded(4 * ((n + 255) / 256));
    if (mlen > tt) break;  // the markers alone would start before .rodata
    // Without seqs_of_names the markers end at the token table: every n with this marker
    // count shares the markers, and num_syms tells which n it is.
    if (n % 256 == 1)
      if (auto found = names_for(r, tt - mlen, n, std::min(n + 255, kMaxSymbols))) return found;
    // With kallsyms_seqs_of_names (3 bytes a symbol) between markers and token table.
    uint64_t slen = rounded(3 * n);
    if (tt >= slen + mlen)
      if (auto found = names_for(r, tt - slen - mlen, n, n)) return found;
  }
  return std::nullopt;
}

std::string expand(const TokenTable& tt, std::string_view entry) {
  std::string s;
  for (unsigned char c : entry) s += tt.tokens[c];
  return s;
}

}  // namespace

Result<std::vector<KernelSymbol>> image_kallsyms(const KernelElf& elf) {
  const char* hint =
      "the image was built without CONFIG_KALLSYMS, or its tables have a layout this version "
      "does not know; give its System.map";
  Rodata r{elf.section(".rodata"), elf.section_address(".rodata").value_or(0)};
  auto text = elf.section_address(".text");
  if (r.b.empty() || !text)
    return bad_input("kallsyms tables not found: the image has no .rodata or .text", elf.origin(),
                     hint);
  auto tt = find_token_table(r);
  if (!tt)
    return bad_input("kallsyms tables not found: no kallsyms_token_table in .rodata", elf.origin(),
                     hint);
  auto names = find_names(r, tt->start);
  if (!names)
    return bad_input("kallsyms tables not found: a token table at .rodata+" +
                         std::to_string(tt->start) + " but no kallsyms_names/_markers before it",
                     elf.origin(), hint);
  uint64_t n = names->n;
  std::vector<KernelSymbol> symbols(n);
  uint64_t x = names->start;
  size_t text_index = n;
  for (uint64_t i = 0; i < n; ++i) {  // names_fit checked every length against the markers
    uint64_t len = static_cast<uint8_t>(r.b[x++]);
    if (len & 0x80) len = (len & 0x7f) | (uint64_t{static_cast<uint8_t>(r.b[x++])} << 7);
    std::string s = expand(*tt, r.b.substr(x, len));
    x += len;
    if (!s.empty()) {
      symbols[i].type = s[0];
      symbols[i].name = s.substr(1);
    }
    if (text_index == n && (symbols[i].name == "_text" || symbols[i].name == "_stext"))
      text_index = i;
  }
  if (text_index == n)
    return bad_input("kallsyms tables not found: " + std::to_string(n) +
                         " names decoded, but no _text among them",
                     elf.origin(), hint);

  // kallsyms_offsets and kallsyms_relative_base, before num_syms (6.1) or after the token index
  // (6.12); then the two encodings of kernel/kallsyms.c:kallsyms_sym_address().
  struct Layout {
    uint64_t offsets, base;
  };
  std::vector<Layout> layouts;
  uint64_t olen = (4 * n + 7) & ~uint64_t{7};
  if (names->num_syms >= 8 + olen)
    layouts.push_back({names->num_syms - 8 - olen, names->num_syms - 8});
  uint64_t o612 = r.align8(tt->index + 512);
  layouts.push_back({o612, r.align8(o612 + 4 * n)});
  for (const Layout& l : layouts) {
    if (!r.aligned(l.offsets) || l.offsets > r.b.size() || (r.b.size() - l.offsets) / 4 < n)
      continue;
    auto rb = read_le<uint64_t>(r.b, l.base);
    if (!rb) continue;
    for (bool absolute_percpu : {true, false}) {
      // CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP): non-negative offsets are absolute
      // (per-cpu symbols), negative ones count down from relative_base - 1.
      auto address = [&](uint64_t i) {
        int32_t off = static_cast<int32_t>(r.u32(l.offsets + 4 * i));
        if (!absolute_percpu) return *rb + static_cast<uint32_t>(off);
        return off >= 0 ? static_cast<uint64_t>(off) : *rb - 1 - static_cast<int64_t>(off);
      };
      if (address(text_index) != *text) continue;
      for (uint64_t i = 0; i < n; ++i) symbols[i].address = address(i);
      return symbols;
    }
  }
  return bad_input("kallsyms tables not found: " + std::to_string(n) +
                       " names decoded, but no kallsyms_offsets give _text the address of .text",
                   elf.origin(), hint);
}

}  // namespace probeseek
