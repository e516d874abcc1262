// `probeseek diff`: two sessions, or two groups of sessions, side by side. Which functions and
// which call paths (caller -> callee chains from --under FUNC, or from the syscall entries) each
// side saw, with calls per invocation and time, and which of rank's candidates both sides hit:
// the question behind an investigation ("which hook sees new AND long-lived connections?").
// Sessions of two kernels compare by name; a compiler clone (f.isra.0) counts as f, noted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/db.h"
#include "probeseek/error.h"
#include "probeseek/kernel_paths.h"

namespace probeseek {

struct DiffRequest {
  std::vector<std::string> a, b;        // session names of each side (one or more)
  std::string under;                    // only calls below this function; paths start at it
  std::optional<std::string> arg;       // as rank --arg, for the candidates hit in both
  std::optional<std::string> btf_path;  // as rank --btf
  KernelPaths live;
  int path_depth = 6;     // levels below the root a call path goes
  size_t candidates = 5;  // at most this many candidates hit in both
};

enum class DiffSide { kA, kB, kBoth };
std::string_view to_string(DiffSide side);  // "a", "b", "both"

// One side's figures for a function (or a path): calls in task context, calls per invocation
// of --under (or of the syscalls reaching it; negative when unknown), time in its calls.
struct DiffCounts {
  int64_t calls = 0;
  double per_invocation = -1;
  int64_t total_ns = 0;
};

struct FunctionDiff {
  std::string function;             // the base name: clones are folded into it
  std::vector<std::string> clones;  // the clone names seen ("tcp_v4_connect.isra.0")
  DiffSide in = DiffSide::kBoth;
  DiffCounts a, b;
};

struct PathDiff {
  std::vector<std::string> path;  // root first
  DiffSide in = DiffSide::kBoth;
  int64_t calls_a = 0, calls_b = 0;  // times the leaf was reached along this path
};

struct DiffResult {
  std::vector<std::string> a, b;                  // the sessions
  std::vector<std::string> kernels_a, kernels_b;  // their kernel releases
  std::vector<FunctionDiff> functions;            // in both first, then only a, then only b
  std::vector<PathDiff> paths;                    // same order
  // rank's best candidates (--arg honoured) seen in every session of both sides, each with
  // its score: "tcp_sendmsg (76)".
  std::vector<std::string> hit_in_both;
  std::string question;  // the one line: which candidates both sides hit
  std::vector<std::string> notes;
  std::vector<std::string> warnings;
};

Result<DiffResult> diff(Database& db, const DiffRequest& request);

}  // namespace probeseek
