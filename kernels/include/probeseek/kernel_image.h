// A kernel's facts read from its files, without booting it: a Debian linux-image package (.deb
// or an unpacked one), a vmlinuz (bzImage) or vmlinux, a raw BTF file, or the running kernel.
// Every reader treats its input as hostile: no size or offset from a file is trusted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "probeseek/error.h"
#include "probeseek/kallsyms.h"
#include "probeseek/kernel_paths.h"

namespace probeseek {

class KernelElf;

// A loadable module of the kernel (lib/modules/RELEASE/kernel/**.ko[.xz|.zst]).
struct KernelModule {
  std::string name;                    // "tun": .modinfo's name, [A-Za-z0-9_]
  std::string btf;                     // split BTF over the kernel's; "" when it has none
  std::vector<std::string> functions;  // text symbols it defines (clones keep their suffix)
  std::vector<std::string> traceable;  // those with an ftrace call site (__mcount_loc)
};

struct KernelFacts {
  std::string release;      // "6.1.0-56-cloud-amd64": the image's linux_banner, uname -r when live
  std::string build_id;     // vmlinux's GNU build id, lowercase hex; "" when the source has none
  std::string source;       // what it was read from, as given: a .deb, a directory, "live"
  std::string compression;  // a vmlinuz payload's compression ("lz4", "zstd", "gzip"), else ""
  std::string btf;          // raw vmlinux BTF bytes; "" when the source has none
  // Every symbol, with link-time addresses from an image or System.map, runtime addresses when
  // live. Empty when the source has no symbols (a BTF file alone).
  std::vector<KernelSymbol> symbols;
  std::string symbols_from;  // "image kallsyms tables", "System.map", "/proc/kallsyms", ""
  // Distinct names of the functions ftrace can hook (the image's __mcount_loc call sites minus
  // code freed after boot, or available_filter_functions); nullopt when the source cannot tell.
  std::optional<std::vector<std::string>> traceable;
  // Distinct names in the kprobe blacklist (NOKPROBE_SYMBOL entries plus every function in the
  // blacklisted text ranges); nullopt when the source cannot tell.
  std::optional<std::vector<std::string>> blacklist;
  // The tracing-related lines of the kernel's config ("CONFIG_KPROBES" -> "y"), where known.
  std::vector<std::pair<std::string, std::string>> config;
  // The kernel's data, for its ops tables: the decompressed image (data as linked) from an image
  // or package; for the running kernel, the path of its memory (/proc/kcore); neither from BTF.
  std::shared_ptr<const KernelElf> image;
  std::string kcore;
  // Its modules, from a package read with them; modules_skipped counts damaged ones.
  std::vector<KernelModule> modules;
  size_t modules_skipped = 0;
  std::string first_module_error;
};

// A vmlinuz (bzImage): the setup header's payload offset and length, decompressed. Supported
// payload compressions: lz4 (legacy frames), zstd, gzip; others are named in the error.
struct KernelPayload {
  std::string compression;
  std::string elf;  // the decompressed vmlinux ELF
};
Result<KernelPayload> bzimage_payload(std::string_view file, const std::string& origin);

// The parts of a vmlinux ELF64 (x86_64, little endian) that the catalogue reads.
class KernelElf {
 public:
  static Result<KernelElf> parse(std::string elf, const std::string& origin);
  // Bytes at a virtual address, or an empty view when [addr, addr+size) is not in one
  // allocated PROGBITS section.
  std::string_view at(uint64_t addr, uint64_t size) const;
  std::string_view section(std::string_view name) const;  // empty when absent
  std::optional<uint64_t> section_address(std::string_view name) const;
  std::string build_id() const;  // from the .notes section; "" when absent
  const std::string& origin() const { return origin_; }

 private:
  struct Section {
    std::string name;
    uint64_t address = 0, offset = 0, size = 0;
    bool progbits = false;
  };
  std::string bytes_;
  std::string origin_;
  std::vector<Section> sections_;
};

// The kernel's own compressed symbol table (what /proc/kallsyms prints), found in .rodata by
// its shape and decoded: kallsyms_token_table/_index, kallsyms_names, _markers, _num_syms,
// _offsets and _relative_base, in the orders of 6.1 and of 6.12 (and whatever lies between).
// Addresses are link-time addresses.
Result<std::vector<KernelSymbol>> image_kallsyms(const KernelElf& elf);

// A whole image: the payload, its BTF, symbols (System.map when given and real, else the image's
// kallsyms tables), the ftrace call-site table and the kprobe blacklist.
Result<KernelFacts> read_kernel_image(const std::string& vmlinuz_or_vmlinux,
                                      const std::string& system_map = "");
// A linux-image .deb or an unpacked package directory (boot/vmlinuz-*, boot/config-*, and with
// `modules` every lib/modules/*/kernel/**.ko[.xz|.zst]).
Result<KernelFacts> read_kernel_package(const std::string& deb_or_dir, bool modules = true);
// A raw BTF file (or an ELF with .BTF); symbols only from a System.map when given.
Result<KernelFacts> read_btf_file(const std::string& path, const std::string& system_map = "");

// A kernel described by loose files: every path a parameter, "" for a file the source does not
// have. Symbols may be a /proc/kallsyms or a System.map.
struct KernelFiles {
  std::string release;  // "" = uname -r (only right for the running kernel)
  std::string btf;
  std::string symbols;
  std::string notes;  // ELF notes: the build id
  std::string filter_functions;
  std::string blacklist;
  std::string kcore;   // read for the ops tables ("" = do not)
  std::string config;  // "" = /boot/config-RELEASE when readable
};
// The running kernel's files (KernelPaths' live defaults unless told otherwise).
KernelFiles running_kernel_files(const KernelPaths& paths = {});
Result<KernelFacts> read_kernel_files(const KernelFiles& files, const std::string& source);
// The GNU build id in a blob of ELF notes (a .notes section, /sys/kernel/notes); "" if none.
std::string build_id_from_notes(std::string_view notes);
// The tracing-related settings of a kernel config file's text (see KernelFacts::config).
std::vector<std::pair<std::string, std::string>> tracing_config(std::string_view config_text);

// Debian's archive: package names and a download cache.
// The linux-image packages apt knows (apt-cache, no network): one per kernel build, signed
// variants preferred, "-dbg" and meta packages left out; sorted by version.
Result<std::vector<std::string>> debian_kernel_packages();
// The .deb of `package` in cache_dir, downloaded with apt-get download when not there yet.
Result<std::string> fetch_debian_package(const std::string& package, const std::string& cache_dir);

}  // namespace probeseek
