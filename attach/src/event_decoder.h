// The generic probe's ring-buffer records (bpf/include/probeseek/probe_event.h) decoded into
// Events: the probe's function and prototype found by the record's probe id, each captured
// value printed as its BTF type says. Apart from the Tracer, which owns the probes and the ring,
// so that the decoding alone can be measured and tested (bench/attach_decode.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "arg_spec.h"
#include "probeseek/attach_event.h"

namespace probeseek::internal {

// CLOCK_REALTIME minus CLOCK_MONOTONIC now, in ns: bpf_ktime_get_ns() plus this is wall time.
int64_t realtime_minus_monotonic();

class EventDecoder {
 public:
  explicit EventDecoder(int64_t wall_offset_ns) : wall_offset_(wall_offset_ns) {}

  // Records naming probe `id` are decoded with this function name and prototype. Ids are the
  // tracer's probe indexes; a probe keeps its entry after it is detached (its last records are
  // still in the ring).
  void set_probe(size_t id, std::string function, PrototypeSpec spec);

  // Decodes one record into `event`, reusing its strings and vectors (a warm Event costs no
  // allocation for most records). False, with `event` unspecified, when the record is shorter
  // than a probe_event or names no probe set here: the caller counts it as undecodable.
  bool decode(const void* data, size_t size, Event& event) const;

 private:
  struct Probe {
    bool set = false;
    std::string function;
    PrototypeSpec spec;
  };
  std::vector<Probe> probes_;
  int64_t wall_offset_ = 0;
};

}  // namespace probeseek::internal
