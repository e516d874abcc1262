// `probeseek import`: recordings (trace.dat, report text) and symbol tables into sessions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "probeseek/database.h"
#include "probeseek/session_writer.h"

namespace probeseek {

// `probeseek import`: symbol tables first (parsed before anything is written), then one
// transaction per recording. A failure leaves every earlier session committed and the
// failing one absent; the symbol sets are committed with the first session that succeeds.
struct ImportRequest {
  std::vector<std::string> files;
  std::string name;  // only with one file; default: from the file name
  bool replace = false;
  SymbolInputs symbols;
};
struct ImportResult {
  std::vector<std::string> sessions;  // names, in order
  std::vector<std::string> warnings;  // lost events and the like, for main to print
  std::vector<int64_t> symbol_set_ids;
};
Result<ImportResult> import_recordings(Database& db, const ImportRequest& request);
// "curl_v4.report.txt.gz" -> "curl_v4.report", "/x/curl_v4.dat" -> "curl_v4".
std::string default_session_name(const std::string& path);

}  // namespace probeseek
