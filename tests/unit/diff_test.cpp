// Issue 14: `probeseek diff` on the real recordings of 6.1.0-56: curl_v4 (a new connection)
// against stream (a connection made before the recording, writing a line every 100 ms).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "probeseek/database.h"

#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

class Diffed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("diff.db");
    auto r = run_probeseek("import --db " + db_ + " --btf " + kernel_61("vmlinux.btf") + " " +
                           kernel_61("curl_v4.dat") + " " + kernel_61("stream.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static json diff_json(const std::string& args) {
    auto r = run_probeseek("diff --db " + db_ + " --json " + args);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? json::parse(r.out) : json::array();
  }
  static const json* entry(const json& all, const std::string& kind, const std::string& function,
                           size_t path_length = 0) {
    for (const json& e : all)
      if (e["kind"] == kind && e["function"] == function &&
          (path_length == 0 || e["path"].size() == path_length))
        return &e;
    return nullptr;
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_;
};

TEST_F(Diffed, TcpSendmsgIsInBothAndTheConnectPathOnlyInCurl) {
  json all = diff_json("curl_v4 stream");
  const json* sendmsg = entry(all, "function", "tcp_sendmsg");
  ASSERT_NE(sendmsg, nullptr);
  EXPECT_EQ((*sendmsg)["in"], "both");
  EXPECT_GT((*sendmsg)["calls_a"], 0);
  EXPECT_GT((*sendmsg)["calls_b"], 0);
  const json* connect = entry(all, "function", "tcp_v4_connect");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ((*connect)["in"], "a");
  EXPECT_EQ((*connect)["calls_b"], 0);
  // The connect syscall is a path of its own that only curl made.
  const json* root = entry(all, "path", "__x64_sys_connect", 1);
  ASSERT_NE(root, nullptr);
  EXPECT_EQ((*root)["in"], "a");
  bool connect_path = false;
  for (const json& e : all)
    if (e["kind"] == "path" && e["function"] == "tcp_v4_connect") {
      EXPECT_EQ(e["in"], "a");
      EXPECT_EQ(e["path"][0], "__x64_sys_connect");
      connect_path = true;
    }
  EXPECT_TRUE(connect_path);
  // The question: which candidate sees both cases.
  const json* both = entry(all, "candidate", "tcp_sendmsg");
  EXPECT_NE(both, nullptr) << all.back().dump();
}

TEST_F(Diffed, WithArgOnlyCandidatesTakingItAreTheAnswer) {
  auto r = run_probeseek("diff --db " + db_ + " curl_v4 stream --arg 'struct sock *'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("candidates taking struct sock * hit in both sides, best first: "
                       "tcp_sendmsg"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("only in A: __x64_sys_connect"), std::string::npos) << r.out;
}

TEST_F(Diffed, ASessionAgainstItselfIsAllBothAndCountsAgree) {
  json all = diff_json("stream stream --under __x64_sys_write");
  ASSERT_FALSE(all.empty());
  for (const json& e : all) {
    EXPECT_EQ(e["in"], "both") << e.dump();
    if (e["kind"] != "candidate") {
      EXPECT_EQ(e["calls_a"], e["calls_b"]) << e.dump();
    }
  }
  // Calls below __x64_sys_write agree with `functions --under` (task context).
  auto f = run_probeseek("functions --db " + db_ +
                         " --session stream --under __x64_sys_write "
                         "--json");
  ASSERT_EQ(f.status, 0) << f.err;
  json functions = json::parse(f.out);
  const json* sendmsg = entry(all, "function", "tcp_sendmsg");
  ASSERT_NE(sendmsg, nullptr);
  for (const json& row : functions)
    if (row["function"] == "tcp_sendmsg") {
      EXPECT_EQ(row["task_calls"], (*sendmsg)["calls_a"]);
    }
  EXPECT_DOUBLE_EQ((*sendmsg)["per_invocation_a"].get<double>(), 1.0) << "one per write";
}

// stream never connected: below __x64_sys_connect everything is curl_v4's, said with a warning
// (it was an error: Store::functions refuses a --under the session never called).
TEST_F(Diffed, AnUnderOneSideNeverCalledLeavesThatSideEmpty) {
  auto r = run_probeseek("diff --db " + db_ + " --json curl_v4 stream --under __x64_sys_connect");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(test::contains(r.err, "session stream has no call of __x64_sys_connect")) << r.err;
  json all = json::parse(r.out);
  const json* connect = entry(all, "function", "tcp_v4_connect");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ((*connect)["in"], "a");
  for (const json& e : all) EXPECT_NE(e["in"], "both") << e.dump();
}

// A copy of the database with `sql` run on it.
std::string changed_copy(const std::string& from, const std::string& to, const std::string& sql) {
  test::write_file(to, test::read_file(from));
  auto db = Database::open(to);
  EXPECT_TRUE(db) << db.error().message();
  if (db) {
    auto done = db->exec(sql);
    EXPECT_TRUE(done) << sql << ": " << done.error().message();
  }
  return to;
}

// The paths counted at import (call_paths) say what the walk of the calls says, in text and
// JSON, at every depth they hold; past it, and for --under, diff walks the calls.
TEST_F(Diffed, StoredCallPathsAnswerAsTheWalkOfTheCalls) {
  {
    auto db = Database::open(db_, Database::Mode::kReadOnly);
    ASSERT_TRUE(db) << db.error().message();
    auto st = db->prepare("SELECT count(*), min(max_depth) FROM call_path_sets");
    ASSERT_TRUE(st && st->step().value_or(false));
    EXPECT_EQ(st->int_at(0), 2) << "both sessions have their paths";
    EXPECT_EQ(st->int_at(1), 64);
  }
  const std::string walked =
      changed_copy(db_, dir_->file("walked.db"), "DELETE FROM call_path_sets");
  for (const char* args :
       {"curl_v4 stream", "curl_v4 stream --depth 1", "stream curl_v4 --depth 2",
        "curl_v4 stream --depth 12", "curl_v4,stream stream --depth 64",
        "curl_v4 stream --under __x64_sys_connect", "curl_v4 stream --arg 'struct sock *'"}) {
    for (const char* json : {"", " --json"}) {
      auto stored = run_probeseek("diff --db " + db_ + " " + args + json);
      auto walk = run_probeseek("diff --db " + walked + " " + args + json);
      EXPECT_EQ(stored.status, 0) << stored.err;
      EXPECT_TRUE(stored.out == walk.out) << args << json;
      EXPECT_EQ(stored.err, walk.err) << args << json;
    }
  }
}

// A damaged aggregate is not trusted: a parent that is the row itself or comes after it (a
// loop), a depth out of step or out of range, a negative count. diff walks the calls then.
TEST_F(Diffed, DamagedCallPathsAreNotTrusted) {
  const std::string walked =
      changed_copy(db_, dir_->file("walked.db"), "DELETE FROM call_path_sets");
  const auto want = run_probeseek("diff --db " + walked + " --json curl_v4 stream");
  ASSERT_EQ(want.status, 0) << want.err;
  int n = 0;
  for (const char* sql : {
           "UPDATE call_paths SET parent_path_id = path_id WHERE depth = 2",
           "UPDATE call_paths SET parent_path_id = path_id + 1 WHERE depth = 1",
           "UPDATE call_paths SET depth = depth + 1 WHERE depth = 3",
           "UPDATE call_paths SET depth = -1 WHERE depth = 4",
           "UPDATE call_paths SET depth = 9223372036854775807 WHERE depth = 5",
           "UPDATE call_paths SET calls = -5 WHERE depth = 1",
           "UPDATE call_paths SET parent_path_id = 0 WHERE depth = 1",
           "UPDATE call_path_sets SET max_depth = 9223372036854775807; "
           "UPDATE call_paths SET depth = 7 WHERE depth = 6",
       }) {
    const std::string damaged =
        changed_copy(db_, dir_->file("damaged" + std::to_string(n++) + ".db"), sql);
    auto got = run_probeseek("diff --db " + damaged + " --json curl_v4 stream");
    EXPECT_EQ(got.status, 0) << sql << ": " << got.err;
    EXPECT_TRUE(got.out == want.out) << sql;
  }
}

TEST_F(Diffed, UnknownSessionsAreBadInput) {
  auto r = run_probeseek("diff --db " + db_ + " curl_v4 nosuch");
  EXPECT_EQ(r.status, 2) << r.err;
}

}  // namespace
}  // namespace probeseek
