// diff: two sessions (or groups of sessions) side by side.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "commands.h"
#include "output.h"
#include "probeseek/diff.h"
#include "probeseek/text.h"

namespace probeseek::cli {

namespace {

using nlohmann::json;

// "curl_v4,stream" -> {"curl_v4", "stream"}
std::vector<std::string> side_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

json per_invocation(double v) {
  return v < 0 ? json(nullptr) : json(v);
}

std::string figures(const DiffCounts& c) {
  char buf[96];
  if (c.per_invocation >= 0)
    std::snprintf(buf, sizeof buf, "%lld calls, %.2f per invocation, %.3f ms",
                  static_cast<long long>(c.calls), c.per_invocation,
                  static_cast<double>(c.total_ns) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%lld calls, %.3f ms", static_cast<long long>(c.calls),
                  static_cast<double>(c.total_ns) / 1e6);
  return buf;
}

json to_json(const DiffResult& r) {
  json out = json::array();
  for (const FunctionDiff& f : r.functions)
    out.push_back({{"kind", "function"},
                   {"function", f.function},
                   {"in", std::string(to_string(f.in))},
                   {"calls_a", f.a.calls},
                   {"calls_b", f.b.calls},
                   {"per_invocation_a", per_invocation(f.a.per_invocation)},
                   {"per_invocation_b", per_invocation(f.b.per_invocation)},
                   {"total_ns_a", f.a.total_ns},
                   {"total_ns_b", f.b.total_ns},
                   {"clones", f.clones}});
  for (const PathDiff& p : r.paths)
    out.push_back({{"kind", "path"},
                   {"function", p.path.back()},
                   {"path", p.path},
                   {"in", std::string(to_string(p.in))},
                   {"calls_a", p.calls_a},
                   {"calls_b", p.calls_b}});
  for (const std::string& c : r.hit_in_both)
    out.push_back({{"kind", "candidate"},
                   {"function", c.substr(0, c.find(' '))},
                   {"in", "both"},
                   {"calls_a", nullptr},
                   {"calls_b", nullptr},
                   {"ranked", c}});
  return out;
}

void print_text(const DiffResult& r, size_t limit, std::ostream& text) {
  auto sessions = [](const std::vector<std::string>& names, const std::vector<std::string>& k) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i)
      out += (i ? ", " : "") + names[i] + (k[i].empty() ? "" : " (" + k[i] + ")");
    return out;
  };
  text << "A: " << sessions(r.a, r.kernels_a) << "\nB: " << sessions(r.b, r.kernels_b) << "\n";
  text << r.question << "\n\n";
  size_t counts[3] = {0, 0, 0};
  for (const FunctionDiff& f : r.functions) ++counts[static_cast<int>(f.in)];
  text << "functions: " << counts[2] << " in both, " << counts[0] << " only in A, " << counts[1]
       << " only in B\n";
  for (DiffSide side : {DiffSide::kBoth, DiffSide::kA, DiffSide::kB}) {
    size_t shown = 0, all = counts[static_cast<int>(side)];
    if (all == 0) continue;
    text << (side == DiffSide::kBoth ? "  in both"
             : side == DiffSide::kA  ? "  only in A"
                                     : "  only in B")
         << " (most calls first):\n";
    for (const FunctionDiff& f : r.functions) {
      if (f.in != side || shown++ >= limit) continue;
      text << "    " << f.function;
      if (!f.clones.empty()) text << " [as " << join(f.clones) << "]";
      if (side != DiffSide::kB) text << "   A: " << figures(f.a);
      if (side != DiffSide::kA) text << "   B: " << figures(f.b);
      text << "\n";
    }
    if (all > limit) text << "    ... " << all - limit << " more (--limit, --json)\n";
  }
  // Where the sides part: a path one side saw whose parent path both saw (or a root).
  std::set<std::vector<std::string>> both;
  for (const PathDiff& p : r.paths)
    if (p.in == DiffSide::kBoth) both.insert(p.path);
  text << "call paths where the sides part (the first call one side never made):\n";
  for (DiffSide side : {DiffSide::kA, DiffSide::kB}) {
    size_t shown = 0, all = 0;
    for (const PathDiff& p : r.paths) {
      if (p.in != side) continue;
      std::vector<std::string> parent(p.path.begin(), p.path.end() - 1);
      if (!parent.empty() && !both.count(parent)) continue;
      ++all;
      if (shown++ >= limit) continue;
      text << "  only in " << (side == DiffSide::kA ? "A" : "B") << ": " << join(p.path, " -> ")
           << " (" << (side == DiffSide::kA ? p.calls_a : p.calls_b) << ")\n";
    }
    if (all > limit)
      text << "  ... " << all - limit << " more only in " << (side == DiffSide::kA ? "A" : "B")
           << "\n";
  }
  for (const std::string& n : r.notes) text << "note: " << n << "\n";
}

}  // namespace

void register_diff_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("diff", "Two sessions (or groups) side by side");
  struct DiffOptions {
    std::string db_path = "probeseek.db";
    std::string a, b, arg, btf;
    DiffRequest request;
    size_t limit = 15;
    bool as_json = false;
  };
  auto o = std::make_shared<DiffOptions>();
  cmd->add_option("A", o->a, "session(s) of side A: NAME or NAME,NAME")->required();
  cmd->add_option("B", o->b, "session(s) of side B")->required();
  cmd->add_option("--db", o->db_path, "database file")->capture_default_str();
  cmd->add_option("--under", o->request.under, "only calls below this function");
  cmd->add_option("--arg", o->arg, "as rank --arg, for the candidates both sides hit");
  cmd->add_option("--btf", o->btf, "BTF of the traced kernel (for --arg)");
  cmd->add_option("--depth", o->request.path_depth, "levels of call paths below the root")
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "rows per list in the text output")->capture_default_str();
  cmd->add_flag("--json", o->as_json, "JSON array of entries on stdout");
  cmd->callback([&ctx, o] {
    run(ctx, [&]() -> Status {
      o->request.a = side_of(o->a);
      o->request.b = side_of(o->b);
      if (!o->arg.empty()) o->request.arg = o->arg;
      if (!o->btf.empty()) o->request.btf_path = o->btf;
      if (o->request.path_depth < 1 || o->request.path_depth > 64)
        return bad_input("--depth must be 1 to 64", "", "the default is 6");
      auto db = Database::open(o->db_path, Database::Mode::kReadOnly);
      if (!db) return tl::unexpected(db.error());
      auto result = diff(*db, o->request);
      if (!result) return tl::unexpected(result.error());
      for (auto& w : result->warnings) std::cerr << "warning: " << printable(w) << "\n";
      if (o->as_json) {
        std::cout << dump_json(to_json(*result)) << "\n";
        return {};
      }
      std::ostringstream text;
      print_text(*result, o->limit, text);
      std::cout << printable(text.str(), /*keep_newlines=*/true);
      return {};
    });
  });
}

}  // namespace probeseek::cli
