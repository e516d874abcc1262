// Tracer: the generic probe configured from BTF, loaded, attached with bpf_link fds, and its
// ring buffer decoded into Events.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "arg_spec.h"
#include "event_decoder.h"
#include "event_ring.h"
#include "kernel.h"
#include "libbpf_log.h"
#include "probeseek/attach.h"
#include "probeseek/fd.h"
#include "probeseek/hookability.h"
#include "probeseek/probe_skeleton.h"
#include "probeseek/text.h"

namespace probeseek {

std::string_view to_string(ProbeType type) {
  switch (type) {
    case ProbeType::kKprobe:
      return "kprobe";
    case ProbeType::kKretprobe:
      return "kretprobe";
    case ProbeType::kFentry:
      return "fentry";
    case ProbeType::kFexit:
      return "fexit";
  }
  return "kprobe";
}

Result<ProbeType> parse_probe_type(std::string_view text) {
  for (ProbeType t :
       {ProbeType::kKprobe, ProbeType::kKretprobe, ProbeType::kFentry, ProbeType::kFexit})
    if (text == to_string(t)) return t;
  return bad_input("unknown probe type", std::string(text),
                   "use one of kprobe, kretprobe, fentry, fexit");
}

bool is_return_probe(ProbeType type) {
  return type == ProbeType::kKretprobe || type == ProbeType::kFexit;
}

namespace {

struct LinkDestroy {
  void operator()(struct bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<struct bpf_link, LinkDestroy>;

constexpr uint32_t kRingBufferBytes = 4u << 20;  // ~7000 events of backlog

// Failures of one attach type: `unavailable` means the kernel lacks the mechanism (try the
// next type); otherwise the function itself was the problem.
struct TypeFailure {
  bool unavailable = false;
  std::string why;
};

}  // namespace

struct Tracer::Impl {
  TracerOptions options;
  std::optional<Btf> vmlinux;
  std::map<std::string, Btf> modules;  // split BTF on top of vmlinux: declared after it
  Fd events;
  std::unique_ptr<internal::EventRing> ring;
  struct Loaded {
    std::unique_ptr<ProbeObject> object;
    std::vector<LinkPtr> links;  // destroyed before the object that owns the programs
    internal::PrototypeSpec spec;
  };
  // Index = probe id = index in Tracer::probes_. Detached probes keep their entry (without
  // object and links) so that ids stay valid; their counters move to the totals below.
  std::vector<Loaded> loaded;
  uint64_t detached_lost = 0, detached_missed = 0;
  internal::EventDecoder decoder{internal::realtime_minus_monotonic()};
  Event event;  // reused for every record
  std::optional<KprobeSupport> kprobes;
  // Read on first use, then kept: see internal::KernelTable.
  std::optional<internal::KernelTable> kallsyms, filter_functions, blacklist;
  const internal::KernelTable& table(std::optional<internal::KernelTable>& t,
                                     const std::string& path) {
    if (!t) t = internal::KernelTable::read(path);
    return *t;
  }

  // poll() state, for the ring buffer callback.
  std::vector<std::unique_ptr<AttachedProbe>>* probes = nullptr;
  uint64_t* undecodable = nullptr;
  const std::function<void(const Event&)>* on_event = nullptr;

  void on_record(const void* data, size_t size);
  Result<const Btf*> btf_for(const std::string& module);
  Result<Loaded> load_kprobe(const std::string& symbol, const internal::PrototypeSpec& spec,
                             bool at_return, TypeFailure& failure);
  Result<Loaded> load_trampoline(const std::string& function, const std::string& symbol,
                                 const internal::PrototypeSpec& spec, bool at_return,
                                 TypeFailure& failure);
  Result<std::unique_ptr<ProbeObject>> open_object(const internal::PrototypeSpec& spec,
                                                   bool at_return);

  // attach() in two steps, so that a set can be checked whole before anything is loaded.
  struct Checked {
    std::unique_ptr<AttachedProbe> probe;
    std::string base, symbol;
    internal::PrototypeSpec spec;
  };
  Result<Checked> check(const ProbeRequest& request);
  Result<const AttachedProbe*> load(Checked checked, const ProbeRequest& request);
  void detach(Loaded& l);
};

Result<std::unique_ptr<Tracer>> Tracer::open(const TracerOptions& options) {
  internal::capture_libbpf_log();
  std::unique_ptr<Tracer> t(new Tracer());
  t->impl_ = std::make_unique<Impl>();
  t->impl_->options = options;
  // One ring buffer for every probe of this tracer: events come out in the order they were
  // produced, whichever function produced them.
  int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "psk_events", 0, 0, kRingBufferBytes, nullptr);
  if (fd < 0) {
    int err = errno;
    return runtime_error("cannot create a BPF ring buffer", "", err,
                         err == EPERM ? "run as root (loading BPF programs needs CAP_BPF and "
                                        "CAP_PERFMON)"
                                      : "");
  }
  t->impl_->events = Fd(fd);
  t->impl_->probes = &t->probes_;
  t->impl_->undecodable = &t->undecodable_;
  Impl* impl = t->impl_.get();
  auto ring = internal::EventRing::open(
      fd, [impl](const void* data, size_t size) { impl->on_record(data, size); });
  if (!ring) return tl::unexpected(ring.error());
  t->impl_->ring = std::move(*ring);
  return t;
}

Tracer::~Tracer() {
  detach_all();
}

void Tracer::Impl::detach(Loaded& l) {
  if (!l.object) return;
  l.links.clear();  // before the object that owns the programs
  detached_lost += l.object->lost_events();
  detached_missed += l.object->missed_entries();
  l.object.reset();
}

void Tracer::detach_all() {
  if (!impl_) return;
  for (Impl::Loaded& l : impl_->loaded) impl_->detach(l);
}

uint64_t Tracer::lost_events() const {
  uint64_t n = impl_->detached_lost;
  for (auto& l : impl_->loaded)
    if (l.object) n += l.object->lost_events();
  return n;
}

uint64_t Tracer::missed_entries() const {
  uint64_t n = impl_->detached_missed;
  for (auto& l : impl_->loaded)
    if (l.object) n += l.object->missed_entries();
  return n;
}

Result<size_t> Tracer::poll(int timeout_ms, const std::function<void(const Event&)>& on_event) {
  impl_->on_event = &on_event;
  auto n = impl_->ring->poll(timeout_ms, kMaxEventsPerPoll);
  impl_->on_event = nullptr;
  return n;
}

void Tracer::Impl::on_record(const void* data, size_t size) {
  if (!decoder.decode(data, size, event)) {
    ++*undecodable;
    return;
  }
  if (on_event) (*on_event)(event);
}

Result<const Btf*> Tracer::Impl::btf_for(const std::string& module) {
  if (!vmlinux) {
    auto btf = Btf::load(options.paths.btf);
    if (!btf) {
      Error e = btf.error();
      e.what = "cannot load the kernel's BTF";
      e.hint =
          "the generic probe needs a kernel with BTF (CONFIG_DEBUG_INFO_BTF=y, "
          "/sys/kernel/btf/vmlinux); elsewhere build one with 'probeseek gen'";
      return tl::unexpected(e);
    }
    vmlinux = std::move(*btf);
  }
  if (module.empty()) return &*vmlinux;
  auto it = modules.find(module);
  if (it == modules.end()) {
    // Module BTF lives next to vmlinux's: /sys/kernel/btf/MODULE.
    std::string dir = options.paths.btf.substr(0, options.paths.btf.rfind('/') + 1);
    auto split = Btf::load_split(dir + module, *vmlinux);
    if (!split) return &*vmlinux;  // no module BTF: its prototypes are simply not found
    it = modules.emplace(module, std::move(*split)).first;
  }
  return &it->second;
}

Result<std::unique_ptr<ProbeObject>> Tracer::Impl::open_object(const internal::PrototypeSpec& spec,
                                                               bool at_return) {
  std::unique_ptr<ProbeObject> object = ProbeObject::open(nullptr);
  if (!object) return runtime_error("cannot open the embedded BPF object", "", errno);
  probe_config& c = object->config();
  c.probe_id = static_cast<uint32_t>(loaded.size());
  c.nr_args = static_cast<uint32_t>(spec.args.size());
  c.mode = at_return ? PROBE_MODE_RETURN : PROBE_MODE_ENTRY;
  c.target_tgid = options.pid ? static_cast<uint32_t>(*options.pid) : 0;
  c.follow_children = options.follow_children ? 1 : 0;
  c.exclude_tgid = static_cast<uint32_t>(getpid());
  for (size_t i = 0; i < spec.args.size(); ++i) c.arg_kind[i] = spec.args[i].kind;
  c.ret_kind = spec.ret ? spec.ret->kind : PROBE_VALUE_RAW;
  for (struct bpf_program* p : {object->entry(), object->ret(), object->fentry(), object->fexit()})
    bpf_program__set_autoload(p, false);
  // Every probe writes into the tracer's one ring buffer.
  int err = bpf_map__reuse_fd(object->events(), events.get());
  if (err) return runtime_error("cannot share the ring buffer with a new probe", "", -err);
  if (!at_return) bpf_map__set_max_entries(object->inflight(), 1);  // unused at entry
  return object;
}

Result<Tracer::Impl::Loaded> Tracer::Impl::load_kprobe(const std::string& symbol,
                                                       const internal::PrototypeSpec& spec,
                                                       bool at_return, TypeFailure& failure) {
  if (!kprobes) kprobes = kprobe_support(options.paths);
  if (!kprobes->available) {
    failure = {true, kprobes->why_not};
    return runtime_error(failure.why);
  }
  auto object = open_object(spec, at_return);
  if (!object) return tl::unexpected(object.error());
  bpf_program__set_autoload((*object)->entry(), true);
  if (at_return) bpf_program__set_autoload((*object)->ret(), true);
  internal::clear_libbpf_log();
  int err = (*object)->load();
  if (err) {
    failure = {false, "loading the kprobe program failed: " + std::string(std::strerror(-err)) +
                          " (" + internal::libbpf_log_tail(3) + ")"};
    return runtime_error(failure.why);
  }
  Loaded l;
  l.spec = spec;
  auto attach_one = [&](struct bpf_program* prog, bool retprobe) -> Status {
    LIBBPF_OPTS(bpf_kprobe_opts, opts, .retprobe = retprobe);
    internal::clear_libbpf_log();
    errno = 0;
    struct bpf_link* link = bpf_program__attach_kprobe_opts(prog, symbol.c_str(), &opts);
    if (link == nullptr) {
      int e = errno ? errno : EINVAL;
      failure = {false, std::string("the kernel refused a ") + (retprobe ? "kretprobe" : "kprobe") +
                            " on " + symbol + ": " + std::strerror(e)};
      if (e == ENOENT) failure.why += " (no such symbol in this kernel)";
      return runtime_error(failure.why);
    }
    l.links.emplace_back(link);
    return {};
  };
  if (auto s = attach_one((*object)->entry(), false); !s) return tl::unexpected(s.error());
  if (at_return)
    if (auto s = attach_one((*object)->ret(), true); !s) return tl::unexpected(s.error());
  l.object = std::move(*object);
  return l;
}

Result<Tracer::Impl::Loaded> Tracer::Impl::load_trampoline(const std::string& function,
                                                           const std::string& symbol,
                                                           const internal::PrototypeSpec& spec,
                                                           bool at_return, TypeFailure& failure) {
  if (symbol != function) {
    failure = {false, "fentry attaches by BTF, and BTF only knows " + function +
                          ", not its clone " + symbol + " (use a kprobe)"};
    return runtime_error(failure.why);
  }
  auto object = open_object(spec, at_return);
  if (!object) return tl::unexpected(object.error());
  struct bpf_program* prog = at_return ? (*object)->fexit() : (*object)->fentry();
  bpf_program__set_autoload(prog, true);
  internal::clear_libbpf_log();
  int err = bpf_program__set_attach_target(prog, 0, function.c_str());
  if (err) {
    failure = {false, "no BTF function " + function + " to attach to: " + std::strerror(-err)};
    return runtime_error(failure.why);
  }
  err = (*object)->load();
  // The same words as trampoline_support(), which doctor shows.
  if (std::string why = trampoline_refusal(-err, options.paths, at_return ? "fexit" : "fentry");
      err && !why.empty()) {
    failure = {true, why};
    return runtime_error(failure.why);
  }
  if (err) {
    failure = {false, "loading the " + std::string(at_return ? "fexit" : "fentry") +
                          " program failed: " + std::strerror(-err) + " (" +
                          internal::libbpf_log_tail(3) + ")"};
    return runtime_error(failure.why);
  }
  errno = 0;
  struct bpf_link* link = bpf_program__attach_trace(prog);
  if (link == nullptr) {
    int e = errno ? errno : EINVAL;
    failure = {false, "the kernel refused to attach the " +
                          std::string(at_return ? "fexit" : "fentry") + " program to " + function +
                          ": " + std::strerror(e)};
    return runtime_error(failure.why);
  }
  Loaded l;
  l.spec = spec;
  l.links.emplace_back(link);
  l.object = std::move(*object);
  return l;
}

Result<const AttachedProbe*> Tracer::attach(const ProbeRequest& request) {
  auto checked = impl_->check(request);
  if (!checked) return tl::unexpected(checked.error());
  return impl_->load(std::move(*checked), request);
}

Result<std::vector<const AttachedProbe*>> Tracer::attach_set(
    const std::vector<ProbeRequest>& requests) {
  if (requests.empty()) return bad_input("no function to attach to");
  // Every function is checked before the first is loaded: a refusal refuses the whole set, with
  // the reasons of every refused function, and nothing is attached.
  std::vector<Impl::Checked> checked;
  std::vector<std::string> refusals, hints;
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string& f = requests[i].function;
    bool twice = false;
    for (size_t j = 0; j < i; ++j) twice |= requests[j].function == f;
    if (twice) {
      refusals.push_back(printable(f) + " is named twice");
      continue;
    }
    auto c = impl_->check(requests[i]);
    if (c) {
      checked.push_back(std::move(*c));
      continue;
    }
    if (c.error().kind != ErrorKind::kBadInput) return tl::unexpected(c.error());
    Error e = c.error();
    refusals.push_back(printable(e.object.empty() ? e.what : e.what + ": " + e.object));
    if (!e.hint.empty() && std::find(hints.begin(), hints.end(), e.hint) == hints.end())
      hints.push_back(e.hint);
  }
  if (!refusals.empty())
    return bad_input("refusing the set of " + std::to_string(requests.size()) +
                         " functions, nothing attached: " + join(refusals, "; "),
                     "", join(hints, "; "));
  // Then loaded in order; the kernel failing on one detaches those this call attached (their
  // entries stay in probes(), detached, so that probe ids stay valid).
  const size_t first = impl_->loaded.size();
  std::vector<const AttachedProbe*> out;
  for (size_t i = 0; i < checked.size(); ++i) {
    auto p = impl_->load(std::move(checked[i]), requests[i]);
    if (!p) {
      for (size_t j = first; j < impl_->loaded.size(); ++j) impl_->detach(impl_->loaded[j]);
      Error e = p.error();
      if (!out.empty())
        e.what += " (the " + std::to_string(out.size()) + " already attached are detached again)";
      return tl::unexpected(e);
    }
    out.push_back(*p);
  }
  return out;
}

Result<Tracer::Impl::Checked> Tracer::Impl::check(const ProbeRequest& request) {
  const std::string& function = request.function;
  if (!is_kernel_symbol_name(function))
    return bad_input("not a kernel function name", function,
                     "kernel symbols are made of letters, digits, '_', '.' and '$'");
  auto probe = std::make_unique<AttachedProbe>();
  probe->function = function;
  const KernelPaths& paths = options.paths;
  const std::string base(strip_clone_suffix(function));

  // Which symbol to attach to: the function, or the compiler clone that replaced it.
  internal::SymbolFacts facts = internal::symbol_facts(table(kallsyms, paths.kallsyms), base);
  std::string symbol = function;
  if (base != function) {
    if (facts.readable &&
        std::find(facts.clones.begin(), facts.clones.end(), function) == facts.clones.end())
      return bad_input(
          "no such function in this kernel's kallsyms", function,
          facts.clones.empty() && facts.exact == 0
              ? "check the name in /proc/kallsyms"
              : "kallsyms has: " +
                    join(facts.exact ? std::vector<std::string>{base} : facts.clones, ", "));
    probe->warnings.push_back(function + " is a compiler clone of " + base +
                              ": its arguments may differ from " + base +
                              "'s BTF prototype (dropped or reordered); check the decoded values");
  } else if (facts.readable && facts.exact == 0 && !facts.clones.empty()) {
    symbol = facts.clones.front();
    probe->warnings.push_back(
        base + " is not in kallsyms, only its compiler clone" +
        (facts.clones.size() > 1 ? "s " + join(facts.clones, ", ") : " " + symbol) +
        ": attaching to " + symbol + ", whose arguments may differ from the BTF prototype");
  }
  probe->symbol = symbol;

  auto btf = btf_for(facts.module);
  if (!btf) return tl::unexpected(btf.error());
  probe->prototype = (*btf)->prototype(base);
  if (facts.readable && facts.exact == 0 && facts.clones.empty() && base == function) {
    if (probe->prototype)
      return bad_input(
          "cannot attach to " + function +
              ": it is in BTF but not in kallsyms, so every call was inlined and "
              "there is no function to attach to",
          "", "attach to a caller instead ('probeseek explain " + function + "' lists them)");
    return bad_input("no such kernel function", function,
                     "check the name: /proc/kallsyms lists the functions of this kernel");
  }

  // Safety: deny list, kprobe blacklist, notrace.
  HookabilityInputs in;
  const internal::KernelTable& filter =
      table(filter_functions, paths.tracing_file("available_filter_functions"));
  const internal::KernelTable& blacklist_table = table(blacklist, paths.kprobe_blacklist);
  std::optional<bool> traceable = internal::listed_in(filter, symbol, 0);
  if (traceable) in.traceable = [&](std::string_view) { return *traceable; };
  std::optional<bool> black_symbol = internal::listed_in(blacklist_table, symbol, 1);
  std::optional<bool> black_base =
      symbol == base ? black_symbol : internal::listed_in(blacklist_table, base, 1);
  if (black_symbol || black_base)
    in.blacklisted = [&](std::string_view n) {
      return n == symbol ? black_symbol.value_or(false) : black_base.value_or(false);
    };
  if (facts.readable)
    in.kallsyms_count = [&](std::string_view n) -> int {
      if (n == base) return facts.exact;
      if (starts_with(n, "__ksymtab_")) return facts.exported ? 1 : 0;
      return static_cast<int>(std::count(facts.clones.begin(), facts.clones.end(), n));
    };
  in.btf = *btf;
  Hookability h = assess_hookability(symbol, in);
  if (!h.hookable) {
    std::vector<std::string> against;
    for (const std::string& r : h.reasons)
      if (starts_with(r, "deny list") || starts_with(r, "in the kprobe blacklist") ||
          starts_with(r, "not in available_filter_functions") || starts_with(r, "in BTF but not"))
        against.push_back(r);
    if (!request.unsafe)
      return bad_input("refusing to attach to " + symbol + ": " + join(against, "; "), "",
                       "pass --unsafe to attach anyway (a probe there can hang or recurse), or "
                       "pick another function ('probeseek explain " +
                           base + "')");
    probe->warnings.push_back("attached with --unsafe despite: " + join(against, "; "));
  }

  internal::PrototypeSpec spec;
  if (probe->prototype) {
    spec = internal::describe_prototype(**btf, *probe->prototype);
    if (!spec.not_captured_why.empty())
      probe->warnings.push_back("only the first " + std::to_string(spec.args.size()) +
                                " parameters are captured: " + spec.not_captured_why);
  } else {
    probe->warnings.push_back("no BTF prototype for " + base +
                              ": calls are reported without their arguments");
  }

  return Checked{std::move(probe), base, symbol, std::move(spec)};
}

Result<const AttachedProbe*> Tracer::Impl::load(Checked checked, const ProbeRequest& request) {
  std::unique_ptr<AttachedProbe>& probe = checked.probe;
  const std::string& base = checked.base;
  const std::string& symbol = checked.symbol;
  const internal::PrototypeSpec& spec = checked.spec;
  // Which mechanism: the one asked for, else kprobe first and fentry when there are no kprobes.
  // Without --type, a function taking a socket is reported at return: a socket gets its
  // addresses and ports inside calls like tcp_v4_connect, so at entry they are still zero.
  const bool auto_type = !request.type;
  const bool sock_at_return = auto_type && spec.has_sock();
  std::vector<ProbeType> order =
      auto_type ? std::vector<ProbeType>{ProbeType::kKprobe, ProbeType::kFentry}
                : std::vector<ProbeType>{*request.type};
  std::vector<std::string> failures;
  bool all_unavailable = true;
  for (ProbeType type : order) {
    const bool trampoline = type == ProbeType::kFentry || type == ProbeType::kFexit;
    const bool at_return = is_return_probe(type) || sock_at_return;
    TypeFailure failure;
    auto loaded_probe = trampoline ? load_trampoline(base, symbol, spec, at_return, failure)
                                   : load_kprobe(symbol, spec, at_return, failure);
    if (loaded_probe) {
      probe->type = at_return ? (trampoline ? ProbeType::kFexit : ProbeType::kKretprobe) : type;
      probe->at_return = at_return;
      probe->how = trampoline ? std::string(at_return ? "fexit" : "fentry")
                              : std::string(at_return ? "kprobe+kretprobe" : "kprobe");
      if (sock_at_return)
        probe->warnings.push_back(
            "a socket is an argument: events are reported when " + base +
            " returns, with the socket's addresses as they are then (--type " +
            (trampoline ? "fentry" : "kprobe") + " for events at entry)");
      if (auto_type && type == ProbeType::kFentry)
        probe->warnings.push_back("no kprobes here (" + failures.front() + "): used " + probe->how +
                                  " instead");
      decoder.set_probe(loaded.size(), probe->function, loaded_probe->spec);
      loaded.push_back(std::move(*loaded_probe));
      probes->push_back(std::move(probe));
      return probes->back().get();
    }
    if (!failure.why.empty()) {
      failures.push_back(std::string(trampoline ? "fentry" : "kprobe") + ": " + failure.why);
      all_unavailable &= failure.unavailable;
    } else {
      return tl::unexpected(loaded_probe.error());  // not about the kernel: e.g. out of memory
    }
    if (!failure.unavailable) break;  // the function is the problem: another type won't help
  }
  std::string hint =
      all_unavailable
          ? "run it on a kernel with kprobes or BPF trampolines (the QEMU lab: "
            "tests/lab/lab run SCRIPT OUT --binary build/cli/probeseek), or build a probe for "
            "that machine here with 'probeseek gen " +
                base +
                " --btf ITS_BTF' (gen needs no "
                "kernel support)"
          : (auto_type ? "" : "try another --type (kprobe, kretprobe, fentry, fexit)");
  return runtime_error("cannot attach to " + symbol + ": " + join(failures, "; "), "", 0, hint);
}

}  // namespace probeseek
