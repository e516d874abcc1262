// rank and explain: which function to hook, and why.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "output.h"
#include "probeseek/compat.h"
#include "probeseek/explain.h"
#include "probeseek/ops_index.h"
#include "probeseek/rank.h"
#include "probeseek/text.h"

namespace probeseek::cli {

namespace {

using nlohmann::json;

json ops_json(const std::vector<OpsFit>& fits) {
  json out = json::array();
  for (const OpsFit& f : fits)
    out.push_back({{"struct", f.struct_name},
                   {"union", f.is_union},
                   {"member", f.member},
                   {"offset", f.offset},
                   {"affinity", std::string(to_string(f.affinity))},
                   {"strength", std::string(to_string(f.strength))},
                   {"members_with_same_signature", f.members_with_same_signature},
                   {"explanation", f.explanation}});
  return out;
}

json hookability_json(const Hookability& h) {
  return {{"verdict", h.verdict()},
          {"hookable", h.hookable},
          {"traceable", h.traceable_known ? json(h.traceable) : json(nullptr)},
          {"blacklisted", h.blacklisted},
          {"denied", h.denied},
          {"clone", h.clone},
          {"only_clones", h.only_clones},
          {"inlined", h.inlined},
          {"exported", h.exported},
          {"same_name_symbols", h.same_name_symbols},
          {"reasons", h.reasons}};
}

json evidence_json(const SessionEvidence& e) {
  return {{"session", e.session},
          {"calls", e.calls},
          {"task_calls", e.task_calls},
          {"interrupt_calls", e.interrupt_calls},
          {"invocations_reaching", e.roots},
          {"invocations", e.root_invocations},
          {"callers", e.callers},
          {"min_depth_below", e.min_depth_below},
          {"session_calls", e.session_calls},
          {"syscalls", e.syscalls}};
}

json layer_json(const Layer& l) {
  json implements = json::array(), dispatches = json::array(), siblings = json::array();
  for (const Implementation& i : l.implements)
    implements.push_back({{"struct", i.struct_name},
                          {"member", i.member},
                          {"tables", i.tables},
                          {"verified", i.verified}});
  for (const Dispatch& d : l.dispatches)
    dispatches.push_back({{"struct", d.struct_name},
                          {"member", d.member},
                          {"implementations", d.implementations},
                          {"verified", d.verified}});
  for (const SlotHolder& h : l.siblings)
    siblings.push_back({{"function", h.function},
                        {"table", h.table.empty() ? json(nullptr) : json(h.table)},
                        {"module", h.module.empty() ? json(nullptr) : json(h.module)},
                        {"struct", h.struct_name},
                        {"member", h.member},
                        {"source", h.source},
                        {"same_family", h.same_family},
                        {"recorded", h.recorded}});
  return {{"kind", l.kind()},
          {"summary", l.summary()},
          {"implements", implements},
          {"dispatches", dispatches},
          {"shapes", l.shapes},
          {"siblings", siblings},
          {"siblings_source", l.siblings_source}};
}

json hook_set_json(const HookSet& h) {
  return {{"functions", h.functions},
          {"why", h.why},
          {"covers", h.covers},
          {"trade_off", h.trade_off},
          {"alternative", h.alternative}};
}

void print_hook_set(const HookSet& h, std::ostream& text) {
  text << "hook set (" << h.functions.size() << " function" << (h.functions.size() == 1 ? "" : "s")
       << "): " << join(h.functions, " ") << "\n";
  for (size_t i = 0; i < h.functions.size() && i < h.why.size(); ++i)
    text << "  " << h.functions[i] << ": " << h.why[i] << "\n";
  text << "  covers: " << h.covers << "\n";
  if (!h.trade_off.empty()) text << "  trade-off: " << h.trade_off << "\n";
  if (!h.alternative.empty()) text << "  instead: " << h.alternative << "\n";
  text << "  probes: probeseek gen " << join(h.functions, " ") << " -o DIR; probeseek attach "
       << join(h.functions, " ") << "\n";
}

// explain's "layer:" section: what it is, what it covers, its siblings (the same family first).
void print_layer(const Layer& l, std::ostream& text) {
  text << "  layer: " << l.kind() << "\n";
  std::string summary = l.summary();
  if (!summary.empty()) text << "    " << summary << "\n";
  if (l.implementation()) {
    const Implementation& i = l.implements.front();
    text << "  siblings in " << i.struct_name << "." << i.member << ": "
         << (l.siblings.empty() ? "none found" : std::to_string(l.siblings.size())) << " ("
         << l.siblings_source << ")\n";
    size_t shown = 0;
    for (const SlotHolder& h : l.siblings) {
      if (++shown > 12) {
        text << "    ... " << l.siblings.size() - 12 << " more (--json lists them)\n";
        break;
      }
      text << "    " << h.text() << (h.same_family ? "  [same family]" : "")
           << (h.recorded ? "" : "  [not in the recordings]") << "  (" << h.source << ")\n";
    }
  }
}

void print_warnings(const std::vector<std::string>& warnings) {
  for (auto& w : warnings) std::cerr << "warning: " << printable(w) << "\n";
}

}  // namespace

void register_explain_command(CLI::App& app, Context& ctx);
void register_diff_command(CLI::App& app, Context& ctx);  // commands_diff.cpp

void register_rank_commands(CLI::App& app, Context& ctx) {
  register_explain_command(app, ctx);
  register_diff_command(app, ctx);
  auto* rank_cmd =
      app.add_subcommand("rank", "Rank candidate functions to hook, with the evidence");
  struct RankOptions {
    std::string db_path = "probeseek.db";
    RankRequest request;
    std::string arg;
    std::string btf;
    bool as_json = false;
    size_t limit = 20;
    std::vector<std::string> kernels;
  };
  auto ro = std::make_shared<RankOptions>();
  rank_cmd->add_option("--db", ro->db_path, "database file")->capture_default_str();
  rank_cmd->add_option("--session", ro->request.sessions, "sessions to consider (default: all)");
  rank_cmd->add_option("--arg", ro->arg,
                       "a parameter of this C type, e.g. 'struct sock *' or sock");
  rank_cmd->add_option("--under", ro->request.under, "only calls below this function");
  rank_cmd->add_flag("--require-all", ro->request.require_all,
                     "only functions seen in every session");
  rank_cmd->add_option("--limit", ro->limit, "at most N candidates (0: all)")
      ->capture_default_str();
  rank_cmd->add_option("--btf", ro->btf, "BTF of the traced kernel (raw or ELF with .BTF)");
  rank_cmd
      ->add_option("--kernels", ro->kernels,
                   "weigh stability over these catalogued kernels (none named: all of them)")
      ->expected(0, -1);
  rank_cmd->add_flag("--complete", ro->request.complete,
                     "propose the hook set that covers the question: the best candidate and, "
                     "for an implementation, its siblings for other address families");
  rank_cmd->add_flag("--json", ro->as_json, "JSON array on stdout (an object with --complete)");
  rank_cmd->callback([&ctx, ro, rank_cmd] {
    run(ctx, [&]() -> Status {
      // An empty name would silently mean "no filter".
      if (rank_cmd->count("--under") > 0 && ro->request.under.empty())
        return bad_input("--under needs a function name", "",
                         "leave --under out to rank every function seen");
      if (!ro->arg.empty()) ro->request.arg = ro->arg;
      if (!ro->btf.empty()) ro->request.btf_path = ro->btf;
      ro->request.limit = ro->limit;
      // "--kernels" alone means every catalogued kernel (CLI11 gives one empty value for it).
      std::erase(ro->kernels, std::string());
      if (rank_cmd->count("--kernels") > 0) ro->request.kernels = ro->kernels;
      auto db = Database::open(ro->db_path, Database::Mode::kReadOnly);
      if (!db) return tl::unexpected(db.error());
      auto result = rank(*db, ro->request);
      if (!result) return tl::unexpected(result.error());
      print_warnings(result->warnings);
      if (ro->as_json) {
        json out = json::array();
        for (const Candidate& c : result->candidates) {
          json sessions = json::array();
          for (auto& e : c.sessions) sessions.push_back(evidence_json(e));
          out.push_back(
              {{"function", c.function},
               {"score", c.score},
               {"reasons", c.reasons()},
               {"prototype", c.prototype ? json(c.prototype->to_string()) : json(nullptr)},
               {"module", c.module.empty() ? json(nullptr) : json(c.module)},
               {"prototype_source",
                c.prototype_source.empty() ? json(nullptr) : json(c.prototype_source)},
               {"arg_positions", c.arg_positions},
               {"ops", ops_json(c.ops)},
               {"verified_ops", c.verified_ops},
               {"layer", layer_json(c.layer)},
               {"hookable", c.hookability.hookable},
               {"hookability", hookability_json(c.hookability)},
               {"sessions", sessions},
               {"verified", c.verified ? json{{"summary", c.verified->summary},
                                              {"command", c.verified->command},
                                              {"at", c.verified->at},
                                              {"fired", c.verified->events > 0},
                                              {"events", c.verified->events}}
                                       : json(nullptr)}});
        }
        if (ro->request.complete)
          out = {{"candidates", out},
                 {"hook_set", result->hook_set ? hook_set_json(*result->hook_set) : json(nullptr)}};
        std::cout << dump_json(out) << "\n";
        return {};
      }
      // Function names come from the kernel: printed visible, never interpreted.
      std::ostringstream text;
      text << "sessions: ";
      for (size_t i = 0; i < result->sessions.size(); ++i)
        text << (i ? ", " : "") << result->sessions[i];
      text << "   BTF: " << (result->btf_source.empty() ? "none" : result->btf_source) << "\n";
      text << result->considered << " functions seen";
      if (result->interrupt_only)
        text << ", " << result->interrupt_only << " only in interrupt context (set aside)";
      if (result->excluded_by_coverage)
        text << ", " << result->excluded_by_coverage << " not in every session";
      if (result->excluded_by_arg)
        text << ", " << result->excluded_by_arg << " without a matching argument";
      text << "\n\n";
      int rank_no = 0;
      for (const Candidate& c : result->candidates) {
        char head[64];
        std::snprintf(head, sizeof head, "%2d. %6.1f  ", ++rank_no, c.score);
        text << head << c.function << "  [" << c.hookability.verdict() << "]\n";
        if (c.prototype) text << "             " << c.prototype->to_string() << "\n";
        for (auto& r : c.reasons()) text << "             " << r << "\n";
        text << "\n";
      }
      if (result->candidates.empty()) text << "no candidate\n";
      if (result->hook_set) print_hook_set(*result->hook_set, text);
      std::cout << printable(text.str(), /*keep_newlines=*/true);
      return {};
    });
  });
}

}  // namespace probeseek::cli

namespace probeseek::cli {

void register_explain_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("explain", "Everything known about one function as a hook");
  struct ExplainOptions {
    std::string db_path = "probeseek.db";
    std::string btf;
    std::string vmlinux;
    ExplainRequest request;
    bool as_json = false;
    std::vector<std::string> kernels;
  };
  auto eo = std::make_shared<ExplainOptions>();
  cmd->add_option("FUNC", eo->request.function, "kernel function")->required();
  cmd->add_option("--db", eo->db_path, "database file")->capture_default_str();
  cmd->add_option("--session", eo->request.sessions, "sessions to consider (default: all)");
  cmd->add_option("--btf", eo->btf, "BTF of the traced kernel (raw or ELF with .BTF)");
  cmd->add_option("--vmlinux", eo->vmlinux,
                  "the traced kernel's vmlinux ELF, to verify ops tables offline");
  cmd->add_flag("--json", eo->as_json, "JSON object on stdout");
  cmd->add_option("--kernels", eo->kernels,
                  "its compat table over these catalogued kernels (none named: all of them)")
      ->expected(0, -1);
  cmd->callback([&ctx, eo, cmd] {
    run(ctx, [&]() -> Status {
      std::erase(eo->kernels, std::string());
      if (cmd->count("--kernels") > 0) eo->request.kernels = eo->kernels;
      if (!eo->btf.empty()) eo->request.btf_path = eo->btf;
      if (!eo->vmlinux.empty()) eo->request.vmlinux_path = eo->vmlinux;
      auto db = Database::open(eo->db_path, Database::Mode::kReadOnly);
      if (!db) return tl::unexpected(db.error());
      auto ex = explain(*db, eo->request);
      if (!ex) return tl::unexpected(ex.error());
      std::optional<CompatReport> stability;
      if (eo->request.kernels) {
        auto catalogued = list_catalog_kernels(*db);
        if (!catalogued) return tl::unexpected(catalogued.error());
        if (!catalogued->empty()) {
          auto r = compat(*db, CompatRequest{{eo->request.function}, *eo->request.kernels, ""});
          if (!r) return tl::unexpected(r.error());
          stability = std::move(*r);
        }
      }
      for (auto& w : ex->warnings) std::cerr << "warning: " << printable(w) << "\n";
      auto neighbours_json = [](const std::vector<Explanation::Neighbour>& v) {
        nlohmann::json out = nlohmann::json::array();
        for (auto& n : v) out.push_back({{"function", n.function}, {"calls", n.calls}});
        return out;
      };
      if (eo->as_json) {
        nlohmann::json sessions = nlohmann::json::array();
        for (auto& ps : ex->sessions) {
          nlohmann::json e = evidence_json(ps.evidence);
          e["hardirq_calls"] = ps.hardirq_calls;
          e["softirq_calls"] = ps.softirq_calls;
          e["exception_calls"] = ps.exception_calls;
          e["callers"] = neighbours_json(ps.callers);
          e["callees"] = neighbours_json(ps.callees);
          sessions.push_back(e);
        }
        nlohmann::json out = {
            {"function", ex->function},
            {"prototype",
             ex->prototype ? nlohmann::json(ex->prototype->to_string()) : nlohmann::json(nullptr)},
            {"linkage", ex->prototype
                            ? nlohmann::json(std::string(to_string(ex->prototype->linkage)))
                            : nlohmann::json(nullptr)},
            {"btf", ex->btf_source},
            {"module", ex->module.empty() ? nlohmann::json(nullptr) : nlohmann::json(ex->module)},
            {"ops", ops_json(ex->ops)},
            {"verified", ex->verified},
            {"layer", layer_json(ex->layer)},
            {"hook_set", hook_set_json(ex->hook_set)},
            {"sleeps", ex->sleeps.empty() ? nlohmann::json(nullptr) : nlohmann::json(ex->sleeps)},
            {"after_sleep", ex->after_sleep},
            {"hookability", hookability_json(ex->hookability)},
            {"sessions", sessions},
            {"better", ex->better},
            {"worse", ex->worse}};
        if (stability) {
          nlohmann::json rows = nlohmann::json::array();
          for (const CompatEntry& e : stability->entries)
            rows.push_back({{"kernel", e.kernel},
                            {"status", e.status},
                            {"prototype", e.prototype},
                            {"changes", e.changes}});
          out["compat"] = {{"reference", stability->reference}, {"kernels", rows}};
        }
        std::cout << dump_json(out) << "\n";
        return {};
      }
      std::ostringstream text;  // printed through printable(), as rank
      text << ex->function << "\n";
      text << "  prototype: "
           << (ex->prototype ? ex->prototype->to_string() : "unknown (no BTF entry)") << "\n";
      if (!ex->module.empty()) text << "  module: " << ex->module << "\n";
      text << "  BTF: " << (ex->btf_source.empty() ? "none" : ex->btf_source) << "\n";
      text << "  ops tables it fits:\n";
      if (ex->ops.empty()) text << "    none\n";
      for (auto& f : ex->ops)
        text << "    " << (f.is_union ? "union " : "struct ") << f.struct_name << " member "
             << f.member << " [" << to_string(f.strength) << "]: " << f.explanation << "\n";
      for (auto& v : ex->verified) text << "    " << v << "\n";
      print_layer(ex->layer, text);
      if (!ex->sleeps.empty()) {
        text << "  " << ex->sleeps << "\n";
        for (const std::string& a : ex->after_sleep) text << "    instead: " << a << "\n";
      }
      text << "  hookability: " << ex->hookability.verdict() << "\n";
      for (auto& r : ex->hookability.reasons) text << "    " << r << "\n";
      for (auto& ps : ex->sessions) {
        const SessionEvidence& e = ps.evidence;
        text << "  session " << e.session << ": " << e.session_calls << " calls ("
             << e.session_task_calls << " in task context, " << ps.softirq_calls << " softirq, "
             << ps.hardirq_calls << " hardirq, " << ps.exception_calls << " exception)\n";
        std::string sys;
        for (auto& x : e.syscalls) sys += (sys.empty() ? "" : ", ") + x;
        text << "    syscalls reaching it: " << (sys.empty() ? "none" : sys);
        if (e.min_depth_below >= 0) text << " (" << e.min_depth_below << " levels below)";
        text << "\n";
        auto print = [&text](const char* label, const std::vector<Explanation::Neighbour>& v) {
          text << "    " << label << ": ";
          if (v.empty()) text << "none";
          for (size_t i = 0; i < v.size() && i < 10; ++i)
            text << (i ? ", " : "") << v[i].function << " (" << v[i].calls << ")";
          if (v.size() > 10) text << ", ... " << v.size() - 10 << " more";
          text << "\n";
        };
        print("callers", ps.callers);
        print("callees", ps.callees);
      }
      text << "  a better hook because:\n";
      for (auto& b : ex->better) text << "    + " << b << "\n";
      if (ex->better.empty()) text << "    (nothing found)\n";
      text << "  a worse hook because:\n";
      for (auto& w : ex->worse) text << "    - " << w << "\n";
      if (ex->worse.empty()) text << "    (nothing found)\n";
      if (ex->hook_set.functions.size() > 1 || ex->layer.dispatcher()) {
        std::ostringstream set;
        print_hook_set(ex->hook_set, set);
        std::istringstream lines(set.str());
        for (std::string line; std::getline(lines, line);) text << "  " << line << "\n";
      }
      if (stability) {
        text << "  on the catalogued kernels:\n";
        std::ostringstream table;
        print_compat_text(*stability, table);
        std::istringstream lines(table.str());
        for (std::string line; std::getline(lines, line);)
          if (!line.empty()) text << "    " << line << "\n";
      }
      std::cout << printable(text.str(), /*keep_newlines=*/true);
      return {};
    });
  });
}

}  // namespace probeseek::cli
