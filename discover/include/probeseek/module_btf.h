// BTF of kernel modules. A function that lives in a module (its kallsyms line ends in
// "[nf_tables]") is not in vmlinux BTF: the kernel describes it in /sys/kernel/btf/MODULE, a
// split BTF whose type ids continue vmlinux's, so it only means something on top of the vmlinux
// BTF it was built against. Module BTF is kept in the database keyed by that base (db.h,
// store_module_btf), written by record and by import --module-btf, and read here.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/db.h"
#include "probeseek/ops_index.h"

namespace probeseek {

// Module BTF for rank and explain, each module loaded once, on first use: the copy stored with
// the base BTF, else (when the base is the running kernel's) DIR/MODULE next to the live vmlinux
// BTF. The base must outlive this object.
class ModuleBtfs {
 public:
  struct Options {
    // The base's id in the database's btfs table, when the base is stored there.
    std::optional<int64_t> stored_base_id;
    // Directory of the running kernel's module BTF ("/sys/kernel/btf"), when the base is the
    // running kernel's vmlinux BTF; "" otherwise.
    std::string live_dir;
  };
  ModuleBtfs(Database& db, const Btf& base, Options options);

  struct Module {
    std::optional<Btf> btf;  // nullopt: not available, see `missing`
    // "BTF of module nf_tables (stored with the session)" or
    // "BTF of module nf_tables (/sys/kernel/btf/nf_tables)"
    std::string source;
    std::string missing;  // why there is none, and what to pass instead
  };
  // The module's BTF (or why there is none). A database error is reported as `missing` too:
  // module BTF adds evidence, and its absence must not stop a ranking.
  const Module& get(const std::string& module);
  // The ops tables of vmlinux and the module together (tables a module defines, such as its own
  // struct of ops, live only in its BTF). Built on first use; nullptr without module BTF.
  const OpsIndex* ops(const std::string& module);

 private:
  Database& db_;
  const Btf& base_;
  Options options_;
  std::map<std::string, Module> modules_;  // node-based: references handed out stay valid
  std::map<std::string, OpsIndex> ops_;
};

// Where a function's prototype comes from: vmlinux BTF or, for a function kallsyms places in a
// module that vmlinux BTF does not describe, that module's BTF.
struct FunctionBtf {
  std::optional<FunctionPrototype> prototype;
  const Btf* btf = nullptr;  // the BTF the prototype's type ids belong to
  std::string module;        // kallsyms' module of the function, "" for vmlinux or unknown
  std::string source;        // ModuleBtfs::Module::source when the module has BTF
  std::string missing;       // module function, but no BTF for its module: why, what to pass
};
// `name` as recorded (clone suffixes are stripped here). `symbols` and `modules` may be null.
FunctionBtf find_function_btf(std::string_view name, const Btf* vmlinux, SymbolLookups* symbols,
                              ModuleBtfs* modules);

// record and import --module-btf: stores DIR/MODULE (the layout of /sys/kernel/btf) for every
// module that owns a function recorded in the session (session_modules()), over the base BTF
// `base` whose btfs id is `base_id`. Each file is parsed as split BTF over `base` before it is
// stored. A missing or unreadable file is a warning, not an error: the session is still useful
// without it. Must run inside the caller's transaction.
struct ModuleBtfStore {
  std::vector<std::string> stored;  // module names
  std::vector<std::string> warnings;
};
Result<ModuleBtfStore> store_session_module_btfs(Database& db, int64_t session_id, int64_t base_id,
                                                 const Btf& base, const std::string& dir,
                                                 const std::string& origin);

}  // namespace probeseek
