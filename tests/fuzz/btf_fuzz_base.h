// The small BTF fuzz_btf parses split BTF against, and make_btf_seeds writes its split seeds
// over: a vmlinux in miniature (int, struct sock, a pointer to it, one function).
#pragma once

#include <bpf/btf.h>

namespace probeseek::fuzz {

inline struct btf* make_base_btf() {
  struct btf* b = btf__new_empty();
  int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);  // 1
  int sock = btf__add_struct(b, "sock", 8);                // 2
  btf__add_field(b, "sk_family", int_id, 0, 0);
  int sock_ptr = btf__add_ptr(b, sock);          // 3
  btf__add_field(b, "sk_next", sock_ptr, 0, 0);  // (a member of 2)
  int proto = btf__add_func_proto(b, int_id);    // 4
  btf__add_func_param(b, "sk", sock_ptr);
  btf__add_func(b, "sock_base_fn", BTF_FUNC_GLOBAL, proto);  // 5
  return b;
}

}  // namespace probeseek::fuzz
