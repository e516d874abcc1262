#include "probeseek/kallsyms.h"

#include <algorithm>

#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek {

namespace {

std::string module_of(std::string_view token) {
  if (token.size() >= 2 && token.front() == '[' && token.back() == ']')
    return std::string(token.substr(1, token.size() - 2));
  return {};
}

}  // namespace

Result<SymbolTable> SymbolTable::parse(std::string_view text, const std::string& origin) {
  SymbolTable table;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty()) return;
    auto fields = split_ws(line);
    if (fields.size() < 3 || fields[1].size() != 1) {
      ++table.malformed_lines_;
      return;
    }
    auto address = parse_hex(fields[0]);
    if (!address) {
      ++table.malformed_lines_;
      return;
    }
    KernelSymbol sym;
    sym.address = *address;
    sym.type = fields[1][0];
    sym.name = std::string(fields[2]);
    if (fields.size() >= 4) sym.module = module_of(fields[3]);
    table.symbols_.push_back(std::move(sym));
  });
  if (table.symbols_.empty())
    return bad_input("not a kallsyms file (no 'ADDRESS TYPE NAME' line)", origin,
                     "pass the kernel's /proc/kallsyms, read as root");
  table.index();
  return table;
}

Result<SymbolTable> SymbolTable::load(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) return tl::unexpected(text.error());
  return parse(*text, path);
}

SymbolTable SymbolTable::from_symbols(std::vector<KernelSymbol> symbols) {
  SymbolTable table;
  table.symbols_ = std::move(symbols);
  table.index();
  return table;
}

void SymbolTable::index() {
  text_by_address_.clear();
  by_name_.clear();
  by_name_.reserve(symbols_.size());
  for (uint32_t i = 0; i < symbols_.size(); ++i) {
    const KernelSymbol& s = symbols_[i];
    if (s.address != 0) addresses_visible_ = true;
    if (s.type == 'd' || s.type == 'D' || s.type == 'r' || s.type == 'R' || s.type == 'b' ||
        s.type == 'B')
      has_data_symbols_ = true;
    if (s.is_text()) text_by_address_.push_back(i);
    by_name_.emplace(s.name, i);
  }
  std::stable_sort(text_by_address_.begin(), text_by_address_.end(), [&](uint32_t a, uint32_t b) {
    return symbols_[a].address < symbols_[b].address;
  });
}

const KernelSymbol* SymbolTable::text_symbol_at(uint64_t addr) const {
  auto it = std::upper_bound(text_by_address_.begin(), text_by_address_.end(), addr,
                             [&](uint64_t a, uint32_t i) { return a < symbols_[i].address; });
  if (it == text_by_address_.begin()) return nullptr;
  return &symbols_[*std::prev(it)];
}

std::vector<const KernelSymbol*> SymbolTable::by_name(std::string_view name) const {
  std::vector<const KernelSymbol*> out;
  auto [b, e] = by_name_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(&symbols_[it->second]);
  std::sort(out.begin(), out.end(),
            [](const KernelSymbol* a, const KernelSymbol* b) { return a->address < b->address; });
  return out;
}

Result<std::vector<FilterFunction>> parse_filter_functions(std::string_view text,
                                                           const std::string& origin) {
  std::vector<FilterFunction> out;
  size_t malformed = 0;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty()) return;
    auto fields = split_ws(line);
    FilterFunction f;
    size_t i = 0;
    if (fields.size() >= 2 && fields[0].size() > 8) {
      if (auto address = parse_hex(fields[0])) {
        f.address = *address;
        i = 1;
      }
    }
    if (!is_kernel_symbol_name(fields[i])) {
      ++malformed;
      return;
    }
    f.name = std::string(fields[i]);
    if (fields.size() > i + 1) f.module = module_of(fields[i + 1]);
    out.push_back(std::move(f));
  });
  if (out.empty())
    return bad_input("not an available_filter_functions file (no function name line)", origin,
                     "pass /sys/kernel/tracing/available_filter_functions, read as root");
  if (malformed > out.size())
    return bad_input("not an available_filter_functions file (" + std::to_string(malformed) +
                         " lines are not function names)",
                     origin);
  return out;
}

Result<std::vector<BlacklistEntry>> parse_kprobe_blacklist(std::string_view text,
                                                           const std::string& origin) {
  std::vector<BlacklistEntry> out;
  size_t malformed = 0;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty()) return;
    auto fields = split_ws(line);
    size_t dash = fields[0].find('-');
    if (fields.size() < 2 || dash == std::string_view::npos) {
      ++malformed;
      return;
    }
    auto start = parse_hex(fields[0].substr(0, dash));
    auto end = parse_hex(fields[0].substr(dash + 1));
    if (!start || !end || !is_kernel_symbol_name(fields[1])) {
      ++malformed;
      return;
    }
    out.push_back(BlacklistEntry{*start, *end, std::string(fields[1])});
  });
  if (out.empty() && malformed > 0)
    return bad_input("not a kprobe blacklist file (expected '0xSTART-0xEND NAME' lines)", origin,
                     "pass /sys/kernel/debug/kprobes/blacklist, read as root");
  return out;
}

}  // namespace probeseek
