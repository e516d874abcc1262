#include "probeseek/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace probeseek {

ProgressLine::ProgressLine(bool terminal, Write write, Clock now,
                           std::chrono::milliseconds interval, size_t columns)
    : terminal_(terminal),
      write_(std::move(write)),
      now_(std::move(now)),
      interval_(interval),
      columns_(columns),
      start_(now_()) {}

ProgressLine ProgressLine::on_stderr() {
  const bool terminal = stderr_is_terminal();
  size_t columns = 0;
  winsize ws{};
  if (terminal && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
    columns = ws.ws_col - 1u;  // the cursor stays on the line
  return ProgressLine(
      terminal,
      [](std::string_view s) {
        std::fwrite(s.data(), 1, s.size(), stderr);
        std::fflush(stderr);
      },
      std::chrono::steady_clock::now, std::chrono::milliseconds(100), columns);
}

ProgressLine::~ProgressLine() {
  clear();
}

bool ProgressLine::stderr_is_terminal() {
  return isatty(STDERR_FILENO) == 1;
}

void ProgressLine::update(std::string_view text, bool now) {
  if (!terminal_) return;
  const auto t = now_();
  if (ever_ && !now && t - last_ < interval_) return;
  ever_ = true;
  last_ = t;
  if (columns_ > 0 && text.size() > columns_) text = text.substr(0, columns_);
  std::string line = "\r";
  line += text;
  // Blank what is left of a longer previous line.
  if (shown_ && width_ > text.size()) {
    line.append(width_ - text.size(), ' ');
    line.append("\r").append(text);
  }
  write_(line);
  shown_ = true;
  width_ = text.size();
}

void ProgressLine::clear() {
  if (!terminal_ || !shown_) return;
  write_("\r" + std::string(width_, ' ') + "\r");
  shown_ = false;
  width_ = 0;
  ever_ = false;  // the next update after other output is drawn at once
}

std::string ProgressLine::elapsed() const {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(now_() - start_).count();
  if (s < 60) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0 || v >= 100)
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string human_count(uint64_t n) {
  char buf[32];
  if (n >= 1000000)
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
  else if (n >= 1000)
    std::snprintf(buf, sizeof buf, "%.0fk", static_cast<double>(n) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
  return buf;
}

uint64_t process_bytes_read() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value)
    if (key == "rchar:") return value;
  return 0;
}

}  // namespace probeseek
