#!/usr/bin/env bash
# tests/lab/probe-inflight.sh - calls in flight (issue 13) on a real kernel, in one boot: a return
# probe sees only calls that entered after it was attached. httpd-tiny serves one connection at
# a time and is started first, so that it is already asleep in accept() (inet_csk_accept on its
# kernel stack) when the probes are attached.
#   1. attach inet_csk_accept --type kretprobe --duration N: the warning names the server (its
#      pid, httpd-tiny) and says what the scan read; a first client's accept, which the server
#      was already inside, gives no event; a second client's accept (the server entered it after
#      the attach, to serve the next connection) gives exactly one, with that client's port
#   1b. the same with --type fexit (a BPF trampoline), ended with Ctrl-C
#   2. attach inet_csk_accept --type kprobe --duration N on the same server: no scan and no
#      warning (an entry probe), and one client gives one event (the entry of the next accept)
#   3. verify --function inet_csk_accept -- curl: "did not fire" (the accept runs in the server,
#      not in the curl workload, so no probe of verify counts it) with a warning naming the server
#      as inside inet_csk_accept and not the workload, in text, JSON and the stored summary
#
# Usage: tests/lab/probe-inflight.sh PROBESEEK [--kernel K]
# Exit status: 0 pass, 77 skipped (lab cannot run here), 1 failure.
set -euo pipefail

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
readonly DATA=$LAB_HOST_DIR/../data/linux-6.1.0-56-cloud-amd64
probeseek=${1:?usage: $0 PROBESEEK [--kernel K]}
shift
lab_begin probe-inflight
lab_args "$0 PROBESEEK [--kernel K]" "$@"
kernel=${KERNELS[0]:-6.1}

start=$(date +%s)
"$probeseek" import --db "$TMP/curl.db" --btf "$DATA/vmlinux.btf" \
    --kallsyms "$DATA/kallsyms.txt.gz" --filter-functions "$DATA/available_filter_functions.txt.gz" \
    --kprobe-blacklist "$DATA/kprobes_blacklist.txt" "$DATA/curl_v4.dat" >/dev/null
lab_say "host setup $(($(date +%s) - start))s"

cat >"$TMP/guest.sh" <<'GUEST'
. /lab/lib.sh
elapsed() { echo "$1 $(($(date +%s) - $2))s" >>"$OUT/timings.txt"; }
# The server asleep in accept(): its kernel stack shows inet_csk_accept (no fixed sleeps).
in_accept() {
    i=0
    while ! grep -q '^\[<[0-9a-f]*>\] inet_csk_accept+' "/proc/$hpid/stack"; do
        i=$((i + 1))
        [ $i -lt 300 ] || return 1
        usleep 100000
    done
}
# One client; writes its local port (the remote port of the server's accepted socket) to $1.
client() {
    curl -s -o /tmp/page.txt -w '%{local_port}' http://127.0.0.1:8080/ >"$1" && grep -q hello /tmp/page.txt
}

httpd-tiny 8080 >/tmp/httpd.pid &
lab-wait-listen 8080 60
hpid=$(cat /tmp/httpd.pid)
echo "$hpid" >"$OUT/httpd.pid"
check server-in-accept in_accept
cat "/proc/$hpid/stack" >"$OUT/httpd-stack.txt"

# 1. kretprobe: the first accept is in flight at attach time, the second is not.
t=$(date +%s)
probeseek attach inet_csk_accept --type kretprobe --duration 15 >"$OUT/kret.txt" 2>"$OUT/kret.err" &
pid=$!
check kret-scanned wait_for "$OUT/kret.err" '^calls in flight: '
elapsed kret-startup "$t"
check kret-client1 client "$OUT/client1.port"
# The server has returned from the accept it was in (unseen) and entered the next one.
check kret-server-back-in-accept in_accept
cp "$OUT/kret.txt" "$OUT/kret-after-client1.txt"
check kret-client2 client "$OUT/client2.port"
check kret-client2-event wait_for "$OUT/kret.txt" ' inet_csk_accept('
wait $pid
echo $? >"$OUT/kret.rc"
elapsed kret-total "$t"

# 1b. fexit (a BPF trampoline): the same, ended with Ctrl-C.
check fexit-server-in-accept in_accept
t=$(date +%s)
probeseek attach inet_csk_accept --type fexit >"$OUT/fexit.txt" 2>"$OUT/fexit.err" &
pid=$!
check fexit-scanned wait_for "$OUT/fexit.err" '^Ctrl-C'
check fexit-client1 client "$OUT/client4.port"
check fexit-server-back-in-accept in_accept
check fexit-client2 client "$OUT/client5.port"
check fexit-client2-event wait_for "$OUT/fexit.txt" ' inet_csk_accept('
check fexit-sigint-exit-0 stop_with INT $pid
elapsed fexit-total "$t"

# 2. kprobe: an entry probe; the entry of the next accept is one event.
check kp-server-in-accept in_accept
t=$(date +%s)
probeseek attach inet_csk_accept --type kprobe --duration 10 >"$OUT/kp.txt" 2>"$OUT/kp.err" &
pid=$!
check kp-attached wait_for "$OUT/kp.err" '^attached kprobe to inet_csk_accept'
check kp-client client "$OUT/client3.port"
check kp-event wait_for "$OUT/kp.txt" ' inet_csk_accept('
wait $pid
echo $? >"$OUT/kp.rc"
elapsed kp-total "$t"

# 3. verify with the server outside the workload.
check verify-server-in-accept in_accept
cp /lab/files/curl.db /tmp/curl.db
t=$(date +%s)
rc=0
probeseek verify --db /tmp/curl.db --function inet_csk_accept -- curl -s http://127.0.0.1:8080/ \
    >"$OUT/verify.txt" 2>"$OUT/verify.err" || rc=$?
check verify test $rc = 0
elapsed verify "$t"
check verify-json-server-in-accept in_accept
rc=0
probeseek verify --db /tmp/curl.db --function inet_csk_accept --json \
    -- curl -s http://127.0.0.1:8080/ >"$OUT/verify.json" 2>"$OUT/verify-json.err" || rc=$?
check verify-json test $rc = 0
probeseek sql --db /tmp/curl.db "SELECT function, events, summary FROM verifications ORDER BY id" \
    >"$OUT/rows.txt" 2>&1
kill "$hpid" 2>/dev/null
exit $failed
GUEST

lab_say "kernel $kernel"
out=$TMP/out
show() { for f in "$out"/*.txt "$out"/*.err "$out"/*.json "$out"/*.port; do [[ -f $f ]] && { echo "== $f"; cat "$f"; }; done >&2; }
lab_run "$TMP/guest.sh" "$out" "$kernel" --timeout 400 \
    --binary "$probeseek" --file "$TMP/curl.db" || { show; exit 1; }

# Host half.
problems=()
hpid=$(cat "$out/httpd.pid")
p1=$(cat "$out/client1.port")
p2=$(cat "$out/client2.port")
want="warning: pid $hpid httpd-tiny is inside inet_csk_accept now: its current call will not be seen; its next one will"
grep -qxF "$want" "$out/kret.err" || problems+=("kretprobe: no line '$want'")
[[ $(grep -c ' is inside ' "$out/kret.err") == 1 ]] || problems+=("kretprobe: not one task inside inet_csk_accept")
grep -qE '^calls in flight: read [1-9][0-9]* kernel stacks in [0-9]+ ms; 1 task inside inet_csk_accept$' \
    "$out/kret.err" || problems+=("kretprobe: no 'calls in flight: read N kernel stacks in T ms; 1 task inside inet_csk_accept'")
[[ $(cat "$out/kret.rc") == 0 ]] || problems+=("kretprobe: exit status $(cat "$out/kret.rc")")
n=$(grep -c ' inet_csk_accept(' "$out/kret-after-client1.txt" || true)
[[ $n == 0 ]] || problems+=("kretprobe: $n events for the accept the server was already in")
n=$(grep -c ' inet_csk_accept(' "$out/kret.txt" || true)
[[ $n == 1 ]] || problems+=("kretprobe: $n events for two clients (want 1: the second)")
line=$(grep -m1 ' inet_csk_accept(' "$out/kret.txt" || true)
[[ $line == *" httpd-tiny $hpid/$hpid inet_csk_accept("* ]] || problems+=("kretprobe: the event is not httpd-tiny's: $line")
[[ $line == *"127.0.0.1:$p2 "* && $line != *"127.0.0.1:$p1 "* ]] ||
    problems+=("kretprobe: the event is not the second client's accept (port $p2, first $p1): $line")
grep -qF '1 events, 0 lost (ring buffer full), 0 returns without their entry; detached' "$out/kret.err" ||
    problems+=("kretprobe: closing counts are not '1 events, ... 0 returns without their entry'")

grep -qxF "$want" "$out/fexit.err" || problems+=("fexit: no line '$want'")
grep -qF 'attached fexit to inet_csk_accept' "$out/fexit.err" || problems+=("fexit: not attached as fexit")
p4=$(cat "$out/client4.port")
p5=$(cat "$out/client5.port")
n=$(grep -c ' inet_csk_accept(' "$out/fexit.txt" || true)
line=$(grep -m1 ' inet_csk_accept(' "$out/fexit.txt" || true)
[[ $n == 1 && $line == *"127.0.0.1:$p5 "* && $line != *"127.0.0.1:$p4 "* ]] ||
    problems+=("fexit: not one event, the second client's (port $p5, first $p4): $n events: $line")

grep -q ' is inside \|^calls in flight' "$out/kp.err" && problems+=("kprobe: an entry probe was scanned or warned about")
n=$(grep -c ' inet_csk_accept(' "$out/kp.txt" || true)
[[ $n == 1 ]] || problems+=("kprobe: $n events for one client (want 1: the entry of the next accept)")
[[ $(cat "$out/kp.rc") == 0 ]] || problems+=("kprobe: exit status $(cat "$out/kp.rc")")

grep -qF '    did not fire' "$out/verify.txt" || problems+=("verify: not 'did not fire'")
want="    warning: pid $hpid httpd-tiny was inside inet_csk_accept when it was attached: not the workload, whose calls alone verify counts ('probeseek attach inet_csk_accept' sees every process; a return probe only their next call)"
grep -qxF "$want" "$out/verify.txt" || problems+=("verify: no line '$want'")
grep -qE '^calls in flight: read [1-9][0-9]* kernel stacks in [0-9]+ ms$' "$out/verify.txt" ||
    problems+=("verify: no 'calls in flight: read N kernel stacks in T ms'")
grep -A1 '"in_flight_elsewhere": \[' "$out/verify.json" | grep -qF "\"pid $hpid httpd-tiny\"" ||
    problems+=("verify --json: no in_flight_elsewhere naming the server")
grep -q '"in_flight_scan": "read [1-9]' "$out/verify.json" || problems+=("verify --json: no in_flight_scan")
[[ $(grep -c '^inet_csk_accept.*did not fire' "$out/rows.txt") == 2 ]] ||
    problems+=("verify: not two stored rows saying 'did not fire'")
lab_problems "$kernel" "${problems[@]}" || { show; exit 1; }
lab_say "PASS ($kernel, $(grep -c '^ok' "$out/checks.txt") guest checks; $(tr '\n' ' ' <"$out/timings.txt"))"
cat "$out/httpd-stack.txt" "$out/kret.err" "$out/kret.txt" "$out/fexit.err" "$out/fexit.txt" "$out/kp.txt" \
    "$out/verify.txt" >&2
