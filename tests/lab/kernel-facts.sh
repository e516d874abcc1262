#!/bin/sh
# Guest script for tests/lab/lab: records what the lab kernel offers for
# tracing, as "key: value" lines in $OUT/facts.txt (also printed).  The
# results are summarised in docs/lab.md ("Kernel facts"); rerun with
#   tests/lab/lab run tests/lab/kernel-facts.sh out/ --kernel 6.12
# to refresh them for a newer kernel.
T=/sys/kernel/tracing
facts=$OUT/facts.txt
: >"$facts"
fact() { echo "$1: $2" | tee -a "$facts"; }
exists() { if [ -e "$1" ]; then echo yes; else echo no; fi; }
count() { if [ -r "$1" ]; then wc -l <"$1"; else echo missing; fi; }

fact uname-r "$(uname -r)"
fact top.available_tracers "$(cat $T/available_tracers)"
fact top.current_tracer "$(cat $T/current_tracer)"
fact top.trace_clock "$(cat $T/trace_clock)"
fact top.options/function-fork "$(exists $T/options/function-fork)"
fact top.options/event-fork "$(exists $T/options/event-fork)"
fact top.options/funcgraph-retval "$(exists $T/options/funcgraph-retval)"
fact top.options/funcgraph-args "$(exists $T/options/funcgraph-args)"
fact top.set_ftrace_pid "$(exists $T/set_ftrace_pid)"
fact top.set_event_pid "$(exists $T/set_event_pid)"
fact top.set_graph_function "$(exists $T/set_graph_function)"
fact top.max_graph_depth "$(cat $T/max_graph_depth 2>/dev/null || echo missing)"
fact top.buffer_size_kb "$(cat $T/buffer_size_kb)"
fact kprobe_events "$(exists $T/kprobe_events)"
fact dynamic_events "$(exists $T/dynamic_events)"
fact available_filter_functions.lines "$(count $T/available_filter_functions)"
fact available_filter_functions_addrs "$(exists $T/available_filter_functions_addrs)"
fact debugfs.kprobes/blacklist "$(exists /sys/kernel/debug/kprobes/blacklist)"
fact debugfs.kprobes/blacklist.lines "$(count /sys/kernel/debug/kprobes/blacklist)"
fact debugfs.tracing-automount "$(exists /sys/kernel/debug/tracing/trace)"

# A fresh instance: probeseek wants its own buffer so it does not fight
# other users of the top-level tracer.
if mkdir $T/instances/x 2>/dev/null; then
    fact instance.available_tracers "$(cat $T/instances/x/available_tracers)"
    fact instance.options/function-fork "$(exists $T/instances/x/options/function-fork)"
    fact instance.set_ftrace_pid "$(exists $T/instances/x/set_ftrace_pid)"
    fact instance.set_graph_function "$(exists $T/instances/x/set_graph_function)"
    if echo function_graph >$T/instances/x/current_tracer 2>/dev/null; then
        fact instance.function_graph-settable yes
        echo nop >$T/instances/x/current_tracer
    else
        fact instance.function_graph-settable no
    fi
    rmdir $T/instances/x
else
    fact instance.mkdir failed
fi

fact btf.vmlinux.bytes "$(wc -c </sys/kernel/btf/vmlinux 2>/dev/null || echo missing)"
fact proc.kcore "$(exists /proc/kcore)"
fact proc.kallsyms.lines "$(count /proc/kallsyms)"
fact kptr_restrict "$(cat /proc/sys/kernel/kptr_restrict)"
fact perf_event_paranoid "$(cat /proc/sys/kernel/perf_event_paranoid)"
fact unprivileged_bpf_disabled "$(cat /proc/sys/kernel/unprivileged_bpf_disabled)"
mkdir -p /sys/kernel/security
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
fact lockdown "$(cat /sys/kernel/security/lockdown 2>/dev/null || echo unknown)"
fact cpus "$(grep -c ^processor /proc/cpuinfo)"
