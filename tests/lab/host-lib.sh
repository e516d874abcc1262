# tests/lab/host-lib.sh - bash helpers shared by the host halves of the lab tests (sourced).
#
#   normalized_snapshot FILE   prints a snapshot written by snapshot (tests/lab/guest-lib.sh)
#                              in the form two snapshots are compared in
#
# The ring buffer's size is compared as the kernel allocates it: whole pages of 4080 data bytes.
# The kernel shows its boot-time size as "7 (expanded: 1408)" until first use and "1408" after;
# 6.12 shows the same 354 pages as 1410 once they were resized (restored) by a write.
normalized_snapshot() {
    sed 's/^buffer_size_kb=[0-9]* (expanded: \([0-9]*\))$/buffer_size_kb=\1/' "$1" |
        awk -F= '$1 == "buffer_size_kb" { printf "buffer_pages=%d\n", int(($2 * 1024 + 4079) / 4080); next } { print }'
}

# ---- The harness every host script shares: its name in messages, a temporary directory, the
# arguments, one lab run, and the problems it found. A script sources this file, then:
#
#   lab_begin NAME            messages start with "NAME: "; $TMP is a new directory, removed at
#                             exit (copied into $PROBESEEK_LAB_KEEP first when that is set)
#   lab_args USAGE ARG...     --kernel K (repeatable) -> KERNELS, --binary PATH -> BINARY,
#                             --trials N -> TRIALS; anything else prints USAGE and exits 1
#   lab_run GUEST OUT KERNEL [lab run options...]
#                             boots KERNEL and runs GUEST with results in OUT; exits 77 when the
#                             lab cannot run here; says FAIL and returns 1 when the run failed
#   lab_problems KERNEL [PROBLEM...]
#                             one "FAIL (KERNEL): PROBLEM" line per problem; returns 1 if any
#   lab_say TEXT              "NAME: TEXT" on stderr

LAB_HOST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=${LAB:-$LAB_HOST_DIR/lab}

lab_say() {
    echo "$LAB_NAME: $*" >&2
}

lab_end() {
    if [[ -n ${PROBESEEK_LAB_KEEP:-} && -d ${TMP:-} ]]; then
        mkdir -p "$PROBESEEK_LAB_KEEP" && cp -r "$TMP"/out* "$PROBESEEK_LAB_KEEP"/ 2>/dev/null || true
    fi
    [[ -z ${TMP:-} ]] || rm -rf -- "$TMP"
}

lab_begin() {
    LAB_NAME=$1
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/probeseek-lab-$1.XXXXXX")
    trap lab_end EXIT
}

lab_args() {
    local usage=$1
    shift
    KERNELS=()
    BINARY=''
    TRIALS=''
    while (($#)); do
        case $1 in
            --kernel) KERNELS+=("${2:?--kernel needs a value}"); shift 2 ;;
            --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
            --trials) TRIALS=${2:?--trials needs a value}; shift 2 ;;
            *) echo "usage: $usage" >&2; exit 1 ;;
        esac
    done
}

lab_run() {
    local guest=$1 out=$2 kernel=$3
    shift 3
    local rc=0
    "$LAB" run "$guest" "$out" --kernel "$kernel" "$@" || rc=$?
    if ((rc == 77)); then
        lab_say "SKIP: the lab cannot run here (see above)"
        exit 77
    fi
    if ((rc != 0)); then
        lab_say "FAIL ($kernel): lab run exited with status $rc"
        [[ ! -f $out/checks.txt ]] || cat "$out/checks.txt" >&2
        return 1
    fi
}

lab_problems() {
    local kernel=$1 problem
    shift
    (($#)) || return 0
    for problem in "$@"; do lab_say "FAIL ($kernel): $problem"; done
    return 1
}
