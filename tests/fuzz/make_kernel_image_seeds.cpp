// Writes the seed corpus of fuzz_kernel_image (tests/fuzz/corpus/kernel_image): tiny vmlinux
// ELFs holding kallsyms tables in the 6.1 and the 6.12 layouts (kernels/src/image_kallsyms.cpp),
// with ftrace call sites, a kprobe blacklist and an ops table (sock_ops), and bzImages whose
// payload is one of them compressed with lz4 (legacy frames), zstd or gzip. Run by hand after
// changing a case:
//   cmake --build build --target make_kernel_image_seeds &&
//   build/tests/fuzz/make_kernel_image_seeds tests/fuzz [a real vmlinuz, for its first 4 KiB]
#include <lz4.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kText = 0xffffffff81000000ull, kRodata = 0xffffffff82000000ull,
                   kData = 0xffffffff83000000ull;

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void pad8(std::string& s) {
  while (s.size() % 8) s += '\0';
}

struct Symbol {
  const char* name;  // type letter first, as in kallsyms_names
  uint64_t address;
};
const Symbol kSymbols[] = {
    {"T_text", kText},
    {"Tstart_kernel", kText + 0x10},
    {"Tsock_open", kText + 0x20},
    {"Tsock_close", kText + 0x30},
    {"ttcp_helper.isra.0", kText + 0x40},
    {"T__noinstr_text_start", kText + 0x80},
    {"Tdo_nmi", kText + 0x80},
    {"T__noinstr_text_end", kText + 0xc0},
    {"T_etext", kText + 0x100},
    {"D__start_mcount_loc", kData},
    {"D__stop_mcount_loc", kData + 16},
    {"D__start_kprobe_blacklist", kData + 16},
    {"D__stop_kprobe_blacklist", kData + 24},
    {"dsock_ops", kData + 32},  // struct ops { open, close } of fuzz_kernel_image's BTF
};
constexpr uint32_t kCount = sizeof kSymbols / sizeof kSymbols[0];

// Token i is the byte i (token 0, which no name uses, is "zz"): names encode as their bytes.
std::string token_table() {
  std::string t;
  for (int i = 0; i < 256; ++i) t += (i == 0 ? std::string("zz") : std::string(1, char(i))) + '\0';
  return t;
}
std::string token_index() {
  std::string s;
  for (int i = 0; i < 256; ++i)
    put<uint16_t>(s, i == 0 ? 0 : static_cast<uint16_t>(3 + 2 * (i - 1)));
  return s;
}
std::string names() {
  std::string s;
  for (const Symbol& sym : kSymbols) {
    s += static_cast<char>(std::strlen(sym.name));
    s += sym.name;
  }
  return s;
}
// CONFIG_KALLSYMS_ABSOLUTE_PERCPU: address = relative_base - 1 - offset.
std::string offsets() {
  std::string s;
  for (const Symbol& sym : kSymbols) put<int32_t>(s, static_cast<int32_t>(kText - 1 - sym.address));
  return s;
}

// The banner, then the tables in the 6.1 order (seqs true) or the 6.12 order.
std::string rodata(bool layout_61) {
  std::string r = "Linux version 6.99.0-seed (seed@probeseek) #1 SMP";
  r += '\0';
  pad8(r);
  std::string markers;
  put<uint32_t>(markers, 0);
  std::string seqs(3 * kCount, '\0');
  auto num_syms = [&] {
    pad8(r);
    put<uint32_t>(r, kCount);
    put<uint32_t>(r, 0);
  };
  if (layout_61) {
    r += offsets();
    pad8(r);
    put<uint64_t>(r, kText);
    num_syms();
    r += names();
    pad8(r);
    r += markers;
    pad8(r);
    r += seqs;
    pad8(r);
    r += token_table();
    pad8(r);
    r += token_index();
  } else {
    num_syms();
    r += names();
    pad8(r);
    r += markers;
    pad8(r);
    r += token_table();
    pad8(r);
    r += token_index();
    pad8(r);
    r += offsets();
    pad8(r);
    put<uint64_t>(r, kText);
    pad8(r);
    r += seqs;
  }
  return r;
}

struct Section {
  std::string name;
  uint32_t type;
  uint64_t flags, addr;
  std::string data;
};

std::string elf(bool layout_61) {
  std::string data;  // __mcount_loc, then _kprobe_blacklist, then sock_ops
  put<uint64_t>(data, kText + 0x10);
  put<uint64_t>(data, kText + 0x40);
  put<uint64_t>(data, kText + 0x40);
  put<uint64_t>(data, 0);
  put<uint64_t>(data, kText + 0x20);
  put<uint64_t>(data, kText + 0x30);
  std::string notes;
  put<uint32_t>(notes, 4);
  put<uint32_t>(notes, 20);
  put<uint32_t>(notes, 3);  // NT_GNU_BUILD_ID
  notes += std::string("GNU\0", 4);
  for (int i = 0; i < 20; ++i) notes += static_cast<char>(0xa0 + i);
  std::vector<Section> secs = {
      {"", 0, 0, 0, ""},
      {".text", 1, 6, kText, std::string(0x100, '\xcc')},
      {".rodata", 1, 2, kRodata, rodata(layout_61)},
      {".data", 1, 3, kData, data},
      {".notes", 7, 2, kData + 0x1000, notes},
      {".BTF", 1, 2, kData + 0x2000, std::string("\x9f\xeb\x01\x00\x18\x00\x00\x00", 8)},
      {".shstrtab", 3, 0, 0, ""},
  };
  std::vector<uint32_t> name_at;
  for (Section& s : secs) {
    name_at.push_back(static_cast<uint32_t>(secs.back().data.size()));
    secs.back().data += s.name + '\0';
  }
  std::string out(64, '\0');
  std::vector<uint64_t> offset;
  for (Section& s : secs) {
    pad8(out);
    offset.push_back(out.size());
    out += s.data;
  }
  pad8(out);
  uint64_t shoff = out.size();
  for (size_t i = 0; i < secs.size(); ++i) {
    put<uint32_t>(out, name_at[i]);
    put<uint32_t>(out, secs[i].type);
    put<uint64_t>(out, secs[i].flags);
    put<uint64_t>(out, secs[i].addr);
    put<uint64_t>(out, offset[i]);
    put<uint64_t>(out, secs[i].data.size());
    put<uint32_t>(out, 0);
    put<uint32_t>(out, 0);
    put<uint64_t>(out, 8);
    put<uint64_t>(out, 0);
  }
  std::memcpy(out.data(),
              "\x7f"
              "ELF\x02\x01\x01",
              7);
  auto set16 = [&](size_t at, uint16_t v) { std::memcpy(out.data() + at, &v, 2); };
  set16(16, 2);   // ET_EXEC
  set16(18, 62);  // EM_X86_64
  std::memcpy(out.data() + 0x28, &shoff, 8);
  set16(0x34, 64);
  set16(0x3a, 64);
  set16(0x3c, static_cast<uint16_t>(secs.size()));
  set16(0x3e, static_cast<uint16_t>(secs.size() - 1));
  return out;
}

std::string lz4_legacy(const std::string& in) {
  std::string out;
  put<uint32_t>(out, 0x184C2102);
  std::string block(static_cast<size_t>(LZ4_compressBound(static_cast<int>(in.size()))), '\0');
  int n = LZ4_compress_default(in.data(), block.data(), static_cast<int>(in.size()),
                               static_cast<int>(block.size()));
  put<uint32_t>(out, static_cast<uint32_t>(n));
  out.append(block.data(), static_cast<size_t>(n));
  return out;
}
std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 19));
  return out;
}
std::string gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;  // ends with ISIZE, the size the kernel's build appends to the other formats
}

// arch/x86/boot/header.S: one setup sector, protocol 2.15, payload right after the setup code.
std::string bzimage(std::string payload, bool append_size, uint32_t size) {
  if (append_size) put<uint32_t>(payload, size);
  std::string out(1024, '\0');
  out[0x1f1] = 1;
  std::memcpy(out.data() + 0x202, "HdrS", 4);
  uint16_t version = 0x020f;
  std::memcpy(out.data() + 0x206, &version, 2);
  uint32_t length = static_cast<uint32_t>(payload.size());
  std::memcpy(out.data() + 0x24c, &length, 4);
  return out + payload;
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TESTS_FUZZ_DIR [VMLINUZ]\n", argv[0]);
    return 2;
  }
  std::string dir = std::string(argv[1]) + "/corpus/kernel_image/";
  std::string e61 = elf(true), e612 = elf(false);
  write(dir + "vmlinux_kallsyms_6.1_layout", e61);
  write(dir + "vmlinux_kallsyms_6.12_layout", e612);
  uint32_t size = static_cast<uint32_t>(e612.size());
  write(dir + "bzimage_lz4", bzimage(lz4_legacy(e612), true, size));
  write(dir + "bzimage_zstd", bzimage(zstd(e612), true, size));
  write(dir + "bzimage_gzip", bzimage(gzip(e612), false, size));
  write(dir + "bzimage_xz_magic", bzimage(std::string("\xfd"
                                                      "7zXZ\0 rest",
                                                      10),
                                          true, 64));
  if (argc > 2) {  // a real setup header, cut after 4 KiB: the payload lies outside the file
    std::ifstream in(argv[2], std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), 4096);
    head.resize(static_cast<size_t>(in.gcount()));
    write(dir + "bzimage_real_header_truncated", head);
  }
  return 0;
}
