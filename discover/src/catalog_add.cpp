// kernels add: read each source (a package, an image, BTF, the running kernel), derive its
// catalogue rows, store them. Reading and deriving run on worker threads, storing on the
// caller's thread (SQLite has one writer), one transaction per kernel.
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "probeseek/compat.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

// "linux-image-" then [a-z0-9][a-z0-9.+-]*: what may reach apt-get's argv and a file name.
bool is_package_name(const std::string& s) {
  constexpr std::string_view kPrefix = "linux-image-";
  if (s.size() <= kPrefix.size() || s.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  for (size_t i = kPrefix.size(); i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == kPrefix.size() || (c != '.' && c != '+' && c != '-'))) return false;
  }
  return true;
}

// The first bytes decide what a file is; its name decides nothing.
Result<KernelFacts> read_file_source(const std::string& path, const AddKernelsRequest& request) {
  char head[0x210] = {};
  {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return runtime_error("cannot open", path, errno);
    size_t n = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
    if (n < 4) return bad_input("too short to be a kernel, a package or BTF", path);
  }
  if (std::memcmp(head, "!<arch>\n", 8) == 0) return read_kernel_package(path, request.modules);
  if (std::memcmp(head,
                  "\x7f"
                  "ELF",
                  4) == 0 ||
      std::memcmp(head + 0x202, "HdrS", 4) == 0)
    return read_kernel_image(path, request.system_map);
  const auto b0 = static_cast<unsigned char>(head[0]), b1 = static_cast<unsigned char>(head[1]);
  if ((b0 == 0x9f && b1 == 0xeb) || (b0 == 0x1f && b1 == 0x8b))
    return read_btf_file(path, request.system_map);
  return bad_input("not a kernel package, kernel image or BTF file", path,
                   "pass a linux-image .deb, a vmlinuz or vmlinux, a raw BTF file, or 'live'");
}

Result<KernelFacts> read_source(const std::string& source, const AddKernelsRequest& request) {
  if (source == "live") return read_kernel_files(running_kernel_files(), "live");
  struct stat st {};
  if (::stat(source.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return read_kernel_package(source, request.modules);
    if (!S_ISREG(st.st_mode)) return bad_input("not a regular file or a directory", source);
    return read_file_source(source, request);
  }
  if (is_package_name(source)) {
    if (request.cache_dir.empty())
      return bad_input("no package cache directory", source, "pass --cache DIR");
    auto deb = fetch_debian_package(source, request.cache_dir);
    if (!deb) return tl::unexpected(deb.error());
    auto facts = read_kernel_package(*deb, request.modules);
    if (facts) facts->source = source;
    return facts;
  }
  return runtime_error("no such file, and not a linux-image package name", source, ENOENT,
                       "pass a .deb, a directory, a vmlinuz, a BTF file, 'live', or a package "
                       "name such as linux-image-6.1.0-56-cloud-amd64");
}

struct Work {
  size_t index = 0;
  std::string source;
  Result<CatalogKernelInput> input = bad_input("not read");
  double seconds = 0;
};

}  // namespace

Result<std::vector<std::string>> debian_kernels_matching(const std::string& spec) {
  auto all = debian_kernel_packages();
  if (!all) return tl::unexpected(all.error());
  std::vector<std::string> out;
  for (const std::string& p : *all) {
    const bool match = spec == "all" || (spec == "6.1" && p.rfind("linux-image-6.1.0-", 0) == 0) ||
                       (spec == "6.12" && p.rfind("linux-image-6.12.", 0) == 0) ||
                       (spec != "6.1" && spec != "6.12" && p.find(spec) != std::string::npos);
    if (match) out.push_back(p);
  }
  if (out.empty())
    return bad_input("no Debian kernel package matches " + printable(spec), "apt-cache",
                     "use all, 6.1, 6.12 or part of a package name; apt-get update refreshes "
                     "apt's list");
  return out;
}

Result<std::vector<AddedKernel>> add_kernels(
    Database& db, const AddKernelsRequest& request,
    const std::function<void(size_t, size_t, const AddedKernel&)>& progress) {
  if (request.sources.empty())
    return bad_input("nothing to add", "", "name a .deb, a vmlinuz, a BTF file, live, or --debian");
  if (request.sources.size() > 1 && (!request.name.empty() || !request.system_map.empty()))
    return bad_input("--name and --system-map apply to a single source", "",
                     "add the kernels one at a time");
  if (!request.name.empty() && printable(request.name) != request.name)
    return bad_input("kernel name has control characters", request.name);

  const size_t total = request.sources.size();
  const unsigned jobs = std::max(1u, std::min<unsigned>(request.jobs, 16));
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Work> done;
  size_t next = 0;
  bool stop = false;

  auto worker = [&] {
    for (;;) {
      Work w;
      {
        std::unique_lock lock(mu);
        // At most `jobs` kernels in memory: wait while finished ones are not stored yet.
        cv.wait(lock, [&] { return stop || next >= total || done.size() < jobs; });
        if (stop || next >= total) return;
        w.index = next++;
        w.source = request.sources[w.index];
      }
      const auto start = std::chrono::steady_clock::now();
      auto facts = read_source(w.source, request);
      if (facts && !request.name.empty()) facts->release = request.name;
      if (facts)
        w.input = catalog_input(*facts);
      else
        w.input = tl::unexpected(facts.error());
      w.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      {
        std::lock_guard lock(mu);
        done.push_back(std::move(w));
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < std::min<size_t>(jobs, total); ++i) threads.emplace_back(worker);

  std::vector<AddedKernel> results(total);
  std::optional<Error> fatal;
  for (size_t stored = 0; stored < total; ++stored) {
    Work w;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !done.empty(); });
      w = std::move(done.front());
      done.pop_front();
    }
    cv.notify_all();
    AddedKernel& r = results[w.index];
    r.source = w.source;
    r.seconds = w.seconds;
    if (!w.input) {
      r.error = w.input.error();
    } else {
      r.name = w.input->kernel.name;
      r.ops_error = w.input->ops_error;
      r.modules_note = w.input->modules_note;
      auto s = store_catalog_kernel(db, *w.input, request.replace);
      if (s) {
        r.added = s->added;
      } else {
        r.error = s.error();
        // A database that fails to store one kernel will fail the rest the same way.
        if (s.error().kind == ErrorKind::kRuntime) {
          fatal = s.error();
          std::lock_guard lock(mu);
          stop = true;
        }
      }
    }
    if (progress) progress(stored + 1, total, r);
    if (fatal) break;
  }
  cv.notify_all();
  for (std::thread& t : threads) t.join();
  if (fatal) return tl::unexpected(*fatal);
  return results;
}

}  // namespace probeseek
