/*
 * httpd-tiny PORT
 *
 * Serves one fixed 6-byte page ("hello\n") on 127.0.0.1:PORT forever.
 *
 * Connections are handled one at a time in a single process, so every
 * request is served by the same pid and the same code path: that keeps
 * function_graph recordings of the server small and repeatable, which
 * matters far more here than concurrency.  Prints its pid once it is
 * listening, so a script can tell when it is ready.
 */
#include "common.h"

#include <signal.h>
#include <sys/time.h>

static const char response[] =
    "HTTP/1.0 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 6\r\n"
    "Connection: close\r\n"
    "\r\n"
    "hello\n";

/* Read the request until the blank line that ends its headers.  The body
 * is ignored (clients send GETs); a client that goes quiet is dropped after
 * the receive timeout so it cannot stall the single-threaded loop. */
static int read_request(int fd) {
  char buf[4096];
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, buf + used, sizeof(buf) - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    used += (size_t)n;
    buf[used] = '\0';
    if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) return 0;
    if (used == sizeof(buf) - 1) return 0; /* oversized: answer anyway */
  }
}

int main(int argc, char** argv) {
  prog_name = "httpd-tiny";
  if (argc != 2) {
    fprintf(stderr, "usage: httpd-tiny PORT\n");
    return 2;
  }
  /* A client that hangs up early must not kill the server. */
  signal(SIGPIPE, SIG_IGN);
  int lfd = listen_loopback(argv[1]);
  printf("%ld\n", (long)getpid());
  fflush(stdout);

  for (;;) {
    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die(1, "accept");
    }
    struct timeval tv = {5, 0};
    if (setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
      die(1, "setsockopt(SO_RCVTIMEO)");
    if (read_request(cfd) == 0 && write_all(cfd, response, sizeof(response) - 1) < 0)
      fprintf(stderr, "httpd-tiny: write: %s\n", strerror(errno));
    close(cfd);
  }
}
