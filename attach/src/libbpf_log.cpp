#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <deque>
#include <mutex>

namespace probeseek::internal {
namespace {

std::mutex g_mutex;
std::deque<std::string> g_lines;  // guarded by g_mutex
constexpr size_t kKeep = 200;     // a verifier log can be long; its end says what failed

int on_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, format, args);
  if (n <= 0) return 0;
  std::string text(buf);
  std::lock_guard lock(g_mutex);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) g_lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  while (g_lines.size() > kKeep) g_lines.pop_front();
  return 0;
}

}  // namespace

void capture_libbpf_log() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(on_print); });
}

void clear_libbpf_log() {
  std::lock_guard lock(g_mutex);
  g_lines.clear();
}

std::string libbpf_log_tail(size_t max_lines) {
  std::lock_guard lock(g_mutex);
  std::string out;
  size_t first = g_lines.size() > max_lines ? g_lines.size() - max_lines : 0;
  for (size_t i = first; i < g_lines.size(); ++i) {
    if (!out.empty()) out += "; ";
    out += g_lines[i];
  }
  return out;
}

}  // namespace probeseek::internal
