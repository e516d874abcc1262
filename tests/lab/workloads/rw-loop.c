/*
 * rw-loop COUNT
 *
 * Reads one byte from /dev/zero and writes it to /dev/null COUNT times
 * (COUNT 0: until a signal ends it), then prints how long the loop took:
 * "rw-loop: N pairs in U us" on stdout. It prints its pid first ("pid P"),
 * once the files are open.
 *
 * The smallest busy workload: two syscalls per iteration and nothing else,
 * so every read() is one vfs_read and a function_graph recording of it is
 * the same few functions over and over. Its own clock (CLOCK_MONOTONIC
 * around the loop only) is what bench/lab_load.sh compares untraced and
 * under the recorders: process start-up and exit are left out.
 */
#include "common.h"

#include <fcntl.h>
#include <signal.h>

static volatile sig_atomic_t stop = 0;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char** argv) {
  prog_name = "rw-loop";
  if (argc != 2) {
    fprintf(stderr, "usage: rw-loop COUNT   (0: until SIGINT or SIGTERM)\n");
    return 2;
  }
  long count = parse_num("count", argv[1], 0, 1000000000L);
  int in = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (in < 0) die(1, "open /dev/zero");
  int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (out < 0) die(1, "open /dev/null");
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  printf("pid %ld\n", (long)getpid());
  fflush(stdout);

  long long start = now_us();
  long done = 0;
  char c;
  while ((count == 0 || done < count) && !stop) {
    if (read(in, &c, 1) != 1) {
      if (errno == EINTR) continue;
      die(1, "read");
    }
    if (write(out, &c, 1) != 1) {
      if (errno == EINTR) continue;
      die(1, "write");
    }
    done++;
  }
  printf("rw-loop: %ld pairs in %lld us\n", done, now_us() - start);
  return 0;
}
