#!/bin/sh
# Guest script for tests/lab/lab: the recordings that used to hang while saving (lab trial int-11
# on 6.1, docs/reliability.md). All of them go into one database that already holds a session,
# as that trial's did:
#   seed      a normal recording, so the database has calls
#   empty     --graph-function tcp_v4_connect on a writer that never connects: a session
#             without a call (it hung in SessionWriter::commit before the fix)
#   int-N     SIGINT soon after record says which instance it uses (odd N: 0-99 ms, the
#             "setup" of cleanup-trials-guest.sh) or soon after "recording ..." (even N: 0-99
#             ms, mostly before the writer's next write, so usually no call either)
#   kill-save SIGKILL while record saves: its state file must still name the spill directory,
#             and 'probeseek reset' must remove both
# Every recording gets WATCHDOG (240) s after its signal; one that has not exited by then is
# SIGKILLed and counted as hung. Out: results.txt (one "key=value ..." line per recording), NAME.err.
# Run: tests/lab/lab run tests/lab/empty-save-guest.sh OUTDIR --kernel 6.1 \
#        --binary build/cli/probeseek --timeout 1800
#      (TRIES=N and WATCHDOG=S in a --file tries.conf; the fix took 9-16 s per recording on 6.1)
. /lab/lib.sh
TRIES=12
WATCHDOG=240
[ -r /lab/files/tries.conf ] && . /lab/files/tries.conf
uname -r >"$OUT/uname.txt"
: >"$OUT/results.txt"
DB=/tmp/shared.db

tcp-sink 9000 >/tmp/sink.pid &
lab-wait-listen 9000 60
tcp-keepwriter 127.0.0.1 9000 100 >/tmp/writer.pid &
wait_for /tmp/writer.pid '[0-9]' 120
WRITER=$(cat /tmp/writer.pid)

leftovers() {
    echo "tracer=$(cat "$T/current_tracer") state=$(ls /run/probeseek 2>/dev/null | tr '\n' ,)" \
        "spill=$(ls -d /tmp/probeseek-record-* 2>/dev/null | tr '\n' ,)"
}

# Waits for PID with a WATCHDOG s watchdog; sets rc and hung.
await() {
    rm -f /tmp/watchdog-fired
    (sleep "$WATCHDOG" && kill -0 "$1" 2>/dev/null && touch /tmp/watchdog-fired && kill -KILL "$1") &
    watchdog=$!
    wait "$1"
    rc=$?
    kill $watchdog 2>/dev/null
    hung=no
    [ ! -e /tmp/watchdog-fired ] || hung=yes
}

# NAME: the line of a finished recording, then a clean slate for the next one.
report() {
    t1=$(date +%s)
    calls=$(sed -n 's/^recorded [^:]*: \([0-9]*\) calls.*/\1/p' "$OUT/$1.err")
    saved=$(sed -n 's/.*saving \([0-9]*\) KB.*/\1/p' "$OUT/$1.err")
    first=$(grep -m1 '^error:' "$OUT/$1.err" | cut -c1-60 | tr ' ' _)
    echo "name=$1 rc=$rc hung=$hung seconds=$((t1 - t0)) saved_kb=${saved:--} calls=${calls:--}" \
        "error=${first:--} $(leftovers)" | tee -a "$OUT/results.txt"
    if [ -n "$(ls /run/probeseek 2>/dev/null)" ] || ! grep -qx nop "$T/current_tracer"; then
        probeseek reset >"$OUT/$1-recovery.out" 2>&1
        echo "name=$1-recovery rc=$? $(leftovers)" | tee -a "$OUT/results.txt"
    fi
    rm -rf /tmp/probeseek-record-*
}

ARGS="-p $WRITER --max-depth 6 --buffer-size 2048"

t0=$(date +%s)
probeseek record --db $DB --name seed $ARGS --graph-function tcp_sendmsg --duration 2 \
    2>"$OUT/seed.err" &
await $!
report seed

t0=$(date +%s)
probeseek record --db $DB --name empty $ARGS --graph-function tcp_v4_connect --duration 1 \
    2>"$OUT/empty.err" &
await $!
report empty

k=1
while [ $k -le "$TRIES" ]; do
    name=int-$k
    delay=$(((k * 37) % 100))
    t0=$(date +%s)
    sig-default probeseek record --db $DB --name "$name" $ARGS --graph-function tcp_sendmsg \
        2>"$OUT/$name.err" &
    pid=$!
    if [ $((k % 2)) = 1 ]; then
        wait_for "$OUT/$name.err" '^probeseek: using ' 300
    else
        wait_for "$OUT/$name.err" '^probeseek: recording ' 300
    fi
    usleep $((delay * 1000))
    echo "$name: SIGINT ${delay} ms after: $(tail -n 1 "$OUT/$name.err")" >>"$OUT/signals.txt"
    kill -INT $pid
    await $pid
    report "$name"
    k=$((k + 1))
done

# SIGKILL while saving: what reset finds.
t0=$(date +%s)
probeseek record --db $DB --name kill-save $ARGS --graph-function tcp_sendmsg --duration 1 \
    2>"$OUT/kill-save.err" &
pid=$!
wait_for "$OUT/kill-save.err" 'saving' 300
kill -KILL $pid
wait $pid
echo "name=kill-save-killed $(leftovers)" | tee -a "$OUT/results.txt"
cat /run/probeseek/* >"$OUT/kill-save-state.json" 2>&1
probeseek reset >"$OUT/kill-save-reset.out" 2>&1
echo "name=kill-save-reset rc=$? $(leftovers)" | tee -a "$OUT/results.txt"
probeseek sessions --db $DB >"$OUT/sessions.txt" 2>&1
echo "name=sessions rc=$?" | tee -a "$OUT/results.txt"

kill "$WRITER" "$(cat /tmp/sink.pid)" 2>/dev/null
exit 0
