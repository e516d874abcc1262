// BTF bytes as import stores them (--btf: raw vmlinux BTF; --module-btf: split BTF over a base),
// then what gen does with them: prototypes rendered as C, the check that libbpf's C dumper can
// print the types, and the whole project rendered (vmlinux.h through btf_dump). The first byte
// picks raw (even) or split over a small base (odd); the rest is the BTF. An input that starts
// with the BTF magic itself is raw BTF, whole.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "btf_fuzz_base.h"
#include "probeseek/btf.h"
#include "probeseek/gen.h"
#include "probeseek/text.h"

namespace {

const probeseek::Btf& base() {
  static probeseek::Btf* b =
      new probeseek::Btf(probeseek::Btf::adopt(probeseek::fuzz::make_base_btf()));
  return *b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace probeseek;
  if (size == 0) return 0;
  // Raw BTF as it is (the 6.1 kernel's, a seed) starts with the magic 0xeb9f.
  const bool whole = size >= 2 && data[0] == 0x9f && data[1] == 0xeb;
  std::string_view bytes(reinterpret_cast<const char*>(data) + (whole ? 0 : 1),
                         size - (whole ? 0 : 1));
  auto btf = !whole && (data[0] & 1) ? Btf::from_bytes_split(bytes, base(), "fuzz")
                                     : Btf::from_bytes(bytes, "fuzz");
  if (!btf) return 0;
  const struct btf* raw = btf->raw();
  const uint32_t count = btf__type_cnt(raw);
  // The prototype renderer, on every function (a bounded number of them).
  std::string function;
  uint32_t functions = 0;
  for (uint32_t id = 1; id < count && functions < 64; ++id) {
    const struct btf_type* t = btf__type_by_id(raw, id);
    if (!btf_is_func(t)) continue;
    ++functions;
    const char* name = btf__name_by_offset(raw, t->name_off);
    if (name == nullptr) continue;
    auto p = btf->prototype(name);
    if (p) (void)p->to_string();
    if (function.empty() && is_kernel_symbol_name(name)) function = name;
  }
  for (uint32_t id = 0; id < count && id < 256; ++id) (void)btf->type_name(id);
  // What gen does: the check, then (when it passes) btf_dump over every type.
  if (!check_c_dumpable(*btf, "fuzz")) return 0;
  if (function.empty()) return 0;
  for (ProbeType type : {ProbeType::kKprobe, ProbeType::kFexit}) {
    GenRequest request;
    request.functions = {function};
    request.type = type;
    request.btf = &*btf;
    request.btf_source = "fuzz";
    (void)render_probe(request);
  }
  return 0;
}
