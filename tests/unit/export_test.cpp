// Issue 14: `probeseek export` on the real recordings of Debian's 6.1.0-56-cloud-amd64 kernel
// (curl_v4.dat and stream.dat, trace-cmd), the lab's accept.db.gz of 6.1.0-57 (a task already
// blocked in accept() when the recording started: frames entered before it), and a copy of
// curl_v4 damaged with sqlite3. Folded weights are checked against the database's own sums,
// chrome's events for strict nesting per thread, perfetto's packets through an independent
// decoder (protoc --decode_raw).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "probeseek/database.h"
#include "probeseek/export.h"
#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

using test::contains;

int64_t sql_int(const std::string& db_path, const std::string& query) {
  auto db = Database::open(db_path, Database::Mode::kReadOnly);
  EXPECT_TRUE(db) << db.error().message();
  if (!db) return -1;
  auto st = db->prepare(query);
  EXPECT_TRUE(st) << st.error().message() << ": " << query;
  if (!st) return -1;
  auto row = st->step();
  EXPECT_TRUE(row && *row) << query;
  return row && *row ? st->int_at(0) : -1;
}

// The calls of a session, as SQL over its id range.
std::string session_calls(const std::string& session) {
  return "calls WHERE id BETWEEN (SELECT first_call_id FROM sessions WHERE name = '" + session +
         "') AND (SELECT last_call_id FROM sessions WHERE name = '" + session + "')";
}

// Distinct calls at or below calls of `function` (a call's descendants: its task's calls with
// ids in (id, end_id]), as tree --root selects them.
std::string calls_under(const std::string& session, const std::string& function) {
  return "calls WHERE id IN (SELECT c.id FROM functions f JOIN sessions s ON s.id = f.session_id "
         "JOIN calls u ON u.function_id = f.id JOIN calls c ON c.id BETWEEN u.id AND u.end_id AND "
         "c.task_id = u.task_id WHERE s.name = '" +
         session + "' AND f.name = '" + function + "')";
}

struct Folded {
  std::map<std::string, int64_t> stacks;
  int64_t sum = 0;
  bool well_formed = true;
};

Folded parse_folded(const std::string& text) {
  Folded f;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t space = line.rfind(' ');
    if (space == std::string::npos || line.find(' ') != space) {
      f.well_formed = false;
      continue;
    }
    std::string stack = line.substr(0, space);
    int64_t w = std::stoll(line.substr(space + 1));
    if (f.stacks.count(stack)) f.well_formed = false;  // one line per stack
    f.stacks[stack] = w;
    f.sum += w;
  }
  return f;
}

// One complete event of a chrome export, in integer nanoseconds.
struct Slice {
  int64_t start, end;
};

int64_t ns_of(const json& us) {
  return std::llround(us.get<double>() * 1000.0);
}

// Per thread: sorted by start (longer first), every event lies inside the one still open.
// Returns the number of violations.
int64_t nesting_violations(const std::map<int64_t, std::vector<Slice>>& by_tid) {
  int64_t bad = 0;
  for (auto [tid, slices] : by_tid) {
    std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<Slice> open;
    for (auto& s : slices) {
      while (!open.empty() && open.back().end <= s.start && !(open.back().start == s.start))
        open.pop_back();
      if (!open.empty() && s.end > open.back().end) ++bad;
      open.push_back(s);
    }
  }
  return bad;
}

struct Chrome {
  json doc;
  int64_t complete = 0;
  std::map<int64_t, std::vector<Slice>> by_tid;
  std::set<int64_t> named_tids;
};

Chrome parse_chrome(const std::string& text) {
  Chrome c;
  c.doc = json::parse(text);
  for (auto& e : c.doc["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") c.named_tids.insert(e["tid"].get<int64_t>());
    if (e["ph"] != "X") continue;
    ++c.complete;
    int64_t start = ns_of(e["ts"]);
    c.by_tid[e["tid"].get<int64_t>()].push_back({start, start + ns_of(e["dur"])});
  }
  return c;
}

// protoc --decode_raw's text: packets (field 1 of Trace), their track events (field 11) and
// track descriptors (field 60), checked per track: SLICE_BEGIN (9: 1) and SLICE_END (9: 2)
// balanced, never below zero, timestamps (field 8) never going back.
struct Perfetto {
  int64_t packets = 0, begins = 0, ends = 0, descriptors = 0, interned_names = 0;
  int64_t unbalanced = 0, backwards = 0;
  std::set<uint64_t> tracks;
};

Perfetto decode_perfetto(const std::string& file) {
  Perfetto p;
  FILE* in = popen(("protoc --decode_raw < " + file).c_str(), "r");
  if (!in) return p;
  std::vector<std::string> path;
  uint64_t ts = 0, uuid = 0;
  int type = 0;
  std::map<uint64_t, int64_t> depth;
  std::map<uint64_t, uint64_t> last_ts;
  char buf[4096];
  while (fgets(buf, sizeof buf, in)) {
    std::string line = buf;
    size_t b = line.find_first_not_of(' ');
    line = line.substr(b, line.find_last_not_of(" \n") - b + 1);
    if (line.size() > 2 && line.substr(line.size() - 2) == " {") {
      std::string field = line.substr(0, line.size() - 2);
      path.push_back(field);
      if (path.size() == 1 && field == "1") ts = uuid = 0, type = 0, ++p.packets;
      if (path.size() == 2 && field == "60") ++p.descriptors;
      if (path.size() == 3 && path[1] == "12" && field == "2") ++p.interned_names;
      continue;
    }
    if (line == "}") {
      if (path.size() == 1 && type != 0) {
        p.tracks.insert(uuid);
        if (last_ts.count(uuid) && ts < last_ts[uuid]) ++p.backwards;
        last_ts[uuid] = ts;
        int64_t& d = depth[uuid];
        if (type == 1) ++d, ++p.begins;
        if (type == 2) {
          ++p.ends;
          if (--d < 0) ++p.unbalanced;
        }
      }
      if (!path.empty()) path.pop_back();
      continue;
    }
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string field = line.substr(0, colon);
    std::string value = line.substr(colon + 2);
    if (path.size() == 1 && field == "8") ts = std::stoull(value);
    if (path.size() == 2 && path[1] == "11" && field == "9") type = std::stoi(value);
    if (path.size() == 2 && path[1] == "11" && field == "11") uuid = std::stoull(value);
  }
  pclose(in);
  for (auto& [track, d] : depth)
    if (d != 0) ++p.unbalanced;
  return p;
}

bool have_protoc() {
  return std::system("protoc --version > /dev/null 2>&1") == 0;
}

class Export : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("export.db");
    auto r = run_probeseek("import --db " + db_ + " " + kernel_61("curl_v4.dat") + " " +
                           kernel_61("stream.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string run_ok(const std::string& args) {
    auto r = run_probeseek(args);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.err;
    return r.out;
  }
  static Folded folded(const std::string& args) {
    return parse_folded(run_ok("export --db " + db_ + " --format folded " + args));
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_;
};

TEST_F(Export, FoldedSelfTimeSumsToTheDatabasesSelfTime) {
  for (std::string session : {"curl_v4", "stream"}) {
    Folded f = folded("--session " + session);
    EXPECT_TRUE(f.well_formed) << session;
    EXPECT_EQ(f.sum, sql_int(db_, "SELECT SUM(self_ns) FROM " + session_calls(session))) << session;
    // Interrupt work sits under a marked frame.
    bool marked = false;
    for (auto& [stack, w] : f.stacks) marked |= contains(stack, "[hardirq];");
    EXPECT_TRUE(marked) << session;
  }
}

TEST_F(Export, FoldedCallsAndTotalSumToTheDatabase) {
  Folded calls = folded("--session curl_v4 --weight calls");
  EXPECT_EQ(calls.sum, sql_int(db_, "SELECT COUNT(*) FROM " + session_calls("curl_v4")));
  EXPECT_EQ(calls.sum, 283685);
  Folded total = folded("--session curl_v4 --weight total");
  EXPECT_EQ(total.sum, sql_int(db_, "SELECT SUM(duration_ns) FROM " + session_calls("curl_v4")));
}

TEST_F(Export, FoldedTaskOnlyLeavesInterruptWorkOut) {
  Folded self = folded("--session curl_v4 --task-only");
  EXPECT_EQ(self.sum, sql_int(db_, "SELECT SUM(self_ns) FROM " + session_calls("curl_v4") +
                                       " AND context = 0"));
  Folded calls = folded("--session curl_v4 --task-only --weight calls");
  EXPECT_EQ(calls.sum,
            sql_int(db_, "SELECT COUNT(*) FROM " + session_calls("curl_v4") + " AND context = 0"));
  for (auto& [stack, w] : calls.stacks) EXPECT_FALSE(contains(stack, "[")) << stack;
}

TEST_F(Export, FoldedUnderStartsEveryStackAtTheFunction) {
  for (std::string fn : {"__x64_sys_connect", "tcp_sendmsg"}) {
    Folded self = folded("--session curl_v4 --under " + fn);
    ASSERT_FALSE(self.stacks.empty()) << fn;
    for (auto& [stack, w] : self.stacks)
      EXPECT_TRUE(stack == fn || stack.rfind(fn + ";", 0) == 0) << stack;
    EXPECT_EQ(self.sum, sql_int(db_, "SELECT SUM(self_ns) FROM " + calls_under("curl_v4", fn)));
    Folded calls = folded("--session curl_v4 --weight calls --under " + fn);
    EXPECT_EQ(calls.sum, sql_int(db_, "SELECT COUNT(*) FROM " + calls_under("curl_v4", fn)));
    Folded task = folded("--session curl_v4 --weight calls --task-only --under " + fn);
    EXPECT_EQ(task.sum, sql_int(db_, "SELECT COUNT(*) FROM " + calls_under("curl_v4", fn) +
                                         " AND context = 0"));
  }
}

TEST_F(Export, FoldedFrameNamesCannotBreakTheFormat) {
  EXPECT_EQ(folded_frame("tcp_v4_connect"), "tcp_v4_connect");
  EXPECT_EQ(folded_frame("a;b c\nd\\"), "a\\x3bb\\x20c\\x0ad\\x5c");
  EXPECT_EQ(folded_frame(""), "[empty]");
}

TEST_F(Export, TheLibraryWritesAnyFormatToAnyOutput) {
  auto db = Database::open(db_, Database::Mode::kReadOnly);
  ASSERT_TRUE(db) << db.error().message();
  int64_t stream = sql_int(db_, "SELECT id FROM sessions WHERE name = 'stream'");
  for (auto format : {ExportFormat::kFolded, ExportFormat::kChrome, ExportFormat::kPerfetto}) {
    StringOutput out;
    ExportOptions options;
    options.format = format;
    options.pid =
        sql_int(db_, "SELECT pid FROM tasks WHERE session_id = " + std::to_string(stream) +
                         " AND pid > 0 LIMIT 1");
    auto report = export_session(*db, stream, options, out);
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_GT(report->calls_exported, 0);
    EXPECT_EQ(report->calls_exported, report->calls_read);
    EXPECT_FALSE(out.text.empty());
    if (format == ExportFormat::kChrome) {
      EXPECT_EQ(parse_chrome(out.text).complete, report->calls_exported);
      EXPECT_EQ(parse_chrome(out.text).by_tid.size(), 1u) << "--pid: one task";
    }
  }
  ExportOptions unknown;
  unknown.under = "no_such_function";
  StringOutput out;
  auto refused = export_session(*db, stream, unknown, out);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().exit_status(), 2);
}

TEST_F(Export, ChromeHasOneCompleteEventPerCallNestedPerThread) {
  std::string file = dir_->file("curl.json");
  run_ok("export --db " + db_ + " --session curl_v4 --format chrome -o " + file);
  Chrome c = parse_chrome(test::read_file(file));
  EXPECT_EQ(c.complete, sql_int(db_, "SELECT COUNT(*) FROM " + session_calls("curl_v4")));
  EXPECT_EQ(nesting_violations(c.by_tid), 0);
  for (auto& [tid, slices] : c.by_tid) EXPECT_TRUE(c.named_tids.count(tid)) << tid;
  const json& meta = c.doc["otherData"];
  EXPECT_EQ(meta["session"], "curl_v4");
  EXPECT_EQ(meta["calls"], 283685);
  EXPECT_EQ(meta["exported_calls"], 283685);
  EXPECT_TRUE(meta.contains("lost_events"));
  EXPECT_TRUE(meta.contains("kernel"));
  // Categories are the contexts.
  std::set<std::string> cats;
  for (auto& e : c.doc["traceEvents"])
    if (e["ph"] == "X") cats.insert(e["cat"].get<std::string>());
  EXPECT_TRUE(cats.count("task") && cats.count("hardirq")) << json(cats).dump();
}

TEST_F(Export, ChromeUnderAndGzip) {
  std::string file = dir_->file("connect.json.gz");
  run_ok("export --db " + db_ + " --session curl_v4 --format chrome --under __x64_sys_connect -o " +
         file);
  std::string plain = dir_->file("connect.json");
  ASSERT_EQ(std::system(("gzip -dc " + file + " > " + plain).c_str()), 0);
  Chrome c = parse_chrome(test::read_file(plain));
  EXPECT_EQ(c.complete,
            sql_int(db_, "SELECT COUNT(*) FROM " + calls_under("curl_v4", "__x64_sys_connect")));
  EXPECT_EQ(nesting_violations(c.by_tid), 0);
}

TEST_F(Export, PerfettoDecodesWithBalancedSlicesPerTrack) {
  if (!have_protoc()) GTEST_SKIP() << "protoc (Debian's protobuf-compiler) is not installed";
  for (std::string session : {"stream", "curl_v4"}) {
    std::string file = dir_->file(session + ".pftrace");
    run_ok("export --db " + db_ + " --session " + session + " --format perfetto -o " + file);
    Perfetto p = decode_perfetto(file);
    int64_t calls = sql_int(db_, "SELECT COUNT(*) FROM " + session_calls(session));
    EXPECT_EQ(p.begins, calls) << session;
    EXPECT_EQ(p.ends, calls) << session;
    EXPECT_EQ(p.unbalanced, 0) << session;
    EXPECT_EQ(p.backwards, 0) << session;
    EXPECT_GE(p.descriptors, static_cast<int64_t>(p.tracks.size())) << session;
    EXPECT_EQ(p.packets, p.descriptors + p.begins + p.ends) << session;
    // Names are interned: once each, at most one per function of the session.
    EXPECT_GT(p.interned_names, 0);
    EXPECT_LE(p.interned_names,
              sql_int(db_, "SELECT functions FROM sessions WHERE name = '" + session + "'"));
  }
}

TEST_F(Export, OutputFilesAreNeverReplacedSilentlyNorLeftHalfWritten) {
  std::string file = dir_->file("kept.folded");
  test::write_file(file, "keep me\n");
  auto r = run_probeseek("export --db " + db_ + " --session stream --format folded -o " + file);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "already exists")) << r.err;
  EXPECT_EQ(test::read_file(file), "keep me\n");
  std::string link = dir_->file("link.folded");
  std::filesystem::create_symlink(file, link);
  r = run_probeseek("export --db " + db_ + " --session stream --format folded --force -o " + link);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "symbolic link")) << r.err;
  EXPECT_EQ(test::read_file(file), "keep me\n");
  run_ok("export --db " + db_ + " --session stream --format folded --force -o " + file);
  EXPECT_NE(test::read_file(file), "keep me\n");
  // A failure leaves neither the file nor a temporary one.
  std::filesystem::create_directory(dir_->file("out"));
  r = run_probeseek("export --db " + db_ +
                    " --session stream --format chrome --under no_such_function -o " +
                    dir_->file("out/x.json"));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "no_such_function")) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(dir_->file("out")));
}

// A task already inside a call when the recording started: its first exits have no entry, so
// the builder synthesizes their frames after the calls they adopt (parent_id > id; the frame's
// own id range is empty). The export opens them before their first child.
TEST(ExportAdopted, FramesEnteredBeforeTheRecordingEncloseTheirChildren) {
  test::TempDir dir;
  std::string text = dir.file("started-mid-call.txt");
  test::write_file(text, R"(cpus=2
         tcpchat-95    [001]    19.496187: funcgraph_entry:                   |      sock_write_iter() {
         tcpchat-95    [001]    19.496190: funcgraph_entry:        2.000 us   |        security_socket_sendmsg();
         tcpchat-95    [001]    19.496195: funcgraph_exit:         8.000 us   |      }
         tcpchat-95    [001]    19.496196: funcgraph_entry:        1.000 us   |      fsnotify();
         tcpchat-95    [001]    19.496199: funcgraph_exit:       + 12.343 us  |    }
         tcpchat-95    [001]    19.496201: funcgraph_exit:       + 14.000 us  |  }
         tcpchat-95    [001]    19.496210: funcgraph_entry:        3.000 us   |  syscall_exit_to_user_mode();
)");
  std::string db = dir.file("adopted.db");
  auto r = run_probeseek("import --db " + db + " " + text);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(sql_int(db, "SELECT COUNT(*) FROM calls WHERE parent_id > id"), 3);
  r = run_probeseek("export --db " + db + " --format folded --weight calls");
  ASSERT_EQ(r.status, 0) << r.err;
  Folded f = parse_folded(r.out);
  EXPECT_EQ(f.sum, 6);
  EXPECT_EQ(f.stacks["[unknown];[unknown];sock_write_iter;security_socket_sendmsg"], 1) << r.out;
  EXPECT_EQ(f.stacks["[unknown];[unknown];fsnotify"], 1) << r.out;
  EXPECT_EQ(f.stacks["syscall_exit_to_user_mode"], 1) << r.out;
  std::string file = dir.file("adopted.json");
  r = run_probeseek("export --db " + db + " --format chrome -o " + file);
  ASSERT_EQ(r.status, 0) << r.err;
  Chrome c = parse_chrome(test::read_file(file));
  EXPECT_EQ(c.complete, 6);
  EXPECT_EQ(nesting_violations(c.by_tid), 0);
  int64_t before = 0;
  for (auto& e : c.doc["traceEvents"])
    if (e.contains("args") && e["args"].contains("entry")) ++before;
  EXPECT_EQ(before, 2);
}

// A chain deeper than a folded line should hold: the weights below the cap are summed in one
// [deeper] frame, so the output stays linear in the calls and the sum exact.
TEST(ExportDeep, FoldedStacksAreCappedAndTheirSumKept) {
  test::TempDir dir;
  std::string text = "cpus=1\n";
  const int depth = 700;
  char head[128];
  for (int i = 0; i < depth; ++i) {
    std::snprintf(head, sizeof head,
                  "            sh-42    [000]    10.%06d: funcgraph_entry:                   |  ",
                  i);
    text +=
        head + std::string(2 * static_cast<size_t>(i), ' ') + "f" + std::to_string(i) + "() {\n";
  }
  for (int i = depth - 1; i >= 0; --i) {
    std::snprintf(head, sizeof head,
                  "            sh-42    [000]    11.%06d: funcgraph_exit:       %8.3f us   |  ",
                  depth - i, 1000.0 + i);
    text += head + std::string(2 * static_cast<size_t>(i), ' ') + "}\n";
  }
  test::write_file(dir.file("deep.txt"), text);
  std::string db = dir.file("deep.db");
  auto r = run_probeseek("import --db " + db + " " + dir.file("deep.txt"));
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(sql_int(db, "SELECT MAX(depth) FROM calls"), depth - 1);
  r = run_probeseek("export --db " + db + " --format folded --weight calls");
  ASSERT_EQ(r.status, 0) << r.err;
  Folded f = parse_folded(r.out);
  EXPECT_EQ(f.sum, depth);
  EXPECT_LE(f.stacks.size(), 512u);
  bool capped = false;
  for (auto& [stack, w] : f.stacks)
    if (stack.size() > 9 && stack.substr(stack.size() - 9) == ";[deeper]")
      capped = (w == depth - 511);
  EXPECT_TRUE(capped) << r.err;
  EXPECT_TRUE(contains(r.err, "calls deeper than 512 frames: ")) << r.err;
}

// A damaged copy: a call whose end_id is before its id, a parent cycle between two calls, a
// call whose range runs past its parent's, a NULL duration, a call with a negative id.
TEST_F(Export, DamagedRowsAreClampedCountedAndNeverCrash) {
  std::string bad = dir_->file("damaged.db");
  std::filesystem::copy_file(db_, bad);
  const std::string range = session_calls("stream");
  auto first = sql_int(bad, "SELECT first_call_id FROM sessions WHERE name = 'stream'");
  // Calls with children, deep enough to have a parent.
  auto a = sql_int(bad, "SELECT id FROM " + range +
                            " AND end_id > id + 3 AND parent_id IS NOT NULL "
                            "ORDER BY id LIMIT 1 OFFSET 10");
  auto b = sql_int(bad, "SELECT id FROM " + range +
                            " AND end_id > id + 3 AND parent_id IS NOT NULL "
                            "ORDER BY id LIMIT 1 OFFSET 50");
  auto c = sql_int(bad, "SELECT id FROM " + range +
                            " AND end_id > id + 3 AND parent_id IS NOT NULL "
                            "ORDER BY id LIMIT 1 OFFSET 90");
  ASSERT_GT(c, b);
  {
    auto db = Database::open(bad);
    ASSERT_TRUE(db) << db.error().message();
    std::string s = std::to_string(a), t = std::to_string(b), u = std::to_string(c);
    for (const std::string& sql : std::vector<std::string>{
             // end_id, parent_id and self_ns are computed from span, parent_offset and
             // children_ns (docs/schema.md): those are what a damaged file gets wrong.
             "UPDATE call_rows SET span = -7 WHERE id = " + s,  // end_id = id - 7
             "UPDATE call_rows SET parent_offset = id - " + t + " WHERE id = " + s,  // a <-> b
             "UPDATE call_rows SET parent_offset = id - " + s + " WHERE id = " + t,
             "UPDATE call_rows SET span = span + 100000, duration_ns = NULL, children_ns = NULL "
             "WHERE id = " +
                 u,
             // Its parent ends at once: what ends below an open call is bounded by the
             // nearest end known above it.
             "UPDATE call_rows SET duration_ns = 1 WHERE id = (SELECT parent_id FROM calls WHERE "
             "id "
             "= " +
                 u + ")",
             "UPDATE call_rows SET entry_ns = entry_ns - 1000000 WHERE id = " +
                 std::to_string(c + 1),
             "UPDATE call_rows SET duration_ns = -5 WHERE id = " + std::to_string(c + 2),
             // id -3, parent 99999999, end_id 5, function 987654, entry -1000, no exit,
             // flags 3, context 7 (unknown), depth 40, the first call's cpu.
             "INSERT INTO call_rows(id, session_id, task_id, function_id, entry_ns, duration_ns, "
             "parent_offset, span, children_ns, bits) SELECT -3, session_id, task_id, 987654, "
             "-1000, NULL, -3 - 99999999, 8, NULL, 3 | (7 << 2) | (40 << 5) | (cpu << 13) FROM "
             "calls WHERE id = " +
                 std::to_string(first),
             "UPDATE sessions SET first_call_id = -3 WHERE name = 'stream'"}) {
      auto done = db->exec(sql);
      ASSERT_TRUE(done) << done.error().message() << ": " << sql;
    }
  }
  // The damaged range now reaches into curl_v4's ids: only stream's own rows are exported.
  int64_t calls =
      sql_int(bad,
              "SELECT COUNT(*) FROM calls WHERE session_id = (SELECT id FROM sessions WHERE name = "
              "'stream')");
  for (std::string format : {"folded", "chrome", "perfetto"}) {
    std::string file = dir_->file("damaged." + format);
    auto r = run_probeseek("export --db " + bad + " --session stream --format " + format +
                           (format == "folded" ? " --weight calls" : "") + " -o " + file);
    ASSERT_EQ(r.status, 0) << format << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "repaired rows that did not nest")) << r.err;
    EXPECT_TRUE(contains(r.err, "end_before_id=1")) << r.err;
    EXPECT_TRUE(contains(r.err, "unknown_function=1")) << r.err;
    EXPECT_TRUE(contains(r.err, "unknown_context=1")) << r.err;
    if (format == "folded") {
      EXPECT_EQ(parse_folded(test::read_file(file)).sum, calls);
    }
    if (format == "chrome") {
      Chrome ch = parse_chrome(test::read_file(file));
      EXPECT_EQ(ch.complete, calls);
      EXPECT_EQ(nesting_violations(ch.by_tid), 0);
      EXPECT_EQ(ch.doc["otherData"]["clamped"]["end_before_id"], 1);
      EXPECT_GE(ch.doc["otherData"]["clamped"]["range_past_parent"].get<int64_t>(), 1);
    }
    if (format == "perfetto" && have_protoc()) {
      Perfetto p = decode_perfetto(file);
      EXPECT_EQ(p.begins, calls);
      EXPECT_EQ(p.unbalanced, 0);
      EXPECT_EQ(p.backwards, 0);
    }
  }
}

}  // namespace
}  // namespace probeseek
