// What a finished recording holds between record() and read_into(): shared by recorder.cpp
// (which fills it) and recorder_replay.cpp (which decodes it).
#pragma once

#include <event-parse.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../funcgraph_decoder.h"  // TepHandle
#include "kernel_state.h"
#include "probeseek/child.h"
#include "probeseek/record.h"

namespace probeseek {

namespace detail {

// A directory of spill files, removed with everything in it when this goes away.
class SpillDir {
 public:
  static Result<SpillDir> create(const std::string& parent);
  SpillDir(SpillDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  SpillDir& operator=(SpillDir&& o) noexcept;
  ~SpillDir();
  const std::string& path() const { return path_; }
  std::string file(int cpu) const { return path_ + "/cpu" + std::to_string(cpu) + ".raw"; }

 private:
  explicit SpillDir(std::string path) : path_(std::move(path)) {}
  void remove();
  std::string path_;
};

}  // namespace detail

struct Recording::Impl {
  detail::SpillDir spill;
  int cpus = 0;
  int page_size = 0;
  std::vector<int> cpus_with_data;
  detail::TepHandle tep;  // funcgraph event formats, the kernel's kallsyms and saved comms
  KernelSnapshot kernel;
  std::vector<CpuLoss> losses;
  std::string instance;
  std::string description;
  std::string stopped_by;
  uint64_t bytes = 0;
  pid_t recorder_pid = 0;
  bool pages_read = false;  // read_into() ran: the spill files' blocks are punched out
  std::optional<HeldChild> command;
  std::shared_ptr<void> signal_guard;  // keeps the recorder's signal handlers installed
  // The state file, saying only "spill" now that the tracing state is restored: it goes after
  // the spill directory, so that 'probeseek reset' can remove that after a SIGKILL while saving.
  std::optional<detail::KernelStateGuard> state;
};

}  // namespace probeseek
