#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "probeseek/child.h"
#include "probeseek/text.h"

namespace probeseek {

namespace {

// What execvp would run, found before forking so that a typo fails before tracing is armed.
std::optional<std::string> resolve_command(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 ? std::optional<std::string>(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t colon = dirs.find(':', pos);
    if (colon == std::string::npos) colon = dirs.size();
    std::string dir = dirs.substr(pos, colon - pos);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    pos = colon + 1;
  }
  return std::nullopt;
}

}  // namespace

Result<RunAs> resolve_run_as(const std::string& user) {
  RunAs as;
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  auto uid = parse_int(user);
  int rc = uid && *uid >= 0 && *uid <= INT32_MAX
               ? ::getpwuid_r(static_cast<uid_t>(*uid), &pw, buf.data(), buf.size(), &found)
               : ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 && rc != ENOENT && rc != ESRCH)
    return runtime_error("cannot look the user up", comment_safe(user), rc);
  if (found == nullptr)
    return bad_input("no such user", comment_safe(user),
                     "give --user a user name or uid that exists on this machine (getent passwd)");
  as.name = pw.pw_name;
  as.uid = pw.pw_uid;
  as.gid = pw.pw_gid;
  int count = 32;
  as.groups.resize(static_cast<size_t>(count));
  while (::getgrouplist(pw.pw_name, pw.pw_gid, as.groups.data(), &count) < 0) {
    as.groups.resize(static_cast<size_t>(count) + 16);
    count = static_cast<int>(as.groups.size());
  }
  as.groups.resize(static_cast<size_t>(count));
  return as;
}

Result<HeldChild> HeldChild::spawn(const std::vector<std::string>& argv,
                                   const HeldChildOptions& options) {
  auto path = resolve_command(argv.front());
  if (!path)
    return bad_input("command not found", argv.front(),
                     "give the command's path, or check PATH and its execute permission");
  int go[2], err[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return runtime_error("cannot create a pipe", "", errno);
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(go[0]);
    ::close(go[1]);
    return runtime_error("cannot create a pipe", "", errno);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {go[0], go[1], err[0], err[1]}) ::close(fd);
    return runtime_error("cannot fork", argv.front(), e);
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls from here to exec.
    ::close(go[1]);
    ::close(err[0]);
    char c;
    ssize_t n;
    do n = ::read(go[0], &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(126);  // the recorder gave up before tracing started
    ::close(go[0]);
    int e = 0;
    // Groups first, the uid last: once it is dropped the others cannot be changed any more.
    const RunAs* as = options.as ? &*options.as : nullptr;
    if (as != nullptr && (::setgroups(as->groups.size(), as->groups.data()) != 0 ||
                          ::setgid(as->gid) != 0 || ::setuid(as->uid) != 0))
      e = errno;
    if (e == 0 && options.stdout_to_stderr && ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) e = errno;
    if (e == 0) {
      ::execv(path->c_str(), args.data());
      e = errno;
    }
    ssize_t ignored = ::write(err[1], &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  ::close(go[0]);
  ::close(err[1]);
  HeldChild child;
  child.pid_ = pid;
  child.go_fd_ = go[1];
  child.exec_error_fd_ = err[0];
  child.name_ = argv.front();
  child.options_ = options;
  return child;
}

HeldChild::HeldChild(HeldChild&& o) noexcept
    : pid_(o.pid_),
      go_fd_(o.go_fd_),
      exec_error_fd_(o.exec_error_fd_),
      name_(std::move(o.name_)),
      options_(std::move(o.options_)),
      released_(o.released_),
      status_(o.status_) {
  o.pid_ = -1;
  o.go_fd_ = o.exec_error_fd_ = -1;
}

HeldChild::~HeldChild() {
  if (go_fd_ >= 0) ::close(go_fd_);
  if (exec_error_fd_ >= 0) ::close(exec_error_fd_);
  if (pid_ <= 0 || status_) return;
  if (released_ && options_.kill_on_destroy) {
    kill_now();
  } else if (!released_) {
    // Never released: with its pipe closed it exits at once without running anything.
    int ws;
    while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
    }
  }
}

int HeldChild::kill_now() {
  if (status_) return *status_;
  ::kill(pid_, SIGKILL);
  return wait();
}

Status HeldChild::release() {
  char c = 1;
  ssize_t n;
  do n = ::write(go_fd_, &c, 1);
  while (n < 0 && errno == EINTR);
  ::close(go_fd_);
  go_fd_ = -1;
  released_ = true;
  if (n != 1) return runtime_error("cannot start " + options_.what, name_, errno);
  // EOF: exec worked (the pipe closed on exec); an int: exec's errno.
  int e = 0;
  ssize_t r;
  do r = ::read(exec_error_fd_, &e, sizeof e);
  while (r < 0 && errno == EINTR);
  ::close(exec_error_fd_);
  exec_error_fd_ = -1;
  if (r == static_cast<ssize_t>(sizeof e)) {
    wait();
    return bad_input("cannot run " + options_.what, name_ + ": " + std::strerror(e),
                     "check the command after --");
  }
  return {};
}

void HeldChild::record_status(int ws) {
  if (WIFEXITED(ws))
    status_ = WEXITSTATUS(ws);
  else if (WIFSIGNALED(ws))
    status_ = 128 + WTERMSIG(ws);
}

bool HeldChild::exited() {
  if (status_) return true;
  int ws;
  pid_t r = ::waitpid(pid_, &ws, WNOHANG);
  if (r == pid_) record_status(ws);
  return status_.has_value();
}

int HeldChild::wait() {
  if (status_) return *status_;
  int ws;
  pid_t r;
  do r = ::waitpid(pid_, &ws, 0);
  while (r < 0 && errno == EINTR);
  if (r == pid_)
    record_status(ws);
  else
    status_ = 1;
  return *status_;
}

}  // namespace probeseek
