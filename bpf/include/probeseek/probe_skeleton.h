// The generic probe (bpf/probe.bpf.c), embedded in the binary as a bpftool skeleton, behind one
// owner. Open, fill config() and choose programs, load, attach (attach/ does that), destroy.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>

#include "probeseek/probe_event.h"

struct probe_bpf;  // bpftool-generated, see probe_skeleton.cpp

namespace probeseek {

class ProbeObject {
 public:
  // nullptr with errno set when libbpf cannot open the embedded object.
  static std::unique_ptr<ProbeObject> open(const struct bpf_object_open_opts* opts);
  ~ProbeObject();
  ProbeObject(const ProbeObject&) = delete;
  ProbeObject& operator=(const ProbeObject&) = delete;

  // Writable until load(); the verifier then sees these values as constants.
  struct probe_config& config();

  struct bpf_object* object() const;
  struct bpf_program* entry() const;  // kprobe
  struct bpf_program* ret() const;    // kretprobe
  struct bpf_program* fentry() const;
  struct bpf_program* fexit() const;
  struct bpf_map* events() const;    // ring buffer
  struct bpf_map* inflight() const;  // return mode: arguments saved at entry

  // 0, or a negative errno (libbpf's convention).
  int load();

  // Counters kept by the program (valid after load).
  uint64_t lost_events() const;
  uint64_t missed_entries() const;

 private:
  explicit ProbeObject(struct probe_bpf* skel) : skel_(skel) {}
  struct probe_bpf* skel_;  // owned: probe_bpf__destroy() in the destructor
};

}  // namespace probeseek
