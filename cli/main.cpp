// The command line: parse, call one library function, print. Nothing below cli/ prints.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
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
