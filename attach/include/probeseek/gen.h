// A probe a user keeps: a small libbpf project in the style of libbpf-bootstrap, written for one
// kernel function, or a set of them, from the BTF of the kernel it will run on.
//
//   DIR/vmlinux.h      the kernel's types, dumped from BTF with libbpf's btf_dump
//   DIR/APP.h          the event, shared by the BPF program and the loader
//   DIR/APP.bpf.c      BPF_KPROBE / BPF_KRETPROBE / fentry / fexit with the real prototype
//   DIR/APP.c          the loader: skeleton, ring buffer, one line per event, Ctrl-C to stop
//   DIR/Makefile       clang -target bpf, bpftool gen skeleton, libbpf
//   DIR/README.md      how to build and run it
//
// APP is the function's name (with '.' and '$' as '_'), or for a set the name asked for. A set
// has one program per function, one ring buffer and one event struct: a `function` field
// (enum APP_function, named by the loader) and a union of each function's own arguments.
// Every FUNC is validated (kernel symbol characters only) before it reaches a file name or
// code; a compiler clone ("f.isra.0") is probed by its own name with the original's prototype.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "probeseek/attach.h"
#include "probeseek/btf.h"
#include "probeseek/db.h"
#include "probeseek/error.h"

namespace probeseek {

struct GenRequest {
  std::vector<std::string> functions;  // one, or a set (each named once)
  std::string name;  // the file stem, a C identifier; "": FUNC alone, FUNC1_and_N_more for a set
  ProbeType type = ProbeType::kKprobe;
  const Btf* btf = nullptr;  // the BTF of the kernel the probe is for (required)
  std::string btf_source;    // named in the generated comments
  std::string out_dir;       // created when missing; "": ./FUNC, or ./APP for a set
  bool force = false;        // replace files that exist (regular files only, never a link)
};

struct GeneratedFile {
  std::string name;  // "tcp_v4_connect.bpf.c"
  std::string text;
};

struct GenResult {
  std::string dir;
  std::string app;  // file stem and C identifier: the function name with '.' and '$' as '_'
  std::vector<std::string> functions;                         // as requested
  std::vector<std::pair<std::string, std::string>> programs;  // BPF program -> its function
  std::vector<GeneratedFile> files;
  std::vector<std::string> warnings;  // arguments not captured, clone ABI, ...
};

// The files, in memory (nothing is written).
Result<GenResult> render_probe(const GenRequest& request);
// render_probe(), then writes the files into request.out_dir: each to a new temporary file in
// that directory (O_EXCL, O_NOFOLLOW, through a descriptor of the directory opened with
// O_NOFOLLOW), renamed into place once complete; on failure the temporary file is removed.
// A file that exists is refused (bad input) unless request.force, and a name that is a symbolic
// link or not a regular file always is; so is an out_dir that is itself a symbolic link.
Result<GenResult> generate_probe(const GenRequest& request);

// gen --kernels: the project's BPF program compiled as its Makefile does (clang -g -O2 -target
// bpf, x86) and relocated by libbpf against each catalogued kernel's BTF, exactly as
// bpf_object__load relocates it on that kernel. libbpf 1.1 relocates only while loading, so the
// programs then reach this machine's kernel (no map is created; they are refused or unloaded at
// once): it needs clang and BPF (root). A relocation fails where libbpf finds no matching field
// or type; an existence check that finds nothing is the program's own answer, not a failure.
struct RelocationCheck {
  std::string kernel;
  size_t relocations = 0;
  // "struct sock.__sk_common.skc_daddr (byte_off)", and in a set " in FUNC1, FUNC2" after it
  std::vector<std::string> failed;
  std::string error;  // the kernel could not be checked
};
// `kernels`: catalogued names, empty = all, in version order.
Result<std::vector<RelocationCheck>> check_relocations(const GenResult& project, Database& db,
                                                       const std::vector<std::string>& kernels);

}  // namespace probeseek
