// rank's scoring rules one at a time (discover/src/rank_rules.h), each on evidence written down
// in the test: the points from the weights table, and the reason's words.
#include <gtest/gtest.h>

#include "rank_rules.h"

namespace probeseek::rules {
namespace {

constexpr const Weights& w = kWeights;

SessionEvidence session(std::string name, std::vector<std::string> syscalls = {}) {
  SessionEvidence s;
  s.session = std::move(name);
  s.syscalls = std::move(syscalls);
  return s;
}

OpsFit fit(std::string struct_name, std::string member, OpsStrength strength,
           bool is_union = false) {
  OpsFit f;
  f.struct_name = std::move(struct_name);
  f.member = std::move(member);
  f.strength = strength;
  f.is_union = is_union;
  f.explanation = "prototype matches";
  return f;
}

class Rules : public ::testing::Test {
 protected:
  Rules() { e.scope = &scope; }
  // The one term a rule gives, failing the test when it gives none or several.
  ScoreTerm one(Rule rule) {
    Terms t = rule(e);
    EXPECT_EQ(t.size(), 1u);
    return t.empty() ? ScoreTerm{-999, ""} : t.front();
  }
  Scope scope;
  Evidence e;
  Candidate& c = e.candidate;
};

TEST_F(Rules, ModuleNoteSaysWhereThePrototypeCameFromOrWhyItIsMissing) {
  EXPECT_TRUE(module_note(e).empty());
  c.module = "nf_tables";
  c.prototype_source = "BTF of module nf_tables (stored with the session)";
  ScoreTerm t = one(module_note);
  EXPECT_EQ(t.points, 0);
  EXPECT_EQ(t.reason,
            "in module nf_tables; prototype from BTF of module nf_tables (stored with "
            "the session)");
  e.module_missing = "no BTF for module nf_tables";
  EXPECT_EQ(one(module_note).reason, "in module nf_tables: no BTF for module nf_tables");
}

TEST_F(Rules, ArgumentMatchWeighsTheFirstParameterMore) {
  scope.arg = "struct sock *";
  c.prototype = FunctionPrototype{};
  c.prototype->params = {{"sk", "struct sock *", 1}, {"", "struct sock *", 1}};
  EXPECT_TRUE(argument_match(e).empty()) << "no matching position";
  c.arg_positions = {0, 1};
  ScoreTerm t = one(argument_match);
  EXPECT_EQ(t.points, w.arg_first);
  EXPECT_EQ(t.reason,
            "argument 0 (struct sock * sk) is struct sock *, the object the function acts on");
  c.arg_positions = {1};
  t = one(argument_match);
  EXPECT_EQ(t.points, w.arg_other);
  EXPECT_EQ(t.reason, "argument 1 (struct sock *) is struct sock *");
  scope.arg.clear();
  EXPECT_TRUE(argument_match(e).empty()) << "without --arg";
}

TEST_F(Rules, OpsFitCountsTheBestFitByStrengthAndHalvesAUnion) {
  EXPECT_TRUE(ops_fit(e).empty());
  c.ops = {fit("proto", "connect", OpsStrength::kStrong), fit("proto", "bind", OpsStrength::kWeak)};
  ScoreTerm t = one(ops_fit);
  EXPECT_EQ(t.points, 30);
  EXPECT_EQ(t.reason, "fits struct proto member connect (strong: prototype matches)");
  c.ops = {fit("proto", "close", OpsStrength::kMedium)};
  EXPECT_EQ(one(ops_fit).points, 15);
  c.ops = {fit("hooks", "run", OpsStrength::kWeak, true)};
  t = one(ops_fit);
  EXPECT_EQ(t.points, 1.5);
  EXPECT_EQ(t.reason,
            "fits union hooks member run (weak: prototype matches); a union, weaker than a "
            "struct of ops");
}

TEST_F(Rules, OpsInMemoryScoresATableSlotAndNotesAnAbsenceWhenEverythingWasScanned) {
  EXPECT_TRUE(ops_in_memory(e).empty());
  c.verified_ops = {"tcp_prot.connect = tcp_v4_connect (verified)", "b", "c"};
  ScoreTerm t = one(ops_in_memory);
  EXPECT_EQ(t.points, w.ops_in_memory);
  EXPECT_EQ(t.reason,
            "verified in kernel memory: tcp_prot.connect = tcp_v4_connect (verified) and 2 more");
  c.verified_ops.clear();
  c.ops = {fit("proto", "connect", OpsStrength::kStrong)};
  EXPECT_TRUE(ops_in_memory(e).empty()) << "never scanned: nothing known";
  scope.all_scanned = true;
  t = one(ops_in_memory);
  EXPECT_EQ(t.points, 0);
  EXPECT_EQ(t.reason, not_held_in_memory());
}

TEST_F(Rules, DepthIsClampedAndZeroSaysNothing) {
  EXPECT_TRUE(depth(e).empty()) << "no depth known";
  c.sessions = {session("a"), session("b")};
  c.sessions[0].min_depth_below = 3;
  c.sessions[1].min_depth_below = 1;
  ScoreTerm t = one(depth);
  EXPECT_EQ(t.points, w.depth_max) << "8 - 1 = 7, at most 6";
  EXPECT_EQ(t.reason, "1 level below its syscall entry: near where the operation starts");
  c.sessions = {session("a")};
  c.sessions[0].min_depth_below = 8;
  EXPECT_TRUE(depth(e).empty());
  c.sessions[0].min_depth_below = 20;
  scope.under = "__x64_sys_connect";
  t = one(depth);
  EXPECT_EQ(t.points, w.depth_min);
  EXPECT_EQ(t.reason, "20 levels below __x64_sys_connect: a helper deep inside the operation");
}

// The count is per session (the most in any one), a syscall is one stem however many entry
// points it has, and the reason lists what was counted. The words once said "one syscall only
// (__x64_sys_sendto, __x64_sys_write)" for one syscall in each of two sessions.
TEST_F(Rules, SyscallReachCountsPerSessionAndListsWhatItCounted) {
  struct Case {
    std::vector<SessionEvidence> sessions;
    double points;
    std::string reason;
  };
  const Case cases[] = {
      {{session("curl_v4", {"__x64_sys_sendto"})},
       w.one_syscall,
       "reached from one syscall only (__x64_sys_sendto)"},
      {{session("a", {"__x64_sys_sendto", "__x64_sys_write"}),
        session("b", {"__x64_sys_write", "__x64_sys_sendto"})},
       w.few_syscalls,
       "reached from 2 syscalls (__x64_sys_sendto, __x64_sys_write)"},
      {{session("curl_v4", {"__x64_sys_sendto"}), session("stream", {"__x64_sys_write"})},
       w.one_syscall,
       "reached from one syscall only in each session (curl_v4: __x64_sys_sendto; stream: "
       "__x64_sys_write)"},
      {{session("a", {"__x64_sys_sendto", "__x64_sys_write"}), session("b", {"__x64_sys_writev"})},
       w.few_syscalls,
       "reached from at most 2 syscalls in each session (a: __x64_sys_sendto, __x64_sys_write; b: "
       "__x64_sys_writev)"},
      {{session("a", {"__x64_sys_sendto", "__ia32_sys_sendto", "__x64_sys_sendto"})},
       w.one_syscall,
       "reached from one syscall only (sendto (__x64_sys_sendto, __ia32_sys_sendto))"},
      {{session("a", {"__x64_sys_write"}), session("kthread")},
       w.one_syscall,
       "reached from one syscall only (__x64_sys_write)"},
  };
  for (const Case& k : cases) {
    c.sessions = k.sessions;
    ScoreTerm t = one(syscall_reach);
    EXPECT_EQ(t.points, k.points) << k.reason;
    EXPECT_EQ(t.reason, k.reason);
  }
}

TEST_F(Rules, ManySyscallsMarkAGenericHelper) {
  std::vector<std::string> many;
  for (int i = 0; i < 12; ++i) many.push_back("__x64_sys_call" + std::to_string(i));
  c.sessions = {session("a", many)};
  ScoreTerm t = one(syscall_reach);
  EXPECT_EQ(t.points, w.many_syscalls);
  EXPECT_EQ(t.reason, "reached from 12 syscalls: a generic helper, it fires for unrelated work");
  c.sessions.push_back(session("b", {"__x64_sys_write"}));
  EXPECT_EQ(one(syscall_reach).reason,
            "reached from 12 syscalls in session a: a generic helper, it fires for unrelated work");
  c.sessions = {session("a", {"__x64_sys_a", "__x64_sys_b", "__x64_sys_c", "__x64_sys_d"})};
  EXPECT_TRUE(syscall_reach(e).empty()) << "4 to 9: neither";
  c.sessions = {session("a")};
  EXPECT_TRUE(syscall_reach(e).empty()) << "no syscall (a kernel thread)";
}

TEST_F(Rules, ImplementsTheMemberItsSyscallDispatchesTo) {
  c.sessions = {session("a", {"__x64_sys_connect"})};
  EXPECT_TRUE(implements_syscall_member(e).empty()) << "no fit";
  c.ops = {fit("proto", "bind", OpsStrength::kStrong), fit("proto", "connect", OpsStrength::kWeak)};
  EXPECT_TRUE(implements_syscall_member(e).empty()) << "a weak fit is no evidence";
  c.ops[1].strength = OpsStrength::kMedium;
  ScoreTerm t = one(implements_syscall_member);
  EXPECT_EQ(t.points, w.implements_member);
  EXPECT_EQ(t.reason, "implements ->connect, the ops member __x64_sys_connect dispatches to");
  scope.under = "__x64_sys_bind";
  EXPECT_EQ(one(implements_syscall_member).reason,
            "implements ->bind, the ops member __x64_sys_bind dispatches to");
}

// Issue 12: the layer decides the words, never the points a fit earns.
TEST_F(Rules, ADispatcherEarnsWhatItsFitWouldAndIsNeverSaidToImplement) {
  c.function = "vfs_read";
  c.ops = {fit("file_operations", "read", OpsStrength::kStrong)};
  c.layer.dispatches = {
      {"file_operations", "read_iter", {"a_read_iter (a_fops)", "b_read_iter (b_fops)"}, 2}};
  c.layer.shapes = {"file_operations.read"};
  scope.all_scanned = true;
  c.sessions = {session("a", {"__x64_sys_read"})};
  ScoreTerm t = one(ops_fit);
  EXPECT_EQ(t.points, w.ops_strong);
  EXPECT_EQ(t.reason,
            "dispatcher of file_operations.read_iter: covers every implementation of it (2 seen: "
            "a_read_iter (a_fops), b_read_iter (b_fops)); it has the shape of struct "
            "file_operations member read (strong: prototype matches) itself, and no table in "
            "kernel memory holds it");
  EXPECT_TRUE(ops_in_memory(e).empty()) << "its absence from tables is what a dispatcher is";
  EXPECT_TRUE(layer_note(e).empty());
  t = one(implements_syscall_member);
  EXPECT_EQ(t.points, w.implements_member);
  EXPECT_EQ(t.reason,
            "calls through ->read_iter for __x64_sys_read: the operation itself, one layer above "
            "its implementations");
  c.ops.clear();  // a dispatcher that fits no member itself: said, not scored
  t = one(ops_fit);
  EXPECT_EQ(t.points, 0);
  EXPECT_EQ(t.reason.rfind("dispatcher of file_operations.read_iter", 0), 0u);
}

TEST_F(Rules, AShapeKernelMemoryContradictsIsNotAnImplementation) {
  c.ops = {fit("proto", "connect", OpsStrength::kStrong)};
  c.layer.shapes = {"proto.connect"};
  c.sessions = {session("a", {"__x64_sys_connect"})};
  scope.all_scanned = true;
  EXPECT_EQ(one(implements_syscall_member).reason,
            "has the shape of ->connect, the ops member __x64_sys_connect dispatches to; no "
            "table in kernel memory holds it");
  EXPECT_EQ(one(ops_in_memory).reason, not_held_in_memory());
}

TEST_F(Rules, AnImplementationSaysWhatItCoversAndNamesItsFamily) {
  EXPECT_TRUE(layer_note(e).empty());
  c.layer.implements = {{"proto", "connect", {"tcp_prot"}, true}};
  c.layer.siblings = {
      {"tcp_v6_connect", "tcpv6_prot", "", "proto", "connect", "verified", true, false},
      {"tcp_v6_connect", "tcpv6_prot_override", "", "proto", "connect", "verified", true, false},
      {"ip4_datagram_connect", "udp_prot", "", "proto", "connect", "verified", false, false}};
  ScoreTerm t = one(layer_note);
  EXPECT_EQ(t.points, 0);
  EXPECT_EQ(t.reason,
            "implementation of proto.connect in tcp_prot: covers what that table serves; 3 other "
            "tables fill proto.connect; the same for another address family: tcp_v6_connect "
            "(tcpv6_prot, tcpv6_prot_override) (rank --complete)");
}

// Issue 13: a function that sleeps, said always; a cost only when what it returns is asked for.
TEST_F(Rules, SleepsIsSaidAndCostsOnlyWhenTheObjectIsReturned) {
  c.sessions = {session("a")};
  c.sessions[0].total_ns = 2'000'000'000;
  c.sessions[0].asleep_ns = 900'000'000;
  EXPECT_TRUE(sleeps(e).empty()) << "45% below schedule(): not mostly asleep";
  c.sessions[0].asleep_ns = 1'996'000'000;
  ScoreTerm t = one(sleeps);
  EXPECT_EQ(t.points, 0);
  EXPECT_EQ(t.reason,
            "sleeps: 99.8% of its 2.0 s below schedule(); a return probe (kretprobe, fexit) "
            "misses calls already waiting when it is attached, an entry probe (kprobe, fentry) "
            "does not");
  c.prototype = FunctionPrototype{};
  scope.arg = "struct sock *";
  e.returns_arg = "struct sock *";
  t = one(sleeps);
  EXPECT_EQ(t.points, w.sleeps_returning_arg);
  EXPECT_NE(t.reason.find("; the struct sock * it returns is seen only at return"),
            std::string::npos);
  // Asleep when the recording ended, whatever the shares of the finished calls.
  c.sessions[0].asleep_ns = 0;
  c.sessions[0].asleep_at_end = 1;
  EXPECT_EQ(one(sleeps).reason.rfind("sleeps: 1 call still asleep when the recording ended;", 0),
            0u);
  c.sessions[0].asleep_at_end = 0;
  c.sessions[0].total_ns = c.sessions[0].asleep_ns = 900'000;
  EXPECT_TRUE(sleeps(e).empty()) << "under 1 ms in all: no claim";
}

TEST_F(Rules, CallersHoldingTheArgumentAlready) {
  EXPECT_TRUE(callers_hold_arg(e).empty());
  scope.arg = "struct sock *";
  e.arg_holders = {"tcp_sendmsg", "inet_sendmsg"};
  ScoreTerm t = one(callers_hold_arg);
  EXPECT_EQ(t.points, w.callers_hold_arg);
  EXPECT_EQ(t.reason,
            "always called from functions that already receive struct sock * "
            "(tcp_sendmsg, inet_sendmsg)");
}

TEST_F(Rules, CallersCountTheMostInOneSession) {
  c.sessions = {session("a"), session("b")};
  c.sessions[0].callers = 1;
  ScoreTerm t = one(callers);
  EXPECT_EQ(t.points, w.one_caller);
  EXPECT_EQ(t.reason, "one caller: a single path leads here");
  c.sessions[1].callers = 3;
  EXPECT_TRUE(callers(e).empty());
  c.sessions[1].callers = 8;
  t = one(callers);
  EXPECT_EQ(t.points, w.many_callers);
  EXPECT_EQ(t.reason, "8 distinct callers: shared by many paths");
}

TEST_F(Rules, ShareBelowUnder) {
  c.sessions = {session("a")};
  c.sessions[0].task_calls = 9;
  c.sessions[0].session_task_calls = 10;
  EXPECT_TRUE(share_below_under(e).empty()) << "without --under";
  scope.under = "__x64_sys_sendto";
  ScoreTerm t = one(share_below_under);
  EXPECT_EQ(t.points, w.share_high);
  EXPECT_EQ(t.reason, "90% of its calls are below __x64_sys_sendto");
  c.sessions[0].task_calls = 1;
  c.sessions[0].session_task_calls = 8;
  t = one(share_below_under);
  EXPECT_EQ(t.points, w.share_low);
  EXPECT_EQ(t.reason,
            "only 12.5% of its calls are below __x64_sys_sendto: it serves other paths too");
  c.sessions[0].session_task_calls = 2;
  EXPECT_TRUE(share_below_under(e).empty()) << "50%";
}

TEST_F(Rules, CallsPerInvocation) {
  c.sessions = {session("a"), session("b")};
  c.sessions[0].task_calls = 2;
  EXPECT_TRUE(calls_per_invocation(e).empty()) << "no invocation reaches it";
  c.sessions[0].roots = 1;
  c.sessions[1].task_calls = 1;
  c.sessions[1].roots = 2;
  ScoreTerm t = one(calls_per_invocation);
  EXPECT_EQ(t.points, w.once_per_root);
  EXPECT_EQ(t.reason, "about once per syscall invocation that reaches it");
  c.sessions[1].task_calls = 5;
  scope.under = "__x64_sys_sendto";
  t = one(calls_per_invocation);
  EXPECT_EQ(t.points, w.few_per_root);
  EXPECT_EQ(t.reason, "2.3 calls per __x64_sys_sendto call that reaches it");
  c.sessions[1].task_calls = 28;
  t = one(calls_per_invocation);
  EXPECT_EQ(t.points, w.loop);
  EXPECT_EQ(t.reason, "10 calls per __x64_sys_sendto call: a helper called in a loop");
  c.sessions[1].task_calls = 13;
  EXPECT_TRUE(calls_per_invocation(e).empty()) << "5 per call: neither";
}

TEST_F(Rules, SessionCoverage) {
  c.sessions = {session("a")};
  EXPECT_TRUE(session_coverage(e).empty()) << "one session requested";
  scope.sessions = 3;
  ScoreTerm t = one(session_coverage);
  EXPECT_EQ(t.points, 2 * w.per_missing_session);
  EXPECT_EQ(t.reason, "missing from 2 of 3 sessions");
  c.sessions = {session("a"), session("b"), session("c")};
  t = one(session_coverage);
  EXPECT_EQ(t.points, w.all_sessions);
  EXPECT_EQ(t.reason, "seen in all 3 sessions");
}

TEST_F(Rules, InterruptCallsAreNotedNotScored) {
  c.sessions = {session("a")};
  c.sessions[0].calls = c.sessions[0].task_calls = 4;
  EXPECT_TRUE(interrupt_note(e).empty());
  c.sessions[0].calls = 7;
  ScoreTerm t = one(interrupt_note);
  EXPECT_EQ(t.points, 0);
  EXPECT_EQ(t.reason, "3 of its calls ran in interrupt context and were set aside");
}

TEST_F(Rules, ApplyRunsTheRulesInOrderAndSumsThem) {
  c.function = "tcp_v4_connect";
  c.ops = {fit("proto", "connect", OpsStrength::kStrong)};
  c.sessions = {session("a", {"__x64_sys_connect"})};
  c.sessions[0].calls = c.sessions[0].task_calls = c.sessions[0].roots = 1;
  c.sessions[0].callers = 1;
  c.sessions[0].min_depth_below = 4;
  Candidate out = apply(e);
  std::vector<std::string> expected = {
      "+30 fits struct proto member connect (strong: prototype matches)",
      "+4 4 levels below its syscall entry: near where the operation starts",
      "+12 reached from one syscall only (__x64_sys_connect)",
      "+8 implements ->connect, the ops member __x64_sys_connect dispatches to",
      "+4 one caller: a single path leads here",
      "+10 about once per syscall invocation that reaches it"};
  EXPECT_EQ(out.reasons(), expected);
  EXPECT_EQ(out.score, 68);
}

TEST(HookabilityRule, CostsWhatTheVerdictSays) {
  Hookability h;
  EXPECT_TRUE(hookability(h).empty());
  h.hookable = false;
  h.reasons = {"in the kprobe blacklist"};
  h.same_name_symbols = 2;
  Terms t = hookability(h);
  ASSERT_EQ(t.size(), 1u) << "shared names do not matter for what cannot be hooked";
  EXPECT_EQ(t[0].points, kWeights.not_hookable);
  EXPECT_EQ(t[0].reason, "not hookable: in the kprobe blacklist");
  h.hookable = true;
  h.clone = true;
  t = hookability(h);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].points, kWeights.clone);
  EXPECT_EQ(t[0].reason, "a compiler clone: the ABI may differ from the BTF prototype");
  EXPECT_EQ(t[1].points, kWeights.same_name_statics);
  EXPECT_EQ(t[1].reason, "2 static functions share the name");
}

TEST(StabilityRule, OkEverywhereOrTheWorstCost) {
  Stability s;
  s.checked = "6.1.0-56-cloud-amd64 .. 6.12.118+deb12-cloud-amd64 (2 kernels)";
  s.reference = "6.1.0-56-cloud-amd64";
  s.kernels_by_status["ok"] = {"6.1.0-56-cloud-amd64", "6.12.118+deb12-cloud-amd64"};
  Terms t = stability(s);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].points, kWeights.stable);
  EXPECT_EQ(t[0].reason,
            "stable: ok on every catalogued kernel checked, 6.1.0-56-cloud-amd64 .. "
            "6.12.118+deb12-cloud-amd64 (2 kernels), against 6.1.0-56-cloud-amd64");
  s.kernels_by_status = {{"ok", {"6.1.0-56-cloud-amd64"}},
                         {"prototype_changed", {"6.12.118+deb12-cloud-amd64"}}};
  s.first_change = "parameter 2 'flags' (int) removed";
  t = stability(s);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].points, kWeights.prototype_changed);
  EXPECT_EQ(t[0].reason,
            "unstable: prototype_changed on 6.12.118+deb12-cloud-amd64: parameter 2 'flags' (int) "
            "removed (against 6.1.0-56-cloud-amd64)");
  s.kernels_by_status["absent"] = {"5.10.0-1-amd64"};
  EXPECT_EQ(stability(s)[0].points, kWeights.unavailable);
}

TEST(VerifiedLiveRule, ConfirmsWithoutScoring) {
  Terms t = verified_live({"fired 1 time", "curl -s http://127.0.0.1:8080/", "2025-01-01", 1});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].points, 0);
  EXPECT_EQ(t[0].reason,
            "verified live 2025-01-01: fired 1 time under `curl -s http://127.0.0.1:8080/`");
}

TEST(SyscallStem, KnownEntryPointPrefixesOnly) {
  EXPECT_EQ(syscall_stem("__x64_sys_connect"), "connect");
  EXPECT_EQ(syscall_stem("__ia32_compat_sys_sendmsg"), "sendmsg");
  EXPECT_EQ(syscall_stem("__x64_sys_"), "");
  EXPECT_EQ(syscall_stem("tcp_v4_connect"), "");
}

}  // namespace
}  // namespace probeseek::rules
