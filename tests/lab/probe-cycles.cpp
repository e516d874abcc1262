// probe-cycles: runs in the lab guest (tests/lab/probe-attach.sh). Attaches the generic probe
// to a function and detaches it N times in one process, and after every detach checks that
// the process holds no more file descriptors and the kernel no more BPF links than before;
// at the end, that destroying the tracer gave back the rest. (Separate processes are checked
// by the script: a killed one leaves nothing either.)
//
//   probe-cycles FUNC N      exit 0 when nothing leaked, 1 otherwise (says what)
//   probe-cycles --links     prints how many BPF links exist in the kernel
//   probe-cycles --progs     prints how many BPF programs are loaded (bench/lab_load.sh)
#include <bpf/bpf.h>
#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "probeseek/attach.h"

namespace {

int count_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (struct dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory stream's own fd
}

int count_links() {
  int n = 0;
  __u32 id = 0;
  while (bpf_link_get_next_id(id, &id) == 0) ++n;
  return n;
}

int count_progs() {
  int n = 0;
  __u32 id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) ++n;
  return n;
}

// The last reference to a link is dropped on close(); allow the kernel a moment for the
// deferred part of the release before calling it a leak.
bool settles_to(int links) {
  for (int i = 0; i < 50; ++i) {
    if (count_links() == links) return true;
    usleep(20000);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--links") {
    std::printf("%d\n", count_links());
    return 0;
  }
  if (argc == 2 && std::string(argv[1]) == "--progs") {
    std::printf("%d\n", count_progs());
    return 0;
  }
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: probe-cycles FUNC N | probe-cycles --links | probe-cycles --progs\n");
    return 2;
  }
  const std::string function = argv[1];
  const int cycles = std::atoi(argv[2]);
  const int fds = count_fds(), links = count_links();
  using clock = std::chrono::steady_clock;
  double attach_s = 0, detach_s = 0;
  {
    // One tracer, as verify uses it: its ring buffer stays, each probe comes and goes.
    auto tracer = probeseek::Tracer::open({});
    if (!tracer) {
      std::fprintf(stderr, "%s\n", tracer.error().message().c_str());
      return 1;
    }
    const int tracer_fds = count_fds();
    for (int i = 1; i <= cycles; ++i) {
      auto t0 = clock::now();
      auto probe = (*tracer)->attach({function, std::nullopt, false});
      if (!probe) {
        std::fprintf(stderr, "cycle %d: %s\n", i, probe.error().message().c_str());
        return 1;
      }
      attach_s += std::chrono::duration<double>(clock::now() - t0).count();
      if (count_links() <= links) {
        std::fprintf(stderr, "cycle %d: attached, but no new BPF link exists\n", i);
        return 1;
      }
      t0 = clock::now();
      (*tracer)->detach_all();  // the probe's links, programs and maps
      detach_s += std::chrono::duration<double>(clock::now() - t0).count();
      if (!settles_to(links) || count_fds() != tracer_fds) {
        std::fprintf(stderr, "cycle %d: leaked: fds %d -> %d, BPF links %d -> %d\n", i, tracer_fds,
                     count_fds(), links, count_links());
        return 1;
      }
    }
  }  // the tracer is destroyed here: its ring buffer too
  if (count_fds() != fds) {
    std::fprintf(stderr, "leaked after the tracer: fds %d -> %d\n", fds, count_fds());
    return 1;
  }
  std::printf(
      "ok: %d attach/detach cycles of %s; fds %d -> %d, BPF links %d -> %d; "
      "%.2f s per attach, %.2f s per detach\n",
      cycles, function.c_str(), fds, count_fds(), links, count_links(), attach_s / cycles,
      detach_s / cycles);
  return 0;
}
