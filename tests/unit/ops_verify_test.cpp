// Tests for discover/ops_verify: reading ops tables out of kernel memory.
// Two sources, no kernel needed:
//  - ops_verify_fixture (tests/unit/ops_verify_data/): a small C program built by CMake, non-PIE
//    like vmlinux, whose ELF file holds real tables, decoys and a same-name static function; its
//    .symtab is the symbol table, and the BTF for its types is built here with btf__add_*.
//  - the real /proc/kallsyms and BTF of Debian's 6.1 kernel (tests/data), over a kernel-sized
//    image generated here, to measure what a scan of struct proto costs with 40k data symbols.
#include <bpf/btf.h>
#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ops_verify_data/ops_types.h"
#include "probeseek/db.h"
#include "probeseek/explain.h"
#include "probeseek/ingest.h"
#include "probeseek/ops_index.h"
#include "probeseek/ops_store.h"
#include "probeseek/ops_verify.h"
#include "probeseek/rank.h"
#include "test_support.h"

namespace probeseek {
namespace {

using ::testing::Test;

static_assert(sizeof(my_ops) == MY_OPS_SIZE);
static_assert(offsetof(my_ops, connect) == MY_OPS_CONNECT_OFFSET);
static_assert(offsetof(my_ops, close) == MY_OPS_CLOSE_OFFSET);
static_assert(offsetof(my_ops, ioctl) == MY_OPS_IOCTL_OFFSET);

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" not in \"" << text << "\"";
}

uint64_t word_at(const std::string& bytes, size_t offset) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

uint64_t address_of(const SymbolTable& symbols, std::string_view name) {
  const auto found = symbols.by_name(name);
  EXPECT_EQ(found.size(), 1u) << name;
  return found.empty() ? 0 : found.front()->address;
}

std::vector<std::string> table_names(const std::vector<OpsInstance>& instances) {
  std::vector<std::string> out;
  for (const auto& instance : instances) out.push_back(instance.symbol);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The fixture program's BTF, as pahole would emit it for ops_types.h and ops_table_*.c:
//   struct my_ops    { int (*connect)(void *, int); int (*close)(void *);
//                      long (*ioctl)(void *, unsigned int, unsigned long); };        24 bytes
//   struct tiny_ops  { int (*connect)(void *, int); int (*close)(void *); };         16 bytes
//   struct decoy_ops { int (*first)(void *, int); void (*second)(void); void (*third)(void); };
// and a FUNC for every function of the fixture. my_close is there once, as BTF dedup keeps one
// FUNC for same-name statics of equal prototype; the clone is there under its original name.
struct btf* fixture_btf() {
  struct btf* b = btf__new_empty();
  EXPECT_NE(b, nullptr);
  auto add = [&](int id) {
    EXPECT_GT(id, 0);
    return id;
  };
  auto ok = [&](int err) { EXPECT_EQ(err, 0); };
  const int int_t = add(btf__add_int(b, "int", 4, BTF_INT_SIGNED));
  const int uint_t = add(btf__add_int(b, "unsigned int", 4, 0));
  const int long_t = add(btf__add_int(b, "long int", 8, BTF_INT_SIGNED));
  const int ulong_t = add(btf__add_int(b, "long unsigned int", 8, 0));
  const int void_ptr = add(btf__add_ptr(b, 0));

  const int connect = add(btf__add_func_proto(b, int_t));
  ok(btf__add_func_param(b, "", void_ptr));
  ok(btf__add_func_param(b, "", int_t));
  const int close = add(btf__add_func_proto(b, int_t));
  ok(btf__add_func_param(b, "", void_ptr));
  const int ioctl = add(btf__add_func_proto(b, long_t));
  ok(btf__add_func_param(b, "", void_ptr));
  ok(btf__add_func_param(b, "", uint_t));
  ok(btf__add_func_param(b, "", ulong_t));
  const int plain = add(btf__add_func_proto(b, 0));  // void (void)
  const int connect_ptr = add(btf__add_ptr(b, connect));
  const int close_ptr = add(btf__add_ptr(b, close));
  const int ioctl_ptr = add(btf__add_ptr(b, ioctl));
  const int plain_ptr = add(btf__add_ptr(b, plain));

  add(btf__add_struct(b, "my_ops", MY_OPS_SIZE));
  ok(btf__add_field(b, "connect", connect_ptr, MY_OPS_CONNECT_OFFSET * 8, 0));
  ok(btf__add_field(b, "close", close_ptr, MY_OPS_CLOSE_OFFSET * 8, 0));
  ok(btf__add_field(b, "ioctl", ioctl_ptr, MY_OPS_IOCTL_OFFSET * 8, 0));
  add(btf__add_struct(b, "tiny_ops", 16));
  ok(btf__add_field(b, "connect", connect_ptr, 0, 0));
  ok(btf__add_field(b, "close", close_ptr, 64, 0));
  add(btf__add_struct(b, "decoy_ops", 24));
  ok(btf__add_field(b, "first", connect_ptr, 0, 0));
  ok(btf__add_field(b, "second", plain_ptr, 64, 0));
  ok(btf__add_field(b, "third", plain_ptr, 128, 0));

  for (const char* name : {"my_connect", "unused_connect", "clone_target", "decoy_connect",
                           "tiny_connect", "wrapped_connect", "other_connect"}) {
    add(btf__add_func(b, name, BTF_FUNC_GLOBAL, connect));
  }
  for (const char* name : {"my_close", "clone_close", "tiny_close", "wrapped_close"}) {
    add(btf__add_func(b, name, BTF_FUNC_STATIC, close));
  }
  for (const char* name : {"tiny_ioctl", "other_ioctl"}) {
    add(btf__add_func(b, name, BTF_FUNC_GLOBAL, ioctl));
  }
  for (const char* name : {"decoy_a", "decoy_b", "decoy_c"}) {
    add(btf__add_func(b, name, BTF_FUNC_GLOBAL, plain));
  }
  return b;
}

class FixtureElf : public Test {
 protected:
  static void SetUpTestSuite() {
    auto image = ElfImageMemory::open(OPS_VERIFY_FIXTURE);
    ASSERT_TRUE(image) << image.error().message();
    image_ = new ElfImageMemory(std::move(*image));
    symbols_ = new SymbolTable(image_->symbols());
    btf_ = new Btf(Btf::adopt(fixture_btf()));
    ops_ = new OpsIndex(OpsIndex::build(*btf_));
  }
  static void TearDownTestSuite() {
    delete ops_;
    delete btf_;
    delete symbols_;
    delete image_;
  }

  static OpsVerifier verifier(const KernelMemory& memory, const SymbolTable& symbols) {
    auto made = OpsVerifier::create(memory, symbols, *btf_, *ops_);
    EXPECT_TRUE(made) << made.error().message();
    return std::move(*made);
  }
  static OpsVerifier verifier() { return verifier(*image_, *symbols_); }
  static std::string verified_in() { return " (verified in " OPS_VERIFY_FIXTURE ")"; }

  static ElfImageMemory* image_;
  static SymbolTable* symbols_;
  static Btf* btf_;
  static OpsIndex* ops_;
};
ElfImageMemory* FixtureElf::image_ = nullptr;
SymbolTable* FixtureElf::symbols_ = nullptr;
Btf* FixtureElf::btf_ = nullptr;
OpsIndex* FixtureElf::ops_ = nullptr;

TEST_F(FixtureElf, TheBtfDescribesTheCompiledLayout) {
  ASSERT_EQ(btf_->struct_size("my_ops"), sizeof(my_ops));
  const auto& members = ops_->members_of("my_ops");
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].offset, offsetof(my_ops, connect));
  EXPECT_EQ(members[1].offset, offsetof(my_ops, close));
  EXPECT_EQ(members[2].offset, offsetof(my_ops, ioctl));
}

TEST_F(FixtureElf, SymbolsCarryKallsymsTypeLetters) {
  auto letter = [&](std::string_view name) {
    const auto found = symbols_->by_name(name);
    return found.empty() ? '?' : found.front()->type;
  };
  EXPECT_EQ(letter("my_connect"), 'T');
  EXPECT_EQ(letter("clone_target.isra.0"), 'T');
  EXPECT_EQ(letter("tcp_like_ops"), 'R');  // const: .rodata
  EXPECT_EQ(letter("other_ops"), 'D');     // .data
  EXPECT_EQ(letter("runtime_ops"), 'B');   // .bss
  const auto closes = symbols_->by_name("my_close");
  ASSERT_EQ(closes.size(), 2u);  // one static per compilation unit
  EXPECT_EQ(closes[0]->type, 't');
  EXPECT_EQ(closes[1]->type, 't');
  EXPECT_NE(closes[0]->address, closes[1]->address);
  EXPECT_TRUE(symbols_->addresses_visible());
  EXPECT_TRUE(symbols_->has_data_symbols());
}

TEST_F(FixtureElf, ImageReadsSectionContentsAndZerosForBss) {
  auto table = image_->read(address_of(*symbols_, "tcp_like_ops"), sizeof(my_ops));
  ASSERT_TRUE(table) << table.error().message();
  EXPECT_EQ(word_at(*table, MY_OPS_CONNECT_OFFSET), address_of(*symbols_, "my_connect"));
  const auto closes = symbols_->by_name("my_close");
  EXPECT_TRUE(word_at(*table, MY_OPS_CLOSE_OFFSET) == closes[0]->address ||
              word_at(*table, MY_OPS_CLOSE_OFFSET) == closes[1]->address);
  EXPECT_EQ(word_at(*table, MY_OPS_IOCTL_OFFSET), 0u);

  auto bss = image_->read(address_of(*symbols_, "runtime_ops"), sizeof(my_ops));
  ASSERT_TRUE(bss) << bss.error().message();
  EXPECT_EQ(*bss, std::string(sizeof(my_ops), '\0'));

  auto unmapped = image_->read(0x10, 8);
  ASSERT_FALSE(unmapped);
  EXPECT_EQ(unmapped.error().message(),
            "cannot read kernel memory at 0x10 (not mapped): " OPS_VERIFY_FIXTURE);
  EXPECT_EQ(image_->describe(), OPS_VERIFY_FIXTURE);
}

TEST_F(FixtureElf, VerifiesTheTableThatHoldsAFunction) {
  auto v = verifier();
  const auto found = v.verify("my_connect");
  ASSERT_EQ(found.size(), 1u);  // and not also as a tiny_ops, see LargestStructExplainsATable
  EXPECT_EQ(found[0].text, "tcp_like_ops.connect = my_connect" + verified_in());
  EXPECT_EQ(found[0].table, "tcp_like_ops");
  EXPECT_EQ(found[0].struct_name, "my_ops");
  EXPECT_EQ(found[0].member, "connect");
  EXPECT_EQ(found[0].function, "my_connect");
  EXPECT_EQ(found[0].table_address, address_of(*symbols_, "tcp_like_ops"));
  EXPECT_EQ(found[0].function_address, address_of(*symbols_, "my_connect"));
}

TEST_F(FixtureElf, ChecksEveryStaticFunctionOfAName) {
  auto v = verifier();
  const auto found = v.verify("my_close");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].text, "other_ops.close = my_close" + verified_in());  // ops_table_b.c's
  EXPECT_EQ(found[1].text, "tcp_like_ops.close = my_close" + verified_in());
  EXPECT_NE(found[0].function_address, found[1].function_address);
}

TEST_F(FixtureElf, FindsTablesThatPointAtAClone) {
  auto v = verifier();
  for (const char* asked : {"clone_target", "clone_target.isra.0"}) {
    const auto found = v.verify(asked);
    ASSERT_EQ(found.size(), 1u) << asked;
    EXPECT_EQ(found[0].text, "clone_ops.connect = clone_target.isra.0" + verified_in());
    EXPECT_EQ(found[0].struct_name, "my_ops");
  }
}

TEST_F(FixtureElf, AFittingFunctionInNoTableGivesNothing) {
  auto v = verifier();
  bool fits_connect = false;
  for (const auto& fit : ops_->fits(*btf_, "unused_connect")) {
    fits_connect |= fit.struct_name == "my_ops" && fit.member == "connect";
  }
  ASSERT_TRUE(fits_connect);
  EXPECT_TRUE(v.verify("unused_connect").empty());
  EXPECT_TRUE(v.verify("no_such_function").empty());
}

TEST_F(FixtureElf, DecoysAreNotTables) {
  auto v = verifier();
  // decoy_ints holds no text addresses; decoy_handlers holds three, of void (*)(void)
  // functions; decoy_mixed has one pointer of my_ops.connect's prototype and two of others;
  // tiny_pair is followed by another symbol; wrapped has its my_ops at offset 8; runtime_ops is
  // all zeros in the image.
  EXPECT_EQ(table_names(v.instances_of("my_ops")),
            (std::vector<std::string>{"tcp_like_ops", "clone_ops", "other_ops"}));
  const auto found = v.verify("decoy_connect");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].text, "decoy_mixed.first = decoy_connect" + verified_in());
  EXPECT_EQ(found[0].struct_name, "decoy_ops");
  EXPECT_TRUE(v.verify("wrapped_connect").empty());  // documented: not at a symbol's start

  // decoy_handlers read as a decoy_ops: first (decoy_a) has the wrong prototype, second and
  // third the right one; one mismatch in three judged is too many.
  const auto decoy_a = v.verify("decoy_a");
  ASSERT_EQ(decoy_a.size(), 1u);
  EXPECT_EQ(decoy_a[0].text, "decoy_mixed.second = decoy_a" + verified_in());

  const auto& tcp_like = v.instances_of("my_ops").front();
  ASSERT_EQ(tcp_like.pointers.size(), 2u);  // ioctl is NULL
  EXPECT_EQ(tcp_like.pointers[0].member, "connect");
  EXPECT_EQ(tcp_like.pointers[0].function, "my_connect");
  EXPECT_EQ(tcp_like.pointers[0].prototype, PrototypeCheck::kMatches);
  EXPECT_EQ(tcp_like.pointers[1].member, "close");
  EXPECT_EQ(tcp_like.pointers[1].function, "my_close");
  EXPECT_EQ(tcp_like.pointers[1].prototype, PrototypeCheck::kMatches);
}

TEST_F(FixtureElf, AStaticNameTwoFunctionsShareRefutesNothing) {
  auto v = verifier();
  // BTF keeps one prototype per name, possibly not the pointed-to static's: my_close in
  // decoy_ops.second (void (*)(void)) is "unknown", not "differs". So tcp_like_ops, with
  // my_connect in first, is also a consistent decoy_ops...
  EXPECT_EQ(table_names(v.instances_of("decoy_ops")),
            (std::vector<std::string>{"tcp_like_ops", "decoy_mixed"}));
  EXPECT_EQ(v.instances_of("decoy_ops").front().pointers[1].prototype, PrototypeCheck::kUnknown);
  // ...and verify() picks my_ops.connect over decoy_ops.first by the member's name.
  const auto found = v.verify("my_connect");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].struct_name, "my_ops");
  // clone_close has a prototype of its own: clone_ops is no decoy_ops.
  const auto clone = v.verify("clone_target");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0].struct_name, "my_ops");
}

TEST_F(FixtureElf, ASymbolStartingInsideTheBytesEndsTheCandidate) {
  // Without sizes, tiny_pair (16 bytes) read as a 24-byte my_ops would look perfect: the
  // pointer after it is tiny_ioctl, of my_ops.ioctl's prototype.
  const uint64_t tiny = address_of(*symbols_, "tiny_pair");
  ASSERT_EQ(address_of(*symbols_, "tiny_next"), tiny + 16);
  auto bytes = image_->read(tiny, sizeof(my_ops));
  ASSERT_TRUE(bytes);
  EXPECT_EQ(word_at(*bytes, 0), address_of(*symbols_, "tiny_connect"));
  EXPECT_EQ(word_at(*bytes, 8), address_of(*symbols_, "tiny_close"));
  EXPECT_EQ(word_at(*bytes, 16), address_of(*symbols_, "tiny_ioctl"));

  auto v = verifier();
  EXPECT_TRUE(v.verify("tiny_ioctl").empty());
  const auto found = v.verify("tiny_connect");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].struct_name, "tiny_ops");
  EXPECT_EQ(found[0].text, "tiny_pair.connect = tiny_connect" + verified_in());
}

TEST_F(FixtureElf, LargestStructExplainsATable) {
  auto v = verifier();
  // The first 16 bytes of every my_ops are a valid tiny_ops: instances_of says so...
  const auto tiny = table_names(v.instances_of("tiny_ops"));
  EXPECT_NE(std::find(tiny.begin(), tiny.end(), "tcp_like_ops"), tiny.end());
  // ...but verify() keeps, per table slot, the largest struct that explains it.
  const auto found = v.verify("my_connect");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].struct_name, "my_ops");
}

TEST_F(FixtureElf, ScanAllReadsOncePerBatchAndChecksNames) {
  auto v = verifier();
  auto all = v.scan_all({"my_ops", "struct tiny_ops", "decoy_ops"});
  ASSERT_TRUE(all) << all.error().message();
  std::multiset<std::string> seen;
  for (const auto& instance : *all) seen.insert(instance.struct_name + ":" + instance.symbol);
  EXPECT_EQ(seen.count("my_ops:tcp_like_ops"), 1u);
  EXPECT_EQ(seen.count("my_ops:other_ops"), 1u);
  EXPECT_EQ(seen.count("tiny_ops:tiny_pair"), 1u);
  EXPECT_EQ(seen.count("decoy_ops:decoy_mixed"), 1u);
  EXPECT_EQ(v.stats().passes, 1u);
  v.verify("my_connect");  // cached: no second pass
  v.instances_of("decoy_ops");
  EXPECT_EQ(v.stats().passes, 1u);

  auto unknown = v.scan_all({"my_ops", "no_such_ops"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(unknown.error().object, "no_such_ops");
  EXPECT_TRUE(v.instances_of("no_such_ops").empty());
}

// A symbol table with extra data symbols, as a kallsyms listing could have.
SymbolTable with_extra(const SymbolTable& base, std::vector<KernelSymbol> extra) {
  std::vector<KernelSymbol> all = base.symbols();
  all.insert(all.end(), extra.begin(), extra.end());
  return SymbolTable::from_symbols(std::move(all));
}

TEST_F(FixtureElf, UnreadableSymbolsAreCountedNotFatal) {
  auto plain = verifier();
  plain.instances_of("my_ops");
  // Linker markers at the end of the image (_end) can have nothing mapped after them.
  const size_t baseline = plain.stats().unreadable_symbols;

  const SymbolTable ghosts =
      with_extra(*symbols_, {{0x7000000, 'D', "ghost_ops", ""}, {0x7100000, 'd', "ghost_two", ""}});
  auto v = verifier(*image_, ghosts);
  EXPECT_EQ(v.instances_of("my_ops").size(), 3u);
  EXPECT_EQ(v.stats().unreadable_symbols, baseline + 2);
  EXPECT_EQ(v.verify("my_connect").size(), 1u);
}

TEST_F(FixtureElf, KaslrOffsetShiftsSymbolsReadsAndPointers) {
  // As if the image were read for a running kernel loaded 2 MiB above its link address.
  constexpr int64_t kShift = 0x200000;
  auto shifted = ElfImageMemory::open(OPS_VERIFY_FIXTURE, kShift);
  ASSERT_TRUE(shifted) << shifted.error().message();
  EXPECT_EQ(shifted->pointer_bias(), kShift);
  const SymbolTable live = shifted->symbols();  // stands in for the live /proc/kallsyms
  auto offset = kaslr_offset(live, *symbols_, "main");
  ASSERT_TRUE(offset) << offset.error().message();
  EXPECT_EQ(*offset, kShift);
  EXPECT_FALSE(kaslr_offset(live, *symbols_));  // the fixture has no _stext

  auto v = verifier(*shifted, live);
  const auto found = v.verify("my_connect");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].table_address, address_of(*symbols_, "tcp_like_ops") + kShift);
  EXPECT_EQ(found[0].function_address, address_of(*symbols_, "my_connect") + kShift);
  EXPECT_EQ(found[0].text, "tcp_like_ops.connect = my_connect" + verified_in());

  // Live addresses against the unshifted image: nothing is where the symbols say.
  auto wrong = verifier(*image_, live);
  auto scan = wrong.scan_all({"my_ops"});
  ASSERT_FALSE(scan);
  EXPECT_TRUE(contains(scan.error().message(), "no data symbol could be read"));
  EXPECT_TRUE(contains(scan.error().hint, "KASLR"));
}

// ---------------------------------------------------------------------------------------------
// Opening errors.

// record's scan: the tables that hold a session's functions, stored with the session, and what
// rank and explain make of them later, without the memory.
TEST_F(FixtureElf, ScanStoresTheTablesThatHoldRecordedFunctions) {
  test::TempDir dir;
  // A recording that called a function held by a table, one held through its clone, a static
  // name two tables hold, and one that fits my_ops.connect but no table holds.
  const std::string report = dir.file("fixture.report.txt");
  test::write_file(
      report,
      "cpus=1\n"
      "   app-7   [000]    10.000001: funcgraph_entry:                   |  __x64_sys_connect() {\n"
      "   app-7   [000]    10.000002: funcgraph_entry:        1.000 us   |    my_connect();\n"
      "   app-7   [000]    10.000004: funcgraph_entry:        1.000 us   |    "
      "clone_target.isra.0();\n"
      "   app-7   [000]    10.000006: funcgraph_entry:        1.000 us   |    unused_connect();\n"
      "   app-7   [000]    10.000008: funcgraph_entry:        1.000 us   |    my_close();\n"
      "   app-7   [000]    10.000010: funcgraph_exit:         9.000 us   |  }\n");
  const std::string btf_file = dir.file("fixture.btf");
  test::write_file(btf_file, btf_->raw_bytes());
  const std::string db_path = dir.file("scan.db");
  auto db = Database::open(db_path);
  ASSERT_TRUE(db) << db.error().message();
  IngestRequest request;
  request.files = {report};
  request.name = "app";
  ASSERT_TRUE(ingest(*db, request));
  auto session = Store(*db).session("app");
  ASSERT_TRUE(session) << session.error().message();

  // Before any scan: nothing stored, and it reads as "never scanned".
  auto none = load_stored_ops(*db, {session->id});
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(none->any_scan());

  for (int pass = 0; pass < 2; ++pass) {  // a second scan replaces the first
    auto scanned = scan_and_store_ops(*db, session->id, *btf_, *image_, *symbols_);
    ASSERT_TRUE(scanned) << scanned.error().message();
    EXPECT_EQ(scanned->memory, OPS_VERIFY_FIXTURE);
    EXPECT_EQ(scanned->functions_with_fits,
              4u);                        // my_connect, clone_target, unused_connect, my_close
    EXPECT_EQ(scanned->memberships, 4u);  // my_close is in two tables
    EXPECT_GE(scanned->tables, 3u);
  }
  auto stored = load_stored_ops(*db, {session->id});
  ASSERT_TRUE(stored) << stored.error().message();
  EXPECT_EQ(stored->scanned, std::vector<int64_t>{session->id});
  auto texts = [&](std::string_view function) {
    std::vector<std::string> out;
    if (const auto* held = stored->find(function))
      for (const StoredMembership& m : *held)
        out.push_back(m.table + "." + m.member + " = " + m.function);
    return out;
  };
  EXPECT_EQ(texts("my_connect"), std::vector<std::string>{"tcp_like_ops.connect = my_connect"});
  EXPECT_EQ(texts("clone_target.isra.0"),
            std::vector<std::string>{"clone_ops.connect = clone_target.isra.0"});
  EXPECT_EQ(texts("clone_target"), texts("clone_target.isra.0"));  // asked by its BTF name
  EXPECT_EQ(texts("my_close"), (std::vector<std::string>{"other_ops.close = my_close",
                                                         "tcp_like_ops.close = my_close"}));
  EXPECT_TRUE(texts("unused_connect").empty());
  ASSERT_NE(stored->find("my_connect"), nullptr);
  const std::string text = stored->find("my_connect")->front().text();
  EXPECT_EQ(text.rfind("tcp_like_ops.connect = my_connect (verified in " OPS_VERIFY_FIXTURE
                       " at record time, ",
                       0),
            0u)
      << text;

  // rank: a verified slot is evidence (+10); a fit no table holds is said, for 0 points.
  RankRequest rr;
  rr.btf_path = btf_file;
  rr.limit = 0;
  auto ranked = rank(*db, rr);
  ASSERT_TRUE(ranked) << ranked.error().message();
  auto reasons_of = [&](std::string_view function) {
    for (const Candidate& c : ranked->candidates)
      if (c.function == function) return c.terms;
    ADD_FAILURE() << function << " not ranked";
    return std::vector<ScoreTerm>{};
  };
  auto has = [](const std::vector<ScoreTerm>& terms, double points, std::string_view text) {
    return std::any_of(terms.begin(), terms.end(), [&](const ScoreTerm& t) {
      return t.points == points && t.reason.find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(has(reasons_of("my_connect"), 10,
                  "verified in kernel memory: tcp_like_ops.connect = my_connect"));
  EXPECT_TRUE(has(reasons_of("unused_connect"), 0, "no ops table in kernel memory held it"));

  // explain, with no memory to read: the stored result, and the absence as a weakness.
  ExplainRequest er;
  er.btf_path = btf_file;
  er.function = "my_connect";
  auto explained = explain(*db, er);
  ASSERT_TRUE(explained) << explained.error().message();
  ASSERT_EQ(explained->verified.size(), 1u);
  EXPECT_EQ(explained->verified[0], text);
  er.function = "unused_connect";
  explained = explain(*db, er);
  ASSERT_TRUE(explained) << explained.error().message();
  EXPECT_TRUE(explained->verified.empty());
  EXPECT_TRUE(std::any_of(explained->worse.begin(), explained->worse.end(), [](auto& w) {
    return w.find("no ops table in kernel memory held it") != std::string::npos;
  }));

  // import --replace of the session drops its scan: the new session may reuse the id.
  request.replace = true;
  ASSERT_TRUE(ingest(*db, request));
  auto replaced = Store(*db).session("app");
  ASSERT_TRUE(replaced);
  auto after = load_stored_ops(*db, {replaced->id});
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->any_scan());
}

TEST(KcoreMemory, MissingFileMeansKcoreIsNotBuiltIn) {
  auto kcore = KcoreMemory::open("/nonexistent/kcore");
  ASSERT_FALSE(kcore);
  EXPECT_EQ(kcore.error().kind, ErrorKind::kRuntime);
  EXPECT_EQ(kcore.error().message(), "cannot read: /nonexistent/kcore: No such file or directory");
  EXPECT_TRUE(contains(kcore.error().hint, "CONFIG_PROC_KCORE"));
  EXPECT_TRUE(contains(kcore.error().hint, "--vmlinux FILE"));
}

TEST(KcoreMemory, RejectsFilesThatAreNotCoreFiles) {
  test::TempDir dir;
  test::write_file(dir.file("text"), "this is not an ELF file\n");
  auto text = KcoreMemory::open(dir.file("text"));
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(text.error().message(), "not an ELF core file like /proc/kcore: " + dir.file("text"));

  test::write_file(dir.file("empty"), "");
  EXPECT_FALSE(KcoreMemory::open(dir.file("empty")));

  auto executable = KcoreMemory::open(OPS_VERIFY_FIXTURE);  // ELF, but ET_EXEC
  ASSERT_FALSE(executable);
  EXPECT_EQ(executable.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(executable.error().what, "ELF type 2"));
}

// What this machine says. Here (a Firecracker guest, kernel without CONFIG_PROC_KCORE) the file
// does not exist; a locked-down kernel refuses it with EPERM; the lab reads it.
TEST(KcoreMemory, ThisMachinesKcore) {
  auto kcore = KcoreMemory::open();
  if (kcore) {
    auto kallsyms = SymbolTable::load("/proc/kallsyms");
    if (!kallsyms || !kallsyms->addresses_visible()) GTEST_SKIP() << "no kallsyms addresses";
    auto bytes = kcore->read(kallsyms->by_name("_stext").front()->address, 16);
    EXPECT_TRUE(bytes) << bytes.error().message();
    return;
  }
  const Error& e = kcore.error();
  std::cout << "KcoreMemory::open(): " << e.message() << "\n  hint: " << e.hint << "\n";
  EXPECT_EQ(e.what, "cannot read");
  EXPECT_EQ(e.object, "/proc/kcore");
  if (e.err_no == ENOENT) {
    EXPECT_TRUE(contains(e.hint, "CONFIG_PROC_KCORE"));
  } else {
    EXPECT_TRUE(e.err_no == EPERM || e.err_no == EACCES) << e.message();
    EXPECT_EQ(e.hint,
              "run as root; kernels locked down in integrity/confidentiality mode refuse "
              "/proc/kcore: pass --vmlinux FILE (the kernel's vmlinux ELF, e.g. from the "
              "linux-image-*-dbg package) instead");
  }
}

TEST(ElfImageMemory, OpenErrors) {
  auto missing = ElfImageMemory::open("/nonexistent/vmlinux");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "cannot open: /nonexistent/vmlinux: No such file or directory");
  EXPECT_TRUE(contains(missing.error().hint, "linux-image-*-dbg"));

  test::TempDir dir;
  test::write_file(dir.file("vmlinuz"), std::string("MZ\x00\x01", 4) + "compressed kernel");
  auto compressed = ElfImageMemory::open(dir.file("vmlinuz"));
  ASSERT_FALSE(compressed);
  EXPECT_EQ(compressed.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(compressed.error().what, "not an ELF file");
}

class NoMemory : public KernelMemory {
 public:
  Result<std::string> read(uint64_t, size_t) const override {
    return runtime_error("no memory here");
  }
  std::string describe() const override { return "nowhere"; }
};

TEST(OpsVerifier, NeedsVisibleAddressesAndDataSymbols) {
  const NoMemory memory;
  Btf btf = Btf::adopt(fixture_btf());
  const OpsIndex ops = OpsIndex::build(btf);

  auto hidden = SymbolTable::parse(
      "0000000000000000 T my_connect\n0000000000000000 D tcp_like_ops\n", "kallsyms");
  ASSERT_TRUE(hidden);
  auto made = OpsVerifier::create(memory, *hidden, btf, ops);
  ASSERT_FALSE(made);
  EXPECT_TRUE(contains(made.error().what, "hidden"));
  EXPECT_TRUE(contains(made.error().hint, "kptr_restrict"));

  auto text_only = SymbolTable::parse(
      "ffffffff81000000 T my_connect\nffffffff81000100 t my_close\n", "kallsyms");
  ASSERT_TRUE(text_only);
  made = OpsVerifier::create(memory, *text_only, btf, ops);
  ASSERT_FALSE(made);
  EXPECT_TRUE(contains(made.error().hint, "CONFIG_KALLSYMS_ALL"));
}

// ---------------------------------------------------------------------------------------------
// Cost on a real kernel's symbols: the 6.1 kallsyms (40k data symbols) and BTF, over an image of
// that kernel's data area (30 MiB) generated here, with a struct proto planted at tcp_prot.

// One allocated PROGBITS section holding `bytes` at `address`: the least ElfImageMemory reads.
void write_image(const std::string& path, uint64_t address, const std::string& bytes) {
  ASSERT_NE(elf_version(EV_CURRENT), EV_NONE);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } fd{::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644)};
  ASSERT_GE(fd.fd, 0);
  std::unique_ptr<Elf, decltype(&elf_end)> elf(elf_begin(fd.fd, ELF_C_WRITE, nullptr), elf_end);
  ASSERT_TRUE(elf) << elf_errmsg(-1);
  Elf64_Ehdr* ehdr = elf64_newehdr(elf.get());
  ASSERT_NE(ehdr, nullptr);
  ehdr->e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr->e_machine = EM_X86_64;
  ehdr->e_type = ET_EXEC;
  ehdr->e_version = EV_CURRENT;

  static char names[] = "\0.data\0.shstrtab";
  Elf_Scn* data_scn = elf_newscn(elf.get());
  Elf_Data* data = elf_newdata(data_scn);
  data->d_buf = const_cast<char*>(bytes.data());
  data->d_size = bytes.size();
  data->d_type = ELF_T_BYTE;
  data->d_align = 64;
  Elf64_Shdr* shdr = elf64_getshdr(data_scn);
  shdr->sh_name = 1;
  shdr->sh_type = SHT_PROGBITS;
  shdr->sh_flags = SHF_ALLOC | SHF_WRITE;
  shdr->sh_addr = address;
  shdr->sh_addralign = 64;

  Elf_Scn* names_scn = elf_newscn(elf.get());
  Elf_Data* names_data = elf_newdata(names_scn);
  names_data->d_buf = names;
  names_data->d_size = sizeof names;
  names_data->d_type = ELF_T_BYTE;
  names_data->d_align = 1;
  Elf64_Shdr* names_shdr = elf64_getshdr(names_scn);
  names_shdr->sh_name = 7;
  names_shdr->sh_type = SHT_STRTAB;
  ehdr->e_shstrndx = elf_ndxscn(names_scn);
  ASSERT_GE(elf_update(elf.get(), ELF_C_WRITE), 0) << elf_errmsg(-1);
}

// How much the verifier reads, not how long it takes: the time is a benchmark's business
// (bench/kernels.sh measures the slot scan of real kernels, docs/performance.md).
TEST(OpsVerifierCost, StructProtoOverARealKernelsDataSymbolsIsReadInChunks) {
  if constexpr (std::endian::native != std::endian::little) GTEST_SKIP() << "x86-64 data";
  auto kallsyms = SymbolTable::load(test::kernel_61("kallsyms.txt.gz"));
  ASSERT_TRUE(kallsyms) << kallsyms.error().message();
  auto btf = Btf::load(test::kernel_61("vmlinux.btf"));
  ASSERT_TRUE(btf) << btf.error().message();
  const OpsIndex ops = OpsIndex::build(*btf);

  // tcp_prot as tcp_ipv4.c initialises it (the members whose functions kallsyms lists).
  const std::map<std::string, std::string> tcp_prot = {
      {"close", "tcp_close"},
      {"pre_connect", "tcp_v4_pre_connect"},
      {"connect", "tcp_v4_connect"},
      {"disconnect", "tcp_disconnect"},
      {"accept", "inet_csk_accept"},
      {"ioctl", "tcp_ioctl"},
      {"init", "tcp_v4_init_sock"},
      {"destroy", "tcp_v4_destroy_sock"},
      {"shutdown", "tcp_shutdown"},
      {"setsockopt", "tcp_setsockopt"},
      {"getsockopt", "tcp_getsockopt"},
      {"keepalive", "tcp_set_keepalive"},
      {"recvmsg", "tcp_recvmsg"},
      {"sendmsg", "tcp_sendmsg"},
      {"sendpage", "tcp_sendpage"},
      {"backlog_rcv", "tcp_v4_do_rcv"},
      {"release_cb", "tcp_release_cb"},
      {"hash", "inet_hash"},
      {"unhash", "inet_unhash"},
      {"get_port", "inet_csk_get_port"},
      {"enter_memory_pressure", "tcp_enter_memory_pressure"},
      {"leave_memory_pressure", "tcp_leave_memory_pressure"},
      {"stream_memory_free", "tcp_stream_memory_free"},
  };
  const auto proto_size = btf->struct_size("proto");
  ASSERT_TRUE(proto_size);

  // The kernel's data area: from the first data symbol to past the last one.
  uint64_t low = ~0ull;
  uint64_t high = 0;
  size_t data_symbols = 0;
  for (const auto& s : kallsyms->symbols()) {
    if (std::string_view("dDrRbB").find(s.type) == std::string_view::npos) continue;
    ++data_symbols;
    low = std::min(low, s.address);
    high = std::max(high, s.address);
  }
  high += 64 * 1024;
  ASSERT_GT(data_symbols, 40000u);
  const uint64_t bss = address_of(*kallsyms, "__bss_start");

  test::TempDir dir;
  for (const bool zeros : {false, true}) {
    // Random words model pointers into nowhere and integers; all zeros is the worst case (every
    // member of every candidate must be looked at), as in .bss.
    std::string bytes(high - low, '\0');
    if (!zeros) {
      uint64_t state = 0x9e3779b97f4a7c15ull;
      for (size_t i = 0; i + 8 <= bss - low; i += 8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::memcpy(bytes.data() + i, &state, 8);
      }
    }
    const uint64_t table = address_of(*kallsyms, "tcp_prot");
    std::memset(bytes.data() + (table - low), 0, *proto_size);
    for (const OpsMember& member : ops.members_of("proto")) {
      auto it = tcp_prot.find(member.name);
      if (it == tcp_prot.end()) continue;
      const uint64_t target = address_of(*kallsyms, it->second);
      std::memcpy(bytes.data() + (table - low) + member.offset, &target, 8);
    }
    const std::string path = dir.file(zeros ? "zeros.elf" : "random.elf");
    write_image(path, low, bytes);
    bytes.clear();

    auto image = ElfImageMemory::open(path);
    ASSERT_TRUE(image) << image.error().message();
    auto made = OpsVerifier::create(*image, *kallsyms, *btf, ops);
    ASSERT_TRUE(made) << made.error().message();
    OpsVerifier& v = *made;

    const auto& instances = v.instances_of("proto");
    ASSERT_EQ(table_names(instances), std::vector<std::string>{"tcp_prot"});
    ASSERT_EQ(instances[0].pointers.size(), tcp_prot.size());
    for (const OpsPointer& pointer : instances[0].pointers) {
      EXPECT_EQ(pointer.function, tcp_prot.at(pointer.member));
      EXPECT_EQ(pointer.prototype, PrototypeCheck::kMatches) << pointer.member;
    }
    const OpsScanStats one = v.stats();

    // verify() scans every struct the function fits: for tcp_v4_connect that is a few more.
    const auto found = v.verify("tcp_v4_connect");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].text, "tcp_prot.connect = tcp_v4_connect (verified in " + path + ")");

    const size_t reads_after_verify = v.stats().reads;
    ASSERT_EQ(v.verify("tcp_v4_connect").size(), 1u);
    EXPECT_EQ(v.stats().reads, reads_after_verify);  // answered from what was read

    // A record-time pass over common ops types, small ones included: a 32-byte seq_operations
    // makes nearly every data symbol a candidate.
    const std::vector<std::string> common = {
        "file_operations",          "proto_ops",
        "seq_operations",           "inet_connection_sock_af_ops",
        "tcp_congestion_ops",       "net_protocol",
        "address_space_operations", "inode_operations",
        "super_operations",         "net_device_ops",
        "dentry_operations",        "vm_operations_struct"};
    const size_t reads_before = v.stats().reads;
    auto all = v.scan_all(common);
    ASSERT_TRUE(all) << all.error().message();

    EXPECT_LT(one.reads, one.data_symbols / 100);  // chunked, not one read per symbol
    EXPECT_LT(v.stats().reads - reads_before, one.data_symbols / 10);
  }
}

}  // namespace
}  // namespace probeseek
