#!/usr/bin/env bash
# tests/lab/probe-attach.sh - `probeseek attach` on a real kernel, in one boot:
#   1. attach tcp_v4_connect (default type) while curl connects to httpd-tiny: an event with
#      comm curl, destination 127.0.0.1:PORT and a non-zero local port; Ctrl-C detaches, exit 0
#   2. --type kretprobe --json: the return value (0) is printed; SIGTERM detaches
#   3. --type fentry: events from a BPF trampoline; --duration ends a run by itself
#   4. refusals: a deny-listed function is refused without --unsafe (exit 2)
#   5. a probeseek killed with SIGKILL leaves no BPF link and no kprobe_event behind
#   6. 20 attach/detach cycles in one process (probe-cycles): no fd, no link left
#
# Usage: tests/lab/probe-attach.sh PROBESEEK PROBE_CYCLES [--kernel K]
# Exit status: 0 pass, 77 skipped (lab cannot run here), 1 failure.
set -euo pipefail

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
probeseek=${1:?usage: $0 PROBESEEK PROBE_CYCLES [--kernel K]}
cycles=${2:?usage: $0 PROBESEEK PROBE_CYCLES [--kernel K]}
shift 2
lab_begin probe-attach
lab_args "$0 PROBESEEK PROBE_CYCLES [--kernel K]" "$@"
kernel=${KERNELS[0]:-6.1}

cat >"$TMP/guest.sh" <<'GUEST'
. /lab/lib.sh
elapsed() { echo "$1 $(($(date +%s) - $2))s" >>"$OUT/timings.txt"; }

httpd-tiny 8080 >/tmp/httpd.pid &
lab-wait-listen 8080 60

# 1. Default type, Ctrl-C.
t=$(date +%s)
probeseek attach tcp_v4_connect >"$OUT/attach.txt" 2>"$OUT/attach.err" &
pid=$!
check attach-attached wait_for "$OUT/attach.err" '^attached'
elapsed attach-startup "$t"
curl -s http://127.0.0.1:8080/ >/dev/null
check attach-event wait_for "$OUT/attach.txt" 'curl'
check attach-sigint-exit-0 stop_with INT $pid
elapsed attach-total "$t"

# 2. kretprobe, JSON, SIGTERM.
t=$(date +%s)
probeseek attach --type kretprobe tcp_v4_connect --json >"$OUT/kret.json" 2>"$OUT/kret.err" &
pid=$!
check kret-attached wait_for "$OUT/kret.err" '^attached'
curl -s http://127.0.0.1:8080/ >/dev/null
check kret-event wait_for "$OUT/kret.json" '"comm":"curl"'
check kret-sigterm-exit-0 stop_with TERM $pid
elapsed kretprobe-total "$t"

# 3. fentry.
t=$(date +%s)
probeseek attach --type fentry tcp_v4_connect >"$OUT/fentry.txt" 2>"$OUT/fentry.err" &
pid=$!
check fentry-attached wait_for "$OUT/fentry.err" '^attached'
curl -s http://127.0.0.1:8080/ >/dev/null
check fentry-event wait_for "$OUT/fentry.txt" 'curl'
check fentry-sigint-exit-0 stop_with INT $pid
elapsed fentry-total "$t"

# --duration ends it by itself.
check duration-exit-0 probeseek attach tcp_v4_connect --duration 1 >/dev/null 2>"$OUT/duration.err"
check duration-detached grep -q 'detached' "$OUT/duration.err"

# 4. Refusal.
rc=0
probeseek attach bpf_prog_load --duration 1 >/dev/null 2>"$OUT/denied.err" || rc=$?
check denied-exit-2 test "$rc" = 2
check denied-says-why grep -q 'deny list' "$OUT/denied.err"

# 5. SIGKILL leaves nothing behind: links are fds, closed by the kernel with the process.
probeseek attach tcp_v4_connect >/dev/null 2>"$OUT/killed.err" &
pid=$!
check killed-attached wait_for "$OUT/killed.err" '^attached'
probe-cycles --links >"$OUT/links-while-attached.txt"
kill -KILL $pid
wait $pid 2>/dev/null
usleep 500000
probe-cycles --links >"$OUT/links-after-kill.txt"
check killed-had-links test "$(cat "$OUT/links-while-attached.txt")" -ge 2
check killed-no-links test "$(cat "$OUT/links-after-kill.txt")" = 0
cat /sys/kernel/tracing/kprobe_events >"$OUT/kprobe_events-after-kill.txt"
check killed-no-kprobe-events test ! -s "$OUT/kprobe_events-after-kill.txt"

# 6. 20 cycles in one process.
t=$(date +%s)
rc=0
probe-cycles tcp_v4_connect 20 >"$OUT/cycles.txt" 2>&1 || rc=$?
check cycles test "$rc" = 0
elapsed cycles-20 "$t"
probe-cycles --links >"$OUT/links-at-end.txt"
check end-no-links test "$(cat "$OUT/links-at-end.txt")" = 0
cat /sys/kernel/tracing/kprobe_events >"$OUT/kprobe_events-at-end.txt"
check end-no-kprobe-events test ! -s "$OUT/kprobe_events-at-end.txt"

kill "$(cat /tmp/httpd.pid)" 2>/dev/null
exit $failed
GUEST

lab_say "kernel $kernel"
out=$TMP/out
show() { for f in "$out"/*.txt "$out"/*.err "$out"/*.json; do [[ -f $f ]] && { echo "== $f"; cat "$f"; }; done >&2; }
lab_run "$TMP/guest.sh" "$out" "$kernel" --timeout 400 \
    --binary "$probeseek" --binary "$cycles" || { show; exit 1; }

# Host half: what the events say.
problems=()
event=$(grep -m1 'curl' "$out/attach.txt" || true)
[[ $event == *"tcp_v4_connect(struct sock *sk="* ]] || problems+=("attach: no decoded tcp_v4_connect event: $event")
[[ $event =~ \{AF_INET\ 127\.0\.0\.1:([0-9]+)\ -\>\ 127\.0\.0\.1:8080 ]] ||
    problems+=("attach: event lacks destination 127.0.0.1:8080: $event")
[[ ${BASH_REMATCH[1]:-0} -gt 0 ]] || problems+=("attach: local port is 0: $event")
grep -q '0 lost' "$out/attach.err" || problems+=("attach: lost events not reported as 0")
grep -q 'detached' "$out/attach.err" || problems+=("attach: did not report detaching")
kret=$(grep -m1 '"comm":"curl"' "$out/kret.json" || true)
[[ $kret == *'"ret":{"raw":0,"type":"int","value":"0"}'* ]] ||
    problems+=("kretprobe: return value 0 not printed: $kret")
[[ $kret =~ \"local_port\":[1-9] ]] || problems+=("kretprobe: local port missing: $kret")
grep -q 'attached fentry' "$out/fentry.err" || problems+=("fentry: not attached as fentry")
grep -q 'uaddr=.*{AF_INET 127.0.0.1:8080}' "$out/fentry.txt" || problems+=("fentry: sockaddr not decoded")
lab_problems "$kernel" "${problems[@]}" || { show; exit 1; }
lab_say "PASS ($kernel, $(grep -c '^ok' "$out/checks.txt") guest checks; $(tr '\n' ' ' <"$out/timings.txt"))"
cat "$out/cycles.txt" >&2
