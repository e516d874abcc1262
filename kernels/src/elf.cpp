// A bounded ELF64 reader for vmlinux: section headers and names, virtual addresses to bytes,
// the GNU build id. Only what the catalogue needs; every offset and size from the file is
// checked against the file before use (include/uapi/linux/elf.h for the layouts).
#include "bytes.h"
#include "probeseek/kernel_image.h"

namespace probeseek {
namespace {

using kernels::read_le;

constexpr uint32_t kShtProgbits = 1, kShtNote = 7, kShtNobits = 8;
constexpr uint64_t kShfAlloc = 2;
constexpr uint32_t kNtGnuBuildId = 3;
constexpr uint16_t kEmX86_64 = 62;

}  // namespace

Result<KernelElf> KernelElf::parse(std::string elf, const std::string& origin) {
  const char* hint = "expected an x86_64 vmlinux (ELF64, little endian)";
  std::string_view b(elf);
  if (b.size() < 64 || b.substr(0, 4) !=
                           "\x7f"
                           "ELF")
    return bad_input("not an ELF file", origin, hint);
  if (b[4] != 2 || b[5] != 1 || *read_le<uint16_t>(b, 18) != kEmX86_64)
    return bad_input("not an ELF64 little-endian x86_64 file", origin, hint);
  uint64_t shoff = *read_le<uint64_t>(b, 0x28);
  uint16_t shentsize = *read_le<uint16_t>(b, 0x3a);
  uint64_t shnum = *read_le<uint16_t>(b, 0x3c);
  uint32_t shstrndx = *read_le<uint16_t>(b, 0x3e);
  if (shentsize != 64) return bad_input("ELF section header size is not 64", origin, hint);
  auto damaged = [&](const std::string& what) {
    return bad_input("damaged ELF: " + what, origin,
                     "the file is truncated or corrupt: download the package again");
  };
  if (shoff > b.size()) return damaged("section headers outside the file");
  if (shnum == 0 && shoff != 0) {  // more than 0xff00 sections: the count is in section 0
    auto n = read_le<uint64_t>(b, shoff + 32);
    if (!n) return damaged("section headers outside the file");
    shnum = *n;
  }
  if (shnum > (b.size() - shoff) / 64) return damaged("section headers outside the file");
  if (shstrndx == 0xffff && shnum > 0) shstrndx = *read_le<uint32_t>(b, shoff + 40);  // SHN_XINDEX
  if (shstrndx >= shnum) return damaged("no section name table");

  KernelElf out;
  struct Raw {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
  };
  std::vector<Raw> raw(shnum);
  for (uint64_t i = 0; i < shnum; ++i) {
    const char* h = b.data() + shoff + i * 64;
    Raw r{kernels::load_le<uint32_t>(h),      kernels::load_le<uint32_t>(h + 4),
          kernels::load_le<uint64_t>(h + 8),  kernels::load_le<uint64_t>(h + 16),
          kernels::load_le<uint64_t>(h + 24), kernels::load_le<uint64_t>(h + 32)};
    if (r.type != kShtNobits && (r.offset > b.size() || b.size() - r.offset < r.size))
      return damaged("section " + std::to_string(i) + " lies outside the file");
    if (!kernels::checked_add(r.addr, r.size))
      return damaged("section " + std::to_string(i) + " wraps around the address space");
    raw[i] = r;
  }
  const Raw& strtab = raw[shstrndx];
  if (strtab.type == kShtNobits) return damaged("no section name table");
  std::string_view names = b.substr(strtab.offset, strtab.size);
  for (const Raw& r : raw) {
    Section s;
    if (r.name < names.size()) {
      std::string_view n = names.substr(r.name);
      s.name = std::string(n.substr(0, n.find('\0')));
    }
    s.address = r.addr;
    s.offset = r.type == kShtNobits ? 0 : r.offset;
    s.size = r.type == kShtNobits ? 0 : r.size;  // NOBITS: no bytes in the file
    s.progbits = r.type == kShtProgbits && (r.flags & kShfAlloc);
    (void)kShtNote;
    out.sections_.push_back(std::move(s));
  }
  out.bytes_ = std::move(elf);
  out.origin_ = origin;
  return out;
}

std::string_view KernelElf::at(uint64_t addr, uint64_t size) const {
  for (const Section& s : sections_) {
    if (!s.progbits || addr < s.address) continue;
    uint64_t rel = addr - s.address;
    if (rel > s.size || s.size - rel < size) continue;
    return std::string_view(bytes_).substr(s.offset + rel, size);
  }
  return {};
}

std::string_view KernelElf::section(std::string_view name) const {
  for (const Section& s : sections_)
    if (s.name == name) return std::string_view(bytes_).substr(s.offset, s.size);
  return {};
}

std::optional<uint64_t> KernelElf::section_address(std::string_view name) const {
  for (const Section& s : sections_)
    if (s.name == name) return s.address;
  return std::nullopt;
}

std::string KernelElf::build_id() const {
  // vmlinux keeps its notes in .notes (arch/x86/kernel/vmlinux.lds.S: NOTES).
  return build_id_from_notes(section(".notes"));
}

std::string build_id_from_notes(std::string_view notes) {
  // Each note is namesz, descsz, type, then name and desc, each padded to 4 bytes. Every note
  // is walked: 6.1 puts Xen's notes before the GNU one, 6.12 after.
  uint64_t pos = 0;
  while (notes.size() - pos >= 12) {
    uint32_t namesz = *read_le<uint32_t>(notes, pos), descsz = *read_le<uint32_t>(notes, pos + 4);
    uint32_t type = *read_le<uint32_t>(notes, pos + 8);
    uint64_t name_at = pos + 12, desc_at = name_at + ((uint64_t{namesz} + 3) & ~uint64_t{3});
    uint64_t end = desc_at + ((uint64_t{descsz} + 3) & ~uint64_t{3});
    if (desc_at > notes.size() || notes.size() - desc_at < descsz) break;
    if (type == kNtGnuBuildId && namesz == 4 &&
        notes.substr(name_at, 4) == std::string_view("GNU\0", 4))
      return kernels::hex_bytes(notes.substr(desc_at, descsz), false);
    if (end > notes.size()) break;
    pos = end;
  }
  return "";
}

}  // namespace probeseek
