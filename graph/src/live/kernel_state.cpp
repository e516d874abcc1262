#include "kernel_state.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "probeseek/dir.h"
#include "probeseek/fd.h"
#include "probeseek/text.h"

namespace probeseek::detail {

namespace {

std::string_view base_name(std::string_view file) {
  size_t slash = file.rfind('/');
  return slash == std::string_view::npos ? file : file.substr(slash + 1);
}

bool is_pid_list(std::string_view base) {
  return base == "set_ftrace_pid" || base == "set_ftrace_notrace_pid" || base == "set_event_pid" ||
         base == "set_event_notrace_pid";
}

bool is_function_list(std::string_view base) {
  return base == "set_graph_function" || base == "set_graph_notrace" ||
         base == "set_ftrace_filter" || base == "set_ftrace_notrace";
}

// "name [module]" as a function list shows it -> "name:mod:module" as it is written.
std::string function_entry(std::string_view line) {
  size_t open = line.find(" [");
  if (open == std::string_view::npos || line.back() != ']') return std::string(line);
  std::string_view module = line.substr(open + 2, line.size() - open - 3);
  return std::string(line.substr(0, open)) + ":mod:" + std::string(module);
}

}  // namespace

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    size_t j = i;
    while (j < text.size() && !space(text[j])) ++j;
    if (j > i) out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

bool has_word(std::string_view text, std::string_view word) {
  for (std::string_view w : words(text))
    if (w == word) return true;
  return false;
}

std::string restore_text_for(std::string_view file, std::string_view found) {
  std::string_view text = trim(found);
  std::string_view base = base_name(file);
  if (is_pid_list(base)) {
    if (text == "no pid") return {};
    std::string out;
    for (std::string_view pid : words(text)) out += (out.empty() ? "" : " ") + std::string(pid);
    return out;
  }
  if (is_function_list(base)) {
    // Empty lists read as a comment: "#### all functions enabled ####".
    std::string out;
    for_each_line(text, [&](std::string_view raw) {
      std::string_view line = trim(raw);
      if (!line.empty() && line.front() != '#')
        out += (out.empty() ? "" : " ") + function_entry(line);
    });
    return out;
  }
  if (base == "buffer_size_kb") {
    // Before first use the buffer is at its minimum and reads "7 (expanded: 1408)"; any tracer
    // expands it, so the size to put back is the expanded one.
    size_t expanded = text.find("(expanded: ");
    if (expanded != std::string_view::npos) {
      std::string_view rest = text.substr(expanded + 11);
      return std::string(trim(rest.substr(0, rest.find(')'))));
    }
  }
  return std::string(text);
}

std::string state_file_path(const std::string& state_dir, pid_t pid) {
  return state_dir + "/state-" + std::to_string(pid) + ".json";
}

Result<SavedState> read_state_file(const std::string& path) {
  auto text = read_whole_file(path);
  if (!text) return tl::unexpected(text.error());
  try {
    auto j = nlohmann::json::parse(*text);
    SavedState s;
    s.recorder_pid = j.at("recorder_pid").get<pid_t>();
    s.recorder_start = j.at("recorder_start").get<unsigned long long>();
    s.tracing_dir = j.at("tracing_dir").get<std::string>();
    s.instance = j.value("instance", "");
    s.spill_dir = j.value("spill_dir", "");
    s.restored = j.value("restored", false);
    for (const auto& f : j.at("files"))
      s.files.push_back(SavedFile{f.at("file").get<std::string>(), f.value("found", ""),
                                  f.at("restore").get<std::string>()});
    return s;
  } catch (const nlohmann::json::exception& e) {
    return bad_input("not a probeseek state file (" + comment_safe(e.what()) + ")", path,
                     "remove it if no probeseek recording is running");
  }
}

Status write_state_file(const std::string& path, const SavedState& state) {
  nlohmann::json j;
  j["version"] = 1;
  j["recorder_pid"] = state.recorder_pid;
  j["recorder_start"] = state.recorder_start;
  j["tracing_dir"] = state.tracing_dir;
  j["instance"] = state.instance;
  j["spill_dir"] = state.spill_dir;
  if (state.restored) j["restored"] = true;
  j["files"] = nlohmann::json::array();
  for (const SavedFile& f : state.files)
    j["files"].push_back({{"file", f.file}, {"found", f.found}, {"restore", f.restore_text}});
  std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return runtime_error("cannot write the recording's state file", tmp, errno);
  if (const int e = write_all(fd.get(), text); e != 0)
    return runtime_error("cannot write the recording's state file", tmp, e);
  if (::fsync(fd.get()) != 0 || fd.close() != 0)
    return runtime_error("cannot write the recording's state file", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return runtime_error("cannot write the recording's state file", path, errno);
  return {};
}

std::vector<std::string> list_state_files(const std::string& state_dir) {
  std::vector<std::string> out;
  auto names = list_directory(state_dir);
  if (!names) return out;
  for (const std::string& name : *names)
    if (starts_with(name, "state-") && name.size() > 11 && name.substr(name.size() - 5) == ".json")
      out.push_back(state_dir + "/" + name);
  std::sort(out.begin(), out.end());
  return out;
}

unsigned long long process_start_time(pid_t pid) {
  auto stat = read_whole_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  // "PID (COMM) S PPID ..." -- COMM may hold spaces and parentheses: fields count from the last
  // ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  auto fields = split_ws(std::string_view(*stat).substr(close + 1));
  // Field 22 overall is starttime; after the comm, field 3 (state) is index 0.
  if (fields.size() < 20) return 0;
  auto v = parse_int(fields[19]);
  return v && *v > 0 ? static_cast<unsigned long long>(*v) : 0;
}

bool recorder_alive(const SavedState& state) {
  return state.recorder_pid > 0 && state.recorder_start != 0 &&
         process_start_time(state.recorder_pid) == state.recorder_start;
}

bool is_tracefs_file_name(std::string_view file) {
  if (file.empty() || file.size() > 256) return false;
  int components = 0;
  size_t start = 0;
  while (start <= file.size()) {
    size_t end = file.find('/', start);
    if (end == std::string_view::npos) end = file.size();
    std::string_view c = file.substr(start, end - start);
    if (c.empty() || c.front() == '.' || c.front() == '-') return false;
    for (char ch : c)
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '_' || ch == '-' || ch == '.'))
        return false;
    if (++components > 3) return false;
    start = end + 1;
  }
  return true;
}

bool remove_spill_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (path.empty() || path.front() != '/' || slash == std::string::npos ||
      path.find("/../") != std::string::npos || path.find("/./") != std::string::npos ||
      !starts_with(std::string_view(path).substr(slash + 1), "probeseek-record-"))
    return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  const Fd dir(fd);
  auto names = list_directory_fd(fd, path);
  if (!names) return false;
  for (const std::string& name : *names) ::unlinkat(fd, name.c_str(), 0);
  return ::rmdir(path.c_str()) == 0;
}

bool is_probeseek_instance_name(std::string_view name) {
  if (!starts_with(name, "probeseek-") || name.size() == 10 || name.size() > 30) return false;
  for (char c : name.substr(10))
    if (c < '0' || c > '9') return false;
  return true;
}

Status write_tracefs_file(const std::string& tracing_dir, const std::string& file,
                          std::string_view text) {
  const std::string path = tracing_dir + "/" + file;
  if (!is_tracefs_file_name(file))
    return bad_input("refusing to write outside the tracing directory", path,
                     "a state file names tracefs files only (\"current_tracer\", "
                     "\"options/function-fork\"); remove the state file if you did not expect it");
  int dir = ::open(tracing_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return runtime_error("cannot open the tracing directory", tracing_dir, errno);
  size_t start = 0;
  for (;;) {
    const size_t slash = file.find('/', start);
    const std::string part =
        file.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    const int flags = slash == std::string::npos ? O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC
                                                 : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    const int next = ::openat(dir, part.c_str(), flags);
    const int err = errno;
    ::close(dir);
    if (next < 0) return runtime_error("cannot open", path, err);
    dir = next;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  // tracefs takes a write in one piece (a list of functions or pids as one write).
  const int fd = dir;
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return runtime_error("cannot write", path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return runtime_error("cannot write", path, errno);
  return {};
}

RestoreReport restore_state(const SavedState& state, const std::string& state_file) {
  RestoreReport report;
  // current_tracer first: the tracer stops before its settings change under it; tracing_on last.
  std::vector<const SavedFile*> order;
  for (const SavedFile& f : state.files)
    if (f.file == "current_tracer") order.push_back(&f);
  for (auto it = state.files.rbegin(); it != state.files.rend(); ++it)
    if (it->file != "current_tracer" && it->file != "tracing_on") order.push_back(&*it);
  for (const SavedFile& f : state.files)
    if (f.file == "tracing_on") order.push_back(&f);
  for (const SavedFile* f : order) {
    if (auto s = write_tracefs_file(state.tracing_dir, f->file, f->restore_text); !s) {
      Error e = s.error();
      e.what = "cannot restore " + comment_safe(f->file) + " to '" + comment_safe(f->restore_text) +
               "' (" + e.what + ")";
      report.failures.push_back(e);
      continue;
    }
    report.actions.push_back(
        f->file + " restored to '" +
        (f->restore_text.empty() ? std::string("(empty)") : comment_safe(f->restore_text)) + "'");
  }
  if (!state.instance.empty() && !is_probeseek_instance_name(state.instance)) {
    report.failures.push_back(
        Error{ErrorKind::kBadInput, "refusing to remove an instance not named probeseek-PID",
              comment_safe(state.instance), 0, "remove the state file if you did not expect it"});
  } else if (!state.instance.empty()) {
    std::string dir = state.tracing_dir + "/instances/" + state.instance;
    // rmdir of an instance stops its tracer and frees its buffers.
    if (::rmdir(dir.c_str()) == 0)
      report.actions.push_back("instance " + state.instance + " removed");
    else if (errno != ENOENT)
      report.failures.push_back(
          Error{ErrorKind::kRuntime, "cannot remove the tracing instance", dir, errno,
                "close what still reads its trace files, then run 'probeseek reset'"});
  }
  if (report.failures.empty() && !state_file.empty()) ::unlink(state_file.c_str());
  return report;
}

Result<KernelStateGuard> KernelStateGuard::create(const std::string& state_dir,
                                                  const std::string& tracing_dir) {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return runtime_error("cannot create the state directory", state_dir, errno,
                         "probeseek keeps what it changes in tracefs there, so that "
                         "'probeseek reset' can undo it after a crash; run as root");
  KernelStateGuard g;
  g.path_ = state_file_path(state_dir, ::getpid());
  g.state_.recorder_pid = ::getpid();
  g.state_.recorder_start = process_start_time(::getpid());
  g.state_.tracing_dir = tracing_dir;
  auto created = create_private_file(g.path_);
  if (!created)
    return runtime_error("cannot create the recording's state file", g.path_,
                         created.error().err_no);
  if (!*created)
    return runtime_error("a state file of an earlier recording with this pid is in the way",
                         g.path_, 0, "run 'probeseek reset' first");
  if (auto s = write_state_file(g.path_, g.state_); !s) {
    ::unlink(g.path_.c_str());
    return tl::unexpected(s.error());
  }
  g.active_ = true;
  return g;
}

KernelStateGuard::KernelStateGuard(KernelStateGuard&& o) noexcept
    : state_(std::move(o.state_)),
      path_(std::move(o.path_)),
      active_(o.active_),
      spill_pending_(o.spill_pending_) {
  o.active_ = o.spill_pending_ = false;
}

KernelStateGuard& KernelStateGuard::operator=(KernelStateGuard&& o) noexcept {
  if (this != &o) {
    finish();
    state_ = std::move(o.state_);
    path_ = std::move(o.path_);
    active_ = o.active_;
    spill_pending_ = o.spill_pending_;
    o.active_ = o.spill_pending_ = false;
  }
  return *this;
}

KernelStateGuard::~KernelStateGuard() {
  finish();
}

void KernelStateGuard::finish() {
  if (active_) restore();
  if (!spill_pending_) return;
  spill_pending_ = false;
  remove_spill_dir(state_.spill_dir);
  ::unlink(path_.c_str());
}

Status KernelStateGuard::note_instance(const std::string& name) {
  state_.instance = name;
  return write_state_file(path_, state_);
}

Status KernelStateGuard::note_spill_dir(const std::string& path) {
  state_.spill_dir = path;
  return write_state_file(path_, state_);
}

Status KernelStateGuard::save(const std::string& file) {
  for (const SavedFile& f : state_.files)
    if (f.file == file) return {};
  auto found = read_whole_file(state_.tracing_dir + "/" + file);
  if (!found) return tl::unexpected(found.error());
  std::string text(trim(*found));
  if (file == "buffer_size_kb" && text == "X") {
    // The CPUs' buffers differ in size: each is put back on its own.
    auto names = list_directory(state_.tracing_dir + "/per_cpu");
    if (!names) return tl::unexpected(names.error());
    std::vector<std::string> cpus;
    for (const std::string& name : *names)
      if (starts_with(name, "cpu")) cpus.push_back(name);
    std::sort(cpus.begin(), cpus.end());
    for (const std::string& cpu : cpus)
      if (auto s = save("per_cpu/" + cpu + "/buffer_size_kb"); !s) return s;
    return {};
  }
  state_.files.push_back(SavedFile{file, text, restore_text_for(file, text)});
  return write_state_file(path_, state_);
}

RestoreReport KernelStateGuard::restore() {
  if (!active_) return {};
  // Restored or not, this object is done: a failure leaves the state file for 'probeseek reset'.
  active_ = false;
  if (state_.spill_dir.empty()) return restore_state(state_, path_);
  RestoreReport r = restore_state(state_, "");
  if (!r.failures.empty()) return r;
  // Nothing of the tracing state is left to undo; the spill directory is, until finish().
  SavedState left = state_;
  left.files.clear();
  left.instance.clear();
  left.restored = true;
  if (write_state_file(path_, left)) {
    state_ = std::move(left);
    spill_pending_ = true;
  } else {
    ::unlink(path_.c_str());  // never leave the full state behind to be "restored" again
  }
  return r;
}

TopLevelUse top_level_users(const std::string& tracing_dir, const std::string& state_dir) {
  TopLevelUse use;
  auto read = [&](const std::string& file) -> std::optional<std::string> {
    auto text = read_whole_file(tracing_dir + "/" + file);
    if (!text) return std::nullopt;
    return std::string(trim(*text));
  };
  if (auto tracer = read("current_tracer"); tracer && *tracer != "nop")
    use.others.push_back("current_tracer is " + *tracer);
  if (auto events = read("events/enable"); events && *events != "0")
    use.others.push_back("trace events are enabled (events/enable is " + *events + ")");
  for (const char* file : {"set_ftrace_pid", "set_ftrace_filter", "set_ftrace_notrace",
                           "set_graph_function", "set_graph_notrace"}) {
    auto text = read(file);
    if (text && !restore_text_for(file, *text).empty())
      use.others.push_back(std::string(file) + " is set (" + restore_text_for(file, *text) + ")");
  }
  if (auto depth = read("max_graph_depth"); depth && *depth != "0")
    use.others.push_back("max_graph_depth is " + *depth);
  for (const std::string& path : list_state_files(state_dir)) {
    auto state = read_state_file(path);
    // A restored one (its recorder saves, or was killed saving) left only a spill directory.
    if (!state || state->recorder_pid == ::getpid() || state->restored) continue;
    if (recorder_alive(*state)) {
      if (state->instance.empty())
        use.others.push_back("probeseek (pid " + std::to_string(state->recorder_pid) +
                             ") is recording in it");
    } else if (state->instance.empty()) {
      use.killed_recordings.push_back(path);  // its private instance, if any, is in nobody's way
    }
  }
  return use;
}

}  // namespace probeseek::detail
