// `probeseek report`: the investigation as one HTML page. The sections are made from the same
// calls the commands make (rank, explain, diff, compat, render_probe, call_profile), so the page
// says what the commands say; this file only arranges and escapes. Each section is written
// into `out` as soon as it is made. The page reads without JavaScript: the script only adds
// zoom and search to the flame graphs.
#include "probeseek/report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "flame_html.h"
#include "probeseek/attach.h"
#include "probeseek/call_profile.h"
#include "probeseek/catalog_store.h"
#include "probeseek/compat.h"
#include "probeseek/db.h"
#include "probeseek/diff.h"
#include "probeseek/explain.h"
#include "probeseek/gen.h"
#include "probeseek/rank.h"
#include "probeseek/saturating.h"
#include "probeseek/text.h"
#include "probeseek/verification_store.h"

namespace probeseek {

namespace {

constexpr size_t kDiffRowsPerSide = 25;
constexpr size_t kDiffPaths = 30;
constexpr size_t kVerifications = 50;

constexpr const char* kStyle = R"(
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#d9dce1;--bg2:#f6f7f9;--accent:#b3401b}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
max-width:1280px;margin:0 auto;padding:0 20px 60px}
header{border-bottom:2px solid var(--accent);margin-bottom:8px}
h1{font-size:26px;margin:18px 0 4px}h2{font-size:20px;margin:34px 0 8px;
border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}
nav a{margin-right:14px;color:var(--accent);text-decoration:none}
.question{font-size:17px}.muted{color:var(--muted)}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--bg2);border:1px solid var(--line);padding:10px;overflow:auto;max-height:560px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{border-bottom:1px solid var(--line);
padding:4px 10px 4px 0;text-align:left;vertical-align:top}th{font-weight:600}
td.num,th.num{text-align:right;padding-left:10px}
ol.ranking>li{margin:0 0 14px}ol.ranking .score{font-weight:600;color:var(--accent)}
ul.reasons{margin:4px 0 0;padding-left:20px}ul.reasons li{margin:1px 0}
.warn{color:#8a4b00}.bad{color:#a00}.good{color:#17692b}
.box{background:var(--bg2);border:1px solid var(--line);padding:8px 12px;margin:8px 0}
details>summary{cursor:pointer}
)";

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The page's one way to put text into HTML: kernel addresses hidden unless asked for, then
// escaped (flame_html.h). An address is 16 hex digits starting with ffff (x86-64's kernel
// half), with or without 0x.
class Text {
 public:
  explicit Text(bool with_addresses) : with_addresses_(with_addresses) {}
  std::string operator()(std::string_view s) { return html_escape(hide(s)); }
  std::string hide(std::string_view s) {
    if (with_addresses_) return std::string(s);
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      size_t at = i, digits = 0;
      if (s.substr(i, 2) == "0x" || s.substr(i, 2) == "0X") at = i + 2;
      while (at + digits < s.size() && is_hex(s[at + digits])) ++digits;
      const bool boundary = i == 0 || !is_hex(s[i - 1]);
      if (boundary && digits == 16 && (s[at] == 'f' || s[at] == 'F') &&
          s.substr(at, 4).find_first_not_of("fF") == std::string_view::npos) {
        out += "[address]";
        ++hidden;
        i = at + digits;
        continue;
      }
      out += s[i++];
    }
    return out;
  }
  size_t hidden = 0;

 private:
  bool with_addresses_;
};

std::string num(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The report's document, written a section at a time.
class Page {
 public:
  Page(ExportOutput& out, Text& text) : out_(out), t(text) {}
  Page& operator<<(std::string_view html) {
    buf_.append(html);
    return *this;
  }
  Status flush() {
    bytes_ += buf_.size();
    Status s = out_.write(buf_);
    buf_.clear();
    return s;
  }
  size_t bytes() const { return bytes_ + buf_.size(); }

 private:
  ExportOutput& out_;
  std::string buf_;
  size_t bytes_ = 0;

 public:
  Text& t;
};

void list_items(Page& p, const std::vector<std::string>& items, const char* cls = "reasons") {
  if (items.empty()) return;
  p << "<ul class=\"" << cls << "\">";
  for (auto& i : items) p << "<li>" << p.t(i) << "</li>";
  p << "</ul>";
}

class Report {
 public:
  Report(Database& db, const ReportRequest& request, ExportOutput& out)
      : db_(db), req_(request), text_(request.with_addresses), page_(out, text_) {}

  Result<ReportSummary> run() {
    if (auto s = load_sessions(); !s) return tl::unexpected(s.error());
    if (auto s = load_ranking(); !s) return tl::unexpected(s.error());
    head();
    if (auto s = sessions_section(); !s) return tl::unexpected(s.error());
    ranking_section();
    if (auto s = explain_section(); !s) return tl::unexpected(s.error());
    if (auto s = verify_section(); !s) return tl::unexpected(s.error());
    if (auto s = flush(); !s) return tl::unexpected(s.error());
    if (auto s = tree_and_flame_sections(); !s) return tl::unexpected(s.error());
    if (auto s = diff_section(); !s) return tl::unexpected(s.error());
    probe_section();
    foot();
    if (auto s = flush(); !s) return tl::unexpected(s.error());
    summary_.addresses_hidden = text_.hidden;
    summary_.bytes = page_.bytes();
    return summary_;
  }

 private:
  Status flush() { return page_.flush(); }

  Status load_sessions() {
    Store store(db_);
    auto all = store.sessions();
    if (!all) return tl::unexpected(all.error());
    if (req_.sessions.empty()) {
      sessions_ = *all;
    } else {
      for (const std::string& name : req_.sessions) {
        auto s = store.session(name);
        if (!s) return tl::unexpected(s.error());
        sessions_.push_back(*s);
      }
    }
    if (sessions_.empty())
      return bad_input("the database has no sessions", db_.path(),
                       "record one (probeseek record) or import a trace.dat (probeseek import)");
    for (auto& s : sessions_) {
      names_.push_back(s.name);
      ids_.push_back(s.id);
    }
    summary_.sessions = names_;
    return {};
  }

  Status load_ranking() {
    RankRequest r;
    r.sessions = names_;
    r.arg = req_.arg;
    r.under = req_.under;
    r.limit = req_.limit;
    r.complete = true;
    r.btf_path = req_.btf_path;
    r.live = req_.live;
    auto ranked = rank(db_, r);
    if (!ranked) return tl::unexpected(ranked.error());
    ranking_ = std::move(*ranked);
    summary_.candidates = ranking_.candidates.size();
    function_ = req_.function;
    if (function_.empty() && !ranking_.candidates.empty())
      function_ = ranking_.candidates.front().function;
    summary_.function = function_;
    return {};
  }

  void head() {
    auto& t = text_;
    page_ << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          << "<meta name=\"generator\" content=\"probeseek\">"
          << "<title>probeseek report: " << t(function_.empty() ? "no candidate" : function_)
          << "</title><style>" << kStyle << "</style>" << flame_tree_css()
          << "</head><body>\n<header><h1>probeseek report"
          << "</h1><p class=\"question\">";
    page_ << "Which kernel function to hook";
    if (ranking_.sessions.size() || !names_.empty())
      page_ << " for what " << t(join(names_, ", ")) << " did";
    if (req_.arg) page_ << ", with a parameter of type <code>" << t(*req_.arg) << "</code>";
    if (!req_.under.empty()) page_ << ", below <code>" << t(req_.under) << "</code>";
    page_ << "? ";
    if (function_.empty())
      page_ << "No candidate was found.";
    else
      page_ << "This report looks at <code id=\"chosen\">" << t(function_) << "</code>"
            << (req_.function.empty() ? " (the best ranked)." : ".");
    page_ << "</p><p class=\"muted\">";
    if (!req_.generated_at.empty()) page_ << "Made " << t(req_.generated_at) << " from ";
    page_ << "<span class=\"mono\">" << t(db_.path()) << "</span>. "
          << (req_.with_addresses ? "Kernel addresses are shown."
                                  : "Kernel addresses are hidden ([address]).")
          << "</p><nav><a href=\"#sessions\">Sessions</a><a href=\"#ranking\">Ranking</a>"
          << "<a href=\"#explain\">Explain</a><a href=\"#verify\">Verify</a>"
          << "<a href=\"#tree\">Call tree</a><a href=\"#flame\">Flame graphs</a>"
          << (sessions_.size() > 1 ? "<a href=\"#diff\">Diff</a>" : "")
          << "<a href=\"#probe\">Probe</a></nav></header>\n";
  }

  Status sessions_section() {
    auto& t = text_;
    page_ << "<section id=\"sessions\"><h2>Sessions</h2><table><tr><th>session</th><th>kernel"
          << "</th><th>source</th><th class=\"num\">calls</th><th class=\"num\">tasks</th>"
          << "<th class=\"num\">functions</th><th class=\"num\">CPUs</th><th class=\"num\">"
          << "seconds</th><th class=\"num\">lost events</th></tr>";
    for (auto& s : sessions_)
      page_ << "<tr><td>" << t(s.name) << "</td><td>" << t(s.kernel_release) << "</td><td>"
            << t(s.format) << ": <span class=\"mono\">" << t(s.source) << "</span></td>"
            << "<td class=\"num\">" << num(s.calls) << "</td><td class=\"num\">" << num(s.tasks)
            << "</td><td class=\"num\">" << num(s.functions) << "</td><td class=\"num\">"
            << num(s.cpus) << "</td><td class=\"num\">" << fixed(s.duration_s, 3)
            << "</td><td class=\"num" << (s.lost_events ? " bad" : "") << "\">"
            << num(s.lost_events) << "</td></tr>";
    page_ << "</table><h3>Data quality</h3><p class=\"muted\">What each recording lost or could "
          << "not place (counted at import, never fatal; docs/schema.md, session_stats).</p>";
    Store store(db_);
    for (auto& s : sessions_) {
      auto stats = store.session_stats(s.id);
      if (!stats) return tl::unexpected(stats.error());
      std::vector<const SessionStat*> shown;
      for (auto& st : *stats)
        if (st.value != 0) shown.push_back(&st);
      page_ << "<details" << (shown.size() <= 8 ? " open" : "") << "><summary>" << t(s.name) << ": "
            << num(static_cast<int64_t>(shown.size())) << " non-zero counters</summary>";
      if (!shown.empty()) {
        page_ << "<table><tr><th>counter</th><th>CPU</th><th class=\"num\">value</th>"
              << "<th>severity</th><th>meaning</th></tr>";
        for (auto* st : shown)
          page_ << "<tr><td class=\"mono\">" << t(st->name) << "</td><td>"
                << (st->cpu < 0 ? "all" : num(st->cpu)) << "</td><td class=\"num\">"
                << num(st->value) << "</td><td class=\""
                << (st->severity == "info" ? "muted" : "bad") << "\">" << t(st->severity)
                << "</td><td>" << t(st->description) << "</td></tr>";
        page_ << "</table>";
      }
      page_ << "</details>";
    }
    page_ << "</section>\n";
    return {};
  }

  void ranking_section() {
    auto& t = text_;
    page_ << "<section id=\"ranking\"><h2>Ranking</h2><p class=\"muted\">"
          << num(static_cast<int64_t>(ranking_.considered)) << " functions seen; "
          << num(static_cast<int64_t>(ranking_.without_btf)) << " without a BTF prototype";
    if (req_.arg)
      page_ << ", " << num(static_cast<int64_t>(ranking_.excluded_by_arg))
            << " without a parameter of that type";
    page_ << ". Prototypes from "
          << t(ranking_.btf_source.empty() ? "nowhere (no BTF)" : ranking_.btf_source)
          << ". Each score is a sum of named terms: the reasons below.</p>";
    list_items(page_, ranking_.warnings, "reasons warn");
    if (ranking_.candidates.empty()) page_ << "<p class=\"warn\">No candidate.</p>";
    page_ << "<ol class=\"ranking\">";
    for (const Candidate& c : ranking_.candidates) {
      page_ << "<li" << (c.function == function_ ? " id=\"rank-chosen\"" : "") << "><code>"
            << t(c.function) << "</code> <span class=\"score\">" << fixed(c.score, 0) << "</span>";
      if (c.prototype)
        page_ << "<br><code class=\"muted\">" << t(c.prototype->to_string()) << "</code>";
      page_ << "<br><span class=\"muted\">" << t(c.layer.kind()) << "; "
            << t(c.hookability.verdict()) << (c.module.empty() ? "" : "; module " + t(c.module))
            << "</span>";
      list_items(page_, c.reasons());
      page_ << "</li>";
    }
    page_ << "</ol>";
    if (ranking_.hook_set) {
      const HookSet& h = *ranking_.hook_set;
      page_ << "<div class=\"box\" id=\"hook-set\"><h3>Hook set</h3><p><code>"
            << t(join(h.functions, " ")) << "</code></p><ul class=\"reasons\">";
      for (size_t i = 0; i < h.functions.size() && i < h.why.size(); ++i)
        page_ << "<li><code>" << t(h.functions[i]) << "</code>: " << t(h.why[i]) << "</li>";
      page_ << "<li>covers: " << t(h.covers) << "</li>";
      if (!h.trade_off.empty()) page_ << "<li>trade-off: " << t(h.trade_off) << "</li>";
      if (!h.alternative.empty()) page_ << "<li>instead: " << t(h.alternative) << "</li>";
      page_ << "</ul></div>";
    }
    page_ << "</section>\n";
  }

  Status explain_section() {
    auto& t = text_;
    page_ << "<section id=\"explain\"><h2>Explain: <code>" << t(function_) << "</code></h2>";
    if (function_.empty()) {
      page_ << "<p>No function to explain.</p></section>\n";
      return {};
    }
    ExplainRequest r;
    r.function = function_;
    r.sessions = names_;
    r.btf_path = req_.btf_path;
    r.live = req_.live;
    auto ex = explain(db_, r);
    if (!ex) return tl::unexpected(ex.error());
    page_ << "<table><tr><th>prototype</th><td><code>"
          << t(ex->prototype ? ex->prototype->to_string() : "unknown (no BTF entry)")
          << "</code></td></tr><tr><th>BTF</th><td>" << t(ex->btf_source) << "</td></tr>"
          << "<tr><th>lives in</th><td>" << t(ex->module.empty() ? "vmlinux" : ex->module)
          << "</td></tr><tr><th>hookability</th><td>" << t(ex->hookability.verdict());
    list_items(page_, ex->hookability.reasons);
    page_ << "</td></tr><tr><th>layer</th><td>" << t(ex->layer.kind()) << ": "
          << t(ex->layer.summary()) << "</td></tr><tr><th>ops tables</th><td>";
    if (ex->ops.empty()) page_ << "no member of an ops struct has its prototype";
    std::vector<std::string> fits;
    for (const OpsFit& f : ex->ops) fits.push_back(f.explanation);
    list_items(page_, fits);
    if (!ex->verified.empty()) {
      page_ << "read out of kernel memory:";
      list_items(page_, ex->verified);
    }
    page_ << "</td></tr>";
    if (!ex->layer.siblings.empty()) {
      std::vector<std::string> siblings;
      for (const SlotHolder& h : ex->layer.siblings)
        siblings.push_back(h.text() + (h.same_family ? " [same family]" : "") +
                           (h.recorded ? "" : " [not in the recordings]") + " (" + h.source + ")");
      page_ << "<tr><th>siblings</th><td><details><summary>"
            << num(static_cast<int64_t>(siblings.size())) << " (" << t(ex->layer.siblings_source)
            << ")</summary>";
      list_items(page_, siblings);
      page_ << "</details></td></tr>";
    }
    if (!ex->sleeps.empty()) {
      page_ << "<tr><th>sleeps</th><td>" << t(ex->sleeps);
      list_items(page_, ex->after_sleep);
      page_ << "</td></tr>";
    }
    page_ << "</table><h3>In the recordings</h3><table><tr><th>session</th><th class=\"num\">"
          << "calls</th><th class=\"num\">in task context</th><th class=\"num\">interrupts</th>"
          << "<th>syscalls</th><th>callers</th><th>callees</th></tr>";
    for (auto& s : ex->sessions) {
      auto names = [](const std::vector<Explanation::Neighbour>& v) {
        std::vector<std::string> out;
        for (size_t i = 0; i < v.size() && i < 6; ++i)
          out.push_back(v[i].function + " (" + std::to_string(v[i].calls) + ")");
        if (v.size() > 6) out.push_back("+" + std::to_string(v.size() - 6) + " more");
        return join(out, ", ");
      };
      page_ << "<tr><td>" << t(s.evidence.session) << "</td><td class=\"num\">"
            << num(s.evidence.calls) << "</td><td class=\"num\">" << num(s.evidence.task_calls)
            << "</td><td class=\"num\">"
            << num(s.hardirq_calls + s.softirq_calls + s.exception_calls) << "</td><td>"
            << t(join(s.evidence.syscalls, ", ")) << "</td><td>" << t(names(s.callers))
            << "</td><td>" << t(names(s.callees)) << "</td></tr>";
    }
    page_ << "</table>";
    if (!ex->better.empty()) {
      page_ << "<h3>Better as a hook because</h3>";
      list_items(page_, ex->better, "reasons good");
    }
    if (!ex->worse.empty()) {
      page_ << "<h3>Worse as a hook because</h3>";
      list_items(page_, ex->worse, "reasons warn");
    }
    list_items(page_, ex->warnings, "reasons warn");
    if (auto s = stability(); !s) return s;
    page_ << "</section>\n";
    return {};
  }

  // Across the catalogued kernels (probeseek kernels add), when there are any.
  Status stability() {
    auto& t = text_;
    page_ << "<h3>Across kernels</h3>";
    auto catalogued = list_catalog_kernels(db_);
    if (!catalogued) return tl::unexpected(catalogued.error());
    if (catalogued->empty()) {
      page_ << "<p class=\"muted\">No kernel is catalogued in this database: add the kernels "
            << "the probe will run on with <code>probeseek kernels add</code> to see its "
            << "prototype on each.</p>";
      return {};
    }
    auto report = compat(db_, CompatRequest{{function_}, {}, ""});
    if (!report) return tl::unexpected(report.error());
    page_ << "<table><tr><th>kernel</th><th>status</th><th>prototype</th><th>changes</th></tr>";
    for (const CompatEntry& e : report->entries)
      page_ << "<tr><td>" << t(e.kernel) << "</td><td class=\""
            << (e.status == "ok" ? "good" : "warn") << "\">" << t(e.status) << "</td><td><code>"
            << t(e.prototype) << "</code></td><td>" << t(join(e.changes, "; ")) << "</td></tr>";
    page_ << "</table>";
    return {};
  }

  Status verify_section() {
    auto& t = text_;
    page_ << "<section id=\"verify\"><h2>Verify runs</h2>";
    auto rows = read_verifications(db_, ids_, kVerifications);
    if (!rows) return tl::unexpected(rows.error());
    summary_.verifications = rows->size();
    if (rows->empty()) {
      page_ << "<p class=\"muted\">No <code>probeseek verify</code> run is stored for these "
            << "sessions: it attaches the candidates on a live kernel while the workload runs "
            << "again (docs/verify.md).</p></section>\n";
      return {};
    }
    std::map<int64_t, std::string> session_names;
    for (auto& s : sessions_) session_names[s.id] = s.name;
    page_ << "<table><tr><th>when</th><th>session</th><th>function</th><th>attached</th>"
          << "<th class=\"num\">events</th><th>result</th><th>workload</th></tr>";
    for (const VerificationRow& r : *rows) {
      page_ << "<tr><td>" << t(r.verified_at) << "</td><td>" << t(session_names[r.session_id])
            << "</td><td><code>" << t(r.function) << "</code></td><td class=\""
            << (r.attached ? "good" : "bad") << "\">" << t(r.how) << "</td><td class=\"num\">"
            << num(r.events) << "</td><td>" << t(r.summary);
      if (!r.samples.empty()) {
        page_ << "<details><summary>" << num(static_cast<int64_t>(r.samples.size()))
              << " events</summary><pre>";
        for (auto& s : r.samples) page_ << t(s) << "\n";
        page_ << "</pre></details>";
      }
      page_ << "</td><td class=\"mono\">" << t(r.command) << "</td></tr>";
    }
    page_ << "</table></section>\n";
    return {};
  }

  // The syscall entry the chosen function ran under in a session ("" when it did not run).
  std::string root_in(const std::string& session) const {
    if (!req_.under.empty()) return req_.under;
    for (const Candidate& c : ranking_.candidates)
      if (c.function == function_)
        for (const SessionEvidence& e : c.sessions)
          if (e.session == session && !e.syscalls.empty()) return e.syscalls.front();
    return "";
  }

  Status tree_and_flame_sections() {
    auto& t = text_;
    page_ << "<section id=\"tree\"><h2>Call tree</h2><p class=\"muted\">Calls merged by call "
          << "path (a calling-context tree), task context only (interrupt work is in the flame "
          << "graphs), heaviest first; the times are those of the calls "
          << "as placed by <code>probeseek export</code>. Open a line to see what it called.</p>";
    for (size_t i = 0; i < sessions_.size(); ++i) {
      const SessionSummary& s = sessions_[i];
      const std::string root = root_in(s.name);
      page_ << "<h3>" << t(s.name);
      if (!root.empty()) page_ << " below <code>" << t(root) << "</code>";
      page_ << "</h3>";
      if (root.empty()) {
        page_ << "<p class=\"muted\">" << t(function_) << " did not run under a syscall in this "
              << "session: see its flame graph.</p>";
        continue;
      }
      ProfileOptions o;
      o.scope.under = root;
      o.scope.task_only = true;
      auto profile = call_profile(db_, s.id, o);
      if (!profile) {
        if (profile.error().kind != ErrorKind::kBadInput) return tl::unexpected(profile.error());
        page_ << "<p class=\"muted\">" << t(root) << " was not called in this session.</p>";
        continue;
      }
      TreeOptions tree;
      tree.id = "tree-" + std::to_string(i);
      page_ << call_tree_html(*profile, tree);
      ++summary_.trees;
      if (auto st = flush(); !st) return st;
    }
    page_ << "</section>\n<section id=\"flame\"><h2>Flame graphs</h2><p class=\"muted\">"
          << "Every call of each session, interrupt work under its own frame; width is time. "
          << "With JavaScript: click a frame to zoom, search to highlight. Without it, hover a "
          << "frame for its figures.</p>";
    for (size_t i = 0; i < sessions_.size(); ++i) {
      auto profile = call_profile(db_, sessions_[i].id, ProfileOptions{});
      if (!profile) {
        if (profile.error().kind != ErrorKind::kBadInput) return tl::unexpected(profile.error());
        page_ << "<p class=\"muted\">" << t(sessions_[i].name) << " has no calls.</p>";
        continue;
      }
      FlameOptions o;
      o.id = "flame-" + std::to_string(i);
      o.root_name = sessions_[i].name;
      page_ << "<h3>" << t(sessions_[i].name) << "</h3>" << flame_graph_svg(*profile, o);
      ++summary_.flame_graphs;
      if (auto st = flush(); !st) return st;
    }
    page_ << flame_graph_script() << "</section>\n";
    return {};
  }

  Status diff_section() {
    if (sessions_.size() < 2) return {};
    auto& t = text_;
    DiffRequest r;
    r.a = {names_.front()};
    r.b.assign(names_.begin() + 1, names_.end());
    r.under = req_.under;
    r.arg = req_.arg;
    r.btf_path = req_.btf_path;
    r.live = req_.live;
    auto d = diff(db_, r);
    if (!d) return tl::unexpected(d.error());
    summary_.diff = true;
    const std::string a = join(d->a, ", "), b = join(d->b, ", ");
    page_ << "<section id=\"diff\"><h2>Diff: " << t(a) << " and " << t(b) << "</h2><p class="
          << "\"question\">" << t(d->question) << "</p>";
    list_items(page_, d->notes);
    list_items(page_, d->warnings, "reasons warn");
    for (DiffSide side : {DiffSide::kBoth, DiffSide::kA, DiffSide::kB}) {
      std::vector<const FunctionDiff*> rows;
      for (auto& f : d->functions)
        if (f.in == side) rows.push_back(&f);
      page_ << "<h3>"
            << (side == DiffSide::kBoth ? "In both" : "Only in " + t(side == DiffSide::kA ? a : b))
            << " (" << num(static_cast<int64_t>(rows.size())) << " functions)</h3>";
      if (rows.empty()) continue;
      // The candidates both sides hit first (the question's answer), then the most called.
      std::map<std::string, size_t> answer;
      for (const std::string& hit : d->hit_in_both)
        answer.emplace(hit.substr(0, hit.find(" (")), answer.size());
      auto order = [&](const FunctionDiff* f) {
        auto it = answer.find(f->function);
        return it == answer.end() ? answer.size() : it->second;
      };
      std::stable_sort(rows.begin(), rows.end(), [&](auto* x, auto* y) {
        if (order(x) != order(y)) return order(x) < order(y);
        return saturating_add(x->a.calls, x->b.calls) > saturating_add(y->a.calls, y->b.calls);
      });
      page_ << "<table><tr><th>function</th><th class=\"num\">calls " << t(a)
            << "</th><th class=\"num\">per invocation</th><th class=\"num\">calls " << t(b)
            << "</th><th class=\"num\">per invocation</th></tr>";
      auto per = [](double v) { return v < 0 ? std::string("-") : fixed(v, 2); };
      for (size_t i = 0; i < rows.size() && i < kDiffRowsPerSide; ++i) {
        const FunctionDiff& f = *rows[i];
        page_ << "<tr><td><code>" << t(f.function) << "</code>"
              << (f.clones.empty() ? ""
                                   : " <span class=\"muted\">(" + t(join(f.clones)) + ")</span>")
              << "</td><td class=\"num\">" << num(f.a.calls) << "</td><td class=\"num\">"
              << per(f.a.per_invocation) << "</td><td class=\"num\">" << num(f.b.calls)
              << "</td><td class=\"num\">" << per(f.b.per_invocation) << "</td></tr>";
      }
      page_ << "</table>";
      if (rows.size() > kDiffRowsPerSide)
        page_ << "<p class=\"muted\">" << num(static_cast<int64_t>(rows.size() - kDiffRowsPerSide))
              << " more: <code>probeseek diff " << t(a) << " " << t(b) << "</code></p>";
    }
    page_ << "<h3>Call paths</h3><table><tr><th>in</th><th>path</th><th class=\"num\">calls "
          << t(a) << "</th><th class=\"num\">calls " << t(b) << "</th></tr>";
    size_t shown = 0;
    for (const PathDiff& p : d->paths) {
      if (p.in == DiffSide::kBoth || ++shown > kDiffPaths) continue;
      page_ << "<tr><td>" << t(p.in == DiffSide::kA ? a : b) << "</td><td><code>"
            << t(join(p.path, " → ")) << "</code></td><td class=\"num\">" << num(p.calls_a)
            << "</td><td class=\"num\">" << num(p.calls_b) << "</td></tr>";
    }
    page_ << "</table></section>\n";
    return {};
  }

  void probe_section() {
    auto& t = text_;
    page_ << "<section id=\"probe\"><h2>Probe</h2>";
    std::vector<std::string> functions = {function_};
    if (ranking_.hook_set && !ranking_.candidates.empty() &&
        ranking_.candidates.front().function == function_)
      functions = ranking_.hook_set->functions;
    auto no_probe = [&](const std::string& why) {
      summary_.warnings.push_back("no probe in the report: " + why);
      page_ << "<p class=\"warn\">No probe: " << t(why) << "</p></section>\n";
    };
    if (function_.empty()) return no_probe("no function was chosen");
    auto choice = choose_btf(db_, sessions_, req_.btf_path, req_.live.btf);
    if (!choice) return no_probe(choice.error().message());
    if (!choice->btf) return no_probe("no BTF for these sessions (pass --btf FILE)");
    GenRequest g;
    g.functions = functions;
    g.btf = &*choice->btf;
    g.btf_source = choice->source;
    auto project = render_probe(g);
    if (!project) return no_probe(project.error().message());
    summary_.probe = true;
    page_ << "<p>A libbpf project for <code>" << t(join(functions, " ")) << "</code> ("
          << "kprobe; BTF: " << t(choice->source) << "). Write it to a directory with <code>"
          << "probeseek gen " << t(join(functions, " ")) << " -o DIR</code>; load it with "
          << "<code>probeseek attach " << t(join(functions, " ")) << "</code>.</p>";
    list_items(page_, project->warnings, "reasons warn");
    for (const GeneratedFile& f : project->files) {
      if (f.name == "vmlinux.h") continue;  // megabytes of the kernel's types
      const bool main = f.name.size() > 6 && f.name.ends_with(".bpf.c");
      page_ << "<details" << (main ? " open" : "") << "><summary><code>" << t(f.name)
            << "</code></summary><pre>" << t(f.text) << "</pre></details>";
    }
    page_ << "<p class=\"muted\">vmlinux.h is not shown: <code>probeseek gen</code> writes it "
          << "from the same BTF.</p></section>\n";
  }

  void foot() {
    page_ << "<footer class=\"muted\"><p>Made by <code>" << text_(req_.command_line)
          << "</code>. Every reason above is one the commands print: <code>probeseek rank"
          << "</code>, <code>explain</code>, <code>diff</code>, <code>export</code>.</p>"
          << "</footer></body></html>\n";
  }

  Database& db_;
  const ReportRequest& req_;
  Text text_;
  Page page_;
  std::vector<SessionSummary> sessions_;
  std::vector<std::string> names_;
  std::vector<int64_t> ids_;
  RankResult ranking_;
  std::string function_;
  ReportSummary summary_;
};

}  // namespace

Result<ReportSummary> write_report(Database& db, const ReportRequest& request, ExportOutput& out) {
  return Report(db, request, out).run();
}

}  // namespace probeseek
