// What BTF tells discovery about a kernel function: its prototype spelled as C, which parameters
// have a type the user asked for (--arg), and which "ops table" members (struct fields holding
// function pointers, e.g. struct proto.connect) it has the right prototype to be assigned to
// (OpsIndex: ops_index.h; --arg types: type_query.h).
// Everything is derived from the BTF; nothing here knows a kernel function or struct by name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "probeseek/error.h"
#include "probeseek/kallsyms.h"  // strip_clone_suffix
#include "probeseek/type_query.h"

struct btf;  // libbpf

namespace probeseek {

enum class Linkage { kStatic, kGlobal, kExtern };  // BTF_FUNC_STATIC/GLOBAL/EXTERN
std::string_view to_string(Linkage linkage);       // "static", "global", "extern"

struct Parameter {
  std::string name;      // empty when BTF recorded none
  std::string type;      // C spelling without the name: "struct sock *", "int (*)(struct sock *)"
  uint32_t type_id = 0;  // BTF type id of the parameter (0 is void)
};

struct FunctionPrototype {
  std::string name;
  Linkage linkage = Linkage::kStatic;
  std::string return_type;  // C spelling, as Parameter::type
  uint32_t return_type_id = 0;
  std::vector<Parameter> params;  // without the "..." of a variadic function
  bool variadic = false;
  uint32_t func_id = 0;   // BTF FUNC id
  uint32_t proto_id = 0;  // BTF FUNC_PROTO id

  // The C declaration: "int tcp_v4_connect(struct sock *sk, struct sockaddr *uaddr, int addr_len)".
  // Parameter names are placed inside function-pointer and array declarators where C wants them.
  std::string to_string() const;
};

// A loaded BTF (vmlinux or a module's split BTF). Movable, not copyable. A moved-from Btf may only
// be destroyed or assigned to. Const member functions are safe to call from several threads.
class Btf {
 public:
  // Raw BTF (/sys/kernel/btf/vmlinux) or an ELF file with a .BTF section.
  static Result<Btf> load(const std::string& path);
  // Raw BTF bytes (as /sys/kernel/btf/vmlinux holds them), e.g. kept in the database.
  static Result<Btf> from_bytes(std::string_view bytes, const std::string& origin);
  // This BTF as raw bytes, whatever it was loaded from (an ELF's .BTF included).
  std::string raw_bytes() const;
  // A module's BTF, whose type ids continue those of `base` (vmlinux). `base` must outlive the
  // result; moving `base` is fine (libbpf keeps a pointer to the struct btf, which moves along).
  static Result<Btf> load_split(const std::string& path, const Btf& base);
  // A module's raw BTF bytes (as load_split reads them from /sys/kernel/btf/MODULE, e.g. kept in
  // the database) over `base`, with the same lifetime rule.
  static Result<Btf> from_bytes_split(std::string_view bytes, const Btf& base,
                                      const std::string& origin);
  // Takes ownership of a BTF built with btf__new_empty()/btf__add_*() (tests). `raw` must be
  // non-null and must be complete: name indexes are built once, on first use, and would not
  // see types added later.
  static Btf adopt(struct btf* raw);

  Btf(Btf&&) noexcept;
  Btf& operator=(Btf&&) noexcept;
  ~Btf();

  // For libbpf calls (btf_dump, btf__find_by_name_kind). Building a split BTF on top of it is
  // fine: nothing here keeps pointers into libbpf's storage, only type ids.
  const struct btf* raw() const { return btf_.get(); }

  // Looks up a FUNC by its exact name (index built once, on first use). Clone names such as
  // "f.isra.0" are not in BTF: pass strip_clone_suffix(name) to get the original's prototype.
  // When BTF has several FUNCs of one name (static functions in different files), the one with
  // the lowest id is used. For split BTF, functions of the base are found too.
  std::optional<FunctionPrototype> prototype(std::string_view function) const;
  // The same for one FUNC type id (no name lookup: a module's split BTF, walked by id).
  std::optional<FunctionPrototype> prototype_of(uint32_t func_id) const;
  std::optional<uint32_t> function_id(std::string_view function) const;
  size_t function_count() const;  // distinct FUNC names

  // C spelling of any type id: "struct sock *", "const char *", "int (*)(struct sock *, int)".
  std::string type_name(uint32_t type_id) const;

  // Whether the type with this id is the queried type, looking through typedefs and
  // const/volatile/restrict at every pointer level: a `const sock_t *` parameter (typedef struct
  // sock sock_t) matches "struct sock *". A typedef in the query matches by what it resolves
  // to, so "u32" matches unsigned int and __u32 alike; ask match_quality() to prefer exact ones.
  bool type_matches(uint32_t type_id, const TypeQuery& query) const;
  MatchQuality match_quality(uint32_t type_id, const TypeQuery& query) const;
  // 0-based positions of the parameters that match.
  std::vector<int> matching_params(const FunctionPrototype& prototype,
                                   const TypeQuery& query) const;
  // A bad-input Error when the query names a type this BTF does not have ("struct sokc *"),
  // so that a typo is reported instead of silently matching nothing.
  Status check(const TypeQuery& query) const;

  // sizeof(struct NAME) or sizeof(union NAME); nullopt when BTF has no complete type of that name.
  std::optional<uint32_t> struct_size(std::string_view name) const;

 private:
  struct Deleter {
    void operator()(struct btf* raw) const;
  };
  struct Index;  // lazily built name indexes, see btf.cpp

  explicit Btf(struct btf* raw);
  const Index& index() const;
  std::vector<std::string> query_keys(const TypeQuery& query, bool resolve_typedefs) const;

  std::unique_ptr<struct btf, Deleter> btf_;
  std::unique_ptr<Index> index_;
};

// Whether libbpf's C dumper (btf_dump: vmlinux.h and the declarations gen writes) can print this
// BTF: every reference in range, no type cycle except through a pointer to a named struct or
// union (a forward declaration breaks those), references nested at most 256 deep, at most 1
// million declarations written, every name printed a C identifier (base types: words), scalar
// sizes of 1-16 bytes and every member with an alignment.
// btf__parse accepts BTF that breaks each of these, and btf_dump then overflows the stack or
// runs out of memory. A bad-input Error names `source` and the first bad type id.
Status check_c_dumpable(const Btf& btf, const std::string& source);

}  // namespace probeseek
