/* Second compilation unit of ops_verify_fixture: a static my_close of its own, and a writable
 * table (in .data, unlike the const ones of ops_table_a.c in .rodata). */
#include "ops_types.h"

static int my_close(void* sk) {
  return sk != 0 ? 20 : 21;
}
static int other_connect(void* sk, int flags) {
  return (sk != 0) + flags + 22;
}
static long other_ioctl(void* sk, unsigned cmd, unsigned long arg) {
  return (sk != 0) + cmd + arg + 23;
}

struct my_ops other_ops = {other_connect, my_close, other_ioctl};

int table_b_touch(int x) {
  return other_ops.close(0) + (int)other_ops.ioctl(0, 0, 0) + x;
}
