// report: the investigation as one self-contained HTML file (views/report.h).
#include <iostream>
#include <memory>

#include "commands.h"
#include "probeseek/output_file.h"
#include "probeseek/report.h"
#include "probeseek/text.h"

namespace probeseek::cli {

namespace {

struct ReportCommandOptions {
  std::string db_path = "probeseek.db";
  std::string output = "report.html";
  std::string arg, btf;
  bool force = false;
  ReportRequest request;
};

// The command as the footer shows it: how to make the same page again.
std::string command_line(const ReportCommandOptions& o) {
  auto quoted = [](const std::string& s) {
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-./=:,+") == std::string::npos)
      return s;
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string line = "probeseek report --db " + quoted(o.db_path);
  for (auto& s : o.request.sessions) line += " --session " + quoted(s);
  if (!o.request.function.empty()) line += " --function " + quoted(o.request.function);
  if (!o.arg.empty()) line += " --arg " + quoted(o.arg);
  if (!o.request.under.empty()) line += " --under " + quoted(o.request.under);
  if (!o.btf.empty()) line += " --btf " + quoted(o.btf);
  if (o.request.with_addresses) line += " --with-addresses";
  return line + " -o " + quoted(o.output);
}

Status run_report(ReportCommandOptions& o, const CLI::App& cmd) {
  // An empty name would silently mean "the default".
  for (const char* option : {"--function", "--under"})
    if (cmd.count(option) > 0 &&
        (option == std::string("--function") ? o.request.function : o.request.under).empty())
      return bad_input(std::string(option) + " needs a function name", "",
                       std::string("leave ") + option + " out for the default");
  if (!o.arg.empty()) o.request.arg = o.arg;
  if (!o.btf.empty()) o.request.btf_path = o.btf;
  if (o.request.limit == 0) return bad_input("--limit must be 1 or more", "0");
  o.request.generated_at = now_utc();
  o.request.command_line = command_line(o);
  auto db = Database::open(o.db_path, Database::Mode::kReadOnly);
  if (!db) return tl::unexpected(db.error());
  auto out = OutputFile::create(o.output, o.force);
  if (!out) return tl::unexpected(out.error());
  auto summary = write_report(*db, o.request, **out);
  if (!summary) return tl::unexpected(summary.error());  // the temporary file is removed
  if (auto c = (*out)->commit(); !c) return c;

  for (auto& w : summary->warnings) std::cerr << "warning: " << printable(w) << "\n";
  std::cerr << "report on " << printable(join(summary->sessions, ", ")) << ": "
            << (summary->function.empty() ? "no candidate"
                                          : "function " + printable(summary->function))
            << ", " << summary->candidates << " candidates, " << summary->trees << " call trees, "
            << summary->flame_graphs << " flame graphs, " << summary->verifications
            << " verify results" << (summary->diff ? ", a diff" : "")
            << (summary->probe ? ", the probe's source" : "");
  if (summary->addresses_hidden)
    std::cerr << "; " << summary->addresses_hidden << " kernel addresses hidden";
  std::cerr << "\nwrote " << ((*out)->path() == "-" ? "stdout" : printable((*out)->path())) << " ("
            << (summary->bytes + 1023) / 1024 << " KiB): open it in a browser; it needs no "
            << "network\n";
  return {};
}

}  // namespace

void register_report_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "report", "Write the investigation as one self-contained HTML file (no network needed)");
  auto o = std::make_shared<ReportCommandOptions>();
  cmd->add_option("--db", o->db_path, "database file")->capture_default_str();
  cmd->add_option("--session", o->request.sessions, "sessions to report (default: all)")
      ->allow_extra_args(false);
  cmd->add_option("--function", o->request.function,
                  "the function to explain and probe (default: the best ranked)");
  cmd->add_option("--arg", o->arg, "a parameter of this C type, e.g. 'struct sock *'");
  cmd->add_option("--under", o->request.under,
                  "only calls below this function; the call tree's root (default: the "
                  "syscall the function ran under)");
  cmd->add_option("--btf", o->btf, "BTF of the traced kernel (raw or ELF with .BTF)");
  cmd->add_option("--limit", o->request.limit, "candidates shown")->capture_default_str();
  cmd->add_flag("--with-addresses", o->request.with_addresses,
                "keep kernel addresses (hidden as [address] by default)");
  cmd->add_option("-o,--output", o->output, "the HTML file ('-': stdout)")->capture_default_str();
  cmd->add_flag("--force", o->force, "replace an existing output file");
  cmd->callback([&ctx, o, cmd] { run(ctx, [&]() -> Status { return run_report(*o, *cmd); }); });
}

}  // namespace probeseek::cli
