#include <bpf/btf.h>

#include <algorithm>
#include <tuple>
#include <unordered_map>

#include "btf_types.h"
#include "probeseek/btf.h"
#include "probeseek/ops_index.h"

namespace probeseek {
namespace {

std::string_view name_of(const struct btf* btf, const struct btf_type* t) {
  const char* name = btf__name_by_offset(btf, t->name_off);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

// The FUNC_PROTO a member of this type points to, or 0 when it is not a function pointer.
uint32_t function_pointer_proto(const struct btf* btf, uint32_t type_id) {
  const struct btf_type* t = btf__type_by_id(btf, detail::skip_modifiers(btf, type_id, true));
  if (t == nullptr || !btf_is_ptr(t)) return 0;
  const uint32_t target = detail::skip_modifiers(btf, t->type, true);
  const struct btf_type* pointee = btf__type_by_id(btf, target);
  return pointee != nullptr && btf_is_func_proto(pointee) ? target : 0;
}

// Collects function-pointer members, descending into anonymous structs/unions (which C lets
// code address as if they were direct members). Named nested aggregates are tables of their own.
void collect_members(const struct btf* btf, const struct btf_type* aggregate, uint32_t bit_base,
                     int depth, std::vector<OpsMember>& out) {
  if (depth > 16) return;  // anonymous nesting is shallow in practice; bounds corrupt input
  const struct btf_member* members = btf_members(aggregate);
  for (uint16_t i = 0; i < btf_vlen(aggregate); ++i) {
    const uint32_t bit_offset = bit_base + btf_member_bit_offset(aggregate, i);
    const char* raw_name = btf__name_by_offset(btf, members[i].name_off);
    const std::string_view name = raw_name != nullptr ? raw_name : "";
    if (name.empty()) {
      const struct btf_type* nested =
          btf__type_by_id(btf, detail::skip_modifiers(btf, members[i].type, true));
      if (nested != nullptr && btf_is_composite(nested)) {
        collect_members(btf, nested, bit_offset, depth + 1, out);
      }
      continue;
    }
    if (const uint32_t proto = function_pointer_proto(btf, members[i].type); proto != 0) {
      out.push_back(OpsMember{std::string(name), bit_offset / 8, proto});
    }
  }
}

std::vector<std::string_view> words(std::string_view name) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('_', start);
    if (end == std::string_view::npos) end = name.size();
    if (end > start) out.push_back(name.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Evidence grading, see OpsFit::strength. A prototype alone is often shared widely (98
// members of vmlinux 6.1 are void (*)(void), 32 are void (*)(struct sock *)), so the name carries
// most of the evidence and the share count separates distinctive prototypes from generic ones.
constexpr size_t kDistinctiveSignature = 16;
constexpr size_t kNearlyUniqueSignature = 2;

OpsStrength strength(NameAffinity affinity, NameAffinity best_affinity, size_t sharers) {
  using enum OpsStrength;
  if (affinity > best_affinity) return kWeak;  // the name points at another member
  switch (affinity) {
    case NameAffinity::kExactSuffix:
      return sharers <= kDistinctiveSignature ? kStrong : kMedium;
    case NameAffinity::kToken:
      return sharers <= kDistinctiveSignature ? kMedium : kWeak;
    case NameAffinity::kNone:
      return sharers <= kNearlyUniqueSignature ? kMedium : kWeak;
  }
  return kWeak;
}

std::string explanation(const std::string& struct_name, bool is_union, const std::string& member,
                        NameAffinity affinity, size_t sharers) {
  std::string out = "prototype matches ";
  out += is_union ? "union " : "struct ";
  out += struct_name + " member " + member;
  switch (affinity) {
    case NameAffinity::kExactSuffix:
      out += "; name ends in _" + member;
      break;
    case NameAffinity::kToken:
      out += "; name contains " + member;
      break;
    case NameAffinity::kNone:
      out += "; name unrelated to the member";
      break;
  }
  if (sharers == 1) {
    out += "; no other member has this prototype";
  } else {
    out += "; " + std::to_string(sharers) + " members share this prototype";
  }
  return out;
}

}  // namespace

std::string_view to_string(NameAffinity affinity) {
  switch (affinity) {
    case NameAffinity::kExactSuffix:
      return "exact-suffix";
    case NameAffinity::kToken:
      return "token";
    case NameAffinity::kNone:
      break;
  }
  return "none";
}

std::string_view to_string(OpsStrength strength) {
  static constexpr std::string_view kWords[] = {"strong", "medium", "weak"};  // enum order
  return kWords[static_cast<size_t>(strength)];
}

NameAffinity name_affinity(std::string_view function, std::string_view member) {
  if (member.empty() || function.empty()) return NameAffinity::kNone;
  if (function == member) return NameAffinity::kExactSuffix;
  if (function.size() > member.size() && function.ends_with(member) &&
      function[function.size() - member.size() - 1] == '_') {
    return NameAffinity::kExactSuffix;
  }
  const auto function_words = words(function);
  const auto member_words = words(member);
  if (member_words.empty()) return NameAffinity::kNone;
  auto found = std::search(function_words.begin(), function_words.end(), member_words.begin(),
                           member_words.end());
  return found != function_words.end() ? NameAffinity::kToken : NameAffinity::kNone;
}

OpsIndex OpsIndex::build(const Btf& btf) {
  OpsIndex index;
  const struct btf* raw = btf.raw();
  const uint32_t count = btf__type_cnt(raw);
  // Members share FUNC_PROTO ids (BTF dedup): each prototype's key is rendered once.
  std::unordered_map<uint32_t, std::vector<MemberRef>*> by_proto;
  for (uint32_t id = 1; id < count; ++id) {
    const struct btf_type* t = btf__type_by_id(raw, id);
    if (!btf_is_composite(t)) continue;
    const std::string_view name = name_of(raw, t);
    if (name.empty()) continue;  // reachable only through a named one, and flattened there
    std::vector<OpsMember> members;
    collect_members(raw, t, 0, 0, members);
    if (members.empty()) continue;
    // Identically named tables (rare; CUs dedup could not merge) would be indistinguishable
    // to callers that look tables up by name, so the first one wins.
    if (index.table_by_name_.contains(name)) continue;
    std::stable_sort(members.begin(), members.end(),
                     [](const OpsMember& a, const OpsMember& b) { return a.offset < b.offset; });
    const auto table = static_cast<uint32_t>(index.tables_.size());
    for (uint32_t m = 0; m < members.size(); ++m) {
      std::vector<MemberRef>*& refs = by_proto[members[m].proto_id];
      if (refs == nullptr)
        refs = &index.by_signature_[detail::type_key(raw, members[m].proto_id, true)];
      refs->push_back(MemberRef{table, m});
    }
    index.table_by_name_.emplace(std::string(name), table);
    index.tables_.push_back(Table{std::string(name), btf_is_union(t), std::move(members)});
  }
  return index;
}

std::vector<std::string> OpsIndex::table_names() const {
  std::vector<std::string> out;
  out.reserve(tables_.size());
  for (const auto& table : tables_) out.push_back(table.name);
  return out;
}

size_t OpsIndex::member_count() const {
  size_t total = 0;
  for (const auto& table : tables_) total += table.members.size();
  return total;
}

const std::vector<OpsMember>& OpsIndex::members_of(std::string_view struct_name) const {
  static const std::vector<OpsMember> kNoMembers;
  auto it = table_by_name_.find(struct_name);
  return it == table_by_name_.end() ? kNoMembers : tables_[it->second].members;
}

std::vector<OpsFit> OpsIndex::fits(const Btf& btf, std::string_view function) const {
  const auto prototype = btf.prototype(function);
  if (!prototype) return {};
  return fits(btf, *prototype);
}

std::vector<OpsFit> OpsIndex::fits(const Btf& btf, const FunctionPrototype& prototype) const {
  auto it = by_signature_.find(detail::type_key(btf.raw(), prototype.proto_id, true));
  if (it == by_signature_.end()) return {};
  const size_t sharers = it->second.size();
  std::vector<OpsFit> out;
  out.reserve(sharers);
  for (const MemberRef& ref : it->second) {
    const Table& table = tables_[ref.table];
    const OpsMember& member = table.members[ref.member];
    OpsFit fit;
    fit.struct_name = table.name;
    fit.is_union = table.is_union;
    fit.member = member.name;
    fit.offset = member.offset;
    fit.affinity = name_affinity(prototype.name, member.name);
    fit.members_with_same_signature = sharers;
    fit.explanation = explanation(table.name, table.is_union, member.name, fit.affinity, sharers);
    out.push_back(std::move(fit));
  }
  NameAffinity best_affinity = NameAffinity::kNone;
  for (const OpsFit& fit : out) best_affinity = std::min(best_affinity, fit.affinity);
  for (OpsFit& fit : out) {
    fit.strength = strength(fit.affinity, best_affinity, sharers);
  }
  std::sort(out.begin(), out.end(), [](const OpsFit& a, const OpsFit& b) {
    return std::tie(a.affinity, a.members_with_same_signature, a.struct_name, a.member) <
           std::tie(b.affinity, b.members_with_same_signature, b.struct_name, b.member);
  });
  return out;
}

}  // namespace probeseek
