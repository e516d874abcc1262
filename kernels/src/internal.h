// Pieces shared by the kernels/ readers (and the fuzz target and tests), not public API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probeseek/kallsyms.h"
#include "probeseek/kernel_image.h"

namespace probeseek::kernels {

// A whole file, refused (bad_input) when larger than max_bytes.
Result<std::string> read_file_bounded(const std::string& path, uint64_t max_bytes);

// bzimage_payload with its own cap on the decompressed size (the fuzz target's is small).
Result<KernelPayload> bzimage_payload_capped(std::string_view file, const std::string& origin,
                                             uint64_t max_output);

// Whole xz and zstd streams, refused (bad_input) when they would exceed `cap` bytes.
Result<std::string> unxz(std::string_view in, const std::string& origin, uint64_t cap);
Result<std::string> unzstd(std::string_view in, const std::string& origin, uint64_t cap);

// A loadable module file's bytes (.ko, or .ko.xz / .ko.zst as named by `file_name`): its name
// (.modinfo's, else the file's), split BTF, defined functions and ftrace call sites. A
// compressed module may expand to `max_bytes` (Debian's largest is ~30 MB; the fuzz target
// passes less).
Result<KernelModule> read_module(std::string_view bytes, std::string_view file_name,
                                 const std::string& origin, uint64_t max_bytes = 256ull << 20);

// What ftrace can hook and what kprobes refuse, derived from the image's tables and symbols.
struct HookTables {
  std::optional<std::vector<std::string>> traceable;
  std::optional<std::vector<std::string>> blacklist;
};
HookTables hook_tables(const KernelElf& elf, const SymbolTable& symbols);

// Everything read_kernel_image reports, from image bytes (vmlinuz or vmlinux) already in memory
// and an optional System.map text.
Result<KernelFacts> image_facts(std::string image, const std::string& origin,
                                const std::optional<std::string>& system_map,
                                const std::string& system_map_origin);

}  // namespace probeseek::kernels
