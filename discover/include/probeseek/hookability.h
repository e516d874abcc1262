// Can a probe be attached to this function, and at what risk? One verdict with its reasons,
// from the kernel's own lists (available_filter_functions, the kprobe blacklist, kallsyms), BTF,
// and a deny list of functions that must never be probed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/kallsyms.h"

namespace probeseek {

// Functions that can hang, recurse or corrupt state when probed, with the reason (as retsnoop
// keeps its own). Matched by exact name or by a prefix ending in '*'.
struct DenyRule {
  std::string_view pattern;
  std::string_view reason;
};
const std::vector<DenyRule>& deny_list();
// The reason a function is denied, or nullopt.
std::optional<std::string> denied_because(std::string_view function);

// What the kernel offers, as lookups (backed by the database, a file, or a set in tests). An
// empty lookup means the table is missing: the matching checks say "unknown", never "ok".
struct HookabilityInputs {
  std::function<bool(std::string_view)> traceable;      // in available_filter_functions
  std::function<bool(std::string_view)> blacklisted;    // in the kprobe blacklist
  std::function<int(std::string_view)> kallsyms_count;  // symbols of this name in kallsyms
  const Btf* btf = nullptr;
};
// Lookups over in-memory tables (tests, live files).
HookabilityInputs hookability_inputs(const std::unordered_set<std::string>* traceable,
                                     const std::unordered_set<std::string>* blacklisted,
                                     const SymbolTable* kallsyms, const Btf* btf);

struct Hookability {
  bool hookable = true;    // a kprobe (or fentry) can be attached without --unsafe
  bool traceable = false;  // in available_filter_functions: ftrace-based probes work
  bool traceable_known = false;
  bool blacklisted = false;
  bool denied = false;
  bool clone = false;                // the name is a compiler clone (.isra/.constprop/.part/.cold)
  bool only_clones = false;          // kallsyms has clones of it but not the function itself
  bool inlined = false;              // in BTF, absent from kallsyms: every call was inlined
  bool exported = false;             // __ksymtab_NAME exists
  int same_name_symbols = 0;         // static functions sharing the name
  std::vector<std::string> reasons;  // one line each, worst first
  std::string verdict() const;       // "hookable", "hookable with care", "not hookable"
};

Hookability assess_hookability(std::string_view function, const HookabilityInputs& inputs);

}  // namespace probeseek
