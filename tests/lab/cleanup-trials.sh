#!/usr/bin/env bash
# tests/lab/cleanup-trials.sh - how reliably probeseek puts the tracing state back when a
# recording is stopped by a signal: in one boot per kernel, N trials per signal (SIGINT, SIGTERM,
# SIGKILL + 'probeseek reset'), each comparing a snapshot of the tracing state before the
# recording with one after (tests/lab/cleanup-trials-guest.sh). The signal lands at varying
# moments: while recording, while current_tracer is switched, right after the start.
# The figures are in docs/reliability.md.
#
# Usage: tests/lab/cleanup-trials.sh --binary PATH [--kernel K]... [--trials N]
#        (default kernels: 6.1 and 6.12; default N: 20)
# Prints "KERNEL SIGNAL: restored X/N" per kernel and signal.
# Exit status: 0 all restored, 77 skipped (the lab cannot run here), 1 failure.
# PROBESEEK_LAB_KEEP=DIR keeps what the guests wrote (DIR/out-KERNEL) for a look afterwards.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly LAB_DIR
readonly LAB=$LAB_DIR/lab
# shellcheck source=host-lib.sh
. "$LAB_DIR/host-lib.sh"

usage() { echo "usage: $0 --binary PATH [--kernel K]... [--trials N]" >&2; exit 1; }
kernels=()
binary=''
trials=20
while (($#)); do
    case $1 in
        --kernel) kernels+=("${2:?--kernel needs a value}"); shift 2 ;;
        --binary) binary=${2:?--binary needs a value}; shift 2 ;;
        --trials) trials=${2:?--trials needs a value}; shift 2 ;;
        *) usage ;;
    esac
done
((${#kernels[@]})) || kernels=(6.1 6.12)
[[ -x $binary ]] || { echo "cleanup-trials.sh: --binary PATH (the probeseek binary) is required" >&2; exit 1; }
[[ $trials =~ ^[1-9][0-9]*$ ]] || usage

TMP=$(mktemp -d "${TMPDIR:-/tmp}/probeseek-lab-trials.XXXXXX")
keep() {
    if [[ -n ${PROBESEEK_LAB_KEEP:-} ]]; then
        mkdir -p "$PROBESEEK_LAB_KEEP" && cp -r "$TMP"/out-* "$PROBESEEK_LAB_KEEP"/ 2>/dev/null || true
    fi
    rm -rf -- "$TMP"
}
trap keep EXIT
echo "TRIALS=$trials" >"$TMP/trials.conf"

# One field of a trials.txt line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

status=0
for k in "${kernels[@]}"; do
    out=$TMP/out-$k
    echo "cleanup trials: kernel $k, $trials trials per signal" >&2
    started=$(date +%s)
    rc=0
    # Under TCG a trial takes 15-40 s; give every one 120 s.
    "$LAB" run "$LAB_DIR/cleanup-trials-guest.sh" "$out" --kernel "$k" --binary "$binary" \
        --file "$TMP/trials.conf" --timeout $((120 + trials * 3 * 120)) || rc=$?
    seconds=$(($(date +%s) - started))
    if ((rc == 77)); then
        echo "cleanup trials: SKIP: the lab cannot run here (see above)" >&2
        exit 77
    fi
    release=$(cat "$out/uname.txt" 2>/dev/null || echo '?')
    if ((rc != 0)); then
        echo "cleanup trials: FAIL ($k): lab run exited with status $rc" >&2
        status=1
    fi
    for sig in INT TERM KILL; do
        restored=0
        while read -r line; do
            [[ $(field "$line" sig) == "$sig" ]] || continue
            name=$(field "$line" name)
            problems=()
            [[ $(field "$line" armed) == yes ]] || problems+=("the recording never reached the moment to signal")
            [[ $(field "$line" hung) == no ]] || problems+=("SIG$sig did not end the recording within 300 s")
            if ! diff=$(diff <(normalized_snapshot "$out/snap-$name-before.txt") \
                <(normalized_snapshot "$out/snap-$name-after.txt") 2>&1); then
                problems+=("the tracing state changed: $(grep '^[<>]' <<<"$diff" | tr '\n' ';')")
            fi
            [[ $(field "$line" strays) == 0 ]] || problems+=("the command's child outlived the recording")
            if [[ $sig == KILL && $(field "$line" reset_rc) != 0 ]]; then
                problems+=("probeseek reset exited with $(field "$line" reset_rc)")
            fi
            if ((${#problems[@]})); then
                printf 'cleanup trials: FAIL (%s) %s: %s\n' "$k" "$line" "$(IFS=';'; echo "${problems[*]}")" >&2
            else
                restored=$((restored + 1))
            fi
        done < <(cat "$out/trials.txt" 2>/dev/null)
        modes=$(awk -v s="$sig" '$0 ~ " sig=" s " " { for (i = 1; i <= NF; i++) if ($i ~ /^stage=/) c[substr($i, 7)]++ }
            END { for (m in c) printf "%s%s %d", (n++ ? ", " : ""), m, c[m] }' "$out/trials.txt" 2>/dev/null || true)
        echo "$k ($release) SIG$sig: restored $restored/$trials (signalled at: ${modes:-nothing})"
        ((restored == trials)) || status=1
    done
    echo "$k ($release): boot and $((trials * 3)) trials ${seconds}s; $(cat "$out/summary.txt" 2>/dev/null || echo 'no summary')"
done
exit "$status"
