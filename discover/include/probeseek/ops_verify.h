// Confirms what BTF only suggests. OpsIndex says "tcp_v4_connect has the prototype of struct
// proto member connect"; OpsVerifier reads the ops tables themselves out of kernel memory (live
// through /proc/kcore, or offline from a vmlinux ELF) and says "tcp_prot.connect =
// tcp_v4_connect (verified in /proc/kcore)". Pointers are read as 64-bit words in the host's byte
// order: 64-bit kernels only, and an image must have the host's byte order (checked on open).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/error.h"
#include "probeseek/kallsyms.h"
#include "probeseek/kernel_memory.h"
#include "probeseek/ops_index.h"

namespace probeseek {

// One non-NULL function pointer in a table.
enum class PrototypeCheck {
  kMatches,  // BTF gives the target the member's prototype
  kDiffers,  // BTF gives it another prototype (a cast in the initializer, or not really this type)
  // Not in BTF; or a compiler clone, or a name several static functions share, whose BTF
  // prototype differs (BTF may describe the original, or another function of that name).
  kUnknown,
};
struct OpsPointer {
  std::string member;    // "connect"
  uint32_t offset = 0;   // of the member in the struct
  uint64_t target = 0;   // the pointer plus pointer_bias(): the start of a text symbol
  std::string function;  // that symbol: "tcp_v4_connect"
  PrototypeCheck prototype = PrototypeCheck::kUnknown;
};

// A data symbol whose bytes look like an instance of the struct (see OpsVerifier).
struct OpsInstance {
  std::string symbol;  // "tcp_prot"
  std::string module;  // "" for vmlinux
  uint64_t address = 0;
  std::string struct_name;           // "proto"
  std::vector<OpsPointer> pointers;  // the non-NULL function-pointer members, in offset order
};

// "function is stored in table.member".
struct VerifiedMembership {
  std::string table;  // "tcp_prot"
  std::string module;
  uint64_t table_address = 0;
  std::string struct_name;  // "proto"
  std::string member;       // "connect"
  std::string function;     // the symbol pointed to: the function, or a clone of it (f.isra.0)
  uint64_t function_address = 0;
  std::string text;  // "tcp_prot.connect = tcp_v4_connect (verified in /proc/kcore)"
};

struct OpsScanStats {
  size_t passes = 0;              // reads of the data symbols (one per batch of new structs)
  size_t data_symbols = 0;        // distinct data symbol addresses a pass considers
  size_t unreadable_symbols = 0;  // summed over passes: symbols whose bytes could not be read
  size_t bytes_read = 0;
  size_t reads = 0;
  double seconds = 0;
};

// Finds ops tables without type information for data symbols (BTF has no VAR for most kernel
// globals). A data symbol (d/D/r/R/b/B/g/G/s/S/v/V) is taken for an instance of struct S when,
// reading sizeof(S) bytes at its address:
//  - no other symbol starts inside those bytes (kallsyms has no sizes; the next symbol bounds
//    the object),
//  - every function-pointer member of S holds NULL or the exact start of a text symbol,
//  - at least 2 of them are non-NULL,
//  - BTF agrees: at least one target has the member's prototype and at most one in five of
//    those BTF can judge has another (a cast initializer must not hide a real table; a table of
//    another struct type read as S must not pass).
// Only tables at the start of a symbol are seen: element 0 of an array of tables, or a table at
// offset 0 of a larger object, is reported under that symbol's name; others are missed.
// Each struct is scanned once and cached; one pass over the data symbols serves every struct
// asked for together, reading dense symbols in chunks of up to 4 MiB. Unreadable addresses are
// counted in stats(), never fatal. Not thread-safe (the cache); the references must outlive it.
class OpsVerifier {
 public:
  // Errors when `symbols` cannot locate tables: addresses hidden (kptr_restrict) or no data
  // symbols (a kernel built without CONFIG_KALLSYMS_ALL).
  static Result<OpsVerifier> create(const KernelMemory& memory, const SymbolTable& symbols,
                                    const Btf& btf, const OpsIndex& ops);
  OpsVerifier(OpsVerifier&&) noexcept;
  OpsVerifier& operator=(OpsVerifier&&) noexcept;
  ~OpsVerifier();

  // The tables that hold `function` (or a compiler clone of it, or any of several same-name
  // static functions) in a member whose prototype it has. A table slot that several structs
  // explain (the first members of a struct proto may also form a valid smaller struct) is
  // reported once, as the largest of them, then the member whose name fits the function best
  // (NameAffinity); remaining ties are all reported. Sorted by table, then member.
  std::vector<VerifiedMembership> verify(std::string_view function);
  // Instances of a struct or union in OpsIndex, sorted by address; empty for unknown names.
  const std::vector<OpsInstance>& instances_of(std::string_view struct_name);
  // Every instance of these structs, in one pass (a record-time scan that stores the results).
  // Bad input for a name OpsIndex or the BTF does not know; a runtime error when no data symbol
  // could be read at all (memory and symbols from different kernels, or a wrong KASLR offset).
  Result<std::vector<OpsInstance>> scan_all(const std::vector<std::string>& struct_names);

  const OpsScanStats& stats() const;

 private:
  struct Impl;
  explicit OpsVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace probeseek
