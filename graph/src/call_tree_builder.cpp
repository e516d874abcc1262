#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "probeseek/graph.h"
#include "probeseek/saturating.h"
#include "probeseek/text.h"

namespace probeseek {

std::string_view to_string(CallContext context) {
  switch (context) {
    case CallContext::kTask:
      return "task";
    case CallContext::kSoftirq:
      return "softirq";
    case CallContext::kHardirq:
      return "hardirq";
    case CallContext::kNmi:
      return "nmi";
    case CallContext::kException:
      return "exception";
  }
  return "task";
}

namespace {

int64_t as_duration(uint64_t ns) {
  return ns > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(ns);
}

}  // namespace

int64_t BuildStats::lost_events_on_cpu(int cpu) const {
  auto get = [cpu](const std::unordered_map<int, int64_t>& m) {
    auto it = m.find(cpu);
    return it == m.end() ? int64_t{0} : it->second;
  };
  int64_t in_stream = std::max(get(lost_in_stream_by_cpu), get(lost_markers_by_cpu));
  return std::max(in_stream, get(kernel_dropped_by_cpu));
}

std::vector<int> BuildStats::cpus_with_losses() const {
  std::vector<int> cpus;
  for (auto* m : {&lost_in_stream_by_cpu, &lost_markers_by_cpu, &kernel_dropped_by_cpu})
    for (auto& [cpu, n] : *m)
      if (n > 0 && std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) cpus.push_back(cpu);
  std::sort(cpus.begin(), cpus.end());
  return cpus;
}

int64_t BuildStats::lost_events_total() const {
  int64_t total = 0;
  for (int cpu : cpus_with_losses()) total = saturating_add(total, lost_events_on_cpu(cpu));
  return total;
}

bool is_syscall_entry(std::string_view f) {
  // x86 syscall wrappers (__x64_sys_connect, __ia32_sys_*, __ia32_compat_sys_*), arm64's
  // __arm64_sys_*, and the __do_sys_* bodies that SYSCALL_DEFINE puts under them.
  static constexpr std::string_view kPrefixes[] = {
      "__x64_sys_",   "__ia32_sys_", "__ia32_compat_sys_", "__x32_compat_sys_",
      "__arm64_sys_", "__do_sys_",   "__se_sys_"};
  for (auto p : kPrefixes)
    if (f.size() > p.size() && starts_with(f, p)) return true;
  return false;
}

namespace {

// Entry points of nested contexts, for sources without record flags (report text). These
// are the kernel's interrupt/exception entry functions that function_graph can see; the
// asm stubs above them are not traceable. With flags (trace.dat, live) the flags decide,
// and these names also cover the instrumentable entry code that runs before the kernel
// raises the hardirq count (irq_enter_rcu).
std::optional<CallContext> context_entered_by(std::string_view f) {
  if (starts_with(f, "__sysvec_") || starts_with(f, "sysvec_") || f == "irq_enter_rcu" ||
      f == "irq_enter" || f == "irq_exit_rcu" || f == "irq_exit" || f == "__common_interrupt" ||
      f == "common_interrupt" || f == "do_IRQ" || f == "smp_apic_timer_interrupt")
    return CallContext::kHardirq;
  if (f == "__do_softirq" || f == "handle_softirqs" || f == "do_softirq")
    return CallContext::kSoftirq;
  if (f == "exc_nmi" || f == "default_do_nmi" || f == "do_nmi") return CallContext::kNmi;
  if (starts_with(f, "exc_") || f == "do_user_addr_fault" || f == "do_kern_addr_fault" ||
      f == "__do_page_fault" || f == "do_page_fault" || f == "do_int3")
    return CallContext::kException;
  return std::nullopt;
}

// How deeply a context nests: task (and exceptions taken from it) < softirq < hardirq < NMI.
int nesting_level(CallContext c) {
  switch (c) {
    case CallContext::kTask:
    case CallContext::kException:
      return 0;
    case CallContext::kSoftirq:
      return 1;
    case CallContext::kHardirq:
      return 2;
    case CallContext::kNmi:
      return 3;
  }
  return 0;
}

struct Frame {
  uint64_t call_id;
  uint64_t previous_call_id;  // the function's call numbered before this one, 0: none
  uint32_t function_id;
  int depth;
  int cpu;
  uint64_t entry_ns;
  uint64_t children_ns;
  CallContext context;
  uint64_t syscall_call_id;
  uint32_t syscall_function_id;
  int syscall_depth;
};

struct Orphan {  // a call written without a parent, waiting for a synthesized one
  uint64_t call_id;
  int depth;
};

struct Task {
  uint32_t id;
  std::vector<Frame> stack;
  std::vector<Orphan> orphans;
  // The call paths below the task's syscall call still running (path_root 0: none), walked as
  // diff walks the calls' rows: path_stack[n] is the path of the last call n levels below it.
  uint64_t path_root = 0;
  int path_root_depth = 0;
  std::vector<uint32_t> path_stack;
};

}  // namespace

struct CallTreeBuilder::Impl {
  CallSink& sink;
  explicit Impl(CallSink& s) : sink(s) {}
  uint64_t next_call_id = 1;
  uint32_t next_task_id = 1;
  uint32_t next_function_id = 1;
  // pid 0 is one idle task per CPU: key (pid << 16 | cpu) for it, pid otherwise.
  std::unordered_map<int64_t, Task> tasks;
  std::unordered_map<uint64_t, uint32_t> function_by_address;
  std::unordered_map<std::string, uint32_t> function_by_name;
  std::vector<bool> function_is_syscall{false};
  std::vector<std::optional<CallContext>> function_context{std::nullopt};
  std::vector<CallPathNode> paths;
  std::unordered_map<uint64_t, uint32_t> path_ids;  // parent path id << 32 | function -> id
  bool paths_valid = true;

  // Counts one more call along the path `parent` + `function`; its id, 0 once the paths are
  // given up.
  uint32_t count_path(uint32_t parent, uint32_t function, int depth) {
    auto [it, fresh] =
        path_ids.try_emplace((uint64_t{parent} << 32) | function, static_cast<uint32_t>(0));
    if (fresh) {
      if (paths.size() >= CallTreeBuilder::kMaxCallPaths) {
        give_up_paths();
        return 0;
      }
      paths.push_back(CallPathNode{parent, function, depth, 0});
      it->second = static_cast<uint32_t>(paths.size());
    }
    ++paths[it->second - 1].calls;
    return it->second;
  }
  void give_up_paths() {
    paths_valid = false;
    paths = {};
    path_ids = {};
  }

  // A call was given its id: its place among the call paths. diff's roots are the calls of
  // the syscall entries, each walked on its own, and its rows are the task's calls with ids in
  // the root's range (entered while it runs), in task context, 1..depth levels below it and
  // at most one level below the last row kept (a level skipped by a depth gap is not
  // invented).
  void note_path(Task& t, uint64_t call_id, uint32_t function, int depth, CallContext context,
                 bool opens) {
    if (!paths_valid) return;
    if (depth < 0 || depth > (1 << 30) - 1) {  // calls_bits stores 30 bits of depth
      give_up_paths();
      return;
    }
    if (function_is_syscall[function]) {
      if (t.path_root != 0) {  // inside another syscall call: diff's roots depend on the names
        give_up_paths();
        return;
      }
      uint32_t root = count_path(0, function, 0);
      if (root != 0 && opens) {
        t.path_root = call_id;
        t.path_root_depth = depth;
        t.path_stack.assign(1, root);
      }
      return;
    }
    if (t.path_root == 0 || context != CallContext::kTask) return;
    const int64_t rel = int64_t{depth} - t.path_root_depth;
    if (rel < 1 || rel > CallTreeBuilder::kCallPathDepth ||
        rel > static_cast<int64_t>(t.path_stack.size()))
      return;
    const size_t level = static_cast<size_t>(rel);
    t.path_stack.resize(level + 1);
    t.path_stack[level] = count_path(t.path_stack[level - 1], function, static_cast<int>(rel));
  }

  // The last id handed to a call of each function: links each call to the one numbered
  // before it (CallRecord::previous_call_id), so "the calls of F" need no index.
  std::vector<uint64_t> last_call_of{0};

  // Numbers a new call of `function`; records the link to its previous call.
  void number(Frame& f) {
    f.call_id = next_call_id++;
    uint64_t& last = last_call_of[f.function_id];
    f.previous_call_id = last;
    last = f.call_id;
  }

  Task& task_for(const GraphEvent& e) {
    int64_t key = e.pid == 0 ? -1 - static_cast<int64_t>(e.cpu) : e.pid;
    auto it = tasks.find(key);
    if (it != tasks.end()) return it->second;
    Task& t = tasks[key];
    t.id = next_task_id++;
    sink.on_task(t.id, e.pid, e.pid == 0 ? e.cpu : -1, e.comm);
    return t;
  }

  uint32_t intern(std::string_view name, uint64_t address) {
    // Two static functions may share a name, so an address, when known, is the identity.
    if (address != 0) {
      auto it = function_by_address.find(address);
      if (it != function_by_address.end()) return it->second;
    } else {
      auto it = function_by_name.find(std::string(name));
      if (it != function_by_name.end()) return it->second;
    }
    uint32_t id = next_function_id++;
    if (address != 0)
      function_by_address.emplace(address, id);
    else
      function_by_name.emplace(std::string(name), id);
    function_is_syscall.push_back(is_syscall_entry(name));
    function_context.push_back(context_entered_by(name));
    last_call_of.push_back(0);
    sink.on_function(id, name, address);
    return id;
  }
};

CallTreeBuilder::CallTreeBuilder(CallSink& sink) : impl_(std::make_unique<Impl>(sink)) {}
CallTreeBuilder::~CallTreeBuilder() = default;
size_t CallTreeBuilder::tasks() const {
  return impl_->tasks.size();
}
const std::vector<CallPathNode>* CallTreeBuilder::call_paths() const {
  return impl_->paths_valid ? &impl_->paths : nullptr;
}
size_t CallTreeBuilder::functions() const {
  return impl_->next_function_id - 1;
}

void CallTreeBuilder::lost_events(int cpu, int64_t count) {
  int64_t& markers = stats_.lost_markers_by_cpu[cpu];
  markers = saturating_add(markers, 1);
  if (count > 0) {
    int64_t& lost = stats_.lost_in_stream_by_cpu[cpu];
    lost = saturating_add(lost, count);
  }
}

void CallTreeBuilder::kernel_dropped(int cpu, int64_t count) {
  int64_t& dropped = stats_.kernel_dropped_by_cpu[cpu];
  dropped = saturating_add(dropped, count);
}

namespace {

void emit(CallSink& sink, Task& task, const Frame& f, int64_t duration, uint8_t flags,
          std::vector<Frame>& stack, uint64_t last_id) {
  CallRecord r;
  r.id = f.call_id;
  r.previous_call_id = f.previous_call_id;
  // A synthesized frame's children were numbered before it: its range stays empty.
  r.end_id = std::max(last_id, f.call_id);
  r.parent_id = stack.empty() ? 0 : stack.back().call_id;
  r.parent_function_id = stack.empty() ? 0 : stack.back().function_id;
  r.task_id = task.id;
  r.function_id = f.function_id;
  r.cpu = f.cpu;
  r.depth = f.depth;
  r.entry_ns = f.entry_ns;
  r.duration_ns = duration;
  r.self_ns = duration < 0 || f.children_ns >= static_cast<uint64_t>(duration)
                  ? (duration < 0 ? -1 : 0)
                  : duration - static_cast<int64_t>(f.children_ns);
  r.context = f.context;
  r.syscall_call_id = f.syscall_call_id;
  r.syscall_function_id = f.syscall_function_id;
  // Depths are bounded by the sources (kMaxGraphDepth, or a line's length): no overflow.
  r.depth_below_syscall =
      f.syscall_call_id != 0
          ? static_cast<int>(std::clamp<int64_t>(int64_t{f.depth} - f.syscall_depth, 0, INT32_MAX))
          : -1;
  r.flags = flags;
  if (!stack.empty() && duration > 0) {
    uint64_t& children = stack.back().children_ns;
    if (__builtin_add_overflow(children, static_cast<uint64_t>(duration), &children))
      children = UINT64_MAX;
  }
  if (r.parent_id == 0 && r.depth > 0) task.orphans.push_back(Orphan{r.id, r.depth});
  if (task.path_root == r.id) task.path_root = 0;  // later calls are outside its range
  sink.on_call(r);
}

}  // namespace

void CallTreeBuilder::add(const GraphEvent& e) {
  Impl& s = *impl_;
  if (e.cpu > max_cpu_) max_cpu_ = e.cpu;
  if (first_ts_ == 0 || e.timestamp_ns < first_ts_) first_ts_ = e.timestamp_ns;
  if (e.timestamp_ns > last_ts_) last_ts_ = e.timestamp_ns;
  Task& task = s.task_for(e);
  auto& stack = task.stack;

  if (e.kind == GraphEvent::Kind::kExit) {
    ++stats_.exits;
    // Deeper frames left open were skipped: their exits were lost.
    while (!stack.empty() && stack.back().depth > e.depth) {
      Frame f = stack.back();
      stack.pop_back();
      ++stats_.entries_without_exit;
      emit(s.sink, task, f, -1, kCallExitMissing, stack, s.next_call_id - 1);
    }
    if (!stack.empty() && stack.back().depth == e.depth) {
      Frame f = stack.back();
      stack.pop_back();
      int64_t duration = e.has_duration ? as_duration(e.duration_ns) : -1;
      emit(s.sink, task, f, duration, 0, stack, s.next_call_id - 1);
      return;
    }
    // An exit whose entry precedes the recording (or was lost): synthesize the frame so the
    // calls already written at depth+1 get their parent. Its name is known from binary
    // records; report text ("}") does not carry it.
    ++stats_.exits_without_entry;
    Frame f{};
    f.function_id = s.intern(e.function.empty() ? std::string_view("[unknown]") : e.function,
                             e.function_address);
    s.number(f);
    f.depth = e.depth;
    f.cpu = e.cpu;
    f.entry_ns = e.calltime_ns != 0               ? e.calltime_ns
                 : e.timestamp_ns > e.duration_ns ? e.timestamp_ns - e.duration_ns
                                                  : e.timestamp_ns;
    f.context = e.flags_context.value_or(CallContext::kTask);
    s.note_path(task, f.call_id, f.function_id, f.depth, f.context, false);  // range empty
    for (auto it = task.orphans.begin(); it != task.orphans.end();) {
      if (int64_t{it->depth} == int64_t{e.depth} + 1) {
        s.sink.on_reparent(it->call_id, f.call_id);
        it = task.orphans.erase(it);
      } else {
        ++it;
      }
    }
    int64_t duration = e.has_duration ? as_duration(e.duration_ns) : -1;
    emit(s.sink, task, f, duration, kCallEntryMissing, stack, f.call_id);
    return;
  }

  ++stats_.entries;
  uint32_t function_id = s.intern(e.function, e.function_address);
  CallContext parent_context = stack.empty() ? CallContext::kTask : stack.back().context;
  // The entry function's name decides first: irq_enter_rcu runs before the kernel raises the
  // hardirq count, and an interrupt taken while serving a softirq still carries the softirq
  // flag. Flags only add what names cannot see, and only ever deepen the context: the
  // hardirq count drops inside irq_exit_rcu before its last callees run.
  std::optional<CallContext> own = s.function_context[function_id];
  if (!own && e.flags_context && nesting_level(*e.flags_context) > nesting_level(parent_context))
    own = *e.flags_context;
  // An interrupt nests inside whatever runs, whatever depth it was given. The kernel can
  // record an interrupt's entries at the depth of the call being entered or left at that
  // moment (seen on 6.1: "__rcu_read_lock() {", then the timer interrupt at the same depth,
  // then "__rcu_read_lock"'s exit), so depth alone would close the interrupted call.
  bool enters_nested_context =
      own && *own != CallContext::kTask && (stack.empty() || stack.back().context != *own);
  if (enters_nested_context) {
    if (!stack.empty() &&
        (stack.back().depth >= e.depth || int64_t{stack.back().depth} < int64_t{e.depth} - 1))
      ++stats_.interrupt_depth_skew;
  } else {
    while (!stack.empty() && stack.back().depth >= e.depth) {
      Frame f = stack.back();
      stack.pop_back();
      ++stats_.entries_without_exit;
      emit(s.sink, task, f, -1, kCallExitMissing, stack, s.next_call_id - 1);
    }
    if (!stack.empty() && int64_t{stack.back().depth} < int64_t{e.depth} - 1) ++stats_.depth_gaps;
  }
  // A new root at depth 0 means every earlier orphan is settled: nothing can adopt them.
  if (stack.empty() && e.depth == 0) task.orphans.clear();

  Frame f{};
  f.function_id = function_id;
  s.number(f);
  f.depth = e.depth;
  f.cpu = e.cpu;
  f.entry_ns = e.timestamp_ns;
  f.context = own.value_or(parent_context);
  if (!stack.empty() && stack.back().syscall_call_id != 0) {
    f.syscall_call_id = stack.back().syscall_call_id;
    f.syscall_function_id = stack.back().syscall_function_id;
    f.syscall_depth = stack.back().syscall_depth;
  } else if (s.function_is_syscall[f.function_id]) {
    f.syscall_call_id = f.call_id;
    f.syscall_function_id = f.function_id;
    f.syscall_depth = f.depth;
  }
  s.note_path(task, f.call_id, function_id, f.depth, f.context, e.kind != GraphEvent::Kind::kLeaf);

  if (e.kind == GraphEvent::Kind::kLeaf) {
    ++stats_.exits;
    emit(s.sink, task, f, e.has_duration ? as_duration(e.duration_ns) : -1, 0, stack, f.call_id);
    return;
  }
  stack.push_back(f);
}

void CallTreeBuilder::finish() {
  Impl& s = *impl_;
  for (auto& [key, task] : s.tasks) {
    while (!task.stack.empty()) {
      Frame f = task.stack.back();
      task.stack.pop_back();
      ++stats_.open_at_end;
      emit(s.sink, task, f, -1, kCallExitMissing, task.stack, s.next_call_id - 1);
    }
  }
}

}  // namespace probeseek
