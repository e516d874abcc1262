// `probeseek reset`: what a killed recorder could not undo. Its state file says which tracefs
// files it changed and what they held; its private instance is named after its pid.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "kernel_state.h"
#include "probeseek/dir.h"
#include "probeseek/record.h"
#include "probeseek/text.h"

namespace probeseek {

Result<ResetReport> reset(const KernelPaths& paths, bool force) {
  std::string tracing_dir = paths.tracing_dir;
  if (tracing_dir.empty()) {
    auto found = detail::find_tracefs(paths.mounts, nullptr);
    if (!found) return tl::unexpected(found.error());
    tracing_dir = *found;
  }
  ResetReport report;
  std::vector<Error> failures;
  std::vector<std::string> kept_instances;  // belong to recordings still running
  for (const std::string& path : detail::list_state_files(paths.state_dir)) {
    auto state = detail::read_state_file(path);
    if (!state) {
      // One damaged file must not keep the others from being restored.
      failures.push_back(state.error());
      continue;
    }
    if (state->recorder_pid == ::getpid()) continue;
    const std::string of_pid = " (recording of pid " + std::to_string(state->recorder_pid) + ")";
    if (state->restored) {
      // It put the tracing state back itself and was saving: only its spill files can be left.
      // While it runs they are its recording, --force or not.
      if (detail::recorder_alive(*state)) {
        report.skipped.push_back("probeseek (pid " + std::to_string(state->recorder_pid) +
                                 ") is saving its recording (the tracing state is restored)");
        continue;
      }
      if (detail::remove_spill_dir(state->spill_dir))
        report.actions.push_back("spill files removed: " + state->spill_dir + of_pid);
      ::unlink(path.c_str());
      continue;
    }
    if (detail::recorder_alive(*state) && !force) {
      report.skipped.push_back("probeseek (pid " + std::to_string(state->recorder_pid) +
                               ") is still recording; stop it with Ctrl-C or 'kill " +
                               std::to_string(state->recorder_pid) + "' (it restores by itself)");
      if (!state->instance.empty()) kept_instances.push_back(state->instance);
      continue;
    }
    // The recorder may have mounted tracefs privately; ours is the same filesystem.
    state->tracing_dir = tracing_dir;
    // The state file goes last: while it is there, a later reset still knows the spill files.
    detail::RestoreReport r = detail::restore_state(*state, "");
    for (std::string& a : r.actions) report.actions.push_back(a + of_pid);
    for (Error& e : r.failures) failures.push_back(std::move(e));
    if (!r.failures.empty()) continue;
    if (detail::remove_spill_dir(state->spill_dir))
      report.actions.push_back("spill files removed: " + state->spill_dir);
    ::unlink(path.c_str());
  }
  // Instances whose recorder died before its state file named them, or whose state file is gone.
  if (auto names = list_directory(tracing_dir + "/instances")) {
    std::vector<std::string> stale;
    for (const std::string& name : *names) {
      if (!starts_with(name, "probeseek-")) continue;
      auto pid = parse_int(name.substr(10));
      if (!pid || *pid <= 0) continue;
      bool kept = false;
      for (const std::string& k : kept_instances) kept |= k == name;
      if (kept || *pid == ::getpid()) continue;
      // A live probeseek of that pid without a state file cannot be recording (it writes the
      // state file first); anything else of that pid is a reused pid.
      stale.push_back(name);
    }
    for (const std::string& name : stale) {
      std::string path = tracing_dir + "/instances/" + name;
      if (::rmdir(path.c_str()) == 0)
        report.actions.push_back("stale instance " + name + " removed");
      else if (errno != ENOENT)
        failures.push_back(Error{ErrorKind::kRuntime, "cannot remove a stale tracing instance",
                                 path, errno, "something still reads its trace files"});
    }
  }
  for (Error& e : failures) {
    if (e.hint.empty()) e.hint = "the state files stay in " + paths.state_dir + "; run reset again";
    report.failures.push_back(std::move(e));
  }
  return report;
}

}  // namespace probeseek
