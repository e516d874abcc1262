/*
 * Shared helpers for the lab workloads.
 *
 * The workloads run inside the QEMU lab guest, where they are the traffic
 * that probeseek records.  They are deliberately tiny, single-purpose and
 * deterministic, so a recording of them contains few surprises: every
 * syscall they make is one a test author can predict.  Only numeric IPv4
 * addresses are accepted, because name resolution in a statically linked
 * glibc program would need NSS modules that the guest does not have.
 */
#ifndef PROBESEEK_LAB_COMMON_H
#define PROBESEEK_LAB_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char* prog_name = "workload";

/* Print "prog: message[: strerror]" and exit 1. */
static inline void die(int with_errno, const char* fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static inline void die(int with_errno, const char* fmt, ...) {
  int saved = errno;
  va_list ap;
  fprintf(stderr, "%s: ", prog_name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (with_errno) fprintf(stderr, ": %s", strerror(saved));
  fputc('\n', stderr);
  exit(1);
}

/* Parse a decimal number in [min, max] or exit with a usage error. */
static inline long parse_num(const char* what, const char* s, long min, long max) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
    die(0, "invalid %s '%s' (expected %ld..%ld)", what, s, min, max);
  return v;
}

/* Fill *addr from a numeric IPv4 address and a port given as text. */
static inline void parse_addr(struct sockaddr_in* addr, const char* host, const char* port) {
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_port = htons((unsigned short)parse_num("port", port, 1, 65535));
  if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
    die(0, "invalid IPv4 address '%s' (names are not resolved)", host);
}

/* A TCP socket listening on 127.0.0.1:port (loopback only, on purpose). */
static inline int listen_loopback(const char* port) {
  struct sockaddr_in addr;
  parse_addr(&addr, "127.0.0.1", port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(1, "socket");
  int one = 1;
  /* Lets a test restart a server on the same port without waiting out
   * TIME_WAIT from the previous run. */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
    die(1, "setsockopt(SO_REUSEADDR)");
  if (bind(fd, (struct sockaddr*)&addr, sizeof(addr)) < 0) die(1, "bind 127.0.0.1:%s", port);
  if (listen(fd, 64) < 0) die(1, "listen");
  return fd;
}

/* Sleep for ms milliseconds, resuming after signals. */
static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0) {
    if (errno != EINTR) die(1, "nanosleep");
  }
}

/* Write all of buf; returns 0 on success, -1 with errno set on failure. */
static inline int write_all(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

#endif
