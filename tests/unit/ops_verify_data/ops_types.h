/* The ops table type of ops_verify_fixture, a small program whose tables ops_verify_test reads
 * back out of its ELF file. Included by the C files and by the test (which builds the matching
 * BTF by hand and checks these offsets against it). */
#ifndef PROBESEEK_OPS_VERIFY_DATA_OPS_TYPES_H
#define PROBESEEK_OPS_VERIFY_DATA_OPS_TYPES_H

#include <stddef.h>

struct my_ops {
  int (*connect)(void* sk, int flags);
  int (*close)(void* sk);
  long (*ioctl)(void* sk, unsigned cmd, unsigned long arg);
};

/* The offsets the test's BTF declares. */
#define MY_OPS_SIZE 24
#define MY_OPS_CONNECT_OFFSET 0
#define MY_OPS_CLOSE_OFFSET 8
#define MY_OPS_IOCTL_OFFSET 16

#ifndef __cplusplus
_Static_assert(sizeof(struct my_ops) == MY_OPS_SIZE, "my_ops size");
_Static_assert(offsetof(struct my_ops, connect) == MY_OPS_CONNECT_OFFSET, "connect offset");
_Static_assert(offsetof(struct my_ops, close) == MY_OPS_CLOSE_OFFSET, "close offset");
_Static_assert(offsetof(struct my_ops, ioctl) == MY_OPS_IOCTL_OFFSET, "ioctl offset");
#endif

/* Wrapped in a larger object at a non-zero offset: the verifier does not look there. */
struct my_wrapper {
  long header;
  struct my_ops ops;
};

int table_b_touch(int x);

#endif
