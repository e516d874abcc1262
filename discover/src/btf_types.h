// Internal to probeseek_discover: walking BTF types to spell them as C and to compare them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct btf;

namespace probeseek::detail {

// C spelling of type `id` around `declarator` ("" for an abstract type, "sk" for a parameter).
std::string render_type(const struct btf* btf, uint32_t id, const std::string& declarator = {});

// Puts `name` where C wants it in an abstract declarator produced by render_type:
// ("int (*)(int)", "cb") -> "int (*cb)(int)", ("struct sock *", "sk") -> "struct sock *sk".
std::string declare(std::string_view abstract_type, std::string_view name);

// A string that is equal for two types exactly when they are the same C type, ignoring
// qualifiers and type tags at every level. With resolve_typedefs, typedefs are looked through
// too; without, a typedef compares by its name. Structs, unions and enums compare by kind and
// name (a forward declaration equals the definition; anonymous ones by id), integers by their
// canonical C name, function prototypes by return and parameter keys (names ignored).
std::string type_key(const struct btf* btf, uint32_t id, bool resolve_typedefs);

// The key of a struct/union/enum/integer/void named in a query, consistent with type_key.
std::string struct_key(std::string_view tag);
std::string union_key(std::string_view tag);
std::string enum_key(std::string_view tag);
std::string integer_key(std::string_view canonical_name);
std::string typedef_key(std::string_view name);
inline constexpr std::string_view kVoidKey = "v";

// "long unsigned int" and "unsigned long" -> "unsigned long"; nullopt for words that do not
// form a C integer type. Accepts char, short, int, long, signed, unsigned, _Bool, __int128.
std::optional<std::string> canonical_integer_name(const std::vector<std::string_view>& words);
bool is_integer_word(std::string_view word);

// Follows const/volatile/restrict/type tags (and typedefs when asked) to the underlying type id.
uint32_t skip_modifiers(const struct btf* btf, uint32_t id, bool also_typedefs);

}  // namespace probeseek::detail
