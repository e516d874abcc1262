// kernels, kernels add, compat: the kernel catalogue and hook stability across kernels.
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "output.h"
#include "probeseek/compat.h"
#include "probeseek/progress.h"
#include "probeseek/text.h"

namespace probeseek::cli {
namespace {

using nlohmann::json;

std::string default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string base = xdg && *xdg ? xdg : std::string(home && *home ? home : "/tmp") + "/.cache";
  return base + "/probeseek/packages";
}

json config_json(const std::string& config) {
  json out = json::object();
  std::istringstream in(config);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

json optional_count(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

void register_list(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("kernels", "The kernel catalogue: list it, or add kernels");
  struct KernelsOptions {
    std::string db_path = "probeseek.db";
    bool as_json = false;
    AddKernelsRequest request;
    std::vector<std::string> debian;
    std::string add_db = "probeseek.db";
    bool no_modules = false;
  };
  auto ko = std::make_shared<KernelsOptions>();
  cmd->add_option("--db", ko->db_path, "database file")->capture_default_str();
  cmd->add_flag("--json", ko->as_json, "JSON array on stdout");
  cmd->require_subcommand(0, 1);

  // kernels add
  auto* add = cmd->add_subcommand("add", "Add kernels from packages, images, BTF files or live");
  ko->request.cache_dir = default_cache_dir();
  add->add_option("SOURCE", ko->request.sources,
                  "a linux-image .deb or package name, a package directory, a vmlinuz or "
                  "vmlinux, a raw BTF file, or live");
  add->add_option("--db", ko->add_db, "database file")->capture_default_str();
  add->add_option("--debian", ko->debian,
                  "Debian's kernel packages: all, 6.1, 6.12, or part of a package name");
  add->add_option("--cache", ko->request.cache_dir, "where downloaded packages are kept")
      ->capture_default_str();
  add->add_option("--system-map", ko->request.system_map, "a real System.map for a single image");
  add->add_option("--name", ko->request.name, "the kernel's name (a single source)");
  add->add_flag("--replace", ko->request.replace, "replace a catalogued kernel of the same name");
  add->add_flag("--no-modules", ko->no_modules,
                "leave a package's loadable modules out (faster; their functions read as absent)");
  add->add_option("--jobs", ko->request.jobs, "kernels read at once (each holds one in memory)")
      ->capture_default_str();
  add->callback([&ctx, ko] {
    ko->request.modules = !ko->no_modules;
    bool created = false;
    ctx.status = [&]() -> int {
      for (const std::string& spec : ko->debian) {
        auto names = debian_kernels_matching(spec);
        if (!names) return report(names.error());
        ko->request.sources.insert(ko->request.sources.end(), names->begin(), names->end());
      }
      auto db = Database::open(ko->add_db);
      if (!db) return report(db.error());
      created = db->created();
      int status = 0;
      size_t added = 0, known = 0;
      // On a terminal, below the lines of the kernels done: "kernels add: 3 of 17 done, 1 min 2 s".
      auto line = ProgressLine::on_stderr();
      const size_t sources = ko->request.sources.size();
      if (sources > 1) line.update("kernels add: 0 of " + std::to_string(sources) + " done, 0 s");
      auto results =
          add_kernels(*db, ko->request, [&](size_t done, size_t total, const AddedKernel& r) {
            line.clear();
            std::cerr << "[" << done << "/" << total << "] " << printable(r.source) << ": ";
            if (r.error) {
              std::cerr << "error: " << printable(r.error->message()) << "\n";
              if (!r.error->hint.empty())
                std::cerr << "  hint: " << printable(r.error->hint) << "\n";
              status = std::max(status, r.error->exit_status());
            } else {
              (r.added ? added : known)++;
              std::cerr << (r.added ? "added " : "already catalogued: ") << printable(r.name)
                        << " (" << std::fixed << std::setprecision(1) << r.seconds << " s)\n";
              if (r.added && !r.modules_note.empty())
                std::cerr << "  note: " << printable(r.modules_note) << "\n";
              if (r.added && !r.ops_error.empty())
                std::cerr << "  note: ops-table slots not catalogued: " << printable(r.ops_error)
                          << "\n";
            }
            if (done < total)
              line.update("kernels add: " + std::to_string(done) + " of " + std::to_string(total) +
                          " done, " + line.elapsed());
          });
      line.clear();
      if (!results) return report(results.error());
      std::cerr << added << " added, " << known << " already catalogued";
      if (status) std::cerr << ", " << (results->size() - added - known) << " failed";
      std::cerr << "\n";
      return status;
    }();
    if (ctx.status != 0 && created) {
      bool empty = false;
      {
        auto db = Database::open(ko->add_db, Database::Mode::kReadOnly);
        empty = db && db->holds_nothing().value_or(false);
      }
      if (empty) remove_database_files(ko->add_db);
    }
  });

  cmd->callback([&ctx, ko, cmd] {
    if (!cmd->get_subcommands().empty()) return;
    run(ctx, [&]() -> Status {
      auto db = Database::open(ko->db_path, Database::Mode::kReadOnly);
      if (!db) return tl::unexpected(db.error());
      auto kernels = list_catalog_kernels(*db);
      if (!kernels) return tl::unexpected(kernels.error());
      std::vector<std::string> order;
      for (auto& k : *kernels) order.push_back(k.name);
      sort_kernel_names(order);
      std::vector<const CatalogKernel*> sorted;
      for (auto& n : order)
        for (auto& k : *kernels)
          if (k.name == n) sorted.push_back(&k);
      if (ko->as_json) {
        json out = json::array();
        for (const CatalogKernel* k : sorted)
          out.push_back({{"name", k->name},
                         {"functions", k->functions},
                         {"traceable", optional_count(k->traceable)},
                         {"blacklisted", optional_count(k->blacklisted)},
                         {"symbols", k->symbols},
                         {"symbols_from", k->symbols_from},
                         {"build_id", k->build_id},
                         {"compression", k->compression},
                         {"source", k->source},
                         {"added_at", k->added_at},
                         {"btf_bytes", k->btf_bytes},
                         {"ops_slots", optional_count(k->ops_slots)},
                         {"modules", k->modules},
                         {"config", config_json(k->config)}});
        std::cout << dump_json(out) << "\n";
        return {};
      }
      if (sorted.empty()) {
        std::cout << "the catalogue is empty; add kernels with: probeseek kernels add --debian "
                     "6.1 (or a .deb, a vmlinuz, a BTF file, live)\n";
        return {};
      }
      std::ostringstream text;
      text << std::left << std::setw(34) << "KERNEL" << std::right << std::setw(10) << "FUNCTIONS"
           << std::setw(11) << "TRACEABLE" << std::setw(10) << "SYMBOLS" << std::setw(11)
           << "OPS SLOTS"
           << "  SOURCE\n";
      for (const CatalogKernel* k : sorted)
        text << std::left << std::setw(34) << printable(k->name) << std::right << std::setw(10)
             << k->functions << std::setw(11)
             << (k->traceable ? std::to_string(*k->traceable) : "?") << std::setw(10) << k->symbols
             << std::setw(11) << (k->ops_slots ? std::to_string(*k->ops_slots) : "?") << "  "
             << printable(k->source) << "\n";
      text << sorted.size() << " kernels\n";
      std::cout << text.str();
      return {};
    });
  });
}

void register_compat(CLI::App& app, Context& ctx) {
  auto* cmd =
      app.add_subcommand("compat", "Will these functions hook the same way on every kernel?");
  struct CompatOptions {
    std::string db_path = "probeseek.db";
    CompatRequest request;
    bool as_json = false;
    bool data = false;
  };
  auto co = std::make_shared<CompatOptions>();
  cmd->add_option("FUNC", co->request.functions, "functions to check")->required();
  cmd->add_option("--db", co->db_path, "database file")->capture_default_str();
  cmd->add_option("--kernel", co->request.kernels, "catalogued kernels to check (default: all)");
  cmd->add_option("--reference", co->request.reference,
                  "compare prototypes with this kernel (default: the recorded session's kernel, "
                  "else the first one)");
  cmd->add_flag("--json", co->as_json, "JSON array on stdout");
  cmd->add_flag("--data", co->data, "with --json: the struct member check instead of functions");
  cmd->callback([&ctx, co] {
    run(ctx, [&]() -> Status {
      for (const std::string& f : co->request.functions)
        if (!is_c_identifier(f))
          return bad_input("not a function name: " + printable(f), "",
                           "pass kernel function names such as tcp_v4_connect");
      auto db = Database::open(co->db_path, Database::Mode::kReadOnly);
      if (!db) return tl::unexpected(db.error());
      auto r = compat(*db, co->request);
      if (!r) return tl::unexpected(r.error());
      if (co->as_json && co->data) {
        json out = json::array();
        for (const MemberCheck& m : r->members)
          out.push_back({{"kernel", m.kernel},
                         {"type", m.type},
                         {"member", m.member},
                         {"status", m.status},
                         {"member_type", m.member_type},
                         {"reference_type", m.reference_type}});
        std::cout << dump_json(out) << "\n";
      } else if (co->as_json) {
        json out = json::array();
        for (const CompatEntry& e : r->entries) {
          json replacements = json::array();
          for (const Replacement& rep : e.replacements)
            replacements.push_back(
                {{"function", rep.function}, {"prototype", rep.prototype}, {"why", rep.why}});
          out.push_back({{"function", e.function},
                         {"kernel", e.kernel},
                         {"reference", r->reference},
                         {"status", e.status},
                         {"prototype", e.prototype.empty() ? json(nullptr) : json(e.prototype)},
                         {"module", e.module.empty() ? json(nullptr) : json(e.module)},
                         {"changes", e.changes},
                         {"replacements", replacements},
                         {"clones", e.clones},
                         {"notes", e.notes}});
        }
        std::cout << dump_json(out) << "\n";
      } else {
        std::ostringstream text;
        print_compat_text(*r, text);
        std::cout << text.str();
      }
      return {};
    });
  });
}

}  // namespace

// "6.1.0-47 .. 6.1.0-57, 33 kernels: ok": neighbouring kernels (in version order) with the same
// verdict, changes and prototype are one line.
void print_compat_text(const CompatReport& r, std::ostream& out) {
  out << "reference: " << printable(r.reference) << "\n";
  size_t i = 0;
  while (i < r.entries.size()) {
    const std::string& function = r.entries[i].function;
    out << "\n" << printable(function) << "\n";
    std::string last_prototype;
    while (i < r.entries.size() && r.entries[i].function == function) {
      const CompatEntry& first = r.entries[i];
      size_t j = i + 1;
      // One line for kernels that say the same in every respect printed below.
      auto same_replacements = [&](const CompatEntry& e) {
        if (e.replacements.size() != first.replacements.size()) return false;
        for (size_t k = 0; k < e.replacements.size(); ++k)
          if (e.replacements[k].function != first.replacements[k].function ||
              e.replacements[k].why != first.replacements[k].why ||
              e.replacements[k].prototype != first.replacements[k].prototype)
            return false;
        return true;
      };
      while (j < r.entries.size() && r.entries[j].function == function &&
             r.entries[j].status == first.status && r.entries[j].changes == first.changes &&
             r.entries[j].prototype == first.prototype && r.entries[j].clones == first.clones &&
             r.entries[j].notes == first.notes && same_replacements(r.entries[j]))
        ++j;
      const size_t n = j - i;
      if (!first.prototype.empty() && first.prototype != last_prototype)
        out << "  " << printable(first.prototype) << "\n";
      last_prototype = first.prototype;
      out << "    " << printable(first.kernel);
      if (n > 1) out << " .. " << printable(r.entries[j - 1].kernel);
      out << ", " << n << (n == 1 ? " kernel: " : " kernels: ") << first.status << "\n";
      for (const std::string& c : first.changes) out << "      " << printable(c) << "\n";
      if (!first.clones.empty()) {
        out << "      clones:";
        for (const std::string& c : first.clones) out << " " << printable(c);
        out << "\n";
      }
      for (const std::string& note : first.notes) out << "      note: " << printable(note) << "\n";
      for (const Replacement& rep : first.replacements)
        out << "      maybe " << printable(rep.function) << ": " << printable(rep.why) << "\n"
            << "        " << printable(rep.prototype) << "\n";
      i = j;
    }
  }
  out << "\ndata the probes read (" << probe_reads().size() << " struct members): ";
  if (r.members.empty()) {
    out << "present with the reference's types on every kernel\n";
  } else {
    out << r.members.size() << " problems\n";
    for (const MemberCheck& m : r.members)
      out << "    " << printable(m.kernel) << ": " << printable(m.type) << "."
          << printable(m.member) << " " << m.status
          << (m.status == "retyped"
                  ? " " + printable(m.reference_type) + " -> " + printable(m.member_type)
                  : std::string())
          << "\n";
  }
}

void register_kernel_commands(CLI::App& app, Context& ctx) {
  register_list(app, ctx);
  register_compat(app, ctx);
}

}  // namespace probeseek::cli
