// The command line: parse, call one library function, print. Nothing below cli/ prints.
#include <malloc.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  // A short-lived process whose large buffers are temporary (a session's BTF read from the
  // database, copied into libbpf, then freed; decompressed symbol tables): kept in the heap and
  // reused rather than mapped and unmapped each time, every page of which faults again when
  // touched. Measured on a 1.1 M-call session: 8,600 -> 6,600 page faults for rank, ~20 % of
  // its time (docs/performance.md). The kernel reclaims it all at exit.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  CLI::App app{"probeseek: find the right kernel function to hook with eBPF"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "probeseek 0.1.0");
  probeseek::cli::Context ctx;
  probeseek::cli::register_import_commands(app, ctx);
  probeseek::cli::register_rank_commands(app, ctx);
  probeseek::cli::register_record_commands(app, ctx);
  probeseek::cli::register_probe_commands(app, ctx);
  probeseek::cli::register_kernel_commands(app, ctx);
  probeseek::cli::register_export_commands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return ctx.status;
}
