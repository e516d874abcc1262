#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "probeseek/kallsyms.h"

namespace probeseek {
namespace {

// GCC: .isra.N (scalar replacement of aggregates), .constprop.N (constant propagation),
// .part.N (partial inlining), .cold / .cold.N (hot/cold splitting), .lto_priv.N and .localalias;
// clang ThinLTO: .llvm.N (N is a long hash-like number).
constexpr std::array<std::string_view, 6> kNumberedSuffixes = {"isra", "constprop", "part",
                                                               "cold", "llvm",      "lto_priv"};
constexpr std::array<std::string_view, 2> kBareSuffixes = {"cold", "localalias"};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

bool contains(auto const& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// The last ".component" of name, or npos when name has no '.' after its first character.
size_t last_dot(std::string_view name) {
  const size_t dot = name.rfind('.');
  return dot == 0 ? std::string_view::npos : dot;
}

}  // namespace

std::string_view strip_clone_suffix(std::string_view symbol) {
  std::string_view name = symbol;
  while (true) {
    const size_t dot = last_dot(name);
    if (dot == std::string_view::npos) break;
    const std::string_view last = name.substr(dot + 1);
    if (contains(kBareSuffixes, last)) {
      name = name.substr(0, dot);
      continue;
    }
    if (!all_digits(last)) break;
    const std::string_view rest = name.substr(0, dot);
    const size_t kind_dot = last_dot(rest);
    if (kind_dot == std::string_view::npos) break;
    if (!contains(kNumberedSuffixes, rest.substr(kind_dot + 1))) break;
    name = rest.substr(0, kind_dot);
  }
  return name.empty() ? symbol : name;
}

}  // namespace probeseek
