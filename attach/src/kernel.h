// The running kernel as the attacher sees it: which probe mechanisms it offers, and what its
// symbol tables say about one function. Paths come from KernelPaths, so tests can play kernels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probeseek/attach.h"

namespace probeseek::internal {

// A kernel table read once: /proc/kallsyms, available_filter_functions, the kprobe blacklist.
// Generating them costs the kernel more than scanning them (noticeably so under emulation), and
// a tracer looks several functions up. `readable` is false when the file could not be read.
struct KernelTable {
  bool readable = false;
  std::string text;
  static KernelTable read(const std::string& path);
};

// What kallsyms says about a function: how many text symbols have its exact name, its compiler
// clones ("f.isra.0"), the module it is in, whether it is exported.
struct SymbolFacts {
  bool readable = false;  // kallsyms could be read and had entries
  int exact = 0;
  std::vector<std::string> clones;
  std::string module;  // "" for vmlinux
  bool exported = false;
};
SymbolFacts symbol_facts(const KernelTable& kallsyms, const std::string& function);

// Whether a name is the given whitespace-separated field of some line of a table
// (available_filter_functions: "name [module]", field 0; kprobes/blacklist:
// "0xSTART-0xEND\tname", field 1). nullopt when the table could not be read.
std::optional<bool> listed_in(const KernelTable& table, const std::string& name, size_t field);

}  // namespace probeseek::internal
