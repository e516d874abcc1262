// export: a session for flame graphs (folded), Chrome's trace viewer (chrome) and Perfetto.
#include <algorithm>
#include <iostream>
#include <memory>

#include "commands.h"
#include "probeseek/db.h"
#include "probeseek/export.h"
#include "probeseek/output_file.h"
#include "probeseek/progress.h"
#include "probeseek/text.h"

namespace probeseek::cli {

namespace {

struct ExportCommandOptions {
  std::string db_path = "probeseek.db";
  std::string session;
  std::string format;
  std::string weight = "self";
  std::string output = "-";
  int64_t pid = 0;
  bool force = false;
  ExportOptions options;
};

Status run_export(ExportCommandOptions& o, const CLI::App& cmd) {
  auto format = parse_export_format(o.format);
  if (!format)
    return bad_input("--format must be folded, chrome or perfetto", o.format,
                     "folded for flamegraph.pl or speedscope, chrome for chrome://tracing or "
                     "ui.perfetto.dev, perfetto for ui.perfetto.dev");
  o.options.format = *format;
  auto weight = parse_export_weight(o.weight);
  if (!weight) return bad_input("--weight must be self, total or calls", o.weight);
  if (cmd.count("--weight") > 0 && *format != ExportFormat::kFolded)
    return bad_input("--weight applies to --format folded only", o.weight,
                     "leave --weight out: chrome and perfetto carry every call's times");
  o.options.weight = *weight;
  // An empty name or a negative pid would silently mean "no filter".
  if (cmd.count("--under") > 0 && o.options.under.empty())
    return bad_input("--under needs a function name", "", "leave --under out to export every call");
  if (cmd.count("--pid") > 0) {
    if (o.pid < 0)
      return bad_input("--pid must be a process id (0 or more)", std::to_string(o.pid),
                       "leave --pid out to export every task");
    o.options.pid = o.pid;
  }
  auto db = Database::open(o.db_path, Database::Mode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  auto s = Store(*db).session(o.session);
  if (!s) return tl::unexpected(s.error());
  auto out = OutputFile::create(o.output, o.force);
  if (!out) return tl::unexpected(out.error());
  // On a terminal: "export: 1.1M of 4.5M calls, 3 s".
  auto line = ProgressLine::on_stderr();
  if (line.active())
    o.options.progress = [&line, total = s->calls](int64_t read) {
      line.update("export: " + human_count(static_cast<uint64_t>(read)) + " of " +
                  human_count(static_cast<uint64_t>(std::max<int64_t>(total, 0))) + " calls, " +
                  line.elapsed());
    };
  auto report = export_session(*db, s->id, o.options, **out);
  line.clear();
  if (!report) return tl::unexpected(report.error());  // the temporary file is removed
  if (auto c = (*out)->commit(); !c) return c;

  std::cerr << "exported " << report->calls_exported << " of " << report->calls_read << " calls of "
            << printable(s->name) << " as " << o.format;
  if (*format == ExportFormat::kFolded)
    std::cerr << " (" << report->stacks << " stacks, weight " << o.weight << " sum "
              << report->weight_sum << ")";
  else
    std::cerr << " (" << report->tasks << " tasks)";
  std::cerr << " to " << ((*out)->path() == "-" ? "stdout" : printable((*out)->path()))
            << ((*out)->gzip() ? " (gzip)" : "") << "\n";
  if (report->interrupt_calls_left_out > 0)
    std::cerr << "left out " << report->interrupt_calls_left_out
              << " calls in interrupt or exception context (--task-only)\n";
  if (report->open_at_session_end + report->open_ended_by_descendant > 0)
    std::cerr << "calls without a recorded exit: " << report->open_at_session_end
              << " ended at the session's end, " << report->open_ended_by_descendant
              << " with their last descendant\n";
  // Placing slices is expected: a recording's entries can share a timestamp. Repairing ids,
  // names or durations is not: the database is damaged.
  std::string placed, repaired;
  for (auto& [name, value] : report->clamps) {
    bool timing = name == "starts_before_parent" || name == "moved_with_parent" ||
                  name == "overlaps_sibling" || name == "starts_after_parent" ||
                  name == "ends_after_parent";
    if (name == "folded_depth_capped") {
      std::cerr << "calls deeper than 512 frames: " << value
                << " weighed in one [deeper] frame each (see docs/export.md)\n";
      continue;
    }
    std::string& list = timing ? placed : repaired;
    list += (list.empty() ? "" : ", ") + name + "=" + std::to_string(value);
  }
  if (!placed.empty())
    std::cerr << "slices moved or cut to nest strictly per task: " << placed
              << " (entries sharing a timestamp; see docs/export.md)\n";
  if (!repaired.empty())
    std::cerr << "warning: repaired rows that did not nest: " << repaired
              << " (the database is damaged; see docs/export.md)\n";
  return {};
}

}  // namespace

void register_report_command(CLI::App& app, Context& ctx);  // commands_report.cpp

void register_export_commands(CLI::App& app, Context& ctx) {
  register_report_command(app, ctx);
  auto* cmd = app.add_subcommand(
      "export",
      "Export a session's calls: folded stacks (flame graphs), Chrome trace JSON, Perfetto");
  auto o = std::make_shared<ExportCommandOptions>();
  cmd->add_option("--db", o->db_path, "database file")->capture_default_str();
  cmd->add_option("--session", o->session, "session name (default: the only one)");
  cmd->add_option("--format", o->format, "folded, chrome or perfetto")->required();
  cmd->add_option("--under", o->options.under,
                  "only calls at or below calls of this function (the root frame)");
  cmd->add_option("--pid", o->pid, "only this task");
  cmd->add_option("--weight", o->weight, "folded: self (ns, the default), total (ns) or calls")
      ->capture_default_str();
  cmd->add_flag("--task-only", o->options.task_only,
                "leave out interrupt and exception work (softirq, hardirq, NMI, faults)");
  cmd->add_option("-o,--output", o->output, "output file ('-': stdout; '.gz': gzip)")
      ->capture_default_str();
  cmd->add_flag("--force", o->force, "replace an existing output file");
  cmd->callback([&ctx, o, cmd] { run(ctx, [&]() -> Status { return run_export(*o, *cmd); }); });
}

}  // namespace probeseek::cli
