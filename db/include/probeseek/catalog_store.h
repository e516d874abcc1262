// The kernel catalogue's tables (docs/schema.md, docs/kernels.md): one row per kernel build,
// its BTF and symbols kept compressed so a database can be investigated anywhere, and per
// function what compat needs, derived once when the kernel is added.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/db.h"

namespace probeseek {

// Bits of CatalogFunction::flags.
inline constexpr uint32_t kCatalogTraceable = 1;    // in the ftrace call-site table
inline constexpr uint32_t kCatalogBlacklisted = 2;  // in the kprobe blacklist

struct CatalogFunction {
  std::string name;       // "tcp_v4_connect" (clones are listed under their base name)
  std::string signature;  // encode_signature() of its BTF prototype; "" when not in BTF
  uint32_t flags = 0;
  uint32_t symbols = 0;  // text symbols of exactly this name (2+: several statics)
  std::string clones;    // "f.isra.0 f.cold" (space-separated), "" when none
  std::string module;    // "" in vmlinux; else the (first) loadable module defining it
};

// A struct member the generated and built-in probes read (compat's data check).
struct CatalogMember {
  std::string type;         // "struct sock"
  std::string member;       // "__sk_common.skc_daddr"
  std::string member_type;  // "__be32"; "" when the member does not exist on that kernel
  int64_t offset_bits = -1;
};

// One function pointer in an ops table of the kernel's data, found by OpsVerifier in the image as
// linked: socket_file_ops (a struct file_operations) .splice_write = splice_to_socket.
struct CatalogOpsSlot {
  std::string table;        // the data symbol: "socket_file_ops"
  std::string struct_name;  // "file_operations"
  std::string member;       // "splice_write"
  std::string function;     // the text symbol it points to; a clone keeps its suffix
};
// What a slot's names may be: C identifiers, with the dots of compiler suffixes (f.isra.0,
// a static local ops.0); at most 256 bytes.
bool is_ops_slot_name(std::string_view s);

struct CatalogKernel {
  int64_t id = 0;
  std::string name;  // the release: "6.1.0-56-cloud-amd64"
  std::string build_id;
  std::string source;
  std::string added_at;
  std::string compression;
  std::string symbols_from;
  std::string config;  // "CONFIG_KPROBES=y\n..."
  int64_t symbols = 0;
  int64_t functions = 0;  // distinct BTF functions
  std::optional<int64_t> traceable;
  std::optional<int64_t> blacklisted;
  int64_t btf_bytes = 0;
  std::optional<int64_t> ops_slots;  // nullopt: the source had no kernel data to scan
  int64_t modules = 0;               // loadable modules catalogued with it
};

struct CatalogKernelInput {
  CatalogKernel kernel;      // id and added_at are filled in by store_catalog_kernel
  std::string btf;           // raw BTF
  std::string symbols_text;  // "ADDR TYPE NAME" lines
  std::vector<CatalogFunction> functions;
  std::vector<CatalogMember> members;
  std::optional<std::vector<CatalogOpsSlot>> ops;  // nullopt: not scanned
  std::string ops_error;                           // why not (not stored)
  std::vector<std::string> modules;                // names of the modules read
  std::string modules_note;                        // damaged modules skipped (not stored)
};

// Adds a kernel in one transaction. A kernel whose build id (or, without one, whose name) is
// already catalogued is not added again: the existing id comes back with added == false.
// Another build under a catalogued name is bad input unless `replace`.
struct StoredKernel {
  int64_t id = 0;
  bool added = false;
};
Result<StoredKernel> store_catalog_kernel(Database& db, const CatalogKernelInput& input,
                                          bool replace);

Result<std::vector<CatalogKernel>> list_catalog_kernels(Database& db);
// Functions of one kernel by name; missing names are absent from the result.
Result<std::vector<CatalogFunction>> catalog_functions(Database& db, int64_t kernel_id,
                                                       const std::vector<std::string>& names);
// Every interned function name with its id (compat's replacement search indexes their words).
Result<std::vector<std::pair<int64_t, std::string>>> catalog_names(Database& db);
// Point lookups of one kernel's function by interned name id, one prepared statement.
class CatalogLookup {
 public:
  static Result<CatalogLookup> make(Database& db);
  Result<std::optional<CatalogFunction>> get(int64_t kernel_id, int64_t name_id);

 private:
  Statement st_;
};
Result<std::vector<CatalogMember>> catalog_members(Database& db, int64_t kernel_id);
// Kernel releases of the recorded sessions, newest session first (compat's default reference).
Result<std::vector<std::string>> session_kernel_releases(Database& db);
Result<std::string> catalog_btf(Database& db, int64_t kernel_id);  // raw BTF, decompressed
// A kernel's ops-table slots; nullopt when it was catalogued without them. Bad input when the
// stored list is damaged (sizes, names): it comes from a file someone may have handed over.
Result<std::optional<std::vector<CatalogOpsSlot>>> catalog_ops(Database& db, int64_t kernel_id);
Result<std::string> catalog_symbols_text(Database& db, int64_t kernel_id);

// Prototype encoding shared by the writer and compat. Each type is kept twice: as C spells it
// ("u32", "const char *") and as a structural key (typedefs resolved, qualifiers dropped,
// structs by name) that compares equal across kernels whatever the BTF ids.
struct SignatureParam {
  std::string type;
  std::string name;
  std::string key;
};
struct SignatureParts {
  std::string return_type;
  std::string return_key;
  std::vector<SignatureParam> params;
  bool variadic = false;
};
std::string encode_signature(const SignatureParts& parts);
SignatureParts decode_signature(std::string_view signature);

}  // namespace probeseek
