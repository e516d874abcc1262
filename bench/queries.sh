#!/usr/bin/env bash
# How long the query commands take on a session of more than a million calls, warm (the
# database file in the page cache): rank, explain, diff and tree --root, median wall and CPU
# time of N runs each. Targets (issue 15, docs/performance.md): < 100 ms each, tree --root of
# one syscall < 50 ms.
#
#   bench/queries.sh [--runs N] [--times N] [--probeseek PATH] [--dir DIR] [--outputs DIR]
#
# The database is built once in DIR (default /tmp/probeseek-bench-queries; regenerated when
# missing): curl_v4.dat made N times as long by
# bench/longer_trace.py (--times, default 4: 1,134,740 calls), imported as session "big", and
# stream.dat as "stream", with the traced kernel's BTF and symbol tables. Nothing large is kept
# in git. --outputs DIR also writes each command's text and --json output there (one file per
# command), to compare two versions of the code with `diff -r`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=11
times=4
probeseek="$here/build/cli/probeseek"
dir=/tmp/probeseek-bench-queries
outputs=""
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --times) times=$2; shift 2 ;;
    --probeseek) probeseek=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --outputs) outputs=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--times N] [--probeseek PATH] [--dir DIR] [--outputs DIR]" >&2
       exit 2 ;;
  esac
done
for tool in "$probeseek" python3 zstd; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (scripts/install-deps, scripts/build)" >&2; exit 1; }
done
data="$here/tests/data/linux-6.1.0-56-cloud-amd64"
mkdir -p "$dir"
db="$dir/queries-x$times.db"
if [[ ! -s $db ]]; then
  echo "building $db (curl_v4 x$times + stream) ..." >&2
  python3 "$here/bench/longer_trace.py" "$data/curl_v4.dat" "$dir/curl_v4-x$times.dat" "$times"
  rm -f "$db.tmp"
  for input in "$dir/curl_v4-x$times.dat big" "$data/stream.dat stream"; do
    "$probeseek" import --db "$db.tmp" --btf "$data/vmlinux.btf" --kallsyms "$data/kallsyms.txt.gz" \
      --filter-functions "$data/available_filter_functions.txt.gz" \
      --kprobe-blacklist "$data/kprobes_blacklist.txt" "${input% *}" --name "${input#* }" >/dev/null
  done
  rm -f "$dir/curl_v4-x$times.dat"
  mv "$db.tmp" "$db"
fi
[[ -z $outputs ]] || mkdir -p "$outputs"

# The commands measured: a label (also the output file's name) and the arguments.
commands=(
  "rank-arg-under-complete|rank --session big --arg struct_sock --under __x64_sys_connect --complete"
  "rank-arg|rank --session big --arg struct_sock"
  "rank-all|rank --session big"
  "rank-all-complete|rank --session big --complete"
  "rank-two-require-all|rank --session big --session stream --require-all --arg struct_sock"
  "explain-tcp_v4_connect|explain tcp_v4_connect --session big"
  "explain-tcp_sendmsg|explain tcp_sendmsg"
  "diff|diff big stream"
  "diff-arg|diff big stream --arg struct_sock"
  "tree-root-connect|tree --session big --root __x64_sys_connect"
)
# Splits a command into words; struct_sock stands for the one argument with a space.
words() {
  read -r -a w <<<"$1"
  for i in "${!w[@]}"; do
    if [[ ${w[$i]} == struct_sock ]]; then w[$i]='struct sock *'; fi
  done
}

# Median wall and CPU (user + sys of the child, from wait4's rusage: microseconds) of N runs.
timer() {
  python3 - "$runs" "$@" <<'EOF'
import os, subprocess, sys, time
runs, argv = int(sys.argv[1]), sys.argv[2:]
walls, cpus = [], []
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    walls.append((time.perf_counter() - t0) * 1000)
    cpus.append((ru.ru_utime + ru.ru_stime) * 1000)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: " + " ".join(argv))
walls.sort(); cpus.sort()
print("%.0f %.0f" % (walls[len(walls) // 2], cpus[len(cpus) // 2]))
EOF
}

calls=$("$probeseek" sql --db "$db" "SELECT calls FROM sessions WHERE name = 'big'" | tail -1)
echo "session big: $calls calls (curl_v4 x$times); median of $runs runs, warm; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-26s %-80s %8s %8s\n" label command "wall ms" "CPU ms"
for entry in "${commands[@]}"; do
  label=${entry%%|*}
  words "${entry#*|}"
  "$probeseek" "${w[@]}" --db "$db" >/dev/null 2>&1 || true  # warm the page cache
  read -r wall cpu < <(timer "$probeseek" "${w[@]}" --db "$db")
  printf "%-26s %-80s %8s %8s\n" "$label" "${entry#*|}" "$wall" "$cpu"
  if [[ -n $outputs ]]; then
    "$probeseek" "${w[@]}" --db "$db" >"$outputs/$label.txt" 2>&1 || true
    [[ ${w[0]} == tree ]] || "$probeseek" "${w[@]}" --db "$db" --json >"$outputs/$label.json" 2>&1 || true
  fi
done
