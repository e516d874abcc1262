#!/usr/bin/env bash
# Bytes per call of the calls table (call_rows, under the view calls) and its indexes, measured with SQLite's dbstat, and where
# they go: per stored column (the record body), the record headers, the B-tree cells (pointer,
# payload size, rowid) and the pages' unused space.
# Target (issue 15, docs/performance.md): at most 40 bytes per call for calls + its indexes.
#
#   bench/db_bytes.sh [--probeseek PATH] [--db FILE.db | TRACE.dat...]
#
# Without --db each trace is imported into a new database first (default: curl_v4.dat and
# stream.dat of tests/data). Needs python3 (its sqlite3 module, with dbstat as Debian builds it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
probeseek="$here/build/cli/probeseek"
dbs=()
files=()
while (($#)); do
  case $1 in
    --probeseek) probeseek=$2; shift 2 ;;
    --db) dbs+=("$2"); shift 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
if ((${#dbs[@]} == 0 && ${#files[@]} == 0)); then
  files=("$here/tests/data/linux-6.1.0-56-cloud-amd64/curl_v4.dat"
         "$here/tests/data/linux-6.1.0-56-cloud-amd64/stream.dat")
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${files[@]}"; do
  db="$tmp/$(basename "$f" .dat).db"
  "$probeseek" import --db "$db" "$f" >/dev/null
  dbs+=("$db")
done

for db in "${dbs[@]}"; do
  python3 - "$db" <<'EOF'
import sqlite3, sys

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
# Version 2 stores the rows in call_rows (calls is a view over it); version 1 in calls.
table = "call_rows" if db.execute(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'call_rows'").fetchone() else "calls"
calls = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
if calls == 0:
    sys.exit(f"{sys.argv[1]}: no calls")
print(f"{sys.argv[1]}: {calls:,} calls, schema version "
      f"{db.execute('PRAGMA user_version').fetchone()[0]}, "
      f"page size {db.execute('PRAGMA page_size').fetchone()[0]}")

# Every B-tree that belongs to calls: the table and its indexes.
trees = [table] + [r[0] for r in db.execute(
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))]
print(f"{'b-tree':<28}{'pages':>8}{'bytes':>12}{'payload':>12}{'unused':>10}{'bytes/call':>12}")
total = 0
for t in trees:
    pages, size, payload, unused = db.execute(
        "SELECT count(*), sum(pgsize), sum(payload), sum(unused) FROM dbstat WHERE name = ?",
        (t,)).fetchone()
    total += size
    print(f"{t:<28}{pages:>8,}{size:>12,}{payload:>12,}{unused:>10,}{size / calls:>12.2f}")
print(f"{table + ' + indexes':<28}{'':>8}{total:>12,}{'':>12}{'':>10}{total / calls:>12.2f}")

# Where a row's bytes go. A record is a header (its size, then one serial type per stored
# column: one byte each for integers and NULL) and a body: integers take 0 (0 and 1), 1, 2, 3,
# 4, 6 or 8 bytes. A table cell adds a 2-byte pointer, the payload size and the rowid (varints).
stored = [r[1] for r in db.execute(f"PRAGMA table_xinfo({table})") if r[6] == 0]
def int_bytes(e):
    return (f"(CASE WHEN typeof({e}) != 'integer' OR {e} IN (0, 1) THEN 0 "
            f"WHEN {e} BETWEEN -128 AND 127 THEN 1 WHEN {e} BETWEEN -32768 AND 32767 THEN 2 "
            f"WHEN {e} BETWEEN -8388608 AND 8388607 THEN 3 "
            f"WHEN {e} BETWEEN -2147483648 AND 2147483647 THEN 4 "
            f"WHEN {e} BETWEEN -140737488355328 AND 140737488355327 THEN 6 ELSE 8 END)")
def varint_bytes(e):
    return f"(CASE WHEN {e} < 128 THEN 1 WHEN {e} < 16384 THEN 2 WHEN {e} < 2097152 THEN 3 ELSE 4 END)"
body = [c for c in stored if c != "id"]  # the rowid alias is stored as NULL in the record
sums = ", ".join(f"avg({int_bytes(c)})" for c in body)
row = db.execute(f"SELECT {sums}, avg({varint_bytes('id')}) FROM {table}").fetchone()
print(f"{table} row, average bytes:")
print(f"  {'cell: pointer 2 + payload size 1 + rowid':<44}{3 + row[-1]:>6.2f}")
print(f"  {'record header (1 + 1 per stored column)':<44}{1 + len(stored):>6.2f}")
for c, b in zip(body, row[:-1]):
    print(f"  {'column ' + c:<44}{b:>6.2f}")
if table == "call_rows":
    computed = [r[1] for r in db.execute("PRAGMA table_info(calls)")
                if r[1] not in stored]
    print("  (computed by the view calls, no bytes: " + ", ".join(computed) + ")")
EOF
done
