// A kernel described by loose files: the running kernel (/sys/kernel/btf/vmlinux, /proc/kallsyms,
// tracefs, debugfs), a raw BTF file with an optional System.map, or the same files copied from
// a booted kernel (tests/data).
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "probeseek/kernel_image.h"
#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

// vmlinux BTF is 4-6 MB on the kernels we know; 512 MiB bounds a hostile or wrong file.
constexpr size_t kMaxBtfBytes = size_t{512} << 20;
constexpr size_t kMaxNotesBytes = size_t{1} << 20;

bool readable(const std::string& path) { return !path.empty() && ::access(path.c_str(), R_OK) == 0; }

std::vector<std::string> sorted_unique(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// Raw BTF bytes from a raw BTF file, its gzip, or an ELF's .BTF section.
Result<std::string> btf_bytes(const std::string& path) {
  auto bytes = read_binary_file(path, kMaxBtfBytes);
  if (!bytes) return tl::unexpected(bytes.error());
  if (bytes->size() >= 4 && std::memcmp(bytes->data(), "\x7f"
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
    if (name.size() > std::strlen(ext) && name.compare(name.size() - std::strlen(ext),
                                                       std::string::npos, ext) == 0)
      name.resize(name.size() - std::strlen(ext));
  if (name.rfind("vmlinux-", 0) == 0) name = name.substr(8);
  return name;
}

}  // namespace

std::string build_id_from_notes(std::string_view notes) {
  // Elf64_Nhdr: namesz, descsz, type (u32 each), then the name and the descriptor, each
  // padded to 4 bytes. NT_GNU_BUILD_ID is 3, owner "GNU\0".
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, notes.data() + at, 4);
    return v;
  };
  size_t at = 0;
  while (notes.size() - at >= 12) {
    const uint64_t namesz = u32(at), descsz = u32(at + 4), type = u32(at + 8);
    const uint64_t name_at = at + 12;
    const uint64_t desc_at = name_at + ((namesz + 3) & ~uint64_t{3});
    const uint64_t next = desc_at + ((descsz + 3) & ~uint64_t{3});
    if (desc_at > notes.size() || next > notes.size() + 3 || desc_at + descsz > notes.size())
      return "";
    if (type == 3 && namesz == 4 && notes.substr(name_at, 4) == std::string_view("GNU\0", 4) &&
        descsz > 0 && descsz <= 64) {
      static const char* kHex = "0123456789abcdef";
      std::string hex;
      for (uint64_t i = 0; i < descsz; ++i) {
        const auto b = static_cast<unsigned char>(notes[desc_at + i]);
        hex += kHex[b >> 4];
        hex += kHex[b & 15];
      }
      return hex;
    }
    if (next <= at) return "";
    at = std::min<uint64_t>(next, notes.size());
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> tracing_config(std::string_view text) {
  // What decides whether a probe can work: kprobes and their tracefs events, ftrace (and the
  // graph tracer record uses), BPF programs on kprobes/tracepoints, BTF, fprobe (multi-kprobe
  // links), the JIT, and whether kallsyms lists data symbols (ops tables).
  static const char* const kKeys[] = {
      "CONFIG_KPROBES",         "CONFIG_KPROBE_EVENTS",         "CONFIG_FUNCTION_TRACER",
      "CONFIG_FUNCTION_GRAPH_TRACER", "CONFIG_DYNAMIC_FTRACE", "CONFIG_BPF_SYSCALL",
      "CONFIG_BPF_EVENTS",      "CONFIG_DEBUG_INFO_BTF",        "CONFIG_DEBUG_INFO_BTF_MODULES",
      "CONFIG_KALLSYMS_ALL",    "CONFIG_FPROBE",                "CONFIG_BPF_JIT"};
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* key : kKeys) {
    const std::string set = std::string(key) + "=";
    const std::string unset = std::string("# ") + key + " is not set";
    size_t line_start = 0;
    std::string value;
    while (line_start < text.size()) {
      size_t end = text.find('\n', line_start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(line_start, end - line_start);
      if (line.substr(0, set.size()) == set) {
        value = std::string(line.substr(set.size(), 64));
        break;
      }
      if (line == unset) {
        value = "n";
        break;
      }
      line_start = end + 1;
    }
    if (!value.empty() && printable(value) == value) out.emplace_back(key, value);
  }
  return out;
}

Result<KernelFacts> read_kernel_files(const KernelFiles& files, const std::string& source) {
  KernelFacts facts;
  facts.source = source;
  facts.release = files.release;
  if (facts.release.empty()) {
    struct utsname u {};
    if (::uname(&u) != 0) return runtime_error("cannot read the kernel release (uname)", "", errno);
    facts.release = u.release;
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
  return facts;
}

Result<KernelFacts> read_btf_file(const std::string& path, const std::string& system_map) {
  KernelFiles files;
  files.release = "-";  // replaced below: a BTF file does not name its kernel
  files.btf = path;
  files.symbols = system_map;
  files.notes = files.filter_functions = files.blacklist = "";
  auto facts = read_kernel_files(files, path);
  if (!facts) return facts;
  facts->release = release_from_file_name(path);
  return facts;
}

}  // namespace probeseek
