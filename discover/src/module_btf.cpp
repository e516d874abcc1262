#include "probeseek/module_btf.h"
#include "probeseek/ops_index.h"

#include <sys/stat.h>

namespace probeseek {

namespace {

constexpr const char* kMissingHint =
    "pass `probeseek import --module-btf DIR` (a copy of the traced machine's /sys/kernel/btf), "
    "or rank on the traced machine";

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A module name becomes a path component: nothing that could leave the directory.
bool plausible_module_name(const std::string& module) {
  if (module.empty() || module == "." || module == "..") return false;
  return module.find('/') == std::string::npos;
}

// kallsyms brackets more than modules: "[bpf]" for BPF programs, "[__builtin__ftrace]" and
// "[__builtin__kprobes]" for trampolines and probe slots. None has BTF of its own.
bool is_pseudo_module(std::string_view module) {
  return module == "bpf" || module.starts_with("__builtin__");
}

}  // namespace

ModuleBtfs::ModuleBtfs(Database& db, const Btf& base, Options options)
    : db_(db), base_(base), options_(std::move(options)) {}

const ModuleBtfs::Module& ModuleBtfs::get(const std::string& module) {
  auto found = modules_.find(module);
  if (found != modules_.end()) return found->second;
  Module& m = modules_[module];
  if (!plausible_module_name(module)) {
    m.missing = "'" + module + "' is not a module name";
    return m;
  }
  if (options_.stored_base_id) {
    auto stored = load_module_btf(db_, *options_.stored_base_id, module);
    if (!stored) {
      m.missing = "module BTF of " + module + " not read: " + stored.error().message();
      return m;
    }
    if (*stored) {
      auto btf = Btf::from_bytes_split((*stored)->bytes, base_, (*stored)->source);
      if (!btf) {
        m.missing = btf.error().message();
        return m;
      }
      m.btf = std::move(*btf);
      m.source = "BTF of module " + module + " (stored with the session)";
      return m;
    }
  }
  if (!options_.live_dir.empty()) {
    std::string path = options_.live_dir + "/" + module;
    if (!is_file(path)) {
      m.missing = "no BTF of module " + module + ": " + path +
                  " does not exist on this machine (the module is not loaded, or was built "
                  "without BTF); " +
                  kMissingHint;
      return m;
    }
    auto btf = Btf::load_split(path, base_);
    if (!btf) {
      m.missing = btf.error().message();
      return m;
    }
    m.btf = std::move(*btf);
    m.source = "BTF of module " + module + " (" + path + ")";
    return m;
  }
  m.missing = "no BTF of module " + module + " is stored with the sessions; " + kMissingHint;
  return m;
}

const OpsIndex* ModuleBtfs::ops(const std::string& module) {
  const Module& m = get(module);
  if (!m.btf) return nullptr;
  auto it = ops_.find(module);
  if (it == ops_.end()) it = ops_.emplace(module, OpsIndex::build(*m.btf)).first;
  return &it->second;
}

FunctionBtf find_function_btf(std::string_view name, const Btf* vmlinux, SymbolLookups* symbols,
                              ModuleBtfs* modules) {
  FunctionBtf out;
  std::string_view base = strip_clone_suffix(name);
  if (vmlinux) {
    out.prototype = vmlinux->prototype(base);
    out.btf = vmlinux;
    if (out.prototype) return out;
  }
  if (!symbols || !symbols->has_kallsyms()) return out;
  auto module_of = [&](std::string_view n) {
    std::string module = symbols->module_of(n);
    return is_pseudo_module(module) ? std::string() : module;
  };
  out.module = module_of(name);
  if (out.module.empty() && base != name) out.module = module_of(base);
  if (out.module.empty()) return out;
  if (!modules) return out;  // no vmlinux BTF either: the caller already says so
  const ModuleBtfs::Module& m = modules->get(out.module);
  if (!m.btf) {
    out.missing = m.missing;
    return out;
  }
  out.prototype = m.btf->prototype(base);
  out.btf = &*m.btf;
  out.source = m.source;
  if (!out.prototype) out.missing = m.source + " has no prototype for " + std::string(base);
  return out;
}

Result<ModuleBtfStore> store_session_module_btfs(Database& db, int64_t session_id, int64_t base_id,
                                                 const Btf& base, const std::string& dir,
                                                 const std::string& origin) {
  ModuleBtfStore out;
  auto modules = session_modules(db, session_id);
  if (!modules) return tl::unexpected(modules.error());
  std::vector<std::string> absent;
  for (const std::string& module : *modules) {
    if (!plausible_module_name(module) || is_pseudo_module(module)) continue;
    std::string path = dir + "/" + module;
    if (!is_file(path)) {
      absent.push_back(module);
      continue;
    }
    // Parsed before it is stored: a file that is not split BTF over this base would only
    // surface later, as a confusing failure on another machine.
    auto btf = Btf::load_split(path, base);
    if (!btf) {
      out.warnings.push_back("BTF of module " + module + " not saved: " + btf.error().message());
      continue;
    }
    auto id = store_module_btf(db, base_id, module, btf->raw_bytes(), path + origin);
    if (!id) return tl::unexpected(id.error());
    out.stored.push_back(module);
  }
  if (!absent.empty()) {
    std::string names;
    for (const std::string& m : absent) names += (names.empty() ? "" : ", ") + m;
    out.warnings.push_back("no BTF in " + dir + " for module" + (absent.size() == 1 ? " " : "s ") +
                           names +
                           ": prototypes of their functions will be unknown (module built "
                           "without BTF, or unloaded)");
  }
  return out;
}

}  // namespace probeseek
