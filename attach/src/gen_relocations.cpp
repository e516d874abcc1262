// gen --kernels: which CO-RE relocations of a generated program fail on which kernels. The work
// is libbpf's: bpf_object__load with btf_custom_path set to the kernel's BTF relocates the
// program the way it would on that kernel; libbpf's debug log says what each relocation matched.
#include <bpf/libbpf.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "libbpf_log.h"
#include "probeseek/catalog_store.h"
#include "probeseek/child.h"
#include "probeseek/compat.h"
#include "probeseek/gen.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

// A private scratch directory, removed with everything in it.
class ScratchDir {
 public:
  static Result<ScratchDir> make() {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/probeseek-gen-XXXXXX";
    if (::mkdtemp(path.data()) == nullptr)
      return runtime_error("cannot create a scratch directory", path, errno,
                           "set TMPDIR to a writable directory");
    return ScratchDir(path);
  }
  ScratchDir(ScratchDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  Status write(const std::string& name, std::string_view bytes) const {
    const std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) return runtime_error("cannot write", file, errno);
    return {};
  }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct ObjectCloser {
  void operator()(struct bpf_object* o) const { bpf_object__close(o); }
};

// One relocation as libbpf's debug lines tell it:
//   prog 'P': relo #3: <byte_off> [14] struct sock.__sk_common.skc_family (0:0:3 @ offset 16)
//   prog 'P': relo #3: matching candidate #0 <byte_off> [3075] struct sock...
//   prog 'P': relo #3: no matching targets found
struct Relo {
  std::string spec;  // the first line's text
  bool matched = false;
  bool unmatched = false;
  bool error = false;
};

// "<byte_off> [14] struct sock.x (0:1 @ offset 4)" -> "struct sock.x (byte_off)".
std::string describe(const std::string& spec) {
  std::string kind, rest = spec;
  if (rest.size() > 1 && rest[0] == '<') {
    const size_t close = rest.find('>');
    if (close != std::string::npos) {
      kind = rest.substr(1, close - 1);
      rest = rest.substr(close + 1);
    }
  }
  if (size_t b = rest.find('['); b != std::string::npos)
    if (size_t e = rest.find("] ", b); e != std::string::npos) rest = rest.substr(e + 2);
  if (size_t p = rest.rfind(" ("); p != std::string::npos) rest.resize(p);
  while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
  return kind.empty() ? rest : rest + " (" + kind + ")";
}

bool is_existence_check(const std::string& spec) {
  for (const char* kind : {"<field_exists>", "<type_exists>", "<enumval_exists>", "<type_matches>"})
    if (spec.rfind(kind, 0) == 0) return true;
  return false;
}

// `programs`: in a set, which function each program probes; a failure then names the
// functions whose programs have it (the decoders are shared, so most fail in all of them).
void read_log(const std::vector<std::string>& lines,
              const std::vector<std::pair<std::string, std::string>>& programs,
              RelocationCheck& out) {
  std::map<std::pair<std::string, int>, Relo> relos;
  for (const std::string& line : lines) {
    const size_t p = line.find("prog '");
    const size_t r = line.find("': relo #");
    if (p == std::string::npos || r == std::string::npos || r < p) continue;
    const std::string prog = line.substr(p + 6, r - p - 6);
    const size_t num = r + 9;
    size_t colon = line.find(": ", num);
    if (colon == std::string::npos) continue;
    int n = 0;
    try {
      n = std::stoi(line.substr(num, colon - num));
    } catch (...) {
      continue;
    }
    const std::string text = line.substr(colon + 2);
    Relo& relo = relos[{prog, n}];
    if (relo.spec.empty() && !text.empty() && text[0] == '<') {
      relo.spec = text;
    } else if (text.find("no matching targets found") != std::string::npos ||
               text.find("substituting insn") != std::string::npos) {
      relo.unmatched = true;
    } else if (text.find("matching candidate") != std::string::npos ||
               text.find("patched insn") != std::string::npos) {
      relo.matched = true;
    } else if (text.find("failed") != std::string::npos ||
               text.find("ambiguity") != std::string::npos) {
      relo.error = true;
    }
  }
  out.relocations = relos.size();
  std::vector<std::pair<std::string, std::vector<std::string>>> failed;  // in order, with where
  for (const auto& [key, relo] : relos) {
    if (!relo.error && !(relo.unmatched && !is_existence_check(relo.spec))) continue;
    std::string what =
        describe(relo.spec.empty() ? "relocation #" + std::to_string(key.second) : relo.spec);
    if (programs.empty()) {
      out.failed.push_back(std::move(what));
      continue;
    }
    std::string function = key.first;
    for (const auto& [program, f] : programs)
      if (program == key.first) function = f;
    auto it = std::find_if(failed.begin(), failed.end(),
                           [&](const auto& entry) { return entry.first == what; });
    if (it == failed.end()) it = failed.insert(failed.end(), {what, {}});
    if (std::find(it->second.begin(), it->second.end(), function) == it->second.end())
      it->second.push_back(function);
  }
  for (const auto& [what, where] : failed) out.failed.push_back(what + " in " + join(where, ", "));
}

// Relocates `object` against the BTF in `btf_path`; what libbpf says about each relocation.
void relocate(const std::string& object, const std::string& btf_path,
              const std::vector<std::pair<std::string, std::string>>& programs,
              RelocationCheck& out) {
  internal::LibbpfDebugLines log;
  internal::clear_libbpf_log();
  LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path.c_str());
  std::unique_ptr<struct bpf_object, ObjectCloser> obj(
      bpf_object__open_file(object.c_str(), &opts));
  if (!obj) {
    out.error = "libbpf cannot open the compiled program: " + internal::libbpf_log_tail(3);
    return;
  }
  struct bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj.get()) bpf_map__set_autocreate(map, false);
  (void)bpf_object__load(obj.get());  // refused by this kernel: the relocations are done by then
  const std::vector<std::string> lines = log.take();
  bool relocated = false;
  for (const std::string& l : lines)
    relocated |=
        l.find("CO-RE relocations") != std::string::npos || l.find("relo #") != std::string::npos;
  if (!relocated) {
    // No relocation pass: the object has none, or libbpf stopped before it (no BPF here).
    for (const std::string& l : lines)
      if (l.find("trivial BPF program") != std::string::npos ||
          l.find("failed to parse target BTF") != std::string::npos) {
        out.error = internal::libbpf_log_tail(2);
        return;
      }
    return;
  }
  read_log(lines, programs, out);
}

}  // namespace

Result<std::vector<RelocationCheck>> check_relocations(const GenResult& project, Database& db,
                                                       const std::vector<std::string>& kernels) {
  auto catalogued = list_catalog_kernels(db);
  if (!catalogued) return tl::unexpected(catalogued.error());
  if (catalogued->empty())
    return bad_input("the kernel catalogue is empty", db.path(),
                     "add kernels first: probeseek kernels add --debian 6.1");
  std::vector<std::string> names = kernels;
  if (names.empty())
    for (const CatalogKernel& k : *catalogued) names.push_back(k.name);
  std::map<std::string, int64_t> id_of;
  for (const CatalogKernel& k : *catalogued) id_of.emplace(k.name, k.id);
  for (const std::string& n : names)
    if (!id_of.count(n))
      return bad_input("no kernel " + printable(n) + " in the catalogue", db.path(),
                       "list them with: probeseek kernels");
  sort_kernel_names(names);
  names.erase(std::unique(names.begin(), names.end()), names.end());

  auto dir = ScratchDir::make();
  if (!dir) return tl::unexpected(dir.error());
  const std::string source = project.app + ".bpf.c", object = project.app + ".bpf.o";
  for (const GeneratedFile& f : project.files)
    if (f.name == "vmlinux.h" || f.name == project.app + ".h" || f.name == source)
      if (auto s = dir->write(f.name, f.text); !s) return tl::unexpected(s.error());
  ChildOptions opts;
  opts.cwd = dir->path();
  opts.timeout = std::chrono::minutes(5);
  auto cc = run_child(
      {"clang", "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-c", source, "-o", object},
      opts);
  if (!cc) return tl::unexpected(cc.error());
  if (cc->exit_status == 127)
    return runtime_error("clang is not installed", "clang", 0,
                         "apt-get install clang (gen --kernels compiles the program to relocate "
                         "it)");
  if (!cc->ok())
    return runtime_error("clang could not compile " + source,
                         cc->err.substr(0, std::min<size_t>(cc->err.size(), 2000)), 0,
                         "build the project with make -C DIR to see why");

  std::vector<RelocationCheck> out;
  for (const std::string& name : names) {
    RelocationCheck check;
    check.kernel = name;
    auto btf = catalog_btf(db, id_of.at(name));
    if (!btf) return tl::unexpected(btf.error());
    if (auto s = dir->write("kernel.btf", *btf); !s) return tl::unexpected(s.error());
    relocate(dir->path() + "/" + object, dir->path() + "/kernel.btf",
             project.functions.size() > 1 ? project.programs
                                          : std::vector<std::pair<std::string, std::string>>{},
             check);
    out.push_back(std::move(check));
  }
  return out;
}

}  // namespace probeseek
