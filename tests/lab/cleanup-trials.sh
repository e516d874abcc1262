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

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
lab_begin cleanup-trials
usage="$0 --binary PATH [--kernel K]... [--trials N]"
lab_args "$usage" "$@"
((${#KERNELS[@]})) || KERNELS=(6.1 6.12)
binary=$BINARY
trials=${TRIALS:-20}
[[ -x $binary ]] || { lab_say "--binary PATH (the probeseek binary) is required"; exit 1; }
[[ $trials =~ ^[1-9][0-9]*$ ]] || { echo "usage: $usage" >&2; exit 1; }
echo "TRIALS=$trials" >"$TMP/trials.conf"

# One field of a trials.txt line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

status=0
for k in "${KERNELS[@]}"; do
    out=$TMP/out-$k
    lab_say "kernel $k, $trials trials per signal"
    started=$(date +%s)
    # Under TCG a trial takes 15-40 s; give every one 120 s. A failed run still has the trials
    # that finished: they are reported below.
    lab_run "$LAB_HOST_DIR/cleanup-trials-guest.sh" "$out" "$k" --binary "$binary" \
        --file "$TMP/trials.conf" --timeout $((120 + trials * 3 * 120)) || status=1
    seconds=$(($(date +%s) - started))
    release=$(cat "$out/uname.txt" 2>/dev/null || echo '?')
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
            lab_problems "$k, $line" "${problems[@]}" && restored=$((restored + 1))
        done < <(cat "$out/trials.txt" 2>/dev/null)
        modes=$(awk -v s="$sig" '$0 ~ " sig=" s " " { for (i = 1; i <= NF; i++) if ($i ~ /^stage=/) c[substr($i, 7)]++ }
            END { for (m in c) printf "%s%s %d", (n++ ? ", " : ""), m, c[m] }' "$out/trials.txt" 2>/dev/null || true)
        echo "$k ($release) SIG$sig: restored $restored/$trials (signalled at: ${modes:-nothing})"
        ((restored == trials)) || status=1
    done
    echo "$k ($release): boot and $((trials * 3)) trials ${seconds}s; $(cat "$out/summary.txt" 2>/dev/null || echo 'no summary')"
done
exit "$status"
