// Kernel images (kernels/): every input is read as a loadable module (.ko, or .ko.xz/.ko.zst by
// its magic); an input that starts with the ELF magic is also a vmlinux, read as the
// catalogue reads one (sections, build id, the kallsyms tables, ftrace call sites and the kprobe
// blacklist); anything else is a vmlinuz whose payload is decompressed (to at most 16 MiB here,
// so the fuzzer's memory limit is not the thing it finds) and, when that is an ELF, read too.
// Seeds: tests/fuzz/corpus/kernel_image, written by make_kernel_image_seeds.
#include <cstddef>
#include <cstdint>
#include <string>

#include <bpf/btf.h>

#include <memory>

#include "catalog_ops.h"
#include "internal.h"
#include "probeseek/kernel_image.h"

namespace {

// An ops struct in miniature for the catalogue's ops-table scan of the image's data:
// struct ops { int (*open)(struct sock *); int (*close)(struct sock *); } and two functions.
const probeseek::Btf& ops_btf() {
  static probeseek::Btf* btf = [] {
    struct btf* b = btf__new_empty();
    int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
    int sock = btf__add_struct(b, "sock", 4);
    btf__add_field(b, "x", int_id, 0, 0);
    int sock_ptr = btf__add_ptr(b, sock);
    int proto = btf__add_func_proto(b, int_id);
    btf__add_func_param(b, "sk", sock_ptr);
    int fn_ptr = btf__add_ptr(b, proto);
    btf__add_struct(b, "ops", 16);
    btf__add_field(b, "open", fn_ptr, 0, 0);
    btf__add_field(b, "close", fn_ptr, 64, 0);
    btf__add_func(b, "sock_open", BTF_FUNC_GLOBAL, proto);
    btf__add_func(b, "sock_close", BTF_FUNC_GLOBAL, proto);
    return new probeseek::Btf(probeseek::Btf::adopt(b));
  }();
  return *btf;
}

void read_elf(std::string bytes) {
  auto elf = probeseek::KernelElf::parse(std::move(bytes), "fuzz");
  if (!elf) return;
  (void)elf->build_id();
  (void)elf->section(".BTF");
  (void)elf->at(0xffffffff81000000ull, 16);
  auto symbols = probeseek::image_kallsyms(*elf);
  if (!symbols) return;
  auto table = probeseek::SymbolTable::from_symbols(*symbols);
  (void)probeseek::kernels::hook_tables(*elf, table);
  // kernels add reads the image's data for its ops tables.
  probeseek::KernelFacts facts;
  facts.source = "fuzz";
  facts.symbols = std::move(*symbols);
  facts.image = std::make_shared<const probeseek::KernelElf>(std::move(*elf));
  (void)probeseek::scan_catalog_ops(facts, ops_btf());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  (void)probeseek::build_id_from_notes(input);  // /sys/kernel/notes as read for `live`
  // A package's loadable module (.ko, .ko.xz, .ko.zst, by its magic here, by name in a package).
  const char* module_name = input.compare(0, 6,
                                          "\xfd"
                                          "7zXZ\0",
                                          6) == 0
                                ? "fuzz.ko.xz"
                            : input.compare(0, 4, "\x28\xb5\x2f\xfd", 4) == 0 ? "fuzz.ko.zst"
                                                                              : "fuzz.ko";
  // At most 16 MiB decompressed, as for payloads: a zstd frame of RLE blocks that fills the
  // production cap costs a third of a second and 240 MB per input (slow units, not findings).
  (void)probeseek::kernels::read_module(input, module_name, "fuzz", 16u << 20);
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
