// A kernel described by loose files: the running kernel (/sys/kernel/btf/vmlinux, /proc/kallsyms,
// tracefs, debugfs), a raw BTF file with an optional System.map, or the same files copied from
// a booted kernel (tests/data).
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "probeseek/kernel_image.h"
#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

// vmlinux BTF is 4-6 MB on the kernels we know; 512 MiB bounds a hostile or wrong file.
constexpr size_t kMaxBtfBytes = size_t{512} << 20;
constexpr size_t kMaxNotesBytes = size_t{1} << 20;

bool readable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), R_OK) == 0;
}

std::vector<std::string> sorted_unique(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// Raw BTF bytes from a raw BTF file, its gzip, or an ELF's .BTF section.
Result<std::string> btf_bytes(const std::string& path) {
  auto bytes = read_binary_file(path, kMaxBtfBytes);
  if (!bytes) return tl::unexpected(bytes.error());
  if (bytes->size() >= 4 && std::memcmp(bytes->data(),
                                        "\x7f"
                                        "ELF",
                                        4) == 0) {
    auto elf = KernelElf::parse(std::move(*bytes), path);
    if (!elf) return tl::unexpected(elf.error());
    std::string_view btf = elf->section(".BTF");
    if (btf.empty())
      return bad_input("ELF file has no .BTF section", path,
                       "the kernel was built without CONFIG_DEBUG_INFO_BTF; pass its raw BTF");
    return std::string(btf);
  }
  // The BTF header's magic is 0xeB9F, little endian on x86_64.
  if (bytes->size() < 24 || static_cast<unsigned char>((*bytes)[0]) != 0x9f ||
      static_cast<unsigned char>((*bytes)[1]) != 0xeb)
    return bad_input("not BTF (no BTF magic 0xeb9f, not an ELF)", path,
                     "pass /sys/kernel/btf/vmlinux of the kernel, a copy of it, or its vmlinux");
  return std::move(*bytes);
}

// A Debian linux-image package ships "ffffffffffffffff B The real System.map is in the
// linux-image-<version>-dbg package" instead of the real file.
bool is_placeholder_system_map(std::string_view text) {
  return text.size() < 512 && text.find("The real System.map is in") != std::string_view::npos;
}

// "vmlinux-6.1.0-56-cloud-amd64.btf.gz" -> "6.1.0-56-cloud-amd64"; BTF archives (BTFHub) name
// their files after the release.
std::string release_from_file_name(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (const char* ext : {".gz", ".btf", ".raw"})
    if (name.size() > std::strlen(ext) &&
        name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0)
      name.resize(name.size() - std::strlen(ext));
  if (name.rfind("vmlinux-", 0) == 0) name = name.substr(8);
  return name;
}

}  // namespace

Result<KernelFacts> read_kernel_files(const KernelFiles& files, const std::string& source) {
  KernelFacts facts;
  facts.source = source;
  facts.release = files.release;
  if (facts.release.empty()) {
    facts.release = running_release();
    if (facts.release.empty())
      return runtime_error("cannot read the kernel release (uname)", "", errno);
  }
  if (!files.btf.empty()) {
    auto btf = btf_bytes(files.btf);
    if (!btf) return tl::unexpected(btf.error());
    facts.btf = std::move(*btf);
  }
  if (!files.symbols.empty()) {
    auto text = read_text_file(files.symbols);
    if (!text) return tl::unexpected(text.error());
    if (!is_placeholder_system_map(*text)) {
      auto table = SymbolTable::parse(*text, files.symbols);
      if (!table) return tl::unexpected(table.error());
      if (!table->addresses_visible() && files.symbols.rfind("/proc/", 0) == 0)
        return runtime_error("kallsyms shows no addresses", files.symbols, 0,
                             "run as root (kptr_restrict hides them from other users)");
      facts.symbols = table->symbols();
      facts.symbols_from = files.symbols.rfind("/proc/", 0) == 0 ? "/proc/kallsyms" : "System.map";
    }
  }
  if (readable(files.notes)) {
    auto notes = read_binary_file(files.notes, kMaxNotesBytes);
    if (!notes) return tl::unexpected(notes.error());
    facts.build_id = build_id_from_notes(*notes);
  }
  if (readable(files.filter_functions)) {
    auto text = read_text_file(files.filter_functions);
    if (!text) return tl::unexpected(text.error());
    auto list = parse_filter_functions(*text, files.filter_functions);
    if (!list) return tl::unexpected(list.error());
    std::vector<std::string> names;
    names.reserve(list->size());
    for (const FilterFunction& f : *list)
      if (f.module.empty()) names.push_back(f.name);
    facts.traceable = sorted_unique(std::move(names));
  }
  if (readable(files.blacklist)) {
    auto text = read_text_file(files.blacklist);
    if (!text) return tl::unexpected(text.error());
    auto list = parse_kprobe_blacklist(*text, files.blacklist);
    if (!list) return tl::unexpected(list.error());
    std::vector<std::string> names;
    for (const BlacklistEntry& e : *list) names.push_back(e.name);
    facts.blacklist = sorted_unique(std::move(names));
  }
  std::string config = files.config;
  if (config.empty() && files.release.empty()) config = "/boot/config-" + facts.release;
  if (readable(config)) {
    auto text = read_text_file(config);
    if (!text) return tl::unexpected(text.error());
    facts.config = tracing_config(*text);
  }
  facts.kcore = files.kcore;
  return facts;
}

KernelFiles running_kernel_files(const KernelPaths& paths) {
  KernelFiles files;
  files.btf = paths.btf;
  files.symbols = paths.kallsyms;
  files.notes = paths.notes;
  files.filter_functions = paths.tracing_file("available_filter_functions");
  files.blacklist = paths.kprobe_blacklist;
  files.kcore = paths.kcore;
  return files;
}

Result<KernelFacts> read_btf_file(const std::string& path, const std::string& system_map) {
  KernelFiles files;
  files.release = "-";  // replaced below: a BTF file does not name its kernel
  files.btf = path;
  files.symbols = system_map;
  auto facts = read_kernel_files(files, path);
  if (!facts) return facts;
  facts->release = release_from_file_name(path);
  return facts;
}

}  // namespace probeseek
