// Issue 14: the report's flame graph (inline SVG) and call tree (<details>) of
// views/src/flame_html.h, on the profile of the real recording curl_v4.dat of Debian's
// 6.1.0-56-cloud-amd64 kernel (whole session and below __x64_sys_connect), and on a hostile
// profile built here: names that are markup, quotes, escape sequences, invalid UTF-8 and a
// megabyte long. The markup is checked with a small tag parser: balanced, no element the
// views did not write, frames nested inside their parents.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <regex>

#include "flame_html.h"
#include "probeseek/call_profile.h"
#include "probeseek/database.h"
#include "probeseek/store.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::contains;
using test::kernel_61;
using test::run_probeseek;

// The tags of a piece of markup, checked for balance. Attribute values are quoted with '"' and
// may hold no '<', '>' or '"' (the views escape them), so a '<' always starts a tag.
struct Markup {
  bool balanced = true;
  std::string error;
  std::map<std::string, int> elements;  // opened, by tag name
  int max_depth = 0;
};

Markup parse_markup(const std::string& s) {
  Markup m;
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = s.find('<', i)) != std::string::npos) {
    size_t end = s.find('>', i);
    if (end == std::string::npos) {
      m.balanced = false;
      m.error = "unterminated tag at " + std::to_string(i);
      return m;
    }
    std::string tag = s.substr(i + 1, end - i - 1);
    i = end + 1;
    // No quote left open inside a tag, no '<' inside one.
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0 || tag.find('<') != std::string::npos) {
      m.balanced = false;
      m.error = "bad tag <" + tag + ">";
      return m;
    }
    bool closing = !tag.empty() && tag[0] == '/';
    bool self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /"));
    if (closing) {
      if (open.empty() || open.back() != name) {
        m.balanced = false;
        m.error = "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
        return m;
      }
      open.pop_back();
    } else {
      ++m.elements[name];
      if (!self_closing) open.push_back(name);
      m.max_depth = std::max(m.max_depth, static_cast<int>(open.size()));
    }
  }
  if (!open.empty()) {
    m.balanced = false;
    m.error = "<" + open.back() + "> left open";
  }
  return m;
}

struct Frame {
  double x, w;
  int depth;
  std::string name;
};

// The frames of an SVG in document order (parents before children, depth first).
std::vector<Frame> frames_of(const std::string& svg) {
  static const std::regex re(
      R"re(<g class="frame" data-x="([0-9.]+)" data-w="([0-9.]+)" data-d="([0-9]+)" data-n="([^"]*)">)re");
  std::vector<Frame> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it)
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2]), std::stoi((*it)[3]), (*it)[4]});
  return out;
}

int64_t attribute_int(const std::string& s, const std::string& attribute) {
  std::smatch m;
  if (!std::regex_search(s, m, std::regex(attribute + "=\"([0-9]+)\""))) return -1;
  return std::stoll(m[1]);
}

size_t count_of(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t i = s.find(part); i != std::string::npos; i = s.find(part, i + 1)) ++n;
  return n;
}

class FlameHtml : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    std::string path = dir_->file("flame.db");
    auto r =
        run_probeseek("import --db " + path + " " + kernel_61("curl_v4.dat") + " --name curl_v4");
    ASSERT_EQ(r.status, 0) << r.err;
    auto db = Database::open(path, Database::Mode::kReadOnly);
    ASSERT_TRUE(db) << db.error().message();
    auto s = Store(*db).session("curl_v4");
    ASSERT_TRUE(s) << s.error().message();
    for (std::string under : {"", "__x64_sys_connect"}) {
      ProfileOptions o;
      o.scope.under = under;
      auto p = call_profile(*db, s->id, o);
      ASSERT_TRUE(p) << p.error().message();
      (under.empty() ? whole_ : connect_) = new CallProfile(std::move(*p));
    }
  }
  static void TearDownTestSuite() {
    delete whole_;
    delete connect_;
    delete dir_;
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline CallProfile* whole_ = nullptr;
  static inline CallProfile* connect_ = nullptr;
};

// Every frame lies inside the frame below it (its parent: the last frame one level down).
void expect_nested(const std::vector<Frame>& frames, double width) {
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].depth, 0);
  EXPECT_DOUBLE_EQ(frames[0].w, width);
  std::vector<const Frame*> at_depth;
  for (const Frame& f : frames) {
    ASSERT_GE(f.depth, 0);
    ASSERT_LE(static_cast<size_t>(f.depth), at_depth.size()) << f.name << " has no parent";
    at_depth.resize(f.depth);
    if (f.depth > 0) {
      const Frame& parent = *at_depth[f.depth - 1];
      EXPECT_GE(f.x, parent.x - 1e-9) << f.name << " in " << parent.name;
      EXPECT_LE(f.x + f.w, parent.x + parent.w + 1e-6) << f.name << " in " << parent.name;
    }
    EXPECT_GE(f.w, 0.5) << f.name;
    at_depth.push_back(&f);
  }
}

TEST_F(FlameHtml, WholeSessionSvgIsBalancedNestedAndCountsWhatItHid) {
  std::string svg = flame_graph_svg(*whole_, FlameOptions{});
  Markup m = parse_markup(svg);
  ASSERT_TRUE(m.balanced) << m.error;
  EXPECT_EQ(m.elements["svg"], 1);
  EXPECT_TRUE(contains(svg, "<svg class=\"flame\" id=\"flame\""));
  std::vector<Frame> frames = frames_of(svg);
  EXPECT_EQ(static_cast<size_t>(m.elements["g"]), frames.size());
  EXPECT_EQ(m.elements["rect"], m.elements["g"]);
  EXPECT_EQ(m.elements["title"], m.elements["g"]);
  expect_nested(frames, 1200);
  // Most of 200k paths are far narrower than half a pixel: left out, and said so.
  int64_t hidden = attribute_int(svg, "data-hidden");
  EXPECT_GT(hidden, 0);
  EXPECT_EQ(static_cast<size_t>(hidden) + frames.size(), whole_->nodes.size());
  EXPECT_TRUE(contains(svg, "frames narrower than 0.5 px not drawn"));
  // Interrupt work under its blue marker.
  EXPECT_TRUE(contains(svg, "data-n=\"[hardirq]\""));
  EXPECT_LT(svg.size(), 1500000u);
  std::cout << "[ measure  ] curl_v4 whole session: " << svg.size() << " bytes, " << frames.size()
            << " frames, " << hidden << " hidden\n";
}

TEST_F(FlameHtml, ConnectSvgHasTcpV4ConnectAboveConnect) {
  FlameOptions o;
  o.id = "flame-connect";
  std::string svg = flame_graph_svg(*connect_, o);
  Markup m = parse_markup(svg);
  ASSERT_TRUE(m.balanced) << m.error;
  std::vector<Frame> frames = frames_of(svg);
  expect_nested(frames, 1200);
  ASSERT_GE(frames.size(), 2u);
  EXPECT_EQ(frames[1].name, "__x64_sys_connect");
  EXPECT_DOUBLE_EQ(frames[1].w, 1200);  // the root's only child
  bool found = false;
  for (const Frame& f : frames) found |= f.name == "tcp_v4_connect" && f.depth > 1;
  EXPECT_TRUE(found);
  EXPECT_TRUE(contains(svg, "<title>tcp_v4_connect — 1 call, "));
  EXPECT_TRUE(contains(svg, "id=\"flame-connect\""));
  EXPECT_LT(svg.size(), 500000u);
  std::cout << "[ measure  ] curl_v4 below __x64_sys_connect: " << svg.size() << " bytes, "
            << frames.size() << " frames, " << attribute_int(svg, "data-hidden") << " hidden\n";
}

TEST_F(FlameHtml, CallsWeightMakesFramesAsWideAsTheirCalls) {
  FlameOptions o;
  o.weight = FlameWeight::kCalls;
  std::string svg = flame_graph_svg(*connect_, o);
  ASSERT_TRUE(parse_markup(svg).balanced);
  std::vector<Frame> frames = frames_of(svg);
  expect_nested(frames, 1200);
  // The root is as wide as every call below connect.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("Width: calls \\(([0-9,]+) calls\\)")));
  std::string calls = m[1];
  calls.erase(std::remove(calls.begin(), calls.end(), ','), calls.end());
  EXPECT_EQ(std::stoll(calls), connect_->report.calls_exported);
}

// A profile by hand: root, a function under it, and hostile names below that.
CallProfile hostile_profile(const std::vector<std::string>& names) {
  CallProfile p;
  p.names = {"entry_SYSCALL_64"};
  p.names.insert(p.names.end(), names.begin(), names.end());
  p.names.push_back("[softirq]");
  p.context_marker.assign(p.names.size(), 0);
  p.context_marker.back() = 1;
  p.nodes.resize(2);
  p.nodes[1] = {0, 1, 0, 1, 0, 0, {}};
  p.nodes[0].children = {1};
  for (uint32_t i = 1; i < p.names.size(); ++i) {
    ProfileNode n{1, 2, i, 1, 1000, 1000, {}};
    p.nodes[1].children.push_back(static_cast<uint32_t>(p.nodes.size()));
    p.nodes.push_back(n);
  }
  p.nodes[1].total_ns = p.nodes[1].self_ns = static_cast<int64_t>(names.size() + 1) * 1000 + 5;
  p.nodes[0].total_ns = p.nodes[1].total_ns;
  return p;
}

TEST_F(FlameHtml, HostileNamesAreEscaped) {
  const std::vector<std::string> names = {"<script>alert(1)</script>",
                                          "a\"b",
                                          "x'y&z",
                                          "\x1b]0;title\x07\x1b[31m",
                                          "bad\xff\xfeutf8\xc3",
                                          "</svg><img src=x onerror=alert(2)>",
                                          std::string(1 << 20, 'A')};
  CallProfile p = hostile_profile(names);
  FlameOptions fo;
  fo.id = "x\" onload=\"alert(3)";
  fo.min_width_px = 0;
  TreeOptions to;
  to.id = "<b>";
  for (const std::string& html : {flame_graph_svg(p, fo), call_tree_html(p, to)}) {
    Markup m = parse_markup(html);
    ASSERT_TRUE(m.balanced) << m.error;
    EXPECT_EQ(m.elements.count("script"), 0u);
    EXPECT_EQ(m.elements.count("img"), 0u);
    EXPECT_EQ(m.elements.count("b"), 0u);
    EXPECT_FALSE(contains(html, "<script"));
    EXPECT_FALSE(contains(html, "onload="));
    EXPECT_FALSE(contains(html, "\x1b"));
    EXPECT_FALSE(contains(html, "\xff"));
    EXPECT_TRUE(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    EXPECT_TRUE(contains(html, "a&quot;b"));
    EXPECT_TRUE(contains(html, "x&#39;y&amp;z"));
    EXPECT_TRUE(contains(html, "bad\\xff\\xfeutf8\\xc3"));
    EXPECT_TRUE(contains(html, "\\x1b[31m"));
    EXPECT_LT(html.size(), 20000u);  // the megabyte name is cut
    EXPECT_TRUE(contains(html, "AAAA…"));
  }
  EXPECT_EQ(html_escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(html_escape("\xe2\x80\x94 µs"), "\xe2\x80\x94 µs");  // valid UTF-8 stays
  EXPECT_EQ(html_escape("\xc0\xaf"), "\\xc0\\xaf");              // overlong '/'
}

TEST_F(FlameHtml, CallTreeIsNestedDetailsWithinItsLimits) {
  TreeOptions o;
  o.id = "tree-curl";
  std::string html = call_tree_html(*whole_, o);
  Markup m = parse_markup(html);
  ASSERT_TRUE(m.balanced) << m.error;
  EXPECT_TRUE(contains(html, "<div class=\"calltree\" id=\"tree-curl\">"));
  // One line per node shown (a <summary> or a leaf), at most max_nodes.
  size_t lines = count_of(html, "<summary>") + count_of(html, "<div class=\"leaf\">");
  EXPECT_EQ(static_cast<size_t>(m.elements["summary"]), count_of(html, "<summary>"));
  EXPECT_GT(lines, 1000u);
  EXPECT_LE(lines, o.max_nodes);
  EXPECT_GT(m.elements["details"], 100);
  EXPECT_GT(m.max_depth, 10);  // details in details
  // The first levels open, deeper ones closed.
  EXPECT_GT(count_of(html, "<details open>"), 0u);
  EXPECT_GT(count_of(html, "<details><summary>"), 0u);
  // What is not shown is summarised.
  EXPECT_TRUE(
      std::regex_search(html, std::regex("… [0-9,]+ more functions?, [0-9.]+ (ns|µs|ms|s)<")));
  EXPECT_LT(html.size(), 1000000u);
  std::cout << "[ measure  ] curl_v4 call tree, max_nodes " << o.max_nodes << ": " << html.size()
            << " bytes, " << lines << " lines\n";

  TreeOptions small;
  small.max_nodes = 40;
  small.max_children = 5;
  std::string little = call_tree_html(*whole_, small);
  ASSERT_TRUE(parse_markup(little).balanced);
  EXPECT_LE(count_of(little, "<summary>") + count_of(little, "<div class=\"leaf\">"), 40u);
  // The root has more than 5 children: the line after them says how many more.
  EXPECT_TRUE(std::regex_search(little, std::regex("… [0-9,]+ more functions, ")));
}

TEST_F(FlameHtml, CallTreeBelowConnectStartsAtConnect) {
  std::string html = call_tree_html(*connect_, TreeOptions{});
  ASSERT_TRUE(parse_markup(html).balanced);
  size_t first = html.find("<summary>");
  ASSERT_NE(first, std::string::npos);
  EXPECT_TRUE(std::regex_search(html.substr(first, 200),
                                std::regex("__x64_sys_connect — [0-9]+ calls?, ")));
  EXPECT_TRUE(contains(html, "tcp_v4_connect — 1 call, "));
  // Children by total time, largest first: the top-level line holds 100%.
  EXPECT_TRUE(contains(html.substr(first, 300), "(100.0%)"));
}

TEST(FormatDuration, ThreeSignificantDigits) {
  EXPECT_EQ(format_duration(0), "0 ns");
  EXPECT_EQ(format_duration(-5), "0 ns");
  EXPECT_EQ(format_duration(950), "950 ns");
  EXPECT_EQ(format_duration(1234), "1.23 µs");
  EXPECT_EQ(format_duration(999499), "999 µs");
  EXPECT_EQ(format_duration(999500), "1.00 ms");
  EXPECT_EQ(format_duration(45600000), "45.6 ms");
  EXPECT_EQ(format_duration(2000000000), "2.00 s");
  EXPECT_EQ(format_duration(1234000000000), "1234 s");
}

}  // namespace
}  // namespace probeseek
