# tests/lab/guest-lib.sh - shell helpers for guest scripts, installed by the runner as
# /lab/lib.sh (busybox sh). A guest script starts with `. /lab/lib.sh`.
#
#   check NAME CMD...    runs CMD; appends "ok NAME" or "FAIL NAME" to $OUT/checks.txt and
#                        sets failed=1 on failure (end the script with `exit $failed`)
#   wait_for FILE RE [S] waits until FILE has a line matching RE (at most S seconds, default 60;
#                        no fixed sleeps); returns 1 on timeout
#   stop_with SIG PID    sends SIG to a background job and returns its exit status
#   snapshot NAME        writes the tracing state probeseek must leave as it found it to
#                        $OUT/snap-NAME.txt, one "key=value" a line (the host compares two of
#                        them; buffer_size_kb needs normalising, see tests/lab/host-lib.sh)

failed=0
T=${T:-/sys/kernel/tracing}

check() {
    name=$1
    shift
    if "$@"; then
        echo "ok $name" | tee -a "$OUT/checks.txt"
    else
        echo "FAIL $name" | tee -a "$OUT/checks.txt"
        failed=1
    fi
}

wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt $((${3:-60} * 10)) ] || return 1
        usleep 100000
    done
}

stop_with() {
    kill "-$1" "$2"
    wait "$2"
}

snapshot() {
    {
        echo "current_tracer=$(cat $T/current_tracer)"
        echo "tracing_on=$(cat $T/tracing_on)"
        echo "set_ftrace_pid=$(tr '\n' ' ' <$T/set_ftrace_pid)"
        echo "set_ftrace_filter=$(tr '\n' ' ' <$T/set_ftrace_filter)"
        echo "set_graph_function=$(tr '\n' ' ' <$T/set_graph_function)"
        echo "max_graph_depth=$(cat $T/max_graph_depth)"
        echo "buffer_size_kb=$(cat $T/buffer_size_kb)"
        echo "trace_options=$(tr '\n' ' ' <$T/trace_options)"
        echo "events_enable=$(cat $T/events/enable)"
        echo "instances=$(ls $T/instances | tr '\n' ' ')"
        echo "state_files=$(ls /run/probeseek 2>/dev/null | tr '\n' ' ')"
        echo "spill_dirs=$(ls -d /tmp/probeseek-record-* 2>/dev/null | tr '\n' ' ')"
    } >"$OUT/snap-$1.txt"
}
