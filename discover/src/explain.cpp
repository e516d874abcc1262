
#include <algorithm>
#include <map>
#include <unordered_map>

#include "probeseek/explain.h"
#include "probeseek/ops_index.h"
#include "probeseek/ops_store.h"
#include "probeseek/ops_verify.h"
#include "probeseek/rank.h"
#include "probeseek/saturating.h"
#include "probeseek/session_queries.h"
#include "probeseek/sleep_queries.h"
#include "probeseek/text.h"
#include "probeseek/type_query.h"

#include "layers.h"
#include "rank_rules.h"
#include "stability.h"

namespace probeseek {

namespace {

Result<std::vector<Explanation::Neighbour>> neighbours_of(Database& db, int64_t session_id,
                                                          const std::string& function,
                                                          bool callers) {
  auto rows = neighbours(db, session_id, function, callers);
  if (!rows) return tl::unexpected(rows.error());
  std::vector<Explanation::Neighbour> out;
  for (NeighbourRow& r : *rows) out.push_back({std::move(r.name), r.calls});
  return out;
}

// Reads the ops tables the function fits out of kernel memory, when some is available.
std::vector<std::string> verify_membership(const ExplainRequest& req, const Btf& btf,
                                           const OpsIndex& ops,
                                           const std::vector<SessionSummary>& sessions,
                                           std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  auto run = [&](const KernelMemory& memory, const SymbolTable& symbols) {
    auto verifier = OpsVerifier::create(memory, symbols, btf, ops);
    if (!verifier) {
      warnings.push_back("ops tables not verified: " + verifier.error().message());
      return;
    }
    for (const VerifiedMembership& v : verifier->verify(req.function)) out.push_back(v.text);
  };
  if (req.vmlinux_path) {
    auto image = ElfImageMemory::open(*req.vmlinux_path);
    if (!image) {
      warnings.push_back("ops tables not verified: " + image.error().message());
      return out;
    }
    run(*image, image->symbols());
    return out;
  }
  std::string here = running_release();
  bool traced_here = !sessions.empty();
  for (auto& s : sessions) traced_here &= s.kernel_release == here;
  if (!traced_here) {
    warnings.push_back(
        "ops tables not verified: that needs the traced kernel's memory; run "
        "explain on the traced machine (it reads /proc/kcore) or pass --vmlinux FILE");
    return out;
  }
  auto kcore = KcoreMemory::open(req.live.kcore);
  if (!kcore) {
    warnings.push_back("ops tables not verified: " + kcore.error().message() +
                       (kcore.error().hint.empty() ? "" : " (" + kcore.error().hint + ")"));
    return out;
  }
  auto live = SymbolTable::load(req.live.kallsyms);
  if (!live) {
    warnings.push_back("ops tables not verified: " + live.error().message());
    return out;
  }
  run(*kcore, *live);
  return out;
}

// What sees the object without waiting for a sleeping function's return: an entry probe on it
// (its arguments), and functions that ran once its sleep was over and take the type it
// returns (the recording shows the type, not that it is the same object: said so).
Result<std::vector<std::string>> after_sleep_alternatives(
    Database& db, const std::vector<SessionSummary>& sessions, const Explanation& ex,
    const Btf* btf) {
  std::vector<std::string> out;
  if (!ex.prototype) return out;
  std::vector<std::string> pointers;
  auto declared = [](const Parameter& p) {
    return p.name.empty() ? p.type : p.type + (p.type.back() == '*' ? "" : " ") + p.name;
  };
  for (const Parameter& p : ex.prototype->params)
    if (p.type.rfind("struct ", 0) == 0 && p.type.back() == '*') pointers.push_back(declared(p));
  if (!pointers.empty())
    out.push_back("an entry probe (kprobe, fentry) on " + ex.function +
                  " sees its arguments on every call, waiting or not: " + join(pointers));
  const std::string& returned = ex.prototype->return_type;
  if (!btf || returned.rfind("struct ", 0) != 0 || returned.back() != '*') return out;
  auto query = TypeQuery::parse(returned);
  if (!query) return out;
  std::map<std::string, std::string> seen;  // function -> the line, first session first
  for (const SessionSummary& s : sessions) {
    auto rows = after_sleep(db, s.id, ex.function, rules::kSleeper);
    if (!rows) return tl::unexpected(rows.error());
    for (const AfterSleepRow& r : *rows) {
      if (seen.count(r.name) || seen.size() >= 3) continue;
      auto proto = btf->prototype(strip_clone_suffix(r.name));
      if (!proto) continue;
      auto at = btf->matching_params(*proto, *query);
      if (at.empty()) continue;
      const Parameter& p = proto->params.at(static_cast<size_t>(at.front()));
      seen[r.name] =
          r.name + " (called by " + r.caller +
          (r.below ? " after its sleep was over" : " after " + ex.function + " returned") +
          ", after " + std::to_string(r.calls) + " of its sleeping calls in " + s.name +
          "; takes " + declared(p) + ", the type " + ex.function +
          " returns: the recording shows the type, not that it is the same object): "
          "an entry probe there does not wait";
    }
  }
  for (auto& [name, line] : seen) out.push_back(line);
  return out;
}

}  // namespace

Result<Explanation> explain(Database& db, const ExplainRequest& req) {
  Store store(db);
  std::vector<SessionSummary> sessions;
  if (req.sessions.empty()) {
    auto all = store.sessions();
    if (!all) return tl::unexpected(all.error());
    sessions = *all;
  } else {
    for (auto& n : req.sessions) {
      auto s = store.session(n);
      if (!s) return tl::unexpected(s.error());
      sessions.push_back(*s);
    }
  }
  Explanation ex;
  ex.function = req.function;
  auto choice = choose_btf(db, sessions, req.btf_path, req.live.btf);
  if (!choice) return tl::unexpected(choice.error());
  ex.warnings = choice->warnings;
  ex.btf_source = choice->source;
  std::vector<int64_t> ids;
  for (auto& s : sessions) ids.push_back(s.id);
  auto symbols = SymbolLookups::open(db, ids);
  if (!symbols) return tl::unexpected(symbols.error());
  SymbolLookups& sym = **symbols;
  auto stored = load_stored_ops(db, ids);
  if (!stored) return tl::unexpected(stored.error());
  const bool scanned_all = !sessions.empty() && stored->scanned.size() == sessions.size();
  std::optional<OpsIndex> ops;
  // After `choice`: module BTF is split over its BTF, which must outlive it.
  std::optional<ModuleBtfs> modules;
  if (choice->btf) {
    ops = OpsIndex::build(*choice->btf);
    modules.emplace(db, *choice->btf, module_btf_options(*choice, req.live.btf));
    FunctionBtf fb = find_function_btf(req.function, &*choice->btf, &sym, &*modules);
    ex.prototype = std::move(fb.prototype);
    ex.module = fb.module;
    const OpsIndex* proto_ops = &*ops;
    if (ex.prototype && !fb.source.empty()) {
      ex.btf_source = fb.source + ", over " + choice->source;
      proto_ops = modules->ops(fb.module);
    }
    if (ex.prototype && proto_ops) ex.ops = proto_ops->fits(*fb.btf, *ex.prototype);
    if (!ex.prototype && !fb.missing.empty())
      ex.warnings.push_back(req.function + " is in module " + fb.module + ": " + fb.missing +
                            "; its prototype, --arg and ops-table evidence are missing");
    else if (!ex.prototype)
      ex.warnings.push_back("BTF (" + choice->source + ") has no prototype for " +
                            std::string(strip_clone_suffix(req.function)));
    // Stored by record when it could read the traced kernel's memory; otherwise read it now.
    if (!ex.ops.empty() && !stored->find(req.function) && !scanned_all)
      ex.verified = verify_membership(req, *fb.btf, *proto_ops, sessions, ex.warnings);
  }
  // Its layer, from the same evidence ranking uses; also for a function not recorded (a
  // sibling: explain tcp_v6_connect after an IPv4 recording).
  layers::Edges callers, callees;
  if (auto s = layers::task_edges(db, ids, callers, callees); !s) return tl::unexpected(s.error());
  std::unordered_map<std::string, std::vector<OpsFit>> fits_cache;
  layers::Inputs li;
  li.stored = &*stored;
  li.scanned = scanned_all;
  li.callees = &callees;
  li.fits_of = [&](std::string_view f) -> const std::vector<OpsFit>& {
    auto [it, fresh] = fits_cache.try_emplace(std::string(f));
    if (!fresh || !choice->btf) return it->second;
    FunctionBtf fb = find_function_btf(f, &*choice->btf, &sym, &*modules);
    const OpsIndex* proto_ops = &*ops;
    if (fb.prototype && !fb.source.empty()) proto_ops = modules->ops(fb.module);
    if (fb.prototype && proto_ops) it->second = proto_ops->fits(*fb.btf, *fb.prototype);
    return it->second;
  };
  li.recorded = [&](std::string_view f) {
    return callers.find(f) != callers.end() || callees.find(f) != callees.end();
  };
  li.btf = choice->btf ? &*choice->btf : nullptr;
  li.ops = ops ? &*ops : nullptr;
  ex.layer = layers::layer_of(req.function, ex.ops, li);
  layers::HookSetInputs hs;
  hs.callers = &callers;
  hs.layer_of = [&](std::string_view f) { return layers::layer_of(f, li.fits_of(f), li); };
  ex.hook_set = layers::hook_set(req.function, ex.layer, hs);

  std::vector<StoredMembership> held = layers::held_by(*stored, req.function);
  for (const StoredMembership& m : held) ex.verified.push_back(m.text());
  if (held.empty() && !ex.ops.empty() && scanned_all && li.recorded(req.function) &&
      !ex.layer.dispatcher())
    ex.worse.emplace_back(rules::not_held_in_memory());

  // The ranking's own argument for this function, over whole sessions.
  RankRequest rr;
  for (auto& s : sessions) rr.sessions.push_back(s.name);
  rr.btf_path = req.btf_path;
  rr.live = req.live;
  rr.limit = 0;
  rr.only_function = req.function;
  rr.kernels = req.kernels;
  rr.btf = choice->btf ? &*choice->btf : nullptr;
  rr.ops = ops ? &*ops : nullptr;
  rr.modules = modules ? &*modules : nullptr;
  auto ranked = rank(db, rr);
  if (!ranked) return tl::unexpected(ranked.error());
  const Candidate* me = nullptr;
  for (auto& c : ranked->candidates)
    if (c.function == req.function) me = &c;

  bool seen = false;
  for (auto& s : sessions) {
    Explanation::PerSession ps;
    ps.evidence.session = s.name;
    auto done =
        for_each_function_stats_of(db, s.id, req.function, [&](const FunctionStatsRow& row) {
          add_to(ps.evidence.session_calls, row.calls);
          add_to(ps.evidence.session_task_calls, row.task_calls);
          add_to(ps.softirq_calls, row.softirq_calls);
          add_to(ps.hardirq_calls, row.hardirq_calls);
          add_to(ps.exception_calls, row.exception_calls);
        });
    if (!done) return tl::unexpected(done.error());
    if (ps.evidence.session_calls == 0) continue;
    seen = true;
    ps.evidence.calls = ps.evidence.session_calls;
    ps.evidence.task_calls = ps.evidence.session_task_calls;
    ps.evidence.interrupt_calls = saturating_sub(ps.evidence.calls, ps.evidence.task_calls);
    if (me)
      for (auto& e : me->sessions)
        if (e.session == s.name) ps.evidence = e;
    auto callers = neighbours_of(db, s.id, req.function, true);
    if (!callers) return tl::unexpected(callers.error());
    ps.callers = std::move(*callers);
    auto callees = neighbours_of(db, s.id, req.function, false);
    if (!callees) return tl::unexpected(callees.error());
    ps.callees = std::move(*callees);
    ex.sessions.push_back(std::move(ps));
  }
  if (!seen && !ex.prototype)
    return bad_input("function '" + req.function + "' is neither in the sessions nor in BTF", "",
                     "list what was recorded with: probeseek functions");

  // Hookability, with the same lookups ranking uses.
  HookabilityInputs in;
  if (sym.has_filter_functions())
    in.traceable = [&](std::string_view n) { return sym.traceable(n); };
  if (sym.has_kprobe_blacklist())
    in.blacklisted = [&](std::string_view n) { return sym.blacklisted(n); };
  if (sym.has_kallsyms())
    in.kallsyms_count = [&](std::string_view n) { return sym.kallsyms_count(n); };
  in.btf = choice->btf ? &*choice->btf : nullptr;
  ex.hookability = assess_hookability(req.function, in);

  if (me) {
    for (const ScoreTerm& t : me->terms) {
      if (t.points > 0) ex.better.push_back(t.reason);
      if (t.points < 0) ex.worse.push_back(t.reason);
    }
    ex.sleeps = rules::sleep_text(me->sessions);
    if (!ex.sleeps.empty() &&
        std::none_of(ex.worse.begin(), ex.worse.end(),
                     [&](const std::string& w) { return w.rfind(ex.sleeps, 0) == 0; }))
      ex.worse.push_back(ex.sleeps);
  }
  if (!ex.sleeps.empty()) {
    auto helpers =
        after_sleep_alternatives(db, sessions, ex, choice->btf ? &*choice->btf : nullptr);
    if (!helpers) return tl::unexpected(helpers.error());
    ex.after_sleep = std::move(*helpers);
  }
  if (!ex.verified.empty()) ex.better.push_back("ops-table membership verified in kernel memory");
  if (ex.ops.empty() && ex.prototype && !ex.layer.dispatcher())
    ex.worse.push_back(
        "fits no ops-table member: not an implementation of an interface, so "
        "other protocols or filesystems take other paths");
  if (!seen)
    ex.worse.push_back("not seen in the recordings: nothing shows it runs for this workload");
  for (auto& ps : ex.sessions) {
    if (ps.evidence.session_task_calls == 0)
      ex.worse.push_back("in " + ps.evidence.session + " it runs only in interrupt context");
    if (static_cast<int64_t>(ps.callers.size()) >= rules::kWeights.many_callers_min)
      ex.worse.push_back("in " + ps.evidence.session + ", " + std::to_string(ps.callers.size()) +
                         " callers: filter by pid/comm, or hook the caller on your path");
  }
  if (ex.hookability.clone)
    ex.worse.push_back("a compiler clone: hook the original or a caller, whose ABI BTF describes");
  // Ranking scored stability for a function it saw; one it did not see is judged here.
  if (req.kernels && !me) {
    std::vector<Candidate> alone(1);
    alone.front().function = req.function;
    if (auto s = detail::add_stability(db, *req.kernels, alone, ex.warnings); !s)
      return tl::unexpected(s.error());
    for (const ScoreTerm& t : alone.front().terms)
      (t.points >= 0 ? ex.better : ex.worse).push_back(t.reason);
  }
  return ex;
}

}  // namespace probeseek
