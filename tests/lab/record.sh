#!/usr/bin/env bash
# tests/lab/record.sh - probeseek record, reset and doctor end to end on real kernels: one boot
# per kernel runs tests/lab/record-guest.sh (curl recording, -p PID --duration, SIGINT/SIGTERM/
# SIGKILL cleanup, refusal while another tracer runs); this script then checks what came back,
# partly with the host's probeseek on the guest's databases (a session must be self-contained).
#
# Usage: tests/lab/record.sh --binary PATH [--kernel K]...   (default kernels: 6.1 and 6.12)
# Exit status: 0 pass, 77 skipped (the lab cannot run here), 1 failure.
# PROBESEEK_LAB_KEEP=DIR keeps what the guests wrote (DIR/out-KERNEL) for a look afterwards.
set -euo pipefail

# shellcheck source=host-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"
lab_begin record
lab_args "$0 --binary PATH [--kernel K]..." "$@"
((${#KERNELS[@]})) || KERNELS=(6.1 6.12)
binary=$BINARY
[[ -x $binary ]] || { lab_say "--binary PATH (the probeseek binary) is required"; exit 1; }

failures=()
fail() { failures+=("$*"); }

# "key=value" from the guest's results.
result() { sed -n "s/^$1=//p" "$out/results.txt" | tail -1; }
expect_result() { # KEY VALUE
    local got
    got=$(result "$1")
    [[ $got == "$2" ]] || fail "$1 is '$got', expected '$2'"
}
# One value from the host's probeseek on a guest database.
sql() { "$binary" sql --db "$1" "$2" | sed -n 2p | sed 's/[[:space:]]*$//'; }
# A snapshot as it is compared (tests/lab/host-lib.sh).
normalized() { normalized_snapshot "$out/snap-$1.txt"; }
same_state() { # BEFORE AFTER WHAT
    local diff
    if ! diff=$(diff <(normalized "$1") <(normalized "$2")); then
        fail "$3: the tracing state changed: $(echo "$diff" | grep '^[<>]' | tr '\n' ';')"
    fi
}
clean_state() { # SNAPSHOT WHAT: nothing of probeseek left
    local s=$out/snap-$1.txt
    grep -qx 'current_tracer=nop' "$s" || fail "$2: $(grep ^current_tracer "$s")"
    grep -qx 'set_ftrace_pid=no pid ' "$s" || fail "$2: $(grep ^set_ftrace_pid "$s")"
    grep -q '^instances=.*probeseek-' "$s" && fail "$2: a probeseek instance is left: $(grep ^instances "$s")"
    grep -qx 'state_files=' "$s" || fail "$2: state files left: $(grep ^state_files "$s")"
    grep -qx 'spill_dirs=' "$s" || fail "$2: spill files left: $(grep ^spill_dirs "$s")"
    return 0
}
first_candidate() { grep -m1 -E '^ *1\. ' "$1" | awk '{print $3}'; }

status=0
for k in "${KERNELS[@]}"; do
    out=$TMP/out-$k
    failures=()
    lab_say "kernel $k"
    started=$(date +%s)
    if ! lab_run "$LAB_HOST_DIR/record-guest.sh" "$out" "$k" --binary "$binary" --timeout 540; then
        [[ ! -f $out/results.txt ]] || cat "$out/results.txt" >&2
        status=1
        continue
    fi
    seconds=$(($(date +%s) - started))

    # What the kernel offers, as doctor sees it in the guest.
    expect_result doctor_rc 0
    grep -qE '^ok +function_graph tracer' "$out/doctor.txt" || fail "doctor: function_graph not ok"
    grep -qE '^ok +/proc/kcore' "$out/doctor.txt" || fail "doctor: /proc/kcore not ok"
    grep -qE '^ok +kprobes' "$out/doctor.txt" || fail "doctor: kprobes not ok"
    same_state s0-before s0-after "doctor"
    instance_graph=$(result instance_function_graph)

    # 1. record -- curl; rank and explain
    expect_result s1_record_rc 0
    [[ $(cat "$out/s1-curl.out" 2>/dev/null) == hello ]] || fail "1: curl's output was not 'hello'"
    if [[ $instance_graph == yes ]]; then
        grep -q 'instance probeseek-' "$out/s1-record.err" || fail "1: did not record in a private instance"
    else
        grep -q 'top-level instance' "$out/s1-record.err" || fail "1: did not record in the top-level instance"
    fi
    same_state s1-before s1-after "1: record -- curl"
    clean_state s1-after "1: record -- curl"
    expect_result s1_rank_rc 0
    [[ $(first_candidate "$out/s1-rank.txt") == tcp_v4_connect ]] ||
        fail "1: rank in the guest puts $(first_candidate "$out/s1-rank.txt") first, not tcp_v4_connect"
    "$binary" rank --db "$out/rec.db" --session curl --arg 'struct sock *' --under __x64_sys_connect \
        >"$out/s1-rank-host.txt" 2>&1 || fail "1: rank on the host failed: $(tail -2 "$out/s1-rank-host.txt")"
    [[ $(first_candidate "$out/s1-rank-host.txt") == tcp_v4_connect ]] ||
        fail "1: rank on the host (stored BTF and symbols) puts $(first_candidate "$out/s1-rank-host.txt") first"
    expect_result s1_explain_rc 0
    grep -q 'ops-table slots hold recorded functions' "$out/s1-record.err" ||
        fail "1: record did not scan the ops tables in /proc/kcore"
    grep -q 'tcp_prot.connect = tcp_v4_connect (verified in /proc/kcore at record time' "$out/s1-explain.txt" ||
        fail "1: explain did not show tcp_prot.connect verified from kernel memory at record time"
    # On the host (another kernel, no memory to read) the stored scan still speaks.
    "$binary" explain --db "$out/rec.db" --session curl tcp_v4_connect >"$out/s1-explain-host.txt" 2>&1 ||
        fail "1: explain on the host failed: $(tail -2 "$out/s1-explain-host.txt")"
    grep -q 'tcp_prot.connect = tcp_v4_connect (verified in /proc/kcore at record time' "$out/s1-explain-host.txt" ||
        fail "1: explain on the host does not show the membership stored at record time"
    grep -q 'verified in kernel memory: ' "$out/s1-rank-host.txt" ||
        fail "1: rank on the host does not use the stored ops-table membership"
    # Issue 12: the sibling for IPv6 from the slots read at record time, and the hook set.
    grep -q 'tcpv6_prot.connect = tcp_v6_connect  \[same family\].*(verified in /proc/kcore at record time)' "$out/s1-explain-host.txt" ||
        fail "1: explain tcp_v4_connect does not list tcpv6_prot.connect = tcp_v6_connect verified in kernel memory"
    "$binary" rank --db "$out/rec.db" --session curl --arg 'struct sock *' --under __x64_sys_connect --complete \
        >"$out/s1-complete-host.txt" 2>&1 || fail "1: rank --complete failed: $(tail -2 "$out/s1-complete-host.txt")"
    grep -q '^hook set (2 functions): tcp_v4_connect tcp_v6_connect$' "$out/s1-complete-host.txt" ||
        fail "1: the hook set for struct sock under connect is not {tcp_v4_connect, tcp_v6_connect}: $(grep '^hook set' "$out/s1-complete-host.txt")"
    # 1b. reads: vfs_read is the dispatcher of file_operations.read_iter, never "implements".
    expect_result s1b_record_rc 0
    "$binary" rank --db "$out/rec.db" --session read --arg 'struct file *' --under __x64_sys_read \
        >"$out/s1b-rank-host.txt" 2>&1 || fail "1b: rank failed: $(tail -2 "$out/s1b-rank-host.txt")"
    [[ $(first_candidate "$out/s1b-rank-host.txt") == vfs_read ]] ||
        fail "1b: rank puts $(first_candidate "$out/s1b-rank-host.txt") first, not vfs_read"
    "$binary" explain --db "$out/rec.db" --session read vfs_read >"$out/s1b-explain-host.txt" 2>&1 ||
        fail "1b: explain vfs_read failed: $(tail -2 "$out/s1b-explain-host.txt")"
    grep -q '^  layer: dispatcher$' "$out/s1b-explain-host.txt" || fail "1b: vfs_read is not a dispatcher: $(grep -A1 'layer:' "$out/s1b-explain-host.txt" | tr '\n' ' ')"
    grep -q 'dispatcher of file_operations.read_iter: covers every implementation of it (3 seen' "$out/s1b-explain-host.txt" ||
        fail "1b: vfs_read does not dispatch to the 3 read_iter implementations read"
    ! grep -qE 'implements|no ops table in kernel memory held it' "$out/s1b-explain-host.txt" ||
        fail "1b: explain vfs_read says: $(grep -E 'implements|no ops table' "$out/s1b-explain-host.txt" | head -1)"
    # 1c. issue 13: inet_csk_accept sleeps (the server waited in it), tcp_v4_connect does not.
    expect_result s1c_record_rc 0
    "$binary" rank --db "$out/rec.db" --session accept --arg 'struct sock *' --under __x64_sys_accept4 \
        >"$out/s1c-rank-host.txt" 2>&1 || fail "1c: rank failed: $(tail -2 "$out/s1c-rank-host.txt")"
    [[ $(first_candidate "$out/s1c-rank-host.txt") == inet_csk_accept ]] ||
        fail "1c: rank puts $(first_candidate "$out/s1c-rank-host.txt") first, not inet_csk_accept"
    sed -n '/^ *1\. /,/^$/p' "$out/s1c-rank-host.txt" | grep -q 'sleeps: .* below schedule()' ||
        fail "1c: rank does not say inet_csk_accept sleeps"
    "$binary" explain --db "$out/rec.db" --session accept inet_csk_accept >"$out/s1c-explain-host.txt" 2>&1 ||
        fail "1c: explain inet_csk_accept failed: $(tail -2 "$out/s1c-explain-host.txt")"
    grep -q '^  sleeps: .* below schedule()' "$out/s1c-explain-host.txt" || fail "1c: explain does not say inet_csk_accept sleeps"
    grep -q 'instead: an entry probe (kprobe, fentry) on inet_csk_accept' "$out/s1c-explain-host.txt" ||
        fail "1c: explain names no alternative that does not wait"
    ! grep -q 'sleeps:' "$out/s1-explain-host.txt" || fail "1c: tcp_v4_connect is said to sleep"
    [[ $(sql "$out/rec.db" "SELECT COUNT(*) FROM tasks t JOIN sessions s ON s.id = t.session_id WHERE s.name = 'curl' AND t.comm = 'curl'") -ge 1 ]] ||
        fail "1: no curl task in the recording"
    [[ $(sql "$out/rec.db" "SELECT source_format FROM sessions WHERE name = 'curl'") == live ]] ||
        fail "1: the session's format is not 'live'"
    for kind in kallsyms filter_functions kprobe_blacklist; do
        [[ $(sql "$out/rec.db" "SELECT COUNT(*) FROM session_symbol_sets l JOIN symbol_sets ss ON ss.id = l.set_id JOIN sessions s ON s.id = l.session_id WHERE s.name = 'curl' AND ss.kind = '$kind'") == 1 ]] ||
            fail "1: the session has no $kind"
    done
    [[ -n $(sql "$out/rec.db" "SELECT btf_id FROM sessions WHERE name = 'curl'") ]] || fail "1: no BTF stored"

    # 2. record -p PID --duration 5
    expect_result s2_record_rc 0
    expect_result s2_writer_alive yes
    keep="SELECT %s FROM functions f JOIN sessions s ON s.id = f.session_id WHERE s.name = 'keepwriter' AND f.name = '%s'"
    # shellcheck disable=SC2059
    [[ $(sql "$out/rec.db" "$(printf "$keep" 'COUNT(*)' tcp_sendmsg)") == 1 ]] || fail "2: tcp_sendmsg not recorded"
    # shellcheck disable=SC2059
    [[ $(sql "$out/rec.db" "$(printf "$keep" 'COUNT(*)' tcp_v4_connect)") == 0 ]] || fail "2: tcp_v4_connect recorded on a connected socket"
    [[ $(sql "$out/rec.db" "SELECT lost_events FROM sessions WHERE name = 'keepwriter'") == 0 ]] ||
        fail "2: events were lost: $(sql "$out/rec.db" "SELECT lost_events FROM sessions WHERE name = 'keepwriter'")"
    grep -q 'recording stopped (duration)' "$out/s2-record.err" || fail "2: did not stop on --duration"
    same_state s1-after s2-after "2: record -p --duration"
    clean_state s2-after "2: record -p --duration"

    # 3. crash cleanup
    expect_result s3_int_rc 0
    expect_result s3_term_rc 143  # the command got the SIGTERM too: 128 + 15 is its status
    expect_result s3_kill_rc 137
    expect_result s3_kill_reset_rc 0
    for name in int term kill; do
        [[ -z $(result "s3_${name}_armed") ]] || fail "3 ($name): recording never started"
        same_state "s3-$name-before" "s3-$name-after" "3: SIG${name^^}"
        clean_state "s3-$name-after" "3: SIG${name^^}"
    done
    grep -q 'using the top-level tracing instance' "$out/s3-int.err" || fail "3 (int): --graph-function did not use the top level"
    for name in int term; do
        grep -q "recording stopped (SIG${name^^})" "$out/s3-$name.err" || fail "3 ($name): not stopped by SIG${name^^}"
        [[ $(sql "$out/crash.db" "SELECT calls > 0 FROM sessions WHERE name = 'crash-$name'") == 1 ]] ||
            fail "3 ($name): the recording was not kept"
    done
    [[ $(sql "$out/crash.db" "SELECT COUNT(*) FROM functions f JOIN sessions s ON s.id = f.session_id WHERE s.name = 'crash-int' AND f.name = 'tcp_sendmsg'") == 1 ]] ||
        fail "3 (int): --graph-function tcp_sendmsg recorded no tcp_sendmsg"
    grep -q '^state_files=state-' "$out/snap-s3-kill-killed.txt" || fail "3 (kill): no state file left for reset"
    if [[ $instance_graph == yes ]]; then
        grep -q '^instances=.*probeseek-' "$out/snap-s3-kill-killed.txt" || fail "3 (kill): no instance while killed"
        grep -q 'removed' "$out/s3-kill-reset.out" || fail "3 (kill): reset removed nothing"
    else
        grep -qx 'current_tracer=function_graph' "$out/snap-s3-kill-killed.txt" || fail "3 (kill): tracer not on while killed"
        grep -q 'current_tracer restored' "$out/s3-kill-reset.out" || fail "3 (kill): reset restored no tracer"
    fi

    # 4. refused while another tracer runs, nothing changed
    expect_result s4_graph_rc 1
    grep -q 'someone else is using the top-level tracing instance: current_tracer is function' "$out/s4-graph.err" ||
        fail "4: the refusal does not name the other tracer: $(head -2 "$out/s4-graph.err")"
    if [[ $instance_graph != yes ]]; then
        expect_result s4_plain_rc 1
        grep -q 'current_tracer is function' "$out/s4-plain.err" || fail "4: the plain refusal does not name the tracer"
    fi
    same_state s4-before s4-after "4: refused recording"
    grep -qx 'current_tracer=function' "$out/snap-s4-after.txt" || fail "4: the other tracer was disturbed"
    expect_result s4_db_created no

    timings="boot+all ${seconds}s; record curl $(result s1_record_seconds)s, rank+explain $(result s1_rank_explain_seconds)s, -p --duration 5 $(result s2_record_seconds)s, SIGINT $(result s3_int_seconds)s, SIGTERM $(result s3_term_seconds)s, SIGKILL+reset $(result s3_kill_seconds)s"
    if lab_problems "$k" "${failures[@]}"; then
        lab_say "PASS ($k, $(cat "$out/uname.txt")): $timings"
    else
        lab_say "($k) $timings"
        status=1
    fi
done
exit "$status"
