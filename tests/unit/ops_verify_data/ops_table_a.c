/* First compilation unit of ops_verify_fixture. Built -O0, non-PIE, with -fno-toplevel-reorder
 * so that objects are laid out in the order written here (the tiny_pair case relies on it).
 * Every function has its own body so that no two can be folded into one address. */
#include "ops_types.h"

int my_connect(void* sk, int flags) {
  return (sk != 0) + flags + 1;
}
/* Static, and so is a function of the same name in ops_table_b.c. */
static int my_close(void* sk) {
  return sk != 0 ? 2 : 3;
}
/* Has the prototype of my_ops.connect but is in no table. */
int unused_connect(void* sk, int flags) {
  return (sk != 0) + flags + 4;
}

/* The compiler names clones like this; a table may point at one. */
int clone_target_impl(void* sk, int flags) __asm__("clone_target.isra.0");
int clone_target_impl(void* sk, int flags) {
  return (sk != 0) + flags + 5;
}

const struct my_ops tcp_like_ops = {my_connect, my_close, NULL};
static int clone_close(void* sk) {
  return sk != 0 ? 13 : 14;
}
const struct my_ops clone_ops = {clone_target_impl, clone_close, NULL};

/* Decoys. An int array: its words are no function addresses. */
int decoy_ints[6] = {1, 2, 3, 4, 5, 6};

/* Three text addresses in a row, but of void (*)(void) functions. */
void decoy_a(void) {}
void decoy_b(void) {
  decoy_ints[0]++;
}
void decoy_c(void) {
  decoy_ints[1]++;
}
void (*const decoy_handlers[3])(void) = {decoy_a, decoy_b, decoy_c};

/* One member with a matching prototype, two without: another struct type, not my_ops. */
int decoy_connect(void* sk, int flags) {
  return (sk != 0) + flags + 6;
}
struct decoy_ops {
  int (*first)(void*, int);
  void (*second)(void);
  void (*third)(void);
};
const struct decoy_ops decoy_mixed = {decoy_connect, decoy_a, decoy_b};

/* 16 bytes followed directly by a third pointer: reading sizeof(struct my_ops) at tiny_pair
 * yields three pointers of exactly my_ops' prototypes, yet tiny_pair is no my_ops: only the
 * next symbol starting inside those 24 bytes tells. */
int tiny_connect(void* sk, int flags) {
  return (sk != 0) + flags + 7;
}
int tiny_close(void* sk) {
  return sk != 0 ? 8 : 9;
}
long tiny_ioctl(void* sk, unsigned cmd, unsigned long arg) {
  return (sk != 0) + cmd + arg;
}
struct tiny_ops {
  int (*connect)(void*, int);
  int (*close)(void*);
};
const struct tiny_ops tiny_pair = {tiny_connect, tiny_close};
long (*const tiny_next)(void*, unsigned, unsigned long) = tiny_ioctl;

int wrapped_connect(void* sk, int flags) {
  return (sk != 0) + flags + 10;
}
int wrapped_close(void* sk) {
  return sk != 0 ? 11 : 12;
}
const struct my_wrapper wrapped = {0x1234, {wrapped_connect, wrapped_close, NULL}};

/* Filled at run time, like many kernel tables in .bss: a vmlinux image only shows zeros. */
struct my_ops runtime_ops;

int main(int argc, char** argv) {
  (void)argv;
  runtime_ops = tcp_like_ops;
  decoy_handlers[argc % 3]();
  return tcp_like_ops.connect(0, argc) + clone_ops.close(0) + table_b_touch(argc) +
         tiny_pair.close(0) + (int)tiny_next(0, 1, 2) + decoy_mixed.first(0, 1) +
         wrapped.ops.close(0) + unused_connect(0, 0);
}
