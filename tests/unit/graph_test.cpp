// The call-tree builder on real recordings (Debian 6.1.0-56-cloud-amd64 under QEMU) and on
// short excerpts of their report text that show one kernel behaviour each.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "probeseek/graph.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::kernel_61;

// Keeps everything the builder emits, so tests can look at the trees.
class RecordingSink : public CallSink {
 public:
  struct Task {
    int pid;
    int idle_cpu;
    std::string comm;
  };
  std::map<uint32_t, std::string> functions;
  std::map<uint32_t, Task> tasks;
  std::map<uint64_t, CallRecord> calls;

  void on_function(uint32_t id, std::string_view name, uint64_t) override {
    functions[id] = std::string(name);
  }
  void on_task(uint32_t id, int pid, int idle_cpu, std::string_view comm) override {
    tasks[id] = Task{pid, idle_cpu, std::string(comm)};
  }
  void on_call(const CallRecord& call) override { calls[call.id] = call; }
  void on_reparent(uint64_t call_id, uint64_t parent) override {
    calls[call_id].parent_id = parent;
  }

  const CallRecord* find(const std::string& name, int nth = 0) const {
    for (auto& [id, c] : calls)
      if (functions.at(c.function_id) == name && nth-- == 0) return &c;
    return nullptr;
  }
  std::string name_of(uint64_t call_id) const {
    auto it = calls.find(call_id);
    return it == calls.end() ? "" : functions.at(it->second.function_id);
  }
  std::vector<std::string> children_of(uint64_t call_id) const {
    std::vector<std::string> out;
    for (auto& [id, c] : calls)
      if (c.parent_id == call_id) out.push_back(functions.at(c.function_id));
    return out;
  }
  // Per task, in entry order: (depth, function, parent function, context). Two sources
  // agree on the trees when these agree.
  std::map<int, std::vector<std::tuple<int, std::string, std::string, int>>> shape() const {
    std::map<int, std::vector<std::tuple<int, std::string, std::string, int>>> out;
    for (auto& [id, c] : calls) {
      if (c.flags & kCallEntryMissing) continue;
      const Task& t = tasks.at(c.task_id);
      int key = t.pid == 0 ? -1 - t.idle_cpu : t.pid;
      out[key].emplace_back(c.depth, functions.at(c.function_id), name_of(c.parent_id),
                            static_cast<int>(c.context));
    }
    return out;
  }
};

struct Built {
  RecordingSink sink;
  BuildStats stats;
  std::optional<std::vector<CallPathNode>> paths;
};

std::unique_ptr<Built> build_from_text(const std::string& text) {
  test::TempDir dir;
  std::string path = dir.file("report.txt");
  test::write_file(path, text);
  auto built = std::make_unique<Built>();
  CallTreeBuilder builder(built->sink);
  auto info = read_report_text(path, builder);
  EXPECT_TRUE(info) << info.error().message();
  builder.finish();
  built->stats = builder.stats();
  if (const auto* paths = builder.call_paths()) built->paths = *paths;
  return built;
}

// Real excerpt (curl_v4.report, lines 16745-16838): a timer interrupt recorded at the depth
// of __rcu_read_lock, which was being entered; __rcu_read_lock's exit follows the interrupt.
constexpr const char* kInterruptAtSameDepth = R"(cpus=2
            curl-119   [000]    32.430009: funcgraph_entry:                   |  workingset_activation() {
            curl-119   [000]    32.430010: funcgraph_entry:                   |    __rcu_read_lock() {
            curl-119   [000]    32.430053: funcgraph_entry:        2.745 us   |    irq_enter_rcu();
            curl-119   [000]    32.430057: funcgraph_entry:                   |    __sysvec_apic_timer_interrupt() {
            curl-119   [000]    32.430059: funcgraph_entry:                   |      hrtimer_interrupt() {
            curl-119   [000]    32.430061: funcgraph_entry:        1.243 us   |        _raw_spin_lock_irqsave();
            curl-119   [000]    32.430236: funcgraph_exit:       ! 176.930 us |      }
            curl-119   [000]    32.430237: funcgraph_exit:       ! 180.367 us |    }
            curl-119   [000]    32.430238: funcgraph_entry:                   |    irq_exit_rcu() {
            curl-119   [000]    32.430240: funcgraph_entry:        1.152 us   |      idle_cpu();
            curl-119   [000]    32.430242: funcgraph_exit:         3.867 us   |    }
            curl-119   [000]    32.430244: funcgraph_exit:         1.402 us   |    }
            curl-119   [000]    32.430246: funcgraph_entry:        1.513 us   |    workingset_age_nonresident();
            curl-119   [000]    32.430250: funcgraph_exit:         9.000 us   |  }
)";

TEST(CallTreeBuilder, NestsAnInterruptRecordedAtTheInterruptedCallsDepth) {
  auto b = build_from_text(kInterruptAtSameDepth);
  const CallRecord* lock = b->sink.find("__rcu_read_lock");
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(lock->duration_ns, 1402);
  EXPECT_EQ(lock->flags, 0) << "its exit was recorded after the interrupt";
  EXPECT_EQ(
      b->sink.children_of(lock->id),
      (std::vector<std::string>{"irq_enter_rcu", "__sysvec_apic_timer_interrupt", "irq_exit_rcu"}));
  EXPECT_EQ(b->sink.find("__sysvec_apic_timer_interrupt")->context, CallContext::kHardirq);
  EXPECT_EQ(b->sink.find("idle_cpu")->context, CallContext::kHardirq);
  EXPECT_EQ(b->sink.find("_raw_spin_lock_irqsave")->context, CallContext::kHardirq);
  EXPECT_EQ(lock->context, CallContext::kTask);
  const CallRecord* age = b->sink.find("workingset_age_nonresident");
  EXPECT_EQ(b->sink.name_of(age->parent_id), "workingset_activation");
  EXPECT_EQ(b->stats.entries_without_exit, 0u);
  EXPECT_EQ(b->stats.exits_without_entry, 0u);
  EXPECT_EQ(b->stats.interrupt_depth_skew, 3u);
  EXPECT_EQ(b->stats.entries, 9u);
}

TEST(CallTreeBuilder, SynthesizesTheFrameOfAnExitWhoseEntryPrecedesTheRecording) {
  auto b = build_from_text(R"(
         tcpchat-95    [001]    19.496187: funcgraph_entry:                   |      sock_write_iter() {
         tcpchat-95    [001]    19.496190: funcgraph_entry:        2.000 us   |        security_socket_sendmsg();
         tcpchat-95    [001]    19.496195: funcgraph_exit:         8.000 us   |      }
         tcpchat-95    [001]    19.496199: funcgraph_exit:       + 12.343 us  |    }
         tcpchat-95    [001]    19.496201: funcgraph_exit:       + 14.000 us  |  }
)");
  const CallRecord* write = b->sink.find("sock_write_iter");
  ASSERT_NE(write, nullptr);
  ASSERT_NE(write->parent_id, 0u) << "adopted by the synthesized frame";
  const CallRecord& parent = b->sink.calls.at(write->parent_id);
  EXPECT_TRUE(parent.flags & kCallEntryMissing);
  EXPECT_EQ(parent.depth, 1);
  EXPECT_EQ(parent.duration_ns, 12343);
  EXPECT_EQ(b->sink.name_of(parent.id), "[unknown]") << "report text does not name exits";
  EXPECT_EQ(b->stats.exits_without_entry, 2u);
  EXPECT_EQ(b->stats.entries, 2u);
}

// The call paths below each syscall call, as diff walks the calls: by depth, task context
// only, each root counted once per call.
TEST(CallTreeBuilder, CountsTheCallPathsBelowEachSyscallEntry) {
  auto b = build_from_text(R"(
            curl-119   [000]    32.430000: funcgraph_entry:                   |  __x64_sys_write() {
            curl-119   [000]    32.430001: funcgraph_entry:                   |    ksys_write() {
            curl-119   [000]    32.430002: funcgraph_entry:        1.000 us   |      vfs_write();
            curl-119   [000]    32.430004: funcgraph_entry:        1.000 us   |      irq_enter_rcu();
            curl-119   [000]    32.430005: funcgraph_entry:        1.000 us   |      vfs_write();
            curl-119   [000]    32.430007: funcgraph_exit:         6.000 us   |    }
            curl-119   [000]    32.430008: funcgraph_exit:         8.000 us   |  }
            curl-119   [000]    32.430010: funcgraph_entry:        1.000 us   |  __x64_sys_getpid();
            curl-119   [000]    32.430012: funcgraph_entry:        1.000 us   |  __x64_sys_write();
            curl-119   [000]    32.430014: funcgraph_entry:        1.000 us   |  vfs_write();
)");
  ASSERT_TRUE(b->paths);
  std::map<std::string, int64_t> counted;
  for (const CallPathNode& p : *b->paths) {
    std::string path = b->sink.functions.at(p.function_id);
    for (uint32_t up = p.parent; up != 0; up = (*b->paths)[up - 1].parent) {
      ASSERT_LT(up, &p - b->paths->data() + 1) << "a parent comes first";
      path = b->sink.functions.at((*b->paths)[up - 1].function_id) + " " + path;
    }
    EXPECT_EQ(p.depth, static_cast<int>(std::count(path.begin(), path.end(), ' ')));
    counted[path] += p.calls;
  }
  std::map<std::string, int64_t> want = {
      {"__x64_sys_write", 2},
      {"__x64_sys_write ksys_write", 1},
      {"__x64_sys_write ksys_write vfs_write", 2},
      {"__x64_sys_getpid", 1},
  };
  EXPECT_EQ(counted, want);
}

// Which of two nested syscall calls diff takes for a root depends on their names: no paths.
TEST(CallTreeBuilder, GivesUpTheCallPathsWhenASyscallEntryRunsInsideAnother) {
  auto b = build_from_text(R"(
            curl-119   [000]    32.430000: funcgraph_entry:                   |  __x64_sys_write() {
            curl-119   [000]    32.430001: funcgraph_entry:        1.000 us   |    __x64_sys_getpid();
            curl-119   [000]    32.430008: funcgraph_exit:         8.000 us   |  }
)");
  EXPECT_FALSE(b->paths);
}

TEST(CallTreeBuilder, KeepsCallsThatNeverExitAndCountsThem) {
  auto b = build_from_text(R"(
            curl-119   [001]    33.990000: funcgraph_entry:                   |  do_exit() {
            curl-119   [001]    33.990001: funcgraph_entry:        1.000 us   |    exit_mm_release();
)");
  const CallRecord* exit = b->sink.find("do_exit");
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(exit->duration_ns, -1);
  EXPECT_TRUE(exit->flags & kCallExitMissing);
  EXPECT_EQ(b->stats.open_at_end, 1u);
}

TEST(CallTreeBuilder, FollowsATaskAcrossCpusAndSeparatesIdleTasksPerCpu) {
  auto b = build_from_text(R"(
            curl-119   [000]    33.000000: funcgraph_entry:                   |  schedule() {
          <idle>-0     [000]    33.000005: funcgraph_entry:        1.000 us   |  tick_nohz_idle_enter();
          <idle>-0     [001]    33.000006: funcgraph_entry:        1.000 us   |  tick_nohz_idle_enter();
            curl-119   [001]    33.000100: funcgraph_exit:       + 99.000 us  |  }
CPU:1 [LOST 42 EVENTS]
)");
  const CallRecord* schedule = b->sink.find("schedule");
  ASSERT_NE(schedule, nullptr);
  EXPECT_EQ(schedule->duration_ns, 99000) << "entered on CPU 0, left on CPU 1";
  EXPECT_EQ(schedule->cpu, 0);
  int idle_tasks = 0;
  for (auto& [id, t] : b->sink.tasks) idle_tasks += t.pid == 0;
  EXPECT_EQ(idle_tasks, 2);
  EXPECT_EQ(b->stats.lost_events_on_cpu(1), 42);
  EXPECT_EQ(b->stats.lost_events_total(), 42);
}

TEST(CallTreeBuilder, ReadsTheLatencyFormatFlags) {
  auto b = build_from_text(R"(
    curl-119     0...1.    32.337559: funcgraph_entry:                   |  mutex_unlock() {
    curl-119     0d.h2.    32.338215: funcgraph_entry:        3.818 us   |    hrtimer_interrupt();
    curl-119     0...1.    32.338300: funcgraph_exit:       ! 121.566 us |  }
)");
  EXPECT_EQ(b->sink.find("hrtimer_interrupt")->context, CallContext::kHardirq);
  EXPECT_EQ(b->sink.find("mutex_unlock")->context, CallContext::kTask);
}

// The trace.dat and trace-cmd's own report of it must give the same trees.
TEST(TraceSources, TraceDatAndItsReportTextGiveTheSameTrees) {
  RecordingSink from_dat, from_text;
  CallTreeBuilder dat_builder(from_dat), text_builder(from_text);
  auto dat = read_trace(kernel_61("curl_v4.dat"), dat_builder);
  ASSERT_TRUE(dat) << dat.error().message();
  EXPECT_EQ(dat->format, TraceFormat::kTraceDat);
  EXPECT_EQ(dat->kernel_release, "6.1.0-56-cloud-amd64");
  auto text = read_trace(kernel_61("curl_v4.report.txt.gz"), text_builder);
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(text->format, TraceFormat::kReportText);
  dat_builder.finish();
  text_builder.finish();
  // 283,685 = the number of funcgraph_entry lines in `trace-cmd report` of this file.
  EXPECT_EQ(dat_builder.stats().entries, 283685u);
  EXPECT_EQ(text_builder.stats().entries, 283685u);
  auto a = from_dat.shape();
  auto b = from_text.shape();
  ASSERT_EQ(a.size(), b.size());
  for (auto& [task, calls] : a) {
    ASSERT_TRUE(b.count(task)) << "task " << task;
    ASSERT_EQ(calls.size(), b[task].size()) << "task " << task;
    for (size_t i = 0; i < calls.size(); ++i)
      ASSERT_EQ(calls[i], b[task][i]) << "task " << task << " call " << i;
  }
  EXPECT_EQ(dat_builder.stats().lost_events_total(), 0);
}

TEST(TraceSources, DetectsTheFormatByContentNotByName) {
  test::TempDir dir;
  std::string renamed = dir.file("looks-like-text.txt");
  test::write_file(renamed, test::read_file(kernel_61("stream.dat")));
  auto format = detect_trace_format(renamed);
  ASSERT_TRUE(format);
  EXPECT_EQ(*format, TraceFormat::kTraceDat);
}

}  // namespace
}  // namespace probeseek
