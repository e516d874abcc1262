#include "probeseek/ops_store.h"

#include "probeseek/ops_index.h"
#include "probeseek/session_queries.h"
#include "probeseek/text.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>
#include <unordered_map>

namespace probeseek {

namespace {

// Every slot of each (struct, member) that holds a recorded function, over all the tables of
// that struct found: the recorded function's own and its siblings'. A target BTF gives another
// prototype (a cast initializer) is left out.
std::vector<OpsSlotRow> sibling_slots(OpsVerifier& verifier,
                                      const std::vector<OpsMembershipRow>& memberships) {
  std::set<std::pair<std::string, std::string>> members;
  for (const OpsMembershipRow& m : memberships) members.emplace(m.struct_name, m.member);
  std::vector<OpsSlotRow> out;
  for (const auto& [struct_name, member] : members)
    for (const OpsInstance& table : verifier.instances_of(struct_name))
      for (const OpsPointer& p : table.pointers)
        if (p.member == member && p.prototype != PrototypeCheck::kDiffers)
          out.push_back({struct_name, member, table.symbol, table.module, p.function});
  return out;
}

}  // namespace

Result<OpsScanReport> scan_and_store_ops(Database& db, int64_t session_id, const Btf& btf,
                                         const KernelMemory& memory, const SymbolTable& symbols) {
  auto started = std::chrono::steady_clock::now();
  OpsScanReport report;
  report.memory = memory.describe();

  // The session's functions, by their BTF name (clones map to the original's prototype).
  std::unordered_map<std::string, std::vector<std::string>> recorded_by_btf_name;
  auto names = function_names(db, session_id);
  if (!names) return tl::unexpected(names.error());
  for (std::string& name : *names)
    recorded_by_btf_name[std::string(strip_clone_suffix(name))].push_back(std::move(name));
  OpsIndex ops = OpsIndex::build(btf);
  std::set<std::string> structs;
  std::vector<std::string> with_fits;
  for (auto& [btf_name, recorded] : recorded_by_btf_name) {
    auto fits = ops.fits(btf, btf_name);
    if (fits.empty()) continue;
    with_fits.push_back(btf_name);
    for (const OpsFit& f : fits) structs.insert(f.struct_name);
  }
  std::sort(with_fits.begin(), with_fits.end());
  report.functions_with_fits = with_fits.size();
  report.structs = structs.size();

  auto verifier = OpsVerifier::create(memory, symbols, btf, ops);
  if (!verifier) return tl::unexpected(verifier.error());
  if (!structs.empty()) {
    // One pass over the data symbols for all of them; verify() below then reads the cache.
    auto instances = verifier->scan_all({structs.begin(), structs.end()});
    if (!instances) return tl::unexpected(instances.error());
    report.tables = instances->size();
  }

  std::vector<OpsMembershipRow> rows;
  for (const std::string& btf_name : with_fits) {
    for (const VerifiedMembership& v : verifier->verify(btf_name)) {
      // Stored under the recorded name(s): what rank and explain look up.
      for (const std::string& recorded : recorded_by_btf_name[btf_name])
        rows.push_back(
            {recorded, v.table, v.module, v.table_address, v.struct_name, v.member, v.function});
    }
  }
  report.memberships = rows.size();
  std::vector<OpsSlotRow> slots = sibling_slots(*verifier, rows);
  report.unreadable_symbols = verifier->stats().unreadable_symbols;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  OpsScanRow scan{report.memory,
                  now_utc(),
                  static_cast<int64_t>(report.structs),
                  static_cast<int64_t>(report.tables),
                  static_cast<int64_t>(report.memberships),
                  static_cast<int64_t>(report.unreadable_symbols),
                  report.seconds};
  if (auto s = replace_ops_scan(db, session_id, scan, rows, slots); !s)
    return tl::unexpected(s.error());
  return report;
}

}  // namespace probeseek
