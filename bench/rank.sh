#!/usr/bin/env bash
# How long rank and explain take on the bundled curl_v4 recording (target: < 100 ms each),
# median wall and CPU time of N runs. Imports into a temporary database first.
#   bench/rank.sh [--runs N] [--probeseek PATH]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=11
probeseek="$here/build/cli/probeseek"
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --probeseek) probeseek=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--probeseek PATH]" >&2; exit 2 ;;
  esac
done
data="$here/tests/data/linux-6.1.0-56-cloud-amd64"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/rank.db"
"$probeseek" import --db "$db" --btf "$data/vmlinux.btf" --kallsyms "$data/kallsyms.txt.gz" \
  --filter-functions "$data/available_filter_functions.txt.gz" \
  --kprobe-blacklist "$data/kprobes_blacklist.txt" "$data/curl_v4.dat" "$data/stream.dat" 2>/dev/null

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
run() {
  local label=$1; shift
  : >"$tmp/times"
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$probeseek" "$@" --db "$db" >/dev/null 2>&1
    cat "$tmp/t" >>"$tmp/times"
  done
  local wall cpu
  wall=$(awk '{ print $1 * 1000 }' "$tmp/times" | median)
  cpu=$(awk '{ print ($2 + $3) * 1000 }' "$tmp/times" | median)
  printf "%-62s %8s ms wall %8s ms cpu\n" "$label" "$wall" "$cpu"
}
echo "median of $runs runs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
run "rank --session curl_v4 --arg sock --under __x64_sys_connect" rank --session curl_v4 --arg sock --under __x64_sys_connect
run "rank --session curl_v4 --under __x64_sys_sendto" rank --session curl_v4 --under __x64_sys_sendto
run "rank --session curl_v4 (every function)" rank --session curl_v4
run "rank --session curl_v4 --session stream --require-all --arg sock" rank --session curl_v4 --session stream --require-all --arg sock
run "explain tcp_v4_connect --session curl_v4" explain tcp_v4_connect --session curl_v4
