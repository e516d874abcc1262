// The kernel's tracing state as the recorder found it, and the single routine that puts it back
// (after a recording, on error, on a signal, and from `probeseek reset` after SIGKILL). The
// saved values live in a state file from before the first change until everything is restored,
// so a killed recorder leaves enough behind to undo what it did.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/error.h"

namespace probeseek::detail {

// One tracefs file as found, and what writing puts it back.
struct SavedFile {
  std::string file;   // relative to the tracing dir: "current_tracer", "options/function-fork"
  std::string found;  // its content as read, trimmed (for messages)
  std::string restore_text;  // what to write back; "" means: truncate it (an empty list)
};

struct SavedState {
  pid_t recorder_pid = 0;
  // The recorder's start time (/proc/PID/stat field 22), so a reused pid is not taken for it.
  unsigned long long recorder_start = 0;
  std::string tracing_dir;
  std::string instance;          // "probeseek-123": a private instance to remove ("" = none)
  std::string spill_dir;         // the recorder's raw pages: removed by reset, not by restore
  std::vector<SavedFile> files;  // top-level files, in the order they were changed
  // The recorder has put the tracing state back and is saving its recording: only spill_dir is
  // left, and this file stays until that is gone (so reset can remove it after a SIGKILL).
  bool restored = false;
};

// Whitespace-separated words, newlines included (tracefs lists are one entry per line).
std::vector<std::string_view> words(std::string_view text);
bool has_word(std::string_view text, std::string_view word);

// What restores a file's content as read: "no pid" -> "", "#### all functions enabled ####" ->
// "", "7 (expanded: 1408)" -> "1408" (the size the kernel expands to on first use), lists one
// entry per line -> entries separated by spaces, anything else trimmed.
std::string restore_text_for(std::string_view file, std::string_view found);

std::string state_file_path(const std::string& state_dir, pid_t pid);
Result<SavedState> read_state_file(const std::string& path);
// Atomic: a temporary file renamed over the old one, so a crash never leaves half a state file.
Status write_state_file(const std::string& path, const SavedState& state);
// The state files in a directory (none when it does not exist).
std::vector<std::string> list_state_files(const std::string& state_dir);

// Removes a spill directory and the files in it; only an absolute path without "." or ".."
// components whose last one is probeseek-record-* (a state file is data), never following a link.
// True when the directory was removed.
bool remove_spill_dir(const std::string& path);

unsigned long long process_start_time(pid_t pid);  // 0 when the process does not exist
// The process that wrote the state still runs (same pid, same start time).
bool recorder_alive(const SavedState& state);

// A state file names tracefs files by their path below the tracing directory; only names of the
// shape tracefs uses are written to: 1 to 3 components of [A-Za-z0-9_.-], none starting with
// '.' (so no "..", no absolute path), e.g. "current_tracer", "options/function-fork",
// "per_cpu/cpu0/buffer_size_kb". A state file is data, and may have been tampered with.
bool is_tracefs_file_name(std::string_view file);
// "probeseek-PID": the only instances a state file may ask to remove.
bool is_probeseek_instance_name(std::string_view name);
// Writes `text` to tracing_dir/file, opening each component relative to the one before with
// O_NOFOLLOW (tracefs has no links: a link on the way means something else is mounted there).
// The name must pass is_tracefs_file_name; the file must exist (it is never created).
Status write_tracefs_file(const std::string& tracing_dir, const std::string& file,
                          std::string_view text);

// Puts every saved file back -- current_tracer first (stop tracing), tracing_on last, the rest
// in reverse order of change -- then removes the private instance. Every step is tried; the
// state file is removed only when all of them worked.
struct RestoreReport {
  std::vector<std::string> actions;  // "current_tracer = nop (was function_graph)"
  std::vector<Error> failures;
};
RestoreReport restore_state(const SavedState& state, const std::string& state_file);

// The recorder's side. Owns the state file: created (exclusively) before the first change,
// rewritten before every later one. restore() puts the tracing state back; while a spill
// directory is noted, the state file then says only that (SavedState::restored) and stays until
// finish() (or the destructor) has removed the directory, so a recorder killed while saving
// leaves nothing that reset does not know about.
class KernelStateGuard {
 public:
  static Result<KernelStateGuard> create(const std::string& state_dir,
                                         const std::string& tracing_dir);
  KernelStateGuard(KernelStateGuard&&) noexcept;
  KernelStateGuard& operator=(KernelStateGuard&&) noexcept;
  ~KernelStateGuard();  // finish()

  // Records the private instance before it is created.
  Status note_instance(const std::string& name);
  // Records where the raw pages go, so that reset can remove them after a SIGKILL.
  Status note_spill_dir(const std::string& path);
  // Saves a top-level file's current value (once; later calls keep the first value). Call it
  // before every change of that file.
  Status save(const std::string& file);
  // Restores everything; idempotent.
  RestoreReport restore();
  // restore(), then removes the spill directory and, after it, the state file (unless a restore
  // failed: then the state file stays for 'probeseek reset'). Idempotent.
  void finish();
  const SavedState& state() const { return state_; }
  const std::string& path() const { return path_; }

 private:
  KernelStateGuard() = default;
  SavedState state_;
  std::string path_;
  bool active_ = false;
  bool spill_pending_ = false;  // restored; the state file stays until the spill dir is gone
};

// Who else uses the top-level instance right now: another tracer, enabled events, pid or
// function filters, a running probeseek recording (`others`, which --force may override), and
// the state files of killed recordings (which only 'probeseek reset' clears).
struct TopLevelUse {
  std::vector<std::string> others;
  std::vector<std::string> killed_recordings;  // their state files
};
TopLevelUse top_level_users(const std::string& tracing_dir, const std::string& state_dir);

// ---- Where tracefs is ----

// The mount point of a filesystem type in a mounts table ("/proc/self/mounts" format).
std::optional<std::string> mount_point_of(const std::string& mounts_path, std::string_view fs_type);
// The mounted tracefs; when there is none and we may, one mounted at /sys/kernel/tracing in a
// private mount namespace of this process (it disappears with the process, so there is nothing
// to restore). `mounted_privately` says which.
Result<std::string> find_tracefs(const std::string& mounts_path, bool* mounted_privately);
// Same for other pseudo filesystems (debugfs for the kprobe blacklist, securityfs for the
// lockdown mode); nullopt when it cannot be had.
std::optional<std::string> find_or_mount(const std::string& mounts_path, const char* fs_type,
                                         const char* point);
std::optional<std::string> find_debugfs(const std::string& mounts_path);

}  // namespace probeseek::detail
