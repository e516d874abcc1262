#include "layers.h"

#include <bpf/btf.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "probeseek/kallsyms.h"
#include "probeseek/session_queries.h"
#include "probeseek/text.h"

namespace probeseek {

std::string SlotHolder::text() const {
  return (table.empty() ? struct_name : table + (module.empty() ? "" : " [" + module + "]")) + "." +
         member + " = " + function;
}

namespace {

std::string dotted(const std::string& struct_name, const std::string& member) {
  return struct_name + "." + member;
}

// Up to `most` items, then "and N more".
std::string some(const std::vector<std::string>& items, size_t most = 5) {
  std::vector<std::string> shown(
      items.begin(), items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), most)));
  std::string out = join(shown);
  if (items.size() > most) out += " and " + std::to_string(items.size() - most) + " more";
  return out;
}

}  // namespace

std::vector<std::string> Layer::family() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> by_function;
  for (const SlotHolder& s : siblings) {
    if (!s.same_family) continue;
    auto it = std::find_if(by_function.begin(), by_function.end(),
                           [&](const auto& f) { return f.first == s.function; });
    if (it == by_function.end()) it = by_function.insert(by_function.end(), {s.function, {}});
    if (!s.table.empty()) it->second.push_back(s.table);
  }
  std::vector<std::string> out;
  for (auto& [function, tables] : by_function) {
    std::stable_sort(tables.begin(), tables.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    out.push_back(function + (tables.empty() ? "" : " (" + join(tables) + ")"));
  }
  return out;
}

std::string Layer::kind() const {
  if (dispatcher() && implementation()) return "dispatcher and implementation";
  if (dispatcher()) return "dispatcher";
  if (implementation()) return "implementation";
  if (!shapes.empty()) return "shape only";
  return "none";
}

std::string Layer::summary() const {
  std::vector<std::string> parts;
  for (const Dispatch& d : dispatches)
    parts.push_back("dispatcher of " + dotted(d.struct_name, d.member) +
                    ": covers every implementation of it (" +
                    std::to_string(d.implementations.size()) + " seen: " + some(d.implementations) +
                    ")");
  if (!implements.empty()) {
    const Implementation& i = implements.front();
    std::string slot = dotted(i.struct_name, i.member);
    if (i.verified) {
      std::string text = "implementation of " + slot + " in " + some(i.tables) + ": covers what " +
                         (i.tables.size() == 1 ? "that table serves" : "those tables serve");
      std::set<std::string> others;
      for (const SlotHolder& s : siblings)
        if (!s.table.empty()) others.insert(s.table);
      if (!others.empty())
        text += "; " + std::to_string(others.size()) + " other table" +
                (others.size() == 1 ? " fills " : "s fill ") + slot;
      parts.push_back(text);
    } else {
      parts.push_back("implementation of " + slot +
                      " by its prototype and name (no table read from kernel memory): covers one "
                      "implementation of the interface, not the others");
    }
  }
  if (parts.empty() && !shapes.empty())
    parts.push_back("has the shape of " + some(shapes) + "; no table in kernel memory holds it");
  return join(parts, "; ");
}

namespace layers {

Status task_edges(Database& db, const std::vector<int64_t>& session_ids, Edges& callers,
                  Edges& callees) {
  for (int64_t id : session_ids) {
    auto done =
        for_each_task_edge(db, id, [&](const std::string& callee, const std::string& caller) {
          callers[callee].insert(caller);
          callees[caller].insert(callee);
        });
    if (!done) return done;
  }
  return {};
}

std::string family_key(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  size_t start = 0;
  bool first = true;
  while (start <= name.size()) {
    size_t end = name.find('_', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view t = name.substr(start, end - start);
    start = end + 1;
    auto alpha = [&](size_t i) { return std::isalpha(static_cast<unsigned char>(t[i])) != 0; };
    if (t == "v4" || t == "v6" || t == "ipv4" || t == "ipv6" || t == "4" || t == "6") continue;
    if (t.size() > 2 && t[t.size() - 2] == 'v' && (t.back() == '4' || t.back() == '6') &&
        alpha(t.size() - 3))
      t.remove_suffix(2);  // tcpv6 -> tcp
    else if (t.size() > 1 && (t.back() == '4' || t.back() == '6') && alpha(t.size() - 2))
      t.remove_suffix(1);  // ip6 -> ip, inet6 -> inet
    if (!first) out += '_';
    out += t;
    first = false;
  }
  return out;
}

const std::vector<std::string>& FamilyIndex::members(const Btf& btf, const std::string& key) {
  if (!built_) {
    // Only names with a 4 or a 6 change under family_key(): index those (a few thousand of
    // vmlinux's 60k functions); a name equal to its key is looked up in BTF directly.
    built_ = true;
    const struct btf* raw = btf.raw();
    const uint32_t n = btf__type_cnt(raw);
    for (uint32_t id = 1; id < n; ++id) {
      const struct btf_type* t = btf__type_by_id(raw, id);
      if (!t || !btf_is_func(t)) continue;
      const char* name = btf__name_by_offset(raw, t->name_off);
      if (!name || !*name || !std::strpbrk(name, "46")) continue;
      auto& names = by_key_[family_key(name)];
      if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
    }
  }
  scratch_.clear();
  if (auto it = by_key_.find(key); it != by_key_.end()) scratch_ = it->second;
  if (btf.function_id(key)) scratch_.push_back(key);
  return scratch_;
}

std::vector<StoredMembership> held_by(const StoredOps& stored, std::string_view function) {
  if (const auto* held = stored.find(function)) return *held;
  std::vector<StoredMembership> out;
  const std::string_view base = strip_clone_suffix(function);
  for (const auto& [slot, holders] : stored.slots)
    for (const StoredMembership& m : holders)
      if (strip_clone_suffix(m.function) == base) out.push_back(m);
  return out;
}

namespace {

struct CalleeSlot {
  std::string struct_name, member, table;
  bool verified = false;
};

// The members a callee sits in: the tables kernel memory showed holding it, or where no memory
// was read, the member its prototype and name fit (strong fits only).
std::vector<CalleeSlot> slots_of_callee(std::string_view callee, const Inputs& in) {
  std::vector<CalleeSlot> out;
  if (in.stored)
    if (const auto* held = in.stored->find(callee)) {
      for (const StoredMembership& m : *held)
        out.push_back({m.struct_name, m.member, m.table, true});
      return out;
    }
  if (in.scanned || !in.fits_of) return out;
  for (const OpsFit& f : in.fits_of(callee))
    if (f.strength == OpsStrength::kStrong && !f.is_union)
      out.push_back({f.struct_name, f.member, "", false});
  return out;
}

std::vector<Dispatch> dispatches_of(std::string_view function, bool held, const Inputs& in) {
  std::vector<Dispatch> out;
  if (!in.callees) return out;
  auto it = in.callees->find(function);
  if (it == in.callees->end()) return out;
  struct Group {
    std::map<std::string, std::string> implementations;  // base name -> "name (table)"
    size_t verified = 0;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  const std::string_view self = strip_clone_suffix(function);
  for (const std::string& callee : it->second) {
    std::string base(strip_clone_suffix(callee));
    if (base == self) continue;
    std::set<std::pair<std::string, std::string>> counted;
    for (const CalleeSlot& s : slots_of_callee(callee, in)) {
      Group& g = groups[{s.struct_name, s.member}];
      auto [at, fresh] = g.implementations.emplace(base, callee);
      if (!s.table.empty() && at->second.find(" (") == std::string::npos)
        at->second += " (" + s.table + ")";
      if (fresh && s.verified && counted.insert({s.struct_name, s.member}).second) ++g.verified;
    }
  }
  for (auto& [slot, g] : groups) {
    // Two implementations called below it, or the one below it verified while no table holds
    // the function itself: it calls through the member.
    bool through = g.implementations.size() >= 2 ||
                   (g.implementations.size() == 1 && g.verified == 1 && in.scanned && !held);
    if (!through) continue;
    Dispatch d{slot.first, slot.second, {}, g.verified};
    for (auto& [base, text] : g.implementations) d.implementations.push_back(text);
    out.push_back(std::move(d));
  }
  std::stable_sort(out.begin(), out.end(), [](const Dispatch& a, const Dispatch& b) {
    return a.implementations.size() > b.implementations.size();
  });
  return out;
}

void siblings_from_memory(std::string_view function, const Implementation& impl, const Inputs& in,
                          Layer& layer) {
  const auto* slots = in.stored->slots_of(impl.struct_name, impl.member);
  const std::string family = family_key(strip_clone_suffix(function));
  std::set<std::string> own_tables;
  for (const std::string& t : impl.tables) own_tables.insert(family_key(t));
  std::set<std::string> tables;
  for (const StoredMembership& m : slots ? *slots : std::vector<StoredMembership>{}) {
    if (strip_clone_suffix(m.function) == strip_clone_suffix(function)) continue;
    SlotHolder s{m.function,
                 m.table,
                 m.module,
                 m.struct_name,
                 m.member,
                 "verified in " + m.memory + " at record time",
                 family_key(strip_clone_suffix(m.function)) == family ||
                     own_tables.count(family_key(m.table)) > 0,
                 in.recorded && in.recorded(m.function)};
    tables.insert(m.table);
    layer.siblings.push_back(std::move(s));
  }
  layer.siblings_source =
      std::to_string(tables.size()) + " other table" + (tables.size() == 1 ? "" : "s") +
      " in kernel memory fill " + dotted(impl.struct_name, impl.member) + " (read by record from " +
      (slots && !slots->empty() ? slots->front().memory : "kernel memory") + ")";
}

// Where no memory was read: functions of the BTF named like it but for the address family,
// whose prototype fits the same member.
void siblings_from_btf(std::string_view function, const Implementation& impl, const Inputs& in,
                       Layer& layer) {
  const std::string_view self = strip_clone_suffix(function);
  const std::string family = family_key(self);
  for (const std::string& name : in.families->members(*in.btf, family)) {
    if (name == self) continue;
    auto fits = in.ops->fits(*in.btf, name);
    bool fits_member = std::any_of(fits.begin(), fits.end(), [&](const OpsFit& f) {
      return f.struct_name == impl.struct_name && f.member == impl.member;
    });
    if (!fits_member) continue;
    layer.siblings.push_back({name, "", "", impl.struct_name, impl.member,
                              "BTF: its prototype fits " + dotted(impl.struct_name, impl.member) +
                                  " and its name is this one's for another address family",
                              true, in.recorded && in.recorded(name)});
  }
  layer.siblings_source =
      impl.verified
          ? "BTF prototypes and names (these sessions' scan of kernel memory predates the "
            "sibling slots record now keeps: record again to list the other tables)"
          : "BTF prototypes and names (record did not read kernel memory for these sessions, "
            "so other tables are unknown)";
}

}  // namespace

Layer layer_of(std::string_view function, const std::vector<OpsFit>& fits, const Inputs& in) {
  Layer layer;
  const std::vector<StoredMembership> held =
      in.stored ? held_by(*in.stored, function) : std::vector<StoredMembership>{};
  // The scan looked for the recorded functions only: for another one, silence says nothing.
  const bool looked = in.scanned && in.recorded && in.recorded(function);
  if (!held.empty()) {
    for (const StoredMembership& m : held) {
      auto same = std::find_if(layer.implements.begin(), layer.implements.end(),
                               [&](const Implementation& i) {
                                 return i.struct_name == m.struct_name && i.member == m.member;
                               });
      if (same == layer.implements.end())
        layer.implements.push_back({m.struct_name, m.member, {m.table}, true});
      else if (std::find(same->tables.begin(), same->tables.end(), m.table) == same->tables.end())
        same->tables.push_back(m.table);
    }
    // Plain names first (tcp_prot before tcp_prot_override and the tcp_bpf_prots array).
    for (Implementation& i : layer.implements)
      std::stable_sort(i.tables.begin(), i.tables.end(),
                       [](const std::string& a, const std::string& b) {
                         return a.size() != b.size() ? a.size() < b.size() : a < b;
                       });
    // The member its name fits best first (OpsIndex::fits' order).
    auto order = [&](const Implementation& i) {
      for (size_t k = 0; k < fits.size(); ++k)
        if (fits[k].struct_name == i.struct_name && fits[k].member == i.member) return k;
      return fits.size();
    };
    std::stable_sort(
        layer.implements.begin(), layer.implements.end(),
        [&](const Implementation& a, const Implementation& b) { return order(a) < order(b); });
  } else if (!looked && !fits.empty() && fits.front().strength == OpsStrength::kStrong &&
             !fits.front().is_union) {
    layer.implements.push_back({fits.front().struct_name, fits.front().member, {}, false});
  } else if (looked) {
    for (const OpsFit& f : fits)
      if (f.strength != OpsStrength::kWeak) layer.shapes.push_back(dotted(f.struct_name, f.member));
  }
  layer.dispatches = dispatches_of(function, !held.empty(), in);
  if (layer.implementation()) {
    const Implementation& impl = layer.implements.front();
    if (impl.verified && in.stored && in.stored->slots_scanned)
      siblings_from_memory(function, impl, in, layer);
    else if (in.btf && in.ops)
      siblings_from_btf(function, impl, in, layer);
    // The same family first, then what the recordings show, then plain table names first.
    std::stable_sort(layer.siblings.begin(), layer.siblings.end(),
                     [](const SlotHolder& a, const SlotHolder& b) {
                       if (a.same_family != b.same_family) return a.same_family;
                       if (a.recorded != b.recorded) return a.recorded;
                       if (a.function != b.function) return a.function < b.function;
                       return a.table.size() != b.table.size() ? a.table.size() < b.table.size()
                                                               : a.table < b.table;
                     });
  }
  return layer;
}

HookSet hook_set(std::string_view function, const Layer& layer, const HookSetInputs& in) {
  HookSet set;
  set.functions.emplace_back(function);
  if (layer.implementation()) {
    const Implementation& impl = layer.implements.front();
    const std::string slot = dotted(impl.struct_name, impl.member);
    set.why.push_back(
        "implementation of " + slot +
        (impl.tables.empty() ? " (by its prototype and name)" : " in " + join(impl.tables)));
    std::vector<std::string> covered = impl.tables, others;
    for (const SlotHolder& s : layer.siblings) {
      bool same = strip_clone_suffix(s.function) == strip_clone_suffix(function);
      if (!s.same_family || same) {
        if (!s.table.empty() && !s.same_family &&
            std::find(others.begin(), others.end(), s.table) == others.end())
          others.push_back(s.table);
        continue;
      }
      if (!s.table.empty()) covered.push_back(s.table);
      if (std::find(set.functions.begin(), set.functions.end(), s.function) != set.functions.end())
        continue;
      set.functions.push_back(s.function);
      set.why.push_back("sibling for another address family: " + s.text() + " (" + s.source + ")" +
                        (s.recorded ? "" : "; not seen in the recordings"));
    }
    set.covers = slot + (covered.empty() ? " for this function's family" : " in " + join(covered));
    set.trade_off =
        std::string(covered.empty() ? "an implementation set sees only its own implementations' "
                                      "work (which others fill " +
                                          slot +
                                          " is unknown: no kernel "
                                          "memory was read for these sessions)"
                                    : "an implementation set sees only these tables' work") +
        (others.empty() ? std::string()
                        : " (" + std::to_string(others.size()) + " other table" +
                              (others.size() == 1 ? " fills " : "s fill ") + slot + ": " +
                              some(others) + ")") +
        ", and must be kept in step with the kernel: an implementation added later, or in a "
        "module not loaded when it was recorded, is missed";
    if (in.callers && in.layer_of) {
      auto it = in.callers->find(function);
      for (const std::string& caller :
           it == in.callers->end() ? std::set<std::string>{} : it->second) {
        Layer above = in.layer_of(caller);
        bool dispatches =
            std::any_of(above.dispatches.begin(), above.dispatches.end(), [&](const Dispatch& d) {
              return d.struct_name == impl.struct_name && d.member == impl.member;
            });
        if (!dispatches) continue;
        set.alternative = "for every implementation of " + slot + ", hook the dispatcher " +
                          caller + " instead: it calls " + std::string(function) + " through " +
                          slot +
                          " and also sees the implementations you may not "
                          "want";
        if (in.takes_arg && !in.takes_arg(caller))
          set.alternative += " (it does not take " + in.arg + ")";
        break;
      }
    }
    return set;
  }
  if (layer.dispatcher()) {
    const Dispatch& d = layer.dispatches.front();
    const std::string slot = dotted(d.struct_name, d.member);
    set.why.push_back("dispatcher of " + slot);
    set.covers = "every implementation of " + slot + " (" +
                 std::to_string(d.implementations.size()) + " seen: " + some(d.implementations) +
                 ")";
    set.trade_off =
        "it also sees the implementations you may not want: filter in the probe (by pid, or by "
        "the fields of its arguments)";
    set.alternative =
        "to cover only some, hook the implementations below it: " + some(d.implementations);
    return set;
  }
  std::string summary = layer.summary();
  set.why.push_back(summary.empty() ? "neither held by an ops table nor calling through one"
                                    : summary);
  set.covers = "the paths that reach this one function";
  return set;
}

}  // namespace layers
}  // namespace probeseek
