// One BPF instruction, for the few hand-assembled programs outside bpf/ (the ring-buffer
// producers of event_ring_test and bench/attach_decode, run with BPF_PROG_TEST_RUN).
#pragma once

#include <linux/bpf.h>

#include <cstdint>

namespace probeseek::internal {

inline bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

}  // namespace probeseek::internal
