#include "btf_types.h"

#include <bpf/btf.h>

#include <algorithm>
#include <string_view>

namespace probeseek::detail {
namespace {

// Well-formed BTF has no cycles that do not pass through a struct/union (where we stop), but a
// corrupt file could; this bounds the recursion instead of trusting the input.
constexpr int kMaxDepth = 64;
// Function prototypes whose parameters are pointers to prototypes can also branch: depth alone
// still allows width^64 steps (fuzz_btf found one). One rendering takes at most this many;
// vmlinux's largest types take a few dozen.
constexpr int kMaxSteps = 4096;
thread_local int steps_left = kMaxSteps;

std::string_view name_of(const struct btf* btf, const struct btf_type* t) {
  const char* name = btf__name_by_offset(btf, t->name_off);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

std::string join_declarator(std::string base, const std::string& declarator) {
  if (declarator.empty()) return base;
  base += ' ';
  base += declarator;
  return base;
}

// A pointer declarator must be parenthesised before an array or function suffix binds to it:
// "*" + "[4]" would read as an array of pointers.
std::string bind_suffix(const std::string& declarator, std::string_view suffix) {
  std::string out;
  if (!declarator.empty() && declarator.front() == '*') {
    out = "(" + declarator + ")";
  } else {
    out = declarator;
  }
  out += suffix;
  return out;
}

std::string tagged_name(std::string_view keyword, std::string_view name) {
  std::string out(keyword);
  out += ' ';
  if (name.empty()) {
    out += "{...}";
  } else {
    out += name;
  }
  return out;
}

// Qualifiers met on the way down to a type, written in one canonical order.
struct Qualifiers {
  bool is_const = false;
  bool is_volatile = false;
  bool is_restrict = false;

  bool empty() const { return !is_const && !is_volatile && !is_restrict; }
  std::string text() const {
    std::string out;
    for (auto [present, word] : {std::pair{is_const, "const"}, std::pair{is_volatile, "volatile"},
                                 std::pair{is_restrict, "restrict"}}) {
      if (!present) continue;
      if (!out.empty()) out += ' ';
      out += word;
    }
    return out;
  }
};

std::string render(const struct btf* btf, uint32_t id, const std::string& declarator,
                   Qualifiers qualifiers, int depth);

std::string render_params(const struct btf* btf, const struct btf_type* proto, int depth) {
  const uint16_t count = btf_vlen(proto);
  if (count == 0) return "void";
  const struct btf_param* params = btf_params(proto);
  std::string out;
  for (uint16_t i = 0; i < count; ++i) {
    if (i > 0) out += ", ";
    // A trailing parameter of type void without a name is how BTF records "...".
    if (i + 1 == count && params[i].type == 0 && params[i].name_off == 0) {
      out += "...";
    } else {
      out += render(btf, params[i].type, {}, {}, depth + 1);
    }
  }
  return out;
}

// A named (leaf) type with the qualifiers that apply to it in front: "const struct sock".
std::string leaf(const Qualifiers& qualifiers, std::string name, const std::string& declarator) {
  if (!qualifiers.empty()) name = qualifiers.text() + " " + name;
  return join_declarator(std::move(name), declarator);
}

std::string render(const struct btf* btf, uint32_t id, const std::string& declarator,
                   Qualifiers qualifiers, int depth) {
  if (id == 0) return leaf(qualifiers, "void", declarator);
  const struct btf_type* t = btf__type_by_id(btf, id);
  if (t == nullptr || depth > kMaxDepth || --steps_left < 0)
    return join_declarator("?", declarator);
  switch (btf_kind(t)) {
    case BTF_KIND_INT:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPEDEF:
      return leaf(qualifiers, std::string(name_of(btf, t)), declarator);
    case BTF_KIND_STRUCT:
      return leaf(qualifiers, tagged_name("struct", name_of(btf, t)), declarator);
    case BTF_KIND_UNION:
      return leaf(qualifiers, tagged_name("union", name_of(btf, t)), declarator);
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      return leaf(qualifiers, tagged_name("enum", name_of(btf, t)), declarator);
    case BTF_KIND_FWD:
      return leaf(qualifiers, tagged_name(btf_kflag(t) ? "union" : "struct", name_of(btf, t)),
                  declarator);
    case BTF_KIND_CONST:
      qualifiers.is_const = true;
      return render(btf, t->type, declarator, qualifiers, depth + 1);
    case BTF_KIND_VOLATILE:
      qualifiers.is_volatile = true;
      return render(btf, t->type, declarator, qualifiers, depth + 1);
    case BTF_KIND_RESTRICT:
      qualifiers.is_restrict = true;
      return render(btf, t->type, declarator, qualifiers, depth + 1);
    case BTF_KIND_TYPE_TAG:
      return render(btf, t->type, declarator, qualifiers, depth + 1);
    case BTF_KIND_PTR: {
      // Qualifiers of the pointer itself go after its '*': "char *const p".
      std::string inner =
          qualifiers.empty() ? declarator : join_declarator(qualifiers.text(), declarator);
      return render(btf, t->type, "*" + inner, {}, depth + 1);
    }
    case BTF_KIND_ARRAY: {
      // C has no qualified arrays: a qualifier on an array qualifies its elements.
      const struct btf_array* array = btf_array(t);
      return render(btf, array->type,
                    bind_suffix(declarator, "[" + std::to_string(array->nelems) + "]"), qualifiers,
                    depth + 1);
    }
    case BTF_KIND_FUNC_PROTO:  // a qualified function type means nothing; drop the qualifiers
      return render(btf, t->type, bind_suffix(declarator, "(" + render_params(btf, t, depth) + ")"),
                    {}, depth + 1);
    case BTF_KIND_FUNC:
      return render(btf, t->type, std::string(name_of(btf, t)) + declarator, {}, depth + 1);
    default:  // VAR, DATASEC, DECL_TAG: not types a value has; show the name if any
      return join_declarator(std::string(name_of(btf, t)), declarator);
  }
}

std::string key(const struct btf* btf, uint32_t id, bool resolve_typedefs, int depth) {
  id = skip_modifiers(btf, id, resolve_typedefs);
  if (id == 0) return std::string(kVoidKey);
  const struct btf_type* t = btf__type_by_id(btf, id);
  if (t == nullptr || depth > kMaxDepth) return "?" + std::to_string(id);
  const std::string_view name = name_of(btf, t);
  // Anonymous aggregates have no name to compare; within one BTF, dedup gives identical ones
  // one id, so the id is the best identity there is.
  auto tagged = [&](std::string_view named_prefix, std::string_view anonymous_prefix) {
    return name.empty() ? std::string(anonymous_prefix) + std::to_string(id)
                        : std::string(named_prefix) + std::string(name);
  };
  switch (btf_kind(t)) {
    case BTF_KIND_INT: {
      std::vector<std::string_view> words;
      size_t start = 0;
      while (start < name.size()) {
        size_t end = name.find(' ', start);
        if (end == std::string_view::npos) end = name.size();
        if (end > start) words.push_back(name.substr(start, end - start));
        start = end + 1;
      }
      auto canonical = canonical_integer_name(words);
      return integer_key(canonical ? *canonical : std::string(name));
    }
    case BTF_KIND_FLOAT:
      return "f:" + std::string(name);
    case BTF_KIND_TYPEDEF:  // only reached when typedefs are kept
      return typedef_key(name);
    case BTF_KIND_PTR:
      return "*" + key(btf, t->type, resolve_typedefs, depth + 1);
    case BTF_KIND_ARRAY: {
      const struct btf_array* array = btf_array(t);
      return "[" + std::to_string(array->nelems) + "]" +
             key(btf, array->type, resolve_typedefs, depth + 1);
    }
    case BTF_KIND_STRUCT:
      return tagged("s:", "s#");
    case BTF_KIND_UNION:
      return tagged("u:", "u#");
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      return tagged("e:", "e#");
    case BTF_KIND_FWD:
      return btf_kflag(t) ? tagged("u:", "u#") : tagged("s:", "s#");
    case BTF_KIND_FUNC:
      return key(btf, t->type, resolve_typedefs, depth + 1);
    case BTF_KIND_FUNC_PROTO: {
      std::string out = "(" + key(btf, t->type, resolve_typedefs, depth + 1) + ":";
      const uint16_t count = btf_vlen(t);
      const struct btf_param* params = btf_params(t);
      for (uint16_t i = 0; i < count; ++i) {
        if (i > 0) out += ',';
        if (i + 1 == count && params[i].type == 0 && params[i].name_off == 0) {
          out += "...";
        } else {
          out += key(btf, params[i].type, resolve_typedefs, depth + 1);
        }
      }
      out += ')';
      return out;
    }
    default:
      return "?" + std::to_string(id);
  }
}

}  // namespace

uint32_t skip_modifiers(const struct btf* btf, uint32_t id, bool also_typedefs) {
  for (int depth = 0; depth <= kMaxDepth; ++depth) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (t == nullptr || id == 0) return id;
    if (!btf_is_mod(t) && !(also_typedefs && btf_is_typedef(t))) return id;
    id = t->type;
  }
  return id;
}

std::string render_type(const struct btf* btf, uint32_t id, const std::string& declarator) {
  steps_left = kMaxSteps;
  return render(btf, id, declarator, {}, 0);
}

std::string declare(std::string_view abstract_type, std::string_view name) {
  if (name.empty()) return std::string(abstract_type);
  // render_type leaves the hole for the name just before the first ')' of a parenthesised
  // pointer declarator or the first '[' of an array suffix; with neither, at the end.
  size_t hole = abstract_type.find_first_of(")[");
  if (hole == std::string_view::npos) hole = abstract_type.size();
  std::string_view left = abstract_type.substr(0, hole);
  while (!left.empty() && left.back() == ' ') left.remove_suffix(1);
  std::string out(left);
  if (!out.empty() && out.back() != '*' && out.back() != '(') out += ' ';
  out += name;
  out += abstract_type.substr(hole);
  return out;
}

std::string type_key(const struct btf* btf, uint32_t id, bool resolve_typedefs) {
  return key(btf, id, resolve_typedefs, 0);
}

std::string struct_key(std::string_view tag) {
  return "s:" + std::string(tag);
}
std::string union_key(std::string_view tag) {
  return "u:" + std::string(tag);
}
std::string enum_key(std::string_view tag) {
  return "e:" + std::string(tag);
}
std::string integer_key(std::string_view canonical_name) {
  return "i:" + std::string(canonical_name);
}
std::string typedef_key(std::string_view name) {
  return "t:" + std::string(name);
}

bool is_integer_word(std::string_view word) {
  return word == "char" || word == "short" || word == "int" || word == "long" || word == "signed" ||
         word == "unsigned" || word == "_Bool" || word == "__int128";
}

std::optional<std::string> canonical_integer_name(const std::vector<std::string_view>& words) {
  int chars = 0, shorts = 0, ints = 0, longs = 0, signeds = 0, unsigneds = 0, bools = 0,
      int128s = 0;
  for (std::string_view w : words) {
    if (w == "char") {
      ++chars;
    } else if (w == "short") {
      ++shorts;
    } else if (w == "int") {
      ++ints;
    } else if (w == "long") {
      ++longs;
    } else if (w == "signed") {
      ++signeds;
    } else if (w == "unsigned") {
      ++unsigneds;
    } else if (w == "_Bool") {
      ++bools;
    } else if (w == "__int128") {
      ++int128s;
    } else {
      return std::nullopt;
    }
  }
  if (words.empty() || chars > 1 || shorts > 1 || ints > 1 || longs > 2 || signeds > 1 ||
      unsigneds > 1 || bools > 1 || int128s > 1 || (signeds && unsigneds)) {
    return std::nullopt;
  }
  const int sizes = (chars ? 1 : 0) + (shorts ? 1 : 0) + (longs ? 1 : 0) + bools + int128s;
  if (sizes > 1) return std::nullopt;
  if (bools) return words.size() == 1 ? std::optional<std::string>("_Bool") : std::nullopt;
  if ((chars || int128s) && ints) return std::nullopt;
  const std::string sign = unsigneds ? "unsigned " : "";
  if (chars) return std::string(signeds ? "signed " : sign) + "char";
  if (int128s) return sign + "__int128";
  if (shorts) return sign + "short";
  if (longs == 2) return sign + "long long";
  if (longs == 1) return sign + "long";
  return sign + "int";
}

}  // namespace probeseek::detail
