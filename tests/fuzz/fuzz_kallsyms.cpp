// kallsyms, available_filter_functions and the kprobe blacklist: the three symbol-table texts
// import and record read. The first byte picks the parser, the rest is the text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probeseek/kallsyms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto table = probeseek::SymbolTable::parse(text, "fuzz");
      if (table) (void)table->text_symbol_at(0xffffffff81000000ull);
      break;
    }
    case 1:
      (void)probeseek::parse_filter_functions(text, "fuzz");
      break;
    default:
      (void)probeseek::parse_kprobe_blacklist(text, "fuzz");
      break;
  }
  return 0;
}
