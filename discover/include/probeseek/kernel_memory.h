// Kernel memory to read ops tables from: the running kernel's (/proc/kcore) or a vmlinux image's
// (as linked), behind one interface; OpsVerifier (ops_verify.h) reads through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/error.h"
#include "probeseek/kallsyms.h"

namespace probeseek {

// Read-only kernel virtual memory.
class KernelMemory {
 public:
  virtual ~KernelMemory() = default;
  // Exactly `size` bytes at `address`; an error naming the address when any of them is unmapped.
  virtual Result<std::string> read(uint64_t address, size_t size) const = 0;
  // Where the bytes come from, for messages: "/proc/kcore", "/usr/lib/debug/boot/vmlinux-6.1.0".
  virtual std::string describe() const = 0;
  // Added to every non-NULL pointer read from this memory to get an address in the caller's
  // symbol space (see ElfImageMemory); 0 for live memory.
  virtual int64_t pointer_bias() const { return 0; }

 protected:
  KernelMemory() = default;
  KernelMemory(const KernelMemory&) = default;
  KernelMemory& operator=(const KernelMemory&) = default;
};

namespace detail {
class MappedFile;  // ops_verify.cpp: an fd plus the address ranges it maps
}

// The running kernel's memory through /proc/kcore, an ELF core file whose PT_LOAD headers map
// kernel virtual addresses to file offsets. Needs root and a kernel that is not locked down.
class KcoreMemory final : public KernelMemory {
 public:
  static Result<KcoreMemory> open(const std::string& path = "/proc/kcore");
  KcoreMemory(KcoreMemory&&) noexcept;
  KcoreMemory& operator=(KcoreMemory&&) noexcept;
  ~KcoreMemory() override;

  Result<std::string> read(uint64_t address, size_t size) const override;
  std::string describe() const override;

 private:
  explicit KcoreMemory(std::unique_ptr<detail::MappedFile> file);
  std::unique_ptr<detail::MappedFile> file_;
};

// A kernel image (vmlinux ELF, e.g. from linux-image-*-dbg) read offline: allocated sections map
// sh_addr.. to their file contents, SHT_NOBITS (.bss) reads as zeros; without section headers,
// PT_LOAD segments are used. It holds the data as linked, so tables filled in at boot (in .bss,
// or __ro_after_init ones set by init code) are not seen, and its pointers are link-time
// addresses. Two ways to use it:
//  - with its own symbols(): everything is in vmlinux addresses; kaslr_offset stays 0.
//  - with the live /proc/kallsyms of a KASLR kernel: pass kaslr_offset = live _stext minus
//    vmlinux _stext (see kaslr_offset() below). read() then takes live addresses, pointer_bias()
//    shifts the pointers it returns to live addresses, and symbols() is shifted to match.
//    Symbols of sections linked at address 0 (x86-64 per-CPU variables) are not shifted.
class ElfImageMemory final : public KernelMemory {
 public:
  static Result<ElfImageMemory> open(const std::string& path, int64_t kaslr_offset = 0);
  ElfImageMemory(ElfImageMemory&&) noexcept;
  ElfImageMemory& operator=(ElfImageMemory&&) noexcept;
  ~ElfImageMemory() override;

  Result<std::string> read(uint64_t address, size_t size) const override;
  std::string describe() const override;
  int64_t pointer_bias() const override { return kaslr_offset_; }

  // The image's .symtab with nm/kallsyms type letters (t/T text, d/D writable data, b/B .bss,
  // r/R read-only data, a/A absolute, W/V weak; lower case for local symbols). Empty when the
  // image is stripped.
  SymbolTable symbols() const;

 private:
  ElfImageMemory(std::unique_ptr<detail::MappedFile> file, std::vector<KernelSymbol> symbols,
                 int64_t kaslr_offset);
  std::unique_ptr<detail::MappedFile> file_;
  std::vector<KernelSymbol> symbols_;  // already shifted by kaslr_offset_
  int64_t kaslr_offset_ = 0;
};

// live(anchor) - image(anchor): what ElfImageMemory::open wants to read a vmlinux for a running
// KASLR kernel. Bad input when either table lacks the anchor; a runtime error when the live one
// hides addresses (kptr_restrict).
Result<int64_t> kaslr_offset(const SymbolTable& live, const SymbolTable& image,
                             std::string_view anchor = "_stext");

}  // namespace probeseek
