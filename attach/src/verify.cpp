// verify: rank -> attach the top N -> run the workload -> what fired, with which arguments.
#include "probeseek/verify.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>

#include "probeseek/child.h"
#include "probeseek/in_flight.h"
#include "probeseek/rank.h"
#include "probeseek/text.h"
#include "probeseek/verification_store.h"

namespace probeseek {
namespace {

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty();
    for (char c : a)
      plain &= std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("-_./:=@%+,").find(c) != std::string_view::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

bool address_set(const std::string& a) {
  return !a.empty() && a != "0.0.0.0" && a != "::";
}

Status store(Database& db, const std::vector<SessionSummary>& sessions, const VerifyResult& r) {
  const std::string at = now_utc();
  std::string ports;
  for (uint16_t p : r.ports) ports += (ports.empty() ? "" : ",") + std::to_string(p);
  std::vector<VerificationRow> rows;
  for (const SessionSummary& s : sessions)
    for (const CandidateCheck& c : r.candidates) {
      VerificationRow row;
      row.session_id = s.id;
      row.function = c.function;
      row.command = r.command;
      row.verified_at = at;
      row.rank = c.rank;
      row.attached = c.attached;
      row.how = c.attached ? c.how : c.not_attached;
      row.events = static_cast<int64_t>(c.events);
      row.sock_events = static_cast<int64_t>(c.sock_events);
      row.sock_addresses_set = static_cast<int64_t>(c.sock_addresses_set);
      row.sock_port_matches = static_cast<int64_t>(c.sock_port_matches);
      row.ports = ports;
      row.summary = c.summary();
      row.samples = c.samples;
      rows.push_back(std::move(row));
    }
  return store_verifications(db, rows);
}

}  // namespace

std::vector<uint16_t> ports_in_command(const std::vector<std::string>& command) {
  std::vector<uint16_t> out;
  auto add = [&](std::string_view digits) {
    auto v = parse_int(digits);
    if (v && *v >= 1 && *v <= 65535 &&
        std::find(out.begin(), out.end(), static_cast<uint16_t>(*v)) == out.end())
      out.push_back(static_cast<uint16_t>(*v));
  };
  for (size_t i = 1; i < command.size(); ++i) {
    std::string_view a = command[i];
    if (auto v = parse_int(a)) {
      add(a);
      continue;
    }
    for (size_t p = a.find(':'); p != std::string_view::npos; p = a.find(':', p + 1)) {
      size_t end = p + 1;
      while (end < a.size() && std::isdigit(static_cast<unsigned char>(a[end]))) ++end;
      if (end > p + 1 && (end == a.size() || a[end] == '/' || a[end] == '?'))
        add(a.substr(p + 1, end - p - 1));
    }
  }
  return out;
}

uint64_t VerifyResult::events() const {
  uint64_t n = 0;
  for (const CandidateCheck& c : candidates) n += c.events;
  return n;
}

std::string VerifyResult::set_summary() const {
  const uint64_t n = events();
  std::string out = n == 0 ? "the set did not fire"
                           : "the set fired " + std::to_string(n) + (n == 1 ? " time" : " times");
  for (size_t i = 0; i < candidates.size(); ++i)
    out += (i ? ", " : ": ") + candidates[i].function + " " + std::to_string(candidates[i].events);
  return out;
}

std::string CandidateCheck::summary() const {
  if (!attached) return "not attached: " + not_attached;
  // Silence from a return probe proves nothing about a task that was inside the function when
  // it was attached: that call returns unseen (its entry, where the return is hooked, was
  // before the probe existed).
  if (events == 0 && !in_flight.empty())
    return "not observable in this run: " + join(in_flight, ", ") +
           (in_flight.size() == 1 ? " was" : " were") + " already inside " + function +
           " when the probe was attached (a return probe sees only calls that start after it)";
  std::string out = events == 0
                        ? "did not fire"
                        : "fired " + std::to_string(events) + (events == 1 ? " time" : " times");
  if (sock_events > 0)
    out += "; struct sock: addresses set " + std::to_string(sock_addresses_set) + "/" +
           std::to_string(sock_events) + ", workload's port " + std::to_string(sock_port_matches) +
           "/" + std::to_string(sock_events);
  return out;
}

Result<VerifyResult> verify(Database& db, const VerifyRequest& request) {
  if (request.command.empty())
    return bad_input("no workload command", "", "probeseek verify [OPTIONS] -- CMD ARGS");
  VerifyResult result;
  result.command = shell_quote(request.command);
  if (!request.ports.empty()) {
    result.ports = request.ports;
    result.ports_from = "--port";
  } else {
    result.ports = ports_in_command(request.command);
    if (!result.ports.empty()) result.ports_from = "the command line";
  }

  if (!request.functions.empty()) {
    // The set as named; stored with the sessions asked for (by default all of them). Names
    // are checked before the workload starts; the rest when the set is attached.
    for (size_t i = 0; i < request.functions.size(); ++i) {
      const std::string& f = request.functions[i];
      if (!is_kernel_symbol_name(f))
        return bad_input("not a kernel function name", f,
                         "kernel symbols are made of letters, digits, '_', '.' and '$'");
      if (std::find(request.functions.begin(), request.functions.begin() + i, f) !=
          request.functions.begin() + i)
        return bad_input("a function is named twice", f, "name each function once");
    }
    result.is_set = true;
    auto sessions = Store(db).sessions();
    if (!sessions) return tl::unexpected(sessions.error());
    for (const std::string& name : request.sessions) {
      bool known = false;
      for (const SessionSummary& s : *sessions) known |= s.name == name;
      if (!known)
        return bad_input("no session " + printable(name), db.path(),
                         "list them with 'probeseek sessions'");
      result.sessions.push_back(name);
    }
    if (request.sessions.empty())
      for (const SessionSummary& s : *sessions) result.sessions.push_back(s.name);
    if (result.sessions.empty())
      result.warnings.push_back("no session in " + db.path() + ": the result is shown, not stored");
    for (const std::string& f : request.functions) {
      CandidateCheck check;
      check.function = f;
      check.rank = static_cast<int>(result.candidates.size()) + 1;
      result.candidates.push_back(std::move(check));
    }
  } else {
    RankRequest rr;
    rr.sessions = request.sessions;
    rr.arg = request.arg;
    rr.under = request.under;
    rr.limit = request.top;
    rr.btf_path = request.btf_path;
    auto ranked = rank(db, rr);
    if (!ranked) return tl::unexpected(ranked.error());
    result.sessions = ranked->sessions;
    result.warnings = ranked->warnings;
    if (ranked->candidates.empty())
      return bad_input("no candidate to verify", "",
                       "check the sessions, --arg and --under with 'probeseek rank'");
    for (const Candidate& c : ranked->candidates) {
      CandidateCheck check;
      check.function = c.function;
      check.rank = static_cast<int>(result.candidates.size()) + 1;
      check.score = c.score;
      result.candidates.push_back(std::move(check));
    }
  }

  // The workload is forked before the probes are attached (they filter on its pid, which must
  // be known before load) and held until they are.
  if (request.command.empty())
    return bad_input("no workload command", "", "verify ... -- CMD ARGS");
  HeldChildOptions held;
  held.what = "the workload";
  held.stdout_to_stderr = true;  // keep the report on stdout clean
  held.kill_on_destroy = true;
  auto workload = HeldChild::spawn(request.command, held);
  if (!workload) return tl::unexpected(workload.error());
  TracerOptions options;
  options.pid = workload->pid();
  options.follow_children = true;
  options.paths = request.paths;
  auto tracer = Tracer::open(options);
  if (!tracer) return tl::unexpected(tracer.error());

  std::vector<size_t> probe_of;  // candidate index -> probe index, or npos
  if (result.is_set) {
    // All or nothing: the set is the answer only if every function of it is attached.
    std::vector<ProbeRequest> requests;
    for (const CandidateCheck& c : result.candidates)
      requests.push_back({c.function, std::nullopt, request.unsafe});
    auto probes = (*tracer)->attach_set(requests);
    if (!probes) return tl::unexpected(probes.error());
    for (size_t i = 0; i < probes->size(); ++i) {
      CandidateCheck& check = result.candidates[i];
      check.attached = true;
      check.how = (*probes)[i]->how;
      check.warnings = (*probes)[i]->warnings;
      probe_of.push_back(i);
    }
  } else {
    std::optional<Error> first_kernel_error;
    for (CandidateCheck& check : result.candidates) {
      ProbeRequest pr;
      pr.function = check.function;
      pr.unsafe = request.unsafe;
      auto probe = (*tracer)->attach(pr);
      if (probe) {
        check.attached = true;
        check.how = (*probe)->how;
        check.warnings = (*probe)->warnings;
        probe_of.push_back((*tracer)->probes().size() - 1);
      } else {
        check.not_attached = probe.error().message();
        if (probe.error().kind == ErrorKind::kRuntime && !first_kernel_error)
          first_kernel_error = probe.error();
        probe_of.push_back(SIZE_MAX);
      }
    }
    if ((*tracer)->probes().empty() && first_kernel_error)
      return tl::unexpected(*first_kernel_error);  // the kernel cannot probe at all: say why
  }

  // Calls in flight, right after attaching (a task entering later is seen). The workload's own
  // calls all start after this: it is held, waiting in verify's pipe, until released below, and
  // that wait is verify's call, not the workload's, so its process is left out. The tasks found
  // are then other processes': no probe of verify counts their calls, with or without the scan,
  // and the verdict "not observable" (for tasks the run counts) has nothing to go on today; they
  // are named all the same, since the obvious hook for a server (its accept, say) runs in the
  // server and not in a client workload.
  std::vector<const AttachedProbe*> attached;
  for (const auto& p : (*tracer)->probes()) attached.push_back(p.get());
  InFlightOptions in_flight_options;
  in_flight_options.exclude_pid = getpid();
  InFlightScan scan = scan_in_flight(attached, in_flight_options);
  if (scan.scanned) {
    result.in_flight_scan = scan.cost();
    if (std::string why = scan.unreadable_why(); !why.empty()) result.warnings.push_back(why);
  }
  for (size_t i = 0; i < probe_of.size(); ++i) {
    if (probe_of[i] == SIZE_MAX) continue;
    CandidateCheck& check = result.candidates[i];
    for (const InFlightTask& t : scan.tasks) {
      if (t.probe != probe_of[i] || t.pid == workload->pid()) continue;
      check.in_flight_elsewhere.push_back(in_flight_task_name(t));
    }
    if (check.in_flight_elsewhere.empty()) continue;
    const size_t n = check.in_flight_elsewhere.size();
    std::vector<std::string> shown(check.in_flight_elsewhere.begin(),
                                   check.in_flight_elsewhere.begin() + std::min<size_t>(n, 3));
    check.warnings.push_back(
        join(shown, ", ") + (n > 3 ? " and " + std::to_string(n - 3) + " more" : "") +
        (n == 1 ? " was" : " were") + " inside " + check.function +
        " when it was attached: not the workload, whose calls alone verify counts ('probeseek "
        "attach " +
        check.function + "' sees every process; a return probe only their next call)");
  }

  std::vector<size_t> candidate_of((*tracer)->probes().size());
  for (size_t i = 0; i < probe_of.size(); ++i)
    if (probe_of[i] != SIZE_MAX) candidate_of[probe_of[i]] = i;
  auto on_event = [&](const Event& e) {
    CandidateCheck& c = result.candidates[candidate_of[e.probe]];
    ++c.events;
    if (c.samples.size() < 3) c.samples.push_back(format_event(e));
    bool sock_read = false, set = false, port = false;
    for (const Value& v : e.args) {
      if (!v.sock) continue;
      sock_read = true;
      set |= address_set(v.sock->local) && address_set(v.sock->remote);
      for (uint16_t p : result.ports) port |= v.sock->local_port == p || v.sock->remote_port == p;
    }
    c.sock_events += sock_read;
    c.sock_addresses_set += set;
    c.sock_port_matches += port;
  };

  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  if (auto s = workload->release(); !s) return tl::unexpected(s.error());
  for (;;) {
    auto n = (*tracer)->poll(100, on_event);
    if (!n) return tl::unexpected(n.error());
    if (auto status = workload->exited() ? workload->status() : std::nullopt) {
      result.exit_status = *status;
      break;
    }
    bool stop = request.stop && request.stop->load();
    if (stop || clock::now() - started > std::chrono::duration<double>(request.timeout_s)) {
      result.timed_out = !stop;
      result.exit_status = workload->kill_now();
      break;
    }
  }
  result.duration_s = std::chrono::duration<double>(clock::now() - started).count();
  // Events of the workload's last moments may still be in the ring buffer.
  for (int i = 0; i < 50; ++i) {
    auto n = (*tracer)->poll(i == 0 ? 50 : 0, on_event);
    if (!n || *n == 0) break;
  }
  result.lost_events = (*tracer)->lost_events();
  (*tracer)->detach_all();

  auto sessions = Store(db).sessions();
  if (!sessions) return tl::unexpected(sessions.error());
  std::vector<SessionSummary> used;
  for (const SessionSummary& s : *sessions)
    if (std::find(result.sessions.begin(), result.sessions.end(), s.name) != result.sessions.end())
      used.push_back(s);
  if (auto s = store(db, used, result); !s) return tl::unexpected(s.error());
  return result;
}

}  // namespace probeseek
