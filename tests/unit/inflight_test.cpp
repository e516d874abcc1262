// Calls in flight (attach/in_flight.h, issue 13): the kernel stack parser on real and hostile
// text, the scan on fake /proc trees written by the test (a server asleep in inet_csk_accept, a
// thread, a clone, a cold part, unreadable and hostile files), the warning and verify's verdict
// texts. The live half (a kretprobe missing the accept a server is already in) is
// tests/lab/probe-inflight.sh.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "probeseek/in_flight.h"
#include "probeseek/verify.h"
#include "test_support.h"

namespace probeseek {
namespace {

using internal::frame_is_function;
using internal::kernel_stack_functions;

// httpd-tiny asleep in accept() on the 6.1 lab kernel, read by tests/lab/probe-inflight.sh.
const char* const kAcceptStack =
    "[<0>] inet_csk_accept+0x223/0x440\n"
    "[<0>] inet_accept+0x46/0xa0\n"
    "[<0>] do_accept+0x11b/0x190\n"
    "[<0>] __sys_accept4+0x5b/0xc0\n"
    "[<0>] __x64_sys_accept4+0x18/0x20\n"
    "[<0>] do_syscall_64+0x5d/0x90\n"
    "[<0>] entry_SYSCALL_64_after_hwframe+0x6e/0xd8\n";
const char* const kSleepStack =
    "[<0>] hrtimer_nanosleep+0x89/0x120\n"
    "[<0>] __x64_sys_nanosleep+0x96/0xd0\n"
    "[<0>] do_syscall_64+0x55/0xb0\n";

// A /proc tree: PROC/PID/task/TID/{stack,comm}.
class FakeProc {
 public:
  void task(int pid, int tid, const std::string& comm, const std::string& stack) {
    const std::string dir = root() + "/" + std::to_string(pid) + "/task/" + std::to_string(tid);
    std::filesystem::create_directories(dir);
    test::write_file(dir + "/comm", comm + "\n");
    test::write_file(dir + "/stack", stack);
  }
  std::string dir_of(int pid, int tid) const {
    return root() + "/" + std::to_string(pid) + "/task/" + std::to_string(tid);
  }
  std::string root() const { return dir_.path() + "/proc"; }
  InFlightScan scan(const std::vector<const AttachedProbe*>& probes,
                    std::optional<int> pid = std::nullopt) const {
    InFlightOptions o;
    o.proc_root = root();
    o.pid = pid;
    return scan_in_flight(probes, o);
  }

 private:
  test::TempDir dir_;
};

AttachedProbe return_probe(const std::string& function, const std::string& symbol = "") {
  AttachedProbe p;
  p.function = function;
  p.symbol = symbol.empty() ? function : symbol;
  p.type = ProbeType::kKretprobe;
  p.how = "kprobe+kretprobe";
  p.at_return = true;
  return p;
}

// ---- the stack parser

TEST(KernelStack, FramesOfARealStackInnermostFirst) {
  auto f = kernel_stack_functions(kAcceptStack);
  ASSERT_EQ(f.size(), 7u);
  EXPECT_EQ(f[0], "inet_csk_accept");
  EXPECT_EQ(f[6], "entry_SYSCALL_64_after_hwframe");
}

TEST(KernelStack, ModuleFramesAndRawAddressesAreRead) {
  auto f = kernel_stack_functions(
      "[<ffffffffc0a81234>] nft_do_chain+0x1/0x2 [nf_tables]\n[<0>] f.isra.0+0x1/0x2");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], "nft_do_chain");
  EXPECT_EQ(f[1], "f.isra.0");  // the last line without its newline
}

TEST(KernelStack, HostileLinesAreSkipped) {
  const std::string long_name(600, 'a');  // longer than KSYM_NAME_LEN
  const std::string long_line = "[<0>] f+0x1/0x2 " + std::string(2000, 'x');
  auto f = kernel_stack_functions(
      "garbage\n"
      "[<0>] no_offset\n"
      "[<0>] \x1b[31mred+0x1/0x2\n"     // an escape sequence in the name
      "[<0> inet_csk_accept+0x1/0x2\n"  // no "]"
      "[<0>] +0x1/0x2\n"                // no name
      "[<0>] a b+0x1/0x2\n"             // a space in the name
      "[<0>] " +
      long_name + "+0x1/0x2\n" +  //
      long_line + "\n" +          //
      std::string("[<0>] nul\0x+0x1/0x2\n", 20) + "\n\n[<0>] ok+0x1/0x2\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0], "ok");
  EXPECT_TRUE(kernel_stack_functions("").empty());
  EXPECT_TRUE(kernel_stack_functions(std::string(100000, '\n')).empty());
}

TEST(KernelStack, AFrameIsTheSymbolOrItsColdPart) {
  EXPECT_TRUE(frame_is_function("inet_csk_accept", "inet_csk_accept"));
  EXPECT_TRUE(frame_is_function("tcp_v4_connect.isra.0", "tcp_v4_connect.isra.0"));
  EXPECT_TRUE(frame_is_function("inet_csk_accept.cold", "inet_csk_accept"));
  EXPECT_TRUE(frame_is_function("f.isra.0.cold.2", "f.isra.0"));
  // Another function, or another clone (other code, which the probe does not see at all).
  EXPECT_FALSE(frame_is_function("inet_csk_accept_x", "inet_csk_accept"));
  EXPECT_FALSE(frame_is_function("inet_csk_accept.isra.0", "inet_csk_accept"));
  EXPECT_FALSE(frame_is_function("f.coldx", "f"));
  EXPECT_FALSE(frame_is_function("f.cold.", "f"));
  EXPECT_FALSE(frame_is_function("inet_csk", "inet_csk_accept"));
  EXPECT_FALSE(frame_is_function("f", ""));
}

// ---- the scan on fake /proc trees

TEST(InFlightScan, FindsTheServerAsleepInAccept) {
  FakeProc proc;
  proc.task(99, 99, "httpd-tiny", kAcceptStack);
  proc.task(120, 120, "curl", kSleepStack);
  proc.task(130, 130, "sshd", kSleepStack);
  proc.task(130, 131, "sshd-worker", kAcceptStack);  // a thread of another process
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightScan scan = proc.scan({&p});
  EXPECT_TRUE(scan.scanned);
  EXPECT_EQ(scan.stacks_read, 4u);
  EXPECT_EQ(scan.unreadable, 0u);
  ASSERT_EQ(scan.tasks.size(), 2u);
  const InFlightTask& server = scan.tasks[0].pid == 99 ? scan.tasks[0] : scan.tasks[1];
  const InFlightTask& thread = scan.tasks[0].pid == 99 ? scan.tasks[1] : scan.tasks[0];
  EXPECT_EQ(in_flight_warning(server),
            "pid 99 httpd-tiny is inside inet_csk_accept now: its current call will not be seen; "
            "its next one will");
  EXPECT_EQ(in_flight_task_name(thread), "pid 130 (thread 131) sshd-worker");
  EXPECT_EQ(scan.cost().rfind("read 4 kernel stacks in ", 0), 0u) << scan.cost();
  EXPECT_EQ(scan.unreadable_why(), "");
}

TEST(InFlightScan, OnlyTheProcessAskedForAndNeverTheExcludedOne) {
  FakeProc proc;
  proc.task(99, 99, "httpd-tiny", kAcceptStack);
  proc.task(77, 77, "probeseek", kAcceptStack);
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightScan only = proc.scan({&p}, 77);
  ASSERT_EQ(only.tasks.size(), 1u);
  EXPECT_EQ(only.tasks[0].pid, 77);
  InFlightOptions o;
  o.proc_root = proc.root();
  o.exclude_pid = 77;
  InFlightScan scan = scan_in_flight({&p}, o);
  ASSERT_EQ(scan.tasks.size(), 1u);
  EXPECT_EQ(scan.tasks[0].pid, 99);
  EXPECT_EQ(scan.stacks_read, 1u);
}

TEST(InFlightScan, EntryProbesAreNotLookedFor) {
  FakeProc proc;
  proc.task(99, 99, "httpd-tiny", kAcceptStack);
  AttachedProbe p = return_probe("inet_csk_accept");
  p.at_return = false;
  p.how = "kprobe";
  InFlightScan scan = proc.scan({&p});
  EXPECT_FALSE(scan.scanned);
  EXPECT_EQ(scan.stacks_read, 0u);
  EXPECT_TRUE(scan.tasks.empty());
}

TEST(InFlightScan, TheAttachedCloneAndTheColdPartAreMatched) {
  FakeProc proc;
  proc.task(50, 50, "client", "[<0>] tcp_v4_connect.isra.0+0x1/0x2\n");
  proc.task(51, 51, "server", "[<0>] inet_csk_accept.cold+0x1/0x2\n[<0>] inet_accept+0x1/0x2\n");
  AttachedProbe connect = return_probe("tcp_v4_connect", "tcp_v4_connect.isra.0");
  AttachedProbe accept = return_probe("inet_csk_accept");
  InFlightScan scan = proc.scan({&connect, &accept});
  ASSERT_EQ(scan.tasks.size(), 2u);
  for (const InFlightTask& t : scan.tasks) {
    if (t.pid == 50) {
      EXPECT_EQ(t.probe, 0u);
      EXPECT_EQ(in_flight_warning(t),
                "pid 50 client is inside tcp_v4_connect (tcp_v4_connect.isra.0) now: its current "
                "call will not be seen; its next one will");
    } else {
      EXPECT_EQ(t.probe, 1u);
      EXPECT_EQ(t.frame, "inet_csk_accept.cold");
    }
  }
}

TEST(InFlightScan, AHostileCommIsShownEscaped) {
  FakeProc proc;
  proc.task(99, 99, "evil\x1b]0;owned\x07", kAcceptStack);
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightScan scan = proc.scan({&p});
  ASSERT_EQ(scan.tasks.size(), 1u);
  const std::string w = in_flight_warning(scan.tasks[0]);
  EXPECT_EQ(w.find('\x1b'), std::string::npos) << w;
  EXPECT_NE(w.find("evil\\x1b]0;owned\\x07"), std::string::npos) << w;
}

TEST(InFlightScan, HostileFilesNeitherHangNorFlood) {
  FakeProc proc;
  proc.task(10, 10, "big", "");
  // Bigger than the bound, with the function only past it, and a name cut at the bound.
  std::string big;
  while (big.size() < internal::kMaxStackFileBytes - 10) big += "[<0>] schedule+0x1/0x2\n";
  big.resize(internal::kMaxStackFileBytes - 10);
  big += "\n[<0>] inet_csk_accept_and_more+0x1/0x2\n[<0>] inet_csk_accept+0x1/0x2\n";
  test::write_file(proc.dir_of(10, 10) + "/stack", big);
  // A FIFO (would block a plain read), a directory, a dangling link: read as unreadable.
  proc.task(11, 11, "fifo", "");
  std::filesystem::remove(proc.dir_of(11, 11) + "/stack");
  ASSERT_EQ(mkfifo((proc.dir_of(11, 11) + "/stack").c_str(), 0600), 0);
  proc.task(12, 12, "dir", "");
  std::filesystem::remove(proc.dir_of(12, 12) + "/stack");
  std::filesystem::create_directory(proc.dir_of(12, 12) + "/stack");
  proc.task(13, 13, "link", "");
  std::filesystem::remove(proc.dir_of(13, 13) + "/stack");
  std::filesystem::create_symlink("/nonexistent", proc.dir_of(13, 13) + "/stack");
  // Names that are not pids, a task directory that is not one, a comm without end.
  std::filesystem::create_directories(proc.root() + "/self/task/1");
  std::filesystem::create_directories(proc.root() + "/-1/task/1");
  std::filesystem::create_directories(proc.root() + "/99999999999/task/1");
  std::filesystem::create_directories(proc.root() + "/14/task/x");
  proc.task(15, 15, std::string(100000, 'c'), kAcceptStack);
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightScan scan = proc.scan({&p});
  EXPECT_EQ(scan.stacks_read, 2u);  // 10 (cut) and 15
  EXPECT_EQ(scan.unreadable, 3u);   // the FIFO, the directory, the link
  ASSERT_EQ(scan.tasks.size(), 1u);
  EXPECT_EQ(scan.tasks[0].pid, 15);
  EXPECT_LE(scan.tasks[0].comm.size(), 64u);
}

TEST(InFlightScan, StopsAtTheTaskBound) {
  FakeProc proc;
  for (int pid = 100; pid < 110; ++pid) proc.task(pid, pid, "t", kSleepStack);
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightOptions o;
  o.proc_root = proc.root();
  o.max_tasks = 3;
  InFlightScan scan = scan_in_flight({&p}, o);
  EXPECT_TRUE(scan.truncated);
  EXPECT_EQ(scan.stacks_read, 3u);
  EXPECT_NE(scan.cost().find("stopped after the first 3"), std::string::npos) << scan.cost();
}

TEST(InFlightScan, NoStackFilesMeansAKernelWithoutStacktrace) {
  FakeProc proc;
  proc.task(99, 99, "httpd-tiny", "");
  std::filesystem::remove(proc.dir_of(99, 99) + "/stack");
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightScan scan = proc.scan({&p});
  EXPECT_EQ(scan.stacks_read, 0u);
  EXPECT_EQ(scan.unreadable, 1u);
  const std::string why = scan.unreadable_why();
  EXPECT_EQ(why.rfind("cannot see calls already in flight (", 0), 0u) << why;
  EXPECT_NE(why.find("No such file or directory; this kernel has no /proc/PID/stack (built "
                     "without CONFIG_STACKTRACE)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("its next call will be seen"), std::string::npos) << why;
}

TEST(InFlightScan, NoProcTreeIsSaidOnce) {
  test::TempDir dir;
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightOptions o;
  o.proc_root = dir.file("nothing");
  InFlightScan scan = scan_in_flight({&p}, o);
  EXPECT_NE(scan.unreadable_why().find(dir.file("nothing")), std::string::npos);
}

// Not root in the initial namespace (this build machine's container): other processes'
// stacks are refused, and the scan says what root would read.
TEST(InFlightScan, ARefusedStackIsExplained) {
  std::string text;
  FILE* f = std::fopen("/proc/1/task/1/stack", "r");
  char c;
  const bool refused = f == nullptr ? (errno == EACCES || errno == EPERM)
                                    : (std::fread(&c, 1, 1, f) == 0 && std::ferror(f) &&
                                       (errno == EACCES || errno == EPERM));
  if (f) std::fclose(f);
  if (!refused) GTEST_SKIP() << "/proc/1/task/1/stack is readable here (root): nothing refused";
  AttachedProbe p = return_probe("inet_csk_accept");
  InFlightOptions o;
  o.pid = 1;
  InFlightScan scan = scan_in_flight({&p}, o);
  EXPECT_EQ(scan.stacks_read, 0u);
  const std::string why = scan.unreadable_why();
  EXPECT_TRUE(why.find("needs root") != std::string::npos ||
              why.find("root on the host can read it") != std::string::npos)
      << why;
}

// ---- verify's verdict

TEST(InFlightVerdict, SilenceWithACountedTaskInsideIsNotObservable) {
  CandidateCheck c;
  c.function = "inet_csk_accept";
  c.attached = true;
  c.how = "kprobe+kretprobe";
  EXPECT_EQ(c.summary(), "did not fire");
  c.in_flight_elsewhere = {"pid 99 httpd-tiny"};  // not the workload: counted by no probe
  EXPECT_EQ(c.summary(), "did not fire");
  c.in_flight = {"pid 99 httpd-tiny"};
  EXPECT_EQ(c.summary(),
            "not observable in this run: pid 99 httpd-tiny was already inside inet_csk_accept "
            "when the probe was attached (a return probe sees only calls that start after it)");
  c.in_flight.push_back("pid 100 (thread 101) httpd-tiny");
  EXPECT_NE(c.summary().find("pid 99 httpd-tiny, pid 100 (thread 101) httpd-tiny were already"),
            std::string::npos);
  c.events = 1;  // it fired: what fired is the answer
  EXPECT_EQ(c.summary(), "fired 1 time");
}

}  // namespace
}  // namespace probeseek
