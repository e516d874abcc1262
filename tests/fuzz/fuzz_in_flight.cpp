// Kernel stacks as attach reads them for calls in flight (attach/in_flight.h). The first byte
// picks: the stack parser and the frame matcher on the rest, or the whole scan of a /proc tree
// written from the input (a task's comm: the bytes up to the first NUL, at most 64; its stack:
// the rest). Every name found must be a kernel symbol name, and every warning printable.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "probeseek/in_flight.h"
#include "probeseek/text.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool has_control(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

const std::string& proc_root() {
  static const std::string root = [] {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "probeseek-fuzz-proc-XXXXXX").string();
    static std::string dir = mkdtemp(tmpl.data());
    std::filesystem::create_directories(dir + "/proc/99/task/99");
    // Removed when the process exits normally (ctest replays); libFuzzer ends with _Exit and
    // leaves it in TMPDIR.
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return dir + "/proc";
  }();
  return root;
}

void write(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace probeseek;
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    for (const std::string& f : internal::kernel_stack_functions(text)) {
      check(is_kernel_symbol_name(f));
      (void)internal::frame_is_function(f, "inet_csk_accept");
      (void)internal::frame_is_function("inet_csk_accept.cold.1", f);
    }
    return 0;
  }
  size_t nul = text.find('\0');
  std::string_view comm = text.substr(0, std::min<size_t>(nul, 64));
  std::string_view stack = nul == std::string_view::npos ? "" : text.substr(nul + 1);
  const std::string task = proc_root() + "/99/task/99";
  write(task + "/comm", comm);
  write(task + "/stack", stack);
  AttachedProbe accept, clone;
  accept.function = accept.symbol = "inet_csk_accept";
  accept.at_return = true;
  clone.function = "tcp_v4_connect";
  clone.symbol = "tcp_v4_connect.isra.0";
  clone.at_return = true;
  InFlightOptions options;
  options.proc_root = proc_root();
  InFlightScan scan = scan_in_flight({&accept, &clone}, options);
  check(scan.stacks_read == 1 && scan.tasks.size() <= 2);
  for (const InFlightTask& t : scan.tasks) {
    check(is_kernel_symbol_name(t.frame) && t.pid == 99 && t.comm.size() <= 64);
    check(!has_control(in_flight_warning(t)));
  }
  check(!has_control(scan.cost()) && !has_control(scan.unreadable_why()));
  return 0;
}
