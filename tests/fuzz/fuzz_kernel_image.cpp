// Kernel images (kernels/): an input that starts with the ELF magic is a vmlinux, read as the
// catalogue reads one (sections, build id, the kallsyms tables, ftrace call sites and the kprobe
// blacklist); anything else is a vmlinuz whose payload is decompressed (to at most 16 MiB here,
// so the fuzzer's memory limit is not the thing it finds) and, when that is an ELF, read too.
// Seeds: tests/fuzz/corpus/kernel_image, written by make_kernel_image_seeds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "internal.h"
#include "probeseek/kernel_image.h"

namespace {

void read_elf(std::string bytes) {
  auto elf = probeseek::KernelElf::parse(std::move(bytes), "fuzz");
  if (!elf) return;
  (void)elf->build_id();
  (void)elf->section(".BTF");
  (void)elf->at(0xffffffff81000000ull, 16);
  auto symbols = probeseek::image_kallsyms(*elf);
  if (!symbols) return;
  auto table = probeseek::SymbolTable::from_symbols(std::move(*symbols));
  (void)probeseek::kernels::hook_tables(*elf, table);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  (void)probeseek::build_id_from_notes(input);  // /sys/kernel/notes as read for `live`
  if (input.compare(0, 4,
                    "\x7f"
                    "ELF") == 0) {
    read_elf(std::move(input));
    return 0;
  }
  auto payload = probeseek::kernels::bzimage_payload_capped(input, "fuzz", 16u << 20);
  if (payload && payload->elf.compare(0, 4,
                                      "\x7f"
                                      "ELF") == 0)
    read_elf(std::move(payload->elf));
  return 0;
}
