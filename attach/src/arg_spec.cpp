#include "arg_spec.h"

#include <bpf/btf.h>

#include <charconv>
#include <cstring>

#include "probeseek/text.h"

namespace probeseek::internal {
namespace {

// Follows typedefs, const/volatile/restrict and type tags.
uint32_t resolve(const struct btf* btf, uint32_t id) {
  for (int guard = 0; id != 0 && guard < 64; ++guard) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (t == nullptr) return 0;
    switch (btf_kind(t)) {
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_CONST:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
        id = t->type;
        break;
      default:
        return id;
    }
  }
  return id;
}

std::string name_of(const struct btf* btf, const struct btf_type* t) {
  const char* n = btf__name_by_offset(btf, t->name_off);
  return n ? n : "";
}

// The complete definition of a struct, for a forward declaration or an incomplete one.
const struct btf_type* complete_struct(const struct btf* btf, const struct btf_type* t) {
  if (btf_kind(t) == BTF_KIND_STRUCT) return t;
  std::string name = name_of(btf, t);
  if (name.empty()) return nullptr;
  int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_STRUCT);
  return id > 0 ? btf__type_by_id(btf, static_cast<uint32_t>(id)) : nullptr;
}

// Whether a struct is a socket by layout: it is struct sock_common, or its first member (at
// offset 0) is one, directly or through further first members. That is how the kernel builds
// its socket types (tcp_sock starts with inet_connection_sock, which starts with inet_sock,
// then sock, then sock_common; request_sock and inet_timewait_sock start with sock_common),
// and it is what lets the probe read addresses and ports through any of them.
bool starts_with_sock_common(const struct btf* btf, const struct btf_type* t, int depth = 0) {
  if (t == nullptr || depth > 8) return false;
  if (name_of(btf, t) == "sock_common") return true;
  t = complete_struct(btf, t);
  if (t == nullptr || btf_vlen(t) == 0) return false;
  const struct btf_member* first = btf_members(t);
  if (btf_member_bit_offset(t, 0) != 0) return false;
  uint32_t member = resolve(btf, first->type);
  const struct btf_type* mt = btf__type_by_id(btf, member);
  if (mt == nullptr) return false;
  int kind = btf_kind(mt);
  if (kind != BTF_KIND_STRUCT && kind != BTF_KIND_FWD) return false;
  return starts_with_sock_common(btf, mt, depth + 1);
}

probe_value_kind pointee_kind(const struct btf* btf, const struct btf_type* pointee,
                              std::string& struct_name) {
  int kind = btf_kind(pointee);
  if (kind != BTF_KIND_STRUCT && kind != BTF_KIND_FWD) return PROBE_VALUE_RAW;
  struct_name = name_of(btf, pointee);
  const std::string& n = struct_name;
  if (n == "sk_buff") return PROBE_VALUE_SKB;
  if (n == "socket") return PROBE_VALUE_SOCKET;
  if (n == "sockaddr" || n == "sockaddr_in" || n == "sockaddr_in6" ||
      n == "__kernel_sockaddr_storage" || n == "sockaddr_storage")
    return PROBE_VALUE_SOCKADDR;
  if (n == "filename") return PROBE_VALUE_FILENAME;
  if (n == "dentry") return PROBE_VALUE_DENTRY;
  if (n == "file") return PROBE_VALUE_FILE;
  if (n == "path") return PROBE_VALUE_PATH;
  if (starts_with_sock_common(btf, pointee)) return PROBE_VALUE_SOCK;
  return PROBE_VALUE_RAW;
}

}  // namespace

bool PrototypeSpec::has_sock() const {
  for (const ArgSpec& a : args)
    if (a.kind == PROBE_VALUE_SOCK || a.kind == PROBE_VALUE_SOCKET) return true;
  return false;
}

ArgSpec describe_type(const Btf& btf_ref, uint32_t type_id, std::string name) {
  const struct btf* btf = btf_ref.raw();
  ArgSpec spec;
  spec.name = std::move(name);
  spec.type = btf_ref.type_name(type_id);
  spec.type_id = type_id;
  uint32_t id = resolve(btf, type_id);
  const struct btf_type* t = id ? btf__type_by_id(btf, id) : nullptr;
  if (t == nullptr) {
    spec.scalar = ScalarKind::kOther;
    spec.fits_register = false;
    return spec;
  }
  switch (btf_kind(t)) {
    case BTF_KIND_PTR: {
      spec.scalar = ScalarKind::kPointer;
      spec.size = 8;
      uint32_t target = resolve(btf, t->type);
      const struct btf_type* pt = target ? btf__type_by_id(btf, target) : nullptr;
      if (pt) spec.kind = pointee_kind(btf, pt, spec.struct_name);
      spec.context_readable = pt == nullptr || btf_kind(pt) == BTF_KIND_INT ||
                              btf_kind(pt) == BTF_KIND_STRUCT || btf_kind(pt) == BTF_KIND_UNION;
      break;
    }
    case BTF_KIND_INT: {
      uint32_t encoding = btf_int_encoding(t);
      spec.size = t->size;
      if (encoding & BTF_INT_BOOL)
        spec.scalar = ScalarKind::kBool;
      else if (encoding & BTF_INT_CHAR)
        spec.scalar = ScalarKind::kChar;
      else
        spec.scalar = (encoding & BTF_INT_SIGNED) ? ScalarKind::kSigned : ScalarKind::kUnsigned;
      spec.fits_register = t->size <= 8;
      break;
    }
    case BTF_KIND_ENUM: {
      spec.scalar = ScalarKind::kEnum;
      spec.size = t->size;
      const struct btf_enum* e = btf_enum(t);
      for (uint32_t i = 0; i < btf_vlen(t); ++i) {
        const char* n = btf__name_by_offset(btf, e[i].name_off);
        spec.enumerators.emplace_back(e[i].val, n ? n : "");
      }
      break;
    }
    case BTF_KIND_ENUM64: {
      spec.scalar = ScalarKind::kEnum;
      spec.size = t->size;
      const struct btf_enum64* e = btf_enum64(t);
      for (uint32_t i = 0; i < btf_vlen(t); ++i) {
        const char* n = btf__name_by_offset(btf, e[i].name_off);
        spec.enumerators.emplace_back(static_cast<int64_t>(btf_enum64_value(&e[i])), n ? n : "");
      }
      break;
    }
    default:
      // Structs and unions by value, floats: not one general-purpose register.
      spec.scalar = ScalarKind::kOther;
      spec.size = t->size;
      spec.fits_register = false;
      break;
  }
  return spec;
}

PrototypeSpec describe_prototype(const Btf& btf, const FunctionPrototype& prototype) {
  PrototypeSpec spec;
  spec.total_params = prototype.params.size();
  for (size_t i = 0; i < prototype.params.size(); ++i) {
    const Parameter& p = prototype.params[i];
    std::string name = is_c_identifier(p.name) ? p.name : "arg" + std::to_string(i);
    ArgSpec arg = describe_type(btf, p.type_id, name);
    if (!arg.fits_register) {
      // A struct passed by value takes one or more registers (or the stack): the parameters
      // after it are not where the probe would look.
      spec.not_captured_why = "parameter " + std::to_string(i + 1) + " (" + arg.type + " " + name +
                              ") is passed by value and does not fit a register";
      break;
    }
    if (spec.args.size() == PROBE_MAX_ARGS) {
      spec.not_captured_why = "only the first " + std::to_string(PROBE_MAX_ARGS) +
                              " parameters are passed in registers";
      break;
    }
    spec.args.push_back(std::move(arg));
  }
  if (prototype.return_type_id != 0) {
    ArgSpec ret = describe_type(btf, prototype.return_type_id, "");
    if (ret.fits_register) spec.ret = std::move(ret);
  }
  return spec;
}

void format_scalar(const ArgSpec& spec, uint64_t raw, bool is_return, std::string& out) {
  char buf[64];
  uint64_t v = raw;
  if (spec.size < 8 && spec.size > 0) v &= (uint64_t{1} << (spec.size * 8)) - 1;
  auto as_signed = [&]() -> int64_t {
    if (spec.size >= 8 || spec.size == 0) return static_cast<int64_t>(v);
    uint64_t sign = uint64_t{1} << (spec.size * 8 - 1);
    return static_cast<int64_t>((v ^ sign) - sign);
  };
  switch (spec.scalar) {
    case ScalarKind::kPointer:
      if (v == 0) {
        out = "NULL";
        return;
      }
      // A returned pointer in the last page of the address space is an ERR_PTR(-errno).
      if (is_return && v >= static_cast<uint64_t>(-4095)) {
        int err = -static_cast<int>(static_cast<int64_t>(v));
        const char* n = strerrorname_np(err);
        out = std::string("ERR_PTR(-") + (n ? n : std::to_string(err)) + ")";
        return;
      }
      buf[0] = '0';
      buf[1] = 'x';  // "0x%llx" without printf: the pointer of every event
      out.assign(buf, std::to_chars(buf + 2, buf + sizeof buf, v, 16).ptr);  // keeps capacity
      return;
    case ScalarKind::kBool:
      out = v ? "true" : "false";
      return;
    case ScalarKind::kSigned:
    case ScalarKind::kChar: {
      int64_t s = as_signed();
      out = std::to_string(s);
      if (is_return && s < 0 && s >= -4095) {
        const char* n = strerrorname_np(static_cast<int>(-s));
        if (n) out += std::string(" (-") + n + ")";
      }
      return;
    }
    case ScalarKind::kUnsigned:
      out = std::to_string(v);
      return;
    case ScalarKind::kEnum: {
      int64_t s = as_signed();
      for (auto& [value, name] : spec.enumerators)
        if (value == s || static_cast<uint64_t>(value) == v) {
          out = name;
          return;
        }
      out = std::to_string(s);
      return;
    }
    case ScalarKind::kOther:
      break;
  }
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(raw));
  out.assign(buf);
}

std::string format_scalar(const ArgSpec& spec, uint64_t raw, bool is_return) {
  std::string out;
  format_scalar(spec, raw, is_return, out);
  return out;
}

std::string_view kind_name(probe_value_kind kind) {
  switch (kind) {
    case PROBE_VALUE_RAW:
      return "raw";
    case PROBE_VALUE_SOCK:
      return "sock";
    case PROBE_VALUE_SOCKET:
      return "socket";
    case PROBE_VALUE_SOCKADDR:
      return "sockaddr";
    case PROBE_VALUE_SKB:
      return "sk_buff";
    case PROBE_VALUE_FILENAME:
      return "filename";
    case PROBE_VALUE_DENTRY:
      return "dentry";
    case PROBE_VALUE_FILE:
      return "file";
    case PROBE_VALUE_PATH:
      return "path";
  }
  return "raw";
}

}  // namespace probeseek::internal
