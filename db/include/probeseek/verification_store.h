// Results of `probeseek verify` (attach/verify.h) kept with the sessions: one row per candidate
// and session of a run, in table `verifications`, created by the first run (older databases,
// and read-only opens of them, have none). rank shows the latest for each candidate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/db.h"
#include "probeseek/error.h"

namespace probeseek {

struct VerificationRow {
  int64_t session_id = 0;
  std::string function;
  std::string command;      // the workload, shell-quoted
  std::string verified_at;  // UTC, ISO 8601
  int64_t rank = 0;
  bool attached = false;
  std::string how;  // the mechanism, or why it could not attach
  int64_t events = 0, sock_events = 0, sock_addresses_set = 0, sock_port_matches = 0;
  std::string ports;  // "8080,9000"
  std::string summary;
  std::vector<std::string> samples;  // formatted events; stored as a JSON array
};
// All rows of one run, in one transaction (the table is created when missing).
Status store_verifications(Database& db, const std::vector<VerificationRow>& rows);

// The rows of these sessions, newest first, at most `limit` (none without the table).
Result<std::vector<VerificationRow>> read_verifications(Database& db,
                                                        const std::vector<int64_t>& session_ids,
                                                        size_t limit);

struct LatestVerification {
  std::string summary, command, verified_at;
  int64_t events = 0;
};
// The latest run that attached a function, over some sessions; one prepared statement.
class VerificationLookup {
 public:
  static Result<VerificationLookup> make(Database& db, const std::vector<int64_t>& session_ids);
  Result<std::optional<LatestVerification>> latest(std::string_view function);

 private:
  std::optional<Statement> st_;  // none: no verifications table, or no sessions
};

}  // namespace probeseek
