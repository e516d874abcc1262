#!/bin/sh
# Guest script for tests/lab/lab: dumps the symbol and tracing data of the
# running kernel into $OUT, for the fixtures in tests/data/linux-<release>/
# (see tests/data/README.md and docs/lab.md, "Kernel data dumps").  Rerun with
#   tests/lab/lab run tests/lab/kernel-dump.sh out/ --kernel 6.12
# (or --kernel 6.1, or a full linux-image-* package name); OUTDIR then holds
#   release                         uname -r
#   vmlinux.btf                     /sys/kernel/btf/vmlinux (raw BTF)
#   kallsyms.txt                    /proc/kallsyms as root, with addresses
#   available_filter_functions.txt  tracefs available_filter_functions
#   kprobes_blacklist.txt           debugfs kprobes/blacklist
#   notes.bin                       /sys/kernel/notes (ELF notes, GNU build id)
# and console.log.  Any file that cannot be produced makes the script exit
# non-zero with a "kernel-dump: FAIL" message on the console.
# Runs under busybox sh as root, so POSIX sh only.

die() {
    echo "kernel-dump: FAIL: $*" >&2
    exit 1
}
# copy SRC DST: copy a kernel file and insist that something came out.
copy() {
    [ -e "$1" ] || die "$1 does not exist"
    cat "$1" >"$2" || die "reading $1 failed"
    [ -s "$2" ] || die "$1 is empty"
    echo "kernel-dump: $2: $(wc -c <"$2") bytes"
}

[ -n "$OUT" ] || die "OUT is not set (run this through tests/lab/lab)"
mkdir -p "$OUT" || die "cannot create $OUT"

uname -r >"$OUT/release" || die "uname -r failed"
echo "kernel-dump: release $(cat "$OUT/release")"

# The lab's init mounts both; mount them here too so the script also works
# in other guests.
T=/sys/kernel/tracing
if [ ! -e $T/available_filter_functions ]; then
    mkdir -p $T
    mount -t tracefs tracefs $T || die "cannot mount tracefs at $T"
fi
D=/sys/kernel/debug
if [ ! -e $D/kprobes ]; then
    mkdir -p $D
    mount -t debugfs debugfs $D 2>/dev/null || true
    [ -e $D/kprobes ] || die "no $D/kprobes (debugfs not mountable or CONFIG_KPROBES off)"
fi

copy /sys/kernel/btf/vmlinux "$OUT/vmlinux.btf"
# Raw BTF starts with the magic 0xeb9f (little-endian: 9f eb).
magic=$(head -c 2 "$OUT/vmlinux.btf" | od -An -tx1 | tr -d ' \n')
[ "$magic" = 9feb ] || die "vmlinux.btf does not start with the BTF magic (got '$magic')"

# kallsyms shows real addresses to root (CAP_SYSLOG) only while
# kptr_restrict is 0 or 1; at 2 every address reads as zero.
K=/proc/sys/kernel/kptr_restrict
kr=$(cat $K) || die "cannot read $K"
echo "kernel-dump: kptr_restrict was $kr"
if [ "$kr" -ge 2 ]; then
    echo 1 >$K || die "cannot lower $K from $kr"
fi
copy /proc/kallsyms "$OUT/kallsyms.txt"
awk '$1 !~ /^0+$/ { found = 1; exit } END { exit !found }' "$OUT/kallsyms.txt" ||
    die "every address in /proc/kallsyms is zero (kptr_restrict $(cat $K))"
echo "kernel-dump: kallsyms.txt: $(wc -l <"$OUT/kallsyms.txt") lines"

copy $T/available_filter_functions "$OUT/available_filter_functions.txt"
echo "kernel-dump: available_filter_functions.txt: $(wc -l <"$OUT/available_filter_functions.txt") lines"

copy $D/kprobes/blacklist "$OUT/kprobes_blacklist.txt"
echo "kernel-dump: kprobes_blacklist.txt: $(wc -l <"$OUT/kprobes_blacklist.txt") lines"

copy /sys/kernel/notes "$OUT/notes.bin"
grep -q GNU "$OUT/notes.bin" || die "notes.bin has no GNU note"

echo "kernel-dump: done"
