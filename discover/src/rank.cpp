#include "probeseek/rank.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "layers.h"
#include "probeseek/compat.h"
#include "probeseek/ops_index.h"
#include "probeseek/ops_store.h"
#include "probeseek/saturating.h"
#include "probeseek/session_queries.h"
#include "probeseek/sleep_queries.h"
#include "probeseek/text.h"
#include "probeseek/verification_store.h"
#include "rank_rules.h"
#include "stability.h"

namespace probeseek {

std::vector<std::string> Candidate::reasons() const {
  std::vector<std::string> out;
  for (const ScoreTerm& t : terms) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%+.0f", t.points);
    out.push_back(std::string(buf) + " " + t.reason);
  }
  return out;
}

Result<BtfChoice> choose_btf(Database& db, const std::vector<SessionSummary>& sessions,
                             const std::optional<std::string>& btf_path,
                             const std::string& live_btf_path) {
  BtfChoice choice;
  if (btf_path) {
    auto btf = Btf::load(*btf_path);
    if (!btf) {
      Error e = btf.error();
      e.kind = ErrorKind::kBadInput;
      return tl::unexpected(e);
    }
    // The same bytes may be stored, with module BTF over them (import --btf --module-btf).
    auto stored_id = find_btf(db, btf->raw_bytes());
    if (!stored_id) return tl::unexpected(stored_id.error());
    choice.stored_id = *stored_id;
    choice.btf = std::move(*btf);
    choice.source = *btf_path;
    return choice;
  }
  for (const SessionSummary& s : sessions) {
    auto stored = load_session_btf(db, s.id);
    if (!stored) return tl::unexpected(stored.error());
    if (!*stored) continue;
    auto btf = Btf::from_bytes((*stored)->bytes, (*stored)->source);
    if (!btf) return tl::unexpected(btf.error());
    choice.btf = std::move(*btf);
    choice.source = (*stored)->source + " (stored with session " + s.name + ")";
    choice.stored_id = (*stored)->id;
    return choice;
  }
  std::string here = running_release();
  auto live = Btf::load(live_btf_path);
  if (!live) {
    choice.warnings.push_back(
        "no BTF: " + live.error().message() +
        "; prototypes, --arg and ops-table evidence are missing. Pass --btf FILE (the traced "
        "kernel's /sys/kernel/btf/vmlinux) to import, rank or explain");
    return choice;
  }
  choice.btf = std::move(*live);
  choice.live = true;
  choice.source = live_btf_path + " (this machine, " + here + ")";
  for (const SessionSummary& s : sessions) {
    if (s.kernel_release.empty())
      choice.warnings.push_back("session " + s.name +
                                " does not say which kernel it came from; "
                                "using this machine's BTF (" +
                                here + "): pass --btf FILE if it was recorded elsewhere");
    else if (s.kernel_release != here)
      choice.warnings.push_back("session " + s.name + " was recorded on " + s.kernel_release +
                                ", this machine runs " + here +
                                ": prototypes may differ; pass --btf FILE with that kernel's BTF "
                                "(or import it with --btf)");
  }
  return choice;
}

ModuleBtfs::Options module_btf_options(const BtfChoice& choice, const std::string& live_btf_path) {
  ModuleBtfs::Options options;
  options.stored_base_id = choice.stored_id;
  if (choice.live) {
    size_t slash = live_btf_path.find_last_of('/');
    options.live_dir = slash == std::string::npos ? "." : live_btf_path.substr(0, slash);
  }
  return options;
}

namespace {

Result<std::vector<SessionSummary>> resolve_sessions(Store& store,
                                                     const std::vector<std::string>& names) {
  auto all = store.sessions();
  if (!all) return tl::unexpected(all.error());
  if (all->empty())
    return bad_input("the database holds no session", "",
                     "import a recording first: probeseek import FILE");
  if (names.empty()) return *all;
  std::vector<SessionSummary> out;
  for (const std::string& n : names) {
    auto s = store.session(n);
    if (!s) return tl::unexpected(s.error());
    out.push_back(*s);
  }
  return out;
}

// Per-function evidence of one session, keyed by function name (same-name static functions
// are summed: the recording cannot tell their calls apart by name).
using EvidenceMap = std::unordered_map<std::string, SessionEvidence>;

Status gather_session_wide(Database& db, const SessionSummary& s, EvidenceMap& out) {
  auto done = for_each_function_stats(db, s.id, [&](const FunctionStatsRow& row) {
    SessionEvidence& e = out[row.name];
    e.session = s.name;
    add_to(e.session_calls, row.calls);
    add_to(e.session_task_calls, row.task_calls);
    e.callers = std::max(e.callers, row.callers);
    add_to(e.total_ns, row.total_ns);
  });
  if (!done) return done;
  // Time below schedule(): asleep, or waiting to run (rules::sleeps).
  auto asleep = time_below(db, s.id, rules::kSleeper);
  if (!asleep) return tl::unexpected(asleep.error());
  for (const TimeBelowRow& t : *asleep) {
    auto it = out.find(t.name);
    if (it == out.end()) continue;
    add_to(it->second.asleep_ns, t.ns);
    add_to(it->second.asleep_at_end, t.open);
  }
  return for_each_function_syscall(db, s.id, [&](const FunctionSyscallRow& row) {
    SessionEvidence& e = out[row.name];
    e.syscalls.push_back(row.syscall);
    // Reach through syscalls counts task-context calls only: a softirq that happened to run
    // inside a syscall is not that syscall's work.
    if (row.task_calls > 0) {
      add_to(e.roots, row.invocations);
      add_to(e.root_invocations, row.syscall_invocations);
      int d = static_cast<int>(std::clamp<int64_t>(row.min_depth_below, 0, INT32_MAX));
      e.min_depth_below = e.min_depth_below < 0 ? d : std::min(e.min_depth_below, d);
    }
  });
}

// Calls below any call of `under` (its own calls excluded), attributed to the outermost call
// of `under` that contains them. One range scan per outermost call, aggregated here: a
// call's descendants are its task's calls with ids in (id, end_id].
Status gather_under(Database& db, const SessionSummary& s, const std::string& under,
                    EvidenceMap& out, int64_t& root_invocations) {
  auto spans = calls_of(db, s.id, under);
  if (!spans) return tl::unexpected(spans.error());
  std::vector<CallSpan> outer;
  root_invocations = static_cast<int64_t>(spans->size());
  for (const CallSpan& r : *spans) {
    bool nested = false;
    for (const CallSpan& o : outer)
      nested |= o.task_id == r.task_id && r.id > o.id && r.id <= o.end_id;
    if (!nested) outer.push_back(r);
  }
  if (outer.empty()) return {};
  auto below = CallsInSpan::make(db);
  if (!below) return tl::unexpected(below.error());
  struct Acc {
    int64_t calls = 0, task_calls = 0, roots = 0, last_root = -1;
    int min_depth = -1;
    std::unordered_set<int64_t> callers;
  };
  std::unordered_map<int64_t, Acc> by_function;
  for (const CallSpan& r : outer) {
    auto done = below->for_each(r, [&](const CallInSpan& c) {
      Acc& a = by_function[c.function_id];
      ++a.calls;
      if (c.context != 0) return;  // interrupt work: counted, set aside
      ++a.task_calls;
      if (a.last_root != r.id) {
        ++a.roots;
        a.last_root = r.id;
      }
      int d = static_cast<int>(
          std::clamp<int64_t>(static_cast<int64_t>(c.depth) - r.depth, 0, INT32_MAX));
      a.min_depth = a.min_depth < 0 ? d : std::min(a.min_depth, d);
      if (c.parent_function_id) a.callers.insert(*c.parent_function_id);
    });
    if (!done) return done;
  }
  return for_each_function(db, s.id, [&](int64_t id, const std::string& name) {
    auto it = by_function.find(id);
    if (it == by_function.end()) return;
    const Acc& a = it->second;
    SessionEvidence& e = out[name];
    e.session = s.name;
    add_to(e.calls, a.calls);
    add_to(e.task_calls, a.task_calls);
    e.interrupt_calls = saturating_sub(e.calls, e.task_calls);
    add_to(e.roots, a.roots);
    e.root_invocations = root_invocations;
    e.callers = std::max<int64_t>(e.callers, static_cast<int64_t>(a.callers.size()));
    if (a.min_depth >= 0)
      e.min_depth_below =
          e.min_depth_below < 0 ? a.min_depth : std::min(e.min_depth_below, a.min_depth);
  });
}

// Hookability lookups backed by the sessions' symbol sets; warnings say what is missing.
Result<std::unique_ptr<SymbolLookups>> open_symbols(Database& db,
                                                    const std::vector<SessionSummary>& sessions,
                                                    std::vector<std::string>& warnings) {
  std::vector<int64_t> ids;
  for (auto& s : sessions) ids.push_back(s.id);
  auto lookups = SymbolLookups::open(db, ids);
  if (!lookups) return lookups;
  if (!(*lookups)->has_filter_functions())
    warnings.push_back(
        "no available_filter_functions for these sessions: traceability is "
        "unknown; import it with --filter-functions FILE");
  if (!(*lookups)->has_kprobe_blacklist())
    warnings.push_back(
        "no kprobe blacklist for these sessions: import it with "
        "--kprobe-blacklist FILE (/sys/kernel/debug/kprobes/blacklist)");
  if (!(*lookups)->has_kallsyms())
    warnings.push_back(
        "no kallsyms for these sessions: same-name statics, clones, exports and "
        "inlining cannot be checked; import with --kallsyms FILE");
  return lookups;
}

HookabilityInputs hookability_inputs(SymbolLookups& symbols, const Btf* btf) {
  HookabilityInputs in;
  if (symbols.has_filter_functions())
    in.traceable = [&symbols](std::string_view n) { return symbols.traceable(n); };
  if (symbols.has_kprobe_blacklist())
    in.blacklisted = [&symbols](std::string_view n) { return symbols.blacklisted(n); };
  if (symbols.has_kallsyms())
    in.kallsyms_count = [&symbols](std::string_view n) { return symbols.kallsyms_count(n); };
  in.btf = btf;
  return in;
}

// What one ranking reads besides the recordings: the --arg query, BTF and module BTF over it,
// the ops index, record's ops scan, the symbol sets. Filled in place (the pointers may point
// into it); members in the order they must be destroyed last to first.
struct Inputs {
  std::optional<TypeQuery> query;
  BtfChoice loaded;
  const Btf* btf = nullptr;
  std::optional<OpsIndex> built_ops;
  const OpsIndex* ops = nullptr;
  std::optional<ModuleBtfs> own_modules;  // split over `loaded`'s BTF, which must outlive it
  ModuleBtfs* modules = nullptr;
  StoredOps stored_ops;
  std::unique_ptr<SymbolLookups> symbols;
  HookabilityInputs hook_inputs;
  layers::Edges callers, callees;  // task context
  std::unordered_map<std::string, std::vector<OpsFit>> fits_cache;
  // Prototypes asked for by name, each built once (a candidate's own, its fits', its callers').
  mutable std::unordered_map<std::string, FunctionBtf> btf_cache;
  layers::Inputs layer;

  const FunctionBtf& function_btf(std::string_view function) const {
    auto [it, fresh] = btf_cache.try_emplace(std::string(function));
    if (fresh) it->second = find_function_btf(function, btf, symbols.get(), modules);
    return it->second;
  }
  // A function's ops fits, from its own BTF (a module's split BTF for a module function).
  const std::vector<OpsFit>& fits_of(std::string_view function) {
    auto [it, fresh] = fits_cache.try_emplace(std::string(function));
    if (!fresh || !ops) return it->second;
    const FunctionBtf& fb = function_btf(function);
    const OpsIndex* proto_ops = ops;
    if (fb.prototype && !fb.source.empty() && modules) proto_ops = modules->ops(fb.module);
    if (fb.prototype && proto_ops) it->second = proto_ops->fits(*fb.btf, *fb.prototype);
    return it->second;
  }
};

// The --arg query, the BTF (the request's, else choose_btf's), its ops index and module BTF.
Status load_btf(Database& db, const RankRequest& request,
                const std::vector<SessionSummary>& sessions, Inputs& in, RankResult& result) {
  if (request.arg) {
    auto q = TypeQuery::parse(*request.arg);
    if (!q) return tl::unexpected(q.error());
    in.query = std::move(*q);
  }
  in.btf = request.btf;
  if (!in.btf) {
    auto btf_choice = choose_btf(db, sessions, request.btf_path, request.live.btf);
    if (!btf_choice) return tl::unexpected(btf_choice.error());
    in.loaded = std::move(*btf_choice);
    in.btf = in.loaded.btf ? &*in.loaded.btf : nullptr;
    result.btf_source = in.loaded.source;
    result.warnings = in.loaded.warnings;
  }
  if (in.query && !in.btf)
    return fail(ErrorKind::kRuntime, "--arg needs BTF, and none could be loaded", "", 0,
                "pass --btf FILE with the traced kernel's BTF");
  in.ops = request.ops;
  if (in.btf && !in.ops) {
    in.built_ops = OpsIndex::build(*in.btf);
    in.ops = &*in.built_ops;
  }
  in.modules = request.modules;
  if (in.btf && !in.modules) {
    in.own_modules.emplace(
        db, *in.btf,
        request.btf ? ModuleBtfs::Options{} : module_btf_options(in.loaded, request.live.btf));
    in.modules = &*in.own_modules;
  }
  return {};
}

// --arg names a type of the BTF, or one a module of the sessions defines (its own context
// struct is as good a query for its functions).
Status check_query(Database& db, const std::vector<SessionSummary>& sessions, const Inputs& in) {
  if (!in.query || !in.btf) return {};
  auto s = in.btf->check(*in.query);
  if (s) return {};
  for (const SessionSummary& session : sessions) {
    if (!in.modules) break;
    auto names = session_modules(db, session.id);
    if (!names) return tl::unexpected(names.error());
    for (const std::string& module : *names) {
      const ModuleBtfs::Module& m = in.modules->get(module);
      if (m.btf && m.btf->check(*in.query)) return {};
    }
  }
  return s;
}

Status load_inputs(Database& db, const RankRequest& request,
                   const std::vector<SessionSummary>& sessions, Inputs& in, RankResult& result) {
  if (auto s = load_btf(db, request, sessions, in, result); !s) return s;
  if (auto s = check_query(db, sessions, in); !s) return s;
  std::vector<int64_t> session_ids;
  for (const SessionSummary& s : sessions) session_ids.push_back(s.id);
  auto stored_ops = load_stored_ops(db, session_ids);
  if (!stored_ops) return tl::unexpected(stored_ops.error());
  in.stored_ops = std::move(*stored_ops);
  auto symbols = open_symbols(db, sessions, result.warnings);
  if (!symbols) return tl::unexpected(symbols.error());
  in.symbols = std::move(*symbols);
  in.hook_inputs = hookability_inputs(*in.symbols, in.btf);
  if (auto s = layers::task_edges(db, session_ids, in.callers, in.callees); !s) return s;
  in.layer.stored = &in.stored_ops;
  in.layer.scanned = !sessions.empty() && in.stored_ops.scanned.size() == sessions.size();
  in.layer.callees = &in.callees;
  in.layer.fits_of = [&in](std::string_view f) -> const std::vector<OpsFit>& {
    return in.fits_of(f);
  };
  in.layer.recorded = [&in](std::string_view f) {
    return in.callers.find(f) != in.callers.end() || in.callees.find(f) != in.callees.end();
  };
  in.layer.btf = in.btf;
  in.layer.ops = in.ops;
  return {};
}

// Evidence per session, per function name: over whole sessions, or below --under.
Result<std::vector<EvidenceMap>> gather(Database& db, const RankRequest& request,
                                        const std::vector<SessionSummary>& sessions,
                                        RankResult& result) {
  std::vector<EvidenceMap> evidence(sessions.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    const SessionSummary& s = sessions[i];
    EvidenceMap wide;
    if (auto st = gather_session_wide(db, s, wide); !st) return tl::unexpected(st.error());
    if (request.under.empty()) {
      for (auto& [name, e] : wide) {
        e.calls = e.session_calls;
        e.task_calls = e.session_task_calls;
        e.interrupt_calls = saturating_sub(e.calls, e.task_calls);
      }
      evidence[i] = std::move(wide);
      continue;
    }
    int64_t roots = 0;
    EvidenceMap below;
    if (auto st = gather_under(db, s, request.under, below, roots); !st)
      return tl::unexpected(st.error());
    if (roots == 0)
      result.warnings.push_back("session " + s.name + " has no call of " + request.under);
    for (auto& [name, e] : below) {
      auto it = wide.find(name);
      if (it == wide.end()) continue;
      e.session_calls = it->second.session_calls;
      e.session_task_calls = it->second.session_task_calls;
      e.syscalls = it->second.syscalls;
      e.total_ns = it->second.total_ns;
      e.asleep_ns = it->second.asleep_ns;
      e.asleep_at_end = it->second.asleep_at_end;
    }
    evidence[i] = std::move(below);
  }
  return evidence;
}

// --under names a function no session holds: bad input, not an empty ranking.
Status check_under(Store& store, const RankRequest& request,
                   const std::vector<SessionSummary>& sessions,
                   const std::vector<EvidenceMap>& evidence, const RankResult& result) {
  if (request.under.empty()) return {};
  for (const EvidenceMap& e : evidence)
    if (!e.empty()) return {};
  for (const SessionSummary& s : sessions)
    if (store.functions(s.id, request.under)) return {};
  return bad_input("function '" + request.under + "' does not appear in the sessions",
                   join(result.sessions), "list what was recorded with: probeseek functions");
}

// With --arg: the task-context callers, when every one of them already receives the type.
std::vector<std::string> arg_holders(const std::string& name, const Inputs& in) {
  if (!in.query) return {};
  auto it = in.callers.find(name);
  if (it == in.callers.end() || it->second.empty()) return {};
  std::vector<std::string> holders;
  for (const std::string& caller : it->second) {
    const FunctionBtf& caller_btf = in.function_btf(caller);
    if (caller_btf.prototype &&
        !caller_btf.btf->matching_params(*caller_btf.prototype, *in.query).empty())
      holders.push_back(caller);
  }
  if (holders.size() != it->second.size()) return {};
  return holders;
}

// Modules of functions seen whose BTF is missing: one warning for all of them.
struct ModulesWithoutBtf {
  std::map<std::string, std::string> why;  // module -> why it has no BTF
  size_t functions = 0;
};

// One function's evidence, or nothing when it is set aside (counted in `result`).
std::optional<rules::Evidence> evidence_of(const std::string& name,
                                           const std::vector<const SessionEvidence*>& seen,
                                           Inputs& in, const rules::Scope& scope,
                                           RankResult& result, ModulesWithoutBtf& no_btf) {
  int64_t task_calls = 0;
  for (const SessionEvidence* e : seen) add_to(task_calls, e->task_calls);
  if (task_calls == 0) {
    // Interrupt work that happened to land inside the traced task: not its doing.
    ++result.interrupt_only;
    return std::nullopt;
  }
  rules::Evidence ev;
  ev.scope = &scope;
  Candidate& c = ev.candidate;
  c.function = name;
  const FunctionBtf& fb = in.function_btf(name);
  c.prototype = fb.prototype;
  c.module = fb.module;
  if (c.prototype) c.prototype_source = fb.source;
  if (!c.prototype) ++result.without_btf;
  ev.module_missing = fb.missing;
  if (!fb.missing.empty() && fb.source.empty()) {  // no BTF for the module at all
    no_btf.why.emplace(fb.module, fb.missing);
    ++no_btf.functions;
  }
  // The prototype's type ids belong to the BTF it came from (a module's split BTF includes
  // vmlinux's types under the same ids), and so do the ops tables it can fit.
  const Btf* proto_btf = fb.btf;
  const OpsIndex* proto_ops = in.ops;
  if (c.prototype && !c.prototype_source.empty() && in.modules)
    proto_ops = in.modules->ops(fb.module);
  if (in.query) {
    if (c.prototype) c.arg_positions = proto_btf->matching_params(*c.prototype, *in.query);
    if (c.arg_positions.empty()) {
      ++result.excluded_by_arg;
      return std::nullopt;
    }
  }
  // The same fits the layers of its callers ask for (Inputs::fits_of): computed once.
  if (proto_ops && c.prototype) c.ops = in.fits_of(name);
  if (const auto* held = in.stored_ops.find(name))
    for (const StoredMembership& m : *held) c.verified_ops.push_back(m.text());
  ev.arg_holders = arg_holders(name, in);
  if (in.query && c.prototype && c.prototype->return_type_id != 0 &&
      proto_btf->type_matches(c.prototype->return_type_id, *in.query))
    ev.returns_arg = c.prototype->return_type;
  for (const SessionEvidence* e : seen) c.sessions.push_back(*e);
  c.layer = layers::layer_of(name, c.ops, in.layer);
  return ev;
}

void warn_modules_without_btf(const ModulesWithoutBtf& no_btf, RankResult& result) {
  if (no_btf.why.empty()) return;
  std::string names;
  for (auto& [module, why] : no_btf.why) names += (names.empty() ? "" : ", ") + module;
  result.warnings.push_back(
      std::to_string(no_btf.functions) + " function" +
      (no_btf.functions == 1 ? " seen is" : "s seen are") + " in module" +
      (no_btf.why.size() == 1 ? " " : "s ") + names +
      " without BTF: their prototypes, --arg and ops-table evidence are missing (" +
      no_btf.why.begin()->second + ")");
}

// Candidates: functions seen (in scope) in any session, or with --require-all in every one.
void score_candidates(const RankRequest& request, const std::vector<EvidenceMap>& evidence,
                      Inputs& in, RankResult& result) {
  std::map<std::string, std::vector<const SessionEvidence*>> seen;
  for (const EvidenceMap& per_function : evidence)
    for (auto& [name, e] : per_function)
      if (e.calls > 0) seen[name].push_back(&e);
  rules::Scope scope;
  scope.under = request.under;
  scope.arg = in.query ? in.query->text() : "";
  scope.sessions = evidence.size();
  scope.all_scanned = in.stored_ops.scanned.size() == evidence.size();
  ModulesWithoutBtf no_btf;
  for (auto& [name, per_session] : seen) {
    if (!request.only_function.empty() && name != request.only_function) continue;
    ++result.considered;
    if (request.require_all && per_session.size() < scope.sessions) {
      ++result.excluded_by_coverage;
      continue;
    }
    auto ev = evidence_of(name, per_session, in, scope, result, no_btf);
    if (ev) result.candidates.push_back(rules::apply(std::move(*ev)));
  }
  warn_modules_without_btf(no_btf, result);
}

bool better(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.function < b.function;
}

// Hookability only lowers a score, and each verdict costs lookups: settle candidates best first
// until `settle` of them are final and no unsettled one can still beat the last; the rest go.
void settle(std::vector<Candidate>& all, size_t settle, const HookabilityInputs& hook_inputs) {
  std::stable_sort(all.begin(), all.end(), better);
  size_t settled = 0;
  while (settled < all.size()) {
    Candidate& c = all[settled];
    c.hookability = assess_hookability(c.function, hook_inputs);
    double penalty = 0;
    for (ScoreTerm& t : rules::hookability(c.hookability)) {
      penalty += t.points;
      c.terms.push_back(std::move(t));
    }
    c.score += penalty;
    ++settled;
    // The settled prefix was sorted: move the one just settled to its place in it, after those
    // as good as it (what a stable sort of the prefix gives, without moving the other
    // candidates). Stop once it holds `settle` candidates that beat every unsettled upper bound.
    const auto last = all.begin() + static_cast<std::ptrdiff_t>(settled - 1);
    std::rotate(std::upper_bound(all.begin(), last, *last, better), last, last + 1);
    if (settled >= settle && settled < all.size() && better(all[settle - 1], all[settled])) break;
  }
  all.resize(std::min(all.size(), settled));
}

// Live checks stored by 'probeseek verify' (its own table, absent until it first ran): the
// latest for each candidate on these sessions, as a 0-point term. They confirm, not score.
Status add_verifications(Database& db, const std::vector<SessionSummary>& sessions,
                         std::vector<Candidate>& candidates) {
  std::vector<int64_t> ids;
  for (const SessionSummary& s : sessions) ids.push_back(s.id);
  auto lookup = VerificationLookup::make(db, ids);
  if (!lookup) return tl::unexpected(lookup.error());
  for (Candidate& c : candidates) {
    auto found = lookup->latest(c.function);
    if (!found) return tl::unexpected(found.error());
    if (!*found) continue;
    const LatestVerification& v = **found;
    c.verified = Candidate::Verified{v.summary, v.command, v.verified_at, v.events};
    for (ScoreTerm& t : rules::verified_live(*c.verified)) c.terms.push_back(std::move(t));
  }
  return {};
}

layers::HookSetInputs hook_set_inputs(Inputs& in) {
  layers::HookSetInputs h;
  h.callers = &in.callers;
  h.layer_of = [&in](std::string_view f) { return layers::layer_of(f, in.fits_of(f), in.layer); };
  if (in.query) {
    h.arg = in.query->text();
    h.takes_arg = [&in](std::string_view f) {
      const FunctionBtf& fb = in.function_btf(f);
      return fb.prototype && !fb.btf->matching_params(*fb.prototype, *in.query).empty();
    };
  }
  return h;
}

}  // namespace

// --kernels: each candidate's compat verdicts over the catalogue, as one scored term
// (rules::stability).
Status detail::add_stability(Database& db, const std::vector<std::string>& kernels,
                             std::vector<Candidate>& candidates,
                             std::vector<std::string>& warnings) {
  auto catalogued = list_catalog_kernels(db);
  if (!catalogued) return tl::unexpected(catalogued.error());
  if (catalogued->empty()) {
    warnings.push_back(
        "--kernels: the kernel catalogue is empty, stability not considered (add kernels with "
        "'probeseek kernels add --debian 6.1' or a .deb, a vmlinuz, a BTF file, live)");
    return {};
  }
  if (candidates.empty()) return {};
  CompatRequest request;
  request.kernels = kernels;
  for (const Candidate& c : candidates) request.functions.push_back(c.function);
  auto report = compat(db, request);
  if (!report) return tl::unexpected(report.error());
  std::map<std::string, rules::Stability> by_function;
  for (const CompatEntry& e : report->entries) {
    rules::Stability& s = by_function[e.function];
    s.kernels_by_status[e.status].push_back(e.kernel);
    if (!e.changes.empty() && s.first_change.empty()) s.first_change = e.changes.front();
  }
  for (Candidate& c : candidates) {
    rules::Stability& s = by_function[c.function];
    s.checked = describe_kernels(report->kernels);
    s.reference = report->reference;
    for (ScoreTerm& t : rules::stability(s)) {
      c.score += t.points;
      c.terms.push_back(std::move(t));
    }
  }
  return {};
}

// Gather the evidence, apply the rules, sort; then the costlier checks on the best only.
Result<RankResult> rank(Database& db, const RankRequest& request) {
  Store store(db);
  auto sessions = resolve_sessions(store, request.sessions);
  if (!sessions) return tl::unexpected(sessions.error());
  RankResult result;
  for (auto& s : *sessions) result.sessions.push_back(s.name);
  Inputs in;
  if (auto s = load_inputs(db, request, *sessions, in, result); !s)
    return tl::unexpected(s.error());
  auto evidence = gather(db, request, *sessions, result);
  if (!evidence) return tl::unexpected(evidence.error());
  if (auto s = check_under(store, request, *sessions, *evidence, result); !s)
    return tl::unexpected(s.error());
  score_candidates(request, *evidence, in, result);
  auto& all = result.candidates;
  const size_t want = request.limit > 0 ? request.limit : all.size();
  // With --kernels, stability can lift a candidate: settle a wider pool for it to reorder.
  settle(all, request.kernels ? std::min(all.size(), std::max<size_t>(want * 3, 60)) : want,
         in.hook_inputs);
  if (request.kernels) {
    if (auto s = detail::add_stability(db, *request.kernels, all, result.warnings); !s)
      return tl::unexpected(s.error());
    std::stable_sort(all.begin(), all.end(), better);
  }
  if (all.size() > want) all.resize(want);
  if (auto s = add_verifications(db, *sessions, all); !s) return tl::unexpected(s.error());
  if (request.complete && !all.empty())
    result.hook_set =
        layers::hook_set(all.front().function, all.front().layer, hook_set_inputs(in));
  return result;
}

}  // namespace probeseek
