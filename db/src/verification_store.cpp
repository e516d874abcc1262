#include "probeseek/verification_store.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "probeseek/transaction.h"

namespace probeseek {

namespace {

Status ensure_table(Database& db) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS verifications ("
      "  id INTEGER PRIMARY KEY,"
      "  session_id INTEGER NOT NULL,"
      "  function TEXT NOT NULL,"
      "  command TEXT NOT NULL,"
      "  verified_at TEXT NOT NULL,"
      "  rank INTEGER NOT NULL,"
      "  attached INTEGER NOT NULL,"
      "  how TEXT NOT NULL,"  // the mechanism, or why it could not attach
      "  events INTEGER NOT NULL,"
      "  sock_events INTEGER NOT NULL,"
      "  sock_addresses_set INTEGER NOT NULL,"
      "  sock_port_matches INTEGER NOT NULL,"
      "  ports TEXT NOT NULL,"
      "  summary TEXT NOT NULL,"
      "  samples TEXT NOT NULL);"  // JSON array of formatted events
      "CREATE INDEX IF NOT EXISTS verifications_function ON verifications(function, session_id);");
}

}  // namespace

Status store_verifications(Database& db, const std::vector<VerificationRow>& rows) {
  auto tx = Transaction::begin(db);
  if (!tx) return tl::unexpected(tx.error());
  if (auto s = ensure_table(db); !s) return s;
  auto st = db.prepare(
      "INSERT INTO verifications(session_id, function, command, verified_at, rank, attached, "
      "how, events, sock_events, sock_addresses_set, sock_port_matches, ports, summary, samples) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return tl::unexpected(st.error());
  for (const VerificationRow& r : rows) {
    // Events carry kernel strings (comm, file names) that need not be UTF-8: invalid bytes
    // become U+FFFD rather than an exception.
    const std::string samples =
        nlohmann::json(r.samples).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    st->bind(1, r.session_id).bind(2, r.function).bind(3, r.command).bind(4, r.verified_at);
    st->bind(5, r.rank).bind(6, static_cast<int64_t>(r.attached)).bind(7, r.how);
    st->bind(8, r.events).bind(9, r.sock_events).bind(10, r.sock_addresses_set);
    st->bind(11, r.sock_port_matches).bind(12, r.ports).bind(13, r.summary).bind(14, samples);
    if (auto s = st->run(); !s) return s;
  }
  return tx->commit();
}

Result<std::vector<VerificationRow>> read_verifications(Database& db,
                                                        const std::vector<int64_t>& session_ids,
                                                        size_t limit) {
  std::vector<VerificationRow> out;
  auto found = db.has_table("verifications");
  if (!found) return tl::unexpected(found.error());
  if (!*found || session_ids.empty() || limit == 0) return out;
  std::string ids;
  for (int64_t id : session_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  auto st = db.prepare(
      "SELECT session_id, function, command, verified_at, rank, attached, how, events, "
      "sock_events, sock_addresses_set, sock_port_matches, ports, summary, samples "
      "FROM verifications WHERE session_id IN (" +
      ids + ") ORDER BY id DESC LIMIT ?");
  if (!st) return tl::unexpected(st.error());
  st->bind(1, static_cast<int64_t>(std::min<size_t>(limit, static_cast<size_t>(INT64_MAX))));
  for (;;) {
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    VerificationRow r;
    r.session_id = st->int_at(0);
    r.function = st->text_at(1);
    r.command = st->text_at(2);
    r.verified_at = st->text_at(3);
    r.rank = st->int_at(4);
    r.attached = st->int_at(5) != 0;
    r.how = st->text_at(6);
    r.events = st->int_at(7);
    r.sock_events = st->int_at(8);
    r.sock_addresses_set = st->int_at(9);
    r.sock_port_matches = st->int_at(10);
    r.ports = st->text_at(11);
    r.summary = st->text_at(12);
    // The samples are a JSON array of strings written by store_verifications; anything else
    // (a damaged or hostile database) is left out, not trusted.
    auto samples = nlohmann::json::parse(st->text_at(13), nullptr, /*allow_exceptions=*/false);
    if (samples.is_array())
      for (auto& s : samples)
        if (s.is_string()) r.samples.push_back(s.get<std::string>());
    out.push_back(std::move(r));
  }
  return out;
}

Result<VerificationLookup> VerificationLookup::make(Database& db,
                                                    const std::vector<int64_t>& session_ids) {
  VerificationLookup out;
  auto found = db.has_table("verifications");
  if (!found) return tl::unexpected(found.error());
  if (!*found || session_ids.empty()) return out;
  std::string ids;
  for (int64_t id : session_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  auto st = db.prepare(
      "SELECT summary, command, verified_at, events FROM verifications "
      "WHERE function = ? AND session_id IN (" +
      ids + ") AND attached = 1 ORDER BY id DESC LIMIT 1");
  if (!st) return tl::unexpected(st.error());
  out.st_ = std::move(*st);
  return out;
}

Result<std::optional<LatestVerification>> VerificationLookup::latest(std::string_view function) {
  if (!st_) return std::nullopt;
  st_->reset();
  st_->bind(1, function);
  auto row = st_->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::nullopt;
  return LatestVerification{st_->text_at(0), st_->text_at(1), st_->text_at(2), st_->int_at(3)};
}

}  // namespace probeseek
