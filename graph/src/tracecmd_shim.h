// libtracecmd through a C translation unit: trace-cmd.h pulls in tracefs.h, whose inline
// functions are not valid C++ (an int passed as an enum). Only what the reader needs.
#pragma once

#include <event-parse.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tracecmd_input;

struct tracecmd_input* ps_tracecmd_open(const char* path);
void ps_tracecmd_close(struct tracecmd_input* handle);
struct tep_handle* ps_tracecmd_tep(struct tracecmd_input* handle);
typedef int (*ps_record_callback)(struct tep_record* record, int cpu, void* data);
int ps_tracecmd_iterate(struct tracecmd_input* handle, ps_record_callback callback, void* data);
const char* ps_tracecmd_uname(struct tracecmd_input* handle);     // may be NULL
const char* ps_tracecmd_cpustats(struct tracecmd_input* handle);  // may be NULL
int ps_tracecmd_cpus(struct tracecmd_input* handle);
// Whether libtracecmd parses a hook option's text (NUL-terminated) into a hook: 1 or 0.
int ps_tracecmd_hook_parses(const char* hook);

#ifdef __cplusplus
}
#endif
