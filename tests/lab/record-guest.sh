#!/bin/sh
# Guest half of tests/lab/record.sh: probeseek record end to end on a real kernel, in one boot
# (switching function_graph on and off costs 20 s a time under TCG, so every step counts).
#   1. record -- curl, then rank and explain in the guest (kcore verification)
#   2. record -p PID --duration 5 on a long-lived writer
#   3. SIGINT, SIGTERM, SIGKILL (+ probeseek reset) during recordings: the state comes back
#   4. another tracer active: record is refused and changes nothing
# Everything the host checks lands in $OUT: results.txt ("key=value"), snapshots of the
# tracing state (snap-*.txt, written by snapshot from /lab/lib.sh), stderr of every command,
# the databases. The host decides.
. /lab/lib.sh
R=$OUT/results.txt
: >"$R"
result() { echo "$1=$2" | tee -a "$R"; }
now() { date +%s; }

uname -r >"$OUT/uname.txt"
snapshot s0-before
probeseek doctor >"$OUT/doctor.txt" 2>&1
result doctor_rc $?
snapshot s0-after
INSTANCE_GRAPH=no
if mkdir $T/instances/lab-probe; then
    grep -qw function_graph $T/instances/lab-probe/available_tracers && INSTANCE_GRAPH=yes
    rmdir $T/instances/lab-probe
fi
result instance_function_graph $INSTANCE_GRAPH

# ---- 1. probeseek record -- curl
httpd-tiny 8080 >/tmp/httpd.pid &
lab-wait-listen 8080 60
snapshot s1-before
t=$(now)
probeseek record --db "$OUT/rec.db" --name curl -- curl -s http://127.0.0.1:8080/ \
    >"$OUT/s1-curl.out" 2>"$OUT/s1-record.err"
result s1_record_rc $?
result s1_record_seconds $(($(now) - t))
snapshot s1-after
t=$(now)
probeseek rank --db "$OUT/rec.db" --arg 'struct sock *' --under __x64_sys_connect \
    >"$OUT/s1-rank.txt" 2>&1
result s1_rank_rc $?
probeseek explain --db "$OUT/rec.db" tcp_v4_connect >"$OUT/s1-explain.txt" 2>&1
result s1_explain_rc $?
result s1_rank_explain_seconds $(($(now) - t))

# ---- 1b. reads of a tmpfs, a procfs and a sysfs file (issue 12: vfs_read is the dispatcher)
mkdir -p /mnt/t && mount -t tmpfs tmpfs /mnt/t && head -c 65536 /dev/zero >/mnt/t/data
t=$(now)
probeseek record --db "$OUT/rec.db" --name read --graph-function __x64_sys_read \
    -- sh -c 'dd if=/mnt/t/data of=/dev/null bs=16k; dd if=/proc/version of=/dev/null; dd if=/sys/kernel/uevent_seqnum of=/dev/null' \
    >/dev/null 2>"$OUT/s1b-record.err"
result s1b_record_rc $?
result s1b_record_seconds $(($(now) - t))

# ---- 1c. a server already asleep in accept(), recorded while three clients connect (issue 13)
httpd-tiny 8082 >/tmp/httpd-8082.pid &
lab-wait-listen 8082 60
ACCEPTOR=$(cat /tmp/httpd-8082.pid)
t=$(now)
probeseek record --db "$OUT/rec.db" --name accept -p "$ACCEPTOR" --duration 8 \
    >/dev/null 2>"$OUT/s1c-record.err" &
rec=$!
wait_for "$OUT/s1c-record.err" '^probeseek: recording' 120
for i in 1 2 3; do sleep 1; curl -s http://127.0.0.1:8082/ >/dev/null; done
wait $rec
result s1c_record_rc $?
result s1c_record_seconds $(($(now) - t))
kill "$ACCEPTOR"

# ---- 2. probeseek record -p PID --duration 5 on a long-lived client
tcp-sink 9000 >/tmp/sink.pid &
lab-wait-listen 9000 60
tcp-keepwriter 127.0.0.1 9000 100 >/tmp/writer.pid &
wait_for /tmp/writer.pid '[0-9]' 120
WRITER=$(cat /tmp/writer.pid)
result writer_pid "$WRITER"
t=$(now)
probeseek record --db "$OUT/rec.db" --name keepwriter -p "$WRITER" --duration 5 \
    2>"$OUT/s2-record.err"
result s2_record_rc $?
result s2_record_seconds $(($(now) - t))
snapshot s2-after
result s2_writer_alive "$(kill -0 "$WRITER" && echo yes || echo no)"

# ---- 3. crash cleanup: SIGINT, SIGTERM, SIGKILL + reset, each during a recording.
# SIGINT records through the top-level instance on every kernel (--graph-function and
# --max-depth exist only there); SIGTERM runs the command form, whose child gets the signal
# too; SIGKILL leaves everything to 'probeseek reset'.
crash() { # NAME SIGNAL ARGS...
    name=$1 sig=$2
    shift 2
    snapshot "s3-$name-before"
    t=$(now)
    probeseek record --db "$OUT/crash.db" --name "crash-$name" "$@" 2>"$OUT/s3-$name.err" &
    pid=$!
    if wait_for "$OUT/s3-$name.err" '^probeseek: recording ' 120; then
        sleep 2
        kill -"$sig" "$pid"
    else
        result "s3_${name}_armed" no
        kill -KILL "$pid"
    fi
    wait "$pid"
    result "s3_${name}_rc" $?
    if [ "$sig" = KILL ]; then
        snapshot "s3-$name-killed"
        probeseek reset >"$OUT/s3-$name-reset.out" 2>&1
        result "s3_${name}_reset_rc" $?
    fi
    result "s3_${name}_seconds" $(($(now) - t))
    snapshot "s3-$name-after"
}
crash int INT -p "$WRITER" --graph-function tcp_sendmsg --max-depth 6 --buffer-size 2048
crash term TERM -- tcp-keepwriter 127.0.0.1 9000 200
crash kill KILL -p "$WRITER"

# ---- 4. recording while another tracer is active is refused and changes nothing
echo tcp_v4_connect >$T/set_ftrace_filter
echo function >$T/current_tracer
snapshot s4-before
probeseek record --db "$OUT/refused.db" --graph-function tcp_sendmsg -- true 2>"$OUT/s4-graph.err"
result s4_graph_rc $?
# Without --graph-function a kernel whose instances run function_graph records in its own
# instance, undisturbed: only a kernel without that must refuse.
if [ $INSTANCE_GRAPH = no ]; then
    probeseek record --db "$OUT/refused.db" -- true 2>"$OUT/s4-plain.err"
    result s4_plain_rc $?
fi
snapshot s4-after
echo nop >$T/current_tracer
echo >$T/set_ftrace_filter
result s4_db_created "$([ -e "$OUT/refused.db" ] && echo yes || echo no)"

kill "$WRITER" "$(cat /tmp/sink.pid)" "$(cat /tmp/httpd.pid)" 2>/dev/null
probeseek sessions --db "$OUT/rec.db" >"$OUT/sessions.txt" 2>&1
probeseek sessions --db "$OUT/crash.db" >"$OUT/crash-sessions.txt" 2>&1
exit 0
