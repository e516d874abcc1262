// compat: verdicts per function and kernel from the catalogue (docs/compat.md), and the
// derivation of a kernel's catalogue rows from what a reader found in its files.
#include "probeseek/compat.h"

#include <bpf/btf.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <unordered_map>

#include "btf_types.h"
#include "catalog_ops.h"
#include "probeseek/btf.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

std::string_view type_name_of(const struct btf* btf, const struct btf_type* t) {
  const char* name = btf__name_by_offset(btf, t->name_off);
  return name ? std::string_view(name) : std::string_view();
}

uint32_t skip_modifiers(const struct btf* btf, uint32_t id) {
  return detail::skip_modifiers(btf, id, /*also_typedefs=*/true);
}

// A member of a struct/union by name, looking into anonymous members as C does.
bool find_member(const struct btf* btf, uint32_t struct_id, std::string_view name, int depth,
                 uint32_t* type_id, int64_t* offset_bits) {
  if (depth > 16) return false;
  const struct btf_type* t = btf__type_by_id(btf, struct_id);
  if (t == nullptr || !btf_is_composite(t)) return false;
  const struct btf_member* m = btf_members(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i, ++m) {
    const char* n = btf__name_by_offset(btf, m->name_off);
    const int64_t off = btf_member_bit_offset(t, i);
    if (n != nullptr && *n != '\0') {
      if (name == n) {
        *type_id = m->type;
        *offset_bits = off;
        return true;
      }
      continue;
    }
    uint32_t inner = skip_modifiers(btf, m->type);
    int64_t inner_off = 0;
    if (find_member(btf, inner, name, depth + 1, type_id, &inner_off)) {
      *offset_bits = off + inner_off;
      return true;
    }
  }
  return false;
}

CatalogMember resolve_member(const Btf& btf, const ProbeRead& read) {
  CatalogMember out{read.type, read.member, "", -1};
  const struct btf* raw = btf.raw();
  std::string_view type = read.type;
  const bool is_union = type.rfind("union ", 0) == 0;
  std::string tag(type.substr(type.find(' ') + 1));
  int id = btf__find_by_name_kind(raw, tag.c_str(), is_union ? BTF_KIND_UNION : BTF_KIND_STRUCT);
  if (id <= 0) return out;
  uint32_t current = static_cast<uint32_t>(id);
  int64_t offset = 0;
  std::string_view path = read.member;
  uint32_t member_type = 0;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    int64_t off = 0;
    if (!find_member(raw, current, part, 0, &member_type, &off)) return out;
    offset += off;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    current = skip_modifiers(raw, member_type);
  }
  out.member_type = btf.type_name(member_type);
  out.offset_bits = offset;
  return out;
}

// A type's key for comparing kernels: typedefs resolved, qualifiers dropped. An anonymous
// struct behind a typedef (nodemask_t, atomic_t, pm_message_t) has no name to compare by, only a
// BTF id that differs between kernels: such a type keeps its typedef names instead.
std::string structural_key(const struct btf* btf, uint32_t id) {
  std::string key = detail::type_key(btf, id, /*resolve_typedefs=*/true);
  if (key.find('#') != std::string::npos)
    key = detail::type_key(btf, id, /*resolve_typedefs=*/false);
  return key;
}

std::vector<std::string> words_of(std::string_view name) {
  std::vector<std::string> words;
  size_t at = 0;
  while (at <= name.size()) {
    size_t end = name.find('_', at);
    if (end == std::string_view::npos) end = name.size();
    if (end - at >= 2) words.emplace_back(name.substr(at, end - at));
    at = end + 1;
  }
  return words;
}

std::string declaration(const std::string& name, const SignatureParts& parts) {
  std::string out = parts.return_type;
  if (!out.empty() && out.back() != '*') out += ' ';
  out += name + "(";
  for (size_t i = 0; i < parts.params.size(); ++i) {
    if (i) out += ", ";
    const std::string& type = parts.params[i].type;
    const std::string& pname = parts.params[i].name;
    out += type;
    if (!pname.empty()) {
      if (!type.empty() && type.back() != '*') out += ' ';
      out += pname;
    }
  }
  if (parts.variadic) out += parts.params.empty() ? "..." : ", ...";
  if (parts.params.empty() && !parts.variadic) out += "void";
  return out + ")";
}

std::string quoted(const std::string& name) {
  return name.empty() ? "(unnamed)" : "'" + name + "'";
}

// What changed from the reference prototype, in the words a probe author needs: a BPF_KPROBE
// argument is a register, so a parameter that moves or is retyped reads the wrong thing. Types
// compare by structural key: "u32" and "unsigned int", or an added const, are no change.
std::vector<std::string> prototype_changes(const SignatureParts& ref, const SignatureParts& now) {
  std::vector<std::string> changes;
  if (ref.return_key != now.return_key)
    changes.push_back("return type " + ref.return_type + " -> " + now.return_type);
  std::vector<bool> matched(now.params.size(), false);
  for (size_t i = 0; i < ref.params.size(); ++i) {
    const SignatureParam& p = ref.params[i];
    std::optional<size_t> same_name;
    for (size_t j = 0; j < now.params.size() && !p.name.empty(); ++j)
      if (!matched[j] && now.params[j].name == p.name) {
        same_name = j;
        break;
      }
    const std::string pos = "parameter " + std::to_string(i + 1) + " " + quoted(p.name);
    if (same_name) {
      matched[*same_name] = true;
      if (*same_name != i)
        changes.push_back(pos + " moved to position " + std::to_string(*same_name + 1));
      if (now.params[*same_name].key != p.key)
        changes.push_back(pos + " retyped " + p.type + " -> " + now.params[*same_name].type);
      continue;
    }
    if (i < now.params.size() && !matched[i] && now.params[i].key == p.key) {
      matched[i] = true;
      changes.push_back(pos + " renamed to " + quoted(now.params[i].name) +
                        " (same type and register)");
      continue;
    }
    changes.push_back(pos + " (" + p.type + ") removed");
  }
  for (size_t j = 0; j < now.params.size(); ++j)
    if (!matched[j])
      changes.push_back("parameter " + std::to_string(j + 1) + " " + quoted(now.params[j].name) +
                        " (" + now.params[j].type + ") added");
  if (ref.variadic != now.variadic)
    changes.push_back(now.variadic ? "became variadic" : "no longer variadic");
  return changes;
}

// Functions that are tracing plumbing, not kernel logic: never a replacement.
bool is_tracing_stub(std::string_view name) {
  for (std::string_view prefix :
       {"__probestub_", "__bpf_trace_", "__traceiter_", "trace_event_raw_event_", "perf_trace_",
        "trace_raw_output_", "__pfx_", "__cfi_"})
    if (name.substr(0, prefix.size()) == prefix) return true;
  return false;
}

// Where an absent function's work went, best first: functions the reference kernel does not
// have whose names share its words (weighted by how rare each word is among all catalogued
// names: sharing "blk" says little, sharing "path" much) and whose parameters take the same
// pointers and structs. A word index over every catalogued name is built once per compat run;
// each candidate is then two point lookups, so sixty kernels cost milliseconds.
class ReplacementSearch {
 public:
  static Result<ReplacementSearch> make(Database& db, int64_t reference_id,
                                        const std::string& reference_name) {
    ReplacementSearch r;
    r.reference_name_ = reference_name;
    auto names = catalog_names(db);
    if (!names) return tl::unexpected(names.error());
    auto lookup = CatalogLookup::make(db);
    if (!lookup) return tl::unexpected(lookup.error());
    r.lookup_.emplace(std::move(*lookup));
    r.reference_id_ = reference_id;
    r.names_ = std::move(*names);
    return r;
  }

  Result<std::vector<Replacement>> find(const std::string& function, const SignatureParts& ref_sig,
                                        int64_t kernel_id, bool knows_traceable, bool in_module) {
    const std::vector<std::string> words = words_of(function);
    const std::vector<std::pair<double, uint32_t>>& ranked = ranked_for(function, words);

    // Only pointers and aggregates say what a function works on: an int or a gfp_t says
    // nothing (and many typedefs share one integer type).
    auto telling = [](const std::string& type) {
      return type.find('*') != std::string::npos || type.rfind("struct ", 0) == 0 ||
             type.rfind("const struct ", 0) == 0 || type.rfind("union ", 0) == 0;
    };
    std::map<std::string, std::string> ref_types;  // key -> spelling
    for (const SignatureParam& p : ref_sig.params)
      if (telling(p.type)) ref_types.emplace(p.key, p.type);

    struct Scored {
      double score;
      Replacement r;
    };
    std::vector<Scored> scored;
    for (const auto& [word_weight, i] : ranked) {
      const int64_t name_id = names_[i].first;
      auto in_ref = in_reference(name_id);
      if (!in_ref) return tl::unexpected(in_ref.error());
      if (*in_ref) continue;  // not new: the reference has it too
      auto row = lookup_->get(kernel_id, name_id);
      if (!row) return tl::unexpected(row.error());
      if (!*row) continue;
      const CatalogFunction& c = **row;
      if (c.signature.empty() || c.symbols == 0) continue;
      // Work done in vmlinux moves within vmlinux: a module's function of similar name (ubi's
      // ubi_get_num_by_path for blkdev_get_by_path) is noise there.
      if (!in_module && !c.module.empty()) continue;
      if (knows_traceable && !(c.flags & kCatalogTraceable)) continue;
      std::vector<std::string> shared;
      for (const std::string& w : words_of(c.name))
        if (std::find(words.begin(), words.end(), w) != words.end() &&
            std::find(shared.begin(), shared.end(), w) == shared.end())
          shared.push_back(w);
      const SignatureParts cs = decode_signature(c.signature);
      std::vector<std::string> types;
      for (const SignatureParam& p : cs.params)
        if (auto it = ref_types.find(p.key);
            it != ref_types.end() &&
            std::find(types.begin(), types.end(), it->second) == types.end())
          types.push_back(it->second);
      if (!ref_types.empty() && types.empty()) continue;
      Scored s{word_weight + 2.0 * static_cast<double>(types.size()), {}};
      if (cs.return_key == ref_sig.return_key) s.score += 1;
      bool same_params = cs.params.size() == ref_sig.params.size();
      for (size_t k = 0; same_params && k < cs.params.size(); ++k)
        same_params = cs.params[k].key == ref_sig.params[k].key;
      if (same_params && cs.return_key == ref_sig.return_key) s.score += 4;
      // Weak evidence is no answer: a common word or two and nothing else.
      if (s.score < 7.0) continue;
      s.r.function = c.name;
      s.r.prototype = declaration(c.name, cs);
      s.r.why = "not in " + reference_name_ + "; shares ";
      for (size_t k = 0; k < shared.size(); ++k) s.r.why += (k ? ", " : "") + shared[k];
      if (!types.empty()) {
        s.r.why += "; takes ";
        for (size_t k = 0; k < types.size(); ++k) s.r.why += (k ? ", " : "") + types[k];
      }
      scored.push_back(std::move(s));
    }
    std::stable_sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
      return a.score != b.score ? a.score > b.score : a.r.function < b.r.function;
    });
    std::vector<Replacement> out;
    for (size_t k = 0; k < scored.size() && k < 3; ++k) out.push_back(std::move(scored[k].r));
    return out;
  }

 private:
  // Names sharing a word with `function`, best 400 by the summed weight of the shared words
  // (rarer words weigh more: log((names + 1) / (names with the word + 1))). One pass over every
  // catalogued name per absent function, kept for the other kernels it is absent on: with
  // modules the catalogue holds over half a million names, too many to index up front.
  const std::vector<std::pair<double, uint32_t>>& ranked_for(
      const std::string& function, const std::vector<std::string>& words) {
    if (auto it = ranked_.find(function); it != ranked_.end()) return it->second;
    const size_t n = std::min<size_t>(words.size(), 64);
    std::vector<size_t> df(n, 0);
    std::vector<std::pair<uint32_t, uint64_t>> hits;  // name, bit k: shares words[k]
    for (uint32_t i = 0; i < names_.size(); ++i) {
      const std::string_view name = names_[i].second;
      uint64_t mask = 0;
      size_t at = 0;
      while (at <= name.size()) {
        size_t end = name.find('_', at);
        if (end == std::string_view::npos) end = name.size();
        if (end - at >= 2) {
          const std::string_view w = name.substr(at, end - at);
          for (size_t k = 0; k < n; ++k)
            if (words[k] == w) mask |= uint64_t{1} << k;
        }
        at = end + 1;
      }
      if (mask == 0) continue;
      for (size_t k = 0; k < n; ++k) df[k] += (mask >> k) & 1;
      hits.emplace_back(i, mask);
    }
    std::vector<double> idf(n);
    for (size_t k = 0; k < n; ++k)
      idf[k] = std::log(static_cast<double>(names_.size() + 1) / static_cast<double>(df[k] + 1));
    std::vector<std::pair<double, uint32_t>> ranked;
    for (const auto& [i, mask] : hits) {
      if (names_[i].second == function || is_tracing_stub(names_[i].second)) continue;
      double weight = 0;
      for (size_t k = 0; k < n; ++k)
        if ((mask >> k) & 1) weight += idf[k];
      ranked.emplace_back(weight, i);
    }
    const size_t keep = std::min<size_t>(ranked.size(), 400);
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                      ranked.end(), [](const auto& a, const auto& b) {
                        return a.first != b.first ? a.first > b.first : a.second < b.second;
                      });
    ranked.resize(keep);
    return ranked_.emplace(function, std::move(ranked)).first->second;
  }

  Result<bool> in_reference(int64_t name_id) {
    if (auto it = in_reference_.find(name_id); it != in_reference_.end()) return it->second;
    auto row = lookup_->get(reference_id_, name_id);
    if (!row) return tl::unexpected(row.error());
    in_reference_.emplace(name_id, row->has_value());
    return row->has_value();
  }

  std::vector<std::pair<int64_t, std::string>> names_;
  std::unordered_map<std::string, std::vector<std::pair<double, uint32_t>>> ranked_;
  std::optional<CatalogLookup> lookup_;
  int64_t reference_id_ = 0;
  std::string reference_name_;
  std::unordered_map<int64_t, bool> in_reference_;
};

// Where an absent function's ops-table slots went. On the reference kernel it sat in some
// table.member slots; on the other kernel, whatever those slots hold now took over its work
// (socket_file_ops.splice_write: generic_splice_sendpage on 6.1, splice_to_socket on 6.12).
// Each kernel's slots are read once per compat run.
class SlotSearch {
 public:
  explicit SlotSearch(Database& db) : db_(db) {}

  // nullopt when either kernel was catalogued without its ops tables.
  Result<std::optional<std::vector<Replacement>>> find(const std::string& function,
                                                       int64_t reference_id,
                                                       const std::string& reference_name,
                                                       int64_t kernel_id, bool knows_traceable) {
    auto ref = slots(reference_id);
    if (!ref) return tl::unexpected(ref.error());
    auto now = slots(kernel_id);
    if (!now) return tl::unexpected(now.error());
    std::optional<std::vector<Replacement>> out;
    if (!(*ref)->known || !(*now)->known) return out;
    out.emplace();
    auto held = (*ref)->by_function.find(function);
    if (held == (*ref)->by_function.end()) return out;
    std::map<std::string, std::vector<std::string>> votes;  // successor -> the slots it took
    for (const std::string& slot : held->second) {
      auto it = (*now)->by_slot.find(slot);
      if (it == (*now)->by_slot.end() || it->second == function) continue;
      auto& v = votes[it->second];
      if (std::find(v.begin(), v.end(), slot) == v.end()) v.push_back(slot);
    }
    std::vector<std::pair<std::string, std::vector<std::string>>> ranked(votes.begin(),
                                                                         votes.end());
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.second.size() > b.second.size();
    });
    for (const auto& [successor, taken] : ranked) {
      if (out->size() == 3) break;
      auto rows = catalog_functions(db_, kernel_id, {successor});
      if (!rows) return tl::unexpected(rows.error());
      if (rows->empty()) continue;
      const CatalogFunction& c = rows->front();
      if (knows_traceable && !(c.flags & kCatalogTraceable)) continue;
      Replacement r;
      r.function = successor;
      if (!c.signature.empty()) r.prototype = declaration(successor, decode_signature(c.signature));
      r.why = "sits in " + taken.front();
      if (taken.size() > 1) r.why += " and " + std::to_string(taken.size() - 1) + " more slots";
      r.why += ", where " + function + " sat on " + reference_name;
      out->push_back(std::move(r));
    }
    return out;
  }

 private:
  struct Slots {
    bool known = false;
    std::unordered_map<std::string, std::vector<std::string>> by_function;  // base name -> slots
    std::unordered_map<std::string, std::string> by_slot;  // "table.member" -> base name
  };
  Result<const Slots*> slots(int64_t kernel_id) {
    if (auto it = cache_.find(kernel_id); it != cache_.end()) return &it->second;
    auto stored = catalog_ops(db_, kernel_id);
    if (!stored) return tl::unexpected(stored.error());
    Slots& s = cache_[kernel_id];
    if (!*stored) return &s;
    s.known = true;
    for (const CatalogOpsSlot& slot : **stored) {
      std::string key = slot.table + "." + slot.member;
      std::string base(strip_clone_suffix(slot.function));
      s.by_function[base].push_back(key);
      s.by_slot.emplace(std::move(key), std::move(base));
    }
    return &s;
  }

  Database& db_;
  std::unordered_map<int64_t, Slots> cache_;
};

// What the catalogue keeps of a prototype: each type as C spells it and as a structural key.
SignatureParts signature(const struct btf* raw, const FunctionPrototype& proto) {
  SignatureParts parts;
  parts.return_type = proto.return_type;
  parts.return_key = structural_key(raw, proto.return_type_id);
  for (const Parameter& p : proto.params)
    parts.params.push_back(SignatureParam{p.type, p.name, structural_key(raw, p.type_id)});
  parts.variadic = proto.variadic;
  return parts;
}

// Loadable modules' functions: each defined name joins the catalogue under its module (a name
// vmlinux or another module also defines counts once more: compat's duplicate), with its
// prototype from the module's split BTF and its ftrace call sites. A module whose BTF does not
// parse over the kernel's still lists its functions, without prototypes.
void add_module_functions(const KernelFacts& facts, const Btf& vmlinux,
                          std::map<std::string, CatalogFunction>& functions,
                          std::vector<std::string>& modules) {
  const uint32_t base_count = btf__type_cnt(vmlinux.raw());
  for (const KernelModule& m : facts.modules) {
    modules.push_back(m.name);
    std::unordered_map<std::string_view, uint32_t> btf_funcs;
    std::optional<Btf> split;
    if (!m.btf.empty()) {
      auto parsed = Btf::from_bytes_split(m.btf, vmlinux, facts.source + ": " + m.name);
      if (parsed) split.emplace(std::move(*parsed));
    }
    if (split) {
      const struct btf* raw = split->raw();
      for (uint32_t id = base_count; id < btf__type_cnt(raw); ++id) {
        const struct btf_type* t = btf__type_by_id(raw, id);
        if (t == nullptr || !btf_is_func(t)) continue;
        btf_funcs.try_emplace(type_name_of(raw, t), id);
      }
    }
    for (const std::string& symbol : m.functions) {
      const std::string base(strip_clone_suffix(symbol));
      auto [it, fresh] = functions.try_emplace(base);
      CatalogFunction& f = it->second;
      if (fresh) f.name = base;
      // vmlinux's BTF may describe a function only a module defines (no symbol in vmlinux).
      if (f.module.empty() && f.symbols == 0 && f.clones.empty()) f.module = m.name;
      if (base == symbol) {
        ++f.symbols;
      } else if (f.clones.size() < 512) {
        if (!f.clones.empty()) f.clones += ' ';
        f.clones += symbol;
      }
      // By id: Btf::prototype() would index all of vmlinux's types again for each module.
      if (f.signature.empty() && split)
        if (auto b = btf_funcs.find(base); b != btf_funcs.end())
          if (auto proto = split->prototype_of(b->second))
            f.signature = encode_signature(signature(split->raw(), *proto));
    }
    for (const std::string& name : m.traceable)
      if (auto it = functions.find(name); it != functions.end() && it->second.module == m.name)
        it->second.flags |= kCatalogTraceable;
  }
}

struct KernelRef {
  int64_t id;
  std::string name;
  bool knows_traceable;
  bool knows_blacklist;
  bool has_symbols;
};

}  // namespace

const std::vector<ProbeRead>& probe_reads() {
  // Kept in step with bpf/probe.bpf.c (read_sock, read_sockaddr, read_name, the parent walk) and
  // attach/src/gen.cpp's readers.
  static const std::vector<ProbeRead> kReads = {
      {"struct sock", "__sk_common.skc_family"},
      {"struct sock", "__sk_common.skc_num"},
      {"struct sock", "__sk_common.skc_dport"},
      {"struct sock", "__sk_common.skc_state"},
      {"struct sock", "__sk_common.skc_rcv_saddr"},
      {"struct sock", "__sk_common.skc_daddr"},
      {"struct sock", "__sk_common.skc_v6_rcv_saddr"},
      {"struct sock", "__sk_common.skc_v6_daddr"},
      {"struct sock", "sk_protocol"},
      {"struct socket", "sk"},
      {"struct sk_buff", "len"},
      {"struct sk_buff", "protocol"},
      {"struct filename", "name"},
      {"struct dentry", "d_name.name"},
      {"struct file", "f_path.dentry"},
      {"struct path", "dentry"},
      {"struct sockaddr", "sa_family"},
      {"struct sockaddr_in", "sin_port"},
      {"struct sockaddr_in", "sin_addr"},
      {"struct sockaddr_in6", "sin6_port"},
      {"struct sockaddr_in6", "sin6_addr"},
      {"struct task_struct", "real_parent"},
      {"struct task_struct", "tgid"},
  };
  return kReads;
}

Result<CatalogKernelInput> catalog_input(const KernelFacts& facts) {
  if (facts.btf.empty())
    return bad_input("no BTF in " + printable(facts.source), facts.source,
                     "compat compares prototypes from BTF: add a kernel built with "
                     "CONFIG_DEBUG_INFO_BTF, or its raw BTF file");
  auto btf = Btf::from_bytes(facts.btf, facts.source);
  if (!btf) return tl::unexpected(btf.error());
  if (facts.release.empty() || printable(facts.release) != facts.release ||
      facts.release.size() > 200)
    return bad_input("no usable kernel release name in " + printable(facts.source), facts.source,
                     "name it with --name RELEASE");

  CatalogKernelInput in;
  CatalogKernel& k = in.kernel;
  k.name = facts.release;
  k.build_id = facts.build_id;
  k.source = facts.source;
  k.compression = facts.compression;
  k.symbols_from = facts.symbols_from;
  for (const auto& [key, value] : facts.config) k.config += key + "=" + value + "\n";
  k.symbols = static_cast<int64_t>(facts.symbols.size());
  if (facts.traceable) k.traceable = static_cast<int64_t>(facts.traceable->size());
  if (facts.blacklist) k.blacklisted = static_cast<int64_t>(facts.blacklist->size());
  in.btf = facts.btf;

  std::map<std::string, CatalogFunction> functions;
  const struct btf* raw = btf->raw();
  const uint32_t count = btf__type_cnt(raw);
  for (uint32_t id = 1; id < count; ++id) {
    const struct btf_type* t = btf__type_by_id(raw, id);
    if (t == nullptr || !btf_is_func(t)) continue;
    std::string name(type_name_of(raw, t));
    if (name.empty() || functions.count(name)) continue;
    auto proto = btf->prototype(name);
    if (!proto) continue;
    CatalogFunction f;
    f.name = name;
    f.signature = encode_signature(signature(raw, *proto));
    functions.emplace(name, std::move(f));
  }
  k.functions = static_cast<int64_t>(functions.size());

  std::string& text = in.symbols_text;
  text.reserve(facts.symbols.size() * 40);
  for (const KernelSymbol& s : facts.symbols) {
    char addr[20];
    std::snprintf(addr, sizeof addr, "%016llx", static_cast<unsigned long long>(s.address));
    text += addr;
    text += ' ';
    text += s.type;
    text += ' ';
    text += s.name;
    if (!s.module.empty()) text += "\t[" + s.module + "]";
    text += '\n';
    if (!s.is_text() || !s.module.empty()) continue;
    std::string base(strip_clone_suffix(s.name));
    CatalogFunction& f = functions[base];
    f.name = base;
    if (base == s.name) {
      ++f.symbols;
    } else if (f.clones.size() < 512) {
      if (!f.clones.empty()) f.clones += ' ';
      f.clones += s.name;
    }
  }
  auto flag = [&](const std::optional<std::vector<std::string>>& names, uint32_t bit) {
    if (!names) return;
    for (const std::string& n : *names)
      if (auto it = functions.find(n); it != functions.end()) it->second.flags |= bit;
  };
  flag(facts.traceable, kCatalogTraceable);
  flag(facts.blacklist, kCatalogBlacklisted);
  add_module_functions(facts, *btf, functions, in.modules);
  if (facts.modules_skipped > 0)
    in.modules_note = std::to_string(facts.modules_skipped) + " of " +
                      std::to_string(facts.modules.size() + facts.modules_skipped) +
                      " modules skipped (their functions are not catalogued), the first: " +
                      facts.first_module_error;
  in.functions.reserve(functions.size());
  for (auto& [name, f] : functions) in.functions.push_back(std::move(f));
  for (const ProbeRead& read : probe_reads()) in.members.push_back(resolve_member(*btf, read));
  if (!facts.symbols.empty()) {
    auto slots = scan_catalog_ops(facts, *btf);
    if (slots)
      in.ops = std::move(*slots);
    else
      in.ops_error = slots.error().message();
  } else {
    in.ops_error = "the source has no symbols to find ops tables by";
  }
  return in;
}

void sort_kernel_names(std::vector<std::string>& names) {
  // Compare runs of digits as numbers, everything else as text.
  auto less = [](const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
      if (std::isdigit(static_cast<unsigned char>(a[i])) &&
          std::isdigit(static_cast<unsigned char>(b[j]))) {
        size_t ie = i, je = j;
        while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
        while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
        std::string_view da(a.data() + i, ie - i), db(b.data() + j, je - j);
        while (da.size() > 1 && da[0] == '0') da.remove_prefix(1);
        while (db.size() > 1 && db[0] == '0') db.remove_prefix(1);
        if (da.size() != db.size()) return da.size() < db.size();
        if (da != db) return da < db;
        i = ie;
        j = je;
      } else {
        if (a[i] != b[j]) return a[i] < b[j];
        ++i;
        ++j;
      }
    }
    return a.size() - i < b.size() - j;
  };
  std::stable_sort(names.begin(), names.end(), less);
}

std::string describe_kernels(const std::vector<std::string>& kernels) {
  if (kernels.empty()) return "no kernel";
  if (kernels.size() == 1) return kernels.front();
  return kernels.front() + " .. " + kernels.back() + " (" + std::to_string(kernels.size()) +
         " kernels)";
}

Result<CompatReport> compat(Database& db, const CompatRequest& request) {
  auto catalogued = list_catalog_kernels(db);
  if (!catalogued) return tl::unexpected(catalogued.error());
  if (catalogued->empty())
    return bad_input("the kernel catalogue is empty", db.path(),
                     "add kernels first: probeseek kernels add --debian 6.1 (or a .deb, a "
                     "vmlinuz, a BTF file, or live)");
  std::unordered_map<std::string, const CatalogKernel*> by_name;
  for (const CatalogKernel& k : *catalogued) by_name.emplace(k.name, &k);

  std::vector<std::string> names = request.kernels;
  if (names.empty())
    for (const CatalogKernel& k : *catalogued) names.push_back(k.name);
  for (const std::string& n : names)
    if (!by_name.count(n))
      return bad_input("no kernel " + printable(n) + " in the catalogue", db.path(),
                       "list them with: probeseek kernels");
  // The reference: given, else the kernel of the newest recorded session that is catalogued,
  // else the first kernel given (or catalogued).
  std::string reference = request.reference;
  if (reference.empty()) {
    auto releases = session_kernel_releases(db);
    if (!releases) return tl::unexpected(releases.error());
    for (const std::string& r : *releases)
      if (by_name.count(r) &&
          (request.kernels.empty() || std::find(names.begin(), names.end(), r) != names.end())) {
        reference = r;
        break;
      }
  }
  // Without --kernel, "first" is the oldest catalogued release, not the first one added.
  if (request.kernels.empty()) sort_kernel_names(names);
  if (reference.empty()) reference = names.front();
  if (std::find(names.begin(), names.end(), reference) == names.end()) names.push_back(reference);
  if (!by_name.count(reference))
    return bad_input("no reference kernel " + printable(reference) + " in the catalogue", db.path(),
                     "list them with: probeseek kernels");
  sort_kernel_names(names);
  names.erase(std::unique(names.begin(), names.end()), names.end());

  auto ref_of = [&](const std::string& name) {
    const CatalogKernel* k = by_name.at(name);
    return KernelRef{k->id, k->name, k->traceable.has_value(), k->blacklisted.has_value(),
                     k->symbols > 0};
  };
  const KernelRef ref = ref_of(reference);
  auto ref_functions = catalog_functions(db, ref.id, request.functions);
  if (!ref_functions) return tl::unexpected(ref_functions.error());
  std::unordered_map<std::string, CatalogFunction> ref_by_name;
  for (CatalogFunction& f : *ref_functions) ref_by_name.emplace(f.name, std::move(f));

  CompatReport report;
  report.reference = reference;
  report.kernels = names;
  std::optional<ReplacementSearch> replacements;  // built on the first absent function
  SlotSearch slot_search(db);

  for (const std::string& function : request.functions) {
    const CatalogFunction* in_ref =
        ref_by_name.count(function) ? &ref_by_name.at(function) : nullptr;
    const SignatureParts ref_sig = in_ref && !in_ref->signature.empty()
                                       ? decode_signature(in_ref->signature)
                                       : SignatureParts{};
    for (const std::string& kname : names) {
      const KernelRef kernel = ref_of(kname);
      auto rows = catalog_functions(db, kernel.id, {function});
      if (!rows) return tl::unexpected(rows.error());
      CompatEntry e;
      e.function = function;
      e.kernel = kname;
      const CatalogFunction* f = rows->empty() ? nullptr : &rows->front();
      SignatureParts sig;
      if (f && !f->signature.empty()) {
        sig = decode_signature(f->signature);
        e.prototype = declaration(function, sig);
      }
      if (f && !f->clones.empty()) {
        size_t at = 0;
        while (at < f->clones.size()) {
          size_t end = f->clones.find(' ', at);
          if (end == std::string::npos) end = f->clones.size();
          e.clones.push_back(f->clones.substr(at, end - at));
          at = end + 1;
        }
      }
      const bool has_symbol = f && (kernel.has_symbols ? f->symbols > 0 : !f->signature.empty());
      if (in_ref && !in_ref->signature.empty() && f && !f->signature.empty())
        e.changes = prototype_changes(ref_sig, sig);
      if (!has_symbol && e.clones.empty()) {
        e.status = "absent";
      } else if (!has_symbol) {
        e.status = "clone_only";
      } else if (f->symbols > 1) {
        e.status = "duplicate";
        e.notes.push_back(std::to_string(f->symbols) +
                          " functions of this name: a kprobe by name is ambiguous (6.6+ refuse "
                          "it); hook by address, or choose a caller");
      } else if (kernel.knows_blacklist && (f->flags & kCatalogBlacklisted)) {
        e.status = "blacklisted";
      } else if (kernel.knows_traceable && !(f->flags & kCatalogTraceable)) {
        e.status = "not_traceable";
      } else if (!e.changes.empty()) {
        e.status = "prototype_changed";
      } else {
        e.status = "ok";
      }
      if (f && !f->module.empty()) {
        e.module = f->module;
        e.notes.push_back(f->symbols > 1 ? "one of them in module " + f->module
                                         : "in module " + f->module +
                                               ": a probe attaches only while the module is "
                                               "loaded");
      }
      if (e.status == "duplicate" && !e.changes.empty())
        e.notes.push_back("its prototype also changed");
      if (!kernel.knows_traceable && has_symbol)
        e.notes.push_back("traceability unknown: the source has no ftrace call-site table");
      if (!kernel.has_symbols)
        e.notes.push_back("presence judged from BTF alone: the source has no symbols");
      if (in_ref && in_ref->signature.empty() && f && !f->signature.empty())
        e.notes.push_back("not in the reference kernel's BTF: prototype not compared");
      if (e.status == "absent" && kname != reference && in_ref) {
        if (!replacements) {
          auto built = ReplacementSearch::make(db, ref.id, reference);
          if (!built) return tl::unexpected(built.error());
          replacements.emplace(std::move(*built));
        }
        auto by_slot =
            slot_search.find(function, ref.id, reference, kernel.id, kernel.knows_traceable);
        if (!by_slot) return tl::unexpected(by_slot.error());
        if (*by_slot)
          e.replacements = std::move(**by_slot);
        else
          e.notes.push_back(
              "replacements by name and types only: this kernel or the reference was catalogued "
              "without its ops-table slots (from BTF alone, or by an older probeseek)");
        auto found = replacements->find(function, ref_sig, kernel.id, kernel.knows_traceable,
                                        /*in_module=*/!in_ref->module.empty());
        if (!found) return tl::unexpected(found.error());
        for (Replacement& r : *found) {
          if (e.replacements.size() == 3) break;
          if (std::none_of(e.replacements.begin(), e.replacements.end(),
                           [&](const Replacement& x) { return x.function == r.function; }))
            e.replacements.push_back(std::move(r));
        }
      }
      report.entries.push_back(std::move(e));
    }
  }

  auto ref_members = catalog_members(db, ref.id);
  if (!ref_members) return tl::unexpected(ref_members.error());
  std::map<std::pair<std::string, std::string>, std::string> ref_types;
  for (const CatalogMember& m : *ref_members) ref_types[{m.type, m.member}] = m.member_type;
  for (const std::string& kname : names) {
    auto members = catalog_members(db, ref_of(kname).id);
    if (!members) return tl::unexpected(members.error());
    for (const CatalogMember& m : *members) {
      MemberCheck c{kname, m.type, m.member, "ok", m.member_type, ref_types[{m.type, m.member}]};
      if (m.member_type.empty())
        c.status = "missing";
      else if (!c.reference_type.empty() && c.reference_type != m.member_type)
        c.status = "retyped";
      if (c.status != "ok") report.members.push_back(std::move(c));
    }
  }
  return report;
}

}  // namespace probeseek
