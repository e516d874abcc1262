#include <cctype>
#include <string>
#include <vector>

#include "btf_types.h"
#include "probeseek/btf.h"

namespace probeseek {
namespace {

constexpr std::string_view kQueryHint =
    "write a C type such as 'struct sock *', 'const char *', 'u32', or just 'sock' for "
    "struct sock *";

bool is_identifier_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool is_qualifier(std::string_view word) {
  return word == "const" || word == "volatile" || word == "restrict" || word == "__restrict" ||
         word == "__restrict__";
}

bool is_tag_keyword(std::string_view word) {
  return word == "struct" || word == "union" || word == "enum";
}

// Splits into identifiers and '*'; nullopt (with the offending character) on anything else.
Result<std::vector<std::string_view>> tokenize(std::string_view text, std::string_view whole) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '*') {
      tokens.push_back(text.substr(i, 1));
      ++i;
    } else if (is_identifier_start(c)) {
      size_t end = i + 1;
      while (end < text.size() && is_identifier_char(text[end])) ++end;
      tokens.push_back(text.substr(i, end - i));
      i = end;
    } else {
      return bad_input("unexpected character '" + std::string(1, c) + "' in type",
                       std::string(whole), std::string(kQueryHint));
    }
  }
  return tokens;
}

}  // namespace

Result<TypeQuery> TypeQuery::parse(std::string_view text) {
  const std::string_view whole = text;
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  // Shells and config files hand quotes through more often than one would think.
  if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') &&
      text.back() == text.front()) {
    text = trim(text.substr(1, text.size() - 2));
  }
  auto tokens = tokenize(text, whole);
  if (!tokens) return tl::unexpected(std::move(tokens.error()));

  auto fail_with = [&](std::string what) {
    return bad_input(std::move(what), std::string(whole), std::string(kQueryHint));
  };

  TypeQuery query;
  size_t i = 0;
  const size_t n = tokens->size();
  auto skip_qualifiers = [&] {
    while (i < n && is_qualifier((*tokens)[i])) ++i;
  };

  skip_qualifiers();
  if (i == n) return fail_with("no type named");
  const std::string_view first = (*tokens)[i];
  if (first == "*") return fail_with("a pointer needs a type to point to");
  if (is_tag_keyword(first)) {
    ++i;
    if (i == n || (*tokens)[i] == "*" || is_qualifier((*tokens)[i]) ||
        is_tag_keyword((*tokens)[i])) {
      return fail_with("expected a name after '" + std::string(first) + "'");
    }
    query.base_ = first == "struct" ? Base::kStruct : first == "union" ? Base::kUnion : Base::kEnum;
    query.name_ = std::string((*tokens)[i]);
    ++i;
  } else if (detail::is_integer_word(first)) {
    std::vector<std::string_view> words;
    while (i < n && (detail::is_integer_word((*tokens)[i]) || is_qualifier((*tokens)[i]))) {
      if (!is_qualifier((*tokens)[i])) words.push_back((*tokens)[i]);
      ++i;
    }
    auto canonical = detail::canonical_integer_name(words);
    if (!canonical) return fail_with("not a C integer type");
    query.base_ = Base::kInteger;
    query.name_ = *canonical;
  } else if (first == "void") {
    query.base_ = Base::kVoid;
    query.name_ = "void";
    ++i;
  } else {
    query.base_ = Base::kName;
    query.name_ = std::string(first);
    ++i;
  }

  skip_qualifiers();
  while (i < n && (*tokens)[i] == "*") {
    ++query.pointer_depth_;
    ++i;
    skip_qualifiers();
  }
  if (i < n) return fail_with("unexpected '" + std::string((*tokens)[i]) + "' in type");

  query.bare_identifier_ = query.base_ == Base::kName && query.pointer_depth_ == 0;
  switch (query.base_) {
    case Base::kStruct:
      query.text_ = "struct " + query.name_;
      break;
    case Base::kUnion:
      query.text_ = "union " + query.name_;
      break;
    case Base::kEnum:
      query.text_ = "enum " + query.name_;
      break;
    default:
      query.text_ = query.name_;
      break;
  }
  if (query.pointer_depth_ > 0) query.text_ += ' ' + std::string(query.pointer_depth_, '*');
  return query;
}

}  // namespace probeseek
