// `probeseek import` and the commands that read the store, run as a user runs them, on the
// real recordings of tests/data/linux-6.1.0-56-cloud-amd64.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "probeseek/db.h"
#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

class ImportedRecordings : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("p.db");
    auto r = run_probeseek("import --db " + db_ + " --kallsyms " + kernel_61("kallsyms.txt.gz") +
                           " --filter-functions " + kernel_61("available_filter_functions.txt.gz") +
                           " --kprobe-blacklist " + kernel_61("kprobes_blacklist.txt") + " " +
                           kernel_61("curl_v4.dat") + " " + kernel_61("stream.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static json run_json(const std::string& args) {
    auto r = run_probeseek(args + " --db " + db_ + " --json");
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out);
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_;
};

TEST_F(ImportedRecordings, SessionsCountEveryFunctionGraphEntry) {
  json sessions = run_json("sessions");
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0]["name"], "curl_v4");
  EXPECT_EQ(sessions[0]["calls"], 283685) << "funcgraph_entry lines of trace-cmd report";
  EXPECT_EQ(sessions[0]["lost_events"], 0);
  EXPECT_EQ(sessions[0]["kernel_release"], "6.1.0-56-cloud-amd64");
  EXPECT_EQ(sessions[1]["name"], "stream");
  EXPECT_EQ(sessions[1]["calls"], 36155);
  for (auto& s : sessions) {
    EXPECT_TRUE(s.contains("tasks"));
    EXPECT_TRUE(s.contains("source"));
  }
}

TEST_F(ImportedRecordings, ConnectGoesThroughInetStreamConnectToTcpV4Connect) {
  json below = run_json("functions --session curl_v4 --under __x64_sys_connect");
  bool tcp_v4_connect = false, inet_stream_connect = false;
  for (auto& f : below) {
    tcp_v4_connect |= f["function"] == "tcp_v4_connect";
    inet_stream_connect |= f["function"] == "inet_stream_connect";
  }
  EXPECT_TRUE(tcp_v4_connect);
  EXPECT_TRUE(inet_stream_connect);
  // And on the path: tcp_v4_connect's ancestors include inet_stream_connect and the syscall.
  auto r = run_probeseek(
      "sql --db " + db_ +
      " \"SELECT group_concat(af.name, '<') FROM calls c JOIN functions f ON f.id = c.function_id "
      "JOIN calls a ON a.task_id = c.task_id AND a.id < c.id AND a.end_id >= c.id "
      "JOIN functions af ON af.id = a.function_id WHERE f.name = 'tcp_v4_connect' "
      "AND f.session_id = 1 GROUP BY c.id\"");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("__x64_sys_connect"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inet_stream_connect"), std::string::npos) << r.out;
}

TEST_F(ImportedRecordings, TheStreamRecordingHasNoConnect) {
  json all = run_json("functions --session stream");
  ASSERT_FALSE(all.empty());
  bool sendmsg = false;
  for (auto& f : all) {
    EXPECT_NE(f["function"], "tcp_v4_connect");
    EXPECT_NE(f["function"], "__x64_sys_connect");
    sendmsg |= f["function"] == "tcp_sendmsg";
  }
  EXPECT_TRUE(sendmsg);
}

TEST_F(ImportedRecordings, FunctionsKnowWhichSyscallsReachThem) {
  json all = run_json("functions --session curl_v4");
  for (auto& f : all) {
    if (f["function"] != "tcp_v4_connect") continue;
    ASSERT_EQ(f["syscalls"].size(), 1u);
    EXPECT_EQ(f["syscalls"][0], "__x64_sys_connect");
    EXPECT_EQ(f["calls"], 1);
    return;
  }
  FAIL() << "tcp_v4_connect not listed";
}

TEST_F(ImportedRecordings, TreeShowsTheConnectPathFoldedWithDurations) {
  auto r = run_probeseek("tree --db " + db_ + " --session curl_v4 --root __x64_sys_connect");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("tcp_v4_connect() {"), std::string::npos);
  EXPECT_NE(r.out.find("inet_stream_connect() {"), std::string::npos);
  EXPECT_NE(r.out.find(" us |"), std::string::npos);
  EXPECT_NE(r.out.find("[x"), std::string::npos) << "identical siblings are folded";
  EXPECT_NE(r.out.find("[hardirq]"), std::string::npos) << "timer interrupts are marked";
  auto shallow = run_probeseek("tree --db " + db_ +
                               " --session curl_v4 --root __x64_sys_connect "
                               "--max-depth 1");
  ASSERT_EQ(shallow.status, 0);
  EXPECT_EQ(shallow.out.find("tcp_v4_connect"), std::string::npos);
  EXPECT_LT(shallow.out.size(), r.out.size());
}

TEST_F(ImportedRecordings, SymbolTablesAreStoredWithTheSessions) {
  auto r = run_probeseek("sql --db " + db_ +
                         " \"SELECT kind, entries, compressed_text IS NOT NULL AS packed "
                         "FROM symbol_sets ORDER BY id\" --json");
  ASSERT_EQ(r.status, 0) << r.err;
  json sets = json::parse(r.out);
  ASSERT_EQ(sets.size(), 5u) << "3 given with --kallsyms etc., 1 per trace.dat of its own";
  EXPECT_EQ(sets[0]["kind"], "kallsyms");
  EXPECT_EQ(sets[0]["entries"], "87347");
  EXPECT_EQ(sets[1]["kind"], "filter_functions");
  EXPECT_EQ(sets[2]["kind"], "kprobe_blacklist");
  EXPECT_EQ(sets[3]["kind"], "kallsyms");
  EXPECT_EQ(sets[3]["packed"], "1");
  auto links = run_probeseek("sql --db " + db_ + " \"SELECT count(*) FROM session_symbol_sets\"");
  EXPECT_NE(links.out.find("8"), std::string::npos) << "3 shared sets x 2 sessions + 1 own each";

  // The recording's own kallsyms come back as a symbol table: the kernel it was taken on.
  auto db = Database::open(db_, Database::Mode::kReadOnly);
  ASSERT_TRUE(db) << db.error().message();
  for (int64_t set : {1, 4}) {
    auto table = load_kallsyms_set(*db, set);
    ASSERT_TRUE(table) << table.error().message();
    auto connect = table->by_name("tcp_v4_connect");
    ASSERT_EQ(connect.size(), 1u) << "set " << set;
    EXPECT_GT(table->symbols().size(), 80000u);
  }
}

TEST_F(ImportedRecordings, SqlIsReadOnly) {
  auto r = run_probeseek("sql --db " + db_ + " \"DELETE FROM calls\"");
  EXPECT_NE(r.status, 0);
  auto count = run_probeseek("sql --db " + db_ + " \"SELECT count(*) AS n FROM calls\" --json");
  EXPECT_EQ(json::parse(count.out)[0]["n"], "319840");
}

// ---- bad input: exit status 2, a message naming the file, the database untouched.

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("p.db");
    auto r = run_probeseek("import --db " + db_ + " " + kernel_61("stream.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
    before_ = test::read_file(db_);
  }
  void expect_refused(const std::string& file, const std::string& words) {
    auto r = run_probeseek("import --db " + db_ + " " + file);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_TRUE(test::read_file(db_) == before_) << "the database changed";
  }
  test::TempDir dir_;
  std::string db_;
  std::string before_;
};

TEST_F(BadInput, EmptyFile) {
  std::string f = dir_.file("empty.dat");
  test::write_file(f, "");
  expect_refused(f, "empty");
}

TEST_F(BadInput, TruncatedTraceDat) {
  std::string f = dir_.file("truncated.dat");
  std::string whole = test::read_file(kernel_61("curl_v4.dat"));
  test::write_file(f, whole.substr(0, whole.size() / 3));
  expect_refused(f, "trace.dat");
}

TEST_F(BadInput, TraceDatCutInItsHeaders) {
  std::string f = dir_.file("headers.dat");
  test::write_file(f, test::read_file(kernel_61("curl_v4.dat")).substr(0, 4000));
  expect_refused(f, "trace.dat");
}

TEST_F(BadInput, ReportOfTheFunctionTracer) {
  std::string f = dir_.file("function.txt");
  test::write_file(f,
                   "cpus=2\n"
                   "            curl-119   [000]    32.337559: function:             mutex_unlock "
                   "<-- rtnl_unlock\n"
                   "            curl-119   [000]    32.337561: function:             "
                   "__mutex_unlock_slowpath <-- mutex_unlock\n");
  expect_refused(f, "function tracer");
}

TEST_F(BadInput, ReportOfPlainEvents) {
  std::string f = dir_.file("events.txt");
  test::write_file(
      f,
      "cpus=2\n"
      "            curl-119   [000]    32.337559: sched_switch:         curl:119 [120] S ==> "
      "swapper/0:0 [120]\n"
      "          <idle>-0     [000]    32.337600: sched_wakeup:         curl:119 [120] CPU:000\n");
  expect_refused(f, "plain events");
}

TEST_F(BadInput, BinaryGarbage) {
  std::string f = dir_.file("garbage.bin");
  std::string bytes;
  uint32_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    x = x * 1103515245u + 12345u;
    bytes.push_back(static_cast<char>(x >> 24));
  }
  test::write_file(f, bytes);
  expect_refused(f, "not a trace-cmd report");
}

TEST_F(BadInput, MissingFile) {
  expect_refused(dir_.file("does-not-exist.dat"), "No such file");
}

TEST_F(BadInput, TheSameNameTwiceIsRefusedUnlessReplaced) {
  auto again = run_probeseek("import --db " + db_ + " " + kernel_61("stream.dat"));
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--replace"), std::string::npos) << again.err;
  EXPECT_TRUE(test::read_file(db_) == before_);
  auto replaced = run_probeseek("import --replace --db " + db_ + " " + kernel_61("stream.dat"));
  EXPECT_EQ(replaced.status, 0) << replaced.err;
  auto s = run_probeseek("sessions --json --db " + db_);
  json sessions = json::parse(s.out);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["calls"], 36155);
  auto calls = run_probeseek("sql --json --db " + db_ + " \"SELECT count(*) AS n FROM calls\"");
  EXPECT_EQ(json::parse(calls.out)[0]["n"], "36155") << "no rows of the replaced session left";
}

TEST_F(BadInput, AnotherNameImportsAlongside) {
  auto r =
      run_probeseek("import --name stream2 --db " + db_ + " " + kernel_61("stream.report.txt.gz"));
  EXPECT_EQ(r.status, 0) << r.err;
  auto s = run_probeseek("sessions --json --db " + db_);
  EXPECT_EQ(json::parse(s.out).size(), 2u);
}

TEST(Cli, ReadingAMissingDatabaseSaysHowToCreateOne) {
  test::TempDir dir;
  auto r = run_probeseek("sessions --db " + dir.file("none.db"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("probeseek import"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace probeseek
