// The only translation unit that includes the generated skeleton (it holds the whole BPF
// object as a string literal: compiling it once keeps the other files fast to build).
#include "probeseek/probe_skeleton.h"

#include "probeseek/probe.skel.h"

namespace probeseek {

std::unique_ptr<ProbeObject> ProbeObject::open(const struct bpf_object_open_opts* opts) {
  struct probe_bpf* skel = probe_bpf__open_opts(opts);
  if (skel == nullptr) return nullptr;
  return std::unique_ptr<ProbeObject>(new ProbeObject(skel));
}

ProbeObject::~ProbeObject() {
  // Destroys links the skeleton knows of (none: attach/ owns its links), programs and maps.
  probe_bpf__destroy(skel_);
}

struct probe_config& ProbeObject::config() {
  return skel_->rodata->probe_cfg;
}
struct bpf_object* ProbeObject::object() const {
  return skel_->obj;
}
struct bpf_program* ProbeObject::entry() const {
  return skel_->progs.probe_entry;
}
struct bpf_program* ProbeObject::ret() const {
  return skel_->progs.probe_return;
}
struct bpf_program* ProbeObject::fentry() const {
  return skel_->progs.probe_fentry;
}
struct bpf_program* ProbeObject::fexit() const {
  return skel_->progs.probe_fexit;
}
struct bpf_map* ProbeObject::events() const {
  return skel_->maps.events;
}
struct bpf_map* ProbeObject::inflight() const {
  return skel_->maps.inflight;
}

int ProbeObject::load() {
  return probe_bpf__load(skel_);
}

uint64_t ProbeObject::lost_events() const {
  // .bss is mapped shared with the kernel: read what the program last wrote.
  return __atomic_load_n(&skel_->bss->lost_events, __ATOMIC_RELAXED);
}
uint64_t ProbeObject::missed_entries() const {
  return __atomic_load_n(&skel_->bss->missed_entries, __ATOMIC_RELAXED);
}

}  // namespace probeseek
