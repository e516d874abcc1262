// Internal to probeseek_discover: rank's scoring as named rules (docs/rank.md). Each rule reads
// one candidate's evidence and returns the terms it earns, zero or more, each {points, reason};
// every weight and threshold is in kWeights, the one table of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/rank.h"

namespace probeseek::rules {

struct Weights {
  double arg_first = 12, arg_other = 8;  // --arg matches parameter 0, or another one
  // An ops-table fit, by strength; divided for a union (a list of slots, not an ops table).
  double ops_strong = 30, ops_medium = 15, ops_weak = 3, union_divisor = 2;
  double ops_in_memory = 10;     // record found it in a table slot in kernel memory
  double implements_member = 8;  // the fit's member has the syscall's name
  // Levels below --under (or the syscall entry): depth_origin - depth, within the bounds.
  double depth_origin = 8, depth_max = 6, depth_min = -4;
  // Syscalls reaching it in a session (the most in any one).
  double one_syscall = 12, few_syscalls = 6, many_syscalls = -15;
  size_t few_syscalls_max = 3, many_syscalls_min = 10;
  double callers_hold_arg = -6;  // every caller already receives --arg's type
  double one_caller = 4, many_callers = -8;
  int64_t many_callers_min = 8;
  // Share of its task-context calls that are below --under.
  double share_high = 8, share_low = -8, share_high_min = 0.9, share_low_max = 0.25;
  // Task-context calls per invocation of --under (or of a syscall) that reaches it.
  double once_per_root = 10, few_per_root = 4, loop = -10;
  double once_min = 0.5, once_max = 1.5, few_max = 3, loop_min = 10;
  double all_sessions = 10, per_missing_session = -5;
  double not_hookable = -50, clone = -6, same_name_statics = -3;
  // --kernels: ok everywhere; else the worst status's cost.
  double stable = 5, prototype_changed = -10, duplicate = -5, unavailable = -20;
  // Sleeps: at least this share of its time, and this much, below schedule(); or a call still
  // asleep when the recording ended. Costs only when --arg's type is what it returns.
  double sleep_share_min = 0.5;
  int64_t sleep_min_ns = 1000000;
  double sleeps_returning_arg = -5;
};
inline constexpr Weights kWeights{};

// The request's part of the evidence, the same for every candidate.
struct Scope {
  std::string under;         // --under FUNC; "" when reach is counted from syscall entries
  std::string arg;           // --arg's type as TypeQuery::text() writes it; "" without --arg
  size_t sessions = 1;       // sessions requested
  bool all_scanned = false;  // record read the ops tables of every one of them
};

// One candidate's evidence: in `candidate` the function, its prototype, module, arg_positions,
// ops fits (best first), verified_ops and per-session evidence (terms still empty).
struct Evidence {
  const Scope* scope = nullptr;
  Candidate candidate;
  std::string module_missing;            // why its module has no BTF, "" when it has
  std::vector<std::string> arg_holders;  // with --arg: its callers, when every one takes it
  std::string returns_arg;               // with --arg: its return type, when it is --arg's type
};

using Terms = std::vector<ScoreTerm>;
using Rule = Terms (*)(const Evidence&);

// The evidence rules; the words of their reasons are in rank_rules.cpp, the points in kWeights.
Terms module_note(const Evidence& e);     // 0: a module function, where its prototype came from
Terms argument_match(const Evidence& e);  // --arg's type is a parameter: which one
Terms ops_fit(const Evidence& e);         // its best ops-table fit, by strength
Terms ops_in_memory(const Evidence& e);   // record found it in a table slot (or, 0, in none)
Terms layer_note(const Evidence& e);      // 0: an implementation, what it covers, its siblings
Terms depth(const Evidence& e);           // near the start of the operation, or deep inside it
// Syscalls reaching it, per session (docs/rank.md: "what one syscall means").
Terms syscall_reach(const Evidence& e);
Terms implements_syscall_member(const Evidence& e);  // connect(2) dispatches to ->connect
Terms callers_hold_arg(const Evidence& e);      // --arg: every caller already receives the type
Terms callers(const Evidence& e);               // one caller, or many
Terms share_below_under(const Evidence& e);     // --under: how many of its calls are below it
Terms calls_per_invocation(const Evidence& e);  // once per operation, or in a loop
// With several sessions: seen in all of them, or missing from some.
Terms session_coverage(const Evidence& e);
Terms interrupt_note(const Evidence& e);  // 0: calls in interrupt context, set aside
// It sleeps: a return probe misses calls already waiting when attached (0, or a cost when the
// object --arg asks for is what it returns).
Terms sleeps(const Evidence& e);

// The evidence rules, in the order their reasons are printed.
inline constexpr Rule kEvidenceRules[] = {module_note,
                                          argument_match,
                                          ops_fit,
                                          ops_in_memory,
                                          layer_note,
                                          depth,
                                          syscall_reach,
                                          implements_syscall_member,
                                          callers_hold_arg,
                                          callers,
                                          share_below_under,
                                          calls_per_invocation,
                                          session_coverage,
                                          interrupt_note,
                                          sleeps};

// Runs every evidence rule: the candidate with its terms and score.
Candidate apply(Evidence e);

// Applied once the candidate is among the best (a verdict costs lookups).
Terms hookability(const Hookability& h);

// --kernels: the candidate's compat statuses over the catalogue ("ok", "prototype_changed", ...)
// with the kernels of each; `checked` and `reference` as describe_kernels() and compat name them.
struct Stability {
  std::map<std::string, std::vector<std::string>> kernels_by_status;
  std::string first_change;  // the first prototype change found, "" when none
  std::string checked;
  std::string reference;
};
Terms stability(const Stability& s);

// A stored 'probeseek verify' run: it confirms, it does not score.
Terms verified_live(const Candidate::Verified& v);

// Shared with explain: the words for a fit no table held when record read kernel memory.
std::string_view not_held_in_memory();

// The function whose calls are time off the CPU: every sleep, and every wait to run again after
// one, goes through it (schedule_timeout, io_schedule and the wait_event family call it).
inline constexpr const char* kSleeper = "schedule";

// "sleeps: 99.8% of its 2.8 s below schedule() ..." for these sessions, "" when it does not.
std::string sleep_text(const std::vector<SessionEvidence>& sessions);

// "__x64_sys_connect" -> "connect"; "" for names that are not syscall entry points.
std::string_view syscall_stem(std::string_view name);

}  // namespace probeseek::rules
