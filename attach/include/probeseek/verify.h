// The closed loop: rank the candidates of some sessions, attach the top N, run the workload
// again, and report per candidate whether it fired, how often, and what its arguments were
// (for a socket: were its addresses set, was the port the workload's). The result is stored
// with the sessions (table `verifications`), where `probeseek rank` shows it. Instead of the
// ranking, a set of functions can be named (tcp_v4_connect and tcp_v6_connect: every TCP
// connection): attached all or none, reported per function and as a whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/attach.h"
#include "probeseek/db.h"
#include "probeseek/error.h"

namespace probeseek {

struct VerifyRequest {
  // Exactly these functions (each once), instead of the top ranked; `top`, `arg`, `under` and
  // `btf_path` are then unused. One that cannot be attached refuses the run.
  std::vector<std::string> functions;
  std::vector<std::string> sessions;  // empty: every session in the database
  size_t top = 5;
  std::optional<std::string> arg;  // as rank --arg
  std::string under;               // as rank --under
  std::optional<std::string> btf_path;
  std::vector<std::string> command;  // the workload, run with execvp
  // The workload's port(s); when empty, the ports its command line names (":8080" in a URL,
  // or an argument that is a number from 1 to 65535).
  std::vector<uint16_t> ports;
  bool unsafe = false;
  double timeout_s = 60;                    // the workload is killed after this long
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by Ctrl-C) to end the run early
  KernelPaths paths;
};

struct CandidateCheck {
  std::string function;
  int rank = 0;
  double score = 0;
  bool attached = false;
  std::string how;           // "kprobe+kretprobe"
  std::string not_attached;  // why not, when !attached
  std::vector<std::string> warnings;
  uint64_t events = 0;               // calls seen from the workload (and its children)
  std::vector<std::string> samples;  // up to three events, formatted
  // Events whose struct sock arguments could be read; of those, with both addresses set, and
  // with the workload's port at either end.
  uint64_t sock_events = 0;
  uint64_t sock_addresses_set = 0;
  uint64_t sock_port_matches = 0;
  // Calls in flight (in_flight.h), for a probe reported at return: tasks inside the function
  // when it was attached ("pid 99 httpd-tiny"), whose current call it cannot see. Those the
  // run counts, and the others (warned about, counted by no probe of verify). verify() itself
  // starts its workload after attaching, so it finds only others.
  std::vector<std::string> in_flight, in_flight_elsewhere;
  // "fired 1 time; struct sock: addresses set 1/1, port 1/1"; no events while a counted task
  // was in flight: "not observable in this run: pid 99 httpd-tiny was already inside ..."
  std::string summary() const;
};

struct VerifyResult {
  std::vector<std::string> sessions;
  std::string command;          // shell-quoted
  std::vector<uint16_t> ports;  // as used
  std::string ports_from;       // "--port", "the command line", ""
  int exit_status = 0;          // the workload's (128+N for a signal)
  double duration_s = 0;
  bool timed_out = false;
  uint64_t lost_events = 0;
  std::string in_flight_scan;  // "read 37 kernel stacks in 4 ms", "" when nothing was scanned
  std::vector<CandidateCheck> candidates;  // with --function: the set, in its order
  bool is_set = false;                     // the candidates are the functions asked for
  std::vector<std::string> warnings;
  uint64_t events() const;  // of every candidate
  // "the set fired 2 times: tcp_v4_connect 1, tcp_v6_connect 1"
  std::string set_summary() const;
};

Result<VerifyResult> verify(Database& db, const VerifyRequest& request);

// Ports a command line names: ":8080" (in a URL or host:port), or an argument after the first
// that is a number 1..65535. "tcp-keepwriter 127.0.0.1 9000 50" names 9000 and 50.
std::vector<uint16_t> ports_in_command(const std::vector<std::string>& command);

}  // namespace probeseek
