// Debian's archive as apt knows it: the linux-image packages (apt-cache, no network) and a
// download cache filled with apt-get download.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "probeseek/child.h"
#include "probeseek/kernel_image.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

// A package name as Debian allows it, and a linux-image one: it reaches argv and a file name.
bool is_kernel_package_name(std::string_view s) {
  if (!starts_with(s, "linux-image-") || s.size() > 200) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-';
  });
}

// "linux-image-6.1.0-56-cloud-amd64", "linux-image-6.12.117+deb12-amd64": a version with three
// numbers. Meta packages ("linux-image-6.12-amd64") have two.
bool has_full_version(std::string_view name) {
  std::string_view v = name.substr(std::string_view("linux-image-").size());
  int dots = 0;
  size_t i = 0;
  for (; i < v.size() && ((v[i] >= '0' && v[i] <= '9') || v[i] == '.'); ++i) dots += v[i] == '.';
  return dots == 2 && i > 0 && v[0] != '.';
}

// Natural order ("6.1.0-9" < "6.1.0-10"), as sort -V.
bool version_less(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && digit(a[i2])) ++i2;
      while (j2 < b.size() && digit(b[j2])) ++j2;
      std::string_view x = a.substr(i, i2 - i), y = b.substr(j, j2 - j);
      while (x.size() > 1 && x[0] == '0') x.remove_prefix(1);
      while (y.size() > 1 && y[0] == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::optional<std::string> cached_deb(const std::string& package, const std::string& dir) {
  std::error_code ec;
  std::string prefix = package + "_";
  std::vector<std::string> found;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (starts_with(name, prefix) && name.size() > 4 && name.substr(name.size() - 4) == ".deb" &&
        it->is_regular_file(ec))
      found.push_back(it->path().string());
  }
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end(),
            [](const std::string& a, const std::string& b) { return version_less(a, b); });
  return found.back();
}

}  // namespace

Result<std::vector<std::string>> debian_kernel_packages() {
  auto run = run_child({"apt-cache", "search", "--names-only", "^linux-image-[0-9]"});
  if (!run) return tl::unexpected(run.error());
  if (!run->ok())
    return runtime_error("apt-cache search failed", "apt-cache", 0,
                         std::string(trim(run->err.substr(0, 300))));
  std::set<std::string> names;
  for_each_line(run->out, [&](std::string_view line) {
    std::string_view name = line.substr(0, line.find(' '));
    if (!is_kernel_package_name(name) || !has_full_version(name)) return;
    if (name.ends_with("-dbg") || name.ends_with("-signed-template")) return;
    names.emplace(name);
  });
  std::vector<std::string> out;
  for (const std::string& n : names) {
    constexpr std::string_view kUnsigned = "-unsigned";
    if (std::string_view(n).ends_with(kUnsigned) &&
        names.count(n.substr(0, n.size() - kUnsigned.size())))
      continue;  // the signed build of the same kernel is listed
    out.push_back(n);
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return version_less(a, b); });
  return out;
}

Result<std::string> fetch_debian_package(const std::string& package, const std::string& cache_dir) {
  if (!is_kernel_package_name(package))
    return bad_input("not a linux-image package name", package,
                     "names look like linux-image-6.1.0-56-cloud-amd64 ([a-z0-9.+-] only)");
  std::error_code ec;
  if (!std::filesystem::is_directory(cache_dir, ec)) {
    std::filesystem::create_directories(std::filesystem::path(cache_dir).parent_path(), ec);
    if (::mkdir(cache_dir.c_str(), 0755) != 0 && errno != EEXIST)
      return runtime_error("cannot create the package cache", cache_dir, errno);
  }
  if (auto deb = cached_deb(package, cache_dir)) return *deb;

  // apt-get download writes the final name as it goes: it runs in a staging directory of its
  // own, and the finished .deb is renamed into the cache, so a reader (a parallel test, a second
  // `kernels add`, a download killed half way) never finds a partial package there.
  std::string staging = cache_dir + "/.download-XXXXXX";
  if (!::mkdtemp(staging.data()))
    return runtime_error("cannot create a download directory", cache_dir, errno);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{staging};
  ::chmod(staging.c_str(), 0755);  // apt downloads as the _apt user when it can
  ChildOptions opts;
  opts.cwd = staging;
  opts.timeout = std::chrono::minutes(15);
  auto run = run_child({"apt-get", "download", "-q", package}, opts);
  if (!run) return tl::unexpected(run.error());
  if (!run->ok())
    return runtime_error(
        "apt-get download failed" + std::string(run->timed_out ? " (timeout)" : ""), package, 0,
        "check the network and apt sources (apt-get update); apt said: " +
            std::string(trim(run->err.substr(0, 300))));
  auto fetched = cached_deb(package, staging);
  if (!fetched)
    return runtime_error("apt-get download left no .deb", staging + "/" + package + "_*.deb");
  std::string target = cache_dir + "/" + std::filesystem::path(*fetched).filename().string();
  if (::rename(fetched->c_str(), target.c_str()) != 0)
    return runtime_error("cannot move the downloaded package into the cache", target, errno);
  return target;
}

}  // namespace probeseek
