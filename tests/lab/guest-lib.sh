# tests/lab/guest-lib.sh - shell helpers for guest scripts, installed by the runner as
# /lab/lib.sh (busybox sh). A guest script starts with `. /lab/lib.sh`.
#
#   check NAME CMD...    runs CMD; appends "ok NAME" or "FAIL NAME" to $OUT/checks.txt and
#                        sets failed=1 on failure (end the script with `exit $failed`)
#   wait_for FILE RE     waits until FILE has a line matching RE (at most 60 s; no fixed sleeps)
#   stop_with SIG PID    sends SIG to a background job and returns its exit status

failed=0

check() {
    name=$1
    shift
    if "$@"; then
        echo "ok $name" | tee -a "$OUT/checks.txt"
    else
        echo "FAIL $name" | tee -a "$OUT/checks.txt"
        failed=1
    fi
}

wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 600 ] || return 1
        usleep 100000
    done
}

stop_with() {
    kill "-$1" "$2"
    wait "$2"
}
