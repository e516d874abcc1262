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
