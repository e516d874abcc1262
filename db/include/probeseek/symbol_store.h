// Symbol tables (kallsyms, available_filter_functions, the kprobe blacklist) stored as symbol
// sets, and name lookups over the sets linked to sessions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/database.h"
#include "probeseek/kallsyms.h"

namespace probeseek {

// Stores a symbol table file as a symbol set; returns its id. Kinds: "kallsyms",
// "filter_functions", "kprobe_blacklist". Must run inside the caller's transaction.
Result<int64_t> store_kallsyms(Database& db, const SymbolTable& table, const std::string& source);
// A recording's own kallsyms ("ADDR TYPE NAME [MODULE]" lines), kept as one zlib-compressed
// blob in symbol_sets.compressed_text: a trace.dat carries ~90k symbols, and turning them into
// indexed rows would cost more than importing the calls. load_kallsyms_set() reads either form.
Result<int64_t> store_kallsyms_text(Database& db, std::string_view text, size_t entries,
                                    const std::string& source);
Result<SymbolTable> load_kallsyms_set(Database& db, int64_t set_id);
// The text of a recording's own kallsyms set (decompressed).
Result<std::string> load_kallsyms_text(Database& db, int64_t set_id);
Result<int64_t> store_filter_functions(Database& db, const std::vector<FilterFunction>& functions,
                                       const std::string& source);
Result<int64_t> store_kprobe_blacklist(Database& db, const std::vector<BlacklistEntry>& entries,
                                       const std::string& source);

// Name lookups over the symbol sets linked to some sessions, without loading whole tables:
// indexed queries over rows, or one pass over a recording's own (compressed) kallsyms. The
// newest set of each kind wins; a full --kallsyms beats a recording's own list.
class SymbolLookups {
 public:
  static Result<std::unique_ptr<SymbolLookups>> open(Database& db,
                                                     const std::vector<int64_t>& session_ids);
  ~SymbolLookups();
  bool has_kallsyms() const;
  bool has_filter_functions() const;
  bool has_kprobe_blacklist() const;
  int kallsyms_count(std::string_view name);  // symbols of that name
  // The module ("nf_tables") a symbol of that name belongs to; "" when no symbol of that name is
  // in a module. Callers ask after vmlinux BTF had no prototype, so a module symbol that shares
  // its name with a vmlinux one is the better answer then.
  std::string module_of(std::string_view name);
  std::vector<uint64_t> kallsyms_addresses(std::string_view name);
  bool traceable(std::string_view name);    // in available_filter_functions
  bool blacklisted(std::string_view name);  // in the kprobe blacklist
  int64_t kallsyms_set() const;

 private:
  SymbolLookups() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace probeseek
