// Issue 13: functions that sleep, on real recordings. accept.db.gz: `probeseek record -p PID` of
// httpd-tiny (tests/lab/workloads) on the lab's 6.1 kernel, already blocked in accept() when
// the recording started, while three clients connected one after another; curl_v4.dat of
// 6.1.0-56 (trace-cmd), where connect returns at once.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "probeseek/sleep_queries.h"
#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

using test::contains;

class Sleeps : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    accept_db_ = dir_->file("accept.db");
    std::string gz = test::data_dir() + "/linux-6.1.0-57-cloud-amd64/accept.db.gz";
    ASSERT_EQ(std::system(("gzip -dc " + gz + " > " + accept_db_).c_str()), 0);
    curl_db_ = dir_->file("curl.db");
    auto r = run_probeseek("import --db " + curl_db_ + " --btf " + kernel_61("vmlinux.btf") + " " +
                           kernel_61("curl_v4.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static json run_json(const std::string& args) {
    auto r = run_probeseek(args + " --json");
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? json::parse(r.out) : json();
  }
  static std::string reason_with(const json& candidate, const std::string& part) {
    for (auto& r : candidate["reasons"])
      if (contains(r.get<std::string>(), part)) return r.get<std::string>();
    return "";
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string accept_db_, curl_db_;
};

TEST_F(Sleeps, InetCskAcceptSleepsAndARankSaysWhatAReturnProbeMisses) {
  json ranked =
      run_json("rank --db " + accept_db_ + " --arg 'struct sock *' --under __x64_sys_accept4");
  ASSERT_FALSE(ranked.empty());
  EXPECT_EQ(ranked[0]["function"], "inet_csk_accept") << ranked.dump(1);
  std::string sleeps = reason_with(ranked[0], "sleeps:");
  EXPECT_TRUE(contains(sleeps, "below schedule()")) << sleeps;
  EXPECT_TRUE(contains(sleeps, "1 call still asleep when the recording ended")) << sleeps;
  EXPECT_TRUE(contains(sleeps, "a return probe (kretprobe, fexit) misses calls already waiting"));
  // What it returns is the new connection's struct sock *: only a return probe sees it, so the
  // sleep costs (and says why).
  EXPECT_TRUE(contains(sleeps, "the struct sock * it returns is seen only at return")) << sleeps;
  EXPECT_TRUE(contains(ranked[0]["reasons"].dump(), "-5 sleeps:"));
}

TEST_F(Sleeps, ExplainNamesWhatSeesTheObjectWithoutWaiting) {
  json ex = run_json("explain --db " + accept_db_ + " inet_csk_accept");
  ASSERT_TRUE(ex["sleeps"].is_string()) << ex.dump(1);
  EXPECT_TRUE(contains(ex["sleeps"], "below schedule()"));
  std::string instead = ex["after_sleep"].dump();
  EXPECT_TRUE(contains(instead, "an entry probe (kprobe, fentry) on inet_csk_accept")) << instead;
  // Called by inet_accept once inet_csk_accept returned, with the new socket's type.
  EXPECT_TRUE(contains(instead,
                       "__inet_accept (called by inet_accept after inet_csk_accept "
                       "returned"))
      << instead;
  EXPECT_TRUE(contains(instead, "struct sock *newsk")) << instead;
}

TEST_F(Sleeps, TcpV4ConnectReturnsAtOnceAndIsNotMarked) {
  json ranked = run_json("rank --db " + curl_db_ +
                         " --arg 'struct sock *' --under "
                         "__x64_sys_connect");
  ASSERT_FALSE(ranked.empty());
  EXPECT_EQ(ranked[0]["function"], "tcp_v4_connect");
  EXPECT_EQ(reason_with(ranked[0], "sleeps"), "");
  json ex = run_json("explain --db " + curl_db_ + " tcp_v4_connect");
  EXPECT_TRUE(ex["sleeps"].is_null()) << ex["sleeps"];
  EXPECT_TRUE(ex["after_sleep"].empty());
}

TEST_F(Sleeps, TimeBelowScheduleIsCountedOncePerStack) {
  auto db = Database::open(accept_db_, Database::Mode::kReadOnly);
  ASSERT_TRUE(db) << db.error().message();
  auto rows = time_below(*db, 1, "schedule");
  ASSERT_TRUE(rows) << rows.error().message();
  auto find = [&](const std::string& name) {
    for (const TimeBelowRow& r : *rows)
      if (r.name == name) return r;
    return TimeBelowRow{};
  };
  TimeBelowRow accept = find("inet_csk_accept"), syscall = find("__x64_sys_accept4");
  EXPECT_GT(accept.ns, 1000000000) << "two accepts of over a second each";
  EXPECT_EQ(accept.open, 1) << "the last accept was still waiting";
  // Every frame of the stack above the sleep gets the same sleeps, once each.
  EXPECT_EQ(syscall.ns, accept.ns);
  EXPECT_EQ(syscall.open, accept.open);
  EXPECT_EQ(find("schedule").ns, 0) << "the sleeper's own calls are not below it";
}

}  // namespace
}  // namespace probeseek
