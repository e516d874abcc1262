// The progress line (common/include/probeseek/progress.h): throttled, rewritten in place,
// cleared at the end, and silent when the stream is not a terminal. A fake clock drives it:
// nothing here depends on how fast the machine is.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "probeseek/progress.h"

namespace probeseek {
namespace {

struct Fake {
  std::chrono::steady_clock::time_point t{};
  std::vector<std::string> writes;
  ProgressLine line(bool terminal, size_t columns = 0) {
    return ProgressLine(
        terminal, [this](std::string_view s) { writes.emplace_back(s); }, [this] { return t; },
        std::chrono::milliseconds(100), columns);
  }
  void advance(int ms) { t += std::chrono::milliseconds(ms); }
};

TEST(ProgressLine, ThrottledToOneUpdatePerInterval) {
  Fake f;
  {
    auto p = f.line(true);
    p.update("import: 1 MiB of 10 MiB");  // the first is shown at once
    for (int i = 0; i < 9; ++i) {
      f.advance(10);
      p.update("import: skipped");  // within 100 ms of the last shown
    }
    f.advance(10);  // 100 ms after the first
    p.update("import: 5 MiB of 10 MiB");
    f.advance(99);
    p.update("import: skipped");
    ASSERT_EQ(f.writes.size(), 2u);
    p.update("import: writing", true);  // a change of phase is shown at once
    ASSERT_EQ(f.writes.size(), 3u);
    EXPECT_EQ(f.writes[2], "\rimport: writing" + std::string(8, ' ') + "\rimport: writing");
    f.writes.pop_back();
    EXPECT_EQ(f.writes[0], "\rimport: 1 MiB of 10 MiB");
    EXPECT_EQ(f.writes[1], "\rimport: 5 MiB of 10 MiB");
  }
  // Destroyed: the line is blanked and the cursor left at its start.
  ASSERT_EQ(f.writes.size(), 3u);
  EXPECT_EQ(f.writes[2], "\r" + std::string(15, ' ') + "\r");  // as wide as the last shown
}

TEST(ProgressLine, ShorterTextBlanksTheRestOfTheLongerOne) {
  Fake f;
  auto p = f.line(true);
  p.update("kernels add: 3 of 17: linux-image-6.12");
  f.advance(200);
  p.update("kernels add: 4 of 17");
  ASSERT_EQ(f.writes.size(), 2u);
  EXPECT_EQ(f.writes[1],
            "\rkernels add: 4 of 17" + std::string(18, ' ') + "\rkernels add: 4 of 17");
}

TEST(ProgressLine, ClearedBeforeOtherOutputAndDrawnAgainAtOnce) {
  Fake f;
  auto p = f.line(true);
  p.update("abc");
  p.clear();
  p.clear();         // nothing on screen: nothing written
  p.update("abcd");  // at the same instant: not throttled after a clear
  ASSERT_EQ(f.writes.size(), 3u);
  EXPECT_EQ(f.writes[1], "\r   \r");
  EXPECT_EQ(f.writes[2], "\rabcd");
}

TEST(ProgressLine, CutToTheTerminalWidth) {
  Fake f;
  auto p = f.line(true, 5);
  p.update("export: 1.1M of 4.5M calls");
  ASSERT_EQ(f.writes.size(), 1u);
  EXPECT_EQ(f.writes[0], "\rexpor");
}

TEST(ProgressLine, NothingAtAllWhenNotATerminal) {
  Fake f;
  {
    auto p = f.line(false);
    for (int i = 0; i < 5; ++i) {
      p.update("import: 1 MiB");
      f.advance(1000);
    }
    p.clear();
    EXPECT_FALSE(p.active());
  }
  EXPECT_TRUE(f.writes.empty());
}

TEST(ProgressLine, HumanUnits) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(512ull << 20), "512 MiB");
  EXPECT_EQ(human_bytes(1288490189ull), "1.2 GiB");
  EXPECT_EQ(human_count(17), "17");
  EXPECT_EQ(human_count(610000), "610k");
  EXPECT_EQ(human_count(4100000), "4.1M");
  Fake f;
  auto p = f.line(true);
  f.advance(125000);
  EXPECT_EQ(p.elapsed(), "2 min 5 s");
}

}  // namespace
}  // namespace probeseek
