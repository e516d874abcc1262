#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "probeseek/error.h"

namespace probeseek {
struct CompatReport;
}

namespace probeseek::cli {

struct Context {
  int status = 0;
};

// Prints "error: ..." and "hint: ..." to stderr and returns the exit status for it.
int report(const Error& error);

// Runs a command's body: an error becomes its message and the exit status, the one way a
// command fails (main turns ctx.status into the process's exit status).
template <typename Fn>
void run(Context& ctx, Fn&& fn) {
  Status s = fn();
  if (!s) ctx.status = report(s.error());
}

void register_import_commands(CLI::App& app, Context& ctx);
void register_rank_commands(CLI::App& app, Context& ctx);
void register_record_commands(CLI::App& app, Context& ctx);
void register_probe_commands(CLI::App& app, Context& ctx);   // gen, attach, verify
void register_kernel_commands(CLI::App& app, Context& ctx);  // kernels, kernels add, compat
void register_export_commands(CLI::App& app, Context& ctx);  // export, report (views/)
// compat's text view, also printed by explain --kernels.
void print_compat_text(const CompatReport& report, std::ostream& out);

}  // namespace probeseek::cli
