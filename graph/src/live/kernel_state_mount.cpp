// Finding tracefs and debugfs. When they are not mounted, probeseek mounts them in a mount
// namespace of its own: the mounts vanish with the process (even after SIGKILL), so there is
// nothing to restore and nothing another process sees.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>

#include "kernel_state.h"
#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek::detail {

namespace {

// Mount points in /proc/self/mounts escape spaces and the like as \040 octal sequences.
std::string unescape_mount_path(std::string_view s) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

// Once per process: a private copy of the mount table, with propagation turned off so that
// nothing mounted here shows up in the namespace we came from.
Status enter_private_mount_namespace() {
  static bool done = false;
  if (done) return {};
  if (::unshare(CLONE_NEWNS) != 0)
    return runtime_error("cannot create a private mount namespace", "unshare(CLONE_NEWNS)", errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return runtime_error("cannot make the private mount namespace private", "/", errno);
  done = true;
  return {};
}

}  // namespace

std::optional<std::string> mount_point_of(const std::string& mounts_path,
                                          std::string_view fs_type) {
  auto reader = LineReader::open(mounts_path);
  if (!reader) return std::nullopt;
  std::optional<std::string> found;
  std::string_view line;
  while (reader->next(line)) {
    auto f = split_ws(line);
    if (f.size() < 3 || f[2] != fs_type) continue;
    std::string point = unescape_mount_path(f[1]);
    // The canonical place wins over another mount of the same filesystem.
    if (!found || point == "/sys/kernel/tracing" || point == "/sys/kernel/debug") found = point;
  }
  return found;
}

Result<std::string> find_tracefs(const std::string& mounts_path, bool* mounted_privately) {
  if (mounted_privately) *mounted_privately = false;
  if (auto point = mount_point_of(mounts_path, "tracefs")) return *point;
  // Kernels before 4.1, or a tracefs only reachable through debugfs.
  if (auto debugfs = mount_point_of(mounts_path, "debugfs");
      debugfs && ::access((*debugfs + "/tracing/current_tracer").c_str(), F_OK) == 0)
    return *debugfs + "/tracing";
  if (::geteuid() != 0)
    return runtime_error("tracefs is not mounted", "/sys/kernel/tracing", 0,
                         "run as root (probeseek then mounts it for itself), or mount it: "
                         "mount -t tracefs nodev /sys/kernel/tracing");
  if (auto s = enter_private_mount_namespace(); !s) return tl::unexpected(s.error());
  const char* point = "/sys/kernel/tracing";
  if (::mount("tracefs", point, "tracefs", 0, nullptr) != 0)
    return runtime_error("cannot mount tracefs", point, errno,
                         "this kernel may lack CONFIG_TRACING; see 'probeseek doctor'");
  if (mounted_privately) *mounted_privately = true;
  return std::string(point);
}

std::optional<std::string> find_or_mount(const std::string& mounts_path, const char* fs_type,
                                         const char* point) {
  if (auto found = mount_point_of(mounts_path, fs_type)) return *found;
  if (::geteuid() != 0 || !enter_private_mount_namespace()) return std::nullopt;
  if (::mount(fs_type, point, fs_type, 0, nullptr) != 0) return std::nullopt;
  return std::string(point);
}

std::optional<std::string> find_debugfs(const std::string& mounts_path) {
  return find_or_mount(mounts_path, "debugfs", "/sys/kernel/debug");
}

}  // namespace probeseek::detail
