/*
 * tcp-keepwriter HOST PORT INTERVAL_MS
 *
 * Connects once to HOST:PORT (numeric IPv4), prints its own pid on stdout
 * and then writes one short line every INTERVAL_MS milliseconds, forever.
 *
 * This is the "long-lived connection" case: a recorder attached after the
 * connection exists must still see the steady stream of sends.  The pid is
 * printed only once the connection is up, so reading it also tells the
 * caller that the writes have started.  Exits 1 if the peer goes away.
 */
#include "common.h"

#include <signal.h>

int main(int argc, char** argv) {
  prog_name = "tcp-keepwriter";
  if (argc != 4) {
    fprintf(stderr, "usage: tcp-keepwriter HOST PORT INTERVAL_MS\n");
    return 2;
  }
  struct sockaddr_in addr;
  parse_addr(&addr, argv[1], argv[2]);
  long interval = parse_num("interval", argv[3], 0, 86400000L);
  /* Report a vanished peer as a write error instead of dying silently. */
  signal(SIGPIPE, SIG_IGN);

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(1, "socket");
  if (connect(fd, (struct sockaddr*)&addr, sizeof(addr)) < 0)
    die(1, "connect %s:%s", argv[1], argv[2]);
  printf("%ld\n", (long)getpid());
  fflush(stdout);

  for (unsigned long seq = 0;; seq++) {
    char line[64];
    int len = snprintf(line, sizeof(line), "tick %lu\n", seq);
    if (write_all(fd, line, (size_t)len) < 0) die(1, "write");
    sleep_ms(interval);
  }
}
