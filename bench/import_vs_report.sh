#!/usr/bin/env bash
# Import speed and memory, against the tool kernel engineers already use: CPU time (user+sys)
# of `probeseek import` of a trace.dat (indexes and aggregates included) against
# `trace-cmd report -i same.dat > /dev/null`, median of N runs each (interleaved, so both see
# the same machine load), and peak RSS.
# Target (docs/performance.md): import <= 0.5x report's CPU time; memory bounded by stack
# depth x tasks, not by trace length.
#
#   bench/import_vs_report.sh [--runs N] [--probeseek PATH] [--longer "2 4 8"] [--no-report]
#                             [TRACE.dat...]
#
# --longer also imports copies of the first trace made 2x, 4x, 8x... as long by
# bench/longer_trace.py (same tasks, depths and functions; needs python3 and zstd), one run
# each, to show how memory and time scale with the length of a recording. --no-report skips
# trace-cmd report for those copies (it keeps every chunk: 36x takes minutes and gigabytes).
# calls_per_s is calls / import CPU seconds (one core: the import is single-threaded).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=5
probeseek="$here/build/cli/probeseek"
longer=""
report_longer=1
files=()
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --probeseek) probeseek=$2; shift 2 ;;
    --longer) longer=$2; shift 2 ;;
    --no-report) report_longer=0; shift ;;
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

# One table row: median CPU and RSS of `runs` interleaved runs of both commands on a file.
compare() {
  local f=$1 label=$2 n=$3 report=${4:-1}
  : >"$tmp/imp"; : >"$tmp/rep"
  for ((i = 0; i < n; i++)); do
    rm -f "$tmp/b.db"
    measure "$probeseek" import --db "$tmp/b.db" "$f" >>"$tmp/imp"
    if ((report)); then measure trace-cmd report -i "$f" >>"$tmp/rep"; else echo "0 0" >>"$tmp/rep"; fi
  done
  local calls imp rep imp_rss rep_rss
  calls=$("$probeseek" sql --db "$tmp/b.db" "SELECT calls FROM sessions" | tail -1)
  imp=$(cut -d' ' -f1 "$tmp/imp" | median)
  rep=$(cut -d' ' -f1 "$tmp/rep" | median)
  imp_rss=$(cut -d' ' -f2 "$tmp/imp" | median)
  rep_rss=$(cut -d' ' -f2 "$tmp/rep" | median)
  awk -v f="$label" -v c="$calls" -v i="$imp" -v r="$rep" -v ir="$imp_rss" -v rr="$rep_rss" \
    'BEGIN { ratio = r > 0 ? sprintf("%.2f", i / r) : "-"; rate = i > 0 ? c / i : 0
             printf "%-16s %10d %12.3f %12.3f %8s %14.1f %14.1f %12d\n", f, c, i, r, ratio, ir / 1024, rr / 1024, rate }'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; median of $runs runs"
printf "%-16s %10s %12s %12s %8s %14s %14s %12s\n" trace calls import_cpu_s report_cpu_s ratio \
  import_rss_MiB report_rss_MiB calls_per_s
for f in "${files[@]}"; do
  compare "$f" "$(basename "$f")" "$runs"
done
if [[ -n $longer ]]; then
  for n in $longer; do
    python3 "$here/bench/longer_trace.py" "${files[0]}" "$tmp/x$n.dat" "$n"
    compare "$tmp/x$n.dat" "$(basename "${files[0]}" .dat) x$n" 1 "$report_longer"
    rm -f "$tmp/x$n.dat"
  done
fi
