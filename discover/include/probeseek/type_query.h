// A C type as a user writes it (--arg), matched against BTF types by Btf (btf.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/error.h"

namespace probeseek {

// A C type written by a user, e.g. after --arg. Accepted forms:
//   struct sock *     'struct sk_buff *' (surrounding single or double quotes are dropped)
//   const char *      u32     size_t     unsigned long     void *     union bpf_attr *
//   sock              shorthand: a bare identifier with no '*' that names no typedef or base type
//                     in the BTF but names a struct or union there means a pointer to it
//                     ("sock" == "struct sock *"). A typedef or base type of that name wins.
// Qualifiers (const, volatile, restrict) are accepted anywhere and ignored when matching.
// Whether a name exists is only known against a BTF: see Btf::check().
class TypeQuery {
 public:
  static Result<TypeQuery> parse(std::string_view text);

  // Normalised spelling: "struct sock *", "const char *" -> "char *", "unsigned long".
  const std::string& text() const { return text_; }

 private:
  friend class Btf;
  enum class Base { kStruct, kUnion, kEnum, kVoid, kInteger, kName };
  Base base_ = Base::kVoid;
  std::string name_;  // struct/union/enum tag, canonical integer name, or typedef name
  int pointer_depth_ = 0;
  bool bare_identifier_ = false;  // eligible for the struct shorthand
  std::string text_;
};

// How well a type matches a query. Matching always looks through typedefs and qualifiers;
// kExact additionally means the type is spelled the way the query is (typedef names included,
// qualifiers ignored): for the query "size_t", a size_t parameter is kExact, an unsigned long
// parameter kThroughTypedef.
enum class MatchQuality { kNone, kThroughTypedef, kExact };

}  // namespace probeseek
