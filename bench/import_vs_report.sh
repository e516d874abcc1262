#!/usr/bin/env bash
# Import speed and memory, against the tool kernel engineers already use: CPU time (user+sys)
# of `probeseek import` of a trace.dat (indexes and aggregates included) against
# `trace-cmd report -i same.dat > /dev/null`, median of N runs each, and peak RSS.
# Target (docs/performance.md): import <= 0.5x report's CPU time; memory bounded by stack
# depth x tasks, not by trace length.
#
#   bench/import_vs_report.sh [--runs N] [--probeseek PATH] [TRACE.dat...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=5
probeseek="$here/build/cli/probeseek"
files=()
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --probeseek) probeseek=$2; shift 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
((${#files[@]})) || files=("$here/tests/data/linux-6.1.0-56-cloud-amd64/curl_v4.dat"
                          "$here/tests/data/linux-6.1.0-56-cloud-amd64/stream.dat")
for tool in "$probeseek" trace-cmd /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (run scripts/install-deps and scripts/build)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Prints "cpu_seconds max_rss_kb" of one run of the command.
measure() {
  /usr/bin/time -f "%U %S %M" -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  awk '{ printf "%.3f %d\n", $1 + $2, $3 }' "$tmp/t"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf "%-14s %10s %12s %12s %8s %14s %14s\n" trace calls import_cpu_s report_cpu_s ratio import_rss_MiB report_rss_MiB
for f in "${files[@]}"; do
  : >"$tmp/imp"; : >"$tmp/rep"
  for ((i = 0; i < runs; i++)); do
    rm -f "$tmp/b.db"
    measure "$probeseek" import --db "$tmp/b.db" "$f" >>"$tmp/imp"
    measure trace-cmd report -i "$f" >>"$tmp/rep"
  done
  calls=$("$probeseek" sql --db "$tmp/b.db" "SELECT calls FROM sessions" | tail -1)
  imp=$(cut -d' ' -f1 "$tmp/imp" | median)
  rep=$(cut -d' ' -f1 "$tmp/rep" | median)
  imp_rss=$(cut -d' ' -f2 "$tmp/imp" | median)
  rep_rss=$(cut -d' ' -f2 "$tmp/rep" | median)
  awk -v f="$(basename "$f")" -v c="$calls" -v i="$imp" -v r="$rep" -v ir="$imp_rss" -v rr="$rep_rss" \
    'BEGIN { printf "%-14s %10d %12.3f %12.3f %8.2f %14.1f %14.1f\n", f, c, i, r, i / r, ir / 1024, rr / 1024 }'
done
