// Kernel symbol tables: /proc/kallsyms (or System.map), available_filter_functions and the
// kprobe blacklist. Pure parsers over text, so tests point them at fixtures.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "probeseek/error.h"

namespace probeseek {

struct KernelSymbol {
  uint64_t address = 0;
  char type = '?';     // kallsyms type letter: t/T text, d/D data, r/R rodata, b/B bss, W weak...
  std::string name;    // "tcp_v4_connect", "finish_task_switch.isra.0"
  std::string module;  // "" for vmlinux, "nf_tables" for "[nf_tables]"
  bool is_text() const { return type == 't' || type == 'T' || type == 'w' || type == 'W'; }
};

class SymbolTable {
 public:
  // Lines "ADDR TYPE NAME [MODULE]". Malformed lines are counted, not fatal; a file with no
  // valid line at all is bad input.
  static Result<SymbolTable> parse(std::string_view text, const std::string& origin);
  static Result<SymbolTable> load(const std::string& path);  // plain or gzip
  static SymbolTable from_symbols(std::vector<KernelSymbol> symbols);

  const std::vector<KernelSymbol>& symbols() const { return symbols_; }
  // Text symbol whose range contains addr (nearest start at or below it), or nullptr.
  const KernelSymbol* text_symbol_at(uint64_t addr) const;
  // Every symbol with this exact name (several static functions can share one).
  std::vector<const KernelSymbol*> by_name(std::string_view name) const;
  // Addresses are all zero when kptr_restrict hides them from the reader.
  bool addresses_visible() const { return addresses_visible_; }
  // CONFIG_KALLSYMS_ALL: data symbols (ops tables such as tcp_prot) are listed.
  bool has_data_symbols() const { return has_data_symbols_; }
  size_t malformed_lines() const { return malformed_lines_; }

 private:
  void index();
  std::vector<KernelSymbol> symbols_;
  std::vector<uint32_t> text_by_address_;  // indexes into symbols_, sorted by address
  std::unordered_multimap<std::string_view, uint32_t> by_name_;
  bool addresses_visible_ = false;
  bool has_data_symbols_ = false;
  size_t malformed_lines_ = 0;
};

// available_filter_functions: "NAME" or "NAME [MODULE]"; kernels >= 6.5 may also offer
// available_filter_functions_addrs with "ADDR NAME [MODULE]": both forms are accepted.
struct FilterFunction {
  std::string name;
  std::string module;
  uint64_t address = 0;
};
Result<std::vector<FilterFunction>> parse_filter_functions(std::string_view text,
                                                           const std::string& origin);

// debugfs kprobes/blacklist: "0xSTART-0xEND\tNAME" (ranges are real addresses as root).
struct BlacklistEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string name;
};
Result<std::vector<BlacklistEntry>> parse_kprobe_blacklist(std::string_view text,
                                                           const std::string& origin);

// Maps a compiler clone back to the function it was cloned from, whose prototype BTF has:
// "tcp_v4_connect.isra.0" -> "tcp_v4_connect". Strips trailing .isra.N, .constprop.N, .part.N,
// .cold, .cold.N, .llvm.N, .lto_priv.N and .localalias, also chained
// ("f.constprop.0.isra.0" -> "f"). Other names come back unchanged. A clone's own prototype may
// differ from the original's (that is why it was cloned), so BTF only describes the original.
std::string_view strip_clone_suffix(std::string_view symbol);

}  // namespace probeseek
