// libtracefs through a C translation unit: tracefs.h has inline functions that are not valid
// C++ (an int passed as an enum), so the C++ side never includes it. Only what the recorder
// and the doctor need. NULL as an instance means the top-level tracing instance. Functions
// returning int give 0 (or a count) on success and -1 with errno set on failure.
#pragma once

#include <event-parse.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tracefs_instance;
struct tracefs_cpu;

/* Points libtracefs at this tracefs mount, so it never mounts one itself. */
int ps_tracefs_use_dir(const char* tracing_dir);

/* mkdir instances/NAME; NULL (errno set) when it fails or the instance already existed. */
struct tracefs_instance* ps_tracefs_instance_create(const char* name);
/* Frees the handle only; the kernel instance stays (removing it is a rmdir of its path). */
void ps_tracefs_instance_free(struct tracefs_instance* instance);

/* Replaces the file's content (open with O_TRUNC, as `echo TEXT > FILE` does). */
int ps_tracefs_write(struct tracefs_instance* instance, const char* file, const char* text);
/* The file's content, malloc'ed (caller frees), or NULL with errno. */
char* ps_tracefs_read(struct tracefs_instance* instance, const char* file);

/* tracing_on = 1 / 0. */
int ps_tracefs_trace_on(struct tracefs_instance* instance);
int ps_tracefs_trace_off(struct tracefs_instance* instance);

/* per_cpu/cpuN/trace_pipe_raw, opened non-blocking. */
struct tracefs_cpu* ps_tracefs_cpu_open(struct tracefs_instance* instance, int cpu);
void ps_tracefs_cpu_close(struct tracefs_cpu* reader);
/* Bytes of one ring-buffer page (sub-buffer) as the reader returns it. */
int ps_tracefs_cpu_page_size(struct tracefs_cpu* reader);
/* Moves the full pages the kernel has ready into fd (splice); 0 when none is ready. */
int ps_tracefs_cpu_splice_to(struct tracefs_cpu* reader, int fd);
/* Reads what is left, one (possibly partial) page into `page` (page-size bytes); 0 when
   nothing is left. Use after tracing is off. */
int ps_tracefs_cpu_flush(struct tracefs_cpu* reader, void* page);

/* A tep handle with the ring buffer's header_page and the funcgraph_entry/exit formats of
   the directory set by ps_tracefs_use_dir; NULL (errno set) on failure. Free with tep_free. */
struct tep_handle* ps_tracefs_funcgraph_events(void);
/* saved_cmdlines into the tep handle (pid -> comm). */
int ps_tracefs_load_cmdlines(const char* tracing_dir, struct tep_handle* tep);

#ifdef __cplusplus
}
#endif
