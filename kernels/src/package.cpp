// A Debian linux-image package, as a .deb (read with libarchive: the outer ar archive, then its
// data.tar.* member streamed as a nested archive; nothing is written to disk) or unpacked.
// Only boot/vmlinuz-*, boot/config-* and boot/System.map-* are kept.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <memory>

#include "internal.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

constexpr uint64_t kMaxMember = 1ull << 30;  // data.tar of a kernel package: ~100 MB
constexpr uint64_t kMaxBootFile = 512ull << 20;

struct BootFiles {
  std::optional<std::string> vmlinuz, config, system_map;
  std::string vmlinuz_name, system_map_name;  // for errors: "X.deb: vmlinuz-6.1.0-56-..."
  bool want_modules = false;
  std::vector<KernelModule> modules;
  size_t modules_skipped = 0;
  std::string first_module_error;
};

constexpr size_t kMaxModules = 20000;  // Debian's generic kernels have about 4,000

// "./lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/tun.ko[.xz|.zst]"
bool is_module_path(std::string_view path) {
  if (starts_with(path, "./")) path.remove_prefix(2);
  if (!starts_with(path, "lib/modules/") && !starts_with(path, "usr/lib/modules/")) return false;
  if (path.find("/kernel/") == std::string_view::npos) return false;
  for (std::string_view end : {".ko", ".ko.xz", ".ko.zst"})
    if (path.size() > end.size() && path.substr(path.size() - end.size()) == end) return true;
  return false;
}

void add_module(BootFiles& files, std::string_view bytes, std::string_view path,
                const std::string& origin) {
  if (files.modules.size() + files.modules_skipped >= kMaxModules) {
    ++files.modules_skipped;
    return;
  }
  auto m = kernels::read_module(bytes, path, origin);
  if (m) {
    files.modules.push_back(std::move(*m));
    return;
  }
  if (files.modules_skipped++ == 0) files.first_module_error = m.error().message();
}

// Which boot file a path names ("./boot/vmlinuz-6.1.0-56-cloud-amd64"), or nullptr.
std::optional<std::string>* slot(BootFiles& f, std::string_view path, bool in_boot_dir) {
  if (in_boot_dir) {
    if (starts_with(path, "./")) path.remove_prefix(2);
    if (!starts_with(path, "boot/")) return nullptr;
    path.remove_prefix(5);
  }
  if (path.find('/') != std::string_view::npos) return nullptr;
  if (starts_with(path, "vmlinuz-")) return &f.vmlinuz;
  if (starts_with(path, "config-")) return &f.config;
  if (starts_with(path, "System.map-")) return &f.system_map;
  return nullptr;
}

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

tl::unexpected<Error> archive_error(archive* a, const std::string& what, const std::string& deb) {
  const char* msg = archive_error_string(a);
  return bad_input(what + (msg ? std::string(": ") + msg : ""), deb,
                   "the .deb is truncated or corrupt: download it again");
}

// The nested archive reads the data.tar member straight out of the outer one.
struct Nested {
  archive* outer;
  char buffer[1 << 16];
  uint64_t total = 0;
};
la_ssize_t read_member(archive*, void* client, const void** out) {
  auto* n = static_cast<Nested*>(client);
  la_ssize_t got = archive_read_data(n->outer, n->buffer, sizeof n->buffer);
  if (got > 0) {
    n->total += static_cast<uint64_t>(got);
    if (n->total > kMaxMember) return -1;
  }
  *out = n->buffer;
  return got;
}

Result<std::string> read_entry(archive* a, const std::string& deb, const std::string& name) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    la_ssize_t got = archive_read_data(a, buf, sizeof buf);
    if (got < 0) return archive_error(a, "cannot read " + name + " in the package", deb);
    if (got == 0) break;
    if (out.size() + static_cast<uint64_t>(got) > kMaxBootFile)
      return bad_input(name + " in the package is too large", deb);
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

Status read_deb(const std::string& deb, BootFiles& files) {
  if (::access(deb.c_str(), R_OK) != 0)
    return runtime_error("cannot read", deb, errno, "check the path and permissions");
  ArchivePtr outer(archive_read_new());
  if (!outer) return runtime_error("cannot start libarchive", deb, ENOMEM);
  archive_read_support_format_ar(outer.get());
  if (archive_read_open_filename(outer.get(), deb.c_str(), 1 << 16) != ARCHIVE_OK)
    return archive_error(outer.get(), "cannot open the package as a .deb (ar archive)", deb);
  archive_entry* entry = nullptr;
  bool had_data = false;
  while (archive_read_next_header(outer.get(), &entry) == ARCHIVE_OK) {
    std::string_view name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (!starts_with(name, "data.tar")) continue;
    had_data = true;
    Nested nested{outer.get(), {}, 0};
    ArchivePtr inner(archive_read_new());
    if (!inner) return runtime_error("cannot start libarchive", deb, ENOMEM);
    archive_read_support_filter_all(inner.get());
    archive_read_support_format_tar(inner.get());
    if (archive_read_open(inner.get(), &nested, nullptr, read_member, nullptr) != ARCHIVE_OK)
      return archive_error(inner.get(), "cannot open the package's data archive", deb);
    archive_entry* e = nullptr;
    int rc;
    while ((rc = archive_read_next_header(inner.get(), &e)) == ARCHIVE_OK) {
      const char* p = archive_entry_pathname(e);
      // dpkg-deb writes entries sorted by path: once past boot/ with the image in hand, the
      // rest (lib/modules, most of the package) need not be decompressed unless modules are
      // wanted.
      if (files.vmlinuz && p && !starts_with(p, "./boot/") && !starts_with(p, "boot/") &&
          !files.want_modules)
        break;
      if (!p || archive_entry_filetype(e) != AE_IFREG) continue;
      if (files.want_modules && is_module_path(p)) {
        auto bytes = read_entry(inner.get(), deb, p);
        if (!bytes) return tl::unexpected(bytes.error());
        add_module(files, *bytes, p, deb + ": " + std::string(p));
        continue;
      }
      auto* s = slot(files, p, true);
      if (!s) continue;
      auto bytes = read_entry(inner.get(), deb, p);
      if (!bytes) return tl::unexpected(bytes.error());
      *s = std::move(*bytes);
      std::string_view base = std::string_view(p).substr(std::string_view(p).rfind('/') + 1);
      if (s == &files.vmlinuz) files.vmlinuz_name = deb + ": " + std::string(base);
      if (s == &files.system_map) files.system_map_name = deb + ": " + std::string(base);
    }
    if (rc != ARCHIVE_EOF && rc != ARCHIVE_OK)
      return archive_error(inner.get(), "damaged data archive", deb);
    break;
  }
  if (!had_data)
    return bad_input("not a Debian package (no data.tar member)", deb,
                     "give a linux-image-*.deb or an unpacked package directory");
  return {};
}

Status read_dir(const std::string& dir, BootFiles& files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path boot =
      fs::is_directory(fs::path(dir) / "boot", ec) ? fs::path(dir) / "boot" : fs::path(dir);
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(boot, ec), end; !ec && it != end; it.increment(ec))
    entries.push_back(it->path());
  if (ec) return runtime_error("cannot list", boot.string(), ec.value());
  std::sort(entries.begin(), entries.end());
  for (const fs::path& p : entries) {
    std::string name = p.filename().string();
    auto* s = slot(files, name, false);
    if (!s || s->has_value() || !fs::is_regular_file(p, ec)) continue;
    auto bytes = kernels::read_file_bounded(p.string(), kMaxBootFile);
    if (!bytes) return tl::unexpected(bytes.error());
    *s = std::move(*bytes);
    if (s == &files.vmlinuz) files.vmlinuz_name = p.string();
    if (s == &files.system_map) files.system_map_name = p.string();
  }
  if (!files.want_modules) return {};
  // An unpacked package: DIR/lib/modules/*/kernel/**.ko[.xz|.zst], links not followed.
  const fs::path modules = fs::path(dir) / "lib" / "modules";
  if (!fs::is_directory(modules, ec)) return {};
  std::vector<fs::path> found;
  for (fs::recursive_directory_iterator it(modules, ec), end; !ec && it != end; it.increment(ec)) {
    if (found.size() >= kMaxModules) break;
    if (it->is_regular_file(ec) && !it->is_symlink(ec) &&
        is_module_path("lib/modules/" + fs::relative(it->path(), modules, ec).string()))
      found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  for (const fs::path& p : found) {
    auto bytes = kernels::read_file_bounded(p.string(), kMaxBootFile);
    if (!bytes) return tl::unexpected(bytes.error());
    add_module(files, *bytes, p.string(), p.string());
  }
  return {};
}

}  // namespace

// The tracing-related options of a kernel config ("CONFIG_X=y", "# CONFIG_X is not set").
std::vector<std::pair<std::string, std::string>> tracing_config(std::string_view text) {
  static const char* const kWanted[] = {"CONFIG_KPROBES",
                                        "CONFIG_KPROBE_EVENTS",
                                        "CONFIG_FUNCTION_TRACER",
                                        "CONFIG_FUNCTION_GRAPH_TRACER",
                                        "CONFIG_DYNAMIC_FTRACE",
                                        "CONFIG_BPF_SYSCALL",
                                        "CONFIG_BPF_EVENTS",
                                        "CONFIG_DEBUG_INFO_BTF",
                                        "CONFIG_DEBUG_INFO_BTF_MODULES",
                                        "CONFIG_KALLSYMS_ALL",
                                        "CONFIG_FPROBE",
                                        "CONFIG_BPF_JIT"};
  std::vector<std::pair<std::string, std::string>> out;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    std::string_view key, value;
    if (starts_with(line, "# CONFIG_") && line.size() > 13 &&
        line.substr(line.size() - 11) == " is not set") {
      key = line.substr(2, line.size() - 13);
      value = "n";
    } else if (starts_with(line, "CONFIG_") && line.find('=') != std::string_view::npos) {
      key = line.substr(0, line.find('='));
      value = line.substr(line.find('=') + 1);
    } else {
      return;
    }
    for (const char* w : kWanted)
      if (key == w) out.emplace_back(std::string(key), std::string(value));
  });
  return out;
}

Result<KernelFacts> read_kernel_package(const std::string& deb_or_dir, bool modules) {
  BootFiles files;
  files.want_modules = modules;
  std::error_code ec;
  Status read = std::filesystem::is_directory(deb_or_dir, ec) ? read_dir(deb_or_dir, files)
                                                              : read_deb(deb_or_dir, files);
  if (!read) return tl::unexpected(read.error());
  if (!files.vmlinuz)
    return bad_input("not a kernel package (no boot/vmlinuz-*)", deb_or_dir,
                     "give a linux-image-*.deb (apt-get download linux-image-VERSION) or its "
                     "unpacked directory");
  auto facts = kernels::image_facts(std::move(*files.vmlinuz), files.vmlinuz_name, files.system_map,
                                    files.system_map_name);
  if (!facts) return facts;
  facts->source = deb_or_dir;
  if (files.config) facts->config = tracing_config(*files.config);
  facts->modules = std::move(files.modules);
  facts->modules_skipped = files.modules_skipped;
  facts->first_module_error = std::move(files.first_module_error);
  return facts;
}

}  // namespace probeseek
