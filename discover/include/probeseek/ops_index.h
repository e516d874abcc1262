// Ops tables as BTF describes them: every struct or union with function-pointer members, and
// which members a function's prototype fits (tcp_v4_connect fits struct proto.connect).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "probeseek/btf.h"

namespace probeseek {

// How a function's name relates to an ops member's name; best first.
enum class NameAffinity {
  kExactSuffix,  // function is the member name or ends in "_" + member: tcp_v4_connect/connect
  kToken,        // member's underscore-separated words appear in a row: tcp_sendmsg_locked/sendmsg
  kNone,         // sock_def_readable/sk_data_ready
};
std::string_view to_string(NameAffinity affinity);  // "exact-suffix", "token", "none"
NameAffinity name_affinity(std::string_view function, std::string_view member);

// How much an ops-table fit says about a function; best first (see OpsFit::strength).
enum class OpsStrength { kStrong, kMedium, kWeak };
std::string_view to_string(OpsStrength strength);  // "strong", "medium", "weak"

// A function-pointer member of an ops table.
struct OpsMember {
  std::string name;
  uint32_t offset = 0;    // bytes from the start of the table (anonymous sub-unions flattened)
  uint32_t proto_id = 0;  // BTF FUNC_PROTO id of the pointed-to function type
};

// "function could be stored in struct_name.member".
struct OpsFit {
  std::string struct_name;  // "proto"; a union's name likewise
  bool is_union = false;
  std::string member;  // "connect"
  uint32_t offset = 0;
  NameAffinity affinity = NameAffinity::kNone;
  // How many (table, member) pairs in the BTF have exactly this prototype. A widely shared one
  // (98 members of vmlinux 6.1 are void (*)(void)) is weak evidence on its own.
  size_t members_with_same_signature = 0;
  // strong: name ends in _member and at most 16 members share the prototype.
  // medium: name ends in _member but the prototype is common; name contains the member and
  //         at most 16 share it; or the name is unrelated but at most 2 members share it.
  // weak:   anything else, and any fit whose affinity is worse than the best affinity among
  //         the function's fits (tcp_v4_connect fits proto.bind too, but its name says connect).
  OpsStrength strength = OpsStrength::kWeak;
  // "prototype matches struct proto member connect; name ends in _connect; 4 members share this
  // prototype"
  std::string explanation;
};

// Every named struct or union with at least one member of function-pointer type (through
// typedefs and qualifiers: PTR -> FUNC_PROTO), with members of anonymous nested structs/unions
// flattened in at their offsets. Prototypes are compared structurally: typedefs resolved and
// qualifiers dropped on both sides, structs/unions/enums by kind and name (a forward declaration
// equals the full type), integers by C type (so size_t == unsigned long), parameter names
// ignored. Because of that, an index built from vmlinux BTF also answers for functions of a
// module's split BTF.
class OpsIndex {
 public:
  static OpsIndex build(const Btf& btf);

  // The members `function` (a FUNC in btf) fits, best first: name affinity, then the rarer
  // prototype, then table and member name. Empty when the function is not in BTF.
  std::vector<OpsFit> fits(const Btf& btf, std::string_view function) const;
  std::vector<OpsFit> fits(const Btf& btf, const FunctionPrototype& prototype) const;

  // The function-pointer members of a table, in offset order; empty when there is no such table.
  // With several tables of one name in BTF, the one with the lowest type id is indexed.
  const std::vector<OpsMember>& members_of(std::string_view struct_name) const;

  size_t table_count() const { return tables_.size(); }
  std::vector<std::string> table_names() const;  // every indexed struct or union, in BTF order
  size_t member_count() const;

 private:
  struct Table {
    std::string name;
    bool is_union = false;
    std::vector<OpsMember> members;
  };
  struct MemberRef {
    uint32_t table;
    uint32_t member;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  std::vector<Table> tables_;
  StringMap<uint32_t> table_by_name_;
  StringMap<std::vector<MemberRef>> by_signature_;
};

}  // namespace probeseek
