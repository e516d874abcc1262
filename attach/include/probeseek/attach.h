// A probe running now: the generic CO-RE program of bpf/ attached to a kernel function, its
// events decoded with BTF (argument names and types, sockets as addresses and ports).
//
//   auto tracer = Tracer::open({});                       // the live kernel
//   auto probe = (*tracer)->attach({"tcp_v4_connect"});   // kprobe first, fentry if no kprobes
//   (*tracer)->poll(100, [](const Event& e) { ... format_event(e) ... });
//   tracer.reset();                                       // detaches: links are bpf_link fds
//
// Nothing here prints. Links are bpf_link file descriptors (kprobe PMU or BPF trampoline), so a
// process that is killed leaves nothing attached; the legacy kprobe_events interface, which
// would, is never used.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/attach_event.h"
#include "probeseek/btf.h"
#include "probeseek/error.h"
#include "probeseek/kernel_paths.h"

namespace probeseek {

enum class ProbeType { kKprobe, kKretprobe, kFentry, kFexit };
std::string_view to_string(ProbeType type);  // "kprobe", "kretprobe", "fentry", "fexit"
Result<ProbeType> parse_probe_type(std::string_view text);
bool is_return_probe(ProbeType type);

// Whether this kernel runs BPF trampolines (fentry/fexit), found out the way retsnoop does: by
// loading a minimal fentry program (return 0) on a function of the running kernel's BTF and
// attaching it, then closing both. Kallsyms and BTF alone say the code is there, not that the
// kernel lets it run (lockdown refuses the load with EPERM). doctor and attach share it, so
// they give the same answer on the same kernel.
struct TrampolineSupport {
  bool available = false;
  int err_no = 0;  // what the kernel answered, 0 when it worked or was not asked
  std::string
      why_not;  // "refused by the kernel: ... Operation not permitted (kernel lockdown: ...)"
};
TrampolineSupport trampoline_support(const KernelPaths& paths);
// The sentence for a kernel that refuses an fentry/fexit load with `err` (positive errno), or ""
// when err says nothing about the kernel's support (a verifier error, say).
std::string trampoline_refusal(int err, const KernelPaths& paths, const std::string& what);

struct TracerOptions {
  std::optional<int> pid;        // only this process (tgid)...
  bool follow_children = false;  // ...and its descendants
  KernelPaths paths;
};

struct ProbeRequest {
  std::string function;
  std::optional<ProbeType> type;  // nullopt: kprobe, fentry when the kernel has no kprobes
  bool unsafe = false;            // attach to denied, blacklisted or notrace functions too
};

struct AttachedProbe {
  std::string function;  // as requested
  std::string symbol;    // what was attached to: the function, or its clone "f.isra.0"
  ProbeType type = ProbeType::kKprobe;
  std::string how;         // "kprobe", "kprobe+kretprobe", "fexit" (return mode needs two)
  bool at_return = false;  // events come at return, with the return value
  std::optional<FunctionPrototype> prototype;
  std::vector<std::string> warnings;  // clone ABI, no BTF prototype, type changed, ...
};

class Tracer {
 public:
  static Result<std::unique_ptr<Tracer>> open(const TracerOptions& options);
  ~Tracer();  // detaches everything
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Checks the function (name, deny list, blacklist, notrace), configures the generic program
  // from its BTF prototype, loads and attaches it. Refusals are bad input with the reasons;
  // a kernel that cannot do it is a runtime error saying what is missing and what would work.
  Result<const AttachedProbe*> attach(const ProbeRequest& request);
  // A set, all or nothing: every function is checked as attach() checks it before any is
  // loaded, and a refusal (or a function named twice) refuses the set with every reason (bad
  // input). If the kernel then fails on one, those this call attached are detached again.
  Result<std::vector<const AttachedProbe*>> attach_set(const std::vector<ProbeRequest>& requests);
  const std::vector<std::unique_ptr<AttachedProbe>>& probes() const { return probes_; }

  // Waits up to timeout_ms for events and hands each to on_event; returns how many. Returns
  // after at most kMaxEventsPerPoll even while a hot function keeps the ring buffer full, so
  // that a caller's stop check (Ctrl-C) runs; the rest waits for the next call. The Event is
  // valid during the call only (one is reused for every record: no allocation per event).
  static constexpr size_t kMaxEventsPerPoll = 1024;
  Result<size_t> poll(int timeout_ms, const std::function<void(const Event&)>& on_event);

  uint64_t lost_events() const;                          // dropped because the ring buffer was full
  uint64_t missed_entries() const;                       // returns whose entry was not seen
  uint64_t undecodable() const { return undecodable_; }  // malformed records (never expected)

  // Detaches and unloads every probe now (the destructor does the same). probes() and the
  // counters stay; attach() works again afterwards.
  void detach_all();

 private:
  Tracer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<AttachedProbe>> probes_;
  uint64_t undecodable_ = 0;
};

}  // namespace probeseek
