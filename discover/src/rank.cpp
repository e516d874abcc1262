#include "probeseek/rank.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "probeseek/compat.h"
#include "probeseek/ops_index.h"
#include "probeseek/ops_store.h"
#include "probeseek/session_queries.h"
#include "probeseek/text.h"
#include "probeseek/verification_store.h"
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

namespace {}  // namespace

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
    e.session_calls += row.calls;
    e.session_task_calls += row.task_calls;
    e.callers = std::max(e.callers, row.callers);
  });
  if (!done) return done;
  return for_each_function_syscall(db, s.id, [&](const FunctionSyscallRow& row) {
    SessionEvidence& e = out[row.name];
    e.syscalls.push_back(row.syscall);
    // Reach through syscalls counts task-context calls only: a softirq that happened to run
    // inside a syscall is not that syscall's work.
    if (row.task_calls > 0) {
      e.roots += row.invocations;
      e.root_invocations += row.syscall_invocations;
      int d = static_cast<int>(row.min_depth_below);
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
      int d = c.depth - r.depth;
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
    e.calls += a.calls;
    e.task_calls += a.task_calls;
    e.interrupt_calls = e.calls - e.task_calls;
    e.roots += a.roots;
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

// "__x64_sys_connect" -> "connect"; "" for names that are not syscall entry points.
std::string_view syscall_stem(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {
      "__x64_sys_",   "__ia32_compat_sys_", "__x32_compat_sys_", "__ia32_sys_",
      "__arm64_sys_", "__do_sys_",          "__se_sys_"};
  for (auto p : kPrefixes)
    if (name.size() > p.size() && name.substr(0, p.size()) == p) return name.substr(p.size());
  return {};
}

// Callers seen in task context, per callee name, over the sessions.
Result<std::unordered_map<std::string, std::unordered_set<std::string>>> task_callers(
    Database& db, const std::vector<SessionSummary>& sessions) {
  std::unordered_map<std::string, std::unordered_set<std::string>> out;
  for (auto& s : sessions) {
    auto done = for_each_task_edge(
        db, s.id,
        [&](const std::string& callee, const std::string& caller) { out[callee].insert(caller); });
    if (!done) return tl::unexpected(done.error());
  }
  return out;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v == std::floor(v) ? "%.0f" : "%.1f", v);
  return buf;
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
    c.terms.push_back({0, "verified live " + c.verified->at + ": " + c.verified->summary +
                              " under `" + c.verified->command + "`"});
  }
  return {};
}

}  // namespace

// --kernels: each candidate's compat verdicts over the catalogue, as scored terms. A hook that
// works the same everywhere gains a little; one that is missing, untraceable or blacklisted
// somewhere loses as much as being unhookable costs there; a changed prototype loses less (a
// probe per kernel family still works).
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
  std::map<std::string, std::map<std::string, std::vector<std::string>>> by_status;
  std::map<std::string, std::string> first_change;
  for (const CompatEntry& e : report->entries) {
    by_status[e.function][e.status].push_back(e.kernel);
    if (!e.changes.empty() && !first_change.count(e.function))
      first_change[e.function] = e.changes.front();
  }
  for (Candidate& c : candidates) {
    const auto& statuses = by_status[c.function];
    double points = 0;
    std::vector<std::string> why;
    for (const auto& [status, where] : statuses) {
      if (status == "ok") continue;
      double cost = status == "prototype_changed" ? -10 : status == "duplicate" ? -5 : -20;
      points = std::min(points, cost);
      std::string text = status + " on " + describe_kernels(where);
      if (status == "prototype_changed" && first_change.count(c.function))
        text += ": " + first_change[c.function];
      why.push_back(text);
    }
    if (why.empty()) {
      c.terms.push_back({5, "stable: ok on every catalogued kernel checked, " +
                                describe_kernels(report->kernels) + ", against " +
                                report->reference});
      c.score += 5;
    } else {
      std::string text;
      for (const std::string& w : why) text += (text.empty() ? "" : "; ") + w;
      c.terms.push_back({points, "unstable: " + text + " (against " + report->reference + ")"});
      c.score += points;
    }
  }
  return {};
}

Result<RankResult> rank(Database& db, const RankRequest& request) {
  Store store(db);
  auto sessions = resolve_sessions(store, request.sessions);
  if (!sessions) return tl::unexpected(sessions.error());
  RankResult result;
  for (auto& s : *sessions) result.sessions.push_back(s.name);

  std::optional<TypeQuery> query;
  if (request.arg) {
    auto q = TypeQuery::parse(*request.arg);
    if (!q) return tl::unexpected(q.error());
    query = std::move(*q);
  }
  BtfChoice loaded;
  const Btf* btf = request.btf;
  if (!btf) {
    auto btf_choice = choose_btf(db, *sessions, request.btf_path, request.live.btf);
    if (!btf_choice) return tl::unexpected(btf_choice.error());
    loaded = std::move(*btf_choice);
    btf = loaded.btf ? &*loaded.btf : nullptr;
    result.btf_source = loaded.source;
    result.warnings = loaded.warnings;
  }
  if (query && !btf)
    return fail(ErrorKind::kRuntime, "--arg needs BTF, and none could be loaded", "", 0,
                "pass --btf FILE with the traced kernel's BTF");
  std::optional<OpsIndex> built_ops;
  const OpsIndex* ops = request.ops;
  if (btf && !ops) {
    built_ops = OpsIndex::build(*btf);
    ops = &*built_ops;
  }
  // Declared after `loaded`: module BTF is split over the base, which must outlive it.
  std::optional<ModuleBtfs> own_modules;
  ModuleBtfs* modules = request.modules;
  if (btf && !modules) {
    own_modules.emplace(
        db, *btf,
        request.btf ? ModuleBtfs::Options{} : module_btf_options(loaded, request.live.btf));
    modules = &*own_modules;
  }
  if (query && btf) {
    if (auto s = btf->check(*query); !s) {
      // A type a module defines (its own context struct) is as good a query for its functions.
      bool in_module = false;
      for (const SessionSummary& session : *sessions) {
        if (in_module || !modules) break;
        auto names = session_modules(db, session.id);
        if (!names) return tl::unexpected(names.error());
        for (const std::string& module : *names) {
          const ModuleBtfs::Module& m = modules->get(module);
          if (m.btf && m.btf->check(*query)) in_module = true;
          if (in_module) break;
        }
      }
      if (!in_module) return tl::unexpected(s.error());
    }
  }

  std::vector<int64_t> session_ids;
  for (const SessionSummary& s : *sessions) session_ids.push_back(s.id);
  auto stored_ops = load_stored_ops(db, session_ids);
  if (!stored_ops) return tl::unexpected(stored_ops.error());
  const bool all_scanned = stored_ops->scanned.size() == session_ids.size();

  auto symbols = open_symbols(db, *sessions, result.warnings);
  if (!symbols) return tl::unexpected(symbols.error());
  HookabilityInputs hook_inputs = hookability_inputs(**symbols, btf);
  // Modules of functions seen, whose BTF is missing: one warning for all of them.
  std::map<std::string, std::string> modules_without_btf;
  size_t functions_without_module_btf = 0;
  auto function_btf = [&](std::string_view function) {
    return find_function_btf(function, btf, symbols->get(), modules);
  };

  // Evidence per session, per function name.
  std::vector<EvidenceMap> evidence(sessions->size());
  for (size_t i = 0; i < sessions->size(); ++i) {
    const SessionSummary& s = (*sessions)[i];
    EvidenceMap wide;
    if (auto st = gather_session_wide(db, s, wide); !st) return tl::unexpected(st.error());
    if (request.under.empty()) {
      for (auto& [name, e] : wide) {
        e.calls = e.session_calls;
        e.task_calls = e.session_task_calls;
        e.interrupt_calls = e.calls - e.task_calls;
      }
      evidence[i] = std::move(wide);
    } else {
      int64_t roots = 0;
      EvidenceMap below;
      if (auto st = gather_under(db, s, request.under, below, roots); !st)
        return tl::unexpected(st.error());
      if (roots == 0)
        result.warnings.push_back("session " + s.name + " has no call of " + request.under);
      for (auto& [name, e] : below) {
        auto it = wide.find(name);
        if (it != wide.end()) {
          e.session_calls = it->second.session_calls;
          e.session_task_calls = it->second.session_task_calls;
          e.syscalls = it->second.syscalls;
        }
      }
      evidence[i] = std::move(below);
    }
  }
  if (!request.under.empty()) {
    bool anywhere = false;
    for (auto& e : evidence) anywhere |= !e.empty();
    if (!anywhere) {
      bool seen = false;
      for (auto& s : *sessions) {
        auto f = store.functions(s.id, request.under);
        seen |= f.has_value();
      }
      if (!seen)
        return bad_input("function '" + request.under + "' does not appear in the sessions",
                         join(result.sessions), "list what was recorded with: probeseek functions");
    }
  }

  std::optional<std::unordered_map<std::string, std::unordered_set<std::string>>> callers_map;
  if (query) {
    auto m = task_callers(db, *sessions);
    if (!m) return tl::unexpected(m.error());
    callers_map = std::move(*m);
  }
  const auto* callers_of = callers_map ? &*callers_map : nullptr;

  // Candidates: functions seen (in scope) in any session, or in every session.
  std::map<std::string, std::vector<const SessionEvidence*>> seen;
  for (size_t i = 0; i < evidence.size(); ++i)
    for (auto& [name, e] : evidence[i])
      if (e.calls > 0) seen[name].push_back(&e);
  const size_t session_count = sessions->size();

  for (auto& [name, per_session] : seen) {
    if (!request.only_function.empty() && name != request.only_function) continue;
    ++result.considered;
    if (request.require_all && per_session.size() < session_count) {
      ++result.excluded_by_coverage;
      continue;
    }
    int64_t task_calls = 0, calls = 0, roots = 0;
    for (auto* e : per_session) {
      task_calls += e->task_calls;
      calls += e->calls;
      roots += e->roots;
    }
    if (task_calls == 0) {
      // Interrupt work that happened to land inside the traced task: not its doing.
      ++result.interrupt_only;
      continue;
    }
    Candidate c;
    c.function = name;
    FunctionBtf fb = function_btf(name);
    c.prototype = std::move(fb.prototype);
    c.module = fb.module;
    if (c.prototype) c.prototype_source = fb.source;
    if (!c.prototype) ++result.without_btf;
    if (!fb.missing.empty()) {
      if (fb.source.empty()) {  // no BTF for the module at all, rather than none for this function
        modules_without_btf.emplace(fb.module, fb.missing);
        ++functions_without_module_btf;
      }
      c.terms.push_back({0, "in module " + fb.module + ": " + fb.missing});
    } else if (!c.prototype_source.empty()) {
      c.terms.push_back({0, "in module " + fb.module + "; prototype from " + c.prototype_source});
    }
    // The prototype's type ids belong to the BTF it came from (a module's split BTF includes
    // vmlinux's types under the same ids), and so do the ops tables it can fit.
    const Btf* proto_btf = fb.btf;
    const OpsIndex* proto_ops = ops;
    if (c.prototype && !c.prototype_source.empty() && modules) proto_ops = modules->ops(fb.module);
    if (query) {
      if (!c.prototype) {
        ++result.excluded_by_arg;
        continue;
      }
      c.arg_positions = proto_btf->matching_params(*c.prototype, *query);
      if (c.arg_positions.empty()) {
        ++result.excluded_by_arg;
        continue;
      }
      int pos = c.arg_positions.front();
      const Parameter& p = c.prototype->params[static_cast<size_t>(pos)];
      c.terms.push_back({pos == 0 ? 12.0 : 8.0,
                         "argument " + std::to_string(pos) + " (" + p.type +
                             (p.name.empty() ? "" : " " + p.name) + ") is " + query->text() +
                             (pos == 0 ? ", the object the function acts on" : "")});
    }
    if (proto_ops && c.prototype) {
      c.ops = proto_ops->fits(*proto_btf, *c.prototype);
      // Only fits whose name agrees as well as the best one count as evidence.
      if (!c.ops.empty()) {
        const OpsFit& best = c.ops.front();
        double points = best.strength == "strong" ? 30 : best.strength == "medium" ? 15 : 3;
        std::string what = best.is_union ? "union " : "struct ";
        if (best.is_union) points /= 2;  // a union of hooks is a list of slots, not an ops table
        c.terms.push_back(
            {points, "fits " + what + best.struct_name + " member " + best.member + " (" +
                         best.strength + ": " + best.explanation + ")" +
                         (best.is_union ? "; a union, weaker than a struct of ops" : "")});
      }
    }
    // What record read out of kernel memory: a table really holds it (the kernel calls it
    // through that slot), or no table does although the prototype fits.
    if (const auto* held = stored_ops->find(name)) {
      for (const StoredMembership& m : *held) c.verified_ops.push_back(m.text());
      c.terms.push_back(
          {10, "verified in kernel memory: " + c.verified_ops.front() +
                   (held->size() > 1 ? " and " + std::to_string(held->size() - 1) + " more" : "")});
    } else if (!c.ops.empty() && all_scanned) {
      c.terms.push_back({0,
                         "no ops table in kernel memory held it at record time (tables that do "
                         "not start at a symbol, such as array elements, are not seen)"});
    }
    // Where it sits: close to the syscall (or --under) is where the operation starts and its
    // arguments are the caller's; deep down are helpers of helpers.
    int depth = -1;
    for (auto* e : per_session)
      if (e->min_depth_below >= 0)
        depth = depth < 0 ? e->min_depth_below : std::min(depth, e->min_depth_below);
    if (depth >= 0) {
      double points = std::clamp(8.0 - depth, -4.0, 6.0);
      std::string from = request.under.empty() ? "its syscall entry" : request.under;
      if (points != 0)
        c.terms.push_back({points, std::to_string(depth) + " level" + (depth == 1 ? "" : "s") +
                                       " below " + from +
                                       (points > 0 ? ": near where the operation starts"
                                                   : ": a helper deep inside the operation")});
    }
    // Generic helpers (locks, allocators) are reached from everywhere: poor hooks.
    size_t syscalls = 0;
    std::vector<std::string> syscall_names;
    for (auto* e : per_session) {
      for (auto& sname : e->syscalls)
        if (std::find(syscall_names.begin(), syscall_names.end(), sname) == syscall_names.end())
          syscall_names.push_back(sname);
      syscalls = std::max(syscalls, e->syscalls.size());
    }
    if (syscalls == 1)
      c.terms.push_back({12, "reached from one syscall only (" + join(syscall_names) + ")"});
    else if (syscalls >= 2 && syscalls <= 3)
      c.terms.push_back({6, "reached from " + std::to_string(syscalls) + " syscalls (" +
                                join(syscall_names) + ")"});
    else if (syscalls >= 10)
      c.terms.push_back({-15, "reached from " + std::to_string(syscalls) +
                                  " syscalls: a generic helper, it fires for unrelated work"});
    if (!c.ops.empty()) {
      // The syscall dispatches through an ops member of its own name (connect(2) ->
      // ->connect): the function implementing that member is the operation itself.
      std::vector<std::string> entries = syscall_names;
      if (!request.under.empty()) entries = {request.under};
      for (const std::string& entry : entries) {
        std::string_view stem = syscall_stem(entry);
        auto fit = std::find_if(c.ops.begin(), c.ops.end(), [&](const OpsFit& f) {
          return !stem.empty() && f.member == stem && f.strength != "weak";
        });
        if (fit != c.ops.end()) {
          c.terms.push_back(
              {8, "implements ->" + fit->member + ", the ops member " + entry + " dispatches to"});
          break;
        }
      }
    }
    if (query && callers_of) {
      // Every caller already receives the requested type: the object was visible one level
      // up, and a hook there sees it first.
      auto it = callers_of->find(name);
      if (it != callers_of->end() && !it->second.empty()) {
        std::vector<std::string> holders;
        for (const std::string& caller : it->second) {
          FunctionBtf caller_btf = function_btf(caller);
          if (caller_btf.prototype &&
              !caller_btf.btf->matching_params(*caller_btf.prototype, *query).empty())
            holders.push_back(caller);
        }
        if (holders.size() == it->second.size())
          c.terms.push_back({-6, "always called from functions that already receive " +
                                     query->text() + " (" + join(holders) + ")"});
      }
    }
    int64_t callers = 0;
    for (auto* e : per_session) callers = std::max(callers, e->callers);
    if (callers == 1)
      c.terms.push_back({4, "one caller: a single path leads here"});
    else if (callers >= 8)
      c.terms.push_back({-8, std::to_string(callers) + " distinct callers: shared by many paths"});
    if (!request.under.empty()) {
      int64_t session_task = 0;
      for (auto* e : per_session) session_task += e->session_task_calls;
      double share = session_task > 0 ? static_cast<double>(task_calls) / session_task : 1.0;
      if (share >= 0.9)
        c.terms.push_back({8, fmt(share * 100) + "% of its calls are below " + request.under});
      else if (share <= 0.25)
        c.terms.push_back({-8, "only " + fmt(share * 100) + "% of its calls are below " +
                                   request.under + ": it serves other paths too"});
    }
    if (roots > 0) {
      double rate = static_cast<double>(task_calls) / static_cast<double>(roots);
      std::string per = request.under.empty() ? "syscall invocation" : request.under + " call";
      if (rate >= 0.5 && rate <= 1.5)
        c.terms.push_back({10, "about once per " + per + " that reaches it"});
      else if (rate <= 3)
        c.terms.push_back({4, fmt(rate) + " calls per " + per + " that reaches it"});
      else if (rate >= 10)
        c.terms.push_back({-10, fmt(rate) + " calls per " + per + ": a helper called in a loop"});
    }
    if (session_count > 1) {
      if (per_session.size() == session_count)
        c.terms.push_back({10, "seen in all " + std::to_string(session_count) + " sessions"});
      else
        c.terms.push_back({-5.0 * static_cast<double>(session_count - per_session.size()),
                           "missing from " + std::to_string(session_count - per_session.size()) +
                               " of " + std::to_string(session_count) + " sessions"});
    }
    if (calls > task_calls)
      c.terms.push_back({0, std::to_string(calls - task_calls) +
                                " of its calls ran in interrupt context and were set aside"});
    for (auto& t : c.terms) c.score += t.points;
    for (auto* e : per_session) c.sessions.push_back(*e);
    result.candidates.push_back(std::move(c));
  }
  if (!modules_without_btf.empty()) {
    std::string names;
    for (auto& [module, why] : modules_without_btf) names += (names.empty() ? "" : ", ") + module;
    result.warnings.push_back(
        std::to_string(functions_without_module_btf) + " function" +
        (functions_without_module_btf == 1 ? " seen is" : "s seen are") + " in module" +
        (modules_without_btf.size() == 1 ? " " : "s ") + names +
        " without BTF: their prototypes, --arg and ops-table evidence are missing (" +
        modules_without_btf.begin()->second + ")");
  }
  auto better = [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.function < b.function;
  };
  std::stable_sort(result.candidates.begin(), result.candidates.end(), better);
  // Hookability only lowers a score, and each verdict costs lookups: settle candidates best
  // first until `limit` of them are final and no unsettled one can still beat the last.
  auto& all = result.candidates;
  size_t settled = 0;
  const size_t want = request.limit > 0 ? request.limit : all.size();
  // With --kernels, stability can lift a candidate: settle a wider pool for it to reorder.
  const size_t settle =
      request.kernels ? std::min(all.size(), std::max<size_t>(want * 3, 60)) : want;
  while (settled < all.size()) {
    Candidate& c = all[settled];
    c.hookability = assess_hookability(c.function, hook_inputs);
    double penalty = 0;
    if (!c.hookability.hookable) {
      c.terms.push_back({-50, "not hookable: " + c.hookability.reasons.front()});
      penalty -= 50;
    } else if (c.hookability.clone) {
      c.terms.push_back({-6, "a compiler clone: the ABI may differ from the BTF prototype"});
      penalty -= 6;
    }
    if (c.hookability.hookable && c.hookability.same_name_symbols > 1) {
      c.terms.push_back({-3, std::to_string(c.hookability.same_name_symbols) +
                                 " static functions share the name"});
      penalty -= 3;
    }
    c.score += penalty;
    ++settled;
    // Re-sort the settled prefix; stop once it holds `want` candidates that beat every
    // unsettled upper bound.
    std::stable_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(settled), better);
    if (settled >= settle && settled < all.size() && better(all[settle - 1], all[settled])) break;
  }
  all.resize(std::min(all.size(), settled));
  if (request.kernels) {
    if (auto s = detail::add_stability(db, *request.kernels, all, result.warnings); !s)
      return tl::unexpected(s.error());
    std::stable_sort(all.begin(), all.end(), better);
  }
  if (all.size() > want) all.resize(want);
  if (auto s = add_verifications(db, *sessions, all); !s) return tl::unexpected(s.error());
  return result;
}

}  // namespace probeseek
