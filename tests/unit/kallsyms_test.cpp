// Symbol table parsers on the real tables of Debian's 6.1.0-56-cloud-amd64 kernel.
#include <gtest/gtest.h>

#include "probeseek/kallsyms.h"
#include "probeseek/line_reader.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::kernel_61;

TEST(Kallsyms, ParsesTheRealKernelTable) {
  auto table = SymbolTable::load(kernel_61("kallsyms.txt.gz"));
  ASSERT_TRUE(table) << table.error().message();
  EXPECT_EQ(table->symbols().size(), 87347u);
  EXPECT_EQ(table->malformed_lines(), 0u);
  EXPECT_TRUE(table->addresses_visible());
  EXPECT_TRUE(table->has_data_symbols()) << "CONFIG_KALLSYMS_ALL kernel: tcp_prot is listed";

  auto connect = table->by_name("tcp_v4_connect");
  ASSERT_EQ(connect.size(), 1u);
  EXPECT_TRUE(connect[0]->is_text());
  // An address inside the function resolves to it.
  const KernelSymbol* inside = table->text_symbol_at(connect[0]->address + 7);
  ASSERT_NE(inside, nullptr);
  EXPECT_EQ(inside->name, "tcp_v4_connect");

  auto prot = table->by_name("tcp_prot");
  ASSERT_EQ(prot.size(), 1u);
  EXPECT_FALSE(prot[0]->is_text());
}

TEST(Kallsyms, RejectsAFileThatIsNotKallsyms) {
  auto table = SymbolTable::parse("hello world\nthis is not kallsyms\n", "x.txt");
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().kind, ErrorKind::kBadInput);
  EXPECT_NE(table.error().message().find("x.txt"), std::string::npos);
}

TEST(Kallsyms, ParsesModuleSymbols) {
  auto table = SymbolTable::parse(
      "ffffffffc0a01000 t nft_do_chain\t[nf_tables]\nffffffff81000000 T _stext\n", "m");
  ASSERT_TRUE(table);
  auto chain = table->by_name("nft_do_chain");
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_EQ(chain[0]->module, "nf_tables");
}

TEST(FilterFunctions, ParsesTheRealList) {
  auto text = read_text_file(kernel_61("available_filter_functions.txt.gz"));
  ASSERT_TRUE(text) << text.error().message();
  auto functions = parse_filter_functions(*text, "available_filter_functions");
  ASSERT_TRUE(functions) << functions.error().message();
  EXPECT_EQ(functions->size(), 35609u) << "lines of the real file";
  bool found = false;
  for (auto& f : *functions) found |= f.name == "tcp_v4_connect";
  EXPECT_TRUE(found);
}

TEST(KprobeBlacklist, ParsesTheRealList) {
  auto text = read_text_file(kernel_61("kprobes_blacklist.txt"));
  ASSERT_TRUE(text);
  auto entries = parse_kprobe_blacklist(*text, "blacklist");
  ASSERT_TRUE(entries) << entries.error().message();
  ASSERT_FALSE(entries->empty());
  EXPECT_EQ(entries->front().name, "asm_exc_divide_error");
  EXPECT_LT(entries->front().start, entries->front().end);
}

}  // namespace
}  // namespace probeseek
