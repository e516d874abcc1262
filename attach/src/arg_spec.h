// What a function's parameters are, as the probes need to know it: which ones can be captured
// (one 64-bit register or trampoline slot each), which have a well-known kernel type whose
// fields the probe reads, and how a raw 64-bit value of each is printed. Used by the attacher
// (to configure the generic program and decode events) and by the generator (to write code).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/probe_event.h"

namespace probeseek::internal {

enum class ScalarKind { kSigned, kUnsigned, kBool, kChar, kEnum, kPointer, kOther };

struct ArgSpec {
  std::string name;  // parameter name; "argN" when BTF has none
  std::string type;  // C spelling, as in the prototype
  uint32_t type_id = 0;
  probe_value_kind kind = PROBE_VALUE_RAW;
  std::string struct_name;  // for a pointer to a struct: its tag ("sock", "tcp_sock")
  ScalarKind scalar = ScalarKind::kOther;
  uint32_t size = 8;  // bytes of the scalar (after typedefs); 8 for pointers
  std::vector<std::pair<int64_t, std::string>> enumerators;  // kEnum
  bool fits_register = true;  // passed in one register / trampoline slot
  // fentry/fexit programs may read it from their context: the verifier (6.1) accepts scalars
  // and pointers to void, integers, structs and unions, and refuses e.g. `struct inode **`.
  // Others are read with bpf_get_func_arg(), which hands over the raw slot.
  bool context_readable = true;
};

struct PrototypeSpec {
  std::vector<ArgSpec> args;     // the parameters that can be captured, in order
  size_t total_params = 0;       // all parameters of the prototype
  std::string not_captured_why;  // set when args.size() < total_params
  std::optional<ArgSpec> ret;    // nullopt for void
  bool has_sock() const;         // a parameter is a socket (struct sock family or socket)
};

ArgSpec describe_type(const Btf& btf, uint32_t type_id, std::string name);
PrototypeSpec describe_prototype(const Btf& btf, const FunctionPrototype& prototype);

// A raw register value printed as its type says: truncated to the type's size, sign-extended
// when signed, enumerator names, true/false, pointers in hex (NULL), -errno names for negative
// int returns.
std::string format_scalar(const ArgSpec& spec, uint64_t raw, bool is_return);
// The same into `out`, replacing its text (the event decoder's, kept from event to event).
void format_scalar(const ArgSpec& spec, uint64_t raw, bool is_return, std::string& out);

// "struct sock", "tcp_sock" (anything starting with struct sock_common), "socket", ...
std::string_view kind_name(probe_value_kind kind);

}  // namespace probeseek::internal
