#include "rank_rules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>

#include "probeseek/compat.h"
#include "probeseek/saturating.h"
#include "probeseek/text.h"

namespace probeseek::rules {

namespace {

constexpr const Weights& w = kWeights;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v == std::floor(v) ? "%.0f" : "%.1f", v);
  return buf;
}

template <typename T, typename Of>
T sum(const Candidate& c, Of of) {
  T out = 0;
  for (const SessionEvidence& s : c.sessions) {
    if constexpr (std::is_same_v<T, int64_t>)
      add_to(out, of(s));
    else
      out += of(s);
  }
  return out;
}

// One session's syscalls: each one the entry points of one syscall (one stem: __x64_sys_sendto
// and __ia32_sys_sendto are sendto; a name without a known prefix stands for itself), in the
// order the session lists them.
struct SessionSyscalls {
  std::string session;
  std::vector<std::vector<std::string>> syscalls;
};

std::string_view key_of(std::string_view name) {
  std::string_view stem = syscall_stem(name);
  return stem.empty() ? name : stem;
}

std::vector<SessionSyscalls> syscalls_by_session(const Candidate& c) {
  std::vector<SessionSyscalls> out;
  for (const SessionEvidence& s : c.sessions) {
    SessionSyscalls& mine = out.emplace_back(SessionSyscalls{s.session, {}});
    for (const std::string& name : s.syscalls) {
      auto same = std::find_if(mine.syscalls.begin(), mine.syscalls.end(),
                               [&](const auto& g) { return key_of(g.front()) == key_of(name); });
      if (same == mine.syscalls.end())
        mine.syscalls.push_back({name});
      else if (std::find(same->begin(), same->end(), name) == same->end())
        same->push_back(name);
    }
  }
  return out;
}

// "__x64_sys_sendto, __x64_sys_write", or "sendto (__x64_sys_sendto, __ia32_sys_sendto)" for a
// syscall entered through several entry points.
std::string describe(const std::vector<std::vector<std::string>>& syscalls) {
  std::vector<std::string> parts;
  for (const auto& names : syscalls)
    parts.push_back(names.size() == 1
                        ? names.front()
                        : std::string(key_of(names.front())) + " (" + join(names) + ")");
  return join(parts);
}

std::vector<std::vector<std::string>> sorted(std::vector<std::vector<std::string>> syscalls) {
  for (auto& names : syscalls) std::sort(names.begin(), names.end());
  std::sort(syscalls.begin(), syscalls.end());
  return syscalls;
}

// Entry points reaching it in any session, first seen first.
std::vector<std::string> syscall_names(const Candidate& c) {
  std::vector<std::string> out;
  for (const SessionEvidence& s : c.sessions)
    for (const std::string& name : s.syscalls)
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  return out;
}

}  // namespace

std::string_view syscall_stem(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {
      "__x64_sys_",   "__ia32_compat_sys_", "__x32_compat_sys_", "__ia32_sys_",
      "__arm64_sys_", "__do_sys_",          "__se_sys_"};
  for (auto p : kPrefixes)
    if (name.size() > p.size() && name.substr(0, p.size()) == p) return name.substr(p.size());
  return {};
}

std::string_view not_held_in_memory() {
  return "no ops table in kernel memory held it at record time, although its prototype fits "
         "(tables that do not start at a symbol, such as array elements, are not seen)";
}

Terms module_note(const Evidence& e) {
  const Candidate& c = e.candidate;
  if (!e.module_missing.empty()) return {{0, "in module " + c.module + ": " + e.module_missing}};
  if (!c.prototype_source.empty())
    return {{0, "in module " + c.module + "; prototype from " + c.prototype_source}};
  return {};
}

Terms argument_match(const Evidence& e) {
  const Candidate& c = e.candidate;
  if (e.scope->arg.empty() || c.arg_positions.empty() || !c.prototype) return {};
  int pos = c.arg_positions.front();
  const Parameter& p = c.prototype->params.at(static_cast<size_t>(pos));
  return {{pos == 0 ? w.arg_first : w.arg_other,
           "argument " + std::to_string(pos) + " (" + p.type +
               (p.name.empty() ? "" : " " + p.name) + ") is " + e.scope->arg +
               (pos == 0 ? ", the object the function acts on" : "")}};
}

std::string fit_text(const OpsFit& f) {
  return std::string(f.is_union ? "union " : "struct ") + f.struct_name + " member " + f.member +
         " (" + std::string(to_string(f.strength)) + ": " + f.explanation + ")";
}

// What a dispatcher covers: "dispatcher of file_operations.read_iter: covers every
// implementation of it (3 seen: ...)".
std::string dispatcher_text(const Candidate& c, bool scanned) {
  std::string out = c.layer.summary();
  if (!c.ops.empty())
    out += std::string("; it has the shape of ") + fit_text(c.ops.front()) + " itself" +
           (scanned ? ", and no table in kernel memory holds it" : "");
  return out;
}

// Only the best fit counts: the others' names agree less (OpsIndex::fits sorts them). A
// dispatcher earns what its fit would: it covers every implementation of the member.
Terms ops_fit(const Evidence& e) {
  const Candidate& c = e.candidate;
  const bool dispatcher = c.layer.dispatcher() && !c.layer.implementation();
  if (c.ops.empty())
    return dispatcher ? Terms{{0, dispatcher_text(c, e.scope->all_scanned)}} : Terms{};
  const OpsFit& best = c.ops.front();
  double points = best.strength == OpsStrength::kStrong   ? w.ops_strong
                  : best.strength == OpsStrength::kMedium ? w.ops_medium
                                                          : w.ops_weak;
  if (best.is_union) points /= w.union_divisor;
  if (dispatcher) return {{points, dispatcher_text(c, e.scope->all_scanned)}};
  return {{points, "fits " + fit_text(best) +
                       (best.is_union ? "; a union, weaker than a struct of ops" : "")}};
}

// What record read out of kernel memory: a table really holds it (the kernel calls it through
// that slot), or no table does although the prototype fits.
Terms ops_in_memory(const Evidence& e) {
  const Candidate& c = e.candidate;
  if (!c.verified_ops.empty())
    return {
        {w.ops_in_memory, "verified in kernel memory: " + c.verified_ops.front() +
                              (c.verified_ops.size() > 1
                                   ? " and " + std::to_string(c.verified_ops.size() - 1) + " more"
                                   : "")}};
  if (!c.ops.empty() && e.scope->all_scanned && !c.layer.dispatcher())
    return {{0, std::string(not_held_in_memory())}};
  return {};
}

// An implementation: what it covers, and the siblings a complete answer also needs.
Terms layer_note(const Evidence& e) {
  const Layer& l = e.candidate.layer;
  if (!l.implementation()) return {};
  std::string text = l.summary();
  std::vector<std::string> family = l.family();
  if (!family.empty())
    text += "; the same for another address family: " + join(family, "; ") + " (rank --complete)";
  return {{0, text}};
}

// Close to the syscall (or --under) is where the operation starts and its arguments are the
// caller's; deep down are helpers of helpers.
Terms depth(const Evidence& e) {
  int depth = -1;
  for (const SessionEvidence& s : e.candidate.sessions)
    if (s.min_depth_below >= 0)
      depth = depth < 0 ? s.min_depth_below : std::min(depth, s.min_depth_below);
  if (depth < 0) return {};
  double points = std::clamp(w.depth_origin - depth, w.depth_min, w.depth_max);
  if (points == 0) return {};
  std::string from = e.scope->under.empty() ? "its syscall entry" : e.scope->under;
  return {{points, std::to_string(depth) + " level" + (depth == 1 ? "" : "s") + " below " + from +
                       (points > 0 ? ": near where the operation starts"
                                   : ": a helper deep inside the operation")}};
}

// Generic helpers (locks, allocators) are reached from everywhere: poor hooks. Counted per
// session, the most in any one (two recordings of different syscalls are each one syscall's
// work); the words list what was counted, per session when the sessions differ.
Terms syscall_reach(const Evidence& e) {
  std::vector<SessionSyscalls> sessions = syscalls_by_session(e.candidate);
  std::erase_if(sessions, [](const SessionSyscalls& s) { return s.syscalls.empty(); });
  if (sessions.empty()) return {};
  const SessionSyscalls* most = &sessions.front();
  bool alike = true;
  for (const SessionSyscalls& s : sessions) {
    if (s.syscalls.size() > most->syscalls.size()) most = &s;
    alike &= sorted(s.syscalls) == sorted(sessions.front().syscalls);
  }
  const size_t n = most->syscalls.size();
  std::string list = describe(sessions.front().syscalls);
  if (!alike) {
    list.clear();
    for (const SessionSyscalls& s : sessions)
      list += (list.empty() ? "" : "; ") + s.session + ": " + describe(s.syscalls);
  }
  const std::string each = alike ? "" : " in each session";
  if (n == 1) return {{w.one_syscall, "reached from one syscall only" + each + " (" + list + ")"}};
  if (n <= w.few_syscalls_max)
    return {{w.few_syscalls, "reached from " + std::string(alike ? "" : "at most ") +
                                 std::to_string(n) + " syscalls" + each + " (" + list + ")"}};
  if (n >= w.many_syscalls_min)
    return {{w.many_syscalls, "reached from " + std::to_string(n) + " syscalls" +
                                  (alike ? "" : " in session " + most->session) +
                                  ": a generic helper, it fires for unrelated work"}};
  return {};
}

// The syscall dispatches through an ops member of its own name (connect(2) -> ->connect): the
// function implementing that member is the operation itself, and so is the dispatcher that
// calls through it (vfs_read calls ->read_iter for read(2)).
Terms implements_syscall_member(const Evidence& e) {
  const Candidate& c = e.candidate;
  std::vector<std::string> entries = syscall_names(c);
  if (!e.scope->under.empty()) entries = {e.scope->under};
  const Layer& l = c.layer;
  for (const std::string& entry : entries) {
    std::string_view stem = syscall_stem(entry);
    if (stem.empty()) continue;
    if (l.dispatcher() && !l.implementation()) {
      for (const Dispatch& d : l.dispatches)
        if (d.member == stem || d.member.rfind(std::string(stem) + "_", 0) == 0)
          return {{w.implements_member, "calls through ->" + d.member + " for " + entry +
                                            ": the operation itself, one layer above its "
                                            "implementations"}};
    }
    auto fit = std::find_if(c.ops.begin(), c.ops.end(), [&](const OpsFit& f) {
      return f.member == stem && f.strength != OpsStrength::kWeak;
    });
    if (fit == c.ops.end()) continue;
    if (l.dispatcher() && !l.implementation())
      return {{w.implements_member, "has the shape of ->" + fit->member + ", the ops member " +
                                        entry +
                                        " dispatches to, and calls the implementations "
                                        "below it"}};
    if (e.scope->all_scanned && !l.implementation())
      return {{w.implements_member, "has the shape of ->" + fit->member + ", the ops member " +
                                        entry +
                                        " dispatches to; no table in kernel memory "
                                        "holds it"}};
    return {{w.implements_member,
             "implements ->" + fit->member + ", the ops member " + entry + " dispatches to"}};
  }
  return {};
}

// The object was visible one level up, and a hook there sees it first.
Terms callers_hold_arg(const Evidence& e) {
  if (e.arg_holders.empty()) return {};
  return {{w.callers_hold_arg, "always called from functions that already receive " + e.scope->arg +
                                   " (" + join(e.arg_holders) + ")"}};
}

Terms callers(const Evidence& e) {
  int64_t callers = 0;
  for (const SessionEvidence& s : e.candidate.sessions) callers = std::max(callers, s.callers);
  if (callers == 1) return {{w.one_caller, "one caller: a single path leads here"}};
  if (callers >= w.many_callers_min)
    return {{w.many_callers, std::to_string(callers) + " distinct callers: shared by many paths"}};
  return {};
}

Terms share_below_under(const Evidence& e) {
  const std::string& under = e.scope->under;
  if (under.empty()) return {};
  auto task = sum<int64_t>(e.candidate, [](const SessionEvidence& s) { return s.task_calls; });
  auto anywhere =
      sum<int64_t>(e.candidate, [](const SessionEvidence& s) { return s.session_task_calls; });
  double share = anywhere > 0 ? static_cast<double>(task) / static_cast<double>(anywhere) : 1.0;
  if (share >= w.share_high_min)
    return {{w.share_high, fmt(share * 100) + "% of its calls are below " + under}};
  if (share <= w.share_low_max)
    return {{w.share_low, "only " + fmt(share * 100) + "% of its calls are below " + under +
                              ": it serves other paths too"}};
  return {};
}

// A hook should fire once per operation, not in a loop.
Terms calls_per_invocation(const Evidence& e) {
  auto roots = sum<int64_t>(e.candidate, [](const SessionEvidence& s) { return s.roots; });
  if (roots <= 0) return {};
  auto task = sum<int64_t>(e.candidate, [](const SessionEvidence& s) { return s.task_calls; });
  double rate = static_cast<double>(task) / static_cast<double>(roots);
  std::string per = e.scope->under.empty() ? "syscall invocation" : e.scope->under + " call";
  if (rate >= w.once_min && rate <= w.once_max)
    return {{w.once_per_root, "about once per " + per + " that reaches it"}};
  if (rate <= w.few_max)
    return {{w.few_per_root, fmt(rate) + " calls per " + per + " that reaches it"}};
  if (rate >= w.loop_min)
    return {{w.loop, fmt(rate) + " calls per " + per + ": a helper called in a loop"}};
  return {};
}

Terms session_coverage(const Evidence& e) {
  const size_t all = e.scope->sessions, seen = e.candidate.sessions.size();
  if (all <= 1) return {};
  if (seen >= all) return {{w.all_sessions, "seen in all " + std::to_string(all) + " sessions"}};
  return {
      {w.per_missing_session * static_cast<double>(all - seen),
       "missing from " + std::to_string(all - seen) + " of " + std::to_string(all) + " sessions"}};
}

Terms interrupt_note(const Evidence& e) {
  auto calls = sum<int64_t>(e.candidate, [](const SessionEvidence& s) { return s.calls; });
  auto task = sum<int64_t>(e.candidate, [](const SessionEvidence& s) { return s.task_calls; });
  if (calls <= task) return {};
  return {{0, std::to_string(saturating_sub(calls, task)) +
                  " of its calls ran in interrupt context and were set aside"}};
}

namespace {

std::string seconds(int64_t ns) {
  double s = static_cast<double>(ns) / 1e9;
  char buf[32];
  if (s >= 1)
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  else
    std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  return buf;
}

}  // namespace

std::string sleep_text(const std::vector<SessionEvidence>& sessions) {
  int64_t total = 0, asleep = 0, open = 0;
  for (const SessionEvidence& s : sessions) {
    add_to(total, s.total_ns);
    add_to(asleep, s.asleep_ns);
    add_to(open, s.asleep_at_end);
  }
  const bool mostly = asleep >= w.sleep_min_ns &&
                      static_cast<double>(asleep) >= w.sleep_share_min * static_cast<double>(total);
  if (!mostly && open == 0) return "";
  std::string text = "sleeps:";
  if (asleep > 0 && total > 0)
    text +=
        " " +
        fmt(std::min(
            100.0,
            std::round(1000.0 * static_cast<double>(asleep) / static_cast<double>(total)) / 10)) +
        "% of its " + seconds(total) + " below " + kSleeper + "()";
  if (open > 0)
    text += std::string(asleep > 0 && total > 0 ? "," : "") + " " + std::to_string(open) +
            (open == 1 ? " call" : " calls") + " still asleep when the recording ended";
  return text +
         "; a return probe (kretprobe, fexit) misses calls already waiting when it is attached, "
         "an entry probe (kprobe, fentry) does not";
}

Terms sleeps(const Evidence& e) {
  const Candidate& c = e.candidate;
  std::string text = sleep_text(c.sessions);
  if (text.empty()) return {};
  // The object asked for is what it returns: only a return probe sees it.
  if (c.prototype && !e.scope->arg.empty() && !e.returns_arg.empty())
    return {{w.sleeps_returning_arg,
             text + "; the " + e.returns_arg + " it returns is seen only at return"}};
  return {{0, text}};
}

Candidate apply(Evidence e) {
  Candidate& c = e.candidate;
  for (Rule rule : kEvidenceRules)
    for (ScoreTerm& t : rule(e)) c.terms.push_back(std::move(t));
  for (const ScoreTerm& t : c.terms) c.score += t.points;
  return std::move(e.candidate);
}

Terms hookability(const Hookability& h) {
  Terms out;
  if (!h.hookable)
    out.push_back({w.not_hookable,
                   "not hookable: " + (h.reasons.empty() ? std::string() : h.reasons.front())});
  else if (h.clone)
    out.push_back({w.clone, "a compiler clone: the ABI may differ from the BTF prototype"});
  if (h.hookable && h.same_name_symbols > 1)
    out.push_back({w.same_name_statics,
                   std::to_string(h.same_name_symbols) + " static functions share the name"});
  return out;
}

// A hook that works the same everywhere gains a little; one that is missing, untraceable or
// blacklisted somewhere loses as much as being unhookable costs there; a changed prototype
// loses less (a probe per kernel family still works).
Terms stability(const Stability& s) {
  double points = 0;
  std::vector<std::string> why;
  for (const auto& [status, where] : s.kernels_by_status) {
    if (status == "ok") continue;
    double cost = status == "prototype_changed" ? w.prototype_changed
                  : status == "duplicate"       ? w.duplicate
                                                : w.unavailable;
    points = std::min(points, cost);
    std::string text = status + " on " + describe_kernels(where);
    if (status == "prototype_changed" && !s.first_change.empty()) text += ": " + s.first_change;
    why.push_back(text);
  }
  if (why.empty())
    return {{w.stable, "stable: ok on every catalogued kernel checked, " + s.checked +
                           ", against " + s.reference}};
  return {{points, "unstable: " + join(why, "; ") + " (against " + s.reference + ")"}};
}

Terms verified_live(const Candidate::Verified& v) {
  return {{0, "verified live " + v.at + ": " + v.summary + " under `" + v.command + "`"}};
}

}  // namespace probeseek::rules
