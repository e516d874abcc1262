#!/bin/sh
# Guest half of tests/lab/cleanup-trials.sh: many crash-cleanup trials in one boot. Each trial
# snapshots the tracing state, starts a recording, sends it a signal (SIGINT, SIGTERM, or SIGKILL
# followed by 'probeseek reset') and snapshots the state again; the host compares the two.
#   SIGINT:  -p WRITER --graph-function tcp_sendmsg --max-depth 6 (top-level instance everywhere)
#   SIGTERM: the command form (-- tcp-keepwriter ...), whose child gets the signal too
#   SIGKILL: -p WRITER (a private instance where the kernel allows one), then probeseek reset
# When the signal arrives varies with the trial number i (deterministic, so a failure can be
# replayed): i % 4 == 0 or 1 "running" (0-2 s after 'recording ...'), 2 "launch" (0-1 s after
# the start, without waiting for any output: while record reads the kernel's symbols, before
# it changes anything), 3 "setup" (0-99 ms after record says which instance it uses: while it
# saves and writes the tracing files and switches current_tracer). So 3 trials see every mode.
# The stage= of a trial says what record had printed last when the signal went out.
# Out: trials.txt (one line per trial, "key=value ..."), snap-NAME-{before,after,killed}.txt,
# NAME.err (record's stderr), NAME-reset.out. TRIALS comes from /lab/files/trials.conf.
. /lab/lib.sh
TRIALS=20
[ -r /lab/files/trials.conf ] && . /lab/files/trials.conf
: >"$OUT/trials.txt"
uname -r >"$OUT/uname.txt"
now() { date +%s; }

tcp-sink 9000 >/tmp/sink.pid &
lab-wait-listen 9000 60
start_writer() {
    tcp-keepwriter 127.0.0.1 9000 100 >/tmp/writer.pid &
    wait_for /tmp/writer.pid '[0-9]' 120
    WRITER=$(cat /tmp/writer.pid)
}
start_writer
writer_restarts=0
# The writer must live for -p (it is never signalled, but a trial may go wrong).
ensure_writer() {
    kill -0 "$WRITER" 2>/dev/null || { start_writer; writer_restarts=$((writer_restarts + 1)); }
}

# Waits until FILE has a line matching the extended RE while PID lives (at most 300 s under TCG).
wait_stage() { # FILE RE PID
    n=0
    while ! grep -qE "$2" "$1" 2>/dev/null; do
        kill -0 "$3" 2>/dev/null || return 1
        n=$((n + 1))
        [ $n -lt 3000 ] || return 1
        usleep 100000
    done
}

# What record was doing when the signal went out, from its last line on stderr.
stage_of() {
    last=$(tail -n 1 "$1" 2>/dev/null)
    case $last in
        '') echo before-output ;;
        *'probeseek: recording '*) echo recording ;;
        *'probeseek: switching current_tracer'*) echo switching-tracer ;;
        *'probeseek: using '* | *"probeseek: this kernel's tracing instances"*) echo instance-chosen ;;
        *) echo other ;;
    esac
}

trial() { # SIG I OFFSET ARGS...
    sig=$1 num=$2 offset=$3
    shift 3
    name=$(echo "$sig" | tr '[:upper:]' '[:lower:]')-$num
    case $((num % 4)) in
        2) mode=launch ;;
        3) mode=setup ;;
        *) mode=running ;;
    esac
    delay=$(((num * 613 + offset) % 2001)) # ms
    [ $mode != launch ] || delay=$((delay / 2))
    [ $mode != setup ] || delay=$((delay % 100))
    snapshot "$name-before"
    t=$(now)
    err=$OUT/$name.err
    # sig-default: SIGINT as from a terminal, not ignored as in a background job of a script.
    # A database per trial: one a killed recording leaves broken must not fail the next trials.
    sig-default probeseek record --db "/tmp/$name.db" --name "$name" "$@" 2>"$err" &
    pid=$!
    armed=yes
    case $mode in
        running) wait_stage "$err" '^probeseek: recording ' $pid || armed=no ;;
        setup) wait_stage "$err" "^probeseek: (using|this kernel's)" $pid || armed=no ;;
    esac
    [ $armed = yes ] && usleep $((delay * 1000))
    stage=$(stage_of "$err")
    if [ $armed = yes ]; then kill -"$sig" $pid; else kill -KILL $pid 2>/dev/null; fi
    # A recording that ignores its signal would run forever: give it 300 s, then SIGKILL.
    rm -f /tmp/watchdog-fired
    (sleep 300 && kill -0 $pid 2>/dev/null && touch /tmp/watchdog-fired && kill -KILL $pid) &
    watchdog=$!
    wait $pid
    rc=$?
    kill $watchdog 2>/dev/null
    hung=no
    [ ! -e /tmp/watchdog-fired ] || hung=yes
    reset_rc=-
    if [ "$sig" = KILL ] || [ $armed = no ] || [ $hung = yes ]; then
        snapshot "$name-killed"
        probeseek reset >"$OUT/$name-reset.out" 2>&1
        reset_rc=$?
    fi
    snapshot "$name-after"
    # Keep the trials independent: whatever this one left behind, the next starts clean.
    recovery=-
    if [ -n "$(ls /run/probeseek 2>/dev/null)" ] || ! grep -qx nop "$T/current_tracer" ||
        [ -n "$(ls -d "$T"/instances/probeseek-* 2>/dev/null)" ]; then
        probeseek reset >"$OUT/$name-recovery.out" 2>&1
        recovery=$?
    fi
    rm -f "/tmp/$name.db" "/tmp/$name.db-journal" "/tmp/$name.db-wal" "/tmp/$name.db-shm"
    # A spill directory left behind is in the snapshot already; the next trial starts without.
    rm -rf /tmp/probeseek-record-*
    # The command form's child must not outlive the recording either.
    strays=0
    for d in /proc/[0-9]*; do
        if [ "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" = 'tcp-keepwriter 127.0.0.1 9000 200 ' ]; then
            strays=$((strays + 1))
            kill -KILL "${d#/proc/}"
        fi
    done
    line="name=$name sig=$sig mode=$mode delay_ms=$delay armed=$armed stage=$stage hung=$hung rc=$rc"
    line="$line reset_rc=$reset_rc recovery=$recovery strays=$strays seconds=$(($(now) - t))"
    echo "$line" | tee -a "$OUT/trials.txt"
}

started=$(now)
k=1 # not i: wait_for counts in i
while [ $k -le "$TRIALS" ]; do
    ensure_writer
    trial INT $k 0 -p "$WRITER" --graph-function tcp_sendmsg --max-depth 6 --buffer-size 2048
    trial TERM $k 271 -- tcp-keepwriter 127.0.0.1 9000 200
    ensure_writer
    trial KILL $k 542 -p "$WRITER"
    k=$((k + 1))
done
echo "trials_seconds=$(($(now) - started)) writer_restarts=$writer_restarts" >"$OUT/summary.txt"
kill "$WRITER" "$(cat /tmp/sink.pid)" 2>/dev/null
exit 0
