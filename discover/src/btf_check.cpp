// Is this BTF safe to hand to libbpf's C dumper? btf__parse checks the format (header, string
// offsets, type ids in range for most kinds) but not what btf_dump relies on: it recurses
// through type references without a depth limit and without cycle detection at emission time,
// so a pointer to itself makes it build an ever-growing declaration stack, a typedef cycle
// overflows the C stack, and a crafted BTF of a few KB can make it print gigabytes (an
// anonymous struct referenced twice by each of twenty nested anonymous structs). It also prints
// names as they are, so a name that is not a C identifier ends up as C code in vmlinux.h.
//
// The walk here is iterative and linear in the number of types and references.
#include <bpf/btf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

// Longest chain of references the dumper follows (a cut pointer ends a chain); libbpf recurses
// once per step. vmlinux 6.1-56-cloud-amd64's longest is 21.
constexpr uint32_t kMaxDepth = 256;
// Declarations written, counting an anonymous type once per place it is spelled out inline.
// The same vmlinux needs 90 thousand (a 2.2 MB vmlinux.h, 106,511 lines; 6.12.118-cloud's has
// 120,256); the cap is 11 times the 6.1 count. At 5 million, a 436-byte BTF of types spelled
// out inline made gen write ~150 MB, several seconds per run (fuzz_btf slow units).
constexpr uint64_t kMaxEmitted = 1'000'000;

std::string name_at(const struct btf* btf, uint32_t off) {
  const char* n = btf__name_by_offset(btf, off);
  return n ? std::string(n) : std::string();
}

// "unsigned int", "long long unsigned int", "_Bool": base type names are words.
bool is_base_type_name(const std::string& s) {
  if (s.empty() || s.size() > 64 || s.front() == ' ' || s.back() == ' ') return false;
  char prev = 'x';
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || (c == ' ' && prev != ' ');
    if (!ok) return false;
    prev = c;
  }
  return !(s[0] >= '0' && s[0] <= '9');
}

// What C compilers give integers, floats and enums (__int128 and long double are 16).
bool is_scalar_size(uint32_t size) {
  return size == 1 || size == 2 || size == 4 || size == 8 || size == 16;
}

bool skipped_modifier(const struct btf_type* t) {
  return btf_is_mod(t) || btf_is_typedef(t) || btf_is_type_tag(t);
}

class Checker {
 public:
  Checker(const struct btf* btf, const std::string& source)
      : btf_(btf), source_(source), count_(btf__type_cnt(btf)) {}

  Status run() {
    for (uint32_t id = 1; id < count_; ++id)
      if (auto s = check_type(id); !s) return s;
    if (auto s = printed_prototypes(); !s) return s;
    if (auto s = member_layouts(); !s) return s;
    return walk();
  }

 private:
  tl::unexpected<Error> refuse(uint32_t id, const std::string& why) const {
    return bad_input("BTF type " + std::to_string(id) + " cannot be written as C: " + why, source_,
                     "the BTF is damaged or was not made by the kernel's build (pahole); pass "
                     "--btf with the kernel's own /sys/kernel/btf/vmlinux");
  }

  Status ref(uint32_t id, uint32_t target, bool void_ok) const {
    if (target >= count_)
      return refuse(id, "refers to type " + std::to_string(target) + ", beyond the last (" +
                            std::to_string(count_ - 1) + ")");
    if (target == 0 && !void_ok) return refuse(id, "refers to void where a type is needed");
    return {};
  }

  Status name(uint32_t id, uint32_t off, bool required, const char* what) const {
    // libbpf 1.1's btf__new does not check every name offset; btf_dump strdup()s what
    // btf__name_by_offset returns, NULL included (found by fuzz_btf).
    if (btf__name_by_offset(btf_, off) == nullptr)
      return refuse(id, std::string(what) + " name offset " + std::to_string(off) +
                            " is outside the string section");
    std::string n = name_at(btf_, off);
    if (n.empty()) {
      if (required) return refuse(id, std::string(what) + " without a name");
      return {};
    }
    if (!is_c_identifier(n))
      return refuse(id, std::string(what) + " name '" + comment_safe(n.substr(0, 64)) +
                            "' is not a C identifier");
    return {};
  }

  Status check_type(uint32_t id) const {
    const struct btf_type* t = btf__type_by_id(btf_, id);
    if (t == nullptr) return refuse(id, "missing");
    const uint16_t vlen = btf_vlen(t);
    if (btf__name_by_offset(btf_, t->name_off) == nullptr)
      return refuse(
          id, "name offset " + std::to_string(t->name_off) + " is outside the string section");
    switch (btf_kind(t)) {
      case BTF_KIND_INT:
      case BTF_KIND_FLOAT:
        if (!is_base_type_name(name_at(btf_, t->name_off)))
          return refuse(id, "base type name '" + comment_safe(name_at(btf_, t->name_off)) +
                                "' is not a C type name");
        if (!is_scalar_size(t->size))
          return refuse(id, "a base type of " + std::to_string(t->size) + " bytes");
        return {};
      case BTF_KIND_PTR:
      case BTF_KIND_CONST:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_RESTRICT:
        return ref(id, t->type, true);
      case BTF_KIND_TYPE_TAG:
        if (auto s = name(id, t->name_off, true, "type tag"); !s) return s;
        return ref(id, t->type, true);
      case BTF_KIND_TYPEDEF:
        if (auto s = name(id, t->name_off, true, "typedef"); !s) return s;
        return ref(id, t->type, true);
      case BTF_KIND_FWD:
        return name(id, t->name_off, true, "forward declaration");
      case BTF_KIND_ARRAY: {
        const struct btf_array* a = btf_array(t);
        if (auto s = ref(id, a->type, false); !s) return s;
        return ref(id, a->index_type, true);
      }
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION: {
        if (auto s = name(id, t->name_off, false, "struct or union"); !s) return s;
        const struct btf_member* m = btf_members(t);
        for (uint16_t i = 0; i < vlen; ++i) {
          if (auto s = name(id, m[i].name_off, false, "member"); !s) return s;
          if (auto s = ref(id, m[i].type, false); !s) return s;
        }
        return {};
      }
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64: {
        if (auto s = name(id, t->name_off, false, "enum"); !s) return s;
        if (!is_scalar_size(t->size))
          return refuse(id, "an enum of " + std::to_string(t->size) + " bytes");
        for (uint16_t i = 0; i < vlen; ++i) {
          const uint32_t off = btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off;
          if (auto s = name(id, off, true, "enumerator"); !s) return s;
        }
        return {};
      }
      case BTF_KIND_FUNC_PROTO: {
        // btf_dump prints parameter names where a prototype is part of a declaration (a
        // function pointer): an offset outside the strings is a NULL it dereferences (fuzz_btf,
        // regressions/btf/func-pointer-parameter-name-outside-strings). Names are checked as C
        // in printed_prototypes(); a function's own prototype is not printed, and
        // Btf::prototype() drops its parameter names that are not C identifiers.
        if (auto s = ref(id, t->type, true); !s) return s;
        const struct btf_param* p = btf_params(t);
        for (uint16_t i = 0; i < vlen; ++i) {
          if (btf__name_by_offset(btf_, p[i].name_off) == nullptr)
            return refuse(id, "parameter name offset " + std::to_string(p[i].name_off) +
                                  " is outside the string section");
          if (auto s = ref(id, p[i].type, true); !s) return s;
        }
        return {};
      }
      case BTF_KIND_FUNC: {
        if (auto s = ref(id, t->type, false); !s) return s;
        const struct btf_type* proto = btf__type_by_id(btf_, t->type);
        if (proto == nullptr || !btf_is_func_proto(proto))
          return refuse(id, "a function whose type is not a prototype");
        return {};
      }
      case BTF_KIND_VAR:
      case BTF_KIND_DECL_TAG:
        return ref(id, t->type, false);
      case BTF_KIND_DATASEC: {
        const struct btf_var_secinfo* v = btf_var_secinfos(t);
        for (uint16_t i = 0; i < vlen; ++i)
          if (auto s = ref(id, v[i].type, false); !s) return s;
        return {};
      }
      default:
        return refuse(id, "unknown kind " + std::to_string(btf_kind(t)));
    }
  }

  // Every struct or union member has a type with a size and an alignment, through qualifiers,
  // typedefs and arrays: a scalar, a pointer, a struct or a union. libbpf 1.1's btf__align_of
  // answers 0 for anything else (a function type, a forward declaration by value) and
  // btf_dump divides by it (fuzz_btf: SIGFPE, regressions/btf/member-of-zero-size-int).
  Status member_layouts() const {
    for (uint32_t id = 1; id < count_; ++id) {
      const struct btf_type* t = btf__type_by_id(btf_, id);
      if (!btf_is_composite(t)) continue;
      const struct btf_member* m = btf_members(t);
      for (uint16_t i = 0; i < btf_vlen(t); ++i) {
        uint32_t target = m[i].type;
        const struct btf_type* u = btf__type_by_id(btf_, target);
        for (int steps = 0; u != nullptr && (skipped_modifier(u) || btf_is_array(u)); ++steps) {
          if (steps == 64) return refuse(id, "a member type behind 64 qualifiers or arrays");
          target = btf_is_array(u) ? btf_array(u)->type : u->type;
          u = btf__type_by_id(btf_, target);
        }
        const bool laid_out = u != nullptr && target != 0 &&
                              (btf_is_int(u) || btf_is_float(u) || btf_is_any_enum(u) ||
                               btf_is_ptr(u) || btf_is_composite(u));
        if (!laid_out)
          return refuse(id, "member " + std::to_string(i) +
                                " has a type without a size or alignment (void, a function, or a "
                                "forward declaration by value)");
      }
    }
    return {};
  }

  // The parameter names of every prototype that another type (not a function) refers to:
  // btf_dump writes those into vmlinux.h, so each must be empty or a C identifier.
  Status printed_prototypes() const {
    std::vector<uint32_t> out;
    std::vector<bool> checked(count_, false);
    for (uint32_t id = 1; id < count_; ++id) {
      if (btf_is_func(btf__type_by_id(btf_, id))) continue;
      edges(id, out);
      for (uint32_t target : out) {
        const struct btf_type* t = btf__type_by_id(btf_, target);
        if (!btf_is_func_proto(t) || checked[target]) continue;
        checked[target] = true;
        const struct btf_param* p = btf_params(t);
        for (uint16_t i = 0; i < btf_vlen(t); ++i)
          if (auto s = name(target, p[i].name_off, false, "parameter"); !s) return s;
      }
    }
    return {};
  }

  // A pointer to a named struct or union (through typedefs and qualifiers) is where btf_dump
  // stops: it needs only a forward declaration. That is the one way a cycle is allowed.
  bool pointer_stops_at(uint32_t target) const {
    for (int steps = 0; steps < 64 && target != 0; ++steps) {
      const struct btf_type* t = btf__type_by_id(btf_, target);
      if (btf_is_composite(t) || btf_is_fwd(t)) return t->name_off != 0;
      if (!skipped_modifier(t)) return false;
      target = t->type;
    }
    return false;
  }

  // The references btf_dump follows from a type, in order.
  void edges(uint32_t id, std::vector<uint32_t>& out) const {
    out.clear();
    const struct btf_type* t = btf__type_by_id(btf_, id);
    const uint16_t vlen = btf_vlen(t);
    switch (btf_kind(t)) {
      case BTF_KIND_PTR:
        if (!pointer_stops_at(t->type)) out.push_back(t->type);
        break;
      case BTF_KIND_CONST:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_FUNC:
      case BTF_KIND_VAR:
      case BTF_KIND_DECL_TAG:
        out.push_back(t->type);
        break;
      case BTF_KIND_ARRAY:
        out.push_back(btf_array(t)->type);
        break;
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION:
        for (uint16_t i = 0; i < vlen; ++i) out.push_back(btf_members(t)[i].type);
        break;
      case BTF_KIND_FUNC_PROTO:
        out.push_back(t->type);
        for (uint16_t i = 0; i < vlen; ++i) out.push_back(btf_params(t)[i].type);
        break;
      case BTF_KIND_DATASEC:
        for (uint16_t i = 0; i < vlen; ++i) out.push_back(btf_var_secinfos(t)[i].type);
        break;
      default:
        break;
    }
    // void is a leaf.
    std::erase(out, 0u);
  }

  // The padding lines btf_dump writes into a struct or union (a `long: 64;` line per 64 bits of
  // a gap before each member, measured from where the previous member ended as libbpf's
  // btf_dump_emit_struct_def measures it, and for a struct after the last one), so a type
  // claiming a huge size or member offset counts for what it makes the dumper print. At most
  // one line per 32 bits of gap, plus one per gap. A union's members are padded too: BTF allows
  // them offsets that C does not (fuzz_btf: a union member at bit 1,280,000,000).
  // libbpf 1.1 keeps member sizes and bit offsets in an int there: a member or type beyond
  // INT32_MAX bits wraps into a negative offset and a padding run of billions of lines
  // (fuzz_btf: a 3.4 GB "unsigned int"), so such a type counts as unprintable (UINT64_MAX).
  uint64_t padding_lines(uint32_t id) const {
    const struct btf_type* t = btf__type_by_id(btf_, id);
    if (!btf_is_composite(t)) return 0;
    constexpr uint64_t kIntBits = INT32_MAX;
    if (uint64_t{t->size} * 8 > kIntBits) return UINT64_MAX;
    uint64_t lines = 0;
    uint64_t off = 0;
    auto gap = [&](uint64_t to_bits) {
      if (to_bits > off) lines += (to_bits - off) / 32 + 1;
    };
    const struct btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t); ++i) {
      const uint64_t at = btf_member_bit_offset(t, i);
      gap(at);
      uint64_t bits = btf_member_bitfield_size(t, i);
      if (bits == 0) {
        const long long size = btf__resolve_size(btf_, m[i].type);
        bits = size > 0 ? static_cast<uint64_t>(size) * 8 : 0;
      }
      if (at > kIntBits || bits > kIntBits || at + bits > kIntBits) return UINT64_MAX;
      off = at + bits;
    }
    if (btf_is_struct(t)) gap(static_cast<uint64_t>(t->size) * 8);
    return lines;
  }

  // Whether a reference to this type is written as its name alone (no recursion into it).
  bool written_by_name(uint32_t id) const {
    const struct btf_type* t = btf__type_by_id(btf_, id);
    switch (btf_kind(t)) {
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION:
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64:
        return t->name_off != 0;
      case BTF_KIND_INT:
      case BTF_KIND_FLOAT:
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_FWD:
        return true;
      default:
        return false;
    }
  }

  // Depth-first, iteratively, from every type: a back edge is a cycle; post-order gives each
  // type's depth and the size of writing it inline, from its references' (saturating).
  Status walk() {
    enum : uint8_t { kNew, kOnPath, kDone };
    std::vector<uint8_t> state(count_, kNew);
    std::vector<uint32_t> depth(count_, 0);
    std::vector<uint64_t> inline_size(count_, 1);
    uint64_t total = 0;
    struct Frame {
      uint32_t id;
      std::vector<uint32_t> next;
      size_t i = 0;
    };
    std::vector<Frame> stack;
    state[0] = kDone;
    auto add = [](uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; };
    for (uint32_t root = 1; root < count_; ++root) {
      if (state[root] != kNew) continue;
      stack.push_back(Frame{root, {}, 0});
      edges(root, stack.back().next);
      state[root] = kOnPath;
      while (!stack.empty()) {
        Frame& f = stack.back();
        if (f.i < f.next.size()) {
          const uint32_t to = f.next[f.i++];
          if (state[to] == kOnPath)
            return refuse(to, "a type cycle (through type " + std::to_string(f.id) +
                                  ") that does not pass through a pointer to a named struct or "
                                  "union");
          if (state[to] == kNew) {
            state[to] = kOnPath;
            Frame g{to, {}, 0};
            edges(to, g.next);
            stack.push_back(std::move(g));
          }
          continue;
        }
        // Every reference is done.
        const uint32_t id = f.id;
        uint32_t d = 0;
        uint64_t body = add(1, padding_lines(id));
        for (uint32_t to : f.next) {
          d = std::max(d, depth[to]);
          body = add(body, written_by_name(to) ? 1 : inline_size[to]);
        }
        depth[id] = d + 1;
        inline_size[id] = written_by_name(id) ? 1 : body;
        // A named type is defined once in vmlinux.h: its body counts once.
        if (written_by_name(id)) total = add(total, body);
        state[id] = kDone;
        stack.pop_back();
        if (depth[id] > kMaxDepth)
          return refuse(id, "its references nest more than " + std::to_string(kMaxDepth) + " deep");
        if (inline_size[id] > kMaxEmitted || total > kMaxEmitted)
          return refuse(id, "writing the types out as C would take more than " +
                                std::to_string(kMaxEmitted) + " declarations");
      }
    }
    max_depth_ = 0;
    for (uint32_t d : depth) max_depth_ = std::max(max_depth_, d);
    return {};
  }

  const struct btf* btf_;
  const std::string& source_;
  const uint32_t count_;

 public:
  uint32_t max_depth_ = 0;
};

}  // namespace

Status check_c_dumpable(const Btf& btf, const std::string& source) {
  Checker c(btf.raw(), source);
  return c.run();
}

}  // namespace probeseek
