// The database and what the read commands print, under the conditions of issue 9: a full disk,
// bytes that are not UTF-8 in names, a killed import, a very deep call chain, runaway queries,
// options that would silently mean "no filter". Recordings: tests/data/linux-6.1.0-56-cloud-amd64.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "probeseek/db.h"
#include "probeseek/ingest.h"
#include "probeseek/text.h"
#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

std::string import_stream(const test::TempDir& dir) {
  std::string db = dir.file("p.db");
  auto r = run_probeseek("import --db " + db + " " + kernel_61("stream.dat"));
  EXPECT_EQ(r.status, 0) << r.err;
  return db;
}

// ---- finding 2: a failed import on a full disk

// The disk fills up after the pages the database has now plus 2 MB (max_page_count: SQLite
// answers SQLITE_FULL exactly as on a full file system); curl_v4.dat needs ~40 MB.
TEST(FullDisk, AFailedImportLeavesTheDatabaseByteIdentical) {
  test::TempDir dir;
  std::string db_path = import_stream(dir);
  const std::string before = test::read_file(db_path);
  {
    auto db = Database::open(db_path);
    ASSERT_TRUE(db) << db.error().message();
    auto pages = db->prepare("PRAGMA page_count");
    ASSERT_TRUE(pages && pages->step().value_or(false));
    int64_t limit = pages->int_at(0) + 256;
    pages = Statement();
    ASSERT_TRUE(db->exec("PRAGMA max_page_count = " + std::to_string(limit)));
    IngestRequest request;
    request.files = {kernel_61("curl_v4.dat")};
    auto result = ingest(*db, request);
    ASSERT_FALSE(result) << "the import fitted in 2 MB";
    EXPECT_EQ(result.error().exit_status(), 1);
    EXPECT_NE(result.error().message().find("full"), std::string::npos) << result.error().message();
    EXPECT_NE(result.error().message().find(db_path), std::string::npos)
        << "the error names the database: " << result.error().message();
  }
  EXPECT_TRUE(test::read_file(db_path) == before) << "rows of the failed session were kept";
  // The next import gets correct counts: no rows of a session that does not exist remain.
  auto r = run_probeseek("import --db " + db_path + " " + kernel_61("curl_v4.dat"));
  ASSERT_EQ(r.status, 0) << r.err;
  auto count = run_probeseek("sql --json --db " + db_path +
                             " \"SELECT count(*) AS n FROM calls WHERE session_id NOT IN "
                             "(SELECT id FROM sessions)\"");
  EXPECT_EQ(json::parse(count.out)[0]["n"], "0");
  json sessions = json::parse(run_probeseek("sessions --json --db " + db_path).out);
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[1]["calls"], 283685);
}

// ---- finding 14: a refused or failed first import leaves no new database behind

TEST(NewDatabase, ARefusedFirstImportLeavesNoFile) {
  test::TempDir dir;
  std::string garbage = dir.file("garbage.txt");
  test::write_file(garbage, "this is not a trace\n");
  std::string db = dir.file("new.db");
  auto r = run_probeseek("import --db " + db + " " + garbage);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db)) << "a new, empty database was left behind";
  EXPECT_FALSE(std::filesystem::exists(db + "-journal"));
}

TEST(NewDatabase, SessionsImportedBeforeAFailingFileStay) {
  test::TempDir dir;
  std::string garbage = dir.file("garbage.txt");
  test::write_file(garbage, "this is not a trace\n");
  std::string db = dir.file("new.db");
  auto r = run_probeseek("import --db " + db + " " + kernel_61("stream.dat") + " " + garbage);
  EXPECT_EQ(r.status, 2) << r.err;
  ASSERT_TRUE(std::filesystem::exists(db));
  json sessions = json::parse(run_probeseek("sessions --json --db " + db).out);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["calls"], 36155);
}

// ---- finding 8: kernel addresses are not for every user to read

TEST(Permissions, NewDatabasesAreOwnerOnlyAndExistingOnesKeepTheirMode) {
  test::TempDir dir;
  mode_t old_umask = ::umask(022);
  std::string db = import_stream(dir);
  ::umask(old_umask);
  struct stat st {};
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "a new database must not be world-readable";

  std::string shared = dir.file("shared.db");
  std::filesystem::copy_file(db, shared);
  ASSERT_EQ(::chmod(shared.c_str(), 0640), 0);
  auto r = run_probeseek("import --db " + shared + " --name again " + kernel_61("stream.dat"));
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(::stat(shared.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "an existing database keeps the mode its owner chose";
}

// ---- finding 9: a killed import leaves a hot journal

TEST(KilledImport, ReadCommandsRollTheHotJournalBack) {
  test::TempDir dir;
  std::string db_path = import_stream(dir);
  const std::string before = test::read_file(db_path);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // An import killed mid-transaction: pages already written over, the journal holds the
    // originals, nobody rolls back.
    auto db = Database::open(db_path);
    if (!db) ::_exit(3);
    (void)db->exec("PRAGMA cache_size = 10");
    (void)db->exec("BEGIN IMMEDIATE");
    (void)db->exec("DELETE FROM call_rows");
    (void)db->exec(
        "INSERT INTO sessions(name, source, source_format, imported_at) "
        "VALUES('half', 'x', '', 'now')");
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(std::filesystem::exists(db_path + "-journal")) << "no hot journal to test with";
  ASSERT_FALSE(test::read_file(db_path) == before) << "the killed write changed no page";

  auto r = run_probeseek("sessions --json --db " + db_path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("not a probeseek database"), std::string::npos) << r.err;
  json sessions = json::parse(r.out);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["calls"], 36155);
  EXPECT_TRUE(test::read_file(db_path) == before) << "the rollback restored every page";
  EXPECT_FALSE(std::filesystem::exists(db_path + "-journal"));
}

// ---- a session without a single call, in a database that has calls already

// `probeseek record` stopped before the kernel wrote a record (a signal right after tracing
// was switched on) saves an empty session; into a database with earlier sessions its commit
// used to count its last call id from 0 and spin through ~2^64 ids. In a child with a deadline.
TEST(EmptySession, CommitsPromptlyIntoADatabaseThatHasCalls) {
  test::TempDir dir;
  std::string db_path = import_stream(dir);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::alarm(30);  // a hang ends as SIGALRM (the commit takes well under a second)
    auto db = Database::open(db_path);
    if (!db) ::_exit(3);
    SessionWriter::Options options;
    options.name = "empty";
    options.source = "probeseek record -p 1";
    auto writer = SessionWriter::begin(*db, options);
    if (!writer) ::_exit(4);
    CallTreeBuilder builder(**writer);
    builder.finish();
    SourceInfo info;
    info.format = TraceFormat::kLive;
    info.tracer = "function_graph";
    info.cpus = 1;
    ::_exit((*writer)->commit(info, builder, {}) ? 0 : 5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status)
                                 << " (SIGALRM: the commit hung)";
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto r = run_probeseek("sessions --json --db " + db_path);
  ASSERT_EQ(r.status, 0) << r.err;
  json sessions = json::parse(r.out);
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0]["calls"], 36155);
  EXPECT_EQ(sessions[1]["name"], "empty");
  EXPECT_EQ(sessions[1]["calls"], 0);
  r = run_probeseek("tree --session empty --db " + db_path);
  EXPECT_EQ(r.out.find("tcp_"), std::string::npos) << "the empty session shows no calls:\n"
                                                   << r.out;
}

// ---- finding 4: bytes that are not UTF-8, and terminal escapes, in names

class HostileNames : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("p.db");
    // A comm and a session name are bytes from the kernel and the file system.
    auto r = run_probeseek("import --db " + db_ + " --name \"$(printf 's\\377\\033[2Jx')\" " +
                           kernel_61("stream.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
    auto db = Database::open(db_);
    ASSERT_TRUE(db) << db.error().message();
    ASSERT_TRUE(db->exec(
        "UPDATE functions SET name = CAST(x'7463705f73656e646d7367ff1b5b324a00626164' AS TEXT) "
        "WHERE name = 'tcp_sendmsg'"));  // "tcp_sendmsg\xff\x1b[2J\0bad"
    ASSERT_TRUE(db->exec("UPDATE tasks SET comm = CAST(x'1b5d323b6f776e6564ff07' AS TEXT)"));
  }
  static void TearDownTestSuite() { delete dir_; }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_;
};

TEST_F(HostileNames, JsonIsValidWithReplacementCharactersAndNulsKept) {
  for (std::string cmd : {"sessions --json", "functions --json", "rank --json --limit 0",
                          "sql --json \"SELECT x'ff' AS b, name FROM functions\""}) {
    auto r = run_probeseek(cmd + " --db " + db_);
    ASSERT_EQ(r.status, 0) << cmd << ": " << r.err;
    json out;
    ASSERT_NO_THROW(out = json::parse(r.out)) << cmd;
    std::string all = out.dump();
    EXPECT_EQ(all.find('\x1b'), std::string::npos) << cmd;
  }
  json fs = json::parse(run_probeseek("functions --json --db " + db_).out);
  bool found = false;
  for (auto& f : fs)
    if (f["function"].get<std::string>().rfind("tcp_sendmsg\xef", 0) == 0) {
      found = true;
      EXPECT_EQ(f["function"].get<std::string>(),
                std::string("tcp_sendmsg\xef\xbf\xbd\x1b[2J\0bad", 22))
          << "U+FFFD for the invalid byte; the NUL and what follows it kept";
    }
  EXPECT_TRUE(found);
  json b = json::parse(run_probeseek("sql --json --db " + db_ + " \"SELECT x'ff' AS b\"").out);
  EXPECT_EQ(b[0]["b"], "\xef\xbf\xbd");
  auto ex = run_probeseek("explain --json --db " + db_ + " \"$(printf 'tcp_sendmsg\\377')\"");
  EXPECT_NE(ex.status, 134) << "aborted: " << ex.err;
}

TEST_F(HostileNames, TextViewsShowEscapesInsteadOfSendingThem) {
  for (std::string cmd :
       {"sessions", "functions", "tree --pid 0", "tree", "rank --limit 0",
        "sql \"SELECT name, x'1b5b324a' FROM functions\"", "explain \"$(printf 'x\\033[2J')\""}) {
    auto r = run_probeseek(cmd + " --db " + db_);
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << cmd << " printed a raw ESC";
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << cmd << " printed a raw ESC";
    EXPECT_EQ(r.out.find('\x07'), std::string::npos) << cmd;
  }
  auto r = run_probeseek("functions --db " + db_);
  EXPECT_NE(r.out.find("tcp_sendmsg\\xff\\x1b[2J\\x00bad"), std::string::npos) << r.out;
  auto s = run_probeseek("sessions --db " + db_);
  EXPECT_NE(s.out.find("s\\xff\\x1b[2Jx"), std::string::npos) << s.out;
}

TEST(Printable, EscapesControlsAndInvalidBytesOnly) {
  EXPECT_EQ(printable("tcp_v4_connect"), "tcp_v4_connect");
  EXPECT_EQ(printable("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9") << "valid UTF-8 passes";
  EXPECT_EQ(printable("\xc2\x9b"), "\\xc2\\x9b") << "C1 CSI";
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf") << "overlong";
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80") << "surrogate";
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82") << "cut short";
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("a\\x1b"), "a\\\\x1b") << "a backslash cannot forge an escape";
  EXPECT_EQ(printable("a\nb"), "a\\x0ab");
  EXPECT_EQ(printable("a\nb", true), "a\nb");
}

// ---- finding 10: a call chain deeper than the stack

// A synthetic chain, one call per level, each the only child of the one before.
TEST(DeepTree, ThreeHundredThousandLevelsAreMeasuredWithoutRecursion) {
  test::TempDir dir;
  std::string db_path = dir.file("deep.db");
  constexpr int kLevels = 300000;  // the recursive renderer overflowed (release build)
  {
    auto db = Database::open(db_path);
    ASSERT_TRUE(db) << db.error().message();
    const std::string n = std::to_string(kLevels);
    ASSERT_TRUE(db->exec(
        "BEGIN;"
        "INSERT INTO sessions(id, name, source, source_format, imported_at, first_call_id, "
        "last_call_id) VALUES(1, 'deep', 'synthetic', 'report-text', 'now', 1, " +
        n +
        ");"
        "INSERT INTO tasks VALUES(1, 1, 42, NULL, 'deep');"
        "INSERT INTO functions(id, session_id, name) VALUES(1, 1, 'recurse');"
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < " +
        n +
        ") INSERT INTO call_rows(id, session_id, task_id, function_id, entry_ns, duration_ns, "
        "parent_offset, span, children_ns, bits) "
        "SELECT x, 1, 1, 1, x, " +
        n + " - x + 1, CASE WHEN x > 1 THEN 1 END, " + n + " - x, " + n +
        " - x, CASE WHEN x <= 256 THEN (x - 1) << 5 ELSE -((x - 1) << 25) END FROM c; COMMIT;"));
  }
  auto r = run_probeseek("tree --max-depth 3 --db " + db_path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("recurse() { ... " + std::to_string(kLevels - 4) + " calls }"),
            std::string::npos)
      << r.out;
  auto pid = run_probeseek("tree --pid 42 --max-depth 2 --db " + db_path);
  ASSERT_EQ(pid.status, 0) << pid.err;
  EXPECT_NE(pid.out.find("# deep-42"), std::string::npos) << pid.out;
}

// ---- schema 3: the calls of a function are a chain of links, walked backwards

// Links that point forwards, to themselves, into another function's row or past every row,
// and walk starts beyond the table: every command that starts from "the calls of F" ends
// (each step must go to a smaller id of the same function) and answers or says why.
TEST(CallLinks, DamagedLinksEndTheWalkWithoutLooping) {
  test::TempDir dir;
  std::string db_path = import_stream(dir);
  {
    auto db = Database::open(db_path);
    ASSERT_TRUE(db) << db.error().message();
    ASSERT_TRUE(
        db->exec("UPDATE call_rows SET previous_offset = -previous_offset WHERE id % 4 = 0;"
                 "UPDATE call_rows SET previous_offset = 0 WHERE id % 4 = 1;"
                 "UPDATE call_rows SET previous_offset = previous_offset + 1 "
                 "WHERE id % 4 = 2;"
                 "UPDATE call_rows SET previous_offset = id + 1000 WHERE id % 4 = 3;"
                 "UPDATE function_stats SET last_call_id = last_call_id + 1000000000 "
                 "WHERE function_id % 3 = 0;"));
  }
  for (const char* command :
       {"tree --root tcp_sendmsg", "functions --under tcp_sendmsg", "explain tcp_sendmsg",
        "rank --under tcp_sendmsg", "tree --root schedule", "explain inet_csk_accept"}) {
    auto r = run_probeseek(std::string(command) + " --db " + db_path);
    EXPECT_TRUE(r.status == 0 || r.status == 1) << command << ": " << r.status << " " << r.err;
  }
}

// ---- finding 11: sql streams, and stops at --timeout

TEST(Sql, ARunawayQueryStreamsItsRowsAndStopsAtTheTimeout) {
  test::TempDir dir;
  std::string db = import_stream(dir);
  auto start = std::chrono::steady_clock::now();
  auto r = run_probeseek(
      "sql --timeout 1 --db " + db +
      " \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c\"");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(db), std::string::npos) << r.err;
  EXPECT_LT(seconds, 30);
  EXPECT_NE(r.out.find("\n1000\n"), std::string::npos) << "rows were printed as they came";
  auto count = run_probeseek(
      "sql --timeout 0.5 --json --db " + db +
      " \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM "
      "c\"");
  EXPECT_EQ(count.status, 1) << count.err;
  EXPECT_EQ(count.out, "") << "no half-written JSON for a query that produced no row";
}

TEST(Sql, JsonAndTableOutputStream) {
  test::TempDir dir;
  std::string db = import_stream(dir);
  auto r = run_probeseek("sql --json --db " + db +
                         " \"SELECT id, name FROM functions ORDER BY id LIMIT 3\"");
  ASSERT_EQ(r.status, 0) << r.err;
  json rows = json::parse(r.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["id"], "1");
  auto none = run_probeseek("sql --json --db " + db + " \"SELECT 1 WHERE 0\"");
  EXPECT_EQ(json::parse(none.out).size(), 0u);
  auto many = run_probeseek("sql --db " + db + " \"SELECT id FROM calls\"");
  ASSERT_EQ(many.status, 0);
  EXPECT_EQ(std::count(many.out.begin(), many.out.end(), '\n'), 36155 + 1);
}

TEST(Sql, TrailingCommentsAndWhitespaceAreOneStatement) {
  test::TempDir dir;
  std::string db = import_stream(dir);
  for (std::string q : {"SELECT 1; -- c", "SELECT 1 -- c", "SELECT 1; /* c */  ", "SELECT 1;;\n"}) {
    auto r = run_probeseek("sql --db " + db + " '" + q + "'");
    EXPECT_EQ(r.status, 0) << q << ": " << r.err;
  }
  const std::string before = test::read_file(db);
  for (std::string q :
       {"SELECT 1; SELECT 2", "SELECT 1; -- c\nDELETE FROM calls", "SELECT 1; garbage"}) {
    auto r = run_probeseek("sql --db " + db + " '" + q + "'");
    EXPECT_EQ(r.status, 2) << q << ": " << r.err;
  }
  EXPECT_TRUE(test::read_file(db) == before);
}

// ---- finding 14: a damaged database is not served without a word

TEST(Damaged, SessionsCheckReportsWhatQuickCheckFinds) {
  test::TempDir dir;
  std::string db = import_stream(dir);
  auto ok = run_probeseek("sessions --check --db " + db);
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.err.find("integrity: ok"), std::string::npos) << ok.err;
  // Garbage over pages in the middle of the file: the calls table, which `sessions` alone
  // does not read.
  std::string bytes = test::read_file(db);
  ASSERT_GT(bytes.size(), 400000u);
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 3 * 8192; ++i) bytes[i] = '\xa5';
  test::write_file(db, bytes);
  auto r = run_probeseek("sessions --check --db " + db);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(db), std::string::npos) << r.err;
  EXPECT_TRUE(test::read_file(db) == bytes) << "checking wrote to the file";
  auto q = run_probeseek("sql --db " + db + " \"SELECT sum(duration_ns) FROM calls\"");
  EXPECT_EQ(q.status, 1) << q.err;
  EXPECT_NE(q.err.find("sessions --check"), std::string::npos) << q.err;
}

// ---- finding 14: options that would silently mean "no filter" are refused

TEST(Refusals, EmptyNamesAndNegativeNumbersExitTwo) {
  test::TempDir dir;
  std::string db = import_stream(dir);
  const std::string before = test::read_file(db);
  for (std::string cmd :
       {"functions --under ''", "rank --under ''", "tree --pid -1", "tree --root ''",
        "tree --max-depth -1", "functions --limit -1", "sql --timeout -1 'SELECT 1'"}) {
    auto r = run_probeseek(cmd + " --db " + db);
    EXPECT_EQ(r.status, 2) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("hint: "), std::string::npos) << cmd << ": " << r.err;
  }
  EXPECT_TRUE(test::read_file(db) == before);
}

}  // namespace
}  // namespace probeseek
