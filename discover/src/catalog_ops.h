// The ops-table slots of a catalogued kernel: OpsVerifier over the kernel's own data (the image
// as linked, or /proc/kcore for the running kernel), every table of every struct BTF says holds
// function pointers. compat names a function that took over an absent one's slot.
#pragma once

#include <string>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/catalog_store.h"
#include "probeseek/kernel_image.h"

namespace probeseek {

// The slots, one per non-NULL function pointer; where several structs explain one table (the
// first members of a struct proto also fit smaller structs), the one with the most pointers.
// An error says why the kernel's data could not be scanned (no image, no data symbols).
Result<std::vector<CatalogOpsSlot>> scan_catalog_ops(const KernelFacts& facts, const Btf& btf);

}  // namespace probeseek
