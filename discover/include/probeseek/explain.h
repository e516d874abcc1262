// `probeseek explain`: everything known about one function as a hook, with the ranking's own
// argument for it (rank.h), its layer and siblings (layer.h), and where it sleeps.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "probeseek/rank.h"

namespace probeseek {

// Everything known about one function (`probeseek explain`).
struct Explanation {
  std::string function;
  std::optional<FunctionPrototype> prototype;
  std::string btf_source;  // a module function's own BTF first: "BTF of module nf_tables (...)"
  std::string module;      // the kernel module it lives in (kallsyms), "" for vmlinux
  std::vector<OpsFit> ops;
  std::vector<std::string> verified;  // "tcp_prot.connect = tcp_v4_connect (verified in ...)"
  Layer layer;
  HookSet hook_set;  // the hooks that cover what it covers, with its siblings
  Hookability hookability;
  struct Neighbour {
    std::string function;
    int64_t calls = 0;
  };
  struct PerSession {
    SessionEvidence evidence;
    std::vector<Neighbour> callers;
    std::vector<Neighbour> callees;
    int64_t hardirq_calls = 0, softirq_calls = 0, exception_calls = 0;
  };
  std::vector<PerSession> sessions;
  // "sleeps: 99.8% of its 2.1 s below schedule(); ..." (rank's words), "" when it does not.
  std::string sleeps;
  // Where it sleeps, what sees the same object without waiting: an entry probe on it, functions
  // that run once its sleep is over ("__inet_accept (called by inet_accept after ...)").
  std::vector<std::string> after_sleep;
  std::vector<std::string> better;  // what would make it a better hook
  std::vector<std::string> worse;   // what makes it a worse one
  std::vector<std::string> warnings;
};
struct ExplainRequest {
  std::string function;
  std::vector<std::string> sessions;
  std::optional<std::string> btf_path;
  // Ops-table verification reads a vmlinux ELF, or the live kernel's kcore + kallsyms.
  std::optional<std::string> vmlinux_path;
  KernelPaths live;
  std::optional<std::vector<std::string>> kernels;  // --kernels, as RankRequest::kernels
};
Result<Explanation> explain(Database& db, const ExplainRequest& request);

}  // namespace probeseek
