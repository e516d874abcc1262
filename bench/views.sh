#!/usr/bin/env bash
# How long export and report take on the bundled recordings, and how big their output is
# (targets from issue 14: each under 2 s on curl_v4, the report under 5 MB): median wall and CPU
# time and peak RSS of N runs. Imports into a temporary database first.
#   bench/views.sh [--runs N] [--probeseek PATH]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=5
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
db="$tmp/views.db"
"$probeseek" import --db "$db" --btf "$data/vmlinux.btf" --kallsyms "$data/kallsyms.txt.gz" \
  --filter-functions "$data/available_filter_functions.txt.gz" \
  --kprobe-blacklist "$data/kprobes_blacklist.txt" "$data/curl_v4.dat" "$data/stream.dat" 2>/dev/null

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
run() {
  local label=$1 out=$2; shift 2
  : >"$tmp/times"
  for ((i = 0; i < runs; i++)); do
    rm -f "$out"
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$probeseek" "$@" --db "$db" -o "$out" >/dev/null 2>&1
    cat "$tmp/t" >>"$tmp/times"
  done
  local wall cpu rss size
  wall=$(awk '{ print $1 * 1000 }' "$tmp/times" | median)
  cpu=$(awk '{ print ($2 + $3) * 1000 }' "$tmp/times" | median)
  rss=$(awk '{ print $4 / 1024 }' "$tmp/times" | median)
  size=$(stat -c %s "$out")
  printf "%-58s %7s ms wall %7s ms cpu %6.1f MiB RSS %9s bytes\n" "$label" "$wall" "$cpu" "$rss" "$size"
}
echo "median of $runs runs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
run "export --session curl_v4 --format folded" "$tmp/f.folded" export --session curl_v4 --format folded
run "export --session curl_v4 --format chrome" "$tmp/c.json" export --session curl_v4 --format chrome
run "export --session curl_v4 --format perfetto" "$tmp/p.pb" export --session curl_v4 --format perfetto
run "report --session curl_v4 --arg 'struct sock *'" "$tmp/r1.html" report --session curl_v4 --arg 'struct sock *'
run "report --arg 'struct sock *' (curl_v4 and stream)" "$tmp/r2.html" report --arg 'struct sock *'
