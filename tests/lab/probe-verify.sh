#!/usr/bin/env bash
# tests/lab/probe-verify.sh - `probeseek verify` closes the loop on a real kernel, in one boot:
# the curl recording of the lab's 6.1 kernel (tests/data) is imported on this host, ranked in
# the guest for 'struct sock *' below __x64_sys_connect, and `verify --top 5` re-runs curl
# against httpd-tiny with the five best candidates attached. tcp_v4_connect must have fired,
# with its socket's addresses set and the workload's port; `rank` must then show it.
#
# Usage: tests/lab/probe-verify.sh PROBESEEK [--kernel K]
# Exit status: 0 pass, 77 skipped (lab cannot run here), 1 failure.
set -euo pipefail

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
readonly DATA=$LAB_HOST_DIR/../data/linux-6.1.0-56-cloud-amd64
probeseek=${1:?usage: $0 PROBESEEK [--kernel K]}
shift
lab_begin probe-verify
lab_args "$0 PROBESEEK [--kernel K]" "$@"
kernel=${KERNELS[0]:-6.1}

"$probeseek" import --db "$TMP/curl.db" --btf "$DATA/vmlinux.btf" \
    --kallsyms "$DATA/kallsyms.txt.gz" --filter-functions "$DATA/available_filter_functions.txt.gz" \
    --kprobe-blacklist "$DATA/kprobes_blacklist.txt" "$DATA/curl_v4.dat" >/dev/null

cat >"$TMP/guest.sh" <<'GUEST'
. /lab/lib.sh
cp /lab/files/curl.db /tmp/curl.db
httpd-tiny 8080 >/tmp/httpd.pid &
lab-wait-listen 8080 60
t=$(date +%s)
rc=0
probeseek verify --db /tmp/curl.db --top 5 --arg 'struct sock *' --under __x64_sys_connect \
    --json -- curl -s http://127.0.0.1:8080/ >"$OUT/verify.json" 2>"$OUT/verify.err" || rc=$?
check verify test $rc = 0
echo "verify --top 5: $(($(date +%s) - t))s" >"$OUT/timings.txt"
rc=0
probeseek verify --db /tmp/curl.db --top 2 --arg 'struct sock *' --under __x64_sys_connect \
    -- curl -s http://127.0.0.1:8080/ >"$OUT/verify.txt" 2>"$OUT/verify-text.err" || rc=$?
check verify-text test $rc = 0
rc=0
probeseek rank --db /tmp/curl.db --arg 'struct sock *' --under __x64_sys_connect --limit 5 \
    --json >"$OUT/rank.json" 2>"$OUT/rank.err" || rc=$?
check rank test $rc = 0
probeseek rank --db /tmp/curl.db --arg 'struct sock *' --under __x64_sys_connect \
    --limit 2 >"$OUT/rank.txt" 2>&1
kill "$(cat /tmp/httpd.pid)" 2>/dev/null
exit $failed
GUEST

lab_say "kernel $kernel"
out=$TMP/out
show() { for f in "$out"/*.txt "$out"/*.err "$out"/*.json; do [[ -f $f ]] && { echo "== $f"; cat "$f"; }; done >&2; }
lab_run "$TMP/guest.sh" "$out" "$kernel" --timeout 300 \
    --binary "$probeseek" --file "$TMP/curl.db" || { show; exit 1; }

# The host checks the JSON with the same tool the unit tests use: python3 if present, else grep.
problems=()
if command -v python3 >/dev/null; then
    python3 - "$out/verify.json" "$out/rank.json" <<'PY' || problems+=("see above")
import json, sys
v = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
bad = []
if len(v["candidates"]) != 5: bad.append("verify did not try 5 candidates")
if v["ports"] != [8080]: bad.append("port 8080 not taken from the command line: %s" % v["ports"])
if v["exit_status"] != 0: bad.append("curl failed: %s" % v["exit_status"])
c = [c for c in v["candidates"] if c["function"] == "tcp_v4_connect"]
if not c: bad.append("tcp_v4_connect not among the candidates")
else:
    c = c[0]
    if not c["fired"]: bad.append("tcp_v4_connect did not fire: %s" % c["summary"])
    if c["sock"]["port_matches"] < 1: bad.append("no event with port 8080: %s" % c["summary"])
    if c["sock"]["addresses_set"] < 1: bad.append("addresses not set: %s" % c["summary"])
top = [x for x in r if x["function"] == "tcp_v4_connect"]
if not top or not top[0]["verified"] or not top[0]["verified"]["fired"]:
    bad.append("rank does not show tcp_v4_connect verified")
for b in bad: print("probe-verify:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
else
    grep -q '"function": "tcp_v4_connect"' "$out/verify.json" || problems+=("tcp_v4_connect missing")
fi
grep -q 'verified live' "$out/rank.txt" || problems+=("rank's text does not show the verification")
lab_problems "$kernel" "${problems[@]}" || { show; exit 1; }
lab_say "PASS ($kernel, $(cat "$out/timings.txt"))"
cat "$out/verify.txt" >&2
