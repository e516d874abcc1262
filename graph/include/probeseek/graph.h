// Call trees from function_graph events. Sources (a trace.dat through libtracecmd, `trace-cmd
// report` text, live ring buffers) turn records into GraphEvents in timestamp order; one
// CallTreeBuilder turns them into calls, per task, and hands finished calls to a CallSink (the
// database writer). Memory is bounded by tasks x stack depth, never by trace length.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/build_stats.h"
#include "probeseek/error.h"

namespace probeseek {

// Where a call ran. A nested context covers its whole subtree: a timer interrupt taken in
// the middle of tcp_sendmsg is not tcp_sendmsg's work, and ranking sets it aside.
enum class CallContext : uint8_t {
  kTask = 0,       // process context (syscalls, kernel threads)
  kSoftirq = 1,    // softirq (on loopback the receiver's stack runs inside the sender's syscall)
  kHardirq = 2,    // hard interrupt
  kNmi = 3,        // NMI
  kException = 4,  // page fault and other exceptions nested in a task's calls
};
std::string_view to_string(CallContext context);

// Flags stored with each call.
enum CallFlags : uint8_t {
  kCallExitMissing = 1,   // no exit seen (still running when recording stopped, or exit lost)
  kCallEntryMissing = 2,  // the exit was seen, the entry was not: a synthesized frame
};

// Deeper than any kernel's function_graph return stack: sources refuse records beyond it, and
// the builder's depth arithmetic stays far from int overflow.
constexpr int kMaxGraphDepth = 1 << 16;
// More CPUs than any kernel supports (x86 MAXSMP: 8192): a report line naming a CPU beyond it
// is damaged.
constexpr int kMaxCpu = 1 << 20;

struct GraphEvent {
  enum class Kind : uint8_t { kEntry, kExit, kLeaf };  // kLeaf: report text "func();"
  Kind kind = Kind::kEntry;
  int cpu = 0;
  int pid = 0;
  std::string_view comm;  // may be empty; the builder keeps the last one seen per task
  uint64_t timestamp_ns = 0;
  int depth = 0;                  // the kernel's graph depth (per task)
  uint64_t function_address = 0;  // 0 when the source has names only
  std::string_view function;      // "" when unknown (a report's "}")
  uint64_t duration_ns = 0;       // exits and leaves
  uint64_t calltime_ns = 0;       // exits from binary records: when the call was entered
  bool has_duration = false;
  // Context the record's flags prove (hardirq/softirq/NMI bits), when the source has flags.
  std::optional<CallContext> flags_context;
};

struct CallRecord {
  uint64_t id = 0;         // assigned at entry, in event order: a parent's id < its children's
  uint64_t parent_id = 0;  // 0: no recorded parent
  // The call of the same function numbered just before this one (0: its first): the calls
  // of a function, walked backwards from its last, without an index.
  uint64_t previous_call_id = 0;
  // The last id handed out while this call ran: the call's descendants are the same task's
  // calls with ids in (id, end_id], so subtree queries are range scans.
  uint64_t end_id = 0;
  uint32_t parent_function_id = 0;
  uint32_t task_id = 0;
  uint32_t function_id = 0;
  int cpu = 0;  // CPU of the entry
  int depth = 0;
  uint64_t entry_ns = 0;
  int64_t duration_ns = -1;  // -1: never exited in the recording
  int64_t self_ns = -1;      // duration minus children's durations
  CallContext context = CallContext::kTask;
  uint64_t syscall_call_id = 0;      // the outermost syscall entry call above (or this call)
  uint32_t syscall_function_id = 0;  // its function
  int depth_below_syscall = -1;      // 0 for the syscall entry itself, -1 outside syscalls
  uint8_t flags = 0;
};

// Receives the builder's output. Implemented by the database writer and by tests.
class CallSink {
 public:
  virtual ~CallSink() = default;
  virtual void on_function(uint32_t id, std::string_view name, uint64_t address) = 0;
  // pid 0 is the idle task of each CPU, so idle tasks are told apart by cpu (-1 otherwise).
  virtual void on_task(uint32_t id, int pid, int idle_cpu, std::string_view comm) = 0;
  virtual void on_call(const CallRecord& call) = 0;
  // A synthesized frame adopts calls that were written without a parent.
  virtual void on_reparent(uint64_t call_id, uint64_t new_parent_id) = 0;
};

// Names of the syscall entry points (__x64_sys_*, __ia32_sys_*, __do_sys_*, ...).
bool is_syscall_entry(std::string_view function);

// A call path from a syscall entry (diff's default roots, docs/diff.md): the chain of
// functions from one outermost syscall call down to a task-context call, by the calls' graph
// depths as diff walks them, counted as the calls are entered. Node i of call_paths() is path
// id i + 1; a parent always comes before its children.
struct CallPathNode {
  uint32_t parent = 0;       // path id of the path one frame shorter, 0 for a root
  uint32_t function_id = 0;  // builder id of its last frame
  int depth = 0;             // frames below the root
  int64_t calls = 0;         // calls reached along it (a root: calls of the syscall entry)
};

class CallTreeBuilder {
 public:
  // Paths go at most this many frames below their root; at most kMaxCallPaths are kept.
  static constexpr int kCallPathDepth = 64;
  static constexpr size_t kMaxCallPaths = size_t{1} << 20;
  explicit CallTreeBuilder(CallSink& sink);
  ~CallTreeBuilder();
  void add(const GraphEvent& event);
  void lost_events(int cpu, int64_t count);     // count < 0: the buffer lost an unknown number
  void kernel_dropped(int cpu, int64_t count);  // counts saturate, never wrap
  void note_other_event() { ++stats_.other_events; }
  void note_unparsed_line() { ++stats_.unparsed_lines; }
  // Closes every call still open (recording stopped) and reports them.
  void finish();
  const BuildStats& stats() const { return stats_; }
  // The call paths, or nothing when they do not stand for diff's walk of the calls: a syscall
  // entry ran inside another's call (which of the two is a root depends on their names), a
  // depth out of the stored range, more than kMaxCallPaths distinct paths.
  const std::vector<CallPathNode>* call_paths() const;
  size_t tasks() const;
  size_t functions() const;
  int cpus_seen() const { return max_cpu_ == INT32_MAX ? max_cpu_ : max_cpu_ + 1; }
  uint64_t first_timestamp_ns() const { return first_ts_; }
  uint64_t last_timestamp_ns() const { return last_ts_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  BuildStats stats_;
  int max_cpu_ = -1;
  uint64_t first_ts_ = 0;
  uint64_t last_ts_ = 0;
};

}  // namespace probeseek

#include "probeseek/trace_sources.h"  // the readers of recordings that feed the builder
