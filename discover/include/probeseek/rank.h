// "Which kernel function should I hook?" answered from the evidence a kernel engineer would
// accept: BTF prototypes (--arg), ops-table membership, hookability, place in the recorded call
// trees, coverage of the recordings, stability across kernels. Every score is a sum of named
// contributions with reasons; nothing here names a kernel function, struct or syscall.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/db.h"
#include "probeseek/hookability.h"
#include "probeseek/kernel_paths.h"
#include "probeseek/layer.h"
#include "probeseek/module_btf.h"
#include "probeseek/ops_index.h"  // and btf.h

namespace probeseek {
struct RankRequest {
  std::vector<std::string> sessions;  // empty: every session in the database
  std::optional<std::string> arg;     // --arg TYPE
  std::string under;                  // --under FUNC: only calls below it
  bool require_all = false;           // keep functions seen in every session
  size_t limit = 20;
  bool complete = false;  // --complete: the hook set that covers the question (layer.h)
  // --kernels: weigh stability over these catalogued kernels (empty: all; docs/compat.md).
  std::optional<std::vector<std::string>> kernels;
  std::optional<std::string> btf_path;  // --btf FILE; else the sessions' stored BTF, else live
  KernelPaths live;  // the running kernel: its BTF, and its modules' BTF beside it
  // For explain: score this one function only, with BTF the caller already loaded.
  std::string only_function;
  const Btf* btf = nullptr;
  const OpsIndex* ops = nullptr;
  ModuleBtfs* modules = nullptr;  // over `btf`
};

struct ScoreTerm {
  double points = 0;
  std::string reason;
};

struct SessionEvidence {
  std::string session;
  int64_t calls = 0;       // calls counted (below --under when given)
  int64_t task_calls = 0;  // of which in task context
  int64_t interrupt_calls = 0;
  int64_t roots = 0;             // invocations of --under (or of syscalls) it ran under
  int64_t root_invocations = 0;  // invocations of --under (or of those syscalls) in the session
  int64_t callers = 0;           // distinct calling functions
  int min_depth_below = -1;      // levels below --under (or its syscall entry)
  int64_t session_calls = 0;     // all its calls in the session, anywhere
  int64_t session_task_calls = 0;
  int64_t total_ns = 0, asleep_ns = 0, asleep_at_end = 0;  // its time, below schedule(), open
  std::vector<std::string> syscalls;  // syscall entry points reaching it in the session
};

struct Candidate {
  std::string function;
  double score = 0;
  std::vector<ScoreTerm> terms;  // the score, explained
  std::vector<std::string> reasons() const;
  std::optional<FunctionPrototype> prototype;
  std::string module;              // the kernel module it lives in (kallsyms), "" for vmlinux
  std::string prototype_source;    // set when the prototype came from the module's BTF
  std::vector<int> arg_positions;  // parameters matching --arg
  std::vector<OpsFit> ops;
  // Table slots record read out of kernel memory (ops_store.h): "tcp_prot.connect = ...".
  std::vector<std::string> verified_ops;
  Layer layer;  // dispatcher, implementation (and its siblings), or a shape only
  Hookability hookability;
  std::vector<SessionEvidence> sessions;  // one per requested session that contains it
  // The latest 'probeseek verify' run that attached it (docs/verify.md); also a 0-point term.
  struct Verified {
    std::string summary;  // "fired 1 time; struct sock: addresses set 1/1, ..."
    std::string command;
    std::string at;
    int64_t events = 0;
  };
  std::optional<Verified> verified;
};

struct RankResult {
  std::vector<Candidate> candidates;  // best first, at most `limit`
  size_t considered = 0;              // functions seen
  size_t without_btf = 0;             // seen, but BTF has no prototype for them
  size_t excluded_by_arg = 0;
  size_t excluded_by_coverage = 0;
  size_t interrupt_only = 0;
  std::vector<std::string> sessions;
  std::string btf_source;             // where the prototypes came from, "" when none
  std::vector<std::string> warnings;  // missing evidence and what to pass instead
  std::optional<HookSet> hook_set;    // with `complete`, for the best candidate
};

// The BTF for these sessions: --btf, else the first session's stored BTF, else the live one.
struct BtfChoice {
  std::optional<Btf> btf;
  std::string source;
  std::vector<std::string> warnings;
  // Module BTF over it: stored against these exact bytes, or the running kernel's.
  std::optional<int64_t> stored_id;
  bool live = false;
};
Result<BtfChoice> choose_btf(Database& db, const std::vector<SessionSummary>& sessions,
                             const std::optional<std::string>& btf_path,
                             const std::string& live_btf_path);
// Where ModuleBtfs looks for module BTF over this choice (stored, or beside the live vmlinux).
ModuleBtfs::Options module_btf_options(const BtfChoice& choice, const std::string& live_btf_path);

Result<RankResult> rank(Database& db, const RankRequest& request);

}  // namespace probeseek
