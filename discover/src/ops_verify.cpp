#include "probeseek/ops_verify.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "btf_types.h"
#include "probeseek/fd.h"
#include "probeseek/ops_index.h"

namespace probeseek {
namespace {

constexpr std::string_view kKcoreDeniedHint =
    "run as root; kernels locked down in integrity/confidentiality mode refuse /proc/kcore: pass "
    "--vmlinux FILE (the kernel's vmlinux ELF, e.g. from the linux-image-*-dbg package) instead";
constexpr std::string_view kKcoreMissingHint =
    "the kernel was built without CONFIG_PROC_KCORE: pass --vmlinux FILE (the kernel's vmlinux "
    "ELF, e.g. from the linux-image-*-dbg package) instead";
constexpr std::string_view kVmlinuxHint =
    "pass the kernel's vmlinux ELF, e.g. /usr/lib/debug/boot/vmlinux-$(uname -r) from the "
    "linux-image-*-dbg package (not the compressed /boot/vmlinuz)";

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

struct ElfDeleter {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfDeleter>;

// libelf refuses every call until the application states the ELF version it understands.
bool libelf_ready() {
  static std::once_flag once;
  static bool ready = false;
  std::call_once(once, [] { ready = elf_version(EV_CURRENT) != EV_NONE; });
  return ready;
}

std::string elf_error() {
  const char* message = elf_errmsg(-1);
  return message != nullptr ? message : "unknown libelf error";
}

// Pointers are copied out of the memory as host integers, so the ELF must match the host.
Status check_elf_class(const GElf_Ehdr& ehdr, const std::string& path, std::string_view hint) {
  if (ehdr.e_ident[EI_CLASS] != ELFCLASS64)
    return bad_input("not a 64-bit ELF file (only 64-bit kernels are supported)", path,
                     std::string(hint));
  const unsigned char host = std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  if (ehdr.e_ident[EI_DATA] != host)
    return bad_input("ELF byte order differs from this machine's", path, std::string(hint));
  return {};
}

}  // namespace

namespace detail {

// An open file and the address ranges it maps. A range either has file contents or, for .bss
// and a segment's p_memsz beyond p_filesz, reads as zeros.
class MappedFile {
 public:
  struct Range {
    uint64_t start = 0;
    uint64_t size = 0;
    uint64_t file_offset = 0;
    bool zeros = false;
  };

  MappedFile(Fd fd, std::string path, std::vector<Range> ranges)
      : fd_(std::move(fd)), path_(std::move(path)), ranges_(std::move(ranges)) {
    std::sort(ranges_.begin(), ranges_.end(),
              [](const Range& a, const Range& b) { return a.start < b.start; });
  }

  const std::string& path() const { return path_; }

  // `address` is looked up as address - shift; errors show the caller's address.
  Result<std::string> read(uint64_t address, size_t size, int64_t shift) const {
    const uint64_t mapped = address - static_cast<uint64_t>(shift);
    if (size > 0 && mapped > std::numeric_limits<uint64_t>::max() - (size - 1))
      return bad_input("address range wraps around: " + hex(address) + " + " + std::to_string(size),
                       path_);
    // Check that every byte is mapped before reading any: a chunk that crosses a hole fails
    // at no I/O cost, and the caller splits it.
    struct Piece {
      const Range* range;
      uint64_t inside;
      size_t size;
    };
    std::vector<Piece> pieces;
    for (size_t done = 0; done < size;) {
      const uint64_t at = mapped + done;
      const Range* range = find(at);
      if (range == nullptr) {
        std::string what = "cannot read kernel memory at " + hex(address + done) + " (not mapped";
        if (shift != 0) what += "; image address " + hex(at);
        return runtime_error(what + ")", path_);
      }
      const uint64_t inside = at - range->start;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(size - done, range->size - inside));
      pieces.push_back({range, inside, n});
      done += n;
    }
    std::string out(size, '\0');
    size_t done = 0;
    for (const Piece& piece : pieces) {
      if (!piece.range->zeros) {
        if (auto status = pread_fully(out.data() + done, piece.size,
                                      piece.range->file_offset + piece.inside, address + done);
            !status) {
          return tl::unexpected(status.error());
        }
      }
      done += piece.size;
    }
    return out;
  }

 private:
  // Ranges rarely overlap (kcore's may on some architectures): the nearest start that contains
  // the address wins.
  const Range* find(uint64_t address) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                               [](uint64_t a, const Range& r) { return a < r.start; });
    while (it != ranges_.begin()) {
      --it;
      if (address - it->start < it->size) return &*it;
    }
    return nullptr;
  }

  Status pread_fully(char* out, size_t n, uint64_t offset, uint64_t address) const {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_.get(), out + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return runtime_error("cannot read kernel memory at " + hex(address + got), path_, errno);
      }
      if (r == 0)
        return runtime_error(
            "file ends before the data its headers map (truncated?) at " + hex(address + got),
            path_);
      got += static_cast<size_t>(r);
    }
    return {};
  }

  Fd fd_;
  std::string path_;
  std::vector<Range> ranges_;
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// KcoreMemory

KcoreMemory::KcoreMemory(std::unique_ptr<detail::MappedFile> file) : file_(std::move(file)) {}
KcoreMemory::KcoreMemory(KcoreMemory&&) noexcept = default;
KcoreMemory& KcoreMemory::operator=(KcoreMemory&&) noexcept = default;
KcoreMemory::~KcoreMemory() = default;

Result<KcoreMemory> KcoreMemory::open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int e = errno;
    // Lockdown (integrity or confidentiality) makes open() fail with EPERM even for root.
    if (e == ENOENT) return runtime_error("cannot read", path, e, std::string(kKcoreMissingHint));
    return runtime_error("cannot read", path, e, std::string(kKcoreDeniedHint));
  }
  if (!libelf_ready()) return runtime_error("cannot initialise libelf", path, 0, elf_error());
  constexpr std::string_view hint = "pass /proc/kcore, or a kernel image with --vmlinux";
  ElfPtr elf(elf_begin(fd.get(), ELF_C_READ, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
    return bad_input("not an ELF core file like /proc/kcore", path, std::string(hint));
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf.get(), &ehdr) == nullptr)
    return bad_input("not an ELF core file like /proc/kcore (" + elf_error() + ")", path,
                     std::string(hint));
  if (auto status = check_elf_class(ehdr, path, hint); !status)
    return tl::unexpected(status.error());
  if (ehdr.e_type != ET_CORE)
    return bad_input(
        "not an ELF core file like /proc/kcore (ELF type " + std::to_string(ehdr.e_type) + ")",
        path, "a vmlinux image is read with --vmlinux, not as kcore");
  size_t count = 0;
  if (elf_getphdrnum(elf.get(), &count) != 0)
    return runtime_error("cannot read ELF program headers (" + elf_error() + ")", path);
  std::vector<detail::MappedFile::Range> ranges;
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf.get(), static_cast<int>(i), &phdr) == nullptr)
      return runtime_error(
          "cannot read ELF program header " + std::to_string(i) + " (" + elf_error() + ")", path);
    if (phdr.p_type != PT_LOAD || phdr.p_filesz == 0) continue;
    ranges.push_back({phdr.p_vaddr, phdr.p_filesz, phdr.p_offset, false});
  }
  if (ranges.empty())
    return bad_input("ELF core file maps no memory (no PT_LOAD segment)", path, std::string(hint));
  return KcoreMemory(std::make_unique<detail::MappedFile>(std::move(fd), path, std::move(ranges)));
}

Result<std::string> KcoreMemory::read(uint64_t address, size_t size) const {
  return file_->read(address, size, 0);
}

std::string KcoreMemory::describe() const {
  return file_->path();
}

// ---------------------------------------------------------------------------------------------
// ElfImageMemory

namespace {

struct SectionInfo {
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t addr = 0;
};

// nm's letters, which kallsyms copies: by section, not by STT type, so the assembler's
// STT_NOTYPE labels in .text count as text as they do in /proc/kallsyms.
std::optional<char> type_letter(const GElf_Sym& sym, uint32_t shndx,
                                const std::vector<SectionInfo>& sections) {
  const int type = GELF_ST_TYPE(sym.st_info);
  if (type == STT_SECTION || type == STT_FILE || type == STT_TLS) return std::nullopt;
  char letter = 0;
  bool text = false;
  if (shndx == SHN_ABS) {
    letter = 'a';
  } else if (shndx == SHN_UNDEF || shndx == SHN_COMMON || shndx >= sections.size()) {
    return std::nullopt;
  } else {
    const SectionInfo& section = sections[shndx];
    if ((section.flags & SHF_ALLOC) == 0) return std::nullopt;
    if ((section.flags & SHF_EXECINSTR) != 0) {
      letter = 't';
      text = true;
    } else if (section.type == SHT_NOBITS) {
      letter = 'b';
    } else if ((section.flags & SHF_WRITE) != 0) {
      letter = 'd';
    } else {
      letter = 'r';
    }
  }
  switch (GELF_ST_BIND(sym.st_info)) {
    case STB_LOCAL:
      return letter;
    case STB_WEAK:
      return text ? 'W' : 'V';
    default:
      return static_cast<char>(letter - 'a' + 'A');
  }
}

Result<std::vector<KernelSymbol>> read_symtab(Elf* elf, const std::vector<SectionInfo>& sections,
                                              const std::string& path, int64_t kaslr_offset) {
  std::vector<KernelSymbol> out;
  Elf_Scn* symtab = nullptr;
  Elf_Data* xindex = nullptr;  // SHT_SYMTAB_SHNDX: section numbers that do not fit st_shndx
  size_t symtab_index = 0;
  GElf_Shdr symtab_header{};
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    if (shdr.sh_type == SHT_SYMTAB) {
      symtab = scn;
      symtab_index = elf_ndxscn(scn);
      symtab_header = shdr;
    }
  }
  if (symtab == nullptr) return out;  // stripped
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) != nullptr && shdr.sh_type == SHT_SYMTAB_SHNDX &&
        shdr.sh_link == symtab_index) {
      xindex = elf_getdata(scn, nullptr);
    }
  }
  Elf_Data* data = elf_getdata(symtab, nullptr);
  if (data == nullptr || symtab_header.sh_entsize == 0)
    return runtime_error("cannot read the symbol table (" + elf_error() + ")", path);
  const size_t count = symtab_header.sh_size / symtab_header.sh_entsize;
  out.reserve(count);
  for (size_t i = 1; i < count; ++i) {  // entry 0 is the reserved null symbol
    GElf_Sym sym;
    Elf32_Word extended = 0;
    if (gelf_getsymshndx(data, xindex, static_cast<int>(i), &sym, &extended) == nullptr) continue;
    const uint32_t shndx = sym.st_shndx == SHN_XINDEX ? extended : sym.st_shndx;
    const auto letter = type_letter(sym, shndx, sections);
    if (!letter) continue;
    const char* name = elf_strptr(elf, symtab_header.sh_link, sym.st_name);
    if (name == nullptr || *name == '\0') continue;
    KernelSymbol symbol;
    symbol.address = sym.st_value;
    // KASLR moves the image as a whole, except what is linked at 0 (x86-64 per-CPU variables,
    // listed in kallsyms at their per-CPU offset) and absolute symbols.
    if (shndx != SHN_ABS && sections[shndx].addr != 0)
      symbol.address += static_cast<uint64_t>(kaslr_offset);
    symbol.type = *letter;
    symbol.name = name;
    out.push_back(std::move(symbol));
  }
  return out;
}

}  // namespace

ElfImageMemory::ElfImageMemory(std::unique_ptr<detail::MappedFile> file,
                               std::vector<KernelSymbol> symbols, int64_t kaslr_offset)
    : file_(std::move(file)), symbols_(std::move(symbols)), kaslr_offset_(kaslr_offset) {}
ElfImageMemory::ElfImageMemory(ElfImageMemory&&) noexcept = default;
ElfImageMemory& ElfImageMemory::operator=(ElfImageMemory&&) noexcept = default;
ElfImageMemory::~ElfImageMemory() = default;

Result<ElfImageMemory> ElfImageMemory::open(const std::string& path, int64_t kaslr_offset) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return runtime_error("cannot open", path, errno, std::string(kVmlinuxHint));
  if (!libelf_ready()) return runtime_error("cannot initialise libelf", path, 0, elf_error());
  ElfPtr elf(elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
    return bad_input("not an ELF file", path, std::string(kVmlinuxHint));
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf.get(), &ehdr) == nullptr)
    return bad_input("not an ELF file (" + elf_error() + ")", path, std::string(kVmlinuxHint));
  if (auto status = check_elf_class(ehdr, path, kVmlinuxHint); !status)
    return tl::unexpected(status.error());
  if (ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN)
    return bad_input("not a linked kernel image (ELF type " + std::to_string(ehdr.e_type) + ")",
                     path, std::string(kVmlinuxHint));

  size_t section_count = 0;
  if (elf_getshdrnum(elf.get(), &section_count) != 0)
    return runtime_error("cannot read ELF section headers (" + elf_error() + ")", path);
  std::vector<SectionInfo> sections(section_count);
  std::vector<detail::MappedFile::Range> ranges;
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn != nullptr;
       scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr)
      return runtime_error("cannot read ELF section header (" + elf_error() + ")", path);
    const size_t index = elf_ndxscn(scn);
    if (index < sections.size()) sections[index] = {shdr.sh_type, shdr.sh_flags, shdr.sh_addr};
    if ((shdr.sh_flags & SHF_ALLOC) == 0 || shdr.sh_size == 0) continue;
    // .tbss is a template laid over the addresses of the sections after it, not memory.
    const bool nobits = shdr.sh_type == SHT_NOBITS;
    if (nobits && (shdr.sh_flags & SHF_TLS) != 0) continue;
    ranges.push_back({shdr.sh_addr, shdr.sh_size, shdr.sh_offset, nobits});
  }
  if (ranges.empty()) {  // section headers stripped: the loader's view is all there is
    size_t count = 0;
    if (elf_getphdrnum(elf.get(), &count) != 0) count = 0;
    for (size_t i = 0; i < count; ++i) {
      GElf_Phdr phdr;
      if (gelf_getphdr(elf.get(), static_cast<int>(i), &phdr) == nullptr) continue;
      if (phdr.p_type != PT_LOAD) continue;
      if (phdr.p_filesz > 0) ranges.push_back({phdr.p_vaddr, phdr.p_filesz, phdr.p_offset, false});
      if (phdr.p_memsz > phdr.p_filesz)
        ranges.push_back({phdr.p_vaddr + phdr.p_filesz, phdr.p_memsz - phdr.p_filesz, 0, true});
    }
  }
  if (ranges.empty())
    return bad_input("ELF file maps no memory (no allocated section, no PT_LOAD segment)", path,
                     std::string(kVmlinuxHint));
  auto symbols = read_symtab(elf.get(), sections, path, kaslr_offset);
  if (!symbols) return tl::unexpected(symbols.error());
  return ElfImageMemory(
      std::make_unique<detail::MappedFile>(std::move(fd), path, std::move(ranges)),
      std::move(*symbols), kaslr_offset);
}

Result<std::string> ElfImageMemory::read(uint64_t address, size_t size) const {
  return file_->read(address, size, kaslr_offset_);
}

std::string ElfImageMemory::describe() const {
  return file_->path();
}

SymbolTable ElfImageMemory::symbols() const {
  return SymbolTable::from_symbols(symbols_);
}

Result<int64_t> kaslr_offset(const SymbolTable& live, const SymbolTable& image,
                             std::string_view anchor) {
  if (!live.addresses_visible())
    return runtime_error("kernel symbol addresses are hidden (all zero)", std::string(anchor), 0,
                         "read /proc/kallsyms as root (kernel.kptr_restrict hides them)");
  const auto in_live = live.by_name(anchor);
  const auto in_image = image.by_name(anchor);
  if (in_live.empty())
    return bad_input("symbol missing from the live kernel's symbols", std::string(anchor));
  if (in_image.empty())
    return bad_input("symbol missing from the kernel image's symbols", std::string(anchor),
                     "is the image stripped? pass the vmlinux with its .symtab");
  return static_cast<int64_t>(in_live.front()->address - in_image.front()->address);
}

// ---------------------------------------------------------------------------------------------
// OpsVerifier

namespace {

bool is_data_type(char type) {
  return std::string_view("dDrRbBgGsSvV").find(type) != std::string_view::npos;
}

bool is_global(char type) {
  return type >= 'A' && type <= 'Z';
}

// Chunking: symbols closer than kMaxGap are read together, up to kMaxChunk per read. The kernel
// packs .data and .rodata densely, so a pass costs a few dozen reads instead of ~40k.
constexpr uint64_t kMaxGap = 64 * 1024;
constexpr uint64_t kMaxChunk = 4 * 1024 * 1024;
constexpr size_t kPointerSize = 8;
// See OpsVerifier: at most one in five BTF-judged pointers may have another prototype.
constexpr size_t kMismatchRatio = 4;

std::string_view without_tag(std::string_view name) {
  for (std::string_view tag : {"struct ", "union "}) {
    if (name.starts_with(tag)) return name.substr(tag.size());
  }
  return name;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace

struct OpsVerifier::Impl {
  Impl(const KernelMemory& memory_, const SymbolTable& symbols_, const Btf& btf_,
       const OpsIndex& ops_)
      : memory(memory_),
        symbols(symbols_),
        btf(btf_),
        ops(ops_),
        where(memory_.describe()),
        bias(static_cast<uint64_t>(memory_.pointer_bias())) {}

  struct Candidate {
    uint64_t address;
    uint64_t limit;  // where the next symbol starts: the object ends at or before it
    uint32_t symbol;
  };
  struct Target {
    uint32_t symbol = 0;   // the alias shown for this address
    std::string key;       // detail::type_key of its prototype; empty when not in BTF
    bool lenient = false;  // clone or shared static name: a different key proves nothing
  };
  struct Plan {
    std::string name;
    uint32_t size = 0;
    const std::vector<OpsMember>* members = nullptr;
    std::vector<OpsInstance> found;
  };
  struct PassResult {
    size_t attempted = 0;
    size_t unreadable = 0;
  };

  void index();
  const std::vector<uint32_t>* text_named(std::string_view base) const;
  bool is_text_start(uint64_t address) const;
  const Target& target(uint64_t address);
  const std::string& member_key(uint32_t proto_id);
  PassResult ensure_scanned(const std::vector<std::string_view>& names);
  void evaluate(Plan& plan, const Candidate& candidate, const char* bytes);

  const KernelMemory& memory;
  const SymbolTable& symbols;
  const Btf& btf;
  const OpsIndex& ops;
  std::string where;
  uint64_t bias;

  std::vector<Candidate> candidates;                // data symbols by address, one per address
  std::vector<std::pair<uint64_t, uint32_t>> text;  // text symbols by address, best alias first
  StringMap<std::vector<uint32_t>> text_by_base;    // strip_clone_suffix(name) -> text symbols
  std::unordered_map<uint64_t, Target> targets;
  std::unordered_map<uint32_t, std::string> member_keys;
  StringMap<std::vector<OpsInstance>> cache;
  OpsScanStats stats;
  std::vector<std::pair<uint32_t, uint64_t>> hits;  // scratch: member index, target
};

void OpsVerifier::Impl::index() {
  const auto& all = symbols.symbols();
  // Aliases at one address: linker markers such as __start_rodata share the address of the first
  // object after them, so a name without "__" goes first, then a global one, then by name (the
  // output must not depend on the input order).
  auto better = [&](uint32_t a, uint32_t b) {
    const KernelSymbol& x = all[a];
    const KernelSymbol& y = all[b];
    const bool x_marker = x.name.starts_with("__");
    const bool y_marker = y.name.starts_with("__");
    if (x_marker != y_marker) return !x_marker;
    if (is_global(x.type) != is_global(y.type)) return is_global(x.type);
    return x.name < y.name;
  };

  std::vector<uint64_t> starts;  // of every symbol with an address: bounds the data objects
  starts.reserve(all.size());
  uint64_t per_cpu_end = 0;
  // On x86-64 SMP, per-CPU variables sit at their offset in the per-CPU area (from 0), which is
  // no address: 6.1's kallsyms marks them 'A', but a vmlinux .symtab (.data..percpu is linked
  // at 0) lists them as data. Reading there would only add failures.
  auto per_cpu_start = symbols.by_name("__per_cpu_start");
  auto per_cpu_stop = symbols.by_name("__per_cpu_end");
  if (!per_cpu_start.empty() && !per_cpu_stop.empty() && per_cpu_start.front()->address == 0)
    per_cpu_end = per_cpu_stop.front()->address;

  std::vector<uint32_t> data;
  for (uint32_t i = 0; i < all.size(); ++i) {
    const KernelSymbol& s = all[i];
    if (s.address == 0 || s.type == 'a' || s.type == 'A' || s.type == 'U') continue;
    starts.push_back(s.address);
    if (s.is_text()) {
      text.emplace_back(s.address, i);
    } else if (is_data_type(s.type) && s.address >= per_cpu_end) {
      data.push_back(i);
    }
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  std::sort(text.begin(), text.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return better(a.second, b.second);
  });
  std::sort(data.begin(), data.end(), [&](uint32_t a, uint32_t b) {
    if (all[a].address != all[b].address) return all[a].address < all[b].address;
    return better(a, b);
  });
  candidates.reserve(data.size());
  for (uint32_t i : data) {
    const uint64_t address = all[i].address;
    if (!candidates.empty() && candidates.back().address == address) continue;
    auto next = std::upper_bound(starts.begin(), starts.end(), address);
    candidates.push_back(
        {address, next == starts.end() ? std::numeric_limits<uint64_t>::max() : *next, i});
  }
}

bool OpsVerifier::Impl::is_text_start(uint64_t address) const {
  auto it = std::lower_bound(text.begin(), text.end(), address,
                             [](const auto& entry, uint64_t a) { return entry.first < a; });
  return it != text.end() && it->first == address;
}

const std::vector<uint32_t>* OpsVerifier::Impl::text_named(std::string_view base) const {
  auto it = text_by_base.find(base);
  return it == text_by_base.end() ? nullptr : &it->second;
}

const OpsVerifier::Impl::Target& OpsVerifier::Impl::target(uint64_t address) {
  if (auto it = targets.find(address); it != targets.end()) return it->second;
  const auto& all = symbols.symbols();
  auto [begin, end] =
      std::equal_range(text.begin(), text.end(), std::make_pair(address, uint32_t{0}),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
  Target out;
  out.symbol = begin->second;  // callers checked is_text_start
  for (auto it = begin; it != end; ++it) {
    const std::string& name = all[it->second].name;
    const std::string_view base = strip_clone_suffix(name);
    const auto func_id = btf.function_id(base);
    if (!func_id) continue;
    out.symbol = it->second;
    out.key = detail::type_key(btf.raw(), btf__type_by_id(btf.raw(), *func_id)->type, true);
    // A clone may have lost parameters; BTF keeps one prototype for same-name statics.
    size_t distinct = 0;
    uint64_t last = 0;
    for (const KernelSymbol* same : symbols.by_name(name)) {
      if (!same->is_text() || (distinct > 0 && same->address == last)) continue;
      ++distinct;
      last = same->address;
    }
    out.lenient = base != name || distinct > 1;
    break;
  }
  return targets.emplace(address, std::move(out)).first->second;
}

const std::string& OpsVerifier::Impl::member_key(uint32_t proto_id) {
  auto it = member_keys.find(proto_id);
  if (it == member_keys.end())
    it = member_keys.emplace(proto_id, detail::type_key(btf.raw(), proto_id, true)).first;
  return it->second;
}

void OpsVerifier::Impl::evaluate(Plan& plan, const Candidate& candidate, const char* bytes) {
  const std::vector<OpsMember>& members = *plan.members;
  hits.clear();
  for (uint32_t m = 0; m < members.size(); ++m) {
    if (members[m].offset + kPointerSize > plan.size) continue;  // corrupt BTF only
    uint64_t pointer = 0;
    std::memcpy(&pointer, bytes + members[m].offset, kPointerSize);
    if (pointer == 0) continue;
    const uint64_t address = pointer + bias;
    if (!is_text_start(address)) return;
    hits.emplace_back(m, address);
  }
  if (hits.size() < 2) return;

  std::vector<PrototypeCheck> checks;
  checks.reserve(hits.size());
  size_t matches = 0;
  size_t differs = 0;
  for (const auto& [m, address] : hits) {
    const Target& t = target(address);
    PrototypeCheck check = PrototypeCheck::kUnknown;
    if (!t.key.empty()) {
      if (t.key == member_key(members[m].proto_id)) {
        check = PrototypeCheck::kMatches;
      } else if (!t.lenient) {
        check = PrototypeCheck::kDiffers;
      }
    }
    matches += check == PrototypeCheck::kMatches;
    differs += check == PrototypeCheck::kDiffers;
    checks.push_back(check);
  }
  if (matches == 0 || differs * kMismatchRatio > matches) return;

  const auto& all = symbols.symbols();
  const KernelSymbol& symbol = all[candidate.symbol];
  OpsInstance instance;
  instance.symbol = symbol.name;
  instance.module = symbol.module;
  instance.address = candidate.address;
  instance.struct_name = plan.name;
  instance.pointers.reserve(hits.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    const auto& [m, address] = hits[i];
    instance.pointers.push_back(OpsPointer{members[m].name, members[m].offset, address,
                                           all[target(address).symbol].name, checks[i]});
  }
  plan.found.push_back(std::move(instance));
}

OpsVerifier::Impl::PassResult OpsVerifier::Impl::ensure_scanned(
    const std::vector<std::string_view>& names) {
  std::vector<Plan> plans;
  for (std::string_view name : names) {
    if (cache.find(name) != cache.end()) continue;
    if (std::any_of(plans.begin(), plans.end(), [&](const Plan& p) { return p.name == name; }))
      continue;
    const auto& members = ops.members_of(name);
    const auto size = btf.struct_size(name);
    if (members.empty() || !size || *size < kPointerSize) {
      cache.emplace(std::string(name), std::vector<OpsInstance>{});
      continue;
    }
    plans.push_back(Plan{std::string(name), *size, &members, {}});
  }
  PassResult result;
  if (plans.empty()) return result;

  const auto started = std::chrono::steady_clock::now();
  uint64_t largest = 0;
  uint64_t smallest = std::numeric_limits<uint64_t>::max();
  for (const Plan& plan : plans) {
    largest = std::max<uint64_t>(largest, plan.size);
    smallest = std::min<uint64_t>(smallest, plan.size);
  }
  // Bytes worth reading at a candidate: up to the largest struct, never past the next symbol.
  auto need = [&](const Candidate& c) { return std::min(largest, c.limit - c.address); };
  auto check = [&](const Candidate& c, const char* bytes, uint64_t available) {
    for (Plan& plan : plans) {
      if (plan.size <= available) evaluate(plan, c, bytes);
    }
  };

  // Symbols too small for every struct are never read.
  std::vector<const Candidate*> eligible;
  for (const Candidate& c : candidates) {
    if (need(c) >= smallest) eligible.push_back(&c);
  }
  result.attempted = eligible.size();

  // Reads eligible[i, j) as one range (address + need() <= limit, so nothing wraps). A range
  // that crosses a hole (between sections of an image, past the end of a kcore segment) is split
  // in halves until the pieces read; a lone symbol then falls back to each struct's own size, so
  // a table just before a hole is still found.
  auto read_range = [&](size_t i, size_t j, auto&& self) -> void {
    const uint64_t start = eligible[i]->address;
    uint64_t end = start;
    for (size_t k = i; k < j; ++k) end = std::max(end, eligible[k]->address + need(*eligible[k]));
    auto bytes = memory.read(start, static_cast<size_t>(end - start));
    ++stats.reads;
    if (bytes) {
      stats.bytes_read += bytes->size();
      for (size_t k = i; k < j; ++k) {
        const Candidate& c = *eligible[k];
        check(c, bytes->data() + (c.address - start), need(c));
      }
      return;
    }
    if (j - i > 1) {
      const size_t mid = i + (j - i) / 2;
      self(i, mid, self);
      self(mid, j, self);
      return;
    }
    const Candidate& c = *eligible[i];
    bool any = false;
    for (Plan& plan : plans) {
      if (plan.size >= need(c)) continue;
      auto part = memory.read(c.address, plan.size);
      ++stats.reads;
      if (!part) continue;
      any = true;
      stats.bytes_read += part->size();
      evaluate(plan, c, part->data());
    }
    if (!any) ++result.unreadable;
  };

  for (size_t i = 0; i < eligible.size();) {
    const uint64_t start = eligible[i]->address;
    uint64_t end = start + need(*eligible[i]);
    size_t j = i + 1;
    for (; j < eligible.size(); ++j) {
      const Candidate& c = *eligible[j];
      if (c.address > end && c.address - end > kMaxGap) break;
      if (c.address + need(c) - start > kMaxChunk) break;
      end = std::max(end, c.address + need(c));
    }
    read_range(i, j, read_range);
    i = j;
  }

  for (Plan& plan : plans) {
    std::sort(plan.found.begin(), plan.found.end(),
              [](const OpsInstance& a, const OpsInstance& b) { return a.address < b.address; });
    cache.emplace(std::move(plan.name), std::move(plan.found));
  }
  ++stats.passes;
  stats.data_symbols = candidates.size();
  stats.unreadable_symbols += result.unreadable;
  stats.seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

OpsVerifier::OpsVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OpsVerifier::OpsVerifier(OpsVerifier&&) noexcept = default;
OpsVerifier& OpsVerifier::operator=(OpsVerifier&&) noexcept = default;
OpsVerifier::~OpsVerifier() = default;

Result<OpsVerifier> OpsVerifier::create(const KernelMemory& memory, const SymbolTable& symbols,
                                        const Btf& btf, const OpsIndex& ops) {
  if (!symbols.addresses_visible())
    return runtime_error("kernel symbol addresses are hidden (all zero)", "", 0,
                         "read /proc/kallsyms as root (kernel.kptr_restrict hides them)");
  if (!std::any_of(symbols.symbols().begin(), symbols.symbols().end(),
                   [](const KernelSymbol& s) { return is_data_type(s.type); }))
    return runtime_error("the kernel symbols list no data symbols, so ops tables cannot be found",
                         "", 0,
                         "the kernel was built without CONFIG_KALLSYMS_ALL: pass --vmlinux FILE "
                         "(the kernel's vmlinux ELF) to read tables from its image instead");
  auto impl = std::make_unique<Impl>(memory, symbols, btf, ops);
  impl->index();
  return OpsVerifier(std::move(impl));
}

const OpsScanStats& OpsVerifier::stats() const {
  return impl_->stats;
}

const std::vector<OpsInstance>& OpsVerifier::instances_of(std::string_view struct_name) {
  struct_name = without_tag(struct_name);
  impl_->ensure_scanned({struct_name});
  return impl_->cache.find(struct_name)->second;
}

Result<std::vector<OpsInstance>> OpsVerifier::scan_all(
    const std::vector<std::string>& struct_names) {
  std::vector<std::string_view> names;
  for (const std::string& raw : struct_names) {
    const std::string_view name = without_tag(raw);
    if (impl_->ops.members_of(name).empty() || !impl_->btf.struct_size(name))
      return bad_input("no struct or union with function-pointer members of this name in the BTF",
                       raw, "name an ops table type without 'struct': proto, file_operations");
    names.push_back(name);
  }
  const auto pass = impl_->ensure_scanned(names);
  if (pass.attempted > 0 && pass.unreadable == pass.attempted)
    return runtime_error("no data symbol could be read from " + impl_->where, "", 0,
                         "the symbols and the memory must come from the same kernel; for a "
                         "vmlinux read against live kallsyms, pass its KASLR offset");
  std::vector<OpsInstance> out;
  for (std::string_view name : names) {
    const auto& found = impl_->cache.find(name)->second;
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

std::vector<VerifiedMembership> OpsVerifier::verify(std::string_view function) {
  Impl& d = *impl_;
  const std::string_view base = strip_clone_suffix(function);
  const auto prototype = d.btf.prototype(base);
  if (!prototype) return {};
  const auto fits = d.ops.fits(d.btf, *prototype);
  if (fits.empty()) return {};

  if (d.text_by_base.empty()) {
    const auto& all = d.symbols.symbols();
    for (const auto& [address, i] : d.text) {
      d.text_by_base[std::string(strip_clone_suffix(all[i].name))].push_back(i);
    }
  }
  // The function's addresses: every same-name static and every clone of it; asked by a clone's
  // own name, that clone only.
  std::unordered_map<uint64_t, std::string_view> wanted;
  if (const auto* named = d.text_named(base)) {
    for (uint32_t i : *named) {
      const KernelSymbol& s = d.symbols.symbols()[i];
      if (base != function && s.name != function) continue;
      auto [it, inserted] = wanted.emplace(s.address, s.name);
      if (!inserted && s.name == function) it->second = s.name;  // the asked-for alias wins
    }
  }
  if (wanted.empty()) return {};

  std::vector<std::string_view> structs;
  for (const OpsFit& fit : fits) structs.push_back(fit.struct_name);
  d.ensure_scanned(structs);

  // The first members of a larger table can look like a smaller struct whose prototypes agree
  // (the first 16 bytes of every struct my_ops are a valid struct tiny_ops { connect; close; }),
  // and a table whose other pointers BTF cannot judge fits several structs. Per table slot the
  // largest struct that explains the table is reported, then the member whose name fits the
  // function best; what is still tied is all reported.
  struct Slot {
    std::vector<VerifiedMembership> memberships;
    uint32_t struct_size = 0;
    NameAffinity affinity = NameAffinity::kNone;
  };
  std::map<std::tuple<uint64_t, uint32_t, uint64_t>, Slot> slots;  // table, offset, function
  for (const OpsFit& fit : fits) {
    const uint32_t size = d.btf.struct_size(fit.struct_name).value_or(0);
    for (const OpsInstance& instance : d.cache.find(fit.struct_name)->second) {
      for (const OpsPointer& pointer : instance.pointers) {
        if (pointer.member != fit.member) continue;
        auto it = wanted.find(pointer.target);
        if (it == wanted.end()) continue;
        Slot& slot = slots[{instance.address, pointer.offset, pointer.target}];
        const bool better = slot.memberships.empty() || size > slot.struct_size ||
                            (size == slot.struct_size && fit.affinity < slot.affinity);
        const bool tied = size == slot.struct_size && fit.affinity == slot.affinity;
        if (!better && !tied) continue;
        if (better) slot.memberships.clear();
        slot.struct_size = size;
        slot.affinity = fit.affinity;
        VerifiedMembership m;
        m.table = instance.symbol;
        m.module = instance.module;
        m.table_address = instance.address;
        m.struct_name = instance.struct_name;
        m.member = pointer.member;
        m.function = std::string(it->second);
        m.function_address = pointer.target;
        m.text = m.table + "." + m.member + " = " + m.function + " (verified in " + d.where + ")";
        slot.memberships.push_back(std::move(m));
      }
    }
  }
  std::vector<VerifiedMembership> out;
  for (auto& [key, slot] : slots) {
    for (auto& m : slot.memberships) out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const VerifiedMembership& a, const VerifiedMembership& b) {
    return std::tie(a.table, a.table_address, a.member, a.struct_name) <
           std::tie(b.table, b.table_address, b.member, b.struct_name);
  });
  return out;
}

}  // namespace probeseek
