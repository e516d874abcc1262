// compat on two real kernels: Debian 12's 6.1.0-56 and 6.12.118 cloud kernels, as booted in
// the lab (tests/data: BTF, /proc/kallsyms, available_filter_functions, kprobe blacklist).
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>
#include <vector>

#include "probeseek/compat.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::data_dir;
using test::kernel_61;

std::string kernel_612(const std::string& file) {
  return data_dir() + "/linux-6.12.118+deb12-cloud-amd64/" + file;
}

KernelFiles files_61() {
  KernelFiles f;
  f.release = "6.1.0-56-cloud-amd64";
  f.btf = kernel_61("vmlinux.btf");
  f.symbols = kernel_61("kallsyms.txt.gz");
  f.notes = "";
  f.filter_functions = kernel_61("available_filter_functions.txt.gz");
  f.blacklist = kernel_61("kprobes_blacklist.txt");
  f.kcore = "";  // not this machine's kernel
  return f;
}

KernelFiles files_612() {
  KernelFiles f;
  f.release = "6.12.118+deb12-cloud-amd64";
  f.btf = kernel_612("vmlinux.btf.gz");
  f.symbols = kernel_612("kallsyms.txt.gz");
  f.notes = kernel_612("notes.bin");
  f.filter_functions = kernel_612("available_filter_functions.txt.gz");
  f.blacklist = kernel_612("kprobes_blacklist.txt");
  f.kcore = "";
  return f;
}

class CompatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto db = Database::open(dir_->file("k.db"));
    ASSERT_TRUE(db) << db.error().message();
    for (const auto& [files, source] : {std::pair{files_61(), std::string("tests/data 6.1")},
                                        std::pair{files_612(), std::string("tests/data 6.12")}}) {
      auto facts = read_kernel_files(files, source);
      ASSERT_TRUE(facts) << facts.error().message();
      auto input = catalog_input(*facts);
      ASSERT_TRUE(input) << input.error().message();
      auto stored = store_catalog_kernel(*db, *input, false);
      ASSERT_TRUE(stored) << stored.error().message();
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string db_path() { return dir_->file("k.db"); }
  static test::TempDir* dir_;
};
test::TempDir* CompatTest::dir_ = nullptr;

const CompatEntry& entry(const CompatReport& r, const std::string& function,
                         const std::string& kernel) {
  for (const CompatEntry& e : r.entries)
    if (e.function == function && e.kernel == kernel) return e;
  static CompatEntry none;
  ADD_FAILURE() << "no entry for " << function << " on " << kernel;
  return none;
}

constexpr const char* k61 = "6.1.0-56-cloud-amd64";
constexpr const char* k612 = "6.12.118+deb12-cloud-amd64";

CompatReport run_compat(const std::string& db_path, std::vector<std::string> functions,
                        std::string reference = k61) {
  auto db = Database::open(db_path, Database::Mode::kReadOnly);
  EXPECT_TRUE(db) << db.error().message();
  CompatRequest req;
  req.functions = std::move(functions);
  req.reference = std::move(reference);
  auto r = compat(*db, req);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : CompatReport{};
}

TEST_F(CompatTest, CataloguesBothKernelsFromTheirBootedFiles) {
  auto db = Database::open(db_path(), Database::Mode::kReadOnly);
  ASSERT_TRUE(db);
  auto kernels = list_catalog_kernels(*db);
  ASSERT_TRUE(kernels);
  ASSERT_EQ(kernels->size(), 2u);
  std::map<std::string, CatalogKernel> by_name;
  for (auto& k : *kernels) by_name[k.name] = k;
  const CatalogKernel& a = by_name.at(k61);
  const CatalogKernel& b = by_name.at(k612);
  EXPECT_EQ(a.symbols, 87347);
  EXPECT_EQ(b.symbols, 154718);
  EXPECT_EQ(a.build_id, "");  // the 6.1 fixture has no notes
  EXPECT_EQ(b.build_id, "ebc52e2876d4430baf9b7b6f3226b56fe99c2d5f");  // from notes.bin
  EXPECT_GT(a.functions, 40000);
  EXPECT_GT(b.functions, a.functions);
  ASSERT_TRUE(a.traceable && b.traceable && a.blacklisted && b.blacklisted);
  EXPECT_GT(*b.traceable, *a.traceable);
  // The BTF comes back byte for byte.
  auto btf = catalog_btf(*db, b.id);
  ASSERT_TRUE(btf);
  EXPECT_EQ(btf->size(), 4687168u);
}

// The hooks the lab proves on both kernels (docs/lab.md) keep their prototypes.
TEST_F(CompatTest, TheLabsHooksAreStableFrom61To612) {
  auto r = run_compat(db_path(), {"tcp_v4_connect", "tcp_v6_connect", "tcp_sendmsg", "tcp_connect",
                                  "vfs_read", "do_sys_openat2", "kernel_clone"});
  ASSERT_EQ(r.entries.size(), 14u);
  for (const CompatEntry& e : r.entries) {
    EXPECT_EQ(e.status, "ok") << e.function << " on " << e.kernel;
    EXPECT_TRUE(e.changes.empty()) << e.function;
  }
  EXPECT_EQ(entry(r, "tcp_v4_connect", k612).prototype,
            "int tcp_v4_connect(struct sock *sk, struct sockaddr *uaddr, int addr_len)");
  EXPECT_TRUE(r.members.empty()) << r.members.front().member;  // every member the probes read
}

// 6.10 replaced inet_csk_accept's flags/err/kern with struct proto_accept_arg *: a BPF_KPROBE
// written for 6.1 would read garbage from its second register.
TEST_F(CompatTest, InetCskAcceptChangedItsPrototypeIn612) {
  auto r = run_compat(db_path(), {"inet_csk_accept"});
  EXPECT_EQ(entry(r, "inet_csk_accept", k61).status, "ok");
  const CompatEntry& e = entry(r, "inet_csk_accept", k612);
  EXPECT_EQ(e.status, "prototype_changed");
  EXPECT_EQ(e.prototype,
            "struct sock *inet_csk_accept(struct sock *sk, struct proto_accept_arg *arg)");
  const std::vector<std::string> want = {
      "parameter 2 'flags' (int) removed", "parameter 3 'err' (int *) removed",
      "parameter 4 'kern' (bool) removed", "parameter 2 'arg' (struct proto_accept_arg *) added"};
  EXPECT_EQ(e.changes, want);
}

// __blk_alloc_disk gained struct queue_limits * in front: its parameters moved.
TEST_F(CompatTest, ParametersThatMoveAreNamed) {
  auto r = run_compat(db_path(), {"__blk_alloc_disk"});
  const CompatEntry& e = entry(r, "__blk_alloc_disk", k612);
  EXPECT_EQ(e.status, "prototype_changed");
  const std::vector<std::string> want = {"parameter 1 'node' moved to position 2",
                                         "parameter 2 'lkclass' moved to position 3",
                                         "parameter 1 'lim' (struct queue_limits *) added"};
  EXPECT_EQ(e.changes, want);
}

// Functions that left between 6.1 and 6.12, and what took their work, as kernel history has it.
TEST_F(CompatTest, AbsentFunctionsNameTheirReplacements) {
  auto r = run_compat(db_path(), {"blkdev_get_by_path", "__close_fd_get_file", "__alloc_pages"});
  const std::map<std::string, std::string> want = {
      {"blkdev_get_by_path", "bdev_file_open_by_path"},  // 6.9: block devices opened as files
      {"__close_fd_get_file", "file_close_fd"},          // 6.8: renamed
      {"__alloc_pages", "__alloc_pages_noprof"},         // 6.10: memory allocation profiling
  };
  for (const auto& [gone, replacement] : want) {
    EXPECT_EQ(entry(r, gone, k61).status, "ok") << gone;
    const CompatEntry& e = entry(r, gone, k612);
    EXPECT_EQ(e.status, "absent") << gone;
    ASSERT_FALSE(e.replacements.empty()) << gone;
    EXPECT_LE(e.replacements.size(), 3u);
    EXPECT_EQ(e.replacements.front().function, replacement) << gone;
    EXPECT_NE(e.replacements.front().why.find("not in 6.1.0-56-cloud-amd64"), std::string::npos);
  }
  // Against 6.12 as the reference, the new function is the one missing from 6.1.
  auto back = run_compat(db_path(), {"bdev_file_open_by_path"}, k612);
  EXPECT_EQ(entry(back, "bdev_file_open_by_path", k612).status, "ok");
  EXPECT_EQ(entry(back, "bdev_file_open_by_path", k61).status, "absent");
}

TEST_F(CompatTest, ClonesDuplicatesBlacklistAndTraceability) {
  auto r = run_compat(db_path(), {"finish_task_switch", "active_show", "__die", "tcp_v4_connect"});
  for (const char* k : {k61, k612}) {
    const CompatEntry& fts = entry(r, "finish_task_switch", k);
    EXPECT_EQ(fts.status, "clone_only") << k;
    EXPECT_EQ(fts.clones, std::vector<std::string>{"finish_task_switch.isra.0"}) << k;
    EXPECT_EQ(entry(r, "active_show", k).status, "duplicate") << k;  // several sysfs statics
    EXPECT_EQ(entry(r, "__die", k).status, "blacklisted") << k;      // NOKPROBE_SYMBOL
  }
}

TEST_F(CompatTest, UnknownKernelsAndEmptyCataloguesAreBadInput) {
  auto db = Database::open(db_path(), Database::Mode::kReadOnly);
  ASSERT_TRUE(db);
  CompatRequest req;
  req.functions = {"tcp_v4_connect"};
  req.kernels = {"5.4.0-nope"};
  auto r = compat(*db, req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_NE(r.error().what.find("5.4.0-nope"), std::string::npos);

  test::TempDir dir;
  auto empty = Database::open(dir.file("empty.db"));
  ASSERT_TRUE(empty);
  auto none = compat(*empty, req);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().hint.find("kernels add"), std::string::npos);
}

// The same build twice is stored once; a damaged BTF file is refused and changes nothing.
TEST_F(CompatTest, AddingIsIdempotentAndBadBtfLeavesTheCatalogueAsItWas) {
  test::TempDir dir;
  const std::string db_file = dir.file("c.db");
  {
    auto db = Database::open(db_file);
    ASSERT_TRUE(db);
    auto facts = read_kernel_files(files_612(), "612");
    ASSERT_TRUE(facts);
    auto input = catalog_input(*facts);
    ASSERT_TRUE(input);
    auto first = store_catalog_kernel(*db, *input, false);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->added);
    auto again = store_catalog_kernel(*db, *input, false);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->added);
    EXPECT_EQ(again->id, first->id);
  }
  const std::string before = test::read_file(db_file);
  // The 6.1 BTF cut in half.
  const std::string btf = test::read_file(kernel_61("vmlinux.btf"));
  test::write_file(dir.file("cut.btf"), btf.substr(0, btf.size() / 2));
  auto facts = read_btf_file(dir.file("cut.btf"));
  ASSERT_TRUE(facts);  // the bytes are read; the BTF is parsed when the rows are derived
  EXPECT_EQ(facts->release, "cut");
  auto input = catalog_input(*facts);
  ASSERT_FALSE(input);
  EXPECT_EQ(input.error().kind, ErrorKind::kBadInput);
  EXPECT_NE(input.error().message().find("cut.btf"), std::string::npos) << input.error().message();
  EXPECT_EQ(test::read_file(db_file), before);
}

// rank --kernels and explain --kernels on the bundled curl recording (6.1.0-56): the hook is
// stable, inet_csk_accept is not, and each says so with the kernels named.
TEST_F(CompatTest, RankAndExplainWeighStability) {
  test::TempDir dir;
  const std::string db = dir.file("r.db");
  std::filesystem::copy_file(db_path(), db);
  auto imported = test::run_probeseek("import --db " + db + " --btf " + kernel_61("vmlinux.btf") +
                                      " " + kernel_61("curl_v4.dat"));
  ASSERT_EQ(imported.status, 0) << imported.err;
  auto ranked = test::run_probeseek("rank --db " + db +
                                    " --arg 'struct sock *' --under __x64_sys_connect --limit 3 "
                                    "--kernels --json");
  ASSERT_EQ(ranked.status, 0) << ranked.err;
  EXPECT_NE(ranked.out.find("\"function\": \"tcp_v4_connect\""), std::string::npos);
  EXPECT_NE(ranked.out.find("stable: ok on every catalogued kernel checked, 6.1.0-56-cloud-amd64 "
                            ".. 6.12.118+deb12-cloud-amd64 (2 kernels), against "
                            "6.1.0-56-cloud-amd64"),
            std::string::npos)
      << ranked.out;
  auto explained = test::run_probeseek("explain --db " + db + " inet_csk_accept --kernels");
  ASSERT_EQ(explained.status, 0) << explained.err;
  EXPECT_NE(explained.out.find("- unstable: prototype_changed on 6.12.118+deb12-cloud-amd64: "
                               "parameter 2 'flags' (int) removed"),
            std::string::npos)
      << explained.out;
  EXPECT_NE(explained.out.find("on the catalogued kernels:"), std::string::npos);
  // Without a catalogue, rank --kernels says how to make one and ranks as before.
  const std::string plain = dir.file("plain.db");
  ASSERT_EQ(test::run_probeseek("import --db " + plain + " " + kernel_61("curl_v4.dat")).status, 0);
  auto bare = test::run_probeseek("rank --db " + plain + " --under __x64_sys_connect --kernels");
  EXPECT_EQ(bare.status, 0) << bare.err;
  EXPECT_NE(bare.err.find("kernels add"), std::string::npos) << bare.err;
}

// kernels add with sources that are not kernels: exit 2 naming the file, the catalogue untouched,
// and no database left behind by a first add that failed.
TEST_F(CompatTest, KernelsAddRefusesWhatIsNotAKernel) {
  test::TempDir dir;
  test::write_file(dir.file("notes.txt"), "not a kernel\n");
  const std::string btf = test::read_file(kernel_61("vmlinux.btf"));
  test::write_file(dir.file("cut.btf"), btf.substr(0, 1000));
  std::filesystem::create_directory(dir.file("empty-package"));
  const std::string db = dir.file("k.db");
  std::filesystem::copy_file(db_path(), db);
  const std::string before = test::read_file(db);
  for (const std::string& source :
       {dir.file("notes.txt"), dir.file("cut.btf"), dir.file("empty-package")}) {
    auto r = test::run_probeseek("kernels add --db " + db + " " + source);
    EXPECT_EQ(r.status, 2) << source << ": " << r.err;
    EXPECT_NE(r.err.find(source), std::string::npos) << r.err;
    EXPECT_EQ(test::read_file(db), before) << source;
  }
  const std::string fresh = dir.file("fresh.db");
  auto r = test::run_probeseek("kernels add --db " + fresh + " " + dir.file("notes.txt"));
  EXPECT_EQ(r.status, 2);
  EXPECT_FALSE(std::filesystem::exists(fresh));
}

TEST_F(CompatTest, KernelNamesSortByVersion) {
  std::vector<std::string> names = {"6.12.100+deb12-amd64", "6.1.0-9-amd64", "6.1.0-47-amd64",
                                    "6.12.9+deb12-amd64"};
  sort_kernel_names(names);
  const std::vector<std::string> want = {"6.1.0-9-amd64", "6.1.0-47-amd64", "6.12.9+deb12-amd64",
                                         "6.12.100+deb12-amd64"};
  EXPECT_EQ(names, want);
}

TEST_F(CompatTest, TheCommandGroupsKernelsAndSpeaksJson) {
  auto text = test::run_probeseek("compat --db " + db_path() + " tcp_v4_connect inet_csk_accept");
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("6.1.0-56-cloud-amd64 .. 6.12.118+deb12-cloud-amd64, 2 kernels: ok"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("6.12.118+deb12-cloud-amd64, 1 kernel: prototype_changed"),
            std::string::npos);
  auto json = test::run_probeseek("compat --json --db " + db_path() + " inet_csk_accept");
  ASSERT_EQ(json.status, 0) << json.err;
  for (const char* key : {"\"function\"", "\"kernel\"", "\"status\"", "\"prototype\"",
                          "\"changes\"", "\"replacements\""})
    EXPECT_NE(json.out.find(key), std::string::npos) << key;
  auto list = test::run_probeseek("kernels --json --db " + db_path());
  ASSERT_EQ(list.status, 0) << list.err;
  for (const char* key : {"\"name\"", "\"functions\"", "\"traceable\"", "\"source\""})
    EXPECT_NE(list.out.find(key), std::string::npos) << key;
  auto bad = test::run_probeseek("compat --db " + db_path() + " 'x;y'");
  EXPECT_EQ(bad.status, 2);
}

// A database handed over by someone else: its stored slots are checked before compat uses them.
TEST_F(CompatTest, DamagedOpsSlotsAreBadInputNamingTheDatabase) {
  test::TempDir dir;
  const std::string copy = dir.file("k.db");
  std::filesystem::copy_file(db_path(), copy);
  auto zstd = [](const std::string& text) {
    std::string out(ZSTD_compressBound(text.size()), '\0');
    out.resize(ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 1));
    std::string hex;
    for (unsigned char c : out) {
      const char* digits = "0123456789abcdef";
      hex += digits[c >> 4];
      hex += digits[c & 15];
    }
    return "x'" + hex + "'";
  };
  const std::string good = "tcp_prot proto connect tcp_v4_connect\n";
  struct Case {
    std::string slots, bytes, data, why;
  };
  std::vector<Case> cases = {
      {"1", std::to_string(good.size()), zstd(good), ""},
      {"2", std::to_string(good.size()), zstd(good), "fewer slots than counted"},
      {"0", std::to_string(good.size()), zstd(good), "more slots than counted"},
      {"1", "-1", zstd(good), "bad size"},
      {"1", "999999999999", zstd(good), "bad size"},
      {"1", std::to_string(good.size()), "x'00ff00ff'", "bad size"},
  };
  for (const auto& [text, why] :
       {std::pair<std::string, std::string>{"tcp_prot proto connect x;system(\"id\")\n",
                                            "not a C symbol name"},
        {"tcp_prot proto connect tcp_v4_connect", "without its end"},
        {"tcp_prot proto tcp_v4_connect\n", "without four fields"}})
    cases.push_back(Case{"1", std::to_string(text.size()), zstd(text), why});
  for (const Case& c : cases) {
    {
      auto db = Database::open(copy);
      ASSERT_TRUE(db) << db.error().message();
      ASSERT_TRUE(db->exec("DELETE FROM kernel_ops; INSERT INTO kernel_ops VALUES(1, " + c.slots +
                           ", " + c.bytes + ", " + c.data + ")"));
    }
    auto db = Database::open(copy, Database::Mode::kReadOnly);
    ASSERT_TRUE(db) << db.error().message();
    auto slots = catalog_ops(*db, 1);
    if (c.why.empty()) {
      ASSERT_TRUE(slots) << slots.error().message();
      ASSERT_TRUE(*slots);
      EXPECT_EQ((*slots)->at(0).function, "tcp_v4_connect");
      continue;
    }
    ASSERT_FALSE(slots) << c.why;
    EXPECT_EQ(slots.error().kind, ErrorKind::kBadInput);
    EXPECT_NE(slots.error().message().find(c.why), std::string::npos) << slots.error().message();
    EXPECT_NE(slots.error().message().find(copy), std::string::npos);
  }
}

// ---- Ops-table slots, read from the packages themselves (downloaded once with apt-get download
// into PROBESEEK_KERNEL_CACHE, as kernel_image_test does; skipped, saying why, without apt).

std::string cache_dir() {
  const char* env = std::getenv("PROBESEEK_KERNEL_CACHE");
  return env && *env ? env : PROBESEEK_KERNEL_CACHE;
}

class CompatPackages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    AddKernelsRequest request;
    for (const char* package :
         {"linux-image-6.1.0-56-cloud-amd64", "linux-image-6.12.118+deb12-cloud-amd64-unsigned"}) {
      auto deb = fetch_debian_package(package, cache_dir());
      if (!deb) {
        skip_ = new std::string(std::string(package) + ": " + deb.error().message());
        return;
      }
      request.sources.push_back(*deb);
    }
    request.jobs = 1;
    auto db = Database::open(dir_->file("k.db"));
    ASSERT_TRUE(db) << db.error().message();
    auto added = add_kernels(*db, request, nullptr);
    ASSERT_TRUE(added) << added.error().message();
    for (const AddedKernel& k : *added) {
      ASSERT_FALSE(k.error) << k.source << ": " << k.error->message();
      EXPECT_EQ(k.ops_error, "") << k.source;
      std::printf("kernels add %s: %.1f s\n", k.source.c_str(), k.seconds);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete skip_;
  }
  void SetUp() override {
    if (skip_) GTEST_SKIP() << *skip_;
  }
  static std::string db_path() { return dir_->file("k.db"); }
  static test::TempDir* dir_;
  static std::string* skip_;
};
test::TempDir* CompatPackages::dir_ = nullptr;
std::string* CompatPackages::skip_ = nullptr;

std::vector<CatalogOpsSlot> slots_of(const std::string& db_path, const std::string& kernel) {
  auto db = Database::open(db_path, Database::Mode::kReadOnly);
  EXPECT_TRUE(db) << db.error().message();
  auto kernels = list_catalog_kernels(*db);
  EXPECT_TRUE(kernels) << kernels.error().message();
  for (const CatalogKernel& k : *kernels) {
    if (k.name != kernel) continue;
    EXPECT_TRUE(k.ops_slots.has_value()) << kernel;
    auto slots = catalog_ops(*db, k.id);
    EXPECT_TRUE(slots && *slots) << kernel;
    if (slots && *slots) {
      EXPECT_EQ(static_cast<int64_t>((*slots)->size()), k.ops_slots.value_or(-1));
      return **slots;
    }
  }
  ADD_FAILURE() << "no kernel " << kernel;
  return {};
}

std::string holder(const std::vector<CatalogOpsSlot>& slots, const std::string& table,
                   const std::string& member) {
  for (const CatalogOpsSlot& s : slots)
    if (s.table == table && s.member == member) return s.struct_name + ":" + s.function;
  return "";
}

TEST_F(CompatPackages, EachKernelKeepsTheOpsTablesOfItsImage) {
  for (const char* kernel : {k61, k612}) {
    const auto slots = slots_of(db_path(), kernel);
    EXPECT_GT(slots.size(), 5000u) << kernel;  // 8,968 and 10,469
    EXPECT_EQ(holder(slots, "tcp_prot", "connect"), "proto:tcp_v4_connect") << kernel;
    EXPECT_EQ(holder(slots, "tcpv6_prot", "connect"), "proto:tcp_v6_connect") << kernel;
    EXPECT_EQ(holder(slots, "shmem_file_operations", "read_iter"),
              "file_operations:shmem_file_read_iter")
        << kernel;
  }
  // 6.5 replaced ->sendpage and generic_splice_sendpage with splice_to_socket.
  EXPECT_EQ(holder(slots_of(db_path(), k61), "socket_file_ops", "splice_write"),
            "file_operations:generic_splice_sendpage");
  EXPECT_EQ(holder(slots_of(db_path(), k612), "socket_file_ops", "splice_write"),
            "file_operations:splice_to_socket");
}

TEST_F(CompatPackages, AnAbsentFunctionIsReplacedByWhatNowSitsInItsSlot) {
  CompatReport r = run_compat(db_path(), {"generic_splice_sendpage", "tcp_v4_connect"});
  const CompatEntry& e = entry(r, "generic_splice_sendpage", k612);
  EXPECT_EQ(e.status, "absent");
  ASSERT_FALSE(e.replacements.empty());
  EXPECT_EQ(e.replacements.front().function, "splice_to_socket");
  EXPECT_NE(e.replacements.front().why.find("socket_file_ops.splice_write"), std::string::npos)
      << e.replacements.front().why;
  EXPECT_NE(
      e.replacements.front().why.find("where generic_splice_sendpage sat on " + std::string(k61)),
      std::string::npos)
      << e.replacements.front().why;
  EXPECT_NE(e.replacements.front().prototype.find("splice_to_socket(struct pipe_inode_info *"),
            std::string::npos)
      << e.replacements.front().prototype;
  EXPECT_EQ(entry(r, "tcp_v4_connect", k612).status, "ok");
  // Two more that 6.12 renamed, found the same way (the names share too little to find them).
  CompatReport more = run_compat(db_path(), {"proc_readfd", "unix_set_peek_off"});
  for (const auto& [gone, successor, slot] :
       {std::tuple{"proc_readfd", "proc_fd_iterate", "proc_fd_operations.iterate_shared"},
        std::tuple{"unix_set_peek_off", "sk_set_peek_off", "unix_seqpacket_ops.set_peek_off"}}) {
    const CompatEntry& m = entry(more, gone, k612);
    EXPECT_EQ(m.status, "absent") << gone;
    ASSERT_FALSE(m.replacements.empty()) << gone;
    EXPECT_EQ(m.replacements.front().function, successor);
    EXPECT_NE(m.replacements.front().why.find(slot), std::string::npos)
        << m.replacements.front().why;
  }
  // Without --reference and --kernel, the reference is the oldest catalogued kernel, whatever
  // the order the kernels were added in.
  auto db = Database::open(db_path(), Database::Mode::kReadOnly);
  ASSERT_TRUE(db);
  CompatRequest req;
  req.functions = {"tcp_v4_connect"};
  auto def = compat(*db, req);
  ASSERT_TRUE(def) << def.error().message();
  EXPECT_EQ(def->reference, k61);
  auto json = test::run_probeseek("kernels --json --db " + db_path());
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_NE(json.out.find("\"ops_slots\""), std::string::npos);
}

// Functions of loadable modules, from the packages' .ko files: what moved between vmlinux and
// a module from 6.1 to 6.12, and a prototype that changed inside a module.
TEST_F(CompatPackages, ModuleFunctionsAreJudgedLikeTheRest) {
  CompatReport r =
      run_compat(db_path(), {"fuse_file_read_iter", "dd_insert_requests", "tun_chr_read_iter"});
  const CompatEntry& fuse61 = entry(r, "fuse_file_read_iter", k61);
  EXPECT_EQ(fuse61.status, "ok");
  EXPECT_EQ(fuse61.module, "fuse");
  const CompatEntry& fuse612 = entry(r, "fuse_file_read_iter", k612);
  EXPECT_EQ(fuse612.status, "ok");
  EXPECT_EQ(fuse612.module, "");  // built in
  const CompatEntry& dd61 = entry(r, "dd_insert_requests", k61);
  EXPECT_EQ(dd61.status, "ok");
  EXPECT_EQ(dd61.module, "");
  const CompatEntry& dd612 = entry(r, "dd_insert_requests", k612);
  EXPECT_EQ(dd612.status, "prototype_changed");
  EXPECT_EQ(dd612.module, "mq_deadline");
  EXPECT_NE(std::find(dd612.changes.begin(), dd612.changes.end(),
                      "parameter 3 'flags' (blk_insert_t) added"),
            dd612.changes.end());
  for (const char* k : {k61, k612}) {
    const CompatEntry& tun = entry(r, "tun_chr_read_iter", k);
    EXPECT_EQ(tun.status, "ok") << k;  // traceable: tun.ko's __mcount_loc names it
    EXPECT_EQ(tun.module, "tun");
    EXPECT_NE(tun.prototype.find("struct kiocb *iocb"), std::string::npos) << tun.prototype;
  }
  auto json = test::run_probeseek("kernels --json --db " + db_path());
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_NE(json.out.find("\"modules\": 1121"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"modules\": 1138"), std::string::npos);
}

TEST_F(CompatTest, WithoutOpsSlotsReplacementsSaySo) {
  CompatReport r = run_compat(db_path(), {"generic_splice_sendpage"});
  const CompatEntry& e = entry(r, "generic_splice_sendpage", k612);
  EXPECT_EQ(e.status, "absent");
  bool noted = false;
  for (const std::string& n : e.notes) noted |= n.find("without its ops-table slots") != n.npos;
  EXPECT_TRUE(noted);
}

}  // namespace
}  // namespace probeseek
