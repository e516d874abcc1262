// Internal to probeseek_discover: rank's and explain's --kernels terms (docs/compat.md).
#pragma once

#include <string>
#include <vector>

#include "probeseek/rank.h"

namespace probeseek::detail {

// Adds to each candidate one scored term from its compat verdicts over these catalogued kernels
// (empty: all): "stable: ..." (+5) or "unstable: ..." (-5 to -20). With an empty catalogue it
// adds nothing and says how to make one in `warnings`.
Status add_stability(Database& db, const std::vector<std::string>& kernels,
                     std::vector<Candidate>& candidates, std::vector<std::string>& warnings);

}  // namespace probeseek::detail
