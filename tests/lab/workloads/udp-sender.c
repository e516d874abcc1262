/*
 * udp-sender HOST PORT COUNT INTERVAL_MS
 *
 * Sends COUNT short datagrams to HOST:PORT (numeric IPv4), sleeping
 * INTERVAL_MS between them, then exits 0.  Nobody needs to listen: a
 * datagram to a closed loopback port still walks the whole send path,
 * which is what a recording wants to see.  An ICMP "port unreachable"
 * reported on a later send is therefore ignored rather than fatal.
 */
#include "common.h"

int main(int argc, char** argv) {
  prog_name = "udp-sender";
  if (argc != 5) {
    fprintf(stderr, "usage: udp-sender HOST PORT COUNT INTERVAL_MS\n");
    return 2;
  }
  struct sockaddr_in addr;
  parse_addr(&addr, argv[1], argv[2]);
  long count = parse_num("count", argv[3], 0, LONG_MAX);
  long interval = parse_num("interval", argv[4], 0, 86400000L);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(1, "socket");
  for (long i = 0; i < count; i++) {
    char msg[64];
    int len = snprintf(msg, sizeof(msg), "datagram %ld\n", i);
    ssize_t n = sendto(fd, msg, (size_t)len, 0, (struct sockaddr*)&addr, sizeof(addr));
    if (n < 0 && errno != ECONNREFUSED) die(1, "sendto");
    if (i + 1 < count) sleep_ms(interval);
  }
  close(fd);
  return 0;
}
