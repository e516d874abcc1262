#!/usr/bin/env bash
# tests/lab/probe-set.sh - a set of functions (issue 12) on a real kernel, in one boot: "every
# TCP connection" is tcp_v4_connect and tcp_v6_connect (the connect of tcp_prot and of
# tcpv6_prot). One IPv4 connection (curl to httpd-tiny on 127.0.0.1:8080) and one IPv6
# connection attempt (curl to [::1]:8081, where nothing listens: refused, but connect() runs
# tcp_v6_connect all the same) per step; each must give exactly one event, naming its function.
#   1. attach tcp_v4_connect tcp_v6_connect: a header line per probe, one event each, 127.0.0.1
#      and ::1 in them; the closing counts per function; Ctrl-C exits 0
#   2. the same with --json: "function" names each event's function
#   3. a set with a deny-listed function is refused whole: exit 2, nothing left attached
#   4. gen tcp_v4_connect tcp_v6_connect --type kretprobe --name tcp_connect, built on this host
#      against the 6.1 BTF (as probe-gen.sh builds its projects), run in the guest: one line
#      per connection, each starting with its function's name (skipped without clang or make)
#   5. verify --function tcp_v4_connect --function tcp_v6_connect -- sh -c 'curl v4; curl v6':
#      both fired once, the set twice; one stored row per function (the bundled curl recording
#      of 6.1 is the session), rank = position in the set
# The guest's lo must have ::1 (/proc/net/if_inet6); without it the IPv6 half is reported as
# not run and only IPv4 is checked.
#
# Usage: tests/lab/probe-set.sh PROBESEEK [--kernel K]
# Exit status: 0 pass, 77 skipped (lab cannot run here), 1 failure.
set -euo pipefail

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
readonly DATA=$LAB_HOST_DIR/../data/linux-6.1.0-56-cloud-amd64
probeseek=${1:?usage: $0 PROBESEEK [--kernel K]}
shift
lab_begin probe-set
lab_args "$0 PROBESEEK [--kernel K]" "$@"
kernel=${KERNELS[0]:-6.1}

start=$(date +%s)
extra=()
if command -v clang >/dev/null && command -v make >/dev/null; then
    "$probeseek" gen tcp_v4_connect tcp_v6_connect --type kretprobe --name tcp_connect \
        --btf "$DATA/vmlinux.btf" -o "$TMP/tcp_connect" >/dev/null
    if ! make -C "$TMP/tcp_connect" >"$TMP/make.log" 2>&1; then
        lab_say "FAIL: the generated set does not build:"
        cat "$TMP/make.log" >&2
        exit 1
    fi
    extra+=(--binary "$TMP/tcp_connect/tcp_connect")
else
    lab_say "note: no clang or make here: the generated set is not built or run"
fi
"$probeseek" import --db "$TMP/curl.db" --btf "$DATA/vmlinux.btf" \
    --kallsyms "$DATA/kallsyms.txt.gz" --filter-functions "$DATA/available_filter_functions.txt.gz" \
    --kprobe-blacklist "$DATA/kprobes_blacklist.txt" "$DATA/curl_v4.dat" >/dev/null
lab_say "host setup $(($(date +%s) - start))s"

cat >"$TMP/guest.sh" <<'GUEST'
. /lab/lib.sh
elapsed() { echo "$1 $(($(date +%s) - $2))s" >>"$OUT/timings.txt"; }

cat /proc/net/if_inet6 >"$OUT/if_inet6.txt"
ipv6=0
grep -q '^00000000000000000000000000000001 .* lo$' "$OUT/if_inet6.txt" && ipv6=1
echo "$ipv6" >"$OUT/ipv6.txt"
v4() { curl -s http://127.0.0.1:8080/ >/dev/null; }
v6() { [ "$ipv6" = 0 ] || curl -s -g 'http://[::1]:8081/' >/dev/null; }

httpd-tiny 8080 >/tmp/httpd.pid &
lab-wait-listen 8080 60

# 1. The set, text.
t=$(date +%s)
probeseek attach tcp_v4_connect tcp_v6_connect >"$OUT/attach.txt" 2>"$OUT/attach.err" &
pid=$!
check attach-attached wait_for "$OUT/attach.err" '^Ctrl-C'
elapsed attach-startup "$t"
v4
check attach-v4-event wait_for "$OUT/attach.txt" ' tcp_v4_connect('
if [ "$ipv6" = 1 ]; then
    v6
    check attach-v6-event wait_for "$OUT/attach.txt" ' tcp_v6_connect('
fi
check attach-sigint-exit-0 stop_with INT $pid
elapsed attach-total "$t"

# 2. JSON.
probeseek attach tcp_v4_connect tcp_v6_connect --json >"$OUT/attach.json" 2>"$OUT/json.err" &
pid=$!
check json-attached wait_for "$OUT/json.err" '^Ctrl-C'
v4
v6
check json-v4-event wait_for "$OUT/attach.json" '"function":"tcp_v4_connect"'
[ "$ipv6" = 0 ] || check json-v6-event wait_for "$OUT/attach.json" '"function":"tcp_v6_connect"'
check json-sigterm-exit-0 stop_with TERM $pid

# 3. All or nothing.
rc=0
probeseek attach tcp_v4_connect bpf_prog_load --duration 1 >/dev/null 2>"$OUT/refused.err" || rc=$?
check refused-exit-2 test "$rc" = 2
check refused-says-why grep -q 'refusing the set of 2 functions, nothing attached' "$OUT/refused.err"
cat /sys/kernel/tracing/kprobe_events >"$OUT/kprobe_events-after-refusal.txt"
check refused-no-kprobe-events test ! -s "$OUT/kprobe_events-after-refusal.txt"

# 4. The generated set's loader.
if command -v tcp_connect >/dev/null; then
    t=$(date +%s)
    tcp_connect >"$OUT/gen.txt" 2>"$OUT/gen.err" &
    pid=$!
    check gen-attached wait_for "$OUT/gen.txt" '^TIME'
    v4
    check gen-v4-event wait_for "$OUT/gen.txt" ' tcp_v4_connect '
    if [ "$ipv6" = 1 ]; then
        v6
        check gen-v6-event wait_for "$OUT/gen.txt" ' tcp_v6_connect '
    fi
    check gen-sigint-exit-0 stop_with INT $pid
    elapsed gen-total "$t"
fi

# 5. verify the set.
cp /lab/files/curl.db /tmp/curl.db
work='curl -s http://127.0.0.1:8080/ >/dev/null;'
[ "$ipv6" = 0 ] || work="$work curl -s -g 'http://[::1]:8081/' >/dev/null;"
work="$work true"
t=$(date +%s)
rc=0
probeseek verify --db /tmp/curl.db --function tcp_v4_connect --function tcp_v6_connect --json \
    -- sh -c "$work" >"$OUT/verify.json" 2>"$OUT/verify.err" || rc=$?
check verify test $rc = 0
elapsed verify-json "$t"
rc=0
probeseek verify --db /tmp/curl.db --function tcp_v4_connect --function tcp_v6_connect \
    -- sh -c "$work" >"$OUT/verify.txt" 2>"$OUT/verify-text.err" || rc=$?
check verify-text test $rc = 0
probeseek sql --db /tmp/curl.db "SELECT function, rank, events FROM verifications ORDER BY id" \
    >"$OUT/rows.txt" 2>&1
kill "$(cat /tmp/httpd.pid)" 2>/dev/null
exit $failed
GUEST

lab_say "kernel $kernel"
out=$TMP/out
show() { for f in "$out"/*.txt "$out"/*.err "$out"/*.json; do [[ -f $f ]] && { echo "== $f"; cat "$f"; }; done >&2; }
lab_run "$TMP/guest.sh" "$out" "$kernel" --timeout 400 \
    --binary "$probeseek" "${extra[@]}" --file "$TMP/curl.db" || { show; exit 1; }

# Host half: exactly one event per connection, each naming its function.
problems=()
ipv6=$(cat "$out/ipv6.txt")
[[ $ipv6 == 1 ]] || lab_say "note ($kernel): the guest's lo has no ::1 (/proc/net/if_inet6): tcp_v6_connect not exercised"
v4=$(grep -c ' tcp_v4_connect(' "$out/attach.txt" || true)
v6=$(grep -c ' tcp_v6_connect(' "$out/attach.txt" || true)
[[ $v4 == 1 ]] || problems+=("attach: $v4 tcp_v4_connect events for one IPv4 connection")
[[ $v6 == "$ipv6" ]] || problems+=("attach: $v6 tcp_v6_connect events for $ipv6 IPv6 connection attempts")
line=$(grep -m1 ' tcp_v4_connect(' "$out/attach.txt" || true)
[[ $line =~ \{AF_INET\ 127\.0\.0\.1:[1-9][0-9]*\ -\>\ 127\.0\.0\.1:8080\  ]] ||
    problems+=("attach: the tcp_v4_connect event lacks 127.0.0.1 -> 127.0.0.1:8080: $line")
if [[ $ipv6 == 1 ]]; then
    line=$(grep -m1 ' tcp_v6_connect(' "$out/attach.txt" || true)
    [[ $line == *'{AF_INET6 [::1]:8081}'* && $line == *'-> [::1]:8081 '* ]] ||
        problems+=("attach: the tcp_v6_connect event lacks ::1 port 8081: $line")
fi
[[ $(grep -c '^attached ' "$out/attach.err") == 2 ]] || problems+=("attach: not one header line per probe")
want="$((1 + ipv6)) events (tcp_v4_connect 1, tcp_v6_connect $ipv6)"
grep -qF "$want" "$out/attach.err" || problems+=("attach: closing counts are not '$want'")
[[ $(grep -c '"function":"tcp_v4_connect"' "$out/attach.json") == 1 ]] ||
    problems+=("--json: not one tcp_v4_connect event")
[[ $(grep -c '"function":"tcp_v6_connect"' "$out/attach.json") == "$ipv6" ]] ||
    problems+=("--json: not $ipv6 tcp_v6_connect event")
if [[ -f $out/gen.txt ]]; then
    [[ $(grep -c ' tcp_v4_connect sk=' "$out/gen.txt") == 1 ]] || problems+=("gen: not one tcp_v4_connect line")
    [[ $(grep -c ' tcp_v6_connect sk=' "$out/gen.txt") == "$ipv6" ]] || problems+=("gen: not $ipv6 tcp_v6_connect line")
    line=$(grep -m1 ' tcp_v4_connect sk=' "$out/gen.txt" || true)
    [[ $line =~ ^[0-9:]+\ curl\ .*tcp_v4_connect\ sk=\{127\.0\.0\.1:[1-9][0-9]*\ -\>\ 127\.0\.0\.1:8080\ SYN_SENT\}\ uaddr=127\.0\.0\.1:8080\ addr_len=16\ =\ 0$ ]] ||
        problems+=("gen: unexpected tcp_v4_connect line: $line")
    if [[ $ipv6 == 1 ]]; then
        line=$(grep -m1 ' tcp_v6_connect sk=' "$out/gen.txt" || true)
        [[ $line =~ tcp_v6_connect\ sk=\{\[::1\]:[1-9][0-9]*\ -\>\ \[::1\]:8081\ [A-Z_]+\}\ uaddr=\[::1\]:8081\ addr_len=28\ =\ 0$ ]] ||
            problems+=("gen: unexpected tcp_v6_connect line: $line")
    fi
fi
want="the set fired $((1 + ipv6)) time$([[ $ipv6 == 1 ]] && echo s): tcp_v4_connect 1, tcp_v6_connect $ipv6"
grep -qF "\"summary\": \"$want\"" "$out/verify.json" || problems+=("verify --json: no set summary '$want'")
grep -qF "$want" "$out/verify.txt" || problems+=("verify: no line '$want'")
grep -q '"fired": true' "$out/verify.json" || problems+=("verify --json: the set did not fire")
for f in tcp_v4_connect tcp_v6_connect; do
    [[ $(grep -c "^$f" "$out/rows.txt") == 2 ]] || problems+=("verify: not two stored rows (two runs) for $f")
done
lab_problems "$kernel" "${problems[@]}" || { show; exit 1; }
lab_say "PASS ($kernel, $(grep -c '^ok' "$out/checks.txt") guest checks; $(tr '\n' ' ' <"$out/timings.txt"))"
cat "$out/attach.txt" "$out/verify.txt" >&2
