// Writes the seed corpus of fuzz_btf (tests/fuzz/corpus/btf) and its regression inputs
// (tests/fuzz/regressions/btf): small BTF built with libbpf's btf__add_*, each a case written
// down where it is made. Run by hand after changing a case:
//   cmake --build build --target make_btf_seeds && build/tests/fuzz/make_btf_seeds tests/fuzz
#include <cstdio>
#include <string>

#include "btf_fuzz_base.h"

namespace {

// Byte 0 tells fuzz_btf how to parse: 0 raw, 1 split over make_base_btf().
void write(const std::string& path, struct btf* b, char how) {
  __u32 size = 0;
  const void* data = btf__raw_data(b, &size);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || data == nullptr) {
    std::perror(path.c_str());
    return;
  }
  std::fputc(how, f);
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  std::printf("%s: %u bytes\n", path.c_str(), size + 1);
  btf__free(b);
}

void retarget(struct btf* b, int id, int to) {
  const_cast<struct btf_type*>(btf__type_by_id(b, static_cast<__u32>(id)))->type =
      static_cast<__u32>(to);
}

// tcp_v4_connect's shape: struct sock_common inside struct sock, a sockaddr, an int.
struct btf* sockets() {
  struct btf* b = btf__new_empty();
  int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  int u16 = btf__add_int(b, "short unsigned int", 2, 0);
  int u32 = btf__add_int(b, "unsigned int", 4, 0);
  int common = btf__add_struct(b, "sock_common", 16);
  btf__add_field(b, "skc_daddr", u32, 0, 0);
  btf__add_field(b, "skc_rcv_saddr", u32, 32, 0);
  btf__add_field(b, "skc_dport", u16, 64, 0);
  btf__add_field(b, "skc_num", u16, 80, 0);
  btf__add_field(b, "skc_family", u16, 96, 0);
  int sock = btf__add_struct(b, "sock", 16);
  btf__add_field(b, "__sk_common", common, 0, 0);
  int sock_ptr = btf__add_ptr(b, sock);
  int sa = btf__add_struct(b, "sockaddr", 16);
  btf__add_field(b, "sa_family", u16, 0, 0);
  int sa_ptr = btf__add_ptr(b, sa);
  int proto = btf__add_func_proto(b, int_id);
  btf__add_func_param(b, "sk", sock_ptr);
  btf__add_func_param(b, "uaddr", sa_ptr);
  btf__add_func_param(b, "addr_len", int_id);
  btf__add_func(b, "tcp_v4_connect", BTF_FUNC_GLOBAL, proto);
  return b;
}

// Every kind gen's dumper prints: typedef, const, volatile, array, enum, enum64, union,
// anonymous struct, bitfields, a function pointer member, a self-referencing list.
struct btf* kinds() {
  struct btf* b = btf__new_empty();
  int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  int ul = btf__add_int(b, "long unsigned int", 8, 0);
  int chr = btf__add_int(b, "char", 1, BTF_INT_CHAR);
  int u32_t = btf__add_typedef(b, "u32", ul);
  int cchar = btf__add_const(b, chr);
  int cstr = btf__add_ptr(b, cchar);
  int vint = btf__add_volatile(b, int_id);
  int arr = btf__add_array(b, int_id, chr, 16);
  int e = btf__add_enum(b, "state", 4);
  btf__add_enum_value(b, "STATE_A", 0);
  btf__add_enum_value(b, "STATE_B", 1);
  int e64 = btf__add_enum64(b, "big", 8, false);
  btf__add_enum64_value(b, "BIG_A", 1ull << 40);
  int node = btf__add_struct(b, "node", 64);
  int node_ptr = btf__add_ptr(b, node);
  int fp_proto = btf__add_func_proto(b, int_id);
  btf__add_func_param(b, "n", node_ptr);
  int fp = btf__add_ptr(b, fp_proto);
  int anon = btf__add_struct(b, "", 8);
  btf__add_field(b, "lo", u32_t, 0, 4);
  btf__add_field(b, "hi", u32_t, 4, 4);
  int un = btf__add_union(b, "val", 8);
  btf__add_field(b, "i", int_id, 0, 0);
  btf__add_field(b, "s", cstr, 0, 0);
  btf__add_struct(b, "", 0);  // nothing refers to it: dumped on its own
  int holder = btf__add_struct(b, "holder", 64);
  btf__add_field(b, "next", node_ptr, 0, 0);
  btf__add_field(b, "cb", fp, 64, 0);
  btf__add_field(b, "name", arr, 128, 0);
  btf__add_field(b, "state", e, 256, 0);
  btf__add_field(b, "big", e64, 320, 0);
  btf__add_field(b, "bits", anon, 384, 0);
  btf__add_field(b, "v", un, 448, 0);
  btf__add_field(b, "flag", vint, 0, 0);
  int proto = btf__add_func_proto(b, node_ptr);
  btf__add_func_param(b, "h", btf__add_ptr(b, holder));
  btf__add_func_param(b, "name", cstr);
  int vproto = btf__add_func_proto(b, 0);
  btf__add_func_param(b, "fmt", cstr);
  btf__add_func_param(b, nullptr, 0);  // variadic
  btf__add_func(b, "node_find", BTF_FUNC_STATIC, proto);
  btf__add_func(b, "node_log", BTF_FUNC_GLOBAL, vproto);
  return b;
}

// A module's BTF over make_base_btf(): its types continue the base's ids.
struct btf* module() {
  struct btf* base = probeseek::fuzz::make_base_btf();
  struct btf* b = btf__new_empty_split(base);
  int int_id = 1, sock_ptr = 3;
  int priv = btf__add_struct(b, "mod_priv", 16);
  btf__add_field(b, "sk", sock_ptr, 0, 0);
  btf__add_field(b, "n", int_id, 64, 0);
  int proto = btf__add_func_proto(b, int_id);
  btf__add_func_param(b, "p", btf__add_ptr(b, priv));
  btf__add_func_param(b, "sk", sock_ptr);
  btf__add_func(b, "mod_fn", BTF_FUNC_GLOBAL, proto);
  // btf__raw_data of a split BTF holds only its own types; the base is freed after writing.
  __u32 size = 0;
  btf__raw_data(b, &size);
  return b;  // base leaks in this one-shot tool on purpose: b points into it
}

// The issue 9 inputs that btf__new accepts and btf_dump could not survive.
struct btf* self_pointer() {
  struct btf* b = sockets();
  int p = btf__add_ptr(b, 1);
  retarget(b, p, p);
  return b;
}

struct btf* typedef_cycle() {
  struct btf* b = sockets();
  int a = btf__add_typedef(b, "a_t", 1);
  int c = btf__add_typedef(b, "b_t", a);
  retarget(b, a, c);
  return b;
}

struct btf* exponential() {
  struct btf* b = sockets();
  int below = 1;
  for (int level = 0; level < 40; ++level) {
    int s = btf__add_struct(b, "", 8);
    btf__add_field(b, "a", below, 0, 0);
    btf__add_field(b, "b", below, 32, 0);
    below = s;
  }
  btf__add_struct(b, "top", 8);
  btf__add_field(b, "t", below, 0, 0);
  return b;
}

struct btf* injected_names() {
  struct btf* b = btf__new_empty();
  int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  int proto = btf__add_func_proto(b, int_id);
  btf__add_func_param(b, "x\"); system(\"touch PWNED\"); printf((\"", int_id);
  btf__add_func(b, "f", BTF_FUNC_GLOBAL, proto);
  btf__add_struct(b, "a { int x; }; int pwned; struct b", 0);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "tests/fuzz";
  write(dir + "/corpus/btf/sockets", sockets(), 0);
  write(dir + "/corpus/btf/kinds", kinds(), 0);
  write(dir + "/corpus/btf/module_split", module(), 1);
  write(dir + "/regressions/btf/self_pointer", self_pointer(), 0);
  write(dir + "/regressions/btf/typedef_cycle", typedef_cycle(), 0);
  write(dir + "/regressions/btf/exponential_anonymous_structs", exponential(), 0);
  write(dir + "/regressions/btf/injected_names", injected_names(), 0);
  return 0;
}
