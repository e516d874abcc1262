// A line on a terminal that says how far long work has got ("import: 512 MiB of 1.2 GiB,
// 4.1M calls, 12 s"), rewritten in place with '\r' as trace-cmd and apt do. Library code
// reports progress through its own callbacks; only cli/ owns a ProgressLine and prints.
// When the stream is not a terminal (a pipe, a file, a test, CI) it writes nothing at all, so
// such output stays what it was.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace probeseek {

class ProgressLine {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Write = std::function<void(std::string_view)>;

  // `terminal`: whether `write` reaches a terminal (stderr_is_terminal()); `now` is the clock
  // (tests pass their own). At most one update per `interval` is shown; text is cut to
  // `columns` (0: not cut), since a line that wraps cannot be rewritten with '\r'.
  ProgressLine(bool terminal, Write write, Clock now = std::chrono::steady_clock::now,
               std::chrono::milliseconds interval = std::chrono::milliseconds(100),
               size_t columns = 0);
  // On stderr, when it is a terminal.
  static ProgressLine on_stderr();
  ~ProgressLine();  // clears the line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Shows `text` in place of the last update, unless one was shown less than `interval` ago;
  // `now` shows it regardless (a change of phase, which should not be skipped).
  void update(std::string_view text, bool now = false);
  // Erases the line (before other output, and at the end); the next update draws it again.
  void clear();
  // Time since construction: "12 s", "2 min 5 s".
  std::string elapsed() const;
  bool active() const { return terminal_; }

  static bool stderr_is_terminal();

 private:
  bool terminal_;
  Write write_;
  Clock now_;
  std::chrono::milliseconds interval_;
  size_t columns_;
  std::chrono::steady_clock::time_point start_, last_{};
  bool shown_ = false, ever_ = false;
  size_t width_ = 0;  // of the line on screen, to blank it
};

// "512 KiB", "1.2 GiB"; "4.1M", "610k", "17" (calls, rows).
std::string human_bytes(uint64_t bytes);
std::string human_count(uint64_t n);
// Bytes this process has read so far through read(2) and pread(2) (/proc/self/io rchar); 0
// when the kernel does not say. The trace readers read with pread, so the difference over an
// import is about the file's size.
uint64_t process_bytes_read();

}  // namespace probeseek
