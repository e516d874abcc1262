// The running kernel as the attacher sees it: which probe mechanisms it offers, and what its
// symbol tables say about one function. Paths come from AttachPaths, so tests can play kernels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probeseek/attach.h"

namespace probeseek::internal {

// Can kprobes be attached as bpf_link fds (the kprobe PMU)? When not, `why_not` says what the
// kernel lacks, precisely enough for a user to act on.
struct KprobeSupport {
  bool available = false;
  std::string why_not;
};
KprobeSupport kprobe_support(const AttachPaths& paths);

// "none", "integrity", "confidentiality", or "" when unknown (securityfs not mounted).
std::string lockdown_mode(const AttachPaths& paths);

// What /proc/kallsyms says about a function: how many text symbols have its exact name, its
// compiler clones ("f.isra.0"), the module it is in, whether it is exported.
struct SymbolFacts {
  bool readable = false;  // kallsyms could be read and had entries
  int exact = 0;
  std::vector<std::string> clones;
  std::string module;  // "" for vmlinux
  bool exported = false;
};
SymbolFacts symbol_facts(const std::string& kallsyms_path, const std::string& function);

// Whether a name is the given whitespace-separated field of some line of a file
// (available_filter_functions: "name [module]", field 0; kprobes/blacklist:
// "0xSTART-0xEND\tname", field 1). nullopt when the file cannot be read.
std::optional<bool> listed_in(const std::string& path, const std::string& name, size_t field);

}  // namespace probeseek::internal
