// Kernel BTF kept with sessions (vmlinux and module BTF), so ranking works on another machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/database.h"

namespace probeseek {

// Kernel BTF kept with sessions (zlib-compressed raw BTF, stored once per distinct content),
// so ranking works on another machine. Must run inside the caller's transaction.
Result<int64_t> store_btf(Database& db, std::string_view raw_btf, const std::string& source);
Status link_session_btf(Database& db, int64_t session_id, int64_t btf_id);
struct StoredBtf {
  int64_t id = 0;
  std::string source;
  std::string bytes;  // raw BTF
};
// The BTF stored for a session, if any.
Result<std::optional<StoredBtf>> load_session_btf(Database& db, int64_t session_id);
// The id of a stored BTF with exactly these bytes (e.g. the same file given again with --btf),
// so that module BTF stored with it can be found.
Result<std::optional<int64_t>> find_btf(Database& db, std::string_view raw_btf);

// A kernel module's BTF (/sys/kernel/btf/MODULE): split BTF, meaningful only on top of the
// vmlinux BTF it was built against, so it is keyed by that base (a btfs id) and the module's
// name. Raw bytes, as the kernel exposes them. Storing the same bytes again returns the existing
// id; different bytes for the same (base, module) replace the old ones, since one kernel build
// has one BTF per module and the newer copy is the one just read from it. Must run inside the
// caller's transaction. Table module_btfs, added after schema version 1: databases written
// before it gain it on their next read-write open, and the readers below treat its absence as
// "nothing stored".
Result<int64_t> store_module_btf(Database& db, int64_t base_btf_id, const std::string& module,
                                 std::string_view raw_btf, const std::string& source);
struct StoredModuleBtf {
  int64_t id = 0;
  std::string module;
  std::string source;  // where it was read from: "/sys/kernel/btf/nf_tables (probeseek record)"
  std::string bytes;   // raw split BTF
};
Result<std::optional<StoredModuleBtf>> load_module_btf(Database& db, int64_t base_btf_id,
                                                       const std::string& module);
// Names of the modules whose BTF is stored over this base, sorted.
Result<std::vector<std::string>> stored_module_btfs(Database& db, int64_t base_btf_id);
// Modules that own functions recorded in the session, sorted: the module column of its
// functions (filled from the kallsyms the session was written with) and, for functions without
// one, the module the session's linked kallsyms set names for them. Inside the session's own
// transaction, before commit, only the former is known (the links are written by commit()).
Result<std::vector<std::string>> session_modules(Database& db, int64_t session_id);

}  // namespace probeseek
