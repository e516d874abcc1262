#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace probeseek::internal {
namespace {

std::mutex g_mutex;
std::deque<std::string> g_lines;  // guarded by g_mutex
constexpr size_t kKeep = 200;     // a verifier log can be long; its end says what failed
std::vector<std::string>* g_debug = nullptr;  // guarded by g_mutex; set by LibbpfDebugLines
size_t g_debug_max = 0;

int on_print(enum libbpf_print_level level, const char* format, va_list args) {
  std::lock_guard lock(g_mutex);
  if (level == LIBBPF_DEBUG && g_debug == nullptr) return 0;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, format, args);
  if (n <= 0) return 0;
  std::string text(buf);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) {
      if (g_debug != nullptr && g_debug->size() < g_debug_max)
        g_debug->emplace_back(text.substr(start, end - start));
      if (level != LIBBPF_DEBUG) g_lines.emplace_back(text.substr(start, end - start));
    }
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

LibbpfDebugLines::LibbpfDebugLines(size_t max_lines) {
  capture_libbpf_log();
  std::lock_guard lock(g_mutex);
  g_debug = new std::vector<std::string>();
  g_debug_max = max_lines;
}

LibbpfDebugLines::~LibbpfDebugLines() {
  std::lock_guard lock(g_mutex);
  delete g_debug;
  g_debug = nullptr;
}

std::vector<std::string> LibbpfDebugLines::take() {
  std::lock_guard lock(g_mutex);
  std::vector<std::string> out;
  out.swap(*g_debug);
  return out;
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
