#!/usr/bin/env bash
# tests/lab/smoke.sh - prove the QEMU lab works: the kernel boots, has the
# tracing features probeseek depends on, the workloads and curl run, and a
# multi-megabyte file written to $OUT arrives on the host intact.
#
# Usage: tests/lab/smoke.sh [--kernel K]...   (default: 6.1 and 6.12)
# Exit status: 0 pass, 77 skipped (lab cannot run here), 1 failure.
set -euo pipefail

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
lab_begin smoke
lab_args "$0 [--kernel K]..." "$@"
((${#KERNELS[@]})) || KERNELS=(6.1 6.12)

# The guest half.  Every check logs "ok NAME" or "FAIL NAME" to
# $OUT/checks.txt and the script exits 1 if any failed, so a failure names
# the missing feature instead of just "exit status 1".
cat >"$TMP/guest.sh" <<'GUEST'
. /lab/lib.sh
uname -r >"$OUT/uname.txt"
check function_graph grep -qw function_graph /sys/kernel/tracing/available_tracers
check kprobe_events test -e /sys/kernel/tracing/kprobe_events
check btf test -e /sys/kernel/btf/vmlinux
check kcore test -e /proc/kcore
check loopback-up sh -c 'ip addr show lo | grep -q "inet 127.0.0.1"'

# curl against httpd-tiny over loopback: both the client libraries and the
# statically linked workloads work in the guest.
httpd-tiny 8080 >/tmp/httpd.pid &
check httpd-listens lab-wait-listen 8080 60
check curl-page sh -c 'curl -sS --max-time 60 http://127.0.0.1:8080/ >"$OUT/page.txt"'

# The other workloads: a long-lived writer into a sink, and UDP datagrams.
tcp-sink 9000 >/tmp/sink.pid &
check sink-listens lab-wait-listen 9000 60
tcp-keepwriter 127.0.0.1 9000 50 >/tmp/writer.pid &
check keepwriter-connects sh -c 'i=0; while ! [ -s /tmp/writer.pid ]; do
    i=$((i + 1)); [ $i -lt 300 ] || exit 1; usleep 100000; done'
check udp-sender udp-sender 127.0.0.1 9001 5 10
check keepwriter-alive sh -c 'kill -0 "$(cat /tmp/writer.pid)"'
kill "$(cat /tmp/writer.pid)" "$(cat /tmp/sink.pid)" "$(cat /tmp/httpd.pid)" 2>/dev/null

# A few MB of binary data for the host to compare: exercises the transfer.
check btf-copy cp /sys/kernel/btf/vmlinux "$OUT/btf.bin"
sha256sum /sys/kernel/btf/vmlinux | cut -d' ' -f1 >"$OUT/btf.sha256"
exit $failed
GUEST

status=0
for k in "${KERNELS[@]}"; do
    out=$TMP/out-$k
    lab_say "kernel $k"
    lab_run "$TMP/guest.sh" "$out" "$k" --timeout 300 || { status=1; continue; }
    # Host half: what came back must be exactly what the guest wrote.
    problems=()
    [[ $(cat "$out/page.txt" 2>/dev/null) == hello ]] ||
        problems+=("page.txt is not 'hello'")
    [[ $(wc -c <"$out/page.txt" 2>/dev/null) == 6 ]] ||
        problems+=("page.txt is not 6 bytes")
    if [[ -f $out/btf.bin && -f $out/btf.sha256 ]]; then
        size=$(wc -c <"$out/btf.bin")
        ((size > 1000000)) || problems+=("btf.bin is only $size bytes")
        [[ $(sha256sum "$out/btf.bin" | cut -d' ' -f1) == "$(cat "$out/btf.sha256")" ]] ||
            problems+=("btf.bin sha256 differs between guest and host")
    else
        problems+=("btf.bin or btf.sha256 missing")
    fi
    grep -q . "$out/console.log" || problems+=("console.log is empty")
    if lab_problems "$k" "${problems[@]}"; then
        lab_say "PASS ($k, $(cat "$out/uname.txt"), $(wc -l <"$out/checks.txt") guest checks)"
    else
        status=1
    fi
done
exit "$status"
