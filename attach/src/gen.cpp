// probeseek gen: a libbpf-bootstrap style project for one kernel function.
//
// The code is assembled from the function's BTF prototype: declarations are emitted by libbpf's
// btf_dump (as vmlinux.h is), so every type spelled in FUNC.bpf.c is spelled exactly as the
// vmlinux.h next to it declares it. Generated C follows the kernel's style (tabs), since that is
// what the BPF code around it (libbpf-bootstrap, the kernel's samples) looks like.
#include "probeseek/gen.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unordered_set>

#include "arg_spec.h"
#include "probeseek/fd.h"
#include "probeseek/text.h"

namespace probeseek {
namespace {

using internal::ArgSpec;
using internal::ScalarKind;

struct BtfDumpFree {
  void operator()(struct btf_dump* d) const { btf_dump__free(d); }
};
using BtfDumpPtr = std::unique_ptr<struct btf_dump, BtfDumpFree>;

void append_printf(void* ctx, const char* format, va_list args) {
  auto* out = static_cast<std::string*>(ctx);
  va_list copy;
  va_copy(copy, args);
  char small[256];
  int n = std::vsnprintf(small, sizeof small, format, copy);
  va_end(copy);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof small) {
    out->append(small, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(big.data(), big.size(), format, args);
  big.resize(static_cast<size_t>(n));
  out->append(big);
}

// Text produced by a btf_dump, which writes through append_printf into `out`.
class Dumper {
 public:
  static Result<Dumper> make(const struct btf* btf) {
    Dumper d;
    d.out_ = std::make_unique<std::string>();
    errno = 0;
    d.dump_.reset(btf_dump__new(btf, append_printf, d.out_.get(), nullptr));
    if (!d.dump_) return runtime_error("cannot create a btf_dump", "", errno ? errno : ENOMEM);
    return d;
  }
  struct btf_dump* get() const {
    return dump_.get();
  }
  std::string take() { return std::exchange(*out_, std::string()); }

 private:
  std::unique_ptr<std::string> out_;  // stable address: btf_dump keeps the pointer
  BtfDumpPtr dump_;
};

// vmlinux.h as `bpftool btf dump file ... format c` writes it, through the same libbpf API.
Result<std::string> vmlinux_h(const struct btf* btf) {
  auto dumper = Dumper::make(btf);
  if (!dumper) return tl::unexpected(dumper.error());
  const uint32_t count = btf__type_cnt(btf);
  for (uint32_t id = 1; id < count; ++id) {
    int err = btf_dump__dump_type(dumper->get(), id);
    if (err)
      return bad_input("cannot write BTF type " + std::to_string(id) + " as C", "",
                       std::string("libbpf's btf_dump refused it: ") + std::strerror(-err));
  }
  std::string out =
      "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n"
      "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
      "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n"
      "#endif\n\n";
  out += dumper->take();
  out +=
      "\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n"
      "#endif /* __VMLINUX_H__ */\n";
  return out;
}

// "struct sock *sk": a declaration of `name` with BTF type `id`, as btf_dump spells it.
std::string declaration(Dumper& dumper, uint32_t id, const std::string& name) {
  LIBBPF_OPTS(btf_dump_emit_type_decl_opts, opts, .field_name = name.c_str());
  if (btf_dump__emit_type_decl(dumper.get(), id, &opts) != 0) {
    dumper.take();
    return "__u64 " + name;
  }
  return dumper.take();
}

// Identifiers in the generated code live next to everything vmlinux.h declares. A name the
// kernel already uses as a type or an enumerator (TASK_COMM_LEN is one) gets the app's prefix.
class Names {
 public:
  Names(const struct btf* btf, std::string app) : app_(std::move(app)) {
    const uint32_t count = btf__type_cnt(btf);
    for (uint32_t id = 1; id < count; ++id) {
      const struct btf_type* t = btf__type_by_id(btf, id);
      const char* n = btf__name_by_offset(btf, t->name_off);
      if (n && *n) taken_.insert(n);
      if (btf_is_enum(t)) {
        const struct btf_enum* e = btf_enum(t);
        for (uint32_t i = 0; i < btf_vlen(t); ++i)
          if (const char* en = btf__name_by_offset(btf, e[i].name_off)) taken_.insert(en);
      } else if (btf_is_enum64(t)) {
        const struct btf_enum64* e = btf_enum64(t);
        for (uint32_t i = 0; i < btf_vlen(t); ++i)
          if (const char* en = btf__name_by_offset(btf, e[i].name_off)) taken_.insert(en);
      }
    }
  }
  std::string operator()(const std::string& name) const {
    return taken_.count(name) ? app_ + "_" + name : name;
  }

 private:
  std::string app_;
  std::unordered_set<std::string> taken_;
};

// One value the event carries: a parameter, or the return value.
struct Item {
  ArgSpec spec;
  std::string decl;   // C declaration with the real type: "struct sock *sk"
  std::string field;  // name of the event field (and of the variable in the program)
  bool is_return = false;
};

// The inside of a C string literal holding `s`: quotes, backslashes and anything not printable
// ASCII escaped (octal, three digits, so that a following digit cannot extend the escape).
std::string c_string(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f || c == '?') {  // '?': no trigraphs
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// The same inside a printf format: '%' doubled.
std::string format_literal(std::string_view s) {
  std::string out;
  for (char c : c_string(s)) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string app_name(const std::string& function) {
  std::string out = function;
  for (char& c : out)
    if (c == '.' || c == '$') c = '_';
  return out;
}

// The generated files are written below as they will read, one C line per string where
// possible: clang-format would reflow them by the C++ around them instead.
// clang-format off
// Tabs from `column` to `target` (at least one), as the kernel aligns trailing comments.
std::string align_comment(size_t column, size_t target) {
  std::string tabs = "\t";
  for (column = (column / 8 + 1) * 8; column < target; column += 8) tabs += '\t';
  return tabs;
}

// The event field for one value, with the original C type in a comment; `depth` tabs in.
std::string event_field(const Item& it, const Names& names, size_t depth = 1) {
  const std::string& f = it.field;
  std::string comment = it.is_return ? "return value (" + it.spec.type + ")" : it.decl;
  std::string type;
  switch (it.spec.kind) {
    case PROBE_VALUE_SOCK:
    case PROBE_VALUE_SOCKET:
      type = "struct " + names("sock_info") + " " + f + ";";
      break;
    case PROBE_VALUE_SOCKADDR:
      type = "struct " + names("sockaddr_info") + " " + f + ";";
      break;
    case PROBE_VALUE_SKB:
      type = "struct " + names("skb_info") + " " + f + ";";
      break;
    case PROBE_VALUE_FILENAME:
    case PROBE_VALUE_DENTRY:
    case PROBE_VALUE_FILE:
    case PROBE_VALUE_PATH:
      type = "char " + f + "[" + names("MAX_NAME") + "];";
      break;
    default:
      switch (it.spec.scalar) {
        case ScalarKind::kSigned:
        case ScalarKind::kChar:
        case ScalarKind::kEnum:
          type = "long long " + f + ";";
          break;
        case ScalarKind::kBool:
          type = "unsigned char " + f + ";";
          break;
        default:  // unsigned, pointers (as addresses)
          type = "unsigned long long " + f + ";";
          break;
      }
  }
  return std::string(depth, '\t') + type + align_comment(8 * depth + type.size(), 32 + 8 * depth) +
         "/* " + comment_safe(comment) + " */\n";
}

// The statement(s) that put one value into the event, reading it from `src`; `member` is where
// the function's values are ("e->", or "e->tcp_v4_connect." in a set).
std::string capture(const Item& it, const std::string& src, const Names& names,
                    const std::string& member) {
  const std::string dst = member + it.field;
  const std::string read_sock = names("read_sock");
  switch (it.spec.kind) {
    case PROBE_VALUE_SOCK:
      return "\t" + read_sock + "(&" + dst + ", " +
             (it.spec.struct_name == "sock" ? "" : "(const struct sock *)") + src + ");\n";
    case PROBE_VALUE_SOCKET:
      return "\t" + read_sock + "(&" + dst + ", BPF_CORE_READ(" + src + ", sk));\n";
    case PROBE_VALUE_SOCKADDR:
      return "\t" + names("read_sockaddr") + "(&" + dst + ", " +
             (it.spec.struct_name == "sockaddr" ? "" : "(const struct sockaddr *)") + src +
             ");\n";
    case PROBE_VALUE_SKB:
      return "\t" + dst + ".len = BPF_CORE_READ(" + src + ", len);\n\t" + dst +
             ".protocol = BPF_CORE_READ(" + src + ", protocol);\n";
    case PROBE_VALUE_FILENAME:
      return "\tbpf_probe_read_kernel_str(" + dst + ", sizeof(" + dst + "), BPF_CORE_READ(" +
             src + ", name));\n";
    case PROBE_VALUE_DENTRY:
      return "\tbpf_probe_read_kernel_str(" + dst + ", sizeof(" + dst + "), BPF_CORE_READ(" +
             src + ", d_name.name));\n";
    case PROBE_VALUE_FILE:
      return "\tbpf_probe_read_kernel_str(" + dst + ", sizeof(" + dst + "), BPF_CORE_READ(" +
             src + ", f_path.dentry, d_name.name));\n";
    case PROBE_VALUE_PATH:
      return "\tbpf_probe_read_kernel_str(" + dst + ", sizeof(" + dst + "), BPF_CORE_READ(" +
             src + ", dentry, d_name.name));\n";
    default:
      if (it.spec.scalar == ScalarKind::kPointer) return "\t" + dst + " = (__u64)" + src + ";\n";
      return "\t" + dst + " = " + src + ";\n";
  }
}

bool uses(const std::vector<Item>& items, std::initializer_list<probe_value_kind> kinds) {
  for (const Item& it : items)
    for (probe_value_kind k : kinds)
      if (it.spec.kind == k) return true;
  return false;
}

bool uses_name(const std::vector<Item>& items) {
  return uses(items,
              {PROBE_VALUE_FILENAME, PROBE_VALUE_DENTRY, PROBE_VALUE_FILE, PROBE_VALUE_PATH});
}

bool uses_sock(const std::vector<Item>& items) {
  return uses(items, {PROBE_VALUE_SOCK, PROBE_VALUE_SOCKET});
}

// One function of the project.
struct FunctionPlan {
  std::string function;  // as asked (may be a clone)
  std::string base;      // the function BTF knows
  std::string app;       // C identifier: the name with '.' and '$' as '_'
  std::string member;    // in a set: the event's union member holding its values
  std::string enumerator;  // in a set: its value of enum APP_function
  FunctionPrototype prototype;
  std::vector<Item> params;     // captured parameters
  std::optional<Item> ret;      // return probes, non-void functions
  std::vector<std::string> not_captured;  // comment lines
  std::vector<Item> all() const {
    std::vector<Item> out = params;
    if (ret) out.push_back(*ret);
    return out;
  }
  // Where the program writes its values: "e->" alone, "e->tcp_v4_connect." in a set.
  std::string dst() const { return member.empty() ? "e->" : "e->" + member + "."; }
};

struct Plan {
  std::string app;  // file stem, C identifier
  ProbeType type;
  std::string btf_source;
  std::vector<FunctionPlan> functions;  // one program (or two) each, in the order given
  bool is_set() const { return functions.size() > 1; }
  std::vector<Item> all() const {  // every value of every function: what the shared code needs
    std::vector<Item> out;
    for (const FunctionPlan& f : functions)
      for (Item& it : f.all()) out.push_back(std::move(it));
    return out;
  }
};

// "a", "a or b", "a, b or c"
std::string either(const std::vector<FunctionPlan>& functions) {
  std::string out;
  for (size_t i = 0; i < functions.size(); ++i)
    out += (i == 0 ? "" : i + 1 == functions.size() ? " or " : ", ") + functions[i].function;
  return out;
}

std::string program_kind(ProbeType type, bool plural) {
  switch (type) {
    case ProbeType::kKprobe:
      return plural ? "kprobes" : "a kprobe";
    case ProbeType::kKretprobe:
      return plural ? "kprobes and kretprobes" : "a kprobe and a kretprobe";
    case ProbeType::kFentry:
      return plural ? "fentry programs" : "an fentry";
    case ProbeType::kFexit:
      return plural ? "fexit programs" : "an fexit";
  }
  return "";
}

// Text as the lines of a block comment (" * ..."), wrapped at 80 columns.
std::string comment_block(const std::string& raw) {
  const std::string text = comment_safe(raw);
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    if (!line.empty() && 3 + line.size() + 1 + word.size() > 80) {
      out += " * " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) out += " * " + line + "\n";
  return out;
}

// The same, as a comment inside a function body.
std::string comment_block_indented(const std::string& text) {
  std::string block = comment_block(text), out = "\t/*\n";
  size_t start = 0;
  while (start < block.size()) {
    size_t end = block.find('\n', start);
    out += "\t" + block.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out + "\t */\n";
}

std::string header_file(const Plan& p, const Names& names) {
  std::string guard = upper(p.app) + "_H";
  std::vector<Item> all = p.all();
  std::string out = "/* SPDX-License-Identifier: GPL-2.0 */\n/*\n * " + p.app +
                    ".h: the event " + p.app + ".bpf.c sends to " + p.app +
                    ".c\n * through the ring buffer. Plain C types only: the BPF side sees "
                    "vmlinux.h,\n * user space does not.\n */\n#ifndef " + guard +
                    "\n#define " + guard + "\n\n";
  out += "#define " + names("MAX_COMM") + " 16\n";
  if (uses_name(all)) out += "#define " + names("MAX_NAME") + " 64\n";
  out += "\n";
  if (uses_sock(all))
    out += "/*\n * A socket's endpoints as struct sock_common keeps them: addresses and remote_port"
           " in\n * network byte order, local_port in host byte order (skc_num).\n */\n"
           "struct " + names("sock_info") + " {\n"
           "\tunsigned short family;\n"
           "\tunsigned short local_port;\n"
           "\tunsigned short remote_port;\n"
           "\tunsigned char state;\n"
           "\tunsigned char local[16];\t/* IPv4: the first 4 bytes */\n"
           "\tunsigned char remote[16];\n"
           "};\n\n";
  if (uses(all, {PROBE_VALUE_SOCKADDR}))
    out += "/* An address handed to the kernel (sockaddr_in or sockaddr_in6), port in network "
           "byte order. */\n"
           "struct " + names("sockaddr_info") + " {\n"
           "\tunsigned short family;\n"
           "\tunsigned short port;\n"
           "\tunsigned char addr[16];\n"
           "};\n\n";
  if (uses(all, {PROBE_VALUE_SKB}))
    out += "/* A packet: its length and skb->protocol (ETH_P_*, network byte order). */\n"
           "struct " + names("skb_info") + " {\n"
           "\tunsigned int len;\n"
           "\tunsigned short protocol;\n"
           "};\n\n";
  if (p.is_set()) {
    out += "/* Which function an event comes from; the loader has their names. */\n"
           "enum " + p.app + "_function {\n";
    for (size_t i = 0; i < p.functions.size(); ++i)
      out += "\t" + p.functions[i].enumerator + " = " + std::to_string(i) + ",\n";
    out += "};\n\n";
  }
  out += "struct " + p.app + "_event {\n"
         "\tunsigned long long ts_ns;\t\t/* bpf_ktime_get_ns() */\n"
         "\tunsigned int pid;\n"
         "\tunsigned int tid;\n"
         "\tchar comm[" + names("MAX_COMM") + "];\n";
  if (!p.is_set()) {
    for (const Item& it : all) out += event_field(it, names);
  } else {
    // One struct per function in a union: an event is as large as the largest function's.
    out += "\tunsigned int function;\t\t\t/* enum " + p.app + "_function */\n"
           "\tunion {\t\t\t\t\t/* the values of that function */\n";
    for (const FunctionPlan& f : p.functions) {
      out += "\t\tstruct {\n";
      for (const Item& it : f.all()) out += event_field(it, names, 3);
      if (f.all().empty()) out += "\t\t\tchar none;\n";
      out += "\t\t} " + f.member + ";\n";
    }
    out += "\t};\n";
  }
  out += "};\n\n#endif /* " + guard + " */\n";
  return out;
}

std::string bpf_helpers_code(const std::vector<Item>& all, const Names& names) {
  std::string out;
  if (uses_sock(all))
    out += "/*\n * Any struct that starts with struct sock_common (sock, inet_sock, tcp_sock, ...)"
           " is read\n * through it. BPF_CORE_READ relocates each field to the running kernel's"
           " layout.\n */\n"
           "static __always_inline void " + names("read_sock") + "(struct " + names("sock_info") +
           " *out, const struct sock *sk)\n{\n"
           "\tout->family = BPF_CORE_READ(sk, __sk_common.skc_family);\n"
           "\tout->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);\n"
           "\tout->remote_port = BPF_CORE_READ(sk, __sk_common.skc_dport);\n"
           "\tout->state = BPF_CORE_READ(sk, __sk_common.skc_state);\n"
           "\tif (out->family == AF_INET) {\n"
           "\t\tbpf_core_read(out->local, 4, &sk->__sk_common.skc_rcv_saddr);\n"
           "\t\tbpf_core_read(out->remote, 4, &sk->__sk_common.skc_daddr);\n"
           "\t} else if (out->family == AF_INET6) {\n"
           "\t\tbpf_core_read(out->local, 16, &sk->__sk_common.skc_v6_rcv_saddr);\n"
           "\t\tbpf_core_read(out->remote, 16, &sk->__sk_common.skc_v6_daddr);\n"
           "\t}\n}\n\n";
  if (uses(all, {PROBE_VALUE_SOCKADDR}))
    out += "static __always_inline void " + names("read_sockaddr") + "(struct " +
           names("sockaddr_info") + " *out, const struct sockaddr *sa)\n{\n"
           "\tout->family = BPF_CORE_READ(sa, sa_family);\n"
           "\tif (out->family == AF_INET) {\n"
           "\t\tconst struct sockaddr_in *in = (const void *)sa;\n\n"
           "\t\tout->port = BPF_CORE_READ(in, sin_port);\n"
           "\t\tbpf_core_read(out->addr, 4, &in->sin_addr);\n"
           "\t} else if (out->family == AF_INET6) {\n"
           "\t\tconst struct sockaddr_in6 *in6 = (const void *)sa;\n\n"
           "\t\tout->port = BPF_CORE_READ(in6, sin6_port);\n"
           "\t\tbpf_core_read(out->addr, 16, &in6->sin6_addr);\n"
           "\t}\n}\n\n";
  return out;
}

std::string join_decls(const std::vector<Item>& items) {
  std::string out;
  for (const Item& it : items) out += ", " + it.decl;
  return out;
}

// The statements that reserve, fill and submit one event of function `f`. `src` maps an item to
// the C expression holding its value; `cleanup` runs before every return.
template <typename Src>
std::string emit_event(const FunctionPlan& f, const std::vector<Item>& items, Src src,
                       const Names& names, const std::string& cleanup = {}) {
  std::string out =
      "\te = bpf_ringbuf_reserve(&" + names("events") + ", sizeof(*e), 0);\n"
      "\tif (!e) {\n"
      "\t\t__sync_fetch_and_add(&" + names("dropped") + ", 1);\n" +
      (cleanup.empty() ? "" : "\t" + cleanup) +
      "\t\treturn 0;\n"
      "\t}\n"
      "\t/* Reserved memory is not zeroed: no stale bytes in the fields a read leaves alone. */\n"
      "\t__builtin_memset(e, 0, sizeof(*e));\n"
      "\te->ts_ns = bpf_ktime_get_ns();\n"
      "\te->pid = id >> 32;\n"
      "\te->tid = (__u32)id;\n"
      "\tbpf_get_current_comm(e->comm, sizeof(e->comm));\n";
  if (!f.enumerator.empty()) out += "\te->function = " + f.enumerator + ";\n";
  for (const Item& it : items) out += capture(it, src(it), names, f.dst());
  out += "\tbpf_ringbuf_submit(e, 0);\n" + cleanup + "\treturn 0;\n";
  return out;
}

// A kretprobe sees only the return value: its arguments, saved at entry, and where.
std::string args_struct(const FunctionPlan& f) {
  return "struct " + f.app + "_args";
}
std::string inflight_map(const Plan& p, const FunctionPlan& f, const Names& names) {
  return names(p.is_set() ? f.app + "_inflight" : "inflight");
}

std::string inflight_code(const Plan& p, const FunctionPlan& f, const Names& names) {
  std::string out =
      "/* A kretprobe sees only the return value: the arguments are saved at entry. */\n" +
      args_struct(f) + " {\n";
  for (const Item& it : f.params) out += "\t" + it.decl + ";\n";
  if (f.params.empty()) out += "\tchar unused;\n";
  out += "};\n\n"
         "/* By thread (pid_tgid): a thread runs one call at a time, unless it recurses. */\n"
         "struct {\n"
         "\t__uint(type, BPF_MAP_TYPE_HASH);\n"
         "\t__uint(max_entries, 10240);\n"
         "\t__type(key, __u64);\n"
         "\t__type(value, " + args_struct(f) + ");\n"
         "} " + inflight_map(p, f, names) + " SEC(\".maps\");\n\n";
  return out;
}

// The program(s) of one function.
std::string programs_code(const Plan& p, const FunctionPlan& f, const Names& names) {
  std::string out;
  const std::string type(to_string(p.type));
  const std::string ev = "struct " + p.app + "_event";
  const std::string filter = "\tif (" + names("target_pid") + " && (id >> 32) != " +
                             names("target_pid") + ")\n\t\treturn 0;\n";
  auto direct = [](const Item& it) { return it.field; };
  switch (p.type) {
    case ProbeType::kKprobe:
      out += "SEC(\"kprobe/" + c_string(f.function) + "\")\nint BPF_KPROBE(" + f.app + "_entry" +
             join_decls(f.params) + ")\n{\n\t__u64 id = bpf_get_current_pid_tgid();\n\t" + ev +
             " *e;\n\n" + filter + emit_event(f, f.params, direct, names) + "}\n";
      break;
    case ProbeType::kKretprobe: {
      const std::string inflight = inflight_map(p, f, names);
      out += "SEC(\"kprobe/" + c_string(f.function) + "\")\nint BPF_KPROBE(" + f.app + "_entry" +
             join_decls(f.params) + ")\n{\n\t__u64 id = bpf_get_current_pid_tgid();\n\t" +
             args_struct(f) + " args = {};\n\n" + filter;
      for (const Item& it : f.params) out += "\targs." + it.field + " = " + it.field + ";\n";
      out += "\tbpf_map_update_elem(&" + inflight + ", &id, &args, BPF_ANY);\n\treturn 0;\n}\n\n";
      std::string ret_decl = f.ret ? f.ret->decl : "";
      out += "SEC(\"kretprobe/" + c_string(f.function) + "\")\nint BPF_KRETPROBE(" + f.app +
             "_exit" + (f.ret ? ", " + ret_decl : "") +
             ")\n{\n\t__u64 id = bpf_get_current_pid_tgid();\n\t" + args_struct(f) +
             " *a;\n\t" + ev + " *e;\n\n\ta = bpf_map_lookup_elem(&" + inflight +
             ", &id);\n\tif (!a)\n\t\treturn 0;\t/* the entry was filtered out, or missed */\n";
      // The saved arguments are read while the event is filled: delete them after that, and
      // also when the ring buffer is full.
      auto saved = [](const Item& it) { return it.is_return ? it.field : "a->" + it.field; };
      out += emit_event(f, f.all(), saved, names,
                        "\tbpf_map_delete_elem(&" + inflight + ", &id);\n") +
             "}\n";
      break;
    }
    case ProbeType::kFentry:
    case ProbeType::kFexit: {
      const bool fexit = p.type == ProbeType::kFexit;
      // BPF_PROG names the leading parameters the verifier lets the program read from its
      // context; the others (and then the return value) come from the helpers.
      size_t named = 0;
      while (named < f.params.size() && f.params[named].spec.context_readable) ++named;
      std::vector<Item> sig(f.params.begin(), f.params.begin() + static_cast<long>(named));
      std::vector<const Item*> from_helpers;
      for (size_t i = named; i < f.params.size(); ++i) from_helpers.push_back(&f.params[i]);
      const bool ret_in_sig = fexit && f.ret && from_helpers.empty();
      if (ret_in_sig) sig.push_back(*f.ret);
      if (fexit && f.ret && !ret_in_sig) from_helpers.push_back(&*f.ret);
      if (fexit) out += "/* fexit sees the arguments and, after them, the return value. */\n";
      out += "SEC(\"" + type + "/" + c_string(f.function) + "\")\nint BPF_PROG(" + f.app +
             (fexit ? "_exit" : "_entry") + join_decls(sig) +
             ")\n{\n\t__u64 id = bpf_get_current_pid_tgid();\n\t" + ev + " *e;\n";
      for (const Item* it : from_helpers) out += "\t" + it->decl + ";\n";
      if (!from_helpers.empty()) out += "\t__u64 slot;\n";
      out += "\n" + filter;
      if (!from_helpers.empty())
        out += comment_block_indented(
            "The verifier only lets a program read pointers to structs, integers and void from "
            "its context: " + from_helpers.front()->spec.type + " is read with " +
            (from_helpers.front()->is_return ? "bpf_get_func_ret()" : "bpf_get_func_arg()") +
            ", which hands over the raw value.");
      for (size_t i = 0; i < from_helpers.size(); ++i) {
        const Item& it = *from_helpers[i];
        const std::string index = std::to_string(named + i);
        out += it.is_return ? "\tbpf_get_func_ret(ctx, &slot);\n"
                            : "\tbpf_get_func_arg(ctx, " + index + ", &slot);\n";
        out += "\t" + it.field + " = " +
               (it.spec.scalar == ScalarKind::kPointer ? "(void *)slot;\n" : "slot;\n");
      }
      if (!from_helpers.empty()) out += "\n";
      out += emit_event(f, fexit ? f.all() : f.params, direct, names) + "}\n";
      break;
    }
  }
  return out;
}

std::string bpf_file(const Plan& p, const Names& names) {
  std::vector<Item> all = p.all();
  const FunctionPlan& first = p.functions.front();
  std::string out = "// SPDX-License-Identifier: GPL-2.0\n/*\n * " + p.app + ".bpf.c: " +
                    program_kind(p.type, p.is_set()) + " on" +
                    (p.is_set() ? " " + std::to_string(p.functions.size()) + " functions" : "") +
                    "\n *\n";
  for (const FunctionPlan& f : p.functions)
    out += " *\t" + comment_safe(f.prototype.to_string()) + "\n";
  out += " *\n";
  for (const FunctionPlan& f : p.functions)
    if (f.function != f.base)
      out += comment_block((p.is_set() ? f.function + " is a compiler clone"
                                       : "attached to " + f.function + ", the compiler's clone") +
                           " of " + f.base +
                           ": a clone may drop or reorder arguments, so check that the values "
                           "make sense.");
  bool any_ret = false;
  for (const FunctionPlan& f : p.functions) any_ret |= f.ret.has_value();
  if (!p.is_set())
    out += comment_block("The prototype is from the BTF of " + p.btf_source +
                         ". Each call becomes one event in the ring buffer: pid, tid, comm, a "
                         "timestamp and the arguments" +
                         std::string(first.ret ? " and the return value" : "") + ".");
  else
    out += comment_block("The prototypes are from the BTF of " + p.btf_source +
                         ". Each call becomes one event in the one ring buffer they share: which "
                         "function (enum " + p.app + "_function), pid, tid, comm, a timestamp and "
                         "the arguments" + std::string(any_ret ? " and the return value" : "") +
                         ".");
  for (const FunctionPlan& f : p.functions)
    for (const std::string& line : f.not_captured) out += comment_block(line);
  bool sock_at_entry = false;
  for (const FunctionPlan& f : p.functions) sock_at_entry |= uses_sock(f.params);
  if (p.type == ProbeType::kKprobe && sock_at_entry)
    out += " *\n * The socket is read at entry. A function that gives it an address (connect, bind)"
           " does\n * so inside the call: generate with --type kretprobe or fexit to see it.\n";
  out += " *\n * Generated by probeseek gen.\n */\n"
         "#include \"vmlinux.h\"\n"
         "#include <bpf/bpf_helpers.h>\n"
         "#include <bpf/bpf_tracing.h>\n"
         "#include <bpf/bpf_core_read.h>\n"
         "#include \"" + p.app + ".h\"\n\n";
  if (uses_sock(all) || uses(all, {PROBE_VALUE_SOCKADDR}))
    out += "/* From <sys/socket.h>, which a BPF program cannot include next to vmlinux.h. */\n"
           "#define AF_INET\t\t2\n#define AF_INET6\t10\n\n";
  out += "char LICENSE[] SEC(\"license\") = \"GPL\";\n\n"
         "/* Set by the loader before load (-p PID): only that process. 0: every process. */\n"
         "const volatile __u32 " + names("target_pid") + " = 0;\n\n" +
         (p.is_set() ? "/* Every program writes its events here. */\n" : "") +
         "struct {\n"
         "\t__uint(type, BPF_MAP_TYPE_RINGBUF);\n"
         "\t__uint(max_entries, 256 * 1024);\n"
         "} " + names("events") + " SEC(\".maps\");\n\n"
         "/* Events dropped because the ring buffer was full; the loader reports them. */\n"
         "__u64 " + names("dropped") + " = 0;\n\n";
  if (p.type == ProbeType::kKretprobe)
    for (const FunctionPlan& f : p.functions) out += inflight_code(p, f, names);
  out += bpf_helpers_code(all, names);
  for (size_t i = 0; i < p.functions.size(); ++i)
    out += (i ? "\n" : "") + programs_code(p, p.functions[i], names);
  return out;
}

// printf format and arguments that show one value in the loader.
void print_item(const Item& it, const Names& names, const std::string& member,
                std::string& format, std::string& args, std::string& prelude) {
  const std::string f = member + it.field;
  format += it.is_return ? " = " : " " + it.field + "=";
  switch (it.spec.kind) {
    case PROBE_VALUE_SOCK:
    case PROBE_VALUE_SOCKET:
      prelude += "\tchar " + it.field + "_text[160];\n";
      format += "%s";
      args += ",\n\t       " + names("format_sock") + "(" + it.field + "_text, sizeof(" +
              it.field + "_text), &" + f + ")";
      return;
    case PROBE_VALUE_SOCKADDR:
      prelude += "\tchar " + it.field + "_text[64];\n";
      format += "%s";
      args += ",\n\t       " + names("format_sockaddr") + "(" + it.field + "_text, sizeof(" +
              it.field + "_text), &" + f + ")";
      return;
    case PROBE_VALUE_SKB:
      format += "{len %u protocol 0x%04x}";
      args += ", " + f + ".len, ntohs(" + f + ".protocol)";
      return;
    case PROBE_VALUE_FILENAME:
    case PROBE_VALUE_DENTRY:
    case PROBE_VALUE_FILE:
    case PROBE_VALUE_PATH:
      format += "\\\"%s\\\"";
      args += ", " + f;
      return;
    default:
      break;
  }
  switch (it.spec.scalar) {
    case ScalarKind::kSigned:
    case ScalarKind::kChar:
    case ScalarKind::kEnum:
      format += "%lld";
      args += ", " + f;
      break;
    case ScalarKind::kBool:
      format += "%s";
      args += ", " + f + " ? \"true\" : \"false\"";
      break;
    case ScalarKind::kPointer:
      format += "0x%llx";
      args += ", " + f;
      break;
    default:
      format += "%llu";
      args += ", " + f;
      break;
  }
}

// The loader's handle_event for a set: the function's name from the table, then its values.
std::string set_handler(const Plan& p, const Names& names) {
  const std::string ev = "struct " + p.app + "_event";
  std::string out = "/* enum " + p.app + "_function -> the function's name */\n"
                    "static const char *const function_names[] = {\n";
  for (const FunctionPlan& f : p.functions)
    out += "\t[" + f.enumerator + "] = \"" + c_string(f.function) + "\",\n";
  out += "};\n\n"
         "static int handle_event(void *ctx, void *data, size_t size)\n{\n"
         "\tconst " + ev + " *e = data;\n"
         "\tchar clock[16];\n\ttime_t now = time(NULL);\n\n"
         "\t(void)ctx;\n"
         "\tif (size < sizeof(*e) ||\n"
         "\t    e->function >= sizeof(function_names) / sizeof(function_names[0]))\n"
         "\t\treturn 0;\n"
         "\tstrftime(clock, sizeof(clock), \"%H:%M:%S\", localtime(&now));\n"
         "\tprintf(\"%s %-16s %7u %7u %s\", clock, e->comm, e->pid, e->tid,\n"
         "\t       function_names[e->function]);\n"
         "\tswitch (e->function) {\n";
  for (const FunctionPlan& f : p.functions) {
    std::string format, args, prelude;
    for (const Item& it : f.all()) print_item(it, names, f.dst(), format, args, prelude);
    out += "\tcase " + f.enumerator + ": {\n";
    // One more tab inside the case's block.
    for (size_t at = 0; at < prelude.size();) {
      size_t end = prelude.find('\n', at);
      out += "\t" + prelude.substr(at, end - at + 1);
      at = end + 1;
    }
    if (!prelude.empty()) out += "\n";
    for (size_t at = args.find("\n\t"); at != std::string::npos; at = args.find("\n\t", at + 3))
      args.insert(at + 1, "\t");
    if (!format.empty()) out += "\t\tprintf(\"" + format + "\"" + args + ");\n";
    out += "\t\tbreak;\n\t}\n";
  }
  out += "\t}\n"
         "\tprintf(\"\\n\");\n\tfflush(stdout);\n\treturn 0;\n}\n\n";
  return out;
}

std::string loader_file(const Plan& p, const Names& names) {
  std::vector<Item> all = p.all();
  const FunctionPlan& first = p.functions.front();
  const std::string skel = p.app + "_bpf";
  const std::string ev = "struct " + p.app + "_event";
  std::string out = "// SPDX-License-Identifier: GPL-2.0\n/*\n * " + p.app + ".c: loads " +
                    p.app + ".bpf.c through the skeleton bpftool generates from it,\n"
                    " * attaches it and prints one line per call of " +
                    comment_safe(either(p.functions)) +
                    " until Ctrl-C.\n *\n * Generated by probeseek gen.\n */\n";
  out += "#include <arpa/inet.h>\n#include <errno.h>\n#include <signal.h>\n#include <stdio.h>\n"
         "#include <stdlib.h>\n#include <string.h>\n#include <sys/socket.h>\n#include <time.h>\n"
         "#include <unistd.h>\n\n#include <bpf/libbpf.h>\n\n"
         "#include \"" + p.app + ".h\"\n#include \"" + p.app + ".skel.h\"\n\n"
         "static volatile sig_atomic_t stop;\nstatic int verbose;\n\n"
         "static void on_signal(int sig)\n{\n\t(void)sig;\n\tstop = 1;\n}\n\n"
         "static int print_libbpf(enum libbpf_print_level level, const char *format,\n"
         "\t\t\tva_list args)\n{\n\tif (level == LIBBPF_DEBUG && !verbose)\n\t\treturn 0;\n"
         "\treturn vfprintf(stderr, format, args);\n}\n\n";
  if (uses_sock(all) || uses(all, {PROBE_VALUE_SOCKADDR}))
    out += "/* \"127.0.0.1:8080\", \"[::1]:8080\" */\n"
           "static const char *format_endpoint(char *buf, size_t size, int family,\n"
           "\t\t\t\t   const unsigned char *addr, unsigned int port)\n{\n"
           "\tchar ip[INET6_ADDRSTRLEN] = \"?\";\n\n"
           "\tinet_ntop(family, addr, ip, sizeof(ip));\n"
           "\tsnprintf(buf, size, family == AF_INET6 ? \"[%s]:%u\" : \"%s:%u\", ip, port);\n"
           "\treturn buf;\n}\n\n";
  if (uses_sock(all))
    out += "/* include/net/tcp_states.h; UDP sockets use ESTABLISHED and CLOSE too. */\n"
           "static const char *sock_state(unsigned int state)\n{\n"
           "\tstatic const char *const names[] = {\n"
           "\t\t\"?\", \"ESTABLISHED\", \"SYN_SENT\", \"SYN_RECV\", \"FIN_WAIT1\", "
           "\"FIN_WAIT2\",\n"
           "\t\t\"TIME_WAIT\", \"CLOSE\", \"CLOSE_WAIT\", \"LAST_ACK\", \"LISTEN\", "
           "\"CLOSING\",\n"
           "\t\t\"NEW_SYN_RECV\",\n"
           "\t};\n\n"
           "\treturn state < sizeof(names) / sizeof(names[0]) ? names[state] : \"?\";\n}\n\n"
           "static const char *" + names("format_sock") + "(char *buf, size_t size, const struct " +
           names("sock_info") + " *s)\n{\n"
           "\tchar local[64], remote[64];\n\n"
           "\tif (s->family != AF_INET && s->family != AF_INET6) {\n"
           "\t\tsnprintf(buf, size, \"{family %u}\", s->family);\n"
           "\t\treturn buf;\n\t}\n"
           "\tsnprintf(buf, size, \"{%s -> %s %s}\",\n"
           "\t\t format_endpoint(local, sizeof(local), s->family, s->local, s->local_port),\n"
           "\t\t format_endpoint(remote, sizeof(remote), s->family, s->remote,\n"
           "\t\t\t\t ntohs(s->remote_port)),\n"
           "\t\t sock_state(s->state));\n\treturn buf;\n}\n\n";
  if (uses(all, {PROBE_VALUE_SOCKADDR}))
    out += "static const char *" + names("format_sockaddr") + "(char *buf, size_t size, "
           "const struct " + names("sockaddr_info") + " *a)\n{\n"
           "\tif (a->family != AF_INET && a->family != AF_INET6) {\n"
           "\t\tsnprintf(buf, size, \"{family %u}\", a->family);\n"
           "\t\treturn buf;\n\t}\n"
           "\treturn format_endpoint(buf, size, a->family, a->addr, ntohs(a->port));\n}\n\n";
  std::string format = "%s %-16s %7u %7u " + format_literal(first.function), args, prelude;
  for (const Item& it : first.all()) print_item(it, names, first.dst(), format, args, prelude);
  if (p.is_set())
    out += set_handler(p, names);
  else
    out += "static int handle_event(void *ctx, void *data, size_t size)\n{\n"
         "\tconst " + ev + " *e = data;\n" + prelude +
         "\tchar clock[16];\n\ttime_t now = time(NULL);\n\n"
         "\t(void)ctx;\n"
         "\tif (size < sizeof(*e))\n\t\treturn 0;\n"
         "\tstrftime(clock, sizeof(clock), \"%H:%M:%S\", localtime(&now));\n"
         "\tprintf(\"" + format + "\\n\",\n\t       clock, e->comm, e->pid, e->tid" + args +
         ");\n\tfflush(stdout);\n\treturn 0;\n}\n\n";
  out += "static void usage(const char *prog)\n{\n"
         "\tfprintf(stderr, \"usage: %s [-p PID] [-v]\\n\"\n"
         "\t\t\"Prints one line per call of " + format_literal(either(p.functions)) +
         " until Ctrl-C.\\n\"\n"
         "\t\t\"  -p PID  only calls made by this process\\n\"\n"
         "\t\t\"  -v      libbpf debug output\\n\", prog);\n}\n\n";
  out += "int main(int argc, char **argv)\n{\n"
         "\tstruct " + skel + " *skel;\n"
         "\tstruct ring_buffer *rb = NULL;\n"
         "\tstruct sigaction sa = {0};\n"
         "\tunsigned int pid = 0;\n"
         "\tint opt, err;\n\n"
         "\twhile ((opt = getopt(argc, argv, \"p:vh\")) != -1) {\n"
         "\t\tswitch (opt) {\n"
         "\t\tcase 'p':\n\t\t\tpid = strtoul(optarg, NULL, 10);\n\t\t\tbreak;\n"
         "\t\tcase 'v':\n\t\t\tverbose = 1;\n\t\t\tbreak;\n"
         "\t\tdefault:\n\t\t\tusage(argv[0]);\n\t\t\treturn opt == 'h' ? 0 : 2;\n"
         "\t\t}\n\t}\n"
         "\tlibbpf_set_print(print_libbpf);\n\n"
         "\tskel = " + skel + "__open();\n"
         "\tif (!skel) {\n"
         "\t\tfprintf(stderr, \"cannot open the BPF skeleton: %s\\n\", strerror(errno));\n"
         "\t\treturn 1;\n\t}\n"
         "\tskel->rodata->" + names("target_pid") + " = pid;\n\n"
         "\terr = " + skel + "__load(skel);\n"
         "\tif (err) {\n"
         "\t\tfprintf(stderr, \"cannot load the BPF program: %s\\n\", strerror(-err));\n"
         "\t\tgoto cleanup;\n\t}\n"
         "\terr = " + skel + "__attach(skel);\n"
         "\tif (err) {\n"
         "\t\tfprintf(stderr, \"cannot attach to " + format_literal(either(p.functions)) +
         ": %s\\n\", strerror(-err));\n"
         "\t\tgoto cleanup;\n\t}\n"
         "\trb = ring_buffer__new(bpf_map__fd(skel->maps." + names("events") +
         "), handle_event, NULL, NULL);\n"
         "\tif (!rb) {\n"
         "\t\terr = -errno;\n"
         "\t\tfprintf(stderr, \"cannot create the ring buffer: %s\\n\", strerror(errno));\n"
         "\t\tgoto cleanup;\n\t}\n\n"
         "\t/* No SA_RESTART: Ctrl-C must interrupt the wait in ring_buffer__poll(). */\n"
         "\tsa.sa_handler = on_signal;\n"
         "\tsigaction(SIGINT, &sa, NULL);\n"
         "\tsigaction(SIGTERM, &sa, NULL);\n\n"
         "\tprintf(\"%-8s %-16s %7s %7s %s\\n\", \"TIME\", \"COMM\", \"PID\", \"TID\", \"CALL\");\n"
         "\tfflush(stdout);\n"
         "\twhile (!stop) {\n"
         "\t\terr = ring_buffer__poll(rb, 100 /* ms */);\n"
         "\t\tif (err == -EINTR) {\n\t\t\terr = 0;\n\t\t\tbreak;\n\t\t}\n"
         "\t\tif (err < 0) {\n"
         "\t\t\tfprintf(stderr, \"cannot read the ring buffer: %s\\n\", strerror(-err));\n"
         "\t\t\tbreak;\n\t\t}\n\t\terr = 0;\n\t}\n"
         "\tfprintf(stderr, \"%llu events dropped (ring buffer full)\\n\",\n"
         "\t\t(unsigned long long)skel->bss->" + names("dropped") + ");\n\n"
         "cleanup:\n"
         "\tring_buffer__free(rb);\n"
         "\t" + skel + "__destroy(skel);\n"
         "\treturn err < 0 ? 1 : 0;\n}\n";
  return out;
}

std::string makefile(const Plan& p) {
  return "# Builds " + p.app + ": clang compiles " + p.app + ".bpf.c for the BPF target against "
         "vmlinux.h,\n# bpftool turns the object into a skeleton header, the loader links with "
         "libbpf.\n# Debian: apt-get install clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev "
         "pkg-config\nAPP := " + p.app + "\n\n"
         "CLANG ?= clang\n"
         "# Debian installs bpftool in /usr/sbin, which is not in a user's PATH.\n"
         "BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)\n"
         "CC ?= cc\n"
         "CFLAGS ?= -g -O2 -Wall -Wextra\n"
         "# The architecture of the kernel the probe is for (bpf_tracing.h reads arguments from "
         "its\n# registers): this machine's unless told otherwise, e.g. make ARCH=arm64.\n"
         "ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')\n"
         "LIBBPF_LIBS := $(or $(shell pkg-config --libs libbpf 2>/dev/null),-lbpf -lelf -lz)\n\n"
         "all: $(APP)\n\n"
         "# -g makes clang emit the BTF that CO-RE relocations need; bpftool gen object then drops "
         "the DWARF.\n"
         "$(APP).bpf.o: $(APP).bpf.c $(APP).h vmlinux.h\n"
         "\t$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -c $< -o $(APP).tmp.bpf.o\n"
         "\t$(BPFTOOL) gen object $@ $(APP).tmp.bpf.o\n\n"
         "$(APP).skel.h: $(APP).bpf.o\n"
         "\t$(BPFTOOL) gen skeleton $< name $(APP)_bpf > $@.tmp\n"
         "\tmv $@.tmp $@\n\n"
         "$(APP): $(APP).c $(APP).h $(APP).skel.h\n"
         "\t$(CC) $(CFLAGS) $< -o $@ $(LIBBPF_LIBS)\n\n"
         "clean:\n"
         "\trm -f $(APP) $(APP).bpf.o $(APP).tmp.bpf.o $(APP).skel.h\n\n"
         ".PHONY: all clean\n";
}

std::string readme(const Plan& p) {
  std::string what;
  if (!p.is_set()) {
    what = "A " + std::string(to_string(p.type)) + " on `" +
           comment_safe(p.functions.front().prototype.to_string()) + "`,\n";
  } else {
    what = "One " + std::string(to_string(p.type)) + " on each of\n\n";
    for (const FunctionPlan& f : p.functions)
      what += "- `" + comment_safe(f.prototype.to_string()) + "`\n";
    what += "\nsharing one ring buffer and one event (`struct " + p.app +
            "_event`, whose `function` says\nwhich of them it comes from; each line the loader "
            "prints starts with its name),\n";
  }
  return "# " + p.app + "\n\n" + what + "generated by `probeseek gen` from the BTF of " +
         p.btf_source + ".\n\n"
         "```sh\nmake                      # needs clang, bpftool, libbpf-dev (see the Makefile)\n"
         "sudo ./" + p.app + "          # one line per call; Ctrl-C to stop\n"
         "sudo ./" + p.app + " -p PID   # only calls made by that process\n```\n\n"
         "| file | what it is |\n|---|---|\n"
         "| `" + p.app + ".bpf.c` | the BPF program: reads the arguments, sends events |\n"
         "| `" + p.app + ".h` | the event, shared by the program and the loader |\n"
         "| `" + p.app + ".c` | the loader: opens the skeleton, attaches, prints events |\n"
         "| `vmlinux.h` | the kernel's types, from its BTF |\n"
         "| `Makefile` | clang -target bpf, bpftool gen skeleton, libbpf |\n\n"
         "The program is CO-RE: field offsets are relocated to the running kernel's layout "
         "when it\nloads, so it also runs on other kernels that have the same function with "
         "the same\narguments. The binary needs libbpf at run time; the kernel needs BTF\n"
         "(`/sys/kernel/btf/vmlinux`)" +
         std::string(p.type == ProbeType::kFentry || p.type == ProbeType::kFexit
                         ? " and BPF trampolines (fentry/fexit)."
                         : " and kprobes (`CONFIG_KPROBES`).") +
         "\n";
}

// clang-format on

// Parameter names become variables in the program and fields of the event: they must not
// collide with the names the generated code itself uses there (a parameter called `events`
// would hide the ring buffer map from the function body).
std::string field_name(std::string name, size_t index, const Names& names,
                       const std::unordered_set<std::string>& reserved,
                       std::unordered_set<std::string>& used) {
  // BTF names reach C code here: anything but a plain identifier is renamed.
  if (!is_c_identifier(name)) name = "arg" + std::to_string(index);
  static const std::unordered_set<std::string> locals = {"ctx", "e",     "id",  "a",   "args",
                                                         "ret", "ts_ns", "pid", "tid", "comm"};
  auto global = [&](const std::string& n) {
    for (const char* g :
         {"events", "dropped", "inflight", "target_pid", "read_sock", "read_sockaddr", "LICENSE"})
      if (n == names(g)) return true;
    return false;
  };
  if (locals.count(name) || global(name) || reserved.count(name)) name += "_arg";
  while (used.count(name)) name += "_";
  used.insert(name);
  return name;
}

// An open file descriptor, closed once.

// The output directory: created when missing (its parents too), then opened without following
// a link, so that every file below is created relative to this very directory.
Result<Fd> open_output_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return runtime_error("cannot create the output directory", dir, ec.value());
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP || errno == ENOTDIR)
      return bad_input("the output directory is a symbolic link or not a directory", dir,
                       "pass -o with the directory's real path");
    return runtime_error("cannot open the output directory", dir, errno);
  }
  return fd;
}

// Whether `name` may be written in `dir`: absent, or (with force) a regular file.
Status check_target(int dir, const std::string& dir_name, const std::string& name, bool force) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return runtime_error("cannot check", dir_name + "/" + name, errno);
  }
  if (S_ISLNK(st.st_mode))
    return bad_input("will not write through a symbolic link", dir_name + "/" + name,
                     "remove the link, or pass another -o DIR");
  if (!S_ISREG(st.st_mode))
    return bad_input("is in the way and not a regular file", dir_name + "/" + name,
                     "remove it, or pass another -o DIR");
  if (!force)
    return bad_input("already exists", dir_name + "/" + name,
                     "pass --force to replace the generated files, or another -o DIR");
  return {};
}

// Writes `text` to DIR/name: a new temporary file, renamed over the name once complete, so that
// a full disk leaves no truncated file behind (the temporary file is removed on failure).
Status write_file_at(int dir, const std::string& dir_name, const std::string& name,
                     std::string_view text, bool force) {
  const std::string path = dir_name + "/" + name;
  std::string tmp;
  Fd fd;
  for (int attempt = 0; attempt < 100 && fd.get() < 0; ++attempt) {
    tmp = "." + name + ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(attempt);
    fd = Fd(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0 && errno != EEXIST) return runtime_error("cannot create", path, errno);
  }
  if (fd.get() < 0) return runtime_error("cannot create a temporary file for", path, EEXIST);
  auto fail_with = [&](int err, const char* what) -> Status {
    ::unlinkat(dir, tmp.c_str(), 0);
    return runtime_error(what, path, err);
  };
  if (const int e = write_all(fd.get(), text); e != 0) return fail_with(e, "cannot write");
  if (fd.close() != 0) return fail_with(errno, "cannot write");
  // Without --force, the name must still be free: RENAME_NOREPLACE, or link(2) where the
  // filesystem does not have it. rename(2) replaces a link itself, never what it points to.
  if (force) {
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0)
      return fail_with(errno, "cannot rename into place");
    return {};
  }
  if (::renameat2(dir, tmp.c_str(), dir, name.c_str(), RENAME_NOREPLACE) == 0) return {};
  if (errno != EINVAL && errno != ENOSYS) {
    if (errno == EEXIST) {
      ::unlinkat(dir, tmp.c_str(), 0);
      return bad_input("already exists", path,
                       "pass --force to replace the generated files, or another -o DIR");
    }
    return fail_with(errno, "cannot rename into place");
  }
  if (::linkat(dir, tmp.c_str(), dir, name.c_str(), 0) != 0) {
    if (errno == EEXIST) {
      ::unlinkat(dir, tmp.c_str(), 0);
      return bad_input("already exists", path,
                       "pass --force to replace the generated files, or another -o DIR");
    }
    return fail_with(errno, "cannot link into place");
  }
  ::unlinkat(dir, tmp.c_str(), 0);
  return {};
}

}  // namespace

Result<GenResult> render_probe(const GenRequest& request) {
  const std::vector<std::string>& functions = request.functions;
  if (functions.empty())
    return bad_input("no function to probe", "", "name at least one kernel function");
  // Every name is checked before any reaches a file name or code.
  for (const std::string& function : functions)
    if (!is_kernel_symbol_name(function))
      return bad_input("not a kernel function name", function,
                       "kernel symbols are made of letters, digits, '_', '.' and '$'");
  for (size_t i = 0; i < functions.size(); ++i)
    for (size_t j = 0; j < i; ++j) {
      if (functions[i] == functions[j])
        return bad_input("a function is named twice", functions[i], "name each function once");
      if (app_name(functions[i]) == app_name(functions[j]))
        return bad_input(functions[j] + " and " + functions[i] + " have the same name in C (" +
                             app_name(functions[i]) + ")",
                         "", "generate them in two projects");
    }
  if (!request.name.empty() && !is_c_identifier(request.name))
    return bad_input("the project's name is not a C identifier", request.name,
                     "--name becomes file names and C names: letters, digits and '_', not "
                     "starting with a digit");
  if (request.btf == nullptr)
    return bad_input("no BTF to generate from", functions.front(),
                     "pass --btf FILE with the BTF of the kernel the probe is for");
  const Btf& btf = *request.btf;
  // Before anything walks the types: btf_dump trusts them, and btf__parse does not check what
  // it relies on (cycles, nesting, names).
  if (auto s = check_c_dumpable(
          btf, request.btf_source.empty() ? functions.front() : request.btf_source);
      !s)
    return tl::unexpected(s.error());
  Plan p;
  p.app = !request.name.empty()   ? request.name
          : functions.size() == 1 ? app_name(functions.front())
                                  : app_name(functions.front()) + "_and_" +
                                        std::to_string(functions.size() - 1) + "_more";
  p.type = request.type;
  // A path (or the source stored in the database) is quoted in comments: never raw.
  p.btf_source = request.btf_source.empty() ? "the given kernel" : comment_safe(request.btf_source);
  const bool trampoline = p.type == ProbeType::kFentry || p.type == ProbeType::kFexit;
  Names names(btf.raw(), p.app);

  GenResult result;
  result.app = p.app;
  result.dir = request.out_dir;
  result.functions = functions;
  // In a set, the names each function adds to the program: no parameter may hide them.
  std::unordered_set<std::string> reserved;
  for (const std::string& function : functions) {
    FunctionPlan f;
    f.function = function;
    f.base = std::string(strip_clone_suffix(function));
    f.app = app_name(function);
    if (functions.size() > 1) {
      // Members of the event's union; one named like a field beside the union gets a suffix.
      f.member = f.app;
      for (const char* field : {"ts_ns", "pid", "tid", "comm", "function"})
        if (f.member == field) f.member += "_values";
      f.enumerator = names("FN_" + f.app);
      reserved.insert(f.enumerator);
      if (p.type == ProbeType::kKretprobe) reserved.insert(names(f.app + "_inflight"));
    }
    p.functions.push_back(std::move(f));
  }
  auto dumper = Dumper::make(btf.raw());
  if (!dumper) return tl::unexpected(dumper.error());
  for (FunctionPlan& f : p.functions) {
    const std::string& function = f.function;
    // In a set, what is said about one function says which.
    const std::string who = p.is_set() ? function + ": " : "";
    auto prototype = btf.prototype(f.base);
    if (!prototype)
      return bad_input("no BTF prototype for " + f.base, p.btf_source,
                       "check the name, and pass --btf with the BTF of the kernel the probe is "
                       "for (its /sys/kernel/btf/vmlinux)");
    f.prototype = *prototype;
    if (trampoline && f.function != f.base)
      return bad_input(std::string(to_string(p.type)) + " cannot attach to the clone " + function,
                       "",
                       "fentry and fexit attach by BTF, which only knows " + f.base +
                           ": use --type kprobe or kretprobe");
    if (f.function != f.base)
      result.warnings.push_back(function + " is a compiler clone of " + f.base +
                                ": it may take different arguments than the BTF prototype says");

    internal::PrototypeSpec spec = internal::describe_prototype(btf, f.prototype);
    size_t capture = spec.args.size();
    // libbpf 1.1's BPF_KPROBE names at most five arguments.
    constexpr size_t kKprobeArgs = 5;
    if (!trampoline && capture > kKprobeArgs) {
      capture = kKprobeArgs;
      f.not_captured.push_back(who +
                               "Parameters after the fifth are not read: BPF_KPROBE names five.");
    }
    if (!spec.not_captured_why.empty()) {
      if (p.type == ProbeType::kFexit)
        return bad_input("fexit needs every parameter in its signature, and " + f.base +
                             " has one that cannot be: " + spec.not_captured_why,
                         "", "use --type kretprobe");
      f.not_captured.push_back(who + "Not every parameter is read: " + spec.not_captured_why + ".");
    }
    for (const std::string& n : f.not_captured) result.warnings.push_back(comment_safe(n));

    std::unordered_set<std::string> used;
    for (size_t i = 0; i < capture; ++i) {
      Item it;
      it.spec = spec.args[i];
      it.field = field_name(it.spec.name, i, names, reserved, used);
      it.decl = declaration(*dumper, it.spec.type_id, it.field);
      f.params.push_back(std::move(it));
    }
    if (is_return_probe(p.type) && spec.ret) {
      Item it;
      it.spec = *spec.ret;
      it.field = "ret";
      it.is_return = true;
      it.decl = declaration(*dumper, it.spec.type_id, "ret");
      f.ret = std::move(it);
    }
    if (p.type != ProbeType::kFexit) result.programs.emplace_back(f.app + "_entry", function);
    if (is_return_probe(p.type)) result.programs.emplace_back(f.app + "_exit", function);
  }

  auto vmlinux = vmlinux_h(btf.raw());
  if (!vmlinux) return tl::unexpected(vmlinux.error());
  result.files = {{"vmlinux.h", std::move(*vmlinux)},
                  {p.app + ".h", header_file(p, names)},
                  {p.app + ".bpf.c", bpf_file(p, names)},
                  {p.app + ".c", loader_file(p, names)},
                  {"Makefile", makefile(p)},
                  {"README.md", readme(p)}};
  return result;
}

Result<GenResult> generate_probe(const GenRequest& request) {
  auto result = render_probe(request);
  if (!result) return result;
  // By default, a directory named after the function (as given) or the set's project.
  const std::string dir = !request.out_dir.empty()        ? request.out_dir
                          : request.functions.size() == 1 ? request.functions.front()
                                                          : result->app;
  result->dir = dir;
  auto fd = open_output_dir(dir);
  if (!fd) return tl::unexpected(fd.error());
  // Every name is checked before the first is written: a refusal leaves the directory as it was.
  for (const GeneratedFile& f : result->files)
    if (auto s = check_target(fd->get(), dir, f.name, request.force); !s)
      return tl::unexpected(s.error());
  for (const GeneratedFile& f : result->files)
    if (auto s = write_file_at(fd->get(), dir, f.name, f.text, request.force); !s)
      return tl::unexpected(s.error());
  return result;
}

}  // namespace probeseek
