// The recorder's host-side logic: saving and restoring tracefs files against a fake tracefs tree
// built in a temporary directory (the kernel's own formats: "no pid", "7 (expanded: 1408)"),
// the state file a killed recorder leaves and `reset`, who-else-is-tracing, and how record and
// doctor behave on a kernel without function_graph (this build machine, or a fake tree). Live
// recording itself needs a kernel with function_graph: the lab proves it (tests/lab/record-*.sh).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "funcgraph_decoder.h"
#include "kernel_state.h"
#include "probeseek/child.h"
#include "probeseek/record.h"
#include "probeseek/text.h"
#include "recorder_internal.h"
#include "test_support.h"

namespace probeseek {
namespace {

using detail::KernelStateGuard;
using detail::restore_text_for;
using test::read_file;
using test::run_probeseek;
using test::write_file;

// A tracefs tree as a freshly booted 6.1 kernel shows it, in plain files.
struct FakeTracefs {
  test::TempDir dir;
  std::string root = dir.file("tracing");
  std::string state = dir.file("state");
  FakeTracefs() {
    std::filesystem::create_directories(root + "/options");
    std::filesystem::create_directories(root + "/instances");
    std::filesystem::create_directories(root + "/events");
    std::filesystem::create_directories(root + "/per_cpu/cpu0");
    std::filesystem::create_directories(root + "/per_cpu/cpu1");
    set("available_tracers", "blk mmiotrace function_graph function nop\n");
    set("current_tracer", "nop\n");
    set("tracing_on", "1\n");
    set("set_ftrace_pid", "no pid\n");
    set("set_ftrace_filter", "#### all functions enabled ####\n");
    set("set_ftrace_notrace", "#### no functions disabled ####\n");
    set("set_graph_function", "#### all functions enabled ####\n");
    set("set_graph_notrace", "#### no functions disabled ####\n");
    set("max_graph_depth", "0\n");
    set("buffer_size_kb", "7 (expanded: 1408)\n");
    set("per_cpu/cpu0/buffer_size_kb", "7\n");
    set("per_cpu/cpu1/buffer_size_kb", "7\n");
    set("options/function-fork", "0\n");
    set("events/enable", "0\n");
  }
  void set(const std::string& file, const std::string& text) const {
    write_file(root + "/" + file, text);
  }
  std::string get(const std::string& file) const { return read_file(root + "/" + file); }
};

// A pid that no process has any more.
pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int ws;
  waitpid(pid, &ws, 0);
  return pid;
}

// Both trace.dat import and live recording name function_graph addresses this way. On IBT
// kernels (Debian's 6.12) the call site is 4 bytes in, after ENDBR64: still the function.
TEST(FuncgraphNames, CallSitesAfterEndbrAreTheFunctionItself) {
  std::unique_ptr<tep_handle, void (*)(tep_handle*)> tep(tep_alloc(), tep_free);
  ASSERT_NE(tep, nullptr);
  ASSERT_EQ(tep_parse_kallsyms(tep.get(),
                               "ffffffff81000000 T tcp_v4_connect\n"
                               "ffffffff81000400 t tcp_v4_init_sock\n"
                               "ffffffff81000800 T _etext\n"),
            0);
  using detail::funcgraph_function_name;
  EXPECT_EQ(funcgraph_function_name(tep.get(), 0xffffffff81000000), "tcp_v4_connect");
  EXPECT_EQ(funcgraph_function_name(tep.get(), 0xffffffff81000004), "tcp_v4_connect");
  EXPECT_EQ(funcgraph_function_name(tep.get(), 0xffffffff8100001c), "tcp_v4_connect+0x1c");
  EXPECT_EQ(funcgraph_function_name(tep.get(), 0xffffffff81000404), "tcp_v4_init_sock");
}

TEST(RestoreText, KernelFormatsBecomeWhatWritesThemBack) {
  EXPECT_EQ(restore_text_for("set_ftrace_pid", "no pid\n"), "");
  EXPECT_EQ(restore_text_for("set_ftrace_pid", "12\n34\n"), "12 34");
  EXPECT_EQ(restore_text_for("set_graph_function", "#### all functions enabled ####\n"), "");
  EXPECT_EQ(restore_text_for("set_graph_function", "tcp_sendmsg\ntcp_v4_connect\n"),
            "tcp_sendmsg tcp_v4_connect");
  // Module functions read back as "name [module]" and are written as "name:mod:module".
  EXPECT_EQ(restore_text_for("set_ftrace_filter", "nft_do_chain [nf_tables]\n"),
            "nft_do_chain:mod:nf_tables");
  EXPECT_EQ(restore_text_for("buffer_size_kb", "7 (expanded: 1408)\n"), "1408");
  EXPECT_EQ(restore_text_for("buffer_size_kb", "4096\n"), "4096");
  EXPECT_EQ(restore_text_for("per_cpu/cpu0/buffer_size_kb", "7 (expanded: 1408)"), "1408");
  EXPECT_EQ(restore_text_for("current_tracer", "function_graph\n"), "function_graph");
  EXPECT_EQ(restore_text_for("options/function-fork", " 0\n"), "0");
}

TEST(KernelState, SavesBeforeChangingAndRestoresEverything) {
  FakeTracefs t;
  auto guard = KernelStateGuard::create(t.state, t.root);
  ASSERT_TRUE(guard) << guard.error().message();
  // What the recorder does on the top-level instance: save, then write.
  std::vector<std::pair<std::string, std::string>> changes = {{"tracing_on", "0"},
                                                              {"buffer_size_kb", "4096"},
                                                              {"options/function-fork", "1"},
                                                              {"max_graph_depth", "5"},
                                                              {"set_graph_function", "tcp_sendmsg"},
                                                              {"set_ftrace_pid", "4242"},
                                                              {"current_tracer", "function_graph"}};
  for (auto& [file, value] : changes) {
    ASSERT_TRUE(guard->save(file)) << file;
    t.set(file, value);
  }
  ASSERT_TRUE(guard->save("tracing_on"));  // a second save keeps the first value
  // The state file on disk has every original value before restore runs.
  auto saved = detail::read_state_file(guard->path());
  ASSERT_TRUE(saved) << saved.error().message();
  EXPECT_EQ(saved->recorder_pid, getpid());
  ASSERT_EQ(saved->files.size(), changes.size());
  EXPECT_EQ(saved->files[0].file, "tracing_on");
  EXPECT_EQ(saved->files[0].restore_text, "1");
  EXPECT_EQ(saved->files[6].found, "nop");

  detail::RestoreReport r = guard->restore();
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.actions.size(), changes.size());
  // current_tracer goes back first (tracing stops), tracing_on last.
  EXPECT_EQ(r.actions.front().rfind("current_tracer", 0), 0u) << r.actions.front();
  EXPECT_EQ(r.actions.back().rfind("tracing_on", 0), 0u) << r.actions.back();
  EXPECT_EQ(t.get("current_tracer"), "nop");
  EXPECT_EQ(t.get("set_ftrace_pid"), "");  // truncated: the kernel then reads "no pid"
  EXPECT_EQ(t.get("set_graph_function"), "");
  EXPECT_EQ(t.get("max_graph_depth"), "0");
  EXPECT_EQ(t.get("options/function-fork"), "0");
  EXPECT_EQ(t.get("buffer_size_kb"), "1408");
  EXPECT_EQ(t.get("tracing_on"), "1");
  EXPECT_FALSE(std::filesystem::exists(guard->path()));
}

TEST(KernelState, UnequalPerCpuBuffersAreSavedOneByOne) {
  FakeTracefs t;
  t.set("buffer_size_kb", "X\n");
  t.set("per_cpu/cpu0/buffer_size_kb", "1408\n");
  t.set("per_cpu/cpu1/buffer_size_kb", "2816\n");
  {
    auto guard = KernelStateGuard::create(t.state, t.root);
    ASSERT_TRUE(guard);
    ASSERT_TRUE(guard->save("buffer_size_kb"));
    t.set("buffer_size_kb", "4096");
    t.set("per_cpu/cpu0/buffer_size_kb", "4096");
    t.set("per_cpu/cpu1/buffer_size_kb", "4096");
  }  // the destructor restores what restore() was not called for
  EXPECT_EQ(t.get("per_cpu/cpu0/buffer_size_kb"), "1408");
  EXPECT_EQ(t.get("per_cpu/cpu1/buffer_size_kb"), "2816");
}

TEST(KernelState, ResetRestoresWhatAKilledRecorderLeftAndRemovesItsInstance) {
  FakeTracefs t;
  pid_t dead = dead_pid();
  std::filesystem::create_directories(t.state);
  // What a recorder killed with SIGKILL in the middle of a top-level recording leaves.
  detail::SavedState s;
  s.recorder_pid = dead;
  s.recorder_start = 12345;
  s.tracing_dir = "/elsewhere/private/mount";  // reset uses its own tracefs mount
  s.files = {{"set_ftrace_pid", "no pid", ""},
             {"options/function-fork", "0", "0"},
             {"current_tracer", "nop", "nop"}};
  ASSERT_TRUE(detail::write_state_file(detail::state_file_path(t.state, dead), s));
  t.set("set_ftrace_pid", "4242\n");
  t.set("options/function-fork", "1\n");
  t.set("current_tracer", "function_graph\n");
  // And a stale instance of another killed recording, and somebody else's instance.
  std::filesystem::create_directories(t.root + "/instances/probeseek-" +
                                      std::to_string(dead_pid()));
  std::filesystem::create_directories(t.root + "/instances/theirs");

  KernelPaths paths;
  paths.tracing_dir = t.root;
  paths.state_dir = t.state;
  auto report = reset(paths, false);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(t.get("current_tracer"), "nop");
  EXPECT_EQ(t.get("set_ftrace_pid"), "");
  EXPECT_EQ(t.get("options/function-fork"), "0");
  EXPECT_EQ(report->actions.size(), 4u);
  EXPECT_TRUE(detail::list_state_files(t.state).empty());
  EXPECT_TRUE(std::filesystem::exists(t.root + "/instances/theirs"));
  size_t probeseek_instances = 0;
  for (auto& e : std::filesystem::directory_iterator(t.root + "/instances"))
    probeseek_instances += e.path().filename().string().rfind("probeseek-", 0) == 0;
  EXPECT_EQ(probeseek_instances, 0u);

  // A second reset finds nothing to do.
  auto again = reset(paths, false);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->actions.empty());
}

// A recorder that died with function_graph on, leaving a valid state file that says the
// tracer was nop.
void leave_a_dead_recorders_state(FakeTracefs& t) {
  pid_t dead = dead_pid();
  detail::SavedState s;
  s.recorder_pid = dead;
  s.recorder_start = 12345;
  s.files = {{"current_tracer", "nop", "nop"}};
  ASSERT_TRUE(detail::write_state_file(detail::state_file_path(t.state, dead), s));
  t.set("current_tracer", "function_graph\n");
}

// Issue 9: a damaged state file is reported and the others are restored all the same; a state
// file can only name files inside the tracing directory, and nothing is written through a link.
TEST(KernelState, ResetRestoresTheOtherStateFilesWhenOneIsDamaged) {
  FakeTracefs t;
  std::filesystem::create_directories(t.state);
  write_file(t.state + "/state-1.json", "{ not json \x1b[31m");
  leave_a_dead_recorders_state(t);
  KernelPaths paths;
  paths.tracing_dir = t.root;
  paths.state_dir = t.state;
  auto report = reset(paths, false);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(t.get("current_tracer"), "nop");
  ASSERT_EQ(report->failures.size(), 1u);
  EXPECT_NE(report->failures[0].message().find("state-1.json"), std::string::npos);
  EXPECT_EQ(report->failures[0].message().find('\x1b'), std::string::npos);
  // The damaged file stays for a person to look at; the restored one is gone.
  EXPECT_EQ(detail::list_state_files(t.state), std::vector<std::string>{t.state + "/state-1.json"});
}

TEST(KernelState, ResetNeverWritesOutsideTheTracingDirectory) {
  FakeTracefs t;
  std::filesystem::create_directories(t.state);
  write_file(t.dir.file("victim.txt"), "precious\n");
  pid_t dead = dead_pid();
  detail::SavedState s;
  s.recorder_pid = dead;
  s.recorder_start = 12345;
  s.files = {{"../victim.txt", "", "owned"},
             {t.dir.file("victim.txt"), "", "owned"},
             {"options/../../victim.txt", "", "owned"},
             {"current_tracer", "nop", "nop"}};
  s.instance = "../../victim-dir";
  std::filesystem::create_directories(t.dir.file("victim-dir"));
  ASSERT_TRUE(detail::write_state_file(detail::state_file_path(t.state, dead), s));
  t.set("current_tracer", "function_graph\n");
  KernelPaths paths;
  paths.tracing_dir = t.root;
  paths.state_dir = t.state;
  auto report = reset(paths, false);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(read_file(t.dir.file("victim.txt")), "precious\n");
  EXPECT_TRUE(std::filesystem::exists(t.dir.file("victim-dir")));
  EXPECT_EQ(t.get("current_tracer"), "nop");  // what is valid is restored
  EXPECT_EQ(report->failures.size(), 4u);
  for (const Error& e : report->failures) EXPECT_EQ(e.kind, ErrorKind::kBadInput) << e.message();
  EXPECT_EQ(detail::list_state_files(t.state).size(), 1u);  // kept: not everything was restored
}

TEST(KernelState, RestoringNeverFollowsALinkInTheTracingDirectory) {
  FakeTracefs t;
  write_file(t.dir.file("victim.txt"), "precious\n");
  std::filesystem::create_directories(t.dir.file("outside"));
  write_file(t.dir.file("outside/function-fork"), "precious\n");
  std::filesystem::remove_all(t.root + "/options");
  std::filesystem::create_directory_symlink(t.dir.file("outside"), t.root + "/options");
  std::filesystem::create_symlink(t.dir.file("victim.txt"), t.root + "/tracing_thresh");
  EXPECT_FALSE(detail::write_tracefs_file(t.root, "options/function-fork", "1"));
  EXPECT_FALSE(detail::write_tracefs_file(t.root, "tracing_thresh", "1"));
  EXPECT_EQ(read_file(t.dir.file("victim.txt")), "precious\n");
  EXPECT_EQ(read_file(t.dir.file("outside/function-fork")), "precious\n");
  EXPECT_TRUE(detail::write_tracefs_file(t.root, "per_cpu/cpu0/buffer_size_kb", "1408"));
  EXPECT_EQ(t.get("per_cpu/cpu0/buffer_size_kb"), "1408");
}

TEST(KernelState, TracefsFileNamesAreStrict) {
  for (const char* good : {"current_tracer", "options/function-fork",
                           "per_cpu/cpu12/buffer_size_kb", "set_ftrace_pid"})
    EXPECT_TRUE(detail::is_tracefs_file_name(good)) << good;
  for (const char* bad : {"", "/etc/passwd", "..", "../x", "options/../../x", "a//b", "a/",
                          ".hidden", "a/b/c/d", "a b", "x\n", "-rf"})
    EXPECT_FALSE(detail::is_tracefs_file_name(bad)) << bad;
  EXPECT_TRUE(detail::is_probeseek_instance_name("probeseek-123"));
  for (const char* bad : {"probeseek-", "probeseek-../x", "theirs", "probeseek-1/.."})
    EXPECT_FALSE(detail::is_probeseek_instance_name(bad)) << bad;
}

TEST(KernelState, ResetExitsNonZeroButRestoresTheRest) {
  FakeTracefs t;
  std::filesystem::create_directories(t.state);
  write_file(t.state + "/state-1.json", "garbage");
  leave_a_dead_recorders_state(t);
  auto r = run_probeseek("reset --state-dir " + t.state + " --tracing-dir " + t.root);
  EXPECT_EQ(r.status, 2) << r.err;  // the damaged state file is bad input
  EXPECT_NE(r.out.find("current_tracer restored to 'nop'"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("state-1.json"), std::string::npos) << r.err;
  EXPECT_EQ(t.get("current_tracer"), "nop");
}

// record --user USER -- CMD: the workload runs without root, as perf and strace -u run it.
TEST(RecordUser, TheCommandRunsAsThatUserWithItsGroups) {
  if (::geteuid() != 0) GTEST_SKIP() << "dropping to another user needs root";
  auto nobody = resolve_run_as("nobody");
  ASSERT_TRUE(nobody) << nobody.error().message();
  test::TempDir dir;
  const std::string out = dir.file("out");
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
  HeldChildOptions as_nobody;
  as_nobody.as = *nobody;
  auto child =
      HeldChild::spawn({"/bin/sh", "-c", "echo $(id -u) $(id -g) $(id -G) > " + out}, as_nobody);
  ASSERT_TRUE(child) << child.error().message();
  ASSERT_TRUE(child->release());
  EXPECT_EQ(child->wait(), 0);
  std::string expected = std::to_string(nobody->uid) + " " + std::to_string(nobody->gid);
  EXPECT_EQ(read_file(out).rfind(expected, 0), 0u) << read_file(out);
  EXPECT_EQ(read_file(out).find(" 0 "), std::string::npos)
      << "root's groups kept: " << read_file(out);
  // By uid too.
  auto by_uid = resolve_run_as(std::to_string(nobody->uid));
  ASSERT_TRUE(by_uid);
  EXPECT_EQ(by_uid->name, nobody->name);
}

TEST(RecordUser, UnknownUsersAreRefusedWithExit2) {
  auto none = resolve_run_as("no_such_user_probeseek");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kBadInput);
  test::TempDir dir;
  auto r = run_probeseek("record --db " + dir.file("p.db") +
                         " --user no_such_user_probeseek -- /bin/true");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no such user: no_such_user_probeseek"), std::string::npos) << r.err;
  r = run_probeseek("record --db " + dir.file("p.db") + " --user nobody -p 1");
  EXPECT_EQ(r.status, 2) << r.err;
}

// A repeatable option before '--' takes one value each time: CLI11 lets a list option run up
// to a '--', which then ended the list instead of starting the command ("-c" was refused).
TEST(RecordUser, RepeatedOptionsBeforeTheCommandLeaveItWhole) {
  test::TempDir dir;
  auto r = run_probeseek("record --db " + dir.file("p.db") +
                         " --user no_such_user_probeseek"
                         " --graph-function vfs_read --graph-function vfs_write -- sh -c true");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no such user: no_such_user_probeseek"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not expected"), std::string::npos) << r.err;
}

TEST(KernelState, ResetLeavesARunningRecordingAlone) {
  FakeTracefs t;
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  std::filesystem::create_directories(t.state);
  detail::SavedState s;
  s.recorder_pid = child;
  s.recorder_start = detail::process_start_time(child);
  s.tracing_dir = t.root;
  s.instance = "probeseek-" + std::to_string(child);
  s.files = {{"current_tracer", "nop", "nop"}};
  std::filesystem::create_directories(t.root + "/instances/" + s.instance);
  ASSERT_TRUE(detail::write_state_file(detail::state_file_path(t.state, child), s));
  t.set("current_tracer", "function_graph\n");
  KernelPaths paths;
  paths.tracing_dir = t.root;
  paths.state_dir = t.state;
  auto report = reset(paths, false);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(report->actions.empty());
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_NE(report->skipped[0].find("still recording"), std::string::npos);
  EXPECT_EQ(t.get("current_tracer"), "function_graph\n");
  EXPECT_TRUE(std::filesystem::exists(t.root + "/instances/" + s.instance));
}

// A recorder stopped by a signal restores the tracing state itself, then saves; killed while
// saving (lab trial int-11 on 6.1), it must not leave a spill directory reset cannot know
// about: the state file stays, saying only "spill", until the directory is gone.
TEST(KernelState, TheStateFileOutlivesTheSpillDirectory) {
  FakeTracefs t;
  std::string spill = t.dir.file("probeseek-record-test01");
  std::filesystem::create_directories(spill);
  write_file(spill + "/cpu0.raw", "pages");
  auto guard = KernelStateGuard::create(t.state, t.root);
  ASSERT_TRUE(guard) << guard.error().message();
  ASSERT_TRUE(guard->note_spill_dir(spill));
  ASSERT_TRUE(guard->save("current_tracer"));
  t.set("current_tracer", "function_graph");

  detail::RestoreReport r = guard->restore();
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(t.get("current_tracer"), "nop");
  ASSERT_TRUE(std::filesystem::exists(guard->path())) << "removed while the spill dir exists";
  auto left = detail::read_state_file(guard->path());
  ASSERT_TRUE(left) << left.error().message();
  EXPECT_TRUE(left->restored);
  EXPECT_TRUE(left->files.empty()) << "nothing of the tracing state is left to restore";
  EXPECT_EQ(left->spill_dir, spill);
  EXPECT_TRUE(std::filesystem::exists(spill + "/cpu0.raw")) << "the recording is still read";

  guard->finish();
  EXPECT_FALSE(std::filesystem::exists(spill));
  EXPECT_FALSE(std::filesystem::exists(guard->path()));
  EXPECT_EQ(t.get("current_tracer"), "nop");
}

TEST(KernelState, ResetRemovesTheSpillFilesOfARecorderKilledWhileSaving) {
  FakeTracefs t;
  std::filesystem::create_directories(t.state);
  auto leave = [&](pid_t pid, unsigned long long start, const std::string& name) {
    detail::SavedState s;
    s.recorder_pid = pid;
    s.recorder_start = start;
    s.tracing_dir = t.root;
    s.spill_dir = t.dir.file(name);
    s.restored = true;
    std::filesystem::create_directories(s.spill_dir);
    write_file(s.spill_dir + "/cpu0.raw", "pages");
    EXPECT_TRUE(detail::write_state_file(detail::state_file_path(t.state, pid), s));
    return s.spill_dir;
  };
  std::string killed = leave(dead_pid(), 12345, "probeseek-record-killed");
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  std::string saving = leave(child, detail::process_start_time(child), "probeseek-record-saving");
  t.set("current_tracer", "function_graph\n");  // someone else's, after the recordings

  // Neither is in the way of a new recording: the tracing state is theirs no longer.
  detail::TopLevelUse use = detail::top_level_users(t.root, t.state);
  EXPECT_TRUE(use.killed_recordings.empty());
  ASSERT_EQ(use.others.size(), 1u);
  EXPECT_EQ(use.others[0], "current_tracer is function_graph");

  KernelPaths paths;
  paths.tracing_dir = t.root;
  paths.state_dir = t.state;
  auto report = reset(paths, /*force=*/true);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(report->failures.empty());
  ASSERT_EQ(report->actions.size(), 1u);
  EXPECT_NE(report->actions[0].find("spill files removed: " + killed), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(killed));
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_NE(report->skipped[0].find("is saving its recording"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(saving + "/cpu0.raw")) << "--force or not: it reads them";
  EXPECT_EQ(detail::list_state_files(t.state).size(), 1u);
  EXPECT_EQ(t.get("current_tracer"), "function_graph\n") << "nothing was restored";
}

TEST(KernelState, TopLevelUsersNameWhatIsInTheWay) {
  FakeTracefs t;
  EXPECT_TRUE(detail::top_level_users(t.root, t.state).others.empty());
  t.set("current_tracer", "function\n");
  t.set("set_ftrace_filter", "tcp_v4_connect\n");
  t.set("events/enable", "X\n");
  auto use = detail::top_level_users(t.root, t.state);
  ASSERT_EQ(use.others.size(), 3u);
  EXPECT_EQ(use.others[0], "current_tracer is function");
  EXPECT_NE(use.others[1].find("events/enable is X"), std::string::npos);
  EXPECT_EQ(use.others[2], "set_ftrace_filter is set (tcp_v4_connect)");
}

TEST(KernelState, MountTableEscapesAreUndone) {
  test::TempDir dir;
  write_file(dir.file("mounts"),
             "proc /proc proc rw 0 0\n"
             "tracefs /mnt/my\\040tracing tracefs rw 0 0\n"
             "tracefs /sys/kernel/tracing tracefs rw 0 0\n"
             "debugfs /mnt/my\\040debug debugfs rw 0 0\n");
  EXPECT_EQ(detail::mount_point_of(dir.file("mounts"), "tracefs"), "/sys/kernel/tracing");
  EXPECT_EQ(detail::mount_point_of(dir.file("mounts"), "debugfs"), "/mnt/my debug");
  EXPECT_EQ(detail::mount_point_of(dir.file("mounts"), "securityfs"), std::nullopt);
}

TEST(Record, RefusesAKernelWithoutFunctionGraphBeforeChangingAnything) {
  FakeTracefs t;
  t.set("available_tracers", "blk function nop\n");
  RecordOptions o;
  o.paths.tracing_dir = t.root;
  o.paths.state_dir = t.state;
  o.command = {"true"};
  auto r = record(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what.find("no function_graph tracer"), std::string::npos) << r.error().what;
  EXPECT_NE(r.error().hint.find("probeseek import"), std::string::npos);
  EXPECT_NE(r.error().hint.find("tests/lab"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(t.state));
  EXPECT_EQ(t.get("current_tracer"), "nop\n");
}

TEST(Record, BadRequestsAreBadInput) {
  RecordOptions o;
  auto nothing = record(o);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().kind, ErrorKind::kBadInput);
  o.pids = {dead_pid()};
  auto gone = record(o);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().what, "no such process");
  o.pids = {getpid()};
  o.graph_functions = {"tcp_sendmsg; rm -rf /"};
  auto bad_name = record(o);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().what, "not a kernel function name");
}

bool host_has_function_graph() {
  for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::string tracers = read_file(std::string(dir) + "/available_tracers");
    if (!tracers.empty()) return tracers.find("function_graph") != std::string::npos;
  }
  return false;  // not mounted: this machine's kernel is the one without it (docs/lab.md)
}

TEST(RecordCommand, FailsFastHereNamingTheMissingTracer) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (record reads tracefs)";
  if (host_has_function_graph())
    GTEST_SKIP() << "this kernel has function_graph: the lab covers it";
  test::TempDir dir;
  auto r = run_probeseek("record --db " + dir.file("r.db") + " --state-dir " + dir.file("state") +
                         " -- curl -s http://127.0.0.1:1/");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("error: this kernel has no function_graph tracer"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("hint: "), std::string::npos);
  EXPECT_NE(r.err.find("'probeseek import'"), std::string::npos);
  EXPECT_NE(r.err.find("kernel lab"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.file("r.db")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("state")));
}

TEST(DoctorCommand, SaysWhatIsMissingHereAndWhatToDoInstead) {
  if (getuid() != 0) GTEST_SKIP() << "needs root";
  auto r = run_probeseek("doctor --json");
  ASSERT_EQ(r.status, 0) << r.err;
  auto checks = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> by_feature;
  for (auto& c : checks) by_feature[c["feature"]] = c;
  for (const char* f : {"root", "tracefs", "function_graph tracer", "function tracer", "kprobes",
                        "kprobe blacklist", "BTF", "kallsyms", "fentry (BPF trampolines)",
                        "/proc/kcore", "lockdown"})
    EXPECT_TRUE(by_feature.count(f)) << "no check for " << f << "\n" << r.out;
  EXPECT_EQ(by_feature["tracefs"]["status"], "ok");
  for (auto& c : checks)
    if (c["status"] == "missing") {
      EXPECT_FALSE(c["cannot"].get<std::string>().empty()) << c.dump();
      EXPECT_FALSE(c["instead"].get<std::string>().empty()) << c.dump();
    }
  if (!host_has_function_graph()) {
    auto graph = by_feature["function_graph tracer"];
    EXPECT_EQ(graph["status"], "missing");
    EXPECT_NE(graph["instead"].get<std::string>().find("import"), std::string::npos);
    EXPECT_NE(graph["instead"].get<std::string>().find("lab"), std::string::npos);
  }
  // The doctor leaves no instance behind: its probes run in instances of its own (named after
  // its pid), removed again. Another test's doctor may run at the same time: an instance of a
  // live process is that one's; an instance of a dead one is a leak.
  auto leaked_instances = [] {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(
             KernelPaths::kUsualTracingDir + std::string("/instances"), ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("probeseek-", 0) != 0) continue;
      auto pid = parse_int(std::string_view(name).substr(10));
      if (pid && *pid > 0 && (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM)) continue;
      out.push_back(name);
    }
    return out;
  };
  auto text = run_probeseek("doctor");
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("function_graph tracer"), std::string::npos);
  EXPECT_EQ(leaked_instances(), std::vector<std::string>{});
  // kprobes: the same check attach makes (the kprobe PMU), so the two never disagree.
  const KprobeSupport kprobes = kprobe_support(KernelPaths{});
  EXPECT_EQ(by_feature["kprobes"]["status"], kprobes.available ? "ok" : "missing")
      << by_feature["kprobes"].dump();
  EXPECT_NE(by_feature["kprobes"]["detail"].get<std::string>().find(KernelPaths{}.kprobe_pmu),
            std::string::npos)
      << by_feature["kprobes"].dump();
}

}  // namespace
}  // namespace probeseek
