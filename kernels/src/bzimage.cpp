// vmlinuz (x86 bzImage): the setup header locates the compressed vmlinux, which is decompressed
// here with a hard cap on its size. Layout from arch/x86/boot/header.S and
// Documentation/arch/x86/boot.rst; the trailing size word from scripts/Makefile.lib (size_append).
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "bytes.h"
#include "internal.h"

namespace probeseek {
namespace kernels {

std::string hex_bytes(std::string_view b, bool spaced) {
  std::string out;
  char buf[4];
  for (unsigned char c : b) {
    std::snprintf(buf, sizeof buf, "%s%02x", out.empty() || !spaced ? "" : " ", c);
    out += buf;
  }
  return out;
}

}  // namespace kernels

namespace {

using kernels::read_le;

constexpr uint64_t kMaxOutput = 512ull << 20;  // a vmlinux is ~60 MB; more is not a kernel
constexpr uint32_t kLz4LegacyMagic = 0x184C2102;
constexpr uint64_t kLz4LegacyBlock =
    8ull << 20;  // lib/decompress_unlz4.c: LZ4_DEFAULT_UNCOMPRESSED_CHUNK_SIZE
constexpr char kSupported[] = "supported: lz4, zstd, xz, gzip";

tl::unexpected<Error> damaged(const std::string& origin, const std::string& what) {
  return bad_input("damaged " + what + " in the kernel image's payload", origin,
                   "the file is truncated or corrupt: download the package again");
}

// Appends up to `room` more bytes to out, within the cap; returns where the new space starts.
bool grow(std::string& out, size_t used, size_t room, uint64_t cap) {
  if (used + room > cap) room = cap - used;
  if (room == 0) return false;
  out.resize(used + room);
  return true;
}

Result<std::string> unlz4_legacy(std::string_view in, const std::string& origin, uint64_t cap) {
  std::string out;
  size_t pos = 4;  // after the magic
  while (pos < in.size()) {
    auto size = read_le<uint32_t>(in, pos);
    if (!size) return damaged(origin, "lz4 block header");
    pos += 4;
    if (*size == kLz4LegacyMagic) continue;  // a new frame starts (concatenated lz4 files)
    if (*size > in.size() - pos || *size > INT32_MAX) return damaged(origin, "lz4 block size");
    size_t used = out.size();
    uint64_t room = std::min<uint64_t>(kLz4LegacyBlock, cap - used);
    if (room == 0) return damaged(origin, "lz4 stream (larger than the recorded size)");
    out.resize(used + room);
    int n = LZ4_decompress_safe(in.data() + pos, out.data() + used, static_cast<int>(*size),
                                static_cast<int>(room));
    if (n < 0) return damaged(origin, "lz4 block");
    out.resize(used + static_cast<size_t>(n));
    pos += *size;
  }
  return out;
}

struct ZstdFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

Result<std::string> unzstd_impl(std::string_view in, const std::string& origin, uint64_t cap) {
  std::unique_ptr<ZSTD_DCtx, ZstdFree> ctx(ZSTD_createDCtx());
  if (!ctx) return runtime_error("cannot create a zstd decompression context", origin, ENOMEM);
  // The kernel is compressed with --ultra -22: windows up to 2^31 (lib/decompress_unzstd.c).
  // The decoder's buffer is the smaller of the window and the frame's declared content size;
  // a frame that declares no size gets its whole window before any output, so a 9-byte frame
  // asking for 2 GiB costs 2 GiB (fuzz_kernel_image, regressions/kernel_image/zstd-frame-asks-
  // 2GiB-window). Such a frame may have no window larger than the output this call accepts,
  // or than zstd's default limit.
  const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return damaged(origin, "zstd stream (no frame header)");
  int window_log = 31;
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    // 27 (128 MiB) is zstd's own default limit and what Debian's 6.12 kernels need: their
    // build compresses a pipe, so the frame declares no size.
    window_log = 27;
    while (window_log < 31 && (uint64_t{1} << window_log) < cap) ++window_log;
  } else if (declared > cap) {
    return damaged(origin, "zstd stream (larger than the recorded size)");
  }
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, window_log);
  std::string out;
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  size_t used = 0, last = 1;
  for (;;) {
    if (used == out.size() && !grow(out, used, std::max<size_t>(used, 1 << 20), cap))
      return damaged(origin, "zstd stream (larger than the recorded size)");
    ZSTD_outBuffer dst{out.data(), out.size(), used};
    last = ZSTD_decompressStream(ctx.get(), &dst, &src);
    if (ZSTD_isError(last))
      return damaged(origin, std::string("zstd stream (") + ZSTD_getErrorName(last) + ")");
    used = dst.pos;
    // One frame: a second one would bring its own window, unchecked.
    if (last == 0 && src.pos < src.size)
      return damaged(origin, "zstd stream (data after its frame)");
    // Done when the input is consumed and the decoder holds nothing more for us.
    if (src.pos == src.size && (last == 0 || dst.pos < dst.size)) break;
  }
  if (last != 0) return damaged(origin, "zstd stream (truncated)");
  out.resize(used);
  return out;
}

struct ZStream {
  z_stream s{};
  bool live = false;
  ~ZStream() {
    if (live) inflateEnd(&s);
  }
};

Result<std::string> gunzip(std::string_view in, const std::string& origin, uint64_t cap) {
  ZStream z;
  if (inflateInit2(&z.s, 16 + MAX_WBITS) != Z_OK)
    return runtime_error("cannot start zlib", origin, ENOMEM);
  z.live = true;
  z.s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.s.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), UINT32_MAX));
  std::string out;
  size_t used = 0;
  for (;;) {
    if (used == out.size() && !grow(out, used, std::max<size_t>(used, 1 << 20), cap))
      return damaged(origin, "gzip stream (larger than the recorded size)");
    size_t room = std::min<size_t>(out.size() - used, UINT32_MAX);
    z.s.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.s.avail_out = static_cast<uInt>(room);
    int rc = inflate(&z.s, Z_NO_FLUSH);
    used += room - z.s.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return damaged(origin, "gzip stream");
    if (rc == Z_BUF_ERROR && z.s.avail_in == 0) return damaged(origin, "gzip stream (truncated)");
  }
  out.resize(used);
  return out;
}

// xz (Debian's generic and rt 6.1 kernels): scripts/xz_wrap.sh writes a plain .xz stream with
// CRC32 and the x86 BCJ filter, which liblzma's stream decoder handles; its memory use is
// bounded by the dictionary (the kernel uses at most 32 MiB), capped here at 256 MiB.
Result<std::string> unxz_impl(std::string_view in, const std::string& origin, uint64_t cap) {
  struct Stream {
    lzma_stream s = LZMA_STREAM_INIT;
    ~Stream() { lzma_end(&s); }
  } x;
  if (lzma_stream_decoder(&x.s, 256ull << 20, 0) != LZMA_OK)
    return runtime_error("cannot start liblzma", origin, ENOMEM);
  x.s.next_in = reinterpret_cast<const uint8_t*>(in.data());
  x.s.avail_in = in.size();
  std::string out;
  size_t used = 0;
  for (;;) {
    if (used == out.size() && !grow(out, used, std::max<size_t>(used, 1 << 20), cap))
      return damaged(origin, "xz stream (larger than the recorded size)");
    size_t room = out.size() - used;
    x.s.next_out = reinterpret_cast<uint8_t*>(out.data() + used);
    x.s.avail_out = room;
    lzma_ret rc = lzma_code(&x.s, LZMA_FINISH);
    used += room - x.s.avail_out;
    if (rc == LZMA_STREAM_END) break;
    if (rc == LZMA_BUF_ERROR) return damaged(origin, "xz stream (truncated)");
    if (rc != LZMA_OK) return damaged(origin, "xz stream (error " + std::to_string(rc) + ")");
  }
  out.resize(used);
  return out;
}

}  // namespace

Result<std::string> kernels::unzstd(std::string_view in, const std::string& origin, uint64_t cap) {
  return unzstd_impl(in, origin, cap);
}
Result<std::string> kernels::unxz(std::string_view in, const std::string& origin, uint64_t cap) {
  return unxz_impl(in, origin, cap);
}

Result<KernelPayload> bzimage_payload(std::string_view file, const std::string& origin) {
  return kernels::bzimage_payload_capped(file, origin, kMaxOutput);
}

Result<KernelPayload> kernels::bzimage_payload_capped(std::string_view file,
                                                      const std::string& origin,
                                                      uint64_t max_output) {
  const char* hint = "expected an x86 vmlinuz (bzImage, boot protocol 2.08 or later)";
  auto magic = read_le<uint32_t>(file, 0x202);
  if (!magic || *magic != 0x53726448)  // "HdrS"
    return bad_input("not a bzImage (no \"HdrS\" setup header at 0x202)", origin, hint);
  auto version = read_le<uint16_t>(file, 0x206);
  auto setup_sects = read_le<uint8_t>(file, 0x1f1);
  auto payload_offset = read_le<uint32_t>(file, 0x248);
  auto payload_length = read_le<uint32_t>(file, 0x24c);
  if (!version || *version < 0x208 || !setup_sects || !payload_offset || !payload_length)
    return bad_input("bzImage boot protocol too old or header truncated", origin, hint);
  uint64_t sects = *setup_sects == 0 ? 4 : *setup_sects;  // 0 means 4 (boot.rst)
  uint64_t start = (sects + 1) * 512 + *payload_offset;
  if (start > file.size() || file.size() - start < *payload_length || *payload_length < 8)
    return bad_input("bzImage payload lies outside the file (truncated image?)", origin,
                     "the file is truncated or corrupt: download the package again");
  std::string_view payload = file.substr(start, *payload_length);

  // The build appends the decompressed size as a u32 to every compressed vmlinux.
  uint32_t recorded = *read_le<uint32_t>(payload, payload.size() - 4);
  if (recorded == 0 || recorded > max_output)
    return bad_input("bzImage payload records an implausible decompressed size (" +
                         std::to_string(recorded) + " bytes)",
                     origin, "the file is corrupt: download the package again");

  KernelPayload out;
  Result<std::string> elf;
  auto has = [&](std::string_view m) { return payload.substr(0, m.size()) == m; };
  if (*read_le<uint32_t>(payload, 0) == kLz4LegacyMagic) {
    out.compression = "lz4";
    elf = unlz4_legacy(payload.substr(0, payload.size() - 4), origin, recorded);
  } else if (has("\x28\xb5\x2f\xfd")) {
    out.compression = "zstd";
    elf = unzstd(payload.substr(0, payload.size() - 4), origin, recorded);
  } else if (has(std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6))) {
    out.compression = "xz";
    elf = unxz(payload.substr(0, payload.size() - 4), origin, recorded);
  } else if (has("\x1f\x8b")) {
    out.compression = "gzip";
    elf = gunzip(payload, origin, recorded);  // gzip's own trailer ends with the size
  } else {
    std::string name;
    if (has("BZh")) name = "bzip2";
    if (has(std::string_view("\x5d\x00\x00", 3))) name = "lzma";
    if (has("\x89LZO")) name = "lzo";
    std::string what = name.empty() ? "unknown kernel payload compression (magic " +
                                          kernels::hex_bytes(payload.substr(0, 6)) + ")"
                                    : name + " kernel payload compression is not supported";
    return bad_input(what, origin, kSupported);
  }
  if (!elf) return tl::unexpected(elf.error());
  if (elf->size() != recorded)
    return bad_input("kernel payload decompresses to " + std::to_string(elf->size()) +
                         " bytes, the image records " + std::to_string(recorded),
                     origin, "the file is truncated or corrupt: download the package again");
  out.elf = std::move(*elf);
  return out;
}

}  // namespace probeseek
