/*
 * sig-default CMD [ARG]...
 *
 * Runs CMD with SIGINT and SIGQUIT back at their default action.  A
 * non-interactive shell starts background jobs with both ignored, and an
 * ignored disposition is inherited across exec, so a guest script's
 * "probeseek record ... &" would not die from a SIGINT that arrives before
 * it installs its handlers, as it would from a Ctrl-C in a terminal.
 */
#include <signal.h>

#include "common.h"

int main(int argc, char** argv) {
  prog_name = "sig-default";
  if (argc < 2) {
    fprintf(stderr, "usage: sig-default CMD [ARG]...\n");
    return 2;
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
  execvp(argv[1], argv + 1);
  die(1, "cannot run %s", argv[1]);
}
