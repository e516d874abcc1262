#include "probeseek/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "probeseek/fd.h"

extern char** environ;

namespace probeseek {
namespace {

// Kills and reaps the child unless it was waited for: no zombie on any early return.
class Reaper {
 public:
  explicit Reaper(pid_t pid) : pid_(pid) {}
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;
  ~Reaper() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const { return pid_; }
  void release() { pid_ = -1; }

 private:
  pid_t pid_;
};

struct SpawnActions {
  posix_spawn_file_actions_t a;
  SpawnActions() { posix_spawn_file_actions_init(&a); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&a); }
};

}  // namespace

Result<ChildResult> run_child(const std::vector<std::string>& argv, const ChildOptions& opts) {
  if (argv.empty()) return bad_input("no program to run");
  const std::string& prog = argv[0];
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return runtime_error("cannot create a pipe", prog, errno);
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return runtime_error("cannot create a pipe", prog, errno);
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);

  SpawnActions actions;
  posix_spawn_file_actions_addopen(&actions.a, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions.a, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions.a, err_w.get(), 2);
  if (!opts.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions.a, opts.cwd.c_str());
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, prog.c_str(), &actions.a, nullptr, args.data(), environ);
  if (rc != 0)
    return runtime_error("cannot run " + prog, opts.cwd.empty() ? prog : opts.cwd, rc,
                         "check that " + prog + " is installed and in PATH");
  Reaper child(pid);
  out_w.reset();
  err_w.reset();

  ChildResult result;
  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  Fd* fds[2] = {&out_r, &err_r};
  std::string* sinks[2] = {&result.out, &result.err};
  char buf[1 << 16];
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    pollfd p[2];
    int count = 0, which[2];
    for (int i = 0; i < 2; ++i)
      if (fds[i]->get() >= 0) {
        p[count] = {fds[i]->get(), POLLIN, 0};
        which[count++] = i;
      }
    int wait_ms = -1;
    if (opts.timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        result.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
    }
    int n = ::poll(p, count, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runtime_error("cannot wait for " + prog, prog, errno);
    for (int k = 0; k < count; ++k) {
      if (!p[k].revents) continue;
      int i = which[k];
      ssize_t got = ::read(fds[i]->get(), buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i]->reset();
        continue;
      }
      size_t keep = std::min(static_cast<size_t>(got),
                             opts.output_cap - std::min(opts.output_cap, sinks[i]->size()));
      if (keep < static_cast<size_t>(got)) result.truncated = true;
      sinks[i]->append(buf, keep);
    }
  }
  if (result.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return runtime_error("cannot wait for " + prog, prog, errno);
  }
  child.release();
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace probeseek
