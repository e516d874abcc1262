// Issue 14: call_profile() (call_profile.h), the calling-context tree behind the report's flame
// graph and call tree, on the real recording curl_v4.dat of Debian's 6.1.0-56-cloud-amd64
// kernel (trace-cmd, 283,685 calls). Its calls are checked against export's report and the
// database, its times for nesting (a node holds at least its children), and max_nodes for
// keeping the totals exact when paths are merged into "[more]".
#include <gtest/gtest.h>

#include "probeseek/call_profile.h"
#include "probeseek/database.h"
#include "probeseek/store.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::kernel_61;
using test::run_probeseek;

class CallProfileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_path_ = dir_->file("profile.db");
    auto r = run_probeseek("import --db " + db_path_ + " " + kernel_61("curl_v4.dat") +
                           " --name curl_v4");
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    auto db = Database::open(db_path_, Database::Mode::kReadOnly);
    ASSERT_TRUE(db) << db.error().message();
    db_.emplace(std::move(*db));
    auto s = Store(*db_).session("curl_v4");
    ASSERT_TRUE(s) << s.error().message();
    session_ = s->id;
  }

  CallProfile profile(const std::string& under = "", size_t max_nodes = 200000) {
    ProfileOptions o;
    o.scope.under = under;
    o.max_nodes = max_nodes;
    auto p = call_profile(*db_, session_, o);
    EXPECT_TRUE(p) << p.error().message();
    return p ? std::move(*p) : CallProfile{};
  }

  int64_t sql_int(const std::string& query) {
    auto st = db_->prepare(query);
    EXPECT_TRUE(st) << st.error().message();
    if (!st) return -1;
    auto row = st->step();
    EXPECT_TRUE(row && *row) << query;
    return row && *row ? st->int_at(0) : -1;
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_path_;
  std::optional<Database> db_;
  int64_t session_ = 0;
};

const std::string& name(const CallProfile& p, uint32_t node) {
  return p.names.at(p.nodes.at(node).name);
}

bool is_context_marker(const CallProfile& p, uint32_t node) {
  const std::string& n = name(p, node);
  return p.context_marker.at(p.nodes[node].name) && n != "[deeper]" && n != "[more]";
}

// Calls over every node but the root; context markers ("[softirq]"...) hold none of their own.
int64_t calls_in(const CallProfile& p) {
  int64_t sum = 0;
  for (size_t i = 1; i < p.nodes.size(); ++i) {
    if (is_context_marker(p, static_cast<uint32_t>(i))) {
      EXPECT_EQ(p.nodes[i].calls, 0) << name(p, static_cast<uint32_t>(i));
      continue;
    }
    sum += p.nodes[i].calls;
  }
  return sum;
}

int64_t children_total(const CallProfile& p, uint32_t node) {
  int64_t sum = 0;
  for (uint32_t c : p.nodes[node].children) sum += p.nodes[c].total_ns;
  return sum;
}

TEST_F(CallProfileTest, CallsSumToTheCallsExportedAndTheDatabase) {
  CallProfile p = profile();
  EXPECT_FALSE(p.truncated);
  EXPECT_EQ(p.report.calls_exported, 283685);
  EXPECT_EQ(calls_in(p), p.report.calls_exported);
  EXPECT_EQ(p.nodes[0].calls, 0);
  EXPECT_EQ(p.nodes[0].total_ns, children_total(p, 0));
  EXPECT_GT(p.nodes[0].total_ns, 0);
  // Interrupt work is under its marker, as in the folded export.
  bool hardirq = false;
  for (uint32_t c : p.nodes[0].children) hardirq |= name(p, c) == "[hardirq]";
  EXPECT_TRUE(hardirq);
}

TEST_F(CallProfileTest, UnderConnectTheOnlyChildOfTheRootIsConnect) {
  CallProfile p = profile("__x64_sys_connect");
  ASSERT_EQ(p.nodes[0].children.size(), 1u);
  uint32_t top = p.nodes[0].children[0];
  EXPECT_EQ(name(p, top), "__x64_sys_connect");
  EXPECT_EQ(p.nodes[top].calls, sql_int("SELECT COUNT(*) FROM calls c JOIN functions f ON "
                                        "f.id = c.function_id WHERE f.name = '__x64_sys_connect'"));
  // The calls below connect: the database's descendants of its call, and connect itself.
  EXPECT_EQ(calls_in(p), p.report.calls_exported);
  EXPECT_EQ(p.report.calls_exported,
            sql_int("SELECT COUNT(*) FROM calls c JOIN calls u ON c.id BETWEEN u.id AND u.end_id "
                    "AND c.task_id = u.task_id JOIN functions f ON f.id = u.function_id "
                    "WHERE f.name = '__x64_sys_connect'"));
  // tcp_v4_connect is below it, through the socket layer.
  bool found = false;
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    if (name(p, static_cast<uint32_t>(i)) != "tcp_v4_connect") continue;
    found = true;
    uint32_t at = static_cast<uint32_t>(i);
    while (p.nodes[at].depth > 1) at = p.nodes[at].parent;
    EXPECT_EQ(at, top);
  }
  EXPECT_TRUE(found);
}

TEST_F(CallProfileTest, ANodeHoldsAtLeastItsChildren) {
  for (std::string under : {"", "__x64_sys_connect"}) {
    CallProfile p = profile(under);
    int64_t checked = 0;
    for (size_t i = 0; i < p.nodes.size(); ++i) {
      const ProfileNode& n = p.nodes[i];
      EXPECT_GE(n.total_ns, children_total(p, static_cast<uint32_t>(i)))
          << under << ": " << name(p, static_cast<uint32_t>(i));
      EXPECT_GE(n.self_ns, 0);
      EXPECT_LE(n.self_ns, n.total_ns);
      for (uint32_t c : n.children) {
        EXPECT_EQ(p.nodes[c].parent, i);
        EXPECT_EQ(p.nodes[c].depth, n.depth + 1);
      }
      ++checked;
    }
    EXPECT_GT(checked, 100) << under;
  }
}

TEST_F(CallProfileTest, MaxNodesMergesTheRestIntoMoreWithTheTotalsKept) {
  CallProfile whole = profile();
  // 100 cuts inside interrupt work too: "[more]" holds calls whose interrupts sit below it.
  for (size_t max_nodes : {1, 100, 3000}) {
    CallProfile small = profile("", max_nodes);
    EXPECT_TRUE(small.truncated) << max_nodes;
    // Only "[more]" nodes are added past the limit.
    size_t more = 0;
    for (size_t i = 0; i < small.nodes.size(); ++i)
      more += name(small, static_cast<uint32_t>(i)) == "[more]";
    EXPECT_GT(more, 0u) << max_nodes;
    EXPECT_LE(small.nodes.size(), max_nodes + more);
    EXPECT_EQ(small.nodes[0].total_ns, whole.nodes[0].total_ns) << max_nodes;
    EXPECT_EQ(calls_in(small), small.report.calls_exported) << max_nodes;
    EXPECT_EQ(small.report.calls_exported, whole.report.calls_exported) << max_nodes;
    for (size_t i = 0; i < small.nodes.size(); ++i)
      EXPECT_GE(small.nodes[i].total_ns, children_total(small, static_cast<uint32_t>(i)))
          << max_nodes << ": " << name(small, static_cast<uint32_t>(i));
  }
}

}  // namespace
}  // namespace probeseek
