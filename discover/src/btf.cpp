#include "probeseek/btf.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "btf_types.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

constexpr std::string_view kLoadHint =
    "pass --btf FILE with the BTF of the kernel the trace came from (/sys/kernel/btf/vmlinux on "
    "that machine)";

std::string_view name_of(const struct btf* btf, const struct btf_type* t) {
  const char* name = btf__name_by_offset(btf, t->name_off);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

// libbpf 1.x reports failure as NULL with errno set; keep a usable errno even if it did not.
int last_errno_or(int fallback) {
  return errno != 0 ? errno : fallback;
}

// Why libbpf refused BTF, from its first bytes: libbpf's errno alone misleads (ENOENT for an ELF
// without .BTF reads "No such file or directory", garbage gives LIBBPF_ERRNO__FORMAT, printed by
// strerror as "Unknown error 4001").
Error load_failure(std::string_view head, uint64_t size, int err, const std::string& object,
                   const std::string& hint) {
  char text[128] = "";
  if (err >= __LIBBPF_ERRNO__START) libbpf_strerror(err, text, sizeof text);
  const std::string why = err >= __LIBBPF_ERRNO__START ? std::string(text) : std::strerror(err);
  auto byte = [&](size_t i) { return static_cast<unsigned char>(head[i]); };
  if (size == 0) return Error{ErrorKind::kBadInput, "empty file, not BTF", object, 0, hint};
  if (head.size() >= 4 && head.substr(0, 4) ==
                              "\x7f"
                              "ELF") {
    if (err == ENOENT || err == ESRCH)
      return Error{ErrorKind::kBadInput, "no .BTF section in ELF", object, 0,
                   "the kernel was built without CONFIG_DEBUG_INFO_BTF, or this is not a "
                   "vmlinux; " +
                       hint};
    return Error{ErrorKind::kBadInput, "cannot read the .BTF section of ELF (" + why + ")", object,
                 0, hint};
  }
  if (head.size() >= 2 &&
      ((byte(0) == 0x9f && byte(1) == 0xeb) || (byte(0) == 0xeb && byte(1) == 0x9f)))
    return Error{ErrorKind::kBadInput, "malformed BTF data (" + why + ")", object, 0,
                 "the file is truncated or damaged; " + hint};
  char magic[32] = "";
  if (head.size() >= 2) std::snprintf(magic, sizeof magic, " 0x%02x%02x", byte(0), byte(1));
  return Error{ErrorKind::kBadInput, std::string("not BTF data (bad magic") + magic + ")", object,
               0,
               "expected raw BTF (magic 0xeb9f, as /sys/kernel/btf/vmlinux) or an ELF with a "
               ".BTF section; " +
                   hint};
}

// The first bytes and the size of a file, to explain a load failure; nullopt when it cannot be
// read (the errno then says it all).
std::optional<std::pair<std::string, uint64_t>> file_head(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  char buf[8];
  const ssize_t n = ::fstat(fd, &st) == 0 ? ::read(fd, buf, sizeof buf) : -1;
  ::close(fd);
  if (n < 0) return std::nullopt;
  // /sys files have a stat size of 0 and may still hold data.
  const uint64_t size = n > 0 ? std::max<uint64_t>(static_cast<uint64_t>(st.st_size), 1) : 0;
  return std::pair{std::string(buf, static_cast<size_t>(n)), size};
}

}  // namespace

// Name lookups over every type id (for split BTF this includes the base's ids, so base
// functions and typedefs are found as libbpf's own btf__find_by_name would find them).
// The tables hold type ids and fetch names through libbpf on every hash and compare: libbpf may
// move a BTF's strings (adding a string to a split BTF makes its base "modifiable", which frees
// the base's raw data), so a pointer into them could dangle, while an id stays valid.
//
// Each table is open addressing over one vector of (id, hash) slots, linear probing, at most
// half full: no allocation per name. (The node-based unordered_set/map it replaces made 62,740
// allocations and as many frees for a 6.1 vmlinux: 44 M of the 262 M instructions of a rank.)
// Ids of one name sit along its probe sequence in the order they were added, increasing.
class NameTable {
 public:
  explicit NameTable(const struct btf* btf) : btf_(btf) {}
  // Before the first add(): room for `max_entries` names at most half full.
  void size_for(uint32_t max_entries) {
    size_t slots = 16;
    while (slots < size_t{max_entries} * 2) slots *= 2;
    slots_.assign(slots, Slot{});
    mask_ = slots - 1;
  }
  // With `unique`, an id whose name is there already is not added (the lowest id stays).
  void add(uint32_t id, std::string_view name, bool unique) {
    const uint32_t h = hash(name);
    size_t i = h & mask_;
    for (; slots_[i].id != 0; i = (i + 1) & mask_)
      if (unique && slots_[i].hash == h && name_of_id(slots_[i].id) == name) return;
    slots_[i] = Slot{id, h};
    ++names_;
  }
  // Calls f(id) for each id named `name`, in increasing id order, until f returns false.
  template <typename F>
  void for_each(std::string_view name, F&& f) const {
    const uint32_t h = hash(name);
    for (size_t i = h & mask_; slots_[i].id != 0; i = (i + 1) & mask_)
      if (slots_[i].hash == h && name_of_id(slots_[i].id) == name && !f(slots_[i].id)) return;
  }
  std::optional<uint32_t> first(std::string_view name) const {
    std::optional<uint32_t> out;
    for_each(name, [&](uint32_t id) {
      out = id;
      return false;
    });
    return out;
  }
  std::vector<uint32_t> ids(std::string_view name) const {
    std::vector<uint32_t> out;
    for_each(name, [&](uint32_t id) {
      out.push_back(id);
      return true;
    });
    return out;
  }
  size_t size() const { return names_; }

 private:
  struct Slot {
    uint32_t id = 0;  // 0: empty (type id 0 is void, which has no name)
    uint32_t hash = 0;
  };
  static uint32_t hash(std::string_view s) {
    return static_cast<uint32_t>(std::hash<std::string_view>{}(s));
  }
  std::string_view name_of_id(uint32_t id) const {
    return name_of(btf_, btf__type_by_id(btf_, id));
  }
  const struct btf* btf_;
  std::vector<Slot> slots_;
  size_t mask_ = 0, names_ = 0;
};

struct Btf::Index {
  explicit Index(const struct btf* btf) : functions(btf), named_types(btf) {}
  // Before the first add(): each table sized by the count of the kinds it holds (FUNCs; named
  // types), one pass over the types; every slot is a page touched.
  void size_tables(const struct btf* btf) {
    uint32_t funcs = 0, named = 0;
    for (uint32_t id = 1, end = btf__type_cnt(btf); id < end; ++id) {
      const struct btf_type* t = btf__type_by_id(btf, id);
      funcs += btf_is_func(t);
      named += indexed_as_named(t) && t->name_off != 0;
    }
    functions.size_for(funcs);
    named_types.size_for(named);
  }
  static bool indexed_as_named(const struct btf_type* t) {
    switch (btf_kind(t)) {
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_INT:
      case BTF_KIND_FLOAT:
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION:
      case BTF_KIND_ENUM:
      case BTF_KIND_ENUM64:
      case BTF_KIND_FWD:
        return true;
      default:
        return false;
    }
  }

  std::once_flag built;
  // FUNC ids by name; of several FUNCs with one name, the lowest id.
  NameTable functions;
  // Ids of the typedefs, integers, floats, structs, unions, enums and forward declarations of
  // each name, in increasing id order.
  NameTable named_types;
};

void Btf::Deleter::operator()(struct btf* raw) const {
  btf__free(raw);
}

Btf::Btf(struct btf* raw) : btf_(raw), index_(std::make_unique<Index>(raw)) {}
Btf::Btf(Btf&&) noexcept = default;
Btf& Btf::operator=(Btf&&) noexcept = default;
Btf::~Btf() = default;

Result<Btf> Btf::load(const std::string& path) {
  errno = 0;
  struct btf* raw = btf__parse(path.c_str(), nullptr);
  if (raw == nullptr) {
    const int err = last_errno_or(EINVAL);
    if (auto head = file_head(path))
      return tl::unexpected(
          load_failure(head->first, head->second, err, path, std::string(kLoadHint)));
    return runtime_error("cannot load BTF", path, errno ? errno : err, std::string(kLoadHint));
  }
  return Btf(raw);
}

Result<Btf> Btf::from_bytes(std::string_view bytes, const std::string& origin) {
  errno = 0;
  if (bytes.size() > UINT32_MAX) return bad_input("BTF larger than 4 GB", origin);
  struct btf* raw = btf__new(bytes.data(), static_cast<__u32>(bytes.size()));
  if (raw == nullptr)
    return tl::unexpected(load_failure(bytes.substr(0, 8), bytes.size(), last_errno_or(EINVAL),
                                       origin, "import the BTF again with --btf FILE"));
  return Btf(raw);
}

std::string Btf::raw_bytes() const {
  __u32 size = 0;
  const void* data = btf__raw_data(btf_.get(), &size);
  return data ? std::string(static_cast<const char*>(data), size) : std::string();
}

Result<Btf> Btf::load_split(const std::string& path, const Btf& base) {
  errno = 0;
  // libbpf takes the base non-const but only reads it.
  struct btf* raw = btf__parse_split(path.c_str(), const_cast<struct btf*>(base.raw()));
  if (raw == nullptr) {
    const int err = last_errno_or(EINVAL);
    const std::string hint =
        "pass the module's BTF (/sys/kernel/btf/MODULE) from the kernel whose vmlinux BTF is the "
        "base";
    if (auto head = file_head(path))
      return tl::unexpected(load_failure(head->first, head->second, err, path, hint));
    return runtime_error("cannot load module BTF", path, errno ? errno : err, hint);
  }
  return Btf(raw);
}

Result<Btf> Btf::from_bytes_split(std::string_view bytes, const Btf& base,
                                  const std::string& origin) {
  // libbpf 1.1 (Debian 12) does not export btf__new_split, and its split parsers read files:
  // the bytes go through an anonymous in-memory file.
  const int fd = memfd_create("probeseek-module-btf", MFD_CLOEXEC);
  if (fd < 0) return runtime_error("cannot make an in-memory file for module BTF", origin, errno);
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_fd{fd};
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return runtime_error("cannot write module BTF to memory", origin, errno);
    done += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  errno = 0;
  struct btf* raw = btf__parse_raw_split(path.c_str(), const_cast<struct btf*>(base.raw()));
  if (raw == nullptr)
    return tl::unexpected(load_failure(bytes.substr(0, 8), bytes.size(), last_errno_or(EINVAL),
                                       origin,
                                       "import it again with --module-btf DIR, next to the --btf "
                                       "it was built against"));
  return Btf(raw);
}

Btf Btf::adopt(struct btf* raw) {
  return Btf(raw);
}

const Btf::Index& Btf::index() const {
  std::call_once(index_->built, [this] {
    const struct btf* btf = raw();
    const uint32_t count = btf__type_cnt(btf);
    index_->size_tables(btf);
    for (uint32_t id = 1; id < count; ++id) {
      const struct btf_type* t = btf__type_by_id(btf, id);
      const std::string_view name = name_of(btf, t);
      if (name.empty()) continue;
      if (btf_is_func(t))
        index_->functions.add(id, name, true);  // keeps the lowest id
      else if (Index::indexed_as_named(t))
        index_->named_types.add(id, name, false);
    }
  });
  return *index_;
}

std::optional<uint32_t> Btf::function_id(std::string_view function) const {
  return index().functions.first(function);
}

size_t Btf::function_count() const {
  return index().functions.size();
}

std::optional<FunctionPrototype> Btf::prototype(std::string_view function) const {
  const auto func_id = function_id(function);
  if (!func_id) return std::nullopt;
  return prototype_of(*func_id);
}

std::optional<FunctionPrototype> Btf::prototype_of(uint32_t func_id) const {
  const struct btf* btf = raw();
  const struct btf_type* func = btf__type_by_id(btf, func_id);
  if (func == nullptr || !btf_is_func(func)) return std::nullopt;
  const struct btf_type* proto = btf__type_by_id(btf, func->type);
  if (proto == nullptr || !btf_is_func_proto(proto)) return std::nullopt;

  FunctionPrototype out;
  out.name = std::string(name_of(btf, func));
  switch (btf_vlen(func)) {  // a FUNC keeps its linkage in the vlen bits
    case BTF_FUNC_GLOBAL:
      out.linkage = Linkage::kGlobal;
      break;
    case BTF_FUNC_EXTERN:
      out.linkage = Linkage::kExtern;
      break;
    default:
      out.linkage = Linkage::kStatic;
      break;
  }
  out.func_id = func_id;
  out.proto_id = func->type;
  out.return_type_id = proto->type;
  out.return_type = detail::render_type(btf, proto->type);
  const uint16_t count = btf_vlen(proto);
  const struct btf_param* params = btf_params(proto);
  for (uint16_t i = 0; i < count; ++i) {
    if (i + 1 == count && params[i].type == 0 && params[i].name_off == 0) {
      out.variadic = true;
      break;
    }
    // A name that is not a C identifier is dropped (as if BTF had recorded none): it would
    // otherwise reach generated code, comments and the terminal as it is.
    const char* raw_name = btf__name_by_offset(btf, params[i].name_off);
    std::string name = raw_name != nullptr ? raw_name : "";
    if (!is_c_identifier(name)) name.clear();
    out.params.push_back(
        Parameter{std::move(name), detail::render_type(btf, params[i].type), params[i].type});
  }
  return out;
}

std::string Btf::type_name(uint32_t type_id) const {
  return detail::render_type(raw(), type_id);
}

std::vector<std::string> Btf::query_keys(const TypeQuery& query, bool resolve_typedefs) const {
  using Base = TypeQuery::Base;
  std::vector<std::string> keys;
  const std::string pointers(static_cast<size_t>(query.pointer_depth_), '*');
  switch (query.base_) {
    case Base::kStruct:
      keys.push_back(pointers + detail::struct_key(query.name_));
      break;
    case Base::kUnion:
      keys.push_back(pointers + detail::union_key(query.name_));
      break;
    case Base::kEnum:
      keys.push_back(pointers + detail::enum_key(query.name_));
      break;
    case Base::kVoid:
      keys.push_back(pointers + std::string(detail::kVoidKey));
      break;
    case Base::kInteger:
      keys.push_back(pointers + detail::integer_key(query.name_));
      break;
    case Base::kName: {
      const std::vector<uint32_t> named = index().named_types.ids(query.name_);
      if (named.empty()) break;
      const struct btf* btf = raw();
      // C's meaning of a bare name first: typedefs, then base types such as "double".
      for (int pass = 0; pass < 2 && keys.empty(); ++pass) {
        for (uint32_t id : named) {
          const struct btf_type* t = btf__type_by_id(btf, id);
          const bool wanted = pass == 0 ? btf_is_typedef(t) : (btf_is_int(t) || btf_is_float(t));
          if (!wanted) continue;
          std::string key = pointers + detail::type_key(btf, id, resolve_typedefs);
          if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
        }
      }
      if (!keys.empty() || !query.bare_identifier_) break;
      for (uint32_t id : named) {
        const struct btf_type* t = btf__type_by_id(btf, id);
        if (btf_is_struct(t) || (btf_is_fwd(t) && !btf_kflag(t))) {
          keys.push_back("*" + detail::struct_key(query.name_));
          break;
        }
        if (btf_is_union(t) || (btf_is_fwd(t) && btf_kflag(t))) {
          keys.push_back("*" + detail::union_key(query.name_));
          break;
        }
      }
      break;
    }
  }
  return keys;
}

bool Btf::type_matches(uint32_t type_id, const TypeQuery& query) const {
  return match_quality(type_id, query) != MatchQuality::kNone;
}

MatchQuality Btf::match_quality(uint32_t type_id, const TypeQuery& query) const {
  const auto resolved_keys = query_keys(query, true);
  const std::string resolved = detail::type_key(raw(), type_id, true);
  if (std::find(resolved_keys.begin(), resolved_keys.end(), resolved) == resolved_keys.end()) {
    return MatchQuality::kNone;
  }
  const auto spelled_keys = query_keys(query, false);
  const std::string spelled = detail::type_key(raw(), type_id, false);
  return std::find(spelled_keys.begin(), spelled_keys.end(), spelled) != spelled_keys.end()
             ? MatchQuality::kExact
             : MatchQuality::kThroughTypedef;
}

std::vector<int> Btf::matching_params(const FunctionPrototype& prototype,
                                      const TypeQuery& query) const {
  const auto keys = query_keys(query, true);
  std::vector<int> positions;
  for (size_t i = 0; i < prototype.params.size(); ++i) {
    const std::string key = detail::type_key(raw(), prototype.params[i].type_id, true);
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
      positions.push_back(static_cast<int>(i));
    }
  }
  return positions;
}

Status Btf::check(const TypeQuery& query) const {
  using Base = TypeQuery::Base;
  auto has = [&](auto predicate) {
    bool found = false;
    index().named_types.for_each(query.name_, [&](uint32_t id) {
      found = predicate(btf__type_by_id(raw(), id));
      return !found;
    });
    return found;
  };
  bool known = true;
  switch (query.base_) {
    case Base::kStruct:
      known = has([](const struct btf_type* t) {
        return btf_is_struct(t) || (btf_is_fwd(t) && !btf_kflag(t));
      });
      break;
    case Base::kUnion:
      known = has([](const struct btf_type* t) {
        return btf_is_union(t) || (btf_is_fwd(t) && btf_kflag(t));
      });
      break;
    case Base::kEnum:
      known = has([](const struct btf_type* t) { return btf_is_any_enum(t); });
      break;
    case Base::kName:
      known = !query_keys(query, true).empty();
      break;
    case Base::kVoid:
    case Base::kInteger:
      break;
  }
  if (known) return {};
  return bad_input("no such type in the kernel's BTF", query.text(),
                   "spell the type as in the kernel source, e.g. 'struct sock *', 'u32', or "
                   "just 'sock' for struct sock *");
}

std::optional<uint32_t> Btf::struct_size(std::string_view name) const {
  std::optional<uint32_t> size;
  index().named_types.for_each(name, [&](uint32_t id) {
    const struct btf_type* t = btf__type_by_id(raw(), id);
    if (btf_is_composite(t)) size = t->size;
    return !size;
  });
  return size;
}

std::string_view to_string(Linkage linkage) {
  switch (linkage) {
    case Linkage::kGlobal:
      return "global";
    case Linkage::kExtern:
      return "extern";
    case Linkage::kStatic:
      break;
  }
  return "static";
}

std::string FunctionPrototype::to_string() const {
  std::string declarator = name + "(";
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0) declarator += ", ";
    declarator += detail::declare(params[i].type, params[i].name);
  }
  if (variadic) declarator += params.empty() ? "..." : ", ...";
  if (params.empty() && !variadic) declarator += "void";
  declarator += ")";
  return detail::declare(return_type, declarator);
}

}  // namespace probeseek
