/* The contract between the generic probe (bpf/probe.bpf.c) and user space (attach/): what is
 * configured before load, and what one event looks like in the ring buffer. C, so that both
 * clang -target bpf and the C++ side compile the same layout; fixed-width fields only. */
#ifndef PROBESEEK_PROBE_EVENT_H
#define PROBESEEK_PROBE_EVENT_H

#ifndef __VMLINUX_H__ /* vmlinux.h already defines the __u* types for the BPF side */
#include <linux/types.h>
#endif

/* x86-64 passes six arguments in registers; kprobes read them from there. */
#define PROBE_MAX_ARGS 6
#define PROBE_COMM_LEN 16
#define PROBE_NAME_LEN 64
/* How many ancestors are checked when following a process's children (verify). */
#define PROBE_MAX_ANCESTORS 8

/* What an argument (or the return value) is, decided in user space from BTF before load. The
 * BPF side reads the fields of the known kinds with CO-RE; everything else is the raw value. */
enum probe_value_kind {
  PROBE_VALUE_RAW = 0,  /* scalars and other pointers: decoded in user space from BTF */
  PROBE_VALUE_SOCK,     /* struct sock *, and every struct starting with struct sock_common */
  PROBE_VALUE_SOCKET,   /* struct socket *: its ->sk */
  PROBE_VALUE_SOCKADDR, /* struct sockaddr *, sockaddr_in, sockaddr_in6 */
  PROBE_VALUE_SKB,      /* struct sk_buff * */
  PROBE_VALUE_FILENAME, /* struct filename *: ->name */
  PROBE_VALUE_DENTRY,   /* struct dentry *: ->d_name.name */
  PROBE_VALUE_FILE,     /* struct file *: ->f_path.dentry->d_name.name */
  PROBE_VALUE_PATH,     /* struct path *: ->dentry->d_name.name */
};

/* When the event is produced. */
enum probe_mode {
  PROBE_MODE_ENTRY = 0, /* at entry, arguments as they are on entry */
  PROBE_MODE_RETURN,    /* at return: arguments (saved at entry) read again, and the result */
};

/* Set in .rodata before load. The verifier sees these as constants and drops the branches that
 * do not apply, so one object serves every prototype. */
struct probe_config {
  __u32 probe_id;                /* copied into events: which attachment produced it (verify) */
  __u32 nr_args;                 /* parameters to capture, at most PROBE_MAX_ARGS */
  __u32 mode;                    /* enum probe_mode */
  __u32 target_tgid;             /* 0: every process */
  __u32 follow_children;         /* target_tgid's descendants count too */
  __u32 exclude_tgid;            /* the reader itself: its own writes must not become events */
  __u8 arg_kind[PROBE_MAX_ARGS]; /* enum probe_value_kind per parameter */
  __u8 ret_kind;
  __u8 pad;
};

struct probe_sock {
  __u16 family;      /* AF_INET, AF_INET6, ... */
  __u16 local_port;  /* host byte order (skc_num) */
  __u16 remote_port; /* network byte order (skc_dport) */
  __u8 state;        /* TCP_ESTABLISHED, ... */
  __u8 protocol;     /* IPPROTO_TCP, ... */
  __u8 local[16];    /* IPv4: the first 4 bytes */
  __u8 remote[16];
};

struct probe_sockaddr {
  __u16 family;
  __u16 port; /* network byte order */
  __u8 addr[16];
};

struct probe_skb {
  __u32 len;
  __u16 protocol; /* network byte order (ETH_P_*) */
};

/* One decoded argument. status is 0 when the fields were read, else the (negative) error of
 * the failed read: a user-space pointer, or memory already freed. */
struct probe_decoded {
  __s32 status;
  union {
    struct probe_sock sock;
    struct probe_sockaddr sockaddr;
    struct probe_skb skb;
    char name[PROBE_NAME_LEN];
  };
};

#define PROBE_EVENT_RETURNED 1 /* ret is valid (and duration_ns, when the entry was seen) */

struct probe_event {
  __u64 ts_ns;       /* bpf_ktime_get_ns() when produced (entry or return) */
  __u64 duration_ns; /* return mode: time since entry */
  __u32 probe_id;
  __u32 flags;
  __u32 tgid;
  __u32 tid;
  __u32 cpu;
  __u32 pad;
  char comm[PROBE_COMM_LEN];
  __u64 args[PROBE_MAX_ARGS]; /* raw values (pointers as addresses) */
  __u64 ret;
  struct probe_decoded decoded[PROBE_MAX_ARGS];
  struct probe_decoded ret_decoded;
};

#endif /* PROBESEEK_PROBE_EVENT_H */
