// The records attach reads from its BPF ring buffer (bpf/include/probeseek/probe_event.h),
// decoded and printed as attach does (attach/src/event_decoder.h, format_event). The kernel
// writes them, but whatever their bytes (a short record, an unknown probe id, a family, state or
// protocol out of range, names without a NUL, negative read errors), decoding must stay inside
// the record and every line must be printable. One Event is reused across the records of an
// input, as attach reuses it: the input is cut into records of sizeof(probe_event) bytes (the
// last one shorter), so state left by one record must not leak into the next's line.
// Probes: tcp_v4_connect (0), vfs_read (1), inet_csk_accept (2, returns struct sock *), with the
// 6.1 test kernel's prototypes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "event_decoder.h"
#include "probeseek/btf.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const probeseek::internal::EventDecoder& decoder() {
  static const auto* d = [] {
    using namespace probeseek;
    auto btf = Btf::load(PROBESEEK_TEST_DATA "/linux-6.1.0-56-cloud-amd64/vmlinux.btf");
    check(btf.has_value());
    auto* out = new internal::EventDecoder(0);
    size_t id = 0;
    for (const char* f : {"tcp_v4_connect", "vfs_read", "inet_csk_accept"}) {
      auto proto = btf->prototype(f);
      check(proto.has_value());
      out->set_probe(id++, f, internal::describe_prototype(*btf, *proto));
    }
    return out;
  }();
  return *d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  probeseek::Event event;
  size_t at = 0;
  do {
    const size_t n = std::min(size - at, sizeof(probe_event));
    if (decoder().decode(data + at, n, event)) {
      const std::string line = probeseek::format_event(event);
      for (unsigned char c : line) check(c >= 0x20 && c != 0x7f);
      check(line.find(event.function) != std::string::npos);
    }
    at += n;
  } while (at < size);
  return 0;
}
