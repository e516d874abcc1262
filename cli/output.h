// Output shared by the commands that print what the database holds.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace probeseek::cli {

// JSON text for stdout. Names from a kernel (comm, file and function names) are bytes, not
// always UTF-8: an invalid byte becomes U+FFFD (the JSON stays valid, where nlohmann's default
// throws and the command aborts); a NUL is written as \u0000, never truncating the string.
inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The same on one line, for streams of events (one JSON object per line).
inline std::string dump_json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace probeseek::cli
