// SPDX-License-Identifier: GPL-2.0
// The generic probe behind `probeseek attach` and `probeseek verify`: one CO-RE object, built
// with the project, that can be attached to any kernel function without a compiler at run time.
//
// User space reads the function's prototype from BTF and fills `probe_cfg` (in .rodata) before
// load: how many arguments to capture, which positions hold a socket, an sk_buff, a file name...
// and whether the event is produced at entry or at return. The verifier treats frozen .rodata as
// constants, so the branches for kinds a position does not hold are removed before the program
// runs. Scalars and other pointers travel as raw 64-bit values and are decoded in user space.
//
// Programs (user space keeps the ones the attach type needs and disables the others):
//   probe_entry   kprobe   entry mode: one event; return mode: saves the arguments
//   probe_return  kretprobe  return mode: arguments read again, plus the return value
//   probe_fentry  fentry   entry mode (attach target set before load)
//   probe_fexit   fexit    return mode: fexit sees the arguments and the return value itself
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "probeseek/probe_event.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct probe_config probe_cfg = {};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} events SEC(".maps");

// Return mode: the arguments saved at entry, per thread. A thread has at most one call of a
// function in flight unless the function recurses; then the innermost call's arguments win.
struct entry_state {
  __u64 ts_ns;
  __u64 args[PROBE_MAX_ARGS];
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u64);
  __type(value, struct entry_state);
} inflight SEC(".maps");

// Read by user space through the skeleton's .bss mapping.
__u64 lost_events = 0;     // the ring buffer was full: events dropped
__u64 missed_entries = 0;  // a return without its saved entry (inflight full, or attached mid-call)

#define AF_INET 2
#define AF_INET6 10
// include/net/tcp_states.h (vmlinux.h has them as enumerators of an anonymous enum only on
// some kernels, so the values are spelled here).
#define TCP_STATE_TIME_WAIT 6
#define TCP_STATE_NEW_SYN_RECV 12

// Is the current task one we report? The reader is always excluded: when it probes a function
// its own output path calls (vfs_write, tty_write), each printed event would cause another.
static __always_inline bool wanted(void) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (probe_cfg.exclude_tgid && tgid == probe_cfg.exclude_tgid) return false;
  if (!probe_cfg.target_tgid || tgid == probe_cfg.target_tgid) return true;
  if (!probe_cfg.follow_children) return false;
  // A workload started by a shell runs in a child: walk a few parents up.
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  for (int i = 0; i < PROBE_MAX_ANCESTORS; i++) {
    task = BPF_CORE_READ(task, real_parent);
    if (!task) return false;
    __u32 parent = BPF_CORE_READ(task, tgid);
    if (parent == probe_cfg.target_tgid) return true;
    if (parent <= 1) return false;
  }
  return false;
}

// struct sock and every struct that starts with struct sock_common (inet_sock, tcp_sock,
// request_sock, inet_timewait_sock...): the common part holds the addresses and ports.
static __always_inline void read_sock(struct probe_decoded* d, const struct sock* sk) {
  struct probe_sock* s = &d->sock;
  d->status = bpf_core_read(&s->family, sizeof(s->family), &sk->__sk_common.skc_family);
  if (d->status) return;
  bpf_core_read(&s->local_port, sizeof(s->local_port), &sk->__sk_common.skc_num);
  bpf_core_read(&s->remote_port, sizeof(s->remote_port), &sk->__sk_common.skc_dport);
  bpf_core_read(&s->state, sizeof(s->state), &sk->__sk_common.skc_state);
  // sk_protocol has been a plain u16 since 5.6 (it was a bitfield before). Request and
  // time-wait sockets are only a struct sock_common plus their own fields: no sk_protocol.
  if (s->state != TCP_STATE_TIME_WAIT && s->state != TCP_STATE_NEW_SYN_RECV) {
    __u16 protocol = 0;
    bpf_core_read(&protocol, sizeof(protocol), &sk->sk_protocol);
    s->protocol = (__u8)protocol;
  }
  if (s->family == AF_INET) {
    bpf_core_read(s->local, 4, &sk->__sk_common.skc_rcv_saddr);
    bpf_core_read(s->remote, 4, &sk->__sk_common.skc_daddr);
  } else if (s->family == AF_INET6) {
    bpf_core_read(s->local, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(s->remote, 16, &sk->__sk_common.skc_v6_daddr);
  }
}

static __always_inline void read_sockaddr(struct probe_decoded* d, const struct sockaddr* sa) {
  struct probe_sockaddr* out = &d->sockaddr;
  d->status = bpf_core_read(&out->family, sizeof(out->family), &sa->sa_family);
  if (d->status) return;
  if (out->family == AF_INET) {
    const struct sockaddr_in* in = (const void*)sa;
    bpf_core_read(&out->port, sizeof(out->port), &in->sin_port);
    bpf_core_read(out->addr, 4, &in->sin_addr);
  } else if (out->family == AF_INET6) {
    const struct sockaddr_in6* in6 = (const void*)sa;
    bpf_core_read(&out->port, sizeof(out->port), &in6->sin6_port);
    bpf_core_read(out->addr, 16, &in6->sin6_addr);
  }
}

static __always_inline void read_name(struct probe_decoded* d, const unsigned char* name) {
  long n = bpf_probe_read_kernel_str(d->name, sizeof(d->name), name);
  d->status = n < 0 ? (__s32)n : 0;
}

static __always_inline void decode(__u8 kind, __u64 value, struct probe_decoded* d) {
  switch (kind) {
    case PROBE_VALUE_SOCK:
      read_sock(d, (const struct sock*)value);
      break;
    case PROBE_VALUE_SOCKET:
      read_sock(d, BPF_CORE_READ((const struct socket*)value, sk));
      break;
    case PROBE_VALUE_SOCKADDR:
      read_sockaddr(d, (const struct sockaddr*)value);
      break;
    case PROBE_VALUE_SKB: {
      const struct sk_buff* skb = (const struct sk_buff*)value;
      d->status = bpf_core_read(&d->skb.len, sizeof(d->skb.len), &skb->len);
      if (!d->status) bpf_core_read(&d->skb.protocol, sizeof(d->skb.protocol), &skb->protocol);
      break;
    }
    case PROBE_VALUE_FILENAME:
      read_name(d, (const unsigned char*)BPF_CORE_READ((const struct filename*)value, name));
      break;
    case PROBE_VALUE_DENTRY:
      read_name(d, BPF_CORE_READ((const struct dentry*)value, d_name.name));
      break;
    case PROBE_VALUE_FILE:
      read_name(d, BPF_CORE_READ((const struct file*)value, f_path.dentry, d_name.name));
      break;
    case PROBE_VALUE_PATH:
      read_name(d, BPF_CORE_READ((const struct path*)value, dentry, d_name.name));
      break;
    default:
      break;
  }
}

static __always_inline int emit(const __u64* args, __u64 ret, __u64 entry_ts, __u32 flags) {
  struct probe_event* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __sync_fetch_and_add(&lost_events, 1);
    return 0;
  }
  // Reserved ring buffer memory holds whatever was there before: start from zeroes so that no
  // stale bytes reach user space in the fields this event does not use.
  __builtin_memset(e, 0, sizeof(*e));
  __u64 id = bpf_get_current_pid_tgid();
  e->ts_ns = bpf_ktime_get_ns();
  if (entry_ts) e->duration_ns = e->ts_ns - entry_ts;
  e->probe_id = probe_cfg.probe_id;
  e->flags = flags;
  e->tgid = id >> 32;
  e->tid = (__u32)id;
  e->cpu = bpf_get_smp_processor_id();
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  for (int i = 0; i < PROBE_MAX_ARGS; i++) {
    if (i >= probe_cfg.nr_args) break;
    e->args[i] = args[i];
    decode(probe_cfg.arg_kind[i], args[i], &e->decoded[i]);
  }
  if (flags & PROBE_EVENT_RETURNED) {
    e->ret = ret;
    decode(probe_cfg.ret_kind, ret, &e->ret_decoded);
  }
  bpf_ringbuf_submit(e, 0);
  return 0;
}

static __always_inline void regs_args(struct pt_regs* ctx, __u64* args) {
  args[0] = PT_REGS_PARM1(ctx);
  args[1] = PT_REGS_PARM2(ctx);
  args[2] = PT_REGS_PARM3(ctx);
  args[3] = PT_REGS_PARM4(ctx);
  args[4] = PT_REGS_PARM5(ctx);
#if defined(__TARGET_ARCH_x86)
  args[5] = ctx->r9;  // libbpf 1.1 has no PT_REGS_PARM6; the x86-64 ABI puts it in r9
#else
  args[5] = 0;
#endif
}

SEC("kprobe")
int probe_entry(struct pt_regs* ctx) {
  if (!wanted()) return 0;
  __u64 args[PROBE_MAX_ARGS];
  regs_args(ctx, args);
  if (probe_cfg.mode == PROBE_MODE_ENTRY) return emit(args, 0, 0, 0);
  // Return mode: by the time the function returns its argument registers are gone.
  struct entry_state state = {.ts_ns = bpf_ktime_get_ns()};
  for (int i = 0; i < PROBE_MAX_ARGS; i++) state.args[i] = args[i];
  __u64 id = bpf_get_current_pid_tgid();
  bpf_map_update_elem(&inflight, &id, &state, BPF_ANY);
  return 0;
}

SEC("kretprobe")
int probe_return(struct pt_regs* ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct entry_state* saved = bpf_map_lookup_elem(&inflight, &id);
  if (!saved) {
    // The entry filtered this task out, or the call began before we attached: only count the
    // ones the entry would have kept.
    if (wanted()) __sync_fetch_and_add(&missed_entries, 1);
    return 0;
  }
  __u64 args[PROBE_MAX_ARGS];
  for (int i = 0; i < PROBE_MAX_ARGS; i++) args[i] = saved->args[i];
  __u64 entry_ts = saved->ts_ns;
  bpf_map_delete_elem(&inflight, &id);
  return emit(args, PT_REGS_RC(ctx), entry_ts, PROBE_EVENT_RETURNED);
}

static __always_inline void trampoline_args(void* ctx, __u64* args) {
  for (int i = 0; i < PROBE_MAX_ARGS; i++) {
    args[i] = 0;
    if (i < probe_cfg.nr_args) bpf_get_func_arg(ctx, i, &args[i]);
  }
}

SEC("fentry")
int probe_fentry(void* ctx) {
  if (!wanted()) return 0;
  __u64 args[PROBE_MAX_ARGS];
  trampoline_args(ctx, args);
  return emit(args, 0, 0, 0);
}

SEC("fexit")
int probe_fexit(void* ctx) {
  if (!wanted()) return 0;
  __u64 args[PROBE_MAX_ARGS];
  trampoline_args(ctx, args);
  __u64 ret = 0;
  bpf_get_func_ret(ctx, &ret);
  return emit(args, ret, 0, PROBE_EVENT_RETURNED);
}
