#include "probeseek/hookability.h"

namespace probeseek {

const std::vector<DenyRule>& deny_list() {
  // Each entry: why probing it is unsafe. Kept short and specific; --unsafe overrides.
  static const std::vector<DenyRule> rules = {
      {"bpf_*", "BPF runtime: a probe here runs inside the BPF machinery it uses (recursion)"},
      {"__bpf_*", "BPF runtime: a probe here runs inside the BPF machinery it uses (recursion)"},
      {"__sys_bpf", "the bpf(2) syscall probeseek itself uses to load and attach"},
      {"trace_*", "tracing core: probes here recurse into the tracer"},
      {"ftrace_*", "ftrace core: probes here recurse into the tracer"},
      {"__ftrace_*", "ftrace core: probes here recurse into the tracer"},
      {"ring_buffer_*", "the trace ring buffer: probes here recurse into it"},
      {"rb_*", "trace ring buffer internals: probes here recurse into it"},
      {"perf_*", "perf events deliver BPF output: probes here recurse"},
      {"kprobe_*", "kprobe machinery: probing it recurses"},
      {"__kprobe_*", "kprobe machinery: probing it recurses"},
      {"rcu_*", "RCU internals: a probe can stall grace periods or run where RCU is not watching"},
      {"__rcu_read_lock", "RCU read-side entry, called inside every BPF program run"},
      {"__rcu_read_unlock", "RCU read-side exit, called inside every BPF program run"},
      {"migrate_disable", "used by the BPF trampoline around every program run (recursion)"},
      {"migrate_enable", "used by the BPF trampoline around every program run (recursion)"},
      {"preempt_count_add", "preemption accounting used by the probe path itself"},
      {"preempt_count_sub", "preemption accounting used by the probe path itself"},
      {"_raw_spin_*", "low-level locking used by the probe path: deadlock risk"},
      {"native_*", "paravirt primitives (irq flags, MSRs) used by the probe path"},
      {"nmi_*", "NMI context: probes here can deadlock on locks held by the interrupted code"},
      {"*_nmi", "NMI context: probes here can deadlock on locks held by the interrupted code"},
      {"*_nmi_*", "NMI context: probes here can deadlock on locks held by the interrupted code"},
      {"irq_work_*", "used to deliver BPF ring buffer wakeups (recursion)"},
      {"context_tracking_*", "context tracking: RCU is not watching here"},
      {"ct_*", "context tracking: RCU is not watching here"},
      {"lock_acquire", "lockdep: called by every lock the probe path takes"},
      {"lock_release", "lockdep: called by every lock the probe path takes"},
  };
  return rules;
}

namespace {

bool matches(std::string_view pattern, std::string_view name) {
  bool leading = !pattern.empty() && pattern.front() == '*';
  bool trailing = !pattern.empty() && pattern.back() == '*';
  std::string_view core = pattern.substr(leading, pattern.size() - leading - trailing);
  if (leading && trailing) return name.find(core) != std::string_view::npos;
  if (trailing) return name.substr(0, core.size()) == core;
  if (leading) return name.size() >= core.size() && name.substr(name.size() - core.size()) == core;
  return name == pattern;
}

}  // namespace

std::optional<std::string> denied_because(std::string_view function) {
  std::string_view base = strip_clone_suffix(function);
  for (const DenyRule& rule : deny_list())
    if (matches(rule.pattern, base)) return std::string(rule.reason);
  return std::nullopt;
}

std::string Hookability::verdict() const {
  if (!hookable) return "not hookable";
  if (clone || only_clones || same_name_symbols > 1 || !traceable_known)
    return "hookable with care";
  return "hookable";
}

HookabilityInputs hookability_inputs(const std::unordered_set<std::string>* traceable,
                                     const std::unordered_set<std::string>* blacklisted,
                                     const SymbolTable* kallsyms, const Btf* btf) {
  HookabilityInputs in;
  if (traceable)
    in.traceable = [traceable](std::string_view n) { return traceable->count(std::string(n)) > 0; };
  if (blacklisted)
    in.blacklisted = [blacklisted](std::string_view n) {
      return blacklisted->count(std::string(n)) > 0;
    };
  if (kallsyms)
    in.kallsyms_count = [kallsyms](std::string_view n) {
      return static_cast<int>(kallsyms->by_name(n).size());
    };
  in.btf = btf;
  return in;
}

Hookability assess_hookability(std::string_view function, const HookabilityInputs& in) {
  Hookability h;
  std::string name(function);
  std::string_view base = strip_clone_suffix(function);
  h.clone = base.size() != function.size();

  if (auto why = denied_because(function)) {
    h.denied = true;
    h.hookable = false;
    h.reasons.push_back("deny list: " + *why);
  }
  if (in.blacklisted) {
    if (in.blacklisted(name) || in.blacklisted(base)) {
      h.blacklisted = true;
      h.hookable = false;
      h.reasons.push_back("in the kprobe blacklist: the kernel refuses kprobes here");
    }
  }
  if (in.traceable) {
    h.traceable_known = true;
    h.traceable = in.traceable(name);
    if (!h.traceable) {
      h.hookable = false;
      h.reasons.push_back(
          "not in available_filter_functions: notrace or not instrumented, so neither "
          "kprobe-on-ftrace nor fentry can attach");
    } else {
      h.reasons.push_back("in available_filter_functions: kprobe and fentry can attach");
    }
  } else {
    h.reasons.push_back(
        "traceability unknown: import available_filter_functions with "
        "--filter-functions");
  }
  if (in.kallsyms_count) {
    int same = in.kallsyms_count(name);
    h.same_name_symbols = same;
    if (same > 1)
      h.reasons.push_back(std::to_string(same) +
                          " static functions share this name: a probe by name attaches to the "
                          "first; pick one by address");
    if (in.kallsyms_count("__ksymtab_" + std::string(base)) > 0) {
      h.exported = true;
      h.reasons.push_back("exported (__ksymtab_" + std::string(base) +
                          "): a stable entry point used by modules");
    }
    if (h.clone) {
      h.reasons.push_back("compiler clone of " + std::string(base) +
                          ": its ABI may differ from the BTF prototype (arguments can be dropped "
                          "or reordered); prefer a caller or the original when it exists");
      if (in.kallsyms_count(base) == 0) {
        h.only_clones = true;
        h.reasons.push_back(std::string(base) +
                            " itself is not in kallsyms: only its clones exist");
      }
    } else if (same == 0 && in.btf && in.btf->function_id(base)) {
      h.inlined = true;
      h.hookable = false;
      h.reasons.push_back(
          "in BTF but not in kallsyms: fully inlined, there is nothing to attach to");
    }
  }
  return h;
}

}  // namespace probeseek
