#!/usr/bin/env bash
# bench/lab_load.sh - probeseek under load in the QEMU lab (issue 15), one boot per kernel:
#
#   1. record's overhead on the traced workload: rw-loop PAIRS (1-byte read + write pairs, timed
#      by the workload itself around its loop) untraced, under `trace-cmd record -p
#      function_graph -F`, and under `probeseek record --`, RUNS times each, interleaved; the
#      lost events of each (trace-cmd's: its file's per-CPU stats and missed-event marks, read
#      by `probeseek import` on the host; probeseek's: `sessions`)
#   2. `attach vfs_read` while rw-loop 0 reads as fast as it can, for ATTACH_S seconds: events
#      decoded per second, lost events, the attach process's RSS over time, SIGINT to the probe
#      gone from /sys/kernel/debug/kprobes/list and to exit, and afterwards no kprobe, no
#      kprobe_event, no BPF program or link left
#   2b. `attach vfs_read --pid` of rw-loop EXACT (stopped until attached): decoded + lost must
#      equal its EXACT reads
#   3. `record -p` of tcp-keepwriter writing to tcp-sink every 2 ms for RECORD_S seconds,
#      stopped with SIGINT: the recorder's RSS over time, the session kept (`sessions`), the
#      tracing state before and after; then a short recording with a tiny ring buffer
#      (--buffer-size LOSSY_KB) that must lose events, to see them counted per CPU
#
# A benchmark, not a test: it prints a table per kernel and fails only when a run did not
# happen. Needs trace-cmd on the host (copied into the guest with --binary).
#
# Usage: bench/lab_load.sh [--kernel K]... [--binary PROBESEEK] [--probe-cycles PATH]
#                          [--runs N] [--pairs N] [--attach-seconds S] [--record-seconds S]
#        bench/lab_load.sh --from DIR [--kernel K]... [--runs N] [--pairs N] ...
# Default: both kernels (6.1 and 6.12), build/cli/probeseek, 3 runs of 10000 pairs, 30 s, 60 s.
# PROBESEEK_LAB_KEEP=DIR keeps the guests' outputs (DIR/out-KERNEL); --from DIR prints the
# tables again from such a directory without booting (give the same --runs, --pairs, ...).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/lab/host-lib.sh
. "$here/tests/lab/host-lib.sh"
lab_begin lab-load

kernels=()
probeseek=$here/build/cli/probeseek
probe_cycles=$here/build/tests/probe-cycles
runs=3 pairs=10000 exact=200000 interval_ms=2 attach_s=30 record_s=60 lossy_kb=16 from=''
usage="$0 [--kernel K]... [--binary PROBESEEK] [--probe-cycles PATH] [--runs N] [--pairs N] [--attach-seconds S] [--record-seconds S] [--from DIR]"
while (($#)); do
    case $1 in
        --kernel) kernels+=("${2:?--kernel needs a value}"); shift 2 ;;
        --binary) probeseek=${2:?}; shift 2 ;;
        --probe-cycles) probe_cycles=${2:?}; shift 2 ;;
        --runs) runs=${2:?}; shift 2 ;;
        --pairs) pairs=${2:?}; shift 2 ;;
        --attach-seconds) attach_s=${2:?}; shift 2 ;;
        --record-seconds) record_s=${2:?}; shift 2 ;;
        --from) from=${2:?}; shift 2 ;;
        *) echo "usage: $usage" >&2; exit 2 ;;
    esac
done
((${#kernels[@]})) || kernels=(6.1 6.12)
trace_cmd=$(command -v trace-cmd) || { lab_say "no trace-cmd on the host (apt-get install trace-cmd)"; exit 77; }
for f in "$probeseek" "$probe_cycles"; do
    [[ -x $f ]] || { lab_say "no $f: build first (scripts/build)"; exit 2; }
done

# The workload's syscalls in each session: a recording that lost its end or its beginning has
# fewer than PAIRS reads, or no exit_group.
syscalls="SELECT s.name, f.name, count(*) FROM calls c JOIN functions f ON f.id = c.function_id
 JOIN tasks t ON t.id = c.task_id JOIN sessions s ON s.id = t.session_id WHERE t.comm = 'rw-loop'
 AND f.name IN ('__x64_sys_read', '__x64_sys_write', '__x64_sys_exit_group') GROUP BY 1, 2"
{
    echo "INTERVAL_MS=$interval_ms EXACT=$exact PAIRS=$pairs RUNS=$runs ATTACH_S=$attach_s RECORD_S=$record_s LOSSY_KB=$lossy_kb"
    echo "SYSCALLS=\"$syscalls\""
    cat <<'GUEST'
. /lab/lib.sh
up() { cut -d' ' -f1 /proc/uptime; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 + 0.5 }'; }
rss() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\) kB$/\1/p' "/proc/$1/status" 2>/dev/null; }
# Samples PID's RSS every S seconds into FILE ("seconds-since-T0 KB") while it lives, at most N.
sample_rss() {
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt "$5" ]; do
        echo "$(ms "$4" "$(up)") $(rss "$1")" >>"$2"
        sleep "$3"
        n=$((n + 1))
    done
}
trace-cmd --version >"$OUT/trace-cmd-version.txt" 2>&1 || true
trace-cmd list -P >"$OUT/trace-cmd-plugins.txt" 2>&1 || true
uname -r >"$OUT/release.txt"

# ---- 1. overhead: untraced, trace-cmd, probeseek; interleaved.
r=1
while [ $r -le "$RUNS" ]; do
    rw-loop "$PAIRS" >"$OUT/p1-untraced-$r.txt"
    a=$(up)
    trace-cmd record -p function_graph -F -o "/tmp/tc-$r.dat" rw-loop "$PAIRS" \
        >"$OUT/p1-tc-$r.txt" 2>"$OUT/p1-tc-$r.err"
    echo "rc $? wall_ms $(ms "$a" "$(up)")" >>"$OUT/p1-tc-$r.txt"
    mv "/tmp/tc-$r.dat" "$OUT/p1-tc-$r.dat"
    a=$(up)
    probeseek record --db /tmp/p1.db --name "ps-$r" -- rw-loop "$PAIRS" \
        >"$OUT/p1-ps-$r.txt" 2>"$OUT/p1-ps-$r.err"
    echo "rc $? wall_ms $(ms "$a" "$(up)")" >>"$OUT/p1-ps-$r.txt"
    r=$((r + 1))
done
probeseek sessions --db /tmp/p1.db --json >"$OUT/p1-sessions.json" 2>"$OUT/p1-sessions.err"
probeseek sql --db /tmp/p1.db "$SYSCALLS" >"$OUT/p1-ps-syscalls.txt" 2>&1
rm -f /tmp/p1.db

# ---- 2. attach vfs_read under a read loop.
probe-cycles --progs >"$OUT/p2-progs-before.txt"
probe-cycles --links >"$OUT/p2-links-before.txt"
rw-loop 0 >/tmp/rw.out &
rw=$!
probeseek attach vfs_read >/dev/null 2>"$OUT/p2-attach.err" &
ap=$!
check p2-attached wait_for "$OUT/p2-attach.err" '^Ctrl-C' 120
t0=$(up)
grep -c ' vfs_read+' /sys/kernel/debug/kprobes/list >"$OUT/p2-kprobes-during.txt" || true
probe-cycles --progs >"$OUT/p2-progs-during.txt"
probe-cycles --links >"$OUT/p2-links-during.txt"
sample_rss "$ap" "$OUT/p2-rss.txt" 2 "$t0" $((ATTACH_S / 2))
t1=$(up)
kill -INT "$ap"
while grep -q ' vfs_read+' /sys/kernel/debug/kprobes/list; do usleep 10000; done
t2=$(up)
i=0
while kill -0 "$ap" 2>/dev/null && [ $i -lt 6000 ]; do usleep 10000; i=$((i + 1)); done
t3=$(up)
wait "$ap"
echo "rc $? attached_ms $(ms "$t0" "$t1") detach_ms $(ms "$t1" "$t2") exit_ms $(ms "$t1" "$t3")" \
    >"$OUT/p2-times.txt"
kill -INT "$rw"
wait "$rw" || true
cp /tmp/rw.out "$OUT/p2-rw.txt"
usleep 500000
grep -c . /sys/kernel/debug/kprobes/list >"$OUT/p2-kprobes-after.txt" || true
grep -c . /sys/kernel/tracing/kprobe_events >"$OUT/p2-kprobe-events-after.txt" || true
probe-cycles --progs >"$OUT/p2-progs-after.txt"
probe-cycles --links >"$OUT/p2-links-after.txt"

# ---- 2b. lost events counted exactly: attach --pid of a workload stopped before its first read,
# then let it make EXACT reads of /dev/zero (exec does not go through vfs_read): events + lost
# must be EXACT.
sh -c 'kill -STOP $$; exec rw-loop '"$EXACT" >/tmp/exact.out &
ex=$!
probeseek attach vfs_read --pid "$ex" >/dev/null 2>"$OUT/p2b-attach.err" &
ap=$!
check p2b-attached wait_for "$OUT/p2b-attach.err" '^Ctrl-C' 120
kill -CONT "$ex"
wait "$ex"
kill -INT "$ap"
wait "$ap"
cp /tmp/exact.out "$OUT/p2b-rw.txt"

# ---- 3. record -p of a busy loopback writer, stopped with SIGINT; then a lossy one.
tcp-sink 9000 >/tmp/sink.pid &
sink=$!
lab-wait-listen 9000 60
tcp-keepwriter 127.0.0.1 9000 "$INTERVAL_MS" >/tmp/kw.pid &
kw=$!
wait_for /tmp/kw.pid '^[0-9]' 60
# The guest's / is a tmpfs of half its RAM (1 GiB): the spilled pages and the database of a busy
# minute (about 0.5 + 0.45 GB on 6.12 with a write every millisecond) did not fit together.
df -k /tmp >"$OUT/p3-df-before.txt"
snapshot p3-before
probeseek record --db /tmp/p3.db --name busy -p "$kw" >"$OUT/p3-record.out" 2>"$OUT/p3-record.err" &
rp=$!
check p3-recording wait_for "$OUT/p3-record.err" '^probeseek: recording ' 180
t0=$(up)
sample_rss "$rp" "$OUT/p3-rss.txt" 5 "$t0" $((RECORD_S / 5))
t1=$(up)
du -sk /tmp/probeseek-record-* 2>/dev/null | cut -f1 >"$OUT/p3-spill-kb.txt" || true
kill -INT "$rp"
sample_rss "$rp" "$OUT/p3-rss-saving.txt" 5 "$t0" 10000
wait "$rp"
echo "rc $? recorded_ms $(ms "$t0" "$t1") saved_ms $(ms "$t1" "$(up)")" >"$OUT/p3-times.txt"
snapshot p3-after
kill "$kw" "$sink" 2>/dev/null || true
probeseek sessions --db /tmp/p3.db --json >"$OUT/p3-sessions.json" 2>"$OUT/p3-sessions.err"
ls -l /tmp/p3.db | awk '{ print $5 }' >"$OUT/p3-db-bytes.txt"
rm -f /tmp/p3.db
probeseek record --db /tmp/p3.db --name lossy --buffer-size "$LOSSY_KB" -- rw-loop "$PAIRS" \
    >"$OUT/p3-lossy.out" 2>"$OUT/p3-lossy.err"
echo "rc $?" >>"$OUT/p3-lossy.out"
snapshot p3-after-lossy
probeseek sessions --db /tmp/p3.db --json >"$OUT/p3-lossy-sessions.json" 2>>"$OUT/p3-lossy.err"
probeseek sessions --db /tmp/p3.db >"$OUT/p3-lossy-sessions.txt" 2>>"$OUT/p3-lossy.err"
exit $failed
GUEST
} >"$TMP/guest.sh"

# Host half: the tables. trace-cmd's recordings are imported here, so that both tools' lost
# events are counted the same way (the file's per-CPU stats plus the missed-event marks).
report() {
    local kernel=$1 out=$2 r
    for ((r = 1; r <= runs; r++)); do
        "$probeseek" import --db "$out/host.db" --name "tc-$r" "$out/p1-tc-$r.dat" >/dev/null 2>&1 ||
            lab_say "($kernel) cannot import $out/p1-tc-$r.dat"
        "$trace_cmd" report --stat -i "$out/p1-tc-$r.dat" >"$out/p1-tc-$r.stat" 2>/dev/null || true
    done
    "$probeseek" sessions --db "$out/host.db" --json >"$out/p1-tc-sessions.json"
    "$probeseek" sql --db "$out/host.db" "$syscalls" >"$out/p1-tc-syscalls.txt"
    python3 - "$kernel" "$out" "$runs" "$pairs" "$attach_s" "$record_s" "$lossy_kb" <<'PY'
import json, re, statistics, sys
from pathlib import Path

kernel, out, runs, pairs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
attach_s, record_s, lossy_kb = sys.argv[5], sys.argv[6], sys.argv[7]
def text(name, default=""):
    p = out / name
    return p.read_text(errors="replace") if p.exists() else default
def loop_us(name):
    m = re.search(r"rw-loop: (\d+) pairs in (\d+) us", text(name))
    return int(m.group(2)) if m else None
def kv(name, key):
    m = re.search(rf"\b{key} (-?\d+)", text(name))
    return int(m.group(1)) if m else None
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def fmt(x, unit=""):
    return "n/a" if x is None else f"{x:,.0f}{unit}"
def sessions(name):
    try:
        return {s["name"]: s for s in json.loads(text(name, "[]"))}
    except json.JSONDecodeError:
        return {}
def lost_by_cpu(s):
    return ", ".join(f"cpu{st.get('cpu')}: {st['value']:,}" for st in s.get("stats", [])
                     if st.get("name") == "lost_events") or "none"
def tc_stat(r):
    t = text(f"p1-tc-{r}.stat")
    g = lambda k: sum(int(v) for v in re.findall(rf"^{k}: (\d+)", t, re.M))
    return g("overrun") + g("dropped events"), g("entries")

release = text("release.txt").strip()
print(f"\n### {kernel} ({release}), QEMU TCG, 1 vCPU\n")
print(f"1. Overhead: rw-loop {pairs:,} pairs (its own clock around the loop), median of {runs} runs\n")
tc_s, ps_s = sessions("p1-tc-sessions.json"), sessions("p1-sessions.json")
rows = {"untraced": [], "trace-cmd record -p function_graph -F": [],
        "probeseek record --": []}
extra = {k: {"wall": [], "calls": [], "lost": []} for k in rows}
for r in range(1, runs + 1):
    rows["untraced"].append(loop_us(f"p1-untraced-{r}.txt"))
    k = "trace-cmd record -p function_graph -F"
    rows[k].append(loop_us(f"p1-tc-{r}.txt"))
    extra[k]["wall"].append(kv(f"p1-tc-{r}.txt", "wall_ms"))
    s = tc_s.get(f"tc-{r}", {})
    extra[k]["calls"].append(s.get("calls"))
    extra[k]["lost"].append(s.get("lost_events"))
    k = "probeseek record --"
    rows[k].append(loop_us(f"p1-ps-{r}.txt"))
    extra[k]["wall"].append(kv(f"p1-ps-{r}.txt", "wall_ms"))
    s = ps_s.get(f"ps-{r}", {})
    extra[k]["calls"].append(s.get("calls"))
    extra[k]["lost"].append(s.get("lost_events"))
base = med(rows["untraced"])
print("| | loop time (median) | x untraced | runs (ms) | calls recorded | lost events | whole command |")
print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
for k, xs in rows.items():
    m = med(xs)
    ratio = f"{m / base:.1f}x" if m and base else "n/a"
    runs_ms = " / ".join("n/a" if x is None else f"{x / 1000:,.0f}" for x in xs)
    e = extra[k]
    calls = fmt(med(e["calls"])) if any(e["calls"]) else "-"
    lost = " / ".join(fmt(x) for x in e["lost"]) if e["lost"] else "-"
    wall = f"{med(e['wall']) / 1000:.1f} s" if med(e["wall"]) else "-"
    print(f"| {k} | {fmt(m / 1000 if m else None, ' ms')} | {ratio} | {runs_ms} | {calls} | {lost or '-'} | {wall} |")
def syscalls(name):
    found = {}
    for line in text(name).splitlines()[1:]:
        f = line.split()
        if len(f) == 3 and f[2].isdigit():
            found.setdefault(f[0], []).append(f"{f[1].replace('__x64_sys_', '')} {int(f[2]):,}")
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(found.items())) or "n/a"
print(f"\nrw-loop's syscalls in each recording: {syscalls('p1-tc-syscalls.txt')}; {syscalls('p1-ps-syscalls.txt')}")
stats = [tc_stat(r) for r in range(1, runs + 1)]
print(f"\ntrace-cmd's own per-CPU stats (overrun + dropped / entries left unread): "
      + " ; ".join(f"{a:,} / {b:,}" for a, b in stats)
      + f". Plugins found in the guest: {len(text('trace-cmd-plugins.txt').split())} words of `trace-cmd list -P`.")

print(f"\n2. attach vfs_read under rw-loop 0, ~{attach_s} s\n")
err = text("p2-attach.err")
m = re.search(r"^(\d+) events.*?, (\d+) lost \(ring buffer full\)", err, re.M)
events, lost = (int(m.group(1)), int(m.group(2))) if m else (None, None)
attached_ms = kv("p2-times.txt", "attached_ms")
rate = events / (attached_ms / 1000) if events is not None and attached_ms else None
kern = (events + lost) / (attached_ms / 1000) if rate is not None else None
rss = [int(l.split()[1]) for l in text("p2-rss.txt").splitlines() if len(l.split()) == 2]
rw = re.search(r"rw-loop: (\d+) pairs in (\d+) us", text("p2-rw.txt"))
print("| attached | events decoded | per second | lost (counted) | hits per second | RSS first / max / last | SIGINT to kprobe gone | SIGINT to exit |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
print(f"| {fmt(attached_ms / 1000 if attached_ms else None, ' s')} | {fmt(events)} | {fmt(rate)} | {fmt(lost)} | {fmt(kern)} "
      f"| {'/'.join(f'{x / 1024:.1f}' for x in (rss[0], max(rss), rss[-1])) + ' MiB' if rss else 'n/a'} "
      f"| {fmt(kv('p2-times.txt', 'detach_ms'), ' ms')} | {fmt(kv('p2-times.txt', 'exit_ms'), ' ms')} |")
left = {n: text(f"p2-{n}.txt").strip() for n in
        ("progs-before", "progs-during", "progs-after", "links-before", "links-during", "links-after",
         "kprobes-during", "kprobes-after", "kprobe-events-after")}
print(f"\nRSS samples (s: KiB): {', '.join(l.replace(' ', ': ') for l in text('p2-rss.txt').splitlines())}")
print(f"rw-loop while probed: {int(rw.group(1)) / (int(rw.group(2)) / 1e6):,.0f} pairs/s" if rw else "rw-loop: n/a")
print(f"BPF programs before/during/after: {left['progs-before']}/{left['progs-during']}/{left['progs-after']}; "
      f"links {left['links-before']}/{left['links-during']}/{left['links-after']}; "
      f"vfs_read in kprobes/list during: {left['kprobes-during']}, kprobes/list lines after: {left['kprobes-after']}; "
      f"kprobe_events lines after: {left['kprobe-events-after']}")
print(f"closing line: {err.strip().splitlines()[-1] if err.strip() else 'n/a'}")
m = re.search(r"^(\d+) events.*?, (\d+) lost \(ring buffer full\)", text("p2b-attach.err"), re.M)
rw = re.search(r"rw-loop: (\d+) pairs", text("p2b-rw.txt"))
if m and rw:
    e, l, n = int(m.group(1)), int(m.group(2)), int(rw.group(1))
    print(f"exact count, attach vfs_read --pid of rw-loop {n:,}: {e:,} decoded + {l:,} lost = {e + l:,} "
          f"({'equal to' if e + l == n else 'NOT equal to'} its {n:,} reads)")
else:
    print("exact count: n/a")

print(f"\n3. record -p tcp-keepwriter (a write every 2 ms to tcp-sink), SIGINT after ~{record_s} s\n")
busy = sessions("p3-sessions.json").get("busy", {})
rss = [int(l.split()[1]) for l in text("p3-rss.txt").splitlines() if len(l.split()) == 2]
saving = [int(l.split()[1]) for l in text("p3-rss-saving.txt").splitlines() if len(l.split()) == 2]
print("| recorded | spill at stop | calls kept | lost events (per CPU) | recorder RSS while recording first / max / last | peak RSS while saving | save after SIGINT | database |")
print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
spill = text("p3-spill-kb.txt").strip()
dbb = text("p3-db-bytes.txt").strip()
print(f"| {fmt(kv('p3-times.txt', 'recorded_ms') / 1000 if kv('p3-times.txt', 'recorded_ms') else None, ' s')} "
      f"| {f'{int(spill) / 1024:,.0f} MiB' if spill.isdigit() else 'n/a'} | {fmt(busy.get('calls'))} "
      f"| {fmt(busy.get('lost_events'))} ({lost_by_cpu(busy)}) "
      f"| {'/'.join(f'{x / 1024:.1f}' for x in (rss[0], max(rss), rss[-1])) + ' MiB' if rss else 'n/a'} "
      f"| {f'{max(saving) / 1024:.1f} MiB' if saving else 'n/a'} "
      f"| {fmt(kv('p3-times.txt', 'saved_ms') / 1000 if kv('p3-times.txt', 'saved_ms') else None, ' s')} "
      f"| {f'{int(dbb) / 1e6:,.0f} MB' if dbb.isdigit() else 'n/a'} |")
print(f"\nRSS samples while recording (s: KiB): {', '.join(l.replace(' ', ': ') for l in text('p3-rss.txt').splitlines())}")
stopped = re.findall(r"recording stopped \(([^)]*)\)", text("p3-record.err")) or ["n/a"]
print(f"stopped by: {stopped[0]}; session kept: {'yes' if busy else 'NO'}")
lossy = sessions("p3-lossy-sessions.json").get("lossy", {})
print(f"--buffer-size {lossy_kb} record -- rw-loop {pairs}: {fmt(lossy.get('calls'))} calls, "
      f"{fmt(lossy.get('lost_events'))} lost events ({lost_by_cpu(lossy)})")
warn = [l for l in text("p3-lossy.err").splitlines() if l.startswith("warning: CPU")]
print(f"record's warning: {warn[0] if warn else 'none'}")
PY
}

status=0
for kernel in "${kernels[@]}"; do
    out=$TMP/out-$kernel
    if [[ -n $from ]]; then
        out=$from/out-$kernel
        rm -f "$out/host.db"
    else
        lab_say "kernel $kernel: $runs x 3 runs of $pairs pairs, attach ${attach_s} s, record ${record_s} s (TCG: 10+ minutes)"
        start=$(date +%s)
        if ! lab_run "$TMP/guest.sh" "$out" "$kernel" --timeout 1800 --binary "$probeseek" \
            --binary "$probe_cycles" --binary "$trace_cmd"; then
            status=1
            [[ ! -d $out ]] || report "$kernel" "$out" || true
            continue
        fi
        lab_say "kernel $kernel: $(($(date +%s) - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    fi
    report "$kernel" "$out"
    # The tracing state around the SIGINT-ed recording (tests/lab/host-lib.sh normalises the
    # ring buffer's size to pages); no state file or spill directory may be left.
    changed=$(diff <(normalized_snapshot "$out/snap-p3-before.txt") \
        <(normalized_snapshot "$out/snap-p3-after.txt") | grep '^[<>]' || true)
    leftovers=$(grep -v '^state_files=$\|^spill_dirs=$' \
        <(grep '^state_files=\|^spill_dirs=' "$out/snap-p3-after.txt" | sed 's/ *$//') || true)
    if [[ -n $changed || -n $leftovers ]]; then
        echo "tracing state NOT restored by record -p (SIGINT):"
        printf '%s\n' "$changed" "$leftovers"
        status=1
    else
        echo "tracing state after record -p (SIGINT): as before (current_tracer, tracing_on," \
            "set_ftrace_pid, filters, max_graph_depth, buffer pages, trace_options, events," \
            "instances); no state file, no spill directory left"
    fi
done
exit $status
