#!/usr/bin/env bash
# tests/lab/probe-gen.sh - `probeseek gen` output built on this host against the lab kernel's
# BTF (tests/data/linux-6.1.0-56-cloud-amd64/vmlinux.btf), its loaders run in one boot:
#   1. gen tcp_sendmsg (kprobe): events for tcp-keepwriter's writes to tcp-sink, with the
#      connection's endpoints; -p filters by pid; Ctrl-C exits 0
#   2. gen --type kretprobe tcp_v4_connect: curl's connection with its local port, return 0
#   3. gen --type fexit vfs_unlink: the dentry's name of a removed file, and the return value
#      (not do_unlinkat: it frees its struct filename before returning)
#
# Usage: tests/lab/probe-gen.sh PROBESEEK [--kernel K]
# Exit status: 0 pass, 77 skipped (lab cannot run here), 1 failure.
set -euo pipefail

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
readonly BTF=$LAB_HOST_DIR/../data/linux-6.1.0-56-cloud-amd64/vmlinux.btf
probeseek=${1:?usage: $0 PROBESEEK [--kernel K]}
shift
lab_begin probe-gen
lab_args "$0 PROBESEEK [--kernel K]" "$@"
kernel=${KERNELS[0]:-6.1}
for tool in clang make; do
    command -v "$tool" >/dev/null || { lab_say "SKIP: no $tool to build the probes"; exit 77; }
done

start=$(date +%s)
binaries=()
for spec in tcp_sendmsg:kprobe tcp_v4_connect:kretprobe vfs_unlink:fexit; do
    fn=${spec%%:*} type=${spec##*:}
    "$probeseek" gen "$fn" --type "$type" --btf "$BTF" -o "$TMP/$fn" >/dev/null
    if ! make -C "$TMP/$fn" >"$TMP/$fn.make.log" 2>&1; then
        lab_say "FAIL: the generated $fn project does not build:"
        cat "$TMP/$fn.make.log" >&2
        exit 1
    fi
    binaries+=(--binary "$TMP/$fn/$fn")
done
lab_say "3 projects generated and built in $(($(date +%s) - start))s"

cat >"$TMP/guest.sh" <<'GUEST'
. /lab/lib.sh

# 1. tcp_sendmsg: a long-lived client writing every 50 ms.
tcp-sink 9000 >/tmp/sink.pid &
lab-wait-listen 9000 60
tcp-keepwriter 127.0.0.1 9000 50 >/tmp/writer.pid &
i=0
while ! [ -s /tmp/writer.pid ] && [ $i -lt 300 ]; do i=$((i + 1)); usleep 100000; done
writer=$(cat /tmp/writer.pid)
echo "$writer" >"$OUT/writer.pid"
tcp_sendmsg -p "$writer" >"$OUT/sendmsg.txt" 2>"$OUT/sendmsg.err" &
pid=$!
check sendmsg-attached wait_for "$OUT/sendmsg.txt" '^TIME'
check sendmsg-events sh -c "i=0; while [ \$(grep -c tcp-keepwriter '$OUT/sendmsg.txt') -lt 5 ]; do
    i=\$((i + 1)); [ \$i -lt 300 ] || exit 1; usleep 100000; done"
check sendmsg-sigint-exit-0 stop_with INT $pid
kill "$writer" "$(cat /tmp/sink.pid)" 2>/dev/null

# 2. tcp_v4_connect at return.
httpd-tiny 8080 >/tmp/httpd.pid &
lab-wait-listen 8080 60
tcp_v4_connect >"$OUT/connect.txt" 2>"$OUT/connect.err" &
pid=$!
check connect-attached wait_for "$OUT/connect.txt" '^TIME'
curl -s http://127.0.0.1:8080/ >/dev/null
check connect-event wait_for "$OUT/connect.txt" '^[0-9:]* curl '
check connect-sigterm-exit-0 stop_with TERM $pid
kill "$(cat /tmp/httpd.pid)" 2>/dev/null

# 3. vfs_unlink at return, with the file name.
vfs_unlink >"$OUT/unlink.txt" 2>"$OUT/unlink.err" &
pid=$!
check unlink-attached wait_for "$OUT/unlink.txt" '^TIME'
touch /tmp/probeseek-gen-victim
rm /tmp/probeseek-gen-victim
check unlink-event wait_for "$OUT/unlink.txt" 'probeseek-gen-victim'
check unlink-sigint-exit-0 stop_with INT $pid
exit $failed
GUEST

lab_say "kernel $kernel"
out=$TMP/out
show() { for f in "$out"/*.txt "$out"/*.err; do [[ -f $f ]] && { echo "== $f"; cat "$f"; }; done >&2; }
lab_run "$TMP/guest.sh" "$out" "$kernel" --timeout 300 "${binaries[@]}" || { show; exit 1; }

problems=()
writer=$(cat "$out/writer.pid")
line=$(grep -m1 'tcp-keepwriter' "$out/sendmsg.txt" || true)
[[ $line =~ tcp-keepwriter\ +$writer\ +[0-9]+\ tcp_sendmsg\ sk=\{127\.0\.0\.1:[1-9][0-9]*\ -\>\ 127\.0\.0\.1:9000\ ESTABLISHED\} ]] ||
    problems+=("tcp_sendmsg: no event with the writer's pid and connection: $line")
[[ $line =~ size=[0-9]+$ ]] || problems+=("tcp_sendmsg: no size: $line")
grep -v -e '^TIME' -e 'tcp-keepwriter' "$out/sendmsg.txt" | grep -q . &&
    problems+=("tcp_sendmsg: -p did not filter other processes out")
line=$(grep -m1 ' curl ' "$out/connect.txt" || true)
[[ $line =~ sk=\{127\.0\.0\.1:[1-9][0-9]*\ -\>\ 127\.0\.0\.1:8080\ SYN_SENT\}\ uaddr=127\.0\.0\.1:8080\ addr_len=16\ =\ 0$ ]] ||
    problems+=("tcp_v4_connect (kretprobe): unexpected event: $line")
line=$(grep -m1 'probeseek-gen-victim' "$out/unlink.txt" || true)
[[ $line == *'dentry="probeseek-gen-victim"'*' = 0' ]] || problems+=("vfs_unlink (fexit): unexpected event: $line")
lab_problems "$kernel" "${problems[@]}" || { show; exit 1; }
lab_say "PASS ($kernel, $(grep -c '^ok' "$out/checks.txt") guest checks, $(($(date +%s) - start))s)"
