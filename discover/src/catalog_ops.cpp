// kernels add: the ops tables in a kernel's own data (catalog_ops.h).
#include "catalog_ops.h"

#include <algorithm>
#include <map>

#include "probeseek/ops_index.h"
#include "probeseek/ops_verify.h"

namespace probeseek {
namespace {

constexpr size_t kMaxSlots = size_t{1} << 20;  // what the catalogue stores; 6.1 has ~30k

// A decompressed image's data as linked: each read within one allocated section. Tables that
// boot code fills in (.bss, __ro_after_init ones set by initcalls) read as they were linked.
class ImageMemory final : public KernelMemory {
 public:
  explicit ImageMemory(const KernelElf& elf) : elf_(elf) {}
  Result<std::string> read(uint64_t address, size_t size) const override {
    std::string_view bytes = elf_.at(address, size);
    if (bytes.size() != size || size == 0)
      return bad_input("address not in one section of the image", elf_.origin());
    return std::string(bytes);
  }
  std::string describe() const override { return elf_.origin(); }

 private:
  const KernelElf& elf_;
};

}  // namespace

Result<std::vector<CatalogOpsSlot>> scan_catalog_ops(const KernelFacts& facts, const Btf& btf) {
  std::optional<KcoreMemory> kcore;
  std::optional<ImageMemory> image;
  const KernelMemory* memory = nullptr;
  if (facts.image) {
    image.emplace(*facts.image);
    memory = &*image;
  } else if (!facts.kcore.empty()) {
    auto opened = KcoreMemory::open(facts.kcore);
    if (!opened) return tl::unexpected(opened.error());
    kcore.emplace(std::move(*opened));
    memory = &*kcore;
  } else {
    return bad_input("the source has no kernel data to read ops tables from", facts.source,
                     "add the kernel's package or vmlinuz instead of its BTF alone");
  }
  const SymbolTable symbols = SymbolTable::from_symbols(facts.symbols);
  const OpsIndex ops = OpsIndex::build(btf);
  auto verifier = OpsVerifier::create(*memory, symbols, btf, ops);
  if (!verifier) return tl::unexpected(verifier.error());
  std::vector<std::string> names = ops.table_names();
  std::erase_if(names, [&](const std::string& n) { return !btf.struct_size(n); });
  auto instances = verifier->scan_all(names);
  if (!instances) return tl::unexpected(instances.error());

  // One struct per table: the one that explains the most pointers, then the larger, then by
  // name (a struct proto's first members also fit smaller structs).
  std::map<uint64_t, const OpsInstance*> best;
  auto size_of = [&](const OpsInstance& i) { return btf.struct_size(i.struct_name).value_or(0); };
  for (const OpsInstance& i : *instances) {
    auto [it, fresh] = best.emplace(i.address, &i);
    if (fresh) continue;
    const OpsInstance& b = *it->second;
    if (i.pointers.size() != b.pointers.size() ? i.pointers.size() > b.pointers.size()
        : size_of(i) != size_of(b)             ? size_of(i) > size_of(b)
                                               : i.struct_name < b.struct_name)
      it->second = &i;
  }
  // Names come from the image and its BTF: only what the catalogue stores as names is kept.
  std::vector<CatalogOpsSlot> out;
  for (const auto& [address, i] : best) {
    if (!i->module.empty() || !is_ops_slot_name(i->symbol) || !is_ops_slot_name(i->struct_name))
      continue;
    for (const OpsPointer& p : i->pointers)
      if (is_ops_slot_name(p.member) && is_ops_slot_name(p.function))
        out.push_back(CatalogOpsSlot{i->symbol, i->struct_name, p.member, p.function});
  }
  if (out.size() > kMaxSlots)
    return bad_input("more than " + std::to_string(kMaxSlots) + " ops-table slots", facts.source);
  return out;
}

}  // namespace probeseek
