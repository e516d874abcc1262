// gen, attach, verify: from a ranking to a probe a user keeps, a probe running now, and a
// workload re-run with the top candidates attached.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "output.h"
#include "probeseek/attach.h"
#include "probeseek/compat.h"
#include "probeseek/gen.h"
#include "probeseek/in_flight.h"
#include "probeseek/rank.h"
#include "probeseek/text.h"
#include "probeseek/verify.h"

namespace probeseek::cli {

namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop = true;
}

// Ctrl-C and SIGTERM end the loop, which then detaches. Installed without SA_RESTART so that
// the wait for events returns at once.
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

json sock_json(const SockValue& s) {
  json out = {{"family", s.family_name}};
  if (!s.local.empty()) {
    out["local"] = s.local;
    out["local_port"] = s.local_port;
    out["remote"] = s.remote;
    out["remote_port"] = s.remote_port;
    out["state"] = s.state;
    out["protocol"] = s.protocol;
  }
  return out;
}

json value_json(const Value& v) {
  json out = {{"type", v.type}, {"raw", v.raw}, {"value", v.text}};
  if (!v.name.empty()) out["name"] = v.name;
  if (v.sock) out["sock"] = sock_json(*v.sock);
  if (v.sockaddr) {
    out["sockaddr"] = {{"family", v.sockaddr->family_name}};
    if (!v.sockaddr->address.empty()) {
      out["sockaddr"]["address"] = v.sockaddr->address;
      out["sockaddr"]["port"] = v.sockaddr->port;
    }
  }
  if (v.skb_len) out["skb"] = {{"len", *v.skb_len}, {"protocol", *v.skb_protocol}};
  if (v.file_name) out["name_read"] = *v.file_name;
  if (!v.read_error.empty()) out["read_error"] = v.read_error;
  return out;
}

json event_json(const Event& e) {
  json args = json::array();
  for (const Value& v : e.args) args.push_back(value_json(v));
  json out = {{"time_ns", e.wall_time_ns},
              {"function", e.function},
              {"pid", e.pid},
              {"tid", e.tid},
              {"cpu", e.cpu},
              {"comm", e.comm},
              {"args", args}};
  if (e.returned) out["ret"] = e.ret ? value_json(*e.ret) : json(nullptr);
  if (e.duration_ns) out["duration_ns"] = e.duration_ns;
  return out;
}

void register_attach(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("attach",
                                 "Attach a probe to a kernel function now and print "
                                 "its events (kprobe, or fentry without kprobes)");
  struct AttachOptions {
    std::vector<std::string> functions;
    bool unsafe = false;
    std::string type;
    int pid = 0;
    double duration = 0;
    bool as_json = false;
  };
  auto ao = std::make_shared<AttachOptions>();
  cmd->add_option("FUNC", ao->functions,
                  "kernel function; several are attached all or none, their events in one "
                  "stream")
      ->required();
  cmd->add_option("--type", ao->type,
                  "kprobe, kretprobe, fentry or fexit (default: kprobe, fentry "
                  "without kprobes; a function taking a socket is reported at "
                  "return)");
  cmd->add_option("--pid", ao->pid, "only this process");
  cmd->add_option("--duration", ao->duration, "detach after S seconds (default: until Ctrl-C)");
  cmd->add_flag("--json", ao->as_json, "one JSON object per event on stdout");
  cmd->add_flag("--unsafe", ao->unsafe, "attach to denied, blacklisted or notrace functions too");
  cmd->callback([&ctx, ao] {
    run(ctx, [&]() -> Status {
      std::vector<ProbeRequest> requests;
      for (const std::string& f : ao->functions) requests.push_back({f, std::nullopt, ao->unsafe});
      if (!ao->type.empty()) {
        auto t = parse_probe_type(ao->type);
        if (!t) return tl::unexpected(t.error());
        for (ProbeRequest& r : requests) r.type = *t;
      }
      if (ao->duration < 0 || !std::isfinite(ao->duration))
        return bad_input("--duration must be a positive number of seconds");
      // Before attaching: a signal that arrives once "attached" is printed must stop us.
      install_stop_handlers();
      TracerOptions options;
      if (ao->pid > 0) options.pid = ao->pid;
      auto tracer = Tracer::open(options);
      if (!tracer) return tl::unexpected(tracer.error());
      // All or nothing: one refused function refuses the set, with every reason.
      auto probes = (*tracer)->attach_set(requests);
      if (!probes) return tl::unexpected(probes.error());
      // Calls in flight: a return probe misses the current call of a task already inside its
      // function. Looked for right after attaching, so that a task entering later is seen.
      InFlightOptions in_flight_options;
      in_flight_options.exclude_pid = getpid();  // the BPF program leaves us out too
      if (ao->pid > 0) in_flight_options.pid = ao->pid;
      const InFlightScan scan = scan_in_flight(*probes, in_flight_options);
      bool kretprobes = false;
      std::vector<std::string> at_return;
      for (const AttachedProbe* p : *probes) {
        for (const std::string& w : p->warnings) std::cerr << "warning: " << w << "\n";
        std::cerr << "attached " << p->how << " to " << p->symbol;
        if (p->prototype) std::cerr << ": " << p->prototype->to_string();
        std::cerr << "\n";
        kretprobes |= p->at_return && p->how == "kprobe+kretprobe";
        if (p->at_return) at_return.push_back(p->function);
      }
      if (scan.scanned) {
        for (const InFlightTask& t : scan.tasks)
          std::cerr << "warning: " << in_flight_warning(t) << "\n";
        if (std::string why = scan.unreadable_why(); !why.empty())
          std::cerr << "warning: " << why << "\n";
        const size_t n = scan.tasks.size();
        std::cerr << "calls in flight: " << scan.cost() << "; "
                  << (n == 0 ? "no task" : std::to_string(n) + (n == 1 ? " task" : " tasks"))
                  << " inside " << join(at_return, " or ") << "\n";
      }
      std::cerr << (ao->duration > 0 ? "" : "Ctrl-C to stop\n") << std::flush;

      using clock = std::chrono::steady_clock;
      const auto deadline = clock::now() + std::chrono::duration<double>(ao->duration);
      size_t events = 0;
      std::vector<size_t> per_probe(probes->size());  // probe ids are 0..N-1 in a new tracer
      auto print = [&](const Event& e) {
        ++events;
        if (e.probe < per_probe.size()) ++per_probe[e.probe];
        if (ao->as_json)
          std::cout << dump_json_line(event_json(e)) << "\n";
        else
          std::cout << format_event(e) << "\n";
      };
      // Flushed once a poll (at most 1024 events, as soon as the ring has any): a pipe or a
      // file sees events as they happen, without a write() per event (a million a second).
      while (!g_stop && (ao->duration <= 0 || clock::now() < deadline)) {
        auto n = (*tracer)->poll(100, print);
        std::cout.flush();
        if (!n) return tl::unexpected(n.error());
      }
      // Detach first: on a hot function the probes refill the ring buffer as fast as it is
      // read, so draining while attached may never end. What is already in it was produced
      // while attached: show it too (at most the ring's size, now that nothing adds to it).
      (*tracer)->detach_all();
      for (;;) {
        auto n = (*tracer)->poll(0, print);
        std::cout.flush();
        if (!n || *n == 0) break;
      }
      uint64_t lost = (*tracer)->lost_events(), missed = (*tracer)->missed_entries();
      std::cerr << events << " events";
      if (probes->size() > 1) {
        std::cerr << " (";
        for (size_t i = 0; i < probes->size(); ++i)
          std::cerr << (i ? ", " : "") << (*probes)[i]->function << " " << per_probe[i];
        std::cerr << ")";
      }
      std::cerr << ", " << lost << " lost (ring buffer full)";
      if (kretprobes) std::cerr << ", " << missed << " returns without their entry";
      std::cerr << "; detached\n";
      return {};
    });
  });
}

// Kernels with the same outcome, grouped: "6.1.0-47 .. 6.1.0-57 (33 kernels): all 54 resolve".
void print_relocations(const std::vector<RelocationCheck>& checks) {
  std::map<std::string, std::vector<std::string>> groups;  // outcome -> kernels, in order
  std::vector<std::string> order;
  for (const RelocationCheck& c : checks) {
    std::string outcome;
    if (!c.error.empty()) {
      outcome = "not checked: " + c.error;
    } else if (c.failed.empty()) {
      outcome = c.relocations == 0 ? "no CO-RE relocations"
                                   : "all " + std::to_string(c.relocations) + " resolve";
    } else {
      outcome = std::to_string(c.failed.size()) + " of " + std::to_string(c.relocations) +
                " would fail (libbpf poisons the instruction; the verifier refuses the program "
                "if it runs):";
      for (const std::string& f : c.failed) outcome += "\n      " + f;
    }
    if (!groups.count(outcome)) order.push_back(outcome);
    groups[outcome].push_back(c.kernel);
  }
  std::cout << "CO-RE relocations on " << checks.size() << " catalogued kernel"
            << (checks.size() == 1 ? "" : "s") << ":\n";
  for (const std::string& outcome : order) {
    std::cout << "  " << printable(describe_kernels(groups[outcome])) << ": ";
    for (size_t at = 0; at < outcome.size();) {
      size_t end = outcome.find('\n', at);
      if (end == std::string::npos) end = outcome.size();
      std::cout << (at ? "\n" : "") << printable(outcome.substr(at, end - at));
      at = end + 1;
    }
    std::cout << "\n";
  }
}

void register_gen(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("gen",
                                 "Write a libbpf project (BPF program, loader, Makefile) "
                                 "that probes a kernel function");
  struct GenOptions {
    std::vector<std::string> functions;
    std::string name;
    std::string type = "kprobe";
    std::string btf_path;
    std::string session;
    std::string out_dir;
    std::string db_path = "probeseek.db";
    bool force = false;
    std::vector<std::string> kernels;
  };
  auto go = std::make_shared<GenOptions>();
  cmd->add_option("FUNC", go->functions,
                  "kernel function; several make one project with a program for each")
      ->required();
  cmd->add_option("--name", go->name,
                  "the project's file stem, a C identifier (default: FUNC, or FUNC1_and_N_more "
                  "for a set)");
  cmd->add_option("--type", go->type, "kprobe, kretprobe, fentry or fexit (for every FUNC)")
      ->capture_default_str();
  cmd->add_option("--btf", go->btf_path,
                  "BTF of the kernel the probe is for (raw or ELF with .BTF)");
  cmd->add_option("--session", go->session, "use the BTF stored with this session");
  cmd->add_option("--db", go->db_path, "database file (with --session)")->capture_default_str();
  cmd->add_option("-o,--output", go->out_dir, "directory to write (default: ./NAME)");
  cmd->add_flag("--force", go->force, "replace the files of an earlier gen (never through a link)");
  cmd->add_option("--kernels", go->kernels,
                  "then check the program's CO-RE relocations on these catalogued kernels (none "
                  "named: all of them; --db holds the catalogue)")
      ->expected(0, -1);
  cmd->callback([&ctx, go, cmd] {
    run(ctx, [&]() -> Status {
      auto t = parse_probe_type(go->type);
      if (!t) return tl::unexpected(t.error());
      // Which kernel: --btf, else the session's stored BTF, else this machine's.
      std::optional<Btf> btf;
      std::string source;
      if (!go->btf_path.empty() || go->session.empty()) {
        std::string path = go->btf_path.empty() ? KernelPaths{}.btf : go->btf_path;
        auto loaded = Btf::load(path);
        if (!loaded) {
          Error e = loaded.error();
          if (!go->btf_path.empty()) e.kind = ErrorKind::kBadInput;
          return tl::unexpected(e);
        }
        btf = std::move(*loaded);
        source = go->btf_path.empty() ? path + " (this machine)" : path;
      } else {
        auto db = Database::open(go->db_path, Database::Mode::kReadOnly);
        if (!db) return tl::unexpected(db.error());
        auto summary = Store(*db).session(go->session);
        if (!summary) return tl::unexpected(summary.error());
        auto choice = choose_btf(*db, {*summary}, std::nullopt, KernelPaths{}.btf);
        if (!choice) return tl::unexpected(choice.error());
        for (auto& w : choice->warnings) std::cerr << "warning: " << w << "\n";
        if (!choice->btf)
          return bad_input("no BTF for session " + go->session, "",
                           "pass --btf FILE with that kernel's BTF");
        btf = std::move(choice->btf);
        source = choice->source;
      }
      GenRequest request;
      request.functions = go->functions;
      request.name = go->name;
      request.type = *t;
      request.btf = &*btf;
      request.btf_source = source;
      request.out_dir = go->out_dir;
      request.force = go->force;
      auto result = generate_probe(request);
      if (!result) return tl::unexpected(result.error());
      for (auto& w : result->warnings) std::cerr << "warning: " << w << "\n";
      std::cout << "wrote " << result->dir << "/: ";
      for (size_t i = 0; i < result->files.size(); ++i)
        std::cout << (i ? ", " : "") << result->files[i].name;
      std::cout << "\nbuild: make -C " << result->dir << "   run: sudo " << result->dir << "/"
                << result->app << "\n";
      if (cmd->count("--kernels") == 0) return {};
      std::erase(go->kernels, std::string());
      auto db = Database::open(go->db_path, Database::Mode::kReadOnly);
      if (!db) return tl::unexpected(db.error());
      auto checks = check_relocations(*result, *db, go->kernels);
      if (!checks) return tl::unexpected(checks.error());
      print_relocations(*checks);
      return {};
    });
  });
}

void register_verify(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "verify",
      "Run a workload again with the top ranked candidates (or --function set) attached: "
      "which fired, and with what arguments (stored with the sessions; rank shows it)");
  struct VerifyOptions {
    VerifyRequest request;
    std::string db_path = "probeseek.db";
    std::string arg;
    std::string btf;
    std::vector<int> ports;
    bool as_json = false;
  };
  auto vo = std::make_shared<VerifyOptions>();
  cmd->add_option("--db", vo->db_path, "database file")->capture_default_str();
  // Repeatable options take one value each: a vector option that takes several would take the
  // "--" before the workload as its own end, and then the workload's options as verify's.
  cmd->add_option("--function", vo->request.functions,
                  "verify this function instead of the ranked candidates (repeat it for a set, "
                  "attached all or none)")
      ->allow_extra_args(false);
  cmd->add_option("--session", vo->request.sessions, "sessions to rank (default: all)")
      ->allow_extra_args(false);
  cmd->add_option("--top", vo->request.top, "attach the N best candidates")->capture_default_str();
  cmd->add_option("--arg", vo->arg, "as rank --arg: a parameter of this C type");
  cmd->add_option("--under", vo->request.under, "as rank --under: only calls below this function");
  cmd->add_option("--btf", vo->btf, "BTF of the traced kernel (for ranking)");
  cmd->add_option("--port", vo->ports, "the workload's port (default: the ports its command names)")
      ->allow_extra_args(false);
  cmd->add_option("--timeout", vo->request.timeout_s, "kill the workload after S seconds")
      ->capture_default_str();
  cmd->add_flag("--unsafe", vo->request.unsafe,
                "attach to denied, blacklisted or notrace functions");
  cmd->add_flag("--json", vo->as_json, "the report as JSON on stdout");
  cmd->add_option("CMD", vo->request.command, "the workload, after --")->required();
  cmd->callback([&ctx, vo, cmd] {
    run(ctx, [&]() -> Status {
      if (!vo->request.functions.empty())
        for (const char* ranking : {"--top", "--arg", "--under", "--btf"})
          if (cmd->count(ranking) > 0)
            return bad_input(std::string(ranking) +
                             " chooses ranked candidates, --function names "
                             "them: give one or the other");
      if (!vo->arg.empty()) vo->request.arg = vo->arg;
      if (!vo->btf.empty()) vo->request.btf_path = vo->btf;
      for (int p : vo->ports) {
        if (p < 1 || p > 65535) return bad_input("--port must be 1..65535", std::to_string(p));
        vo->request.ports.push_back(static_cast<uint16_t>(p));
      }
      if (vo->request.top == 0) return bad_input("--top must be at least 1");
      auto db = Database::open(vo->db_path, Database::Mode::kReadWrite);
      if (!db) return tl::unexpected(db.error());
      install_stop_handlers();
      vo->request.stop = &g_stop;
      auto r = verify(*db, vo->request);
      if (!r) return tl::unexpected(r.error());
      for (auto& w : r->warnings) std::cerr << "warning: " << w << "\n";
      if (vo->as_json) {
        json candidates = json::array();
        for (const CandidateCheck& c : r->candidates) {
          json j = {{"rank", c.rank},         {"function", c.function}, {"score", c.score},
                    {"attached", c.attached}, {"fired", c.events > 0},  {"events", c.events},
                    {"samples", c.samples},   {"summary", c.summary()}, {"warnings", c.warnings}};
          if (c.attached)
            j["how"] = c.how;
          else
            j["not_attached"] = c.not_attached;
          j["sock"] = {{"events", c.sock_events},
                       {"addresses_set", c.sock_addresses_set},
                       {"port_matches", c.sock_port_matches}};
          if (!c.in_flight.empty()) j["in_flight"] = c.in_flight;
          if (!c.in_flight_elsewhere.empty()) j["in_flight_elsewhere"] = c.in_flight_elsewhere;
          candidates.push_back(j);
        }
        json out = {{"sessions", r->sessions},
                    {"command", r->command},
                    {"ports", r->ports},
                    {"exit_status", r->exit_status},
                    {"duration_s", r->duration_s},
                    {"timed_out", r->timed_out},
                    {"lost_events", r->lost_events},
                    {"candidates", candidates}};
        if (!r->in_flight_scan.empty()) out["in_flight_scan"] = r->in_flight_scan;
        if (r->is_set) {
          json functions = json::array(), events = json::object();
          for (const CandidateCheck& c : r->candidates) {
            functions.push_back(c.function);
            events[c.function] = c.events;
          }
          out["set"] = {{"functions", functions},
                        {"fired", r->events() > 0},
                        {"events", r->events()},
                        {"events_by_function", events},
                        {"summary", r->set_summary()}};
        }
        std::cout << dump_json(out) << "\n";
        return {};
      }
      std::cout << "workload: " << r->command << " (exit status " << r->exit_status;
      char secs[32];
      std::snprintf(secs, sizeof secs, ", %.2f s", r->duration_s);
      std::cout << secs << (r->timed_out ? ", killed after --timeout" : "") << ")\n";
      std::cout << "sessions: ";
      if (r->sessions.empty()) std::cout << "none (not stored)";
      for (size_t i = 0; i < r->sessions.size(); ++i)
        std::cout << (i ? ", " : "") << r->sessions[i];
      std::cout << "   ports: ";
      if (r->ports.empty()) std::cout << "none (pass --port)";
      for (size_t i = 0; i < r->ports.size(); ++i) std::cout << (i ? ", " : "") << r->ports[i];
      if (!r->ports_from.empty()) std::cout << " (from " << r->ports_from << ")";
      if (!r->in_flight_scan.empty()) std::cout << "\ncalls in flight: " << r->in_flight_scan;
      std::cout << "\n\n";
      for (const CandidateCheck& c : r->candidates) {
        char head[32];
        std::snprintf(head, sizeof head, "%2d. ", c.rank);
        std::cout << head << c.function << (c.attached ? "  [" + c.how + "]" : "") << "\n";
        std::cout << "    " << c.summary() << "\n";
        for (auto& w : c.warnings) std::cout << "    warning: " << w << "\n";
        for (auto& e : c.samples) std::cout << "    " << e << "\n";
      }
      if (r->is_set) std::cout << "\n" << r->set_summary() << "\n";
      if (r->lost_events)
        std::cout << "\n" << r->lost_events << " events lost (ring buffer full)\n";
      return {};
    });
  });
}

}  // namespace

void register_probe_commands(CLI::App& app, Context& ctx) {
  register_gen(app, ctx);
  register_attach(app, ctx);
  register_verify(app, ctx);
}

}  // namespace probeseek::cli
