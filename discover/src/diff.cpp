#include "probeseek/diff.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

#include "probeseek/kallsyms.h"
#include "probeseek/rank.h"
#include "probeseek/saturating.h"
#include "probeseek/session_queries.h"
#include "probeseek/store.h"
#include "probeseek/text.h"

namespace probeseek {

std::string_view to_string(DiffSide side) {
  switch (side) {
    case DiffSide::kA:
      return "a";
    case DiffSide::kB:
      return "b";
    case DiffSide::kBoth:
      return "both";
  }
  return "both";
}

namespace {

// One side's evidence, summed over its sessions, by base function name.
struct FunctionAcc {
  int64_t calls = 0, total_ns = 0;
  int64_t reached = 0, invocations = 0;  // for calls per invocation
  std::set<std::string> clones;
};
struct SideAcc {
  std::map<std::string, FunctionAcc> functions;
  std::map<std::vector<std::string>, int64_t> paths;
  int64_t under_calls = 0;  // invocations of --under over the side's sessions
};

// A root of the call paths: a call of --under, or of a syscall entry.
struct Root {
  CallSpan span;
  std::string name;  // base name
};

// The calls below each root, as paths of base names from the root, at most `depth` below it;
// each root is a path of one frame. Paths are counted with interned names (a million calls
// pass through here) and spelled out once at the end.
Status gather_paths(Database& db, const std::vector<Root>& roots,
                    const std::unordered_map<int64_t, std::string>& names, int depth,
                    SideAcc& side) {
  auto below = CallsInSpan::task_calls_near(db, depth);
  if (!below) return tl::unexpected(below.error());
  std::vector<std::string> bases;
  std::unordered_map<std::string, uint32_t> base_index;
  auto intern = [&](std::string base) {
    auto [it, fresh] = base_index.try_emplace(std::move(base), static_cast<uint32_t>(bases.size()));
    if (fresh) bases.push_back(it->first);
    return it->second;
  };
  std::unordered_map<int64_t, uint32_t> base_of;  // function id -> interned base name
  auto name_of = [&](int64_t id) {
    auto [it, fresh] = base_of.try_emplace(id, 0);
    if (fresh) {
      auto n = names.find(id);
      it->second =
          intern(n == names.end() ? std::string("?") : std::string(strip_clone_suffix(n->second)));
    }
    return it->second;
  };
  struct PathHash {
    size_t operator()(const std::vector<uint32_t>& p) const {
      uint64_t h = 1469598103934665603ull;
      for (uint32_t x : p) h = (h ^ x) * 1099511628211ull;
      return static_cast<size_t>(h);
    }
  };
  std::unordered_map<std::vector<uint32_t>, int64_t, PathHash> counts;
  std::vector<uint32_t> stack;
  for (const Root& root : roots) {
    stack.assign(1, intern(root.name));
    add_to(counts[stack], 1);
    auto done = below->for_each(root.span, [&](const CallInSpan& c) {
      if (c.context != 0) return;  // interrupt work is not this path's
      const int64_t rel = static_cast<int64_t>(c.depth) - root.span.depth;
      if (rel < 1 || rel > depth || static_cast<size_t>(rel) > stack.size()) return;
      stack.resize(static_cast<size_t>(rel) + 1);
      stack[static_cast<size_t>(rel)] = name_of(c.function_id);
      add_to(counts[stack], 1);
    });
    if (!done) return done;
  }
  std::vector<std::string> path;
  for (const auto& [ids, n] : counts) {
    path.clear();
    for (uint32_t i : ids) path.push_back(bases[i]);
    add_to(side.paths[path], n);
  }
  return {};
}

// The same paths, from the session's call_paths (counted at import): what gather_paths would
// find below the syscall entries, without reading the calls. False when the session has none
// that answer this depth.
Result<bool> stored_paths(Database& db, int64_t session_id,
                          const std::unordered_map<int64_t, std::string>& names, int depth,
                          SideAcc& side) {
  auto rows = call_paths(db, session_id, depth);
  if (!rows) return tl::unexpected(rows.error());
  if (!*rows) return false;
  std::vector<std::string> bases;
  std::unordered_map<std::string, uint32_t> base_index;
  std::unordered_map<int64_t, uint32_t> base_of;  // function id -> interned base name
  auto name_of = [&](int64_t id) {
    auto [it, fresh] = base_of.try_emplace(id, 0);
    if (fresh) {
      auto n = names.find(id);
      std::string base =
          n == names.end() ? std::string("?") : std::string(strip_clone_suffix(n->second));
      auto [b, added] =
          base_index.try_emplace(std::move(base), static_cast<uint32_t>(bases.size()));
      if (added) bases.push_back(b->first);
      it->second = b->second;
    }
    return it->second;
  };
  // Each row's path as interned names: its parent's (an earlier row, checked) and its frame.
  std::vector<std::vector<uint32_t>> ids((*rows)->size());
  std::map<std::vector<uint32_t>, int64_t> counts;
  for (size_t i = 0; i < (*rows)->size(); ++i) {
    const CallPathRow& r = (**rows)[i];
    if (r.parent > i) return false;  // an earlier row, as call_paths() checked
    if (r.parent != 0) ids[i] = ids[r.parent - 1];
    ids[i].push_back(name_of(r.function_id));
    add_to(counts[ids[i]], r.calls);
  }
  std::vector<std::string> path;
  for (const auto& [p, n] : counts) {
    path.clear();
    for (uint32_t i : p) path.push_back(bases[i]);
    add_to(side.paths[path], n);
  }
  return true;
}

Status gather_side(Database& db, Store& store, const std::vector<SessionSummary>& sessions,
                   const DiffRequest& request, SideAcc& side) {
  for (const SessionSummary& s : sessions) {
    std::unordered_map<int64_t, std::string> names;
    auto listed = for_each_function(
        db, s.id, [&](int64_t id, const std::string& name) { names.emplace(id, name); });
    if (!listed) return listed;
    // The roots of the paths: the calls of --under, or of the syscall entries.
    std::vector<Root> roots;
    std::set<std::string> syscalls;
    std::map<std::string, std::pair<int64_t, int64_t>> reach;  // base -> (task calls, invocations)
    auto rows = for_each_function_syscall(db, s.id, [&](const FunctionSyscallRow& r) {
      syscalls.insert(r.syscall);
      auto& [calls, invocations] = reach[std::string(strip_clone_suffix(r.name))];
      add_to(calls, r.task_calls);
      add_to(invocations, r.syscall_invocations);
    });
    if (!rows) return rows;
    // Below the syscall entries, the paths counted at import answer when the session has them.
    bool stored = false;
    if (request.under.empty()) {
      auto got = stored_paths(db, s.id, names, request.path_depth, side);
      if (!got) return tl::unexpected(got.error());
      stored = *got;
    }
    for (const std::string& root : stored                  ? std::set<std::string>{}
                                   : request.under.empty() ? syscalls
                                                           : std::set<std::string>{request.under}) {
      auto spans = calls_of(db, s.id, root);
      if (!spans) return tl::unexpected(spans.error());
      for (CallSpan& span : *spans) {
        bool nested = std::any_of(roots.begin(), roots.end(), [&](const Root& o) {
          return o.span.task_id == span.task_id && span.id > o.span.id && span.id <= o.span.end_id;
        });
        if (!nested) roots.push_back({span, std::string(strip_clone_suffix(root))});
      }
    }
    if (!request.under.empty()) add_to(side.under_calls, static_cast<int64_t>(roots.size()));
    // No call of --under here: nothing below it to compare (rank's warning says so).
    if (!request.under.empty() && roots.empty()) continue;
    auto functions = store.functions(s.id, request.under);
    if (!functions) return tl::unexpected(functions.error());
    for (const Store::FunctionRow& r : *functions) {
      if (r.task_calls <= 0) continue;  // interrupt work only
      const std::string base(strip_clone_suffix(r.function));
      FunctionAcc& f = side.functions[base];
      add_to(f.calls, r.task_calls);
      add_to(f.total_ns, r.total_ns);
      if (base != r.function) f.clones.insert(r.function);
      if (request.under.empty()) {
        auto it = reach.find(base);
        if (it != reach.end()) {
          add_to(f.reached, it->second.first);
          add_to(f.invocations, it->second.second);
          reach.erase(it);  // same-name statics and clones share one row per syscall
        }
      }
    }
    if (stored) continue;
    if (auto st = gather_paths(db, roots, names, request.path_depth, side); !st) return st;
  }
  return {};
}

DiffCounts counts(const FunctionAcc& f, int64_t under_calls, bool under) {
  DiffCounts c;
  c.calls = f.calls;
  c.total_ns = f.total_ns;
  if (under && under_calls > 0)
    c.per_invocation = static_cast<double>(f.calls) / static_cast<double>(under_calls);
  else if (!under && f.invocations > 0)
    c.per_invocation = static_cast<double>(f.reached) / static_cast<double>(f.invocations);
  return c;
}

int rank_of(DiffSide side) {
  return side == DiffSide::kBoth ? 0 : side == DiffSide::kA ? 1 : 2;
}

Result<std::vector<SessionSummary>> resolve(Store& store, const std::vector<std::string>& names,
                                            const char* which) {
  if (names.empty())
    return bad_input(std::string("diff needs sessions on side ") + which, "",
                     "name them: probeseek diff A B (a side may be A1,A2)");
  std::vector<SessionSummary> out;
  for (const std::string& n : names) {
    auto s = store.session(n);
    if (!s) return tl::unexpected(s.error());
    out.push_back(*s);
  }
  return out;
}

}  // namespace

Result<DiffResult> diff(Database& db, const DiffRequest& request) {
  Store store(db);
  auto a = resolve(store, request.a, "A");
  if (!a) return tl::unexpected(a.error());
  auto b = resolve(store, request.b, "B");
  if (!b) return tl::unexpected(b.error());
  DiffResult out;
  for (const SessionSummary& s : *a) {
    out.a.push_back(s.name);
    out.kernels_a.push_back(s.kernel_release);
  }
  for (const SessionSummary& s : *b) {
    out.b.push_back(s.name);
    out.kernels_b.push_back(s.kernel_release);
  }
  SideAcc side_a, side_b;
  if (auto s = gather_side(db, store, *a, request, side_a); !s) return tl::unexpected(s.error());
  if (auto s = gather_side(db, store, *b, request, side_b); !s) return tl::unexpected(s.error());
  const bool under = !request.under.empty();

  std::set<std::string> names;
  for (auto& [n, f] : side_a.functions) names.insert(n);
  for (auto& [n, f] : side_b.functions) names.insert(n);
  size_t folded = 0;
  for (const std::string& n : names) {
    FunctionDiff d;
    d.function = n;
    auto ia = side_a.functions.find(n), ib = side_b.functions.find(n);
    const bool in_a = ia != side_a.functions.end(), in_b = ib != side_b.functions.end();
    d.in = in_a && in_b ? DiffSide::kBoth : in_a ? DiffSide::kA : DiffSide::kB;
    if (in_a) d.a = counts(ia->second, side_a.under_calls, under);
    if (in_b) d.b = counts(ib->second, side_b.under_calls, under);
    std::set<std::string> clones;
    if (in_a) clones.insert(ia->second.clones.begin(), ia->second.clones.end());
    if (in_b) clones.insert(ib->second.clones.begin(), ib->second.clones.end());
    d.clones.assign(clones.begin(), clones.end());
    folded += d.clones.empty() ? 0 : 1;
    out.functions.push_back(std::move(d));
  }
  std::stable_sort(
      out.functions.begin(), out.functions.end(), [](const FunctionDiff& x, const FunctionDiff& y) {
        if (x.in != y.in) return rank_of(x.in) < rank_of(y.in);
        return saturating_add(x.a.calls, x.b.calls) > saturating_add(y.a.calls, y.b.calls);
      });
  if (folded > 0)
    out.notes.push_back(std::to_string(folded) +
                        " function(s) seen as compiler clones (f.isra.0, f.constprop.0, ...) are "
                        "counted as their base function");

  std::set<std::vector<std::string>> paths;
  for (auto& [p, n] : side_a.paths) paths.insert(p);
  for (auto& [p, n] : side_b.paths) paths.insert(p);
  for (const auto& p : paths) {
    PathDiff d;
    d.path = p;
    auto ia = side_a.paths.find(p), ib = side_b.paths.find(p);
    const bool in_a = ia != side_a.paths.end(), in_b = ib != side_b.paths.end();
    d.in = in_a && in_b ? DiffSide::kBoth : in_a ? DiffSide::kA : DiffSide::kB;
    d.calls_a = in_a ? ia->second : 0;
    d.calls_b = in_b ? ib->second : 0;
    out.paths.push_back(std::move(d));
  }
  std::stable_sort(out.paths.begin(), out.paths.end(), [](const PathDiff& x, const PathDiff& y) {
    if (x.in != y.in) return rank_of(x.in) < rank_of(y.in);
    return x.path.size() < y.path.size();
  });

  std::set<std::string> kernels(out.kernels_a.begin(), out.kernels_a.end());
  kernels.insert(out.kernels_b.begin(), out.kernels_b.end());
  kernels.erase("");
  if (kernels.size() > 1)
    out.notes.push_back("the sessions come from " + std::to_string(kernels.size()) + " kernels (" +
                        join({kernels.begin(), kernels.end()}) +
                        "): functions and paths are compared by name");

  // The question: which of rank's candidates does every session of both sides reach?
  RankRequest rr;
  rr.sessions = request.a;
  rr.sessions.insert(rr.sessions.end(), request.b.begin(), request.b.end());
  rr.arg = request.arg;
  rr.under = request.under;
  rr.btf_path = request.btf_path;
  rr.live = request.live;
  rr.require_all = true;
  rr.limit = request.candidates;
  auto ranked = rank(db, rr);
  if (!ranked) return tl::unexpected(ranked.error());
  out.warnings = ranked->warnings;
  for (const Candidate& c : ranked->candidates) {
    char score[32];
    std::snprintf(score, sizeof score, "%.0f", c.score);
    out.hit_in_both.push_back(c.function + " (" + score + ")");
  }
  const std::string what = request.arg ? "candidates taking " + *request.arg : "candidates";
  out.question = out.hit_in_both.empty()
                     ? "no " + what + " seen in every session of both sides"
                     : what + " hit in both sides, best first: " + join(out.hit_in_both);
  return out;
}

}  // namespace probeseek
