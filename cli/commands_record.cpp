// record, reset, doctor: live recording on this machine's kernel.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "output.h"
#include "probeseek/attach.h"
#include "probeseek/btf.h"
#include "probeseek/db.h"
#include "probeseek/ingest.h"
#include "probeseek/record.h"
#include "probeseek/text.h"

namespace probeseek::cli {

namespace {

constexpr const char* kDefaultDb = "probeseek.db";

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Free bytes on the filesystem that holds `path` (a file that may not exist yet: its directory).
std::optional<uint64_t> free_bytes_for(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

// Saving writes the database while the spilled pages are still on disk, often on the same
// filesystem (/tmp): in the lab a busy minute (535 MB of pages) filled a 1 GiB tmpfs and the
// recording was lost with only "database or disk is full". The database takes about as much as
// the pages (278 MB for 326 MiB in the lab), its index build a little more; the pages' blocks are
// given back as they are decoded (where the filesystem punches holes), so the peak is about the
// larger of the two rather than their sum.
std::string room_hint(uint64_t spill_bytes, std::optional<uint64_t> free_at_start) {
  std::string hint = "saving needs room for a database about as large as the " +
                     std::to_string(spill_bytes >> 20) +
                     " MiB of ring-buffer pages in the spill directory (their space is given "
                     "back as they are decoded)";
  if (free_at_start)
    hint += " (" + std::to_string(*free_at_start >> 20) + " MiB were free when saving started)";
  return hint +
         ": put --db (or --spill-dir) on a filesystem with more room, or record less "
         "(--duration, --graph-function, --max-depth)";
}

// --name, or one made from the command (or the first process's comm) that the database does
// not have yet: curl, curl-2, ... Checked before recording, so a clash costs nothing.
Result<std::string> choose_session_name(const std::string& db_path, const std::string& wanted,
                                        const RecordOptions& options) {
  std::vector<std::string> taken;
  if (file_exists(db_path)) {
    auto db = Database::open(db_path, Database::Mode::kReadOnly);
    if (!db) return tl::unexpected(db.error());
    auto sessions = Store(*db).sessions();
    if (!sessions) return tl::unexpected(sessions.error());
    for (auto& s : *sessions) taken.push_back(s.name);
  }
  auto is_taken = [&](const std::string& n) {
    return std::find(taken.begin(), taken.end(), n) != taken.end();
  };
  if (!wanted.empty()) {
    if (is_taken(wanted))
      return bad_input("the database already has a session of that name", wanted,
                       "choose another --name, or remove it first");
    return wanted;
  }
  std::string base;
  if (!options.command.empty()) {
    base = options.command.front().substr(options.command.front().find_last_of('/') + 1);
  } else if (!options.pids.empty()) {
    auto comm = read_whole_file("/proc/" + std::to_string(options.pids.front()) + "/comm");
    base = comm ? std::string(trim(*comm)) : "pid-" + std::to_string(options.pids.front());
  }
  if (base.empty()) base = "record";
  std::string name = base;
  for (int n = 2; is_taken(name); ++n) name = base + "-" + std::to_string(n);
  return name;
}

void print_doctor(const std::vector<DoctorCheck>& checks) {
  size_t width = 0;
  for (auto& c : checks) width = std::max(width, c.feature.size());
  for (auto& c : checks) {
    std::string status(to_string(c.status));
    std::printf("%-8s %-*s  %s\n", status.c_str(), static_cast<int>(width), c.feature.c_str(),
                c.detail.c_str());
    if (!c.cannot.empty())
      std::printf("%-8s %-*s  cannot: %s\n", "", static_cast<int>(width), "", c.cannot.c_str());
    if (!c.instead.empty())
      std::printf("%-8s %-*s  instead: %s\n", "", static_cast<int>(width), "", c.instead.c_str());
  }
}

}  // namespace

void register_record_commands(CLI::App& app, Context& ctx) {
  // ---- record
  auto* rec = app.add_subcommand(
      "record",
      "Record function_graph call trees of a command (-- CMD ARGS) or of running "
      "processes (-p PID) on this machine's kernel, into the database");
  struct RecordCommandOptions {
    std::string db_path = kDefaultDb;
    std::string name;
    std::string state_dir;
    std::string tracing_dir;
    RecordOptions options;
    std::vector<int> pids;
    double duration = 0;
    int max_depth = 0;
    int buffer_kb = 0;
    CLI::Option* max_depth_option = nullptr;
  };
  auto ro = std::make_shared<RecordCommandOptions>();
  rec->add_option("--db", ro->db_path, "database file")->capture_default_str();
  rec->add_option("--name", ro->name, "session name (default: the command's name, made unique)");
  // One value per occurrence: CLI11 lets a list option take every word up to a '--', which
  // then ends the list instead of starting the command.
  rec->add_option("-p,--pid", ro->pids,
                  "trace this running process (all its threads, and the "
                  "children it starts); repeatable")
      ->allow_extra_args(false);
  rec->add_option("--duration", ro->duration, "stop after this many seconds");
  rec->add_option("--graph-function", ro->options.graph_functions,
                  "only calls below this function (set_graph_function; needs the top-level "
                  "instance); repeatable")
      ->allow_extra_args(false);
  ro->max_depth_option = rec->add_option(
      "--max-depth", ro->max_depth,
      "record this many levels of calls (max_graph_depth; needs the top-level instance)");
  rec->add_option("--buffer-size", ro->buffer_kb,
                  "ring buffer per CPU, in KB (default: 4096, or the current size if larger)");
  rec->add_flag("--force", ro->options.force,
                "record in the top-level instance even while someone else uses it (their "
                "settings are put back afterwards)");
  rec->add_option(
      "--spill-dir", ro->options.spill_dir,
      "directory for the raw ring-buffer pages while recording (default: $TMPDIR or /tmp)");
  rec->add_option("--state-dir", ro->state_dir, "where the saved tracing state is kept")
      ->default_str(KernelPaths{}.state_dir);
  rec->add_option("--tracing-dir", ro->tracing_dir, "tracefs mount (default: the mounted one)");
  rec->add_option("--user", ro->options.user,
                  "run the command as this user (name or uid), not as root; tracing still needs "
                  "root");
  rec->add_option("command", ro->options.command, "the command to run and trace, after '--'");
  rec->callback([&ctx, ro] {
    run(ctx, [&]() -> Status {
      for (int pid : ro->pids) ro->options.pids.push_back(static_cast<pid_t>(pid));
      if (ro->duration > 0) ro->options.duration_s = ro->duration;
      if (ro->max_depth_option->count() > 0) ro->options.max_depth = ro->max_depth;
      if (ro->buffer_kb != 0) ro->options.buffer_size_kb = ro->buffer_kb;
      if (!ro->state_dir.empty()) ro->options.paths.state_dir = ro->state_dir;
      ro->options.paths.tracing_dir = ro->tracing_dir;
      ro->options.progress = [](std::string_view text) {
        std::cerr << "probeseek: " << text << "\n";
      };
      auto session = choose_session_name(ro->db_path, ro->name, ro->options);
      if (!session) return tl::unexpected(session.error());
      auto recording = record(ro->options);
      if (!recording) return tl::unexpected(recording.error());
      std::cerr << "probeseek: recording stopped (" << recording->stopped_by() << "); saving "
                << recording->bytes() / 1024 << " KB of ring-buffer pages to " << ro->db_path
                << "\n";
      for (const CpuLoss& loss : recording->losses())
        std::cerr << "warning: CPU " << loss.cpu << ": the kernel overwrote " << loss.overrun
                  << " and dropped " << loss.dropped << " events before probeseek read them\n";
      IngestRequest ingest_request;
      ingest_request.recording = &*recording;
      ingest_request.name = *session;
      ingest_request.source = "probeseek record " +
                              std::string(ro->options.command.empty() ? "-p " : "-- ") +
                              recording->description();
      // The BTF of the modules whose functions were recorded lies beside the vmlinux BTF.
      const std::string& btf_path = recording->kernel().btf_path;
      if (!btf_path.empty())
        ingest_request.module_btf_dir = btf_path.substr(0, btf_path.find_last_of('/'));
      ingest_request.kernel_memory = ro->options.paths.kcore;
      ingest_request.progress = ro->options.progress;
      const std::optional<uint64_t> free_at_start = free_bytes_for(ro->db_path);
      if (free_at_start && *free_at_start < recording->bytes())
        std::cerr << "warning: " << room_hint(recording->bytes(), free_at_start) << "\n";
      auto db = Database::open(ro->db_path);
      if (!db) return tl::unexpected(db.error());
      auto saved = ingest(*db, ingest_request);
      if (!saved) {
        Error e = saved.error();
        if (e.hint.empty() && e.message().find("full") != std::string::npos)
          e.hint = room_hint(recording->bytes(), free_at_start);
        return tl::unexpected(e);
      }
      for (auto& w : saved->warnings) std::cerr << "warning: " << printable(w) << "\n";
      if (const auto& ops = saved->ops) {
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.1f", ops->seconds);
        std::cerr << "probeseek: " << ops->memberships
                  << " ops-table slots hold recorded functions (" << ops->functions_with_fits
                  << " functions fit " << ops->structs << " ops structs; " << ops->tables
                  << " tables read in " << seconds << " s)\n";
      }
      auto s = Store(*db).session(*session);
      if (!s) return tl::unexpected(s.error());
      if (s->calls == 0)
        std::cerr << "warning: no function_graph records: the traced tasks made no kernel calls "
                     "while recording (or --graph-function never ran)\n";
      std::cerr << "recorded " << s->name << ": " << s->calls << " calls, " << s->tasks
                << " tasks, " << s->functions << " functions, " << s->lost_events
                << " lost events (" << s->kernel_release << ", "
                << (recording->instance().empty() ? "top-level instance"
                                                  : "instance " + recording->instance())
                << ")\n";
      if (auto status = recording->wait_command()) ctx.status = *status;
      return {};
    });
  });

  // ---- reset
  auto* reset_cmd = app.add_subcommand(
      "reset",
      "Restore the tracing state a killed 'probeseek record' left behind, and remove "
      "stale probeseek tracing instances");
  struct ResetOptions {
    bool force = false;
    std::string state_dir;
    std::string tracing_dir;
  };
  auto xo = std::make_shared<ResetOptions>();
  reset_cmd->add_flag("--force", xo->force, "also restore for recordings that still run");
  reset_cmd->add_option("--state-dir", xo->state_dir, "where the saved tracing state is kept")
      ->default_str(KernelPaths{}.state_dir);
  reset_cmd->add_option("--tracing-dir", xo->tracing_dir,
                        "tracefs mount (default: the mounted one)");
  reset_cmd->callback([&ctx, xo] {
    run(ctx, [&]() -> Status {
      KernelPaths paths;
      if (!xo->state_dir.empty()) paths.state_dir = xo->state_dir;
      paths.tracing_dir = xo->tracing_dir;
      auto report = reset(paths, xo->force);
      if (!report) return tl::unexpected(report.error());
      for (auto& a : report->actions) std::cout << a << "\n";
      for (auto& s : report->skipped) std::cerr << "skipped: " << s << "\n";
      // What was restored is shown above; what was not, one error line each, the first as the
      // command's error (exit 1; 2 when that state file was refused as bad input).
      for (size_t i = 1; i < report->failures.size(); ++i)
        std::cerr << "error: " << report->failures[i].message() << "\n";
      if (!report->failures.empty()) return tl::unexpected(report->failures.front());
      if (report->actions.empty() && report->skipped.empty())
        std::cout << "nothing to reset: no probeseek recording left the tracing state changed\n";
      return {};
    });
  });

  // ---- doctor
  auto* doctor_cmd = app.add_subcommand(
      "doctor", "What this machine's kernel offers probeseek, and what to do about what it lacks");
  struct DoctorOptions {
    bool as_json = false;
  };
  auto dop = std::make_shared<DoctorOptions>();
  doctor_cmd->add_flag("--json", dop->as_json, "JSON array on stdout");
  doctor_cmd->callback([&ctx, dop] {
    run(ctx, [&]() -> Status {
      // The fentry line loads a program, as 'attach --type fentry' does: same kernel, same answer.
      auto checks = doctor(KernelPaths{}, []() -> std::optional<std::string> {
        TrampolineSupport t = trampoline_support(KernelPaths{});
        if (t.available) return std::nullopt;
        return t.why_not;
      });
      if (dop->as_json) {
        nlohmann::json out = nlohmann::json::array();
        for (auto& c : checks)
          out.push_back({{"feature", c.feature},
                         {"status", std::string(to_string(c.status))},
                         {"detail", c.detail},
                         {"cannot", c.cannot},
                         {"instead", c.instead}});
        std::cout << dump_json(out) << "\n";
      } else {
        print_doctor(checks);
      }
      return {};
    });
  });
}

}  // namespace probeseek::cli
