// Issue 14: `probeseek report` on the real recordings of 6.1.0-56 (curl_v4, a new connection;
// stream, a long-lived one). The page is checked as text here; tests/browser loads it in
// chromium and checks the DOM, with and without JavaScript.
#include <gtest/gtest.h>

#include <regex>

#include "probeseek/database.h"
#include "probeseek/verification_store.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::contains;
using test::kernel_61;
using test::run_probeseek;

class Reported : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("report.db");
    auto r = run_probeseek("import --db " + db_ + " --btf " + kernel_61("vmlinux.btf") + " " +
                           kernel_61("curl_v4.dat") + " " + kernel_61("stream.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
    // A verify run as `probeseek verify` stores it, with what a hostile or careless kernel
    // string could hold: markup, and a kernel address.
    auto db = Database::open(db_, Database::Mode::kReadWrite);
    ASSERT_TRUE(db) << db.error().message();
    VerificationRow row;
    row.session_id = 1;
    row.function = "tcp_sendmsg";
    row.command = "curl -s http://127.0.0.1:8080/<script>alert(1)</script>";
    row.verified_at = "2026-12-07T20:00:00Z";
    row.rank = 1;
    row.attached = true;
    row.how = "kprobe";
    row.events = 2;
    row.summary = "fired 2 times; sk at 0xffff888003a1c000 <b>bold</b>";
    row.samples = {"pid 42 curl tcp_sendmsg sk=ffff888003a1c000"};
    ASSERT_TRUE(store_verifications(*db, {row}));
    html_ = make("--arg 'struct sock *'", "report.html");
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string make(const std::string& args, const std::string& name) {
    auto r = run_probeseek("report --db " + db_ + " " + args + " -o " + dir_->file(name));
    EXPECT_EQ(r.status, 0) << r.err;
    return test::read_file(dir_->file(name));
  }
  static std::string section(const std::string& html, const std::string& id) {
    size_t at = html.find("<section id=\"" + id + "\"");
    if (at == std::string::npos) return "";
    return html.substr(at, html.find("</section>", at) - at);
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_, html_;
};

TEST_F(Reported, IsOneSelfContainedPage) {
  ASSERT_TRUE(html_.starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(html_.ends_with("</html>\n"));
  EXPECT_LT(html_.size(), 5u << 20);  // the bound for curl_v4
  // Nothing is fetched: no external script, style, font, image or frame.
  for (const char* external : {" src=", "<link", "@import", "url(", "<iframe", "<img"})
    EXPECT_FALSE(contains(html_, external)) << external;
  for (const char* id :
       {"sessions", "ranking", "explain", "verify", "tree", "flame", "diff", "probe"})
    EXPECT_FALSE(section(html_, id).empty()) << id;
}

TEST_F(Reported, RanksExplainsAndProbesTheBestCandidate) {
  // tcp_sendmsg is hit by both recordings; it is what the ranking puts first for struct sock *.
  EXPECT_TRUE(contains(html_, "<code id=\"chosen\">tcp_sendmsg</code>"));
  std::string ranking = section(html_, "ranking");
  EXPECT_TRUE(contains(ranking, "id=\"rank-chosen\"><code>tcp_sendmsg</code>"));
  EXPECT_TRUE(contains(ranking, "fits struct proto member sendmsg"));
  EXPECT_TRUE(contains(ranking, "id=\"hook-set\""));
  std::string explain = section(html_, "explain");
  EXPECT_TRUE(
      contains(explain, "int tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)"));
  EXPECT_TRUE(contains(explain, "__x64_sys_sendto"));
  EXPECT_TRUE(contains(explain, "__x64_sys_write"));
  std::string probe = section(html_, "probe");
  EXPECT_TRUE(contains(probe, "SEC(&quot;kprobe/tcp_sendmsg&quot;)")) << probe.substr(0, 2000);
  EXPECT_FALSE(contains(probe, "vmlinux.h</code></summary>"));  // megabytes, not shown
}

TEST_F(Reported, TreesAreBelowTheSyscallOfEachSession) {
  std::string tree = section(html_, "tree");
  EXPECT_TRUE(contains(tree, "curl_v4 below <code>__x64_sys_sendto</code>"));
  EXPECT_TRUE(contains(tree, "stream below <code>__x64_sys_write</code>"));
  EXPECT_TRUE(contains(tree, "<details"));
  EXPECT_TRUE(contains(tree, "tcp_sendmsg"));
  // --under sets the root for every session; stream never connected.
  std::string under = make("--arg 'struct sock *' --under __x64_sys_connect", "under.html");
  std::string t = section(under, "tree");
  EXPECT_TRUE(contains(t, "curl_v4 below <code>__x64_sys_connect</code>"));
  EXPECT_TRUE(contains(t, "tcp_v4_connect"));
  EXPECT_TRUE(contains(t, "__x64_sys_connect was not called in this session"));
}

TEST_F(Reported, FlameGraphsAndTheDiff) {
  std::string flame = section(html_, "flame");
  EXPECT_EQ(std::count(flame.begin(), flame.end(), '<') > 100, true);
  EXPECT_TRUE(contains(flame, "id=\"flame-0\""));
  EXPECT_TRUE(contains(flame, "id=\"flame-1\""));
  EXPECT_TRUE(contains(flame, "<script>"));
  std::string diff = section(html_, "diff");
  EXPECT_TRUE(contains(diff, "Diff: curl_v4 and stream"));
  EXPECT_TRUE(contains(diff, "<code>tcp_sendmsg</code>"));
  EXPECT_TRUE(contains(diff, "Only in curl_v4"));
  // One session: no diff.
  std::string one = make("--session curl_v4", "one.html");
  EXPECT_TRUE(section(one, "diff").empty());
  EXPECT_FALSE(contains(one, "href=\"#diff\""));
}

TEST_F(Reported, EscapesWhatItQuotesAndHidesAddresses) {
  std::string verify = section(html_, "verify");
  EXPECT_TRUE(contains(verify, "fired 2 times; sk at [address] &lt;b&gt;bold&lt;/b&gt;"));
  EXPECT_TRUE(contains(verify, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(contains(verify, "sk=[address]"));
  EXPECT_FALSE(contains(html_, "<script>alert"));
  EXPECT_FALSE(std::regex_search(html_, std::regex("ffff[0-9a-f]{12}")));
  std::string shown = make("--arg 'struct sock *' --with-addresses", "addresses.html");
  EXPECT_TRUE(contains(section(shown, "verify"), "sk at 0xffff888003a1c000"));
}

TEST_F(Reported, RefusesBadInputAndKeepsAnExistingFile) {
  auto r = run_probeseek("report --db " + db_ + " -o " + dir_->file("report.html"));
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "--force")) << r.err;
  r = run_probeseek("report --db " + db_ + " --session nosuch -o " + dir_->file("x.html"));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("x.html")));
  r = run_probeseek("report --db " + db_ + " --function '' -o " + dir_->file("y.html"));
  EXPECT_EQ(r.status, 2) << r.err;
}

}  // namespace
}  // namespace probeseek
