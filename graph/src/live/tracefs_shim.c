#include "tracefs_shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <tracefs.h>
#include <unistd.h>

int ps_tracefs_use_dir(const char* tracing_dir) {
  tracefs_set_loglevel(TEP_LOG_NONE);
  /* libtracefs copies the string; the cast drops a const its prototype forgot. */
  return tracefs_set_tracing_dir((char*)tracing_dir);
}

struct tracefs_instance* ps_tracefs_instance_create(const char* name) {
  struct tracefs_instance* instance = tracefs_instance_create(name);
  if (!instance) return NULL;
  if (!tracefs_instance_is_new(instance)) {
    /* Someone else's instance of that name: never adopt (and later remove) it. */
    tracefs_instance_free(instance);
    errno = EEXIST;
    return NULL;
  }
  return instance;
}

void ps_tracefs_instance_free(struct tracefs_instance* instance) {
  if (instance) tracefs_instance_free(instance);
}

int ps_tracefs_write(struct tracefs_instance* instance, const char* file, const char* text) {
  errno = 0;
  int ret = tracefs_instance_file_write(instance, file, text);
  if (ret < 0 && errno == 0) errno = EIO;
  return ret < 0 ? -1 : 0;
}

char* ps_tracefs_read(struct tracefs_instance* instance, const char* file) {
  errno = 0;
  int size = 0;
  char* text = tracefs_instance_file_read(instance, file, &size);
  if (!text && errno == 0) errno = EIO;
  return text;
}

int ps_tracefs_trace_on(struct tracefs_instance* instance) {
  return tracefs_trace_on(instance);
}

int ps_tracefs_trace_off(struct tracefs_instance* instance) {
  return tracefs_trace_off(instance);
}

struct tracefs_cpu* ps_tracefs_cpu_open(struct tracefs_instance* instance, int cpu) {
  return tracefs_cpu_open(instance, cpu, true);
}

void ps_tracefs_cpu_close(struct tracefs_cpu* reader) {
  if (reader) tracefs_cpu_close(reader);
}

int ps_tracefs_cpu_page_size(struct tracefs_cpu* reader) {
  return tracefs_cpu_read_size(reader);
}

int ps_tracefs_cpu_splice_to(struct tracefs_cpu* reader, int fd) {
  int ret = tracefs_cpu_write(reader, fd, true);
  /* Non-blocking splice says EAGAIN while no full page is ready: that is "nothing yet". */
  if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  return ret;
}

int ps_tracefs_cpu_flush(struct tracefs_cpu* reader, void* page) {
  int ret = tracefs_cpu_flush(reader, page);
  if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  return ret;
}

/*
 * Only the three files decoding needs, parsed here: tracefs_local_events_system() reads every
 * format of a system and, depending on the libtracefs version, skips "ftrace" (it has no
 * "enable" file) or loads all of /proc/kallsyms behind our back.
 */
static int parse_file(struct tep_handle* tep, const char* file, const char* system) {
  int size = 0;
  char* text = tracefs_instance_file_read(NULL, file, &size);
  if (!text) return -1;
  int ret = system ? (int)tep_parse_event(tep, text, (unsigned long)size, system)
                   : tep_parse_header_page(tep, text, size, (int)sizeof(long));
  free(text);
  return ret == 0 ? 0 : -1;
}

struct tep_handle* ps_tracefs_funcgraph_events(void) {
  struct tep_handle* tep = tep_alloc();
  if (!tep) return NULL;
  tep_set_long_size(tep, (int)sizeof(long));
  tep_set_page_size(tep, getpagesize());
  if (parse_file(tep, "events/header_page", NULL) < 0 ||
      parse_file(tep, "events/ftrace/funcgraph_entry/format", "ftrace") < 0 ||
      parse_file(tep, "events/ftrace/funcgraph_exit/format", "ftrace") < 0) {
    int saved = errno;
    tep_free(tep);
    errno = saved ? saved : EINVAL;
    return NULL;
  }
  return tep;
}

int ps_tracefs_load_cmdlines(const char* tracing_dir, struct tep_handle* tep) {
  return tracefs_load_cmdlines(tracing_dir, tep);
}
