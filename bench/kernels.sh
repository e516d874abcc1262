#!/usr/bin/env bash
# The kernel catalogue: seconds per kernel added, peak memory, database bytes per kernel, and
# compat for 20 functions over the whole catalogue (target: under 1 s). docs/performance.md.
#   bench/kernels.sh [--debian SPEC] [--cache DIR] [--jobs N] [--runs N] [--probeseek PATH]
# SPEC defaults to all (Debian 12's ~57 kernel packages, ~3.6 GB downloaded once into --cache).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
spec=all
cache="${XDG_CACHE_HOME:-$HOME/.cache}/probeseek/packages"
jobs=2
runs=5
probeseek="$here/build/cli/probeseek"
while (($#)); do
  case $1 in
    --debian) spec=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --probeseek) probeseek=$2; shift 2 ;;
    *) echo "usage: $0 [--debian SPEC] [--cache DIR] [--jobs N] [--runs N] [--probeseek PATH]" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/kernels.db"

# Downloads first (not measured), then the add itself from the cache.
"$probeseek" kernels add --db "$tmp/warm.db" --debian "$spec" --cache "$cache" --jobs "$jobs" \
  >/dev/null 2>&1 || true
/usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$probeseek" kernels add --db "$db" --debian "$spec" \
  --cache "$cache" --jobs "$jobs" 2>"$tmp/add.log" || true
read -r wall user sys rss <"$tmp/t"
kernels=$(sqlite3 "$db" "SELECT count(*) FROM kernels")
failed=$(grep -c ': error:' "$tmp/add.log" || true)
bytes=$(stat -c %s "$db")
echo "kernels add --debian $spec --jobs $jobs: $kernels kernels ($failed failed) in ${wall} s wall," \
  "$(awk -v u="$user" -v s="$sys" -v k="$kernels" 'BEGIN { printf "%.2f", (u + s) / k }') s CPU per kernel," \
  "peak RSS $((rss / 1024)) MB, database $((bytes / 1048576)) MB ($((bytes / kernels / 1024)) KB per kernel)"

functions="tcp_v4_connect tcp_v6_connect tcp_sendmsg tcp_recvmsg inet_csk_accept tcp_connect
  vfs_read vfs_write do_sys_openat2 kernel_clone security_file_open tcp_close inet_accept
  ip_queue_xmit udp_sendmsg __alloc_pages blkdev_get_by_path finish_task_switch do_exit
  security_socket_connect"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
: >"$tmp/times"
for ((i = 0; i < runs; i++)); do
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %U" -o "$tmp/t" "$probeseek" compat --db "$db" $functions >/dev/null
  cat "$tmp/t" >>"$tmp/times"
done
echo "compat, 20 functions x $kernels kernels: median $(cut -d' ' -f1 "$tmp/times" | median) s wall," \
  "$(cut -d' ' -f2 "$tmp/times" | median) s CPU ($runs runs)"
