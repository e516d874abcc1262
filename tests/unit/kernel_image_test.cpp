// kernels/: real Debian kernel packages, read without booting them, checked against what the
// booted 6.1.0-56 and 6.12.118 kernels themselves reported (tests/data/linux-*). The packages
// are downloaded once with apt-get download into PROBESEEK_KERNEL_CACHE (default:
// tests/lab/cache/packages); without network or apt sources the tests skip, saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "internal.h"
#include "probeseek/child.h"
#include "probeseek/kernel_image.h"
#include "probeseek/line_reader.h"
#include "probeseek/text.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::kernel_61;
using test::TempDir;

const char kPackage61[] = "linux-image-6.1.0-56-cloud-amd64";
// The package of the booted 6.12 kernel whose files are in tests/data.
const char kPackage612[] = "linux-image-6.12.118+deb12-cloud-amd64-unsigned";
const char kPackage61Generic[] = "linux-image-6.1.0-56-amd64";  // an xz payload
std::string kernel_612(const std::string& file) {
  return test::data_dir() + "/linux-6.12.118+deb12-cloud-amd64/" + file;
}

std::string cache_dir() {
  const char* env = std::getenv("PROBESEEK_KERNEL_CACHE");
  return env && *env ? env : PROBESEEK_KERNEL_CACHE;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
}

struct Kernel {
  std::string deb, skip;  // skip: why the package is unavailable
  std::optional<KernelFacts> facts;
  double seconds = 0;
};

Kernel load(const std::vector<std::string>& packages, bool modules = false) {
  Kernel k;
  for (const std::string& p : packages) {
    if (p.empty()) continue;
    auto deb = fetch_debian_package(p, cache_dir());
    if (!deb) {
      k.skip += p + ": " + deb.error().message() + " (" + deb.error().hint + "); ";
      continue;
    }
    k.deb = *deb;
    auto t0 = std::chrono::steady_clock::now();
    auto facts = read_kernel_package(k.deb, modules);
    k.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (facts) facts->image.reset();  // 50-60 MB each; the ops-table scan is compat_test's
    if (!facts) {
      ADD_FAILURE() << facts.error().message();
      k.skip = "reading failed";
      return k;
    }
    k.facts = std::move(*facts);
    std::printf("read_kernel_package(%s): %.2f s\n", k.deb.c_str(), k.seconds);
    return k;
  }
  return k;
}

const Kernel& kernel_61_package() {
  static const Kernel k = load({kPackage61}, /*modules=*/true);
  return k;
}
const Kernel& kernel_612_package() {
  static const Kernel k = load({kPackage612}, /*modules=*/true);
  return k;
}
const Kernel& kernel_61_rt_package() {
  static const Kernel k = load({"linux-image-6.1.0-47-rt-amd64"});
  return k;
}
const Kernel& kernel_61_generic_package() {
  static const Kernel k = load({kPackage61Generic});
  return k;
}

// Measured on 6.1.0-56: all 346 names in debugfs, and no other.
constexpr double BLACKLIST_LOWER_BOUND = 0.99;

#define REQUIRE_KERNEL(k)                                              \
  do {                                                                 \
    if (!(k).facts) GTEST_SKIP() << "no kernel package: " << (k).skip; \
  } while (0)

std::string config(const KernelFacts& f, const std::string& key) {
  for (const auto& [k, v] : f.config)
    if (k == key) return v;
  return "";
}

TEST(KernelImage61, FactsOfTheImage) {
  const Kernel& k = kernel_61_package();
  REQUIRE_KERNEL(k);
  const KernelFacts& f = *k.facts;
  EXPECT_EQ(f.release, "6.1.0-56-cloud-amd64");
  EXPECT_EQ(f.compression, "lz4");
  EXPECT_EQ(f.source, k.deb);
  EXPECT_EQ(f.symbols_from, "image kallsyms tables");  // Debian's System.map is a placeholder
  EXPECT_EQ(f.build_id.size(), 40u);
  EXPECT_EQ(config(f, "CONFIG_KPROBES"), "y");
  EXPECT_EQ(config(f, "CONFIG_DEBUG_INFO_BTF"), "y");
  // The BTF in the image is the BTF the booted kernel served in /sys/kernel/btf/vmlinux.
  std::string btf = slurp(kernel_61("vmlinux.btf"));
  ASSERT_FALSE(btf.empty());
  EXPECT_TRUE(f.btf == btf) << "image .BTF " << f.btf.size() << " bytes, vmlinux.btf "
                            << btf.size();
}

// The image's own kallsyms tables against the booted kernel's /proc/kallsyms (tests/data).
void expect_symbols_equal_booted(const Kernel& k, const std::string& booted_kallsyms,
                                 const char* label) {
  auto live = SymbolTable::load(booted_kallsyms);
  ASSERT_TRUE(live) << live.error().message();
  std::vector<const KernelSymbol*> vmlinux;
  for (const KernelSymbol& s : live->symbols())
    if (s.module.empty()) vmlinux.push_back(&s);
  const auto& image = k.facts->symbols;
  ASSERT_EQ(image.size(), vmlinux.size());

  std::multiset<std::string> live_names, image_names;
  for (const KernelSymbol* s : vmlinux) live_names.insert(s->name);
  for (const KernelSymbol& s : image) image_names.insert(s.name);
  EXPECT_TRUE(live_names == image_names);

  // One KASLR shift for every text symbol; the table is in the same order in both.
  uint64_t shift = live->by_name("_text").front()->address - 0xffffffff81000000ull;
  size_t name_mismatch = 0, type_mismatch = 0, address_mismatch = 0, text = 0;
  for (size_t i = 0; i < image.size(); ++i) {
    name_mismatch += image[i].name != vmlinux[i]->name;
    type_mismatch += image[i].type != vmlinux[i]->type;
    if (!image[i].is_text()) continue;
    ++text;
    address_mismatch += image[i].address + shift != vmlinux[i]->address;
  }
  std::printf(
      "%s symbols: %zu image, %zu live; %zu names differ by position, %zu type letters "
      "differ, %zu of %zu text addresses differ after the KASLR shift %#lx\n",
      label, image.size(), vmlinux.size(), name_mismatch, type_mismatch, address_mismatch, text,
      static_cast<unsigned long>(shift));
  EXPECT_EQ(name_mismatch, 0u);
  EXPECT_EQ(address_mismatch, 0u);
  EXPECT_LE(type_mismatch, 30u);  // measured: 0 on 6.1.0-56 and 6.12.118
}

TEST(KernelImage61, SymbolsEqualTheBootedKernelsKallsyms) {
  const Kernel& k = kernel_61_package();
  REQUIRE_KERNEL(k);
  expect_symbols_equal_booted(k, kernel_61("kallsyms.txt.gz"), "6.1");
}

TEST(KernelImage612, SymbolsEqualTheBootedKernelsKallsyms) {
  const Kernel& k = kernel_612_package();
  REQUIRE_KERNEL(k);
  expect_symbols_equal_booted(k, kernel_612("kallsyms.txt.gz"), "6.12");
}

template <typename Names>
std::set<std::string> as_set(const Names& names) {
  return std::set<std::string>(names.begin(), names.end());
}

// How far two name lists agree: printed, so the figures can be quoted.
struct Agreement {
  size_t ours = 0, real = 0, both = 0;
  double covered() const { return real ? double(both) / double(real) : 0; }
};
Agreement agree(const std::set<std::string>& ours, const std::set<std::string>& real) {
  Agreement a{ours.size(), real.size(), 0};
  for (const std::string& n : real) a.both += ours.count(n);
  return a;
}

void expect_traceable_covers_booted(const Kernel& k, const std::string& booted_list,
                                    const char* label) {
  ASSERT_TRUE(k.facts->traceable);
  auto text = read_text_file(booted_list);
  ASSERT_TRUE(text) << text.error().message();
  auto list = parse_filter_functions(*text, "available_filter_functions");
  ASSERT_TRUE(list);
  // ftrace prints the disabled records of dropped weak functions as
  // "__ftrace_invalid_address___N": not functions, so not in the image's list either.
  std::set<std::string> real;
  size_t invalid = 0;
  for (const FilterFunction& f : *list) {
    if (!f.module.empty()) continue;
    if (f.name.rfind("__ftrace_invalid_address___", 0) == 0)
      ++invalid;
    else
      real.insert(f.name);
  }
  Agreement a = agree(as_set(*k.facts->traceable), real);
  std::printf(
      "%s traceable: %zu from the image, %zu in available_filter_functions (vmlinux, "
      "without %zu __ftrace_invalid_address___N), %zu in both: %.2f%% of the real list, "
      "%zu only in the image\n",
      label, a.ours, a.real, invalid, a.both, 100 * a.covered(), a.ours - a.both);
  EXPECT_LE(a.ours - a.both, a.real / 100);
  EXPECT_GE(a.covered(), 0.99);
}

TEST(KernelImage61, TraceableCoversAvailableFilterFunctions) {
  const Kernel& k = kernel_61_package();
  REQUIRE_KERNEL(k);
  expect_traceable_covers_booted(k, kernel_61("available_filter_functions.txt.gz"), "6.1");
}

TEST(KernelImage612, TraceableCoversAvailableFilterFunctions) {
  const Kernel& k = kernel_612_package();
  REQUIRE_KERNEL(k);
  expect_traceable_covers_booted(k, kernel_612("available_filter_functions.txt.gz"), "6.12");
}

void expect_blacklist_agrees_with_booted(const Kernel& k, const std::string& booted_list,
                                         const char* label) {
  ASSERT_TRUE(k.facts->blacklist);
  auto text = read_text_file(booted_list);
  ASSERT_TRUE(text) << text.error().message();
  auto list = parse_kprobe_blacklist(*text, "kprobes_blacklist.txt");
  ASSERT_TRUE(list);
  std::set<std::string> real;
  for (const BlacklistEntry& e : *list) real.insert(e.name);
  Agreement a = agree(as_set(*k.facts->blacklist), real);
  std::printf(
      "%s kprobe blacklist: %zu from the image, %zu in debugfs, %zu in both: %.2f%% of "
      "the real list, %zu only in the image\n",
      label, a.ours, a.real, a.both, 100 * a.covered(), a.ours - a.both);
  EXPECT_GE(a.covered(), BLACKLIST_LOWER_BOUND);
  EXPECT_LE(a.ours - a.both, 5u);
}

TEST(KernelImage61, BlacklistAgreesWithTheBootedKernels) {
  const Kernel& k = kernel_61_package();
  REQUIRE_KERNEL(k);
  expect_blacklist_agrees_with_booted(k, kernel_61("kprobes_blacklist.txt"), "6.1");
}

TEST(KernelImage612, BlacklistAgreesWithTheBootedKernels) {
  const Kernel& k = kernel_612_package();
  REQUIRE_KERNEL(k);
  expect_blacklist_agrees_with_booted(k, kernel_612("kprobes_blacklist.txt"), "6.12");
}

TEST(KernelImage612, FactsOfTheImage) {
  const Kernel& k = kernel_612_package();
  REQUIRE_KERNEL(k);
  const KernelFacts& f = *k.facts;
  EXPECT_EQ(f.compression, "zstd");
  EXPECT_EQ(f.release.rfind("6.12.", 0), 0u) << f.release;
  EXPECT_GT(f.symbols.size(), 100000u);
  SymbolTable table = SymbolTable::from_symbols(f.symbols);
  ASSERT_FALSE(table.by_name("_text").empty());
  EXPECT_EQ(table.by_name("_text").front()->address, 0xffffffff81000000ull);
  EXPECT_FALSE(table.by_name("tcp_v4_connect").empty());
  ASSERT_TRUE(f.traceable);
  EXPECT_TRUE(std::binary_search(f.traceable->begin(), f.traceable->end(), "tcp_v4_connect"));
  ASSERT_TRUE(f.blacklist);
  EXPECT_FALSE(f.blacklist->empty());
  EXPECT_FALSE(f.btf.empty());
  EXPECT_EQ(config(f, "CONFIG_KPROBES"), "y");
  // The BTF in the image is the BTF the booted kernel served.
  auto booted = read_binary_file(kernel_612("vmlinux.btf.gz"), 64 << 20);
  ASSERT_TRUE(booted) << booted.error().message();
  EXPECT_TRUE(f.btf == *booted);
  EXPECT_EQ(f.build_id, "ebc52e2876d4430baf9b7b6f3226b56fe99c2d5f");  // as its notes.bin says
  std::printf("6.12 (%s): %zu symbols, %zu traceable, %zu blacklisted, %zu bytes of BTF\n",
              f.release.c_str(), f.symbols.size(), f.traceable->size(), f.blacklist->size(),
              f.btf.size());
}

// Debian's generic and rt 6.1 kernels compress their payload with xz.
TEST(KernelImage61Generic, XzPayload) {
  const Kernel& k = kernel_61_generic_package();
  REQUIRE_KERNEL(k);
  const KernelFacts& f = *k.facts;
  EXPECT_EQ(f.compression, "xz");
  EXPECT_EQ(f.release, "6.1.0-56-amd64");
  EXPECT_EQ(f.symbols_from, "image kallsyms tables");
  EXPECT_GT(f.symbols.size(), 80000u);
  ASSERT_TRUE(f.traceable);
  EXPECT_TRUE(std::binary_search(f.traceable->begin(), f.traceable->end(), "tcp_v4_connect"));
}

// In 6.1.0-47-rt the byte before kallsyms_token_table (the last of seqs_of_names) is not NUL, so
// the first token ("na") reads as the tail of a longer string: the table is found from its index.
TEST(KernelImage61Rt, TokenTableThatNoNulPrecedes) {
  const Kernel& k = kernel_61_rt_package();
  REQUIRE_KERNEL(k);
  EXPECT_EQ(k.facts->release, "6.1.0-47-rt-amd64");
  EXPECT_EQ(k.facts->compression, "xz");
  EXPECT_EQ(k.facts->symbols_from, "image kallsyms tables");
  EXPECT_GT(k.facts->symbols.size(), 80000u);
}

// The 6.1 package's boot/ files, unpacked once for the tests that damage them.
struct Unpacked {
  TempDir dir;
  std::string vmlinuz, skip;
};
const Unpacked& unpacked_61() {
  static Unpacked u = [] {
    Unpacked u;
    const Kernel& k = kernel_61_package();
    if (!k.facts) {
      u.skip = k.skip;
      return u;
    }
    auto run =
        run_child({"sh", "-c", "dpkg-deb --fsys-tarfile \"$0\" | tar -x -C \"$1\" ./boot ./lib",
                   k.deb, u.dir.file("")});
    if (!run || !run->ok()) {
      u.skip = "cannot unpack " + k.deb + (run ? ": " + run->err : "");
      return u;
    }
    u.vmlinuz = u.dir.file("boot/vmlinuz-6.1.0-56-cloud-amd64");
    return u;
  }();
  return u;
}

#define REQUIRE_UNPACKED(u)                                                     \
  do {                                                                          \
    if ((u).vmlinuz.empty()) GTEST_SKIP() << "no kernel package: " << (u).skip; \
  } while (0)

TEST(KernelImageInput, UnpackedDirectoryReadsLikeTheDeb) {
  const Unpacked& u = unpacked_61();
  REQUIRE_UNPACKED(u);
  auto facts = read_kernel_package(u.dir.file(""));
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_EQ(facts->release, "6.1.0-56-cloud-amd64");
  EXPECT_EQ(facts->symbols.size(), kernel_61_package().facts->symbols.size());
  EXPECT_EQ(config(*facts, "CONFIG_FUNCTION_GRAPH_TRACER"), "y");
  EXPECT_EQ(facts->modules.size(), kernel_61_package().facts->modules.size());
}

// ---- Loadable modules: lib/modules/RELEASE/kernel/**.ko (6.1, plain) and .ko.xz (6.12).

const KernelModule* module_named(const KernelFacts& f, const std::string& name) {
  for (const KernelModule& m : f.modules)
    if (m.name == name) return &m;
  return nullptr;
}
bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(KernelModules, EveryModuleOfThePackageIsRead) {
  for (const Kernel* k : {&kernel_61_package(), &kernel_612_package()}) {
    if (!k->facts) GTEST_SKIP() << "no kernel package: " << k->skip;
    const KernelFacts& f = *k->facts;
    // dpkg-deb -c: 1,121 .ko in 6.1.0-56-cloud, 1,138 .ko.xz in 6.12.118-cloud.
    EXPECT_EQ(f.modules.size(), f.release.rfind("6.1.", 0) == 0 ? 1121u : 1138u) << f.release;
    EXPECT_EQ(f.modules_skipped, 0u) << f.first_module_error;
    const KernelModule* tun = module_named(f, "tun");
    ASSERT_NE(tun, nullptr) << f.release;
    EXPECT_FALSE(tun->btf.empty());
    EXPECT_TRUE(has(tun->functions, "tun_chr_read_iter"));
    EXPECT_TRUE(has(tun->traceable, "tun_chr_read_iter"));
    // .modinfo's name, not the file's: nf_conntrack_ftp.ko is the module nf_conntrack_ftp.
    EXPECT_NE(module_named(f, "nf_conntrack_ftp"), nullptr) << f.release;
    size_t with_btf = 0, traceable = 0;
    for (const KernelModule& m : f.modules) {
      with_btf += !m.btf.empty();
      traceable += m.traceable.size();
      for (const std::string& t : m.traceable) EXPECT_TRUE(has(m.functions, t)) << m.name << t;
    }
    EXPECT_GT(with_btf, f.modules.size() * 9 / 10) << f.release;
    std::printf("%s: %zu modules, %zu with BTF, %zu traceable functions (%.1f s)\n",
                f.release.c_str(), f.modules.size(), with_btf, traceable, k->seconds);
  }
  // The real differences: 6.12's cloud kernel has fuse built in and mq-deadline as a module.
  if (kernel_61_package().facts && kernel_612_package().facts) {
    EXPECT_NE(module_named(*kernel_61_package().facts, "fuse"), nullptr);
    EXPECT_EQ(module_named(*kernel_612_package().facts, "fuse"), nullptr);
    EXPECT_EQ(module_named(*kernel_61_package().facts, "mq_deadline"), nullptr);
    EXPECT_NE(module_named(*kernel_612_package().facts, "mq_deadline"), nullptr);
  }
}

// fuzz_kernel_image (regressions/kernel_image/zstd-frame-asks-2GiB-window): 9 bytes of zstd
// frame header that declare no content size and a 2 GiB window, which zstd would allocate
// before producing a byte. Refused at the header; real kernels' frames (6.12's payload declares
// no size either) stay within zstd's default 128 MiB.
TEST(KernelModules, AZstdFrameAskingForAHugeWindowIsRefused) {
  const std::string frame("\x28\xb5\x2f\xfd\x00\xa8\x01\x00\x00", 9);
  auto r = kernels::read_module(frame, "x.ko.zst", "x.ko.zst");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_NE(r.error().message().find("zstd stream"), std::string::npos) << r.error().message();
}

TEST(KernelModules, ADamagedModuleIsBadInputNamingIt) {
  auto r = kernels::read_module(std::string(100, 'x'), "x.ko", "pkg.deb: x.ko");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_NE(r.error().message().find("damaged module"), std::string::npos);
  EXPECT_NE(r.error().message().find("pkg.deb: x.ko"), std::string::npos);
  auto xz = kernels::read_module(std::string("\xfd"
                                             "7zXZ\0garbage",
                                             13),
                                 "x.ko.xz", "x.ko.xz");
  EXPECT_FALSE(xz);
}

// Where the compressed payload starts (arch/x86/boot/header.S).
size_t payload_start(const std::string& image) {
  size_t sects = static_cast<unsigned char>(image[0x1f1]);
  uint32_t offset;
  std::memcpy(&offset, image.data() + 0x248, 4);
  return ((sects ? sects : 4) + 1) * 512 + offset;
}

void expect_bad_input(const Result<KernelFacts>& r, const std::string& file,
                      const std::string& words) {
  ASSERT_FALSE(r) << "accepted " << file;
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput) << r.error().message();
  EXPECT_NE(r.error().message().find(file), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(words), std::string::npos) << r.error().message();
}

TEST(KernelImageInput, UnknownPayloadCompression) {
  const Unpacked& u = unpacked_61();
  REQUIRE_UNPACKED(u);
  std::string image = slurp(u.vmlinuz);
  TempDir tmp;
  image.replace(payload_start(image), 4, "ABCD");
  spit(tmp.file("vmlinuz"), image);
  auto r = read_kernel_image(tmp.file("vmlinuz"));
  expect_bad_input(r, tmp.file("vmlinuz"), "unknown kernel payload compression (magic 41 42 43 44");
  EXPECT_NE(r.error().hint.find("lz4, zstd, xz, gzip"), std::string::npos);
  image.replace(payload_start(image), 4, "\x89LZO");
  spit(tmp.file("vmlinuz"), image);
  expect_bad_input(read_kernel_image(tmp.file("vmlinuz")), tmp.file("vmlinuz"),
                   "lzo kernel payload compression is not supported");
  // An xz magic in front of lz4 data: a damaged xz stream, not a crash.
  image.replace(payload_start(image), 6,
                std::string("\xfd"
                            "7zXZ\0",
                            6));
  spit(tmp.file("vmlinuz"), image);
  expect_bad_input(read_kernel_image(tmp.file("vmlinuz")), tmp.file("vmlinuz"), "xz stream");
}

TEST(KernelImageInput, TruncatedVmlinuz) {
  const Unpacked& u = unpacked_61();
  REQUIRE_UNPACKED(u);
  std::string image = slurp(u.vmlinuz);
  TempDir tmp;
  spit(tmp.file("vmlinuz"), std::string_view(image).substr(0, image.size() / 2));
  expect_bad_input(read_kernel_image(tmp.file("vmlinuz")), tmp.file("vmlinuz"), "truncated");
  spit(tmp.file("vmlinuz"), std::string_view(image).substr(0, 0x200));
  expect_bad_input(read_kernel_image(tmp.file("vmlinuz")), tmp.file("vmlinuz"), "not a bzImage");
}

TEST(KernelImageInput, DestroyedTokenTable) {
  const Unpacked& u = unpacked_61();
  REQUIRE_UNPACKED(u);
  auto payload = bzimage_payload(slurp(u.vmlinuz), u.vmlinuz);
  ASSERT_TRUE(payload) << payload.error().message();
  // kallsyms_token_table holds the digits as single-character tokens: "0\0" "1\0" ... "9\0".
  std::string digits;
  for (char c = '0'; c <= '9'; ++c) digits += std::string{c, '\0'};
  std::string& elf = payload->elf;
  size_t hits = 0;
  for (size_t p = elf.find(digits); p != std::string::npos; p = elf.find(digits, p + 1), ++hits)
    elf.replace(p, digits.size(), std::string(digits.size(), 'x'));
  ASSERT_GT(hits, 0u);
  TempDir tmp;
  spit(tmp.file("vmlinux"), elf);
  expect_bad_input(read_kernel_image(tmp.file("vmlinux")), tmp.file("vmlinux"),
                   "kallsyms tables not found");
}

TEST(KernelImageInput, SystemMapOfAnotherKernel) {
  const Unpacked& u = unpacked_61();
  REQUIRE_UNPACKED(u);
  TempDir tmp;
  spit(tmp.file("System.map"), "ffffffff82000000 T _text\nffffffff82000100 T start_kernel\n");
  expect_bad_input(read_kernel_image(u.vmlinuz, tmp.file("System.map")), tmp.file("System.map"),
                   "System.map does not match the image");
  // Debian's placeholder is no symbol table: the image's own tables are used, silently.
  spit(tmp.file("System.map"),
       "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n");
  auto facts = read_kernel_image(u.vmlinuz, tmp.file("System.map"));
  ASSERT_TRUE(facts) << facts.error().message();
  EXPECT_EQ(facts->symbols_from, "image kallsyms tables");
}

TEST(KernelImageInput, DebThatIsNotAKernel) {
  TempDir tmp;
  std::string root = tmp.file("pkg");
  std::filesystem::create_directories(root + "/DEBIAN");
  std::filesystem::create_directories(root + "/usr/share/doc/hello");
  spit(root + "/DEBIAN/control",
       "Package: probeseek-not-a-kernel\nVersion: 1.0\nArchitecture: all\n"
       "Maintainer: probeseek tests <tests@example.org>\nDescription: not a kernel\n");
  spit(root + "/usr/share/doc/hello/README", "hello\n");
  auto run = run_child({"dpkg-deb", "--root-owner-group", "--build", root, tmp.file("x.deb")});
  if (!run || !run->ok()) GTEST_SKIP() << "dpkg-deb cannot build a package here";
  expect_bad_input(read_kernel_package(tmp.file("x.deb")), tmp.file("x.deb"),
                   "not a kernel package");
  spit(tmp.file("junk.deb"), "!<arch>\nthis is no ar member at all");
  auto junk = read_kernel_package(tmp.file("junk.deb"));
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().kind, ErrorKind::kBadInput) << junk.error().message();
}

TEST(KernelImageInput, PackageNamesAreChecked) {
  TempDir tmp;
  for (const char* name : {"../etc/passwd", "linux-image-6.1;rm -rf", "bash", "linux-image-A"}) {
    auto r = fetch_debian_package(name, tmp.file("cache"));
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  }
}

TEST(KernelImageInput, DebianKernelPackages) {
  auto list = debian_kernel_packages();
  if (!list) GTEST_SKIP() << list.error().message();
  if (list->empty()) GTEST_SKIP() << "apt knows no linux-image packages here";
  for (const std::string& n : *list) {
    EXPECT_EQ(n.rfind("linux-image-", 0), 0u) << n;
    EXPECT_FALSE(n.ends_with("-dbg")) << n;
    EXPECT_EQ(n.find("template"), std::string::npos) << n;
    EXPECT_NE(n, "linux-image-6.12-amd64");
  }
}

// Downloads land whole or not at all: parallel fetches of one package (ctest runs the tests
// that need the same .deb at once; CI once read a half-written one) all see the finished file,
// and no staging directory stays behind. A meta package keeps the download small.
TEST(KernelImageInput, ParallelFetchesSeeWholePackages) {
  TempDir tmp;
  const std::string cache = tmp.file("packages");
  std::vector<Result<std::string>> got(4, std::string());
  std::vector<std::thread> threads;
  for (auto& r : got)
    threads.emplace_back(
        [&r, &cache] { r = fetch_debian_package("linux-image-cloud-amd64", cache); });
  for (auto& t : threads) t.join();
  if (!got[0]) GTEST_SKIP() << got[0].error().message() << " (" << got[0].error().hint << ")";
  for (auto& r : got) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, *got[0]);
  }
  EXPECT_EQ(slurp(*got[0]).substr(0, 8), "!<arch>\n");
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache)) {
    EXPECT_EQ(e.path().extension(), ".deb") << e.path();
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

// common/child.h, which fetch_debian_package and debian_kernel_packages run apt through.
TEST(ChildProcess, StatusOutputCwdCapAndTimeout) {
  TempDir tmp;
  ChildOptions opts;
  opts.cwd = tmp.file("");
  auto run = run_child({"sh", "-c", "pwd; echo oops >&2; exit 3"}, opts);
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->exit_status, 3);
  EXPECT_EQ(std::filesystem::path(std::string(trim(run->out))),
            std::filesystem::path(tmp.file("")).lexically_normal().parent_path());
  EXPECT_EQ(run->err, "oops\n");

  opts.output_cap = 1000;
  run = run_child({"sh", "-c", "head -c 100000 /dev/zero"}, opts);
  ASSERT_TRUE(run);
  EXPECT_TRUE(run->ok());
  EXPECT_EQ(run->out.size(), 1000u);
  EXPECT_TRUE(run->truncated);

  opts.timeout = std::chrono::milliseconds(200);
  auto t0 = std::chrono::steady_clock::now();
  run = run_child({"sleep", "30"}, opts);
  ASSERT_TRUE(run);
  EXPECT_TRUE(run->timed_out);
  EXPECT_FALSE(run->ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));

  auto missing = run_child({"probeseek-no-such-program"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().err_no, ENOENT);
  EXPECT_FALSE(missing.error().hint.empty());
}

}  // namespace
}  // namespace probeseek
