#include "kernel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <memory>

#include "probeseek/btf.h"
#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek::internal {

KernelTable KernelTable::read(const std::string& path) {
  KernelTable t;
  auto text = read_whole_file(path);
  if (!text) return t;
  t.readable = true;
  t.text = std::move(*text);
  return t;
}

namespace {

// Calls fn(line) for each line of text.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    fn(text.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace

SymbolFacts symbol_facts(const KernelTable& kallsyms, const std::string& function) {
  SymbolFacts f;
  if (!kallsyms.readable || kallsyms.text.empty()) return f;
  f.readable = true;
  const std::string ksymtab = "__ksymtab_" + function;
  for_each_line(kallsyms.text, [&](std::string_view line) {
    // Most lines do not mention the function: skip them before splitting.
    if (line.find(function) == std::string_view::npos) return;
    // "ffffffff81a2b3c0 T tcp_v4_connect" or "... t nft_do_chain\t[nf_tables]"
    auto fields = split_ws(line);
    if (fields.size() < 3) return;
    std::string_view name = fields[2];
    if (name == ksymtab) {
      f.exported = true;
      return;
    }
    char type = fields[1].empty() ? '?' : fields[1][0];
    if (type != 't' && type != 'T' && type != 'w' && type != 'W') return;
    std::string module;
    if (fields.size() >= 4 && fields[3].size() > 2 && fields[3].front() == '[')
      module = std::string(fields[3].substr(1, fields[3].size() - 2));
    if (name == function) {
      if (++f.exact == 1) f.module = module;
    } else if (strip_clone_suffix(name) == function) {
      f.clones.emplace_back(name);
      if (f.exact == 0 && f.clones.size() == 1) f.module = module;
    }
  });
  return f;
}

std::optional<bool> listed_in(const KernelTable& table, const std::string& name, size_t field) {
  if (!table.readable) return std::nullopt;
  bool found = false;
  for_each_line(table.text, [&](std::string_view line) {
    if (found || line.find(name) == std::string_view::npos) return;
    auto fields = split_ws(line);
    found = fields.size() > field && fields[field] == name;
  });
  return found;
}

}  // namespace probeseek::internal

namespace probeseek {

std::string trampoline_refusal(int err, const KernelPaths& paths, const std::string& what) {
  if (err == EPERM || err == EACCES) {
    const std::string lockdown = read_lockdown(paths).mode;
    return "refused by the kernel: loading the " + what + " program failed with " +
           std::strerror(err) +
           (lockdown.empty() || lockdown == "none"
                ? " (lockdown or a security module forbids BPF trampolines)"
                : " (kernel lockdown: " + lockdown + ")");
  }
  if (err == EOPNOTSUPP || err == 524 /* the kernel's internal ENOTSUPP */)
    return "BPF trampolines are not supported by this kernel or architecture";
  return "";
}

TrampolineSupport trampoline_support(const KernelPaths& paths) {
  TrampolineSupport s;
  errno = 0;
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf(btf__parse(paths.btf.c_str(), nullptr),
                                                         btf__free);
  if (!btf) {
    s.err_no = errno ? errno : ENOENT;
    s.why_not = "no kernel BTF (" + paths.btf + ": " + std::strerror(s.err_no) +
                "): fentry attaches by BTF";
    return s;
  }
  // A function every kernel with BPF has; bpf_fentry_test1 exists for this very purpose.
  int id = -1;
  for (const char* f : {"bpf_fentry_test1", "bpf_prog_put", "do_nanosleep", "vfs_read"})
    if ((id = btf__find_by_name_kind(btf.get(), f, BTF_KIND_FUNC)) > 0) break;
  if (id <= 0) {
    s.why_not = "no function in " + paths.btf + " to try an fentry program on";
    return s;
  }
  // r0 = 0; exit
  const struct bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
              .attach_btf_id = static_cast<__u32>(id));
  const int prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "probeseek_ft", "GPL", insns, 2, &opts);
  if (prog < 0) {
    s.err_no = -prog;
    s.why_not = trampoline_refusal(s.err_no, paths, "fentry");
    if (s.why_not.empty())
      s.why_not = std::string("loading an fentry program failed: ") + std::strerror(s.err_no);
    return s;
  }
  const int link = bpf_raw_tracepoint_open(nullptr, prog);
  if (link < 0) {
    s.err_no = -link;
    s.why_not =
        std::string("the kernel refused to attach an fentry program: ") + std::strerror(s.err_no);
  } else {
    s.available = true;
    ::close(link);
  }
  ::close(prog);
  return s;
}

}  // namespace probeseek
