// A whole kernel image: payload, ELF, release, build id, BTF, symbols, ftrace call sites and the
// kprobe blacklist, all without booting it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "bytes.h"
#include "internal.h"
#include "probeseek/text.h"

namespace probeseek {
namespace kernels {

Result<std::string> read_file_bounded(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runtime_error("cannot open", path, errno, "check the path and permissions");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return runtime_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return bad_input("not a regular file", path);
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return bad_input("file too large (" + std::to_string(st.st_size) + " bytes, at most " +
                         std::to_string(max_bytes) + ")",
                     path);
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runtime_error("cannot read", path, errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

namespace {

std::optional<uint64_t> address_of(const SymbolTable& t, std::string_view name) {
  auto found = t.by_name(name);
  if (found.empty()) return std::nullopt;
  return found.front()->address;
}

std::vector<std::string> sorted_distinct(std::set<std::string> names) {
  return std::vector<std::string>(names.begin(), names.end());
}

// The u64 array between two symbols, read through the ELF; nullopt when absent or unreadable.
std::optional<std::string_view> u64_array(const KernelElf& elf, const SymbolTable& t,
                                          std::string_view start, std::string_view stop) {
  auto a = address_of(t, start), b = address_of(t, stop);
  if (!a || !b || *b < *a || (*b - *a) % 8 != 0) return std::nullopt;
  if (*a == *b) return std::string_view();
  std::string_view bytes = elf.at(*a, *b - *a);
  if (bytes.empty()) return std::nullopt;
  return bytes;
}

// linux_banner (init/version-timestamp.c): "Linux version 6.1.0-56-cloud-amd64 (debian-kernel@".
std::string release_of(const KernelElf& elf) {
  std::string_view ro = elf.section(".rodata");
  constexpr std::string_view kBanner = "Linux version ";
  for (size_t p = ro.find(kBanner); p != std::string_view::npos; p = ro.find(kBanner, p + 1)) {
    std::string_view rest = ro.substr(p + kBanner.size(), 256);
    size_t end = rest.find(' ');
    if (end == 0 || end == std::string_view::npos || rest.substr(end, 2) != " (") continue;
    std::string_view word = rest.substr(0, end);
    if (std::all_of(word.begin(), word.end(), [](char c) { return c > ' ' && c < 0x7f; }))
      return std::string(word);
  }
  return "";
}

// Debian ships "ffffffffffffffff B The real System.map is in the linux-image-<v>-dbg package".
bool is_placeholder_map(std::string_view text) {
  return text.find("The real System.map is in") != std::string_view::npos && text.size() < 4096;
}

}  // namespace

namespace {

// Text symbols by address, looked up as kernel/kallsyms.c does (get_symbol_pos): the nearest
// start at or below an address, and among aliases at that start the first in table order, the
// name /proc, ftrace and kprobes print.
class TextIndex {
 public:
  explicit TextIndex(const SymbolTable& t) : t_(t) {
    for (uint32_t i = 0; i < t.symbols().size(); ++i)
      if (t.symbols()[i].is_text()) order_.push_back(i);
    std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
      return t.symbols()[a].address < t.symbols()[b].address;
    });
  }
  const KernelSymbol* at(uint64_t addr) const {
    auto it = std::upper_bound(order_.begin(), order_.end(), addr,
                               [&](uint64_t a, uint32_t i) { return a < sym(i).address; });
    if (it == order_.begin()) return nullptr;
    uint64_t start = sym(*std::prev(it)).address;
    auto first = std::lower_bound(order_.begin(), it, start,
                                  [&](uint32_t i, uint64_t a) { return sym(i).address < a; });
    return &sym(*first);
  }
  // Distinct symbol starts in [lo, hi), each with its first alias.
  template <typename Fn>
  void each_start(uint64_t lo, uint64_t hi, Fn&& fn) const {
    auto it = std::lower_bound(order_.begin(), order_.end(), lo,
                               [&](uint32_t i, uint64_t a) { return sym(i).address < a; });
    for (uint64_t last = 0; it != order_.end() && sym(*it).address < hi; ++it) {
      if (it != order_.begin() && sym(*it).address == last) continue;
      last = sym(*it).address;
      fn(sym(*it));
    }
  }

 private:
  const KernelSymbol& sym(uint32_t i) const { return t_.symbols()[i]; }
  const SymbolTable& t_;
  std::vector<uint32_t> order_;
};

bool starts_with_endbr64(const KernelElf& elf, uint64_t addr) {
  return elf.at(addr, 4) == std::string_view("\xf3\x0f\x1e\xfa", 4);
}

}  // namespace

HookTables hook_tables(const KernelElf& elf, const SymbolTable& t) {
  HookTables out;
  TextIndex text(t);
  // ftrace's call sites: scripts/recordmcount (or objtool --mcount) lists every __fentry__ call
  // in __mcount_loc; ftrace_init() turns them into the records available_filter_functions
  // prints, and ftrace_free_init_mem() drops the ones in init text after boot. A site further
  // into its symbol than FTRACE_MCOUNT_MAX_OFFSET (0, or the endbr64 before it with IBT) is the
  // leftover of a weak function the linker dropped: ftrace disables it and prints it as
  // "__ftrace_invalid_address___N" (kernel/trace/ftrace.c: test_for_valid_rec).
  if (auto sites = u64_array(elf, t, "__start_mcount_loc", "__stop_mcount_loc")) {
    auto init_begin = address_of(t, "__init_begin"), init_end = address_of(t, "__init_end");
    std::set<std::string> names;
    for (size_t i = 0; i + 8 <= sites->size(); i += 8) {
      uint64_t addr = load_le<uint64_t>(sites->data() + i);
      if (addr == 0) continue;  // sorttable may zero the sites of weak functions left out
      if (init_begin && init_end && addr >= *init_begin && addr < *init_end) continue;
      const KernelSymbol* s = text.at(addr);
      if (!s) continue;
      uint64_t offset = addr - s->address;
      if (offset == 0 || (offset == 4 && starts_with_endbr64(elf, s->address)))
        names.insert(s->name);
    }
    out.traceable = sorted_distinct(std::move(names));
  }
  // kprobes' blacklist (kernel/kprobes.c: populate_kprobe_blacklist): the functions holding the
  // NOKPROBE_SYMBOL() addresses in _kprobe_blacklist, then every function in whole text ranges
  // (kprobes and noinstr text, and on x86 the entry and irqentry text:
  // arch_populate_kprobe_blacklist), each named as kallsyms_lookup names it.
  if (auto entries = u64_array(elf, t, "__start_kprobe_blacklist", "__stop_kprobe_blacklist")) {
    std::set<std::string> names;
    for (size_t i = 0; i + 8 <= entries->size(); i += 8)
      if (const KernelSymbol* s = text.at(load_le<uint64_t>(entries->data() + i)))
        names.insert(s->name);
    static const std::pair<const char*, const char*> kRanges[] = {
        {"__kprobes_text_start", "__kprobes_text_end"},
        {"__noinstr_text_start", "__noinstr_text_end"},
        {"__entry_text_start", "__entry_text_end"},
        {"__irqentry_text_start", "__irqentry_text_end"},
        // Not .softirqentry.text: the booted 6.1.0-56's debugfs blacklist has __irqentry_text
        // but not __do_softirq (and 6.3 removed the section).
    };
    for (auto [a, b] : kRanges) {
      auto lo = address_of(t, a), hi = address_of(t, b);
      if (!lo || !hi || *lo >= *hi) continue;
      if (const KernelSymbol* s = text.at(*lo)) names.insert(s->name);  // the range's first
      text.each_start(*lo, *hi, [&](const KernelSymbol& s) { names.insert(s.name); });
    }
    out.blacklist = sorted_distinct(std::move(names));
  }
  return out;
}

Result<KernelFacts> image_facts(std::string image, const std::string& origin,
                                const std::optional<std::string>& system_map,
                                const std::string& system_map_origin) {
  KernelFacts facts;
  facts.source = origin;
  if (std::string_view(image).substr(0, 4) !=
      "\x7f"
      "ELF") {
    auto payload = bzimage_payload(image, origin);
    if (!payload) return tl::unexpected(payload.error());
    facts.compression = payload->compression;
    image = std::move(payload->elf);
  }
  auto elf = KernelElf::parse(std::move(image), origin);
  if (!elf) return tl::unexpected(elf.error());
  facts.release = release_of(*elf);
  facts.build_id = elf->build_id();
  facts.btf = std::string(elf->section(".BTF"));
  if (facts.btf.empty())
    return bad_input("the kernel image has no .BTF section", origin,
                     "it was built without CONFIG_DEBUG_INFO_BTF; probeseek needs its BTF");

  if (system_map && !is_placeholder_map(*system_map)) {
    auto table = SymbolTable::parse(*system_map, system_map_origin);
    if (!table) return tl::unexpected(table.error());
    auto text = elf->section_address(".text");
    auto map_text = address_of(*table, "_text");
    if (!text || !map_text || *text != *map_text)
      return bad_input("System.map does not match the image", system_map_origin,
                       "give the System.map of the same kernel build as " + origin);
    facts.symbols = table->symbols();
    facts.symbols_from = "System.map";
  } else {
    auto symbols = image_kallsyms(*elf);
    if (!symbols) return tl::unexpected(symbols.error());
    facts.symbols = std::move(*symbols);
    facts.symbols_from = "image kallsyms tables";
  }
  SymbolTable table = SymbolTable::from_symbols(facts.symbols);
  HookTables hooks = hook_tables(*elf, table);
  facts.traceable = std::move(hooks.traceable);
  facts.blacklist = std::move(hooks.blacklist);
  facts.image = std::make_shared<const KernelElf>(std::move(*elf));
  return facts;
}

}  // namespace kernels

Result<KernelFacts> read_kernel_image(const std::string& vmlinuz_or_vmlinux,
                                      const std::string& system_map) {
  constexpr uint64_t kMaxImage = 1ull << 30;
  auto image = kernels::read_file_bounded(vmlinuz_or_vmlinux, kMaxImage);
  if (!image) return tl::unexpected(image.error());
  std::optional<std::string> map;
  if (!system_map.empty()) {
    auto text = kernels::read_file_bounded(system_map, kMaxImage);
    if (!text) return tl::unexpected(text.error());
    map = std::move(*text);
  }
  return kernels::image_facts(std::move(*image), vmlinuz_or_vmlinux, map, system_map);
}

}  // namespace probeseek
