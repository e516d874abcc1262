#include "tracecmd_shim.h"

#include <trace-cmd.h>

/* Exported by libtracecmd 3.x, declared only in trace-cmd's private header. */
const char* tracecmd_get_uname(struct tracecmd_input* handle);
const char* tracecmd_get_cpustats(struct tracecmd_input* handle);
int tracecmd_cpus(struct tracecmd_input* handle);

struct tracecmd_input* ps_tracecmd_open(const char* path) {
  tracecmd_set_loglevel(TEP_LOG_NONE);
  return tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
}

void ps_tracecmd_close(struct tracecmd_input* handle) { tracecmd_close(handle); }

struct tep_handle* ps_tracecmd_tep(struct tracecmd_input* handle) {
  return tracecmd_get_tep(handle);
}

struct iterate_ctx {
  ps_record_callback callback;
  void* data;
};

static int on_record(struct tracecmd_input* handle, struct tep_record* record, int cpu,
                     void* data) {
  struct iterate_ctx* ctx = data;
  (void)handle;
  return ctx->callback(record, cpu, ctx->data);
}

int ps_tracecmd_iterate(struct tracecmd_input* handle, ps_record_callback callback, void* data) {
  struct iterate_ctx ctx = {callback, data};
  return tracecmd_iterate_events(handle, NULL, 0, on_record, &ctx);
}

const char* ps_tracecmd_uname(struct tracecmd_input* handle) { return tracecmd_get_uname(handle); }

const char* ps_tracecmd_cpustats(struct tracecmd_input* handle) {
  return tracecmd_get_cpustats(handle);
}

int ps_tracecmd_cpus(struct tracecmd_input* handle) { return tracecmd_cpus(handle); }
