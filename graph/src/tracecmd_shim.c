#include "tracecmd_shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <trace-cmd.h>

/* Exported by libtracecmd 3.x, declared only in trace-cmd's private header. */
const char* tracecmd_get_uname(struct tracecmd_input* handle);
const char* tracecmd_get_cpustats(struct tracecmd_input* handle);
int tracecmd_cpus(struct tracecmd_input* handle);

struct tracecmd_input* ps_tracecmd_open(const char* path) {
  tracecmd_set_loglevel(TEP_LOG_NONE);
  return tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
}

void ps_tracecmd_close(struct tracecmd_input* handle) {
  tracecmd_close(handle);
}

struct tep_handle* ps_tracecmd_tep(struct tracecmd_input* handle) {
  return tracecmd_get_tep(handle);
}

/*
 * Merges the per-CPU streams by timestamp. tracecmd_iterate_events() does the same but
 * peeks every CPU for every record; keeping one head record per CPU is cheaper, and the
 * per-task builder only needs a global time order.
 */
int ps_tracecmd_iterate(struct tracecmd_input* handle, ps_record_callback callback, void* data) {
  int cpus = tracecmd_cpus(handle);
  if (cpus <= 0) return 0;
  struct tep_record** head = calloc((size_t)cpus, sizeof(*head));
  if (!head) return -1;
  for (int cpu = 0; cpu < cpus; cpu++) head[cpu] = tracecmd_read_cpu_first(handle, cpu);
  int ret = 0;
  for (;;) {
    int next = -1;
    for (int cpu = 0; cpu < cpus; cpu++)
      if (head[cpu] && (next < 0 || head[cpu]->ts < head[next]->ts)) next = cpu;
    if (next < 0) break;
    struct tep_record* record = head[next];
    ret = callback(record, next, data);
    tracecmd_free_record(record);
    head[next] = ret == 0 ? tracecmd_read_data(handle, next) : NULL;
    if (ret != 0) break;
  }
  for (int cpu = 0; cpu < cpus; cpu++)
    if (head[cpu]) tracecmd_free_record(head[cpu]);
  free(head);
  return ret;
}

const char* ps_tracecmd_uname(struct tracecmd_input* handle) {
  return tracecmd_get_uname(handle);
}

const char* ps_tracecmd_cpustats(struct tracecmd_input* handle) {
  return tracecmd_get_cpustats(handle);
}

int ps_tracecmd_cpus(struct tracecmd_input* handle) {
  return tracecmd_cpus(handle);
}

/* Declared only in trace-cmd's private header, like the three above. */
struct hook_list;
struct hook_list* tracecmd_create_event_hook(const char* arg);
void tracecmd_free_hooks(struct hook_list* hooks);

/*
 * libtracecmd's handle_options() links the result of tracecmd_create_event_hook() into its
 * list without checking it: a hook option it cannot parse is a NULL dereference there.
 */
int ps_tracecmd_hook_parses(const char* hook) {
  tracecmd_set_loglevel(TEP_LOG_NONE);
  struct hook_list* parsed = tracecmd_create_event_hook(hook);
  if (!parsed) return 0;
  tracecmd_free_hooks(parsed);
  return 1;
}
