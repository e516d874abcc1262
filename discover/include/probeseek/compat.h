// Will this hook work on the kernels I run? The kernel catalogue (kernels add) keeps, per kernel,
// every function's BTF prototype, symbols, clones, traceability and blacklisting; compat turns
// them into one verdict per function and kernel, against a reference kernel (docs/compat.md).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "probeseek/catalog_store.h"
#include "probeseek/db.h"
#include "probeseek/error.h"
#include "probeseek/kernel_image.h"

namespace probeseek {

// Everything the catalogue stores about one kernel, derived from what a reader found. The BTF
// is parsed here, so damaged BTF is bad input naming facts.source.
Result<CatalogKernelInput> catalog_input(const KernelFacts& facts);

// kernels add: each source read (in parallel, `jobs` at a time, each holding one kernel in memory),
// derived and stored in its own transaction, so a bad source leaves the catalogue as it was.
// A source is a linux-image .deb, an unpacked package directory, a vmlinuz or vmlinux, a raw
// BTF file (optionally gzip'd), "live", or a Debian package name (downloaded into cache_dir).
struct AddKernelsRequest {
  std::vector<std::string> sources;
  std::string cache_dir;   // apt-get download target for package names
  std::string system_map;  // with a single image or BTF source
  std::string name;        // overrides the release name (single source)
  bool replace = false;
  bool modules = true;  // a package's loadable modules too (lib/modules/**.ko)
  unsigned jobs = 2;
};
struct AddedKernel {
  std::string source;
  std::string name;    // "" when it failed
  bool added = false;  // false: already catalogued (or failed)
  double seconds = 0;
  std::optional<Error> error;
  std::string ops_error;     // why its ops-table slots were not catalogued ("" when they were)
  std::string modules_note;  // "3 of 1121 modules skipped: damaged module: ..." ("" when none)
};
// progress(done, total, result) is called on the calling thread after each source.
Result<std::vector<AddedKernel>> add_kernels(
    Database& db, const AddKernelsRequest& request,
    const std::function<void(size_t, size_t, const AddedKernel&)>& progress);
// Package names for --debian: "all", "6.1", "6.12", or a substring of the name.
Result<std::vector<std::string>> debian_kernels_matching(const std::string& spec);

// The struct members the built-in probes (bpf/probe.bpf.c) and gen's programs read with CO-RE:
// "struct sock" "__sk_common.skc_daddr", "struct file" "f_path.dentry", ...
struct ProbeRead {
  const char* type;
  const char* member;
};
const std::vector<ProbeRead>& probe_reads();

struct Replacement {
  std::string function;
  std::string prototype;  // its C declaration on that kernel
  std::string why;        // "not in 6.1.0-56-cloud-amd64; shares by, path; takes const char *"
};

struct CompatEntry {
  std::string function;
  std::string kernel;
  // ok, prototype_changed, absent, clone_only, duplicate, not_traceable, blacklisted
  std::string status;
  std::string prototype;                  // the C declaration on that kernel ("" when not in BTF)
  std::string module;                     // the loadable module defining it; "" in vmlinux
  std::vector<std::string> changes;       // against the reference: "parameter 2 'uaddr' removed"
  std::vector<std::string> clones;        // clone_only, and clones seen beside the function
  std::vector<Replacement> replacements;  // absent only, best first, at most 3
  std::vector<std::string> notes;  // "traceability unknown: the source has no call-site table"
};

// A member the probes read, on one kernel, against the reference.
struct MemberCheck {
  std::string kernel;
  std::string type;
  std::string member;
  std::string status;  // ok, missing, retyped
  std::string member_type;
  std::string reference_type;
};

struct CompatRequest {
  std::vector<std::string> functions;
  std::vector<std::string> kernels;  // names; empty = every catalogued kernel
  std::string reference;             // a name; "" = the first kernel given (or catalogued)
};

struct CompatReport {
  std::string reference;
  std::vector<std::string> kernels;  // in the order compared (natural version order)
  std::vector<CompatEntry> entries;  // function-major, kernels in that order
  std::vector<MemberCheck> members;  // only what is not ok, kernel-major
};
Result<CompatReport> compat(Database& db, const CompatRequest& request);

// "6.12.100+deb12-amd64 .. 6.12.117+deb12-amd64 (18 kernels)", or the one name; the names in
// version order, as compat reports them.
std::string describe_kernels(const std::vector<std::string>& kernels);

// Kernel names in natural version order ("6.1.0-9" before "6.1.0-47", "6.12.100+deb12").
void sort_kernel_names(std::vector<std::string>& names);

}  // namespace probeseek
