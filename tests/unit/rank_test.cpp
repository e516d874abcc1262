// Ranking and explaining on the real recordings of Debian's 6.1.0-56-cloud-amd64 kernel, with
// that kernel's BTF, kallsyms, available_filter_functions and kprobe blacklist.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <bpf/btf.h>

#include "probeseek/hookability.h"
#include "probeseek/line_reader.h"
#include "probeseek/rank.h"
#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

class Ranked : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("rank.db");
    auto r = run_probeseek("import --db " + db_ + " --btf " + kernel_61("vmlinux.btf") +
                           " --kallsyms " + kernel_61("kallsyms.txt.gz") + " --filter-functions " +
                           kernel_61("available_filter_functions.txt.gz") + " --kprobe-blacklist " +
                           kernel_61("kprobes_blacklist.txt") + " " + kernel_61("curl_v4.dat") +
                           " " + kernel_61("stream.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static json rank_json(const std::string& args) {
    auto r = run_probeseek("rank --db " + db_ + " --json " + args);
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out);
  }
  static std::vector<std::string> names(const json& ranked) {
    std::vector<std::string> out;
    for (auto& c : ranked) out.push_back(c["function"]);
    return out;
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_;
};

TEST_F(Ranked, TcpV4ConnectIsTheHookForSocksBelowConnect) {
  json ranked = rank_json("--session curl_v4 --arg 'struct sock *' --under __x64_sys_connect");
  ASSERT_FALSE(ranked.empty());
  EXPECT_EQ(ranked[0]["function"], "tcp_v4_connect") << ranked.dump(1);
  const json& top = ranked[0];
  EXPECT_EQ(top["prototype"],
            "int tcp_v4_connect(struct sock *sk, struct sockaddr *uaddr, int addr_len)");
  EXPECT_TRUE(top["hookable"]);
  EXPECT_EQ(top["arg_positions"], json::array({0}));
  EXPECT_EQ(top["ops"][0]["struct"], "proto");
  EXPECT_EQ(top["ops"][0]["member"], "connect");
  bool explained = false;
  for (auto& r : top["reasons"])
    explained |= r.get<std::string>().find("struct proto member connect") != std::string::npos;
  EXPECT_TRUE(explained) << top["reasons"].dump(1);
  // Every candidate takes a struct sock * (through typedefs and const).
  for (auto& c : ranked) EXPECT_FALSE(c["arg_positions"].empty()) << c["function"];
}

TEST_F(Ranked, TcpSendmsgIsInTheTopTwoBelowSendto) {
  json ranked = rank_json("--session curl_v4 --under __x64_sys_sendto --limit 2");
  auto top = names(ranked);
  EXPECT_NE(std::find(top.begin(), top.end(), "tcp_sendmsg"), top.end()) << ranked.dump(1);
}

TEST_F(Ranked, OnlyTcpSendmsgSeesNewAndLongLivedConnections) {
  json ranked = rank_json(
      "--session curl_v4 --session stream --require-all --arg 'struct sock *' "
      "--limit 0");
  ASSERT_FALSE(ranked.empty());
  EXPECT_EQ(ranked[0]["function"], "tcp_sendmsg") << ranked.dump(1);
  auto all = names(ranked);
  EXPECT_EQ(std::find(all.begin(), all.end(), "tcp_v4_connect"), all.end())
      << "the stream recording never connects";
  for (auto& c : ranked) EXPECT_EQ(c["sessions"].size(), 2u) << c["function"];
}

TEST_F(Ranked, InterruptOnlyWorkIsSetAside) {
  // On loopback the receiver's stack runs as a softirq inside the sender's sendto: it is not
  // sendto's work and must not be offered as a hook for it.
  json ranked = rank_json("--session curl_v4 --under __x64_sys_sendto --limit 0");
  ASSERT_FALSE(ranked.empty());
  auto all = names(ranked);
  EXPECT_NE(std::find(all.begin(), all.end(), "tcp_sendmsg"), all.end()) << "the sender's side";
  for (auto& c : ranked) {
    int64_t task = 0;
    for (auto& s : c["sessions"]) task += s["task_calls"].get<int64_t>();
    EXPECT_GT(task, 0) << c["function"];
    EXPECT_NE(c["function"], "tcp_v4_rcv");
  }
  // tcp_v4_rcv did run below sendto, only as a softirq: seen there, and set aside for that.
  auto db = Database::open(db_, Database::Mode::kReadOnly);
  ASSERT_TRUE(db);
  RankRequest req;
  req.sessions = {"curl_v4"};
  req.under = "__x64_sys_sendto";
  req.only_function = "tcp_v4_rcv";
  req.limit = 0;
  auto alone = rank(*db, req);
  ASSERT_TRUE(alone) << alone.error().message();
  EXPECT_EQ(alone->considered, 1u);
  EXPECT_EQ(alone->interrupt_only, 1u);
  EXPECT_TRUE(alone->candidates.empty());
}

TEST_F(Ranked, ExplainShowsOpsMembershipAndHookability) {
  auto r = run_probeseek("explain --db " + db_ + " --json tcp_v4_connect");
  ASSERT_EQ(r.status, 0) << r.err;
  json ex = json::parse(r.out);
  EXPECT_EQ(ex["ops"][0]["struct"], "proto");
  EXPECT_EQ(ex["ops"][0]["member"], "connect");
  EXPECT_EQ(ex["hookability"]["verdict"], "hookable");
  EXPECT_TRUE(ex["hookability"]["exported"]);
  ASSERT_EQ(ex["sessions"].size(), 1u) << "only curl_v4 connects";
  EXPECT_EQ(ex["sessions"][0]["callers"][0]["function"], "__inet_stream_connect");
  EXPECT_FALSE(ex["better"].empty());
  // No kernel memory here: the output says what would verify it.
  EXPECT_NE(r.err.find("--vmlinux"), std::string::npos) << r.err;

  auto send = run_probeseek("explain --db " + db_ + " tcp_sendmsg");
  ASSERT_EQ(send.status, 0) << send.err;
  EXPECT_NE(send.out.find("struct proto member sendmsg"), std::string::npos) << send.out;
  EXPECT_NE(send.out.find("session stream"), std::string::npos);
}

TEST_F(Ranked, ExplainOfAnUnknownFunctionIsBadInput) {
  auto r = run_probeseek("explain --db " + db_ + " no_such_function_anywhere");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no_such_function_anywhere"), std::string::npos);
}

TEST_F(Ranked, AnArgTypeTheKernelDoesNotHaveIsReported) {
  auto r = run_probeseek("rank --db " + db_ + " --arg 'struct sokc *'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("sokc"), std::string::npos) << r.err;
}

TEST_F(Ranked, WithoutBtfTheMissingEvidenceIsNamed) {
  auto db = Database::open(db_, Database::Mode::kReadOnly);
  ASSERT_TRUE(db);
  // A session with no stored BTF and no live one: nothing from BTF, and the warnings say so.
  test::TempDir dir;
  std::string bare = dir.file("bare.db");
  ASSERT_EQ(run_probeseek("import --db " + bare + " " + kernel_61("stream.dat")).status, 0);
  auto bare_db = Database::open(bare, Database::Mode::kReadOnly);
  ASSERT_TRUE(bare_db);
  RankRequest req;
  req.live.btf = dir.file("no-btf-here");
  auto ranked = rank(*bare_db, req);
  ASSERT_TRUE(ranked) << ranked.error().message();
  ASSERT_FALSE(ranked->candidates.empty());
  EXPECT_FALSE(ranked->candidates.front().prototype);
  bool named = false;
  for (auto& w : ranked->warnings) named |= w.find("--btf") != std::string::npos;
  EXPECT_TRUE(named);
  req.arg = "struct sock *";
  auto with_arg = rank(*bare_db, req);
  ASSERT_FALSE(with_arg);
  EXPECT_NE(with_arg.error().hint.find("--btf"), std::string::npos);
}

// ---- hookability on the kernel's real lists

class Hookable : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ff = read_text_file(kernel_61("available_filter_functions.txt.gz"));
    auto functions = parse_filter_functions(*ff, "aff");
    for (auto& f : *functions) traceable_.insert(f.name);
    auto bl = read_text_file(kernel_61("kprobes_blacklist.txt"));
    auto entries = parse_kprobe_blacklist(*bl, "bl");
    for (auto& b : *entries) blacklisted_.insert(b.name);
    kallsyms_ = new SymbolTable(*SymbolTable::load(kernel_61("kallsyms.txt.gz")));
    btf_ = new Btf(*Btf::load(kernel_61("vmlinux.btf")));
  }
  static void TearDownTestSuite() {
    delete kallsyms_;
    delete btf_;
  }
  static Hookability assess(const std::string& f) {
    return assess_hookability(f, hookability_inputs(&traceable_, &blacklisted_, kallsyms_, btf_));
  }
  static inline std::unordered_set<std::string> traceable_, blacklisted_;
  static inline SymbolTable* kallsyms_ = nullptr;
  static inline Btf* btf_ = nullptr;
};

TEST_F(Hookable, AnOrdinaryTracedFunctionIsHookable) {
  Hookability h = assess("tcp_sendmsg");
  EXPECT_TRUE(h.hookable);
  EXPECT_EQ(h.verdict(), "hookable");
  EXPECT_TRUE(h.traceable);
}

TEST_F(Hookable, TheKprobeBlacklistIsRespected) {
  Hookability h = assess("asm_exc_divide_error");
  EXPECT_FALSE(h.hookable);
  EXPECT_TRUE(h.blacklisted);
}

TEST_F(Hookable, DenyListedFunctionsCarryTheirReason) {
  Hookability h = assess("bpf_prog_run_array");
  EXPECT_FALSE(h.hookable);
  EXPECT_TRUE(h.denied);
  EXPECT_NE(h.reasons.front().find("recursion"), std::string::npos);
  EXPECT_TRUE(denied_because("__rcu_read_lock"));
  EXPECT_FALSE(denied_because("tcp_v4_connect"));
}

TEST_F(Hookable, ClonesAreFlaggedAndMappedBackToTheirPrototype) {
  // The 6.1 curl trace shows finish_task_switch.isra.0: kallsyms has no plain one.
  Hookability h = assess("finish_task_switch.isra.0");
  EXPECT_TRUE(h.clone);
  EXPECT_TRUE(h.only_clones);
  EXPECT_EQ(h.verdict(), "hookable with care");
}

TEST_F(Hookable, AFunctionInBtfButNotInKallsymsWasInlined) {
  // pahole (>= 1.22) emits BTF only for functions with a symbol, so on the 6.1 kernel every BTF
  // function is in kallsyms: the case is built here, as older BTF generators produce it.
  struct btf* raw = btf__new_empty();
  int int_type = btf__add_int(raw, "int", 4, BTF_INT_SIGNED);
  int proto = btf__add_func_proto(raw, int_type);
  btf__add_func_param(raw, "x", int_type);
  btf__add_func(raw, "folded_into_callers", BTF_FUNC_STATIC, proto);
  Btf btf = Btf::adopt(raw);
  Hookability h = assess_hookability(
      "folded_into_callers", hookability_inputs(&traceable_, &blacklisted_, kallsyms_, &btf));
  EXPECT_TRUE(h.inlined);
  EXPECT_FALSE(h.hookable);
  EXPECT_EQ(h.verdict(), "not hookable");
}

TEST_F(Hookable, SameNameStaticsAreCounted) {
  // Several static functions share a name in every kernel; find one in the real table.
  std::unordered_map<std::string, int> count;
  for (const auto& s : kallsyms_->symbols())
    if (s.is_text()) ++count[s.name];
  std::string shared;
  for (auto& [name, n] : count)
    if (n > 1 && traceable_.count(name) && !denied_because(name)) {
      shared = name;
      break;
    }
  ASSERT_FALSE(shared.empty());
  Hookability h = assess(shared);
  EXPECT_GT(h.same_name_symbols, 1) << shared;
  EXPECT_EQ(h.verdict(), "hookable with care");
}

}  // namespace
}  // namespace probeseek
