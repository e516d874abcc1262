/*
 * tcp-sink PORT
 *
 * Accepts TCP connections on 127.0.0.1:PORT and discards whatever they
 * send, forever.  Serves any number of connections at once from a single
 * process with poll(), so a long-lived writer (tcp-keepwriter) does not
 * block later clients and the receiving side is always one pid.  Prints
 * its pid once it is listening.
 */
#include "common.h"

#include <poll.h>

#define MAX_FDS 256

int main(int argc, char** argv) {
  prog_name = "tcp-sink";
  if (argc != 2) {
    fprintf(stderr, "usage: tcp-sink PORT\n");
    return 2;
  }
  struct pollfd fds[MAX_FDS];
  nfds_t nfds = 1;
  fds[0].fd = listen_loopback(argv[1]);
  fds[0].events = POLLIN;
  printf("%ld\n", (long)getpid());
  fflush(stdout);

  for (;;) {
    if (poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      die(1, "poll");
    }
    /* Walk backwards so removing entry i (by moving the last one into its
     * slot) never skips an entry that has not been looked at yet. */
    for (nfds_t i = nfds; i-- > 1;) {
      if (fds[i].revents == 0) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      close(fds[i].fd); /* EOF or error: the peer is gone */
      fds[i] = fds[--nfds];
    }
    if (fds[0].revents & POLLIN) {
      int cfd = accept4(fds[0].fd, NULL, NULL, SOCK_CLOEXEC);
      if (cfd < 0) {
        if (errno != EINTR && errno != ECONNABORTED) die(1, "accept");
      } else if (nfds == MAX_FDS) {
        fprintf(stderr, "tcp-sink: too many connections, dropping one\n");
        close(cfd);
      } else {
        fds[nfds].fd = cfd;
        fds[nfds].events = POLLIN;
        fds[nfds].revents = 0;
        nfds++;
      }
    }
  }
}
