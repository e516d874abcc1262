// `probeseek report`: an investigation in one self-contained HTML file (no network, no external
// scripts, styles or fonts; it opens from disk and can be attached to a ticket). It tells the
// whole story from the database: the sessions and what their recordings lost, the ranking with
// its reasons, explain of the chosen function, the verify runs, a collapsible call tree below
// the syscall, a flame graph per session (inline SVG; zoom and search with JavaScript, a static
// picture without), the diff of the sessions when there are several, and the generated probe.
// Every text from the database or the kernel is escaped; kernel addresses are replaced by
// "[address]" unless asked for. docs/report.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/database.h"
#include "probeseek/error.h"
#include "probeseek/export.h"
#include "probeseek/kernel_paths.h"

namespace probeseek {

struct ReportRequest {
  std::vector<std::string> sessions;  // empty: every session in the database
  std::string function;               // the chosen function; "": rank's best candidate
  std::optional<std::string> arg;     // as rank --arg
  // The call tree's root; "": per session, the syscall entry the chosen function ran under.
  std::string under;
  std::optional<std::string> btf_path;  // as rank --btf
  KernelPaths live;
  size_t limit = 15;            // candidates shown
  bool with_addresses = false;  // keep kernel addresses (0xffff...) in the text
  std::string command_line;     // how the report was made, shown at the end
  std::string generated_at;     // UTC, ISO 8601; shown in the header
};

// What went into the file, for the command's summary line and the tests.
struct ReportSummary {
  std::string function;  // the chosen function ("" when nothing was ranked)
  std::vector<std::string> sessions;
  size_t candidates = 0;
  size_t flame_graphs = 0, trees = 0, verifications = 0;
  bool diff = false, probe = false;
  size_t addresses_hidden = 0;
  size_t bytes = 0;
  std::vector<std::string> warnings;  // a section left out, and why
};

// Writes the report to `out`. Bad input (an unknown session or function) is an error; a
// section that cannot be made (no BTF for the probe, a session without calls) says so in the
// page and in ReportSummary::warnings.
Result<ReportSummary> write_report(Database& db, const ReportRequest& request, ExportOutput& out);

}  // namespace probeseek
