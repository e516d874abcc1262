// The database schema (documented in docs/schema.md). Tables first; indexes are separate so
// an import can create them after its bulk load.
#pragma once

namespace probeseek::schema {

// 2: call_rows stores small numbers (offsets, spans, packed bits); the view calls computes
// version 1's columns from them (docs/schema.md).
// 3: no calls_by_function index: each row links to the previous call of its function
// (call_rows.previous_offset) and function_stats.last_call_id is where the walk starts
// (kFunctionCallsWalk). Version 1 and 2 files are read as they are (through their index) and
// rebuilt on their first read-write open (database.cpp).
inline constexpr int kVersion = 3;

// A call's row as stored (docs/schema.md, "Calls"): small numbers, which SQLite writes in 0 to 3
// bytes where the ids and times they stand for take 3 to 6. `bits` packs four fields:
// flags | context << 2 | depth << 5 | cpu << 13, or, when depth or cpu does not fit,
// -(flags | context << 2 | cpu << 5 | depth << 25). `previous_offset` is id minus the id of the
// function's previous call (NULL for its first): "the calls of F" without an index.
#define PROBESEEK_CALL_ROWS_COLUMNS   \
  "(\n"                               \
  "  id INTEGER PRIMARY KEY,\n"       \
  "  session_id INTEGER NOT NULL,\n"  \
  "  task_id INTEGER NOT NULL,\n"     \
  "  function_id INTEGER NOT NULL,\n" \
  "  entry_ns INTEGER NOT NULL,\n"    \
  "  duration_ns INTEGER,\n"          \
  "  parent_offset INTEGER,\n"        \
  "  span INTEGER NOT NULL,\n"        \
  "  children_ns INTEGER,\n"          \
  "  bits INTEGER NOT NULL,\n"        \
  "  previous_offset INTEGER)"

// What every query reads: the columns of version 1's calls table, computed from call_rows. A
// view rather than generated columns, which SQLite computes on every INSERT (130 M
// instructions for curl_v4's 284k rows); queries through it are flattened onto call_rows, so
// `id` ranges stay rowid range scans.
#define PROBESEEK_CALLS_VIEW                                                                    \
  "SELECT id, session_id, id - parent_offset AS parent_id, id + span AS end_id, task_id, "      \
  "function_id, CASE WHEN bits >= 0 THEN bits >> 13 ELSE ((-bits) >> 5) & 1048575 END AS cpu, " \
  "CASE WHEN bits >= 0 THEN (bits >> 5) & 255 ELSE (-bits) >> 25 END AS depth, entry_ns, "      \
  "duration_ns, duration_ns - children_ns AS self_ns, (abs(bits) >> 2) & 7 AS context, "        \
  "abs(bits) & 3 AS flags FROM call_rows"

inline constexpr const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  source_format TEXT NOT NULL,
  kernel_release TEXT,
  tracer TEXT,
  imported_at TEXT NOT NULL,
  cpus INTEGER,
  calls INTEGER NOT NULL DEFAULT 0,
  tasks INTEGER NOT NULL DEFAULT 0,
  functions INTEGER NOT NULL DEFAULT 0,
  lost_events INTEGER NOT NULL DEFAULT 0,
  first_ts_ns INTEGER,
  last_ts_ns INTEGER,
  first_call_id INTEGER,
  last_call_id INTEGER,
  btf_id INTEGER);
CREATE TABLE IF NOT EXISTS btfs(
  id INTEGER PRIMARY KEY,
  digest TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS session_stats(
  session_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  cpu INTEGER,
  value INTEGER NOT NULL,
  severity TEXT NOT NULL,
  description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS call_contexts(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT OR IGNORE INTO call_contexts VALUES (0,'task'),(1,'softirq'),(2,'hardirq'),(3,'nmi'),(4,'exception');
CREATE TABLE IF NOT EXISTS tasks(
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  pid INTEGER NOT NULL,
  idle_cpu INTEGER,
  comm TEXT);
CREATE TABLE IF NOT EXISTS functions(
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  address INTEGER,
  ksym_type TEXT,
  module TEXT);
CREATE TABLE IF NOT EXISTS call_rows)sql" PROBESEEK_CALL_ROWS_COLUMNS R"sql(;
CREATE VIEW IF NOT EXISTS calls AS )sql" PROBESEEK_CALLS_VIEW R"sql(;
CREATE TABLE IF NOT EXISTS function_stats(
  session_id INTEGER NOT NULL,
  function_id INTEGER PRIMARY KEY,
  calls INTEGER NOT NULL,
  task_calls INTEGER NOT NULL,
  softirq_calls INTEGER NOT NULL,
  hardirq_calls INTEGER NOT NULL,
  nmi_calls INTEGER NOT NULL,
  exception_calls INTEGER NOT NULL,
  total_ns INTEGER NOT NULL,
  self_ns INTEGER NOT NULL,
  callers INTEGER NOT NULL,
  callees INTEGER NOT NULL,
  min_depth INTEGER NOT NULL,
  max_depth INTEGER NOT NULL,
  unfinished INTEGER NOT NULL,
  last_call_id INTEGER);
CREATE TABLE IF NOT EXISTS function_edges(
  session_id INTEGER NOT NULL,
  caller_id INTEGER NOT NULL,
  callee_id INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  task_calls INTEGER NOT NULL,
  PRIMARY KEY(caller_id, callee_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS function_syscalls(
  session_id INTEGER NOT NULL,
  function_id INTEGER NOT NULL,
  syscall_function_id INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  task_calls INTEGER NOT NULL,
  invocations INTEGER NOT NULL,
  syscall_invocations INTEGER NOT NULL,
  min_depth_below INTEGER NOT NULL,
  PRIMARY KEY(function_id, syscall_function_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS symbol_sets(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  entries INTEGER NOT NULL,
  loaded_at TEXT NOT NULL,
  compressed_text BLOB);
CREATE TABLE IF NOT EXISTS session_symbol_sets(
  session_id INTEGER NOT NULL,
  set_id INTEGER NOT NULL,
  PRIMARY KEY(session_id, set_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kallsyms(
  set_id INTEGER NOT NULL,
  address INTEGER NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  module TEXT);
CREATE TABLE IF NOT EXISTS filter_functions(
  set_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  module TEXT,
  address INTEGER);
CREATE TABLE IF NOT EXISTS kprobe_blacklist(
  set_id INTEGER NOT NULL,
  start_address INTEGER NOT NULL,
  end_address INTEGER NOT NULL,
  name TEXT NOT NULL);
)sql";

// Tables added after version 1 shipped, created on every read-write open so that older
// databases gain them without a version bump (readers must cope with their absence: a
// read-only open of an old file cannot add them).
inline constexpr const char* kAdditions = R"sql(
CREATE TABLE IF NOT EXISTS call_paths(
  session_id INTEGER NOT NULL,
  path_id INTEGER NOT NULL,
  parent_path_id INTEGER NOT NULL,
  function_id INTEGER NOT NULL,
  depth INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  PRIMARY KEY(session_id, path_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS call_path_sets(
  session_id INTEGER PRIMARY KEY,
  max_depth INTEGER NOT NULL,
  paths INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS module_btfs(
  id INTEGER PRIMARY KEY,
  base_btf_id INTEGER NOT NULL,
  module TEXT NOT NULL,
  digest TEXT NOT NULL,
  source TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  data BLOB NOT NULL,
  UNIQUE(base_btf_id, module));
CREATE TABLE IF NOT EXISTS kernels(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  build_id TEXT NOT NULL,
  source TEXT NOT NULL,
  added_at TEXT NOT NULL,
  compression TEXT NOT NULL,
  symbols_from TEXT NOT NULL,
  config TEXT NOT NULL,
  symbols INTEGER NOT NULL,
  functions INTEGER NOT NULL,
  traceable INTEGER,
  blacklisted INTEGER,
  btf_bytes INTEGER NOT NULL,
  btf_zstd BLOB NOT NULL,
  symbols_bytes INTEGER NOT NULL,
  symbols_zstd BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS kernel_names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS kernel_prototypes(id INTEGER PRIMARY KEY, signature TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS kernel_functions(
  kernel_id INTEGER NOT NULL,
  name_id INTEGER NOT NULL,
  prototype_id INTEGER,
  flags INTEGER NOT NULL,
  symbols INTEGER NOT NULL,
  clones TEXT,
  PRIMARY KEY(kernel_id, name_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kernel_members(
  kernel_id INTEGER NOT NULL,
  type TEXT NOT NULL,
  member TEXT NOT NULL,
  member_type TEXT NOT NULL,
  offset_bits INTEGER NOT NULL,
  PRIMARY KEY(kernel_id, type, member)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kernel_modules(
  kernel_id INTEGER NOT NULL,
  module TEXT NOT NULL,
  PRIMARY KEY(kernel_id, module)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kernel_function_modules(
  kernel_id INTEGER NOT NULL,
  name_id INTEGER NOT NULL,
  module TEXT NOT NULL,
  PRIMARY KEY(kernel_id, name_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kernel_ops(
  kernel_id INTEGER PRIMARY KEY,
  slots INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  data BLOB NOT NULL);
)sql";

// Version 1's calls table rebuilt as version 3's call_rows, in id order (run in one transaction,
// then kLinksFromCalls and kIndexes). syscall_call_id is dropped: nothing read it. Bits that do
// not fit the short form (a depth beyond 255, a negative cpu or depth from a damaged file) take
// the long, negative one.
inline constexpr const char* kCallsFromVersion1 = R"sql(
ALTER TABLE calls RENAME TO calls_version_1;
DROP INDEX IF EXISTS calls_by_function;
CREATE TABLE call_rows)sql" PROBESEEK_CALL_ROWS_COLUMNS R"sql(;
INSERT INTO call_rows(id, session_id, task_id, function_id, entry_ns, duration_ns, parent_offset,
                  span, children_ns, bits, previous_offset)
  SELECT id, session_id, task_id, function_id, entry_ns, duration_ns, id - parent_id,
         end_id - id, duration_ns - self_ns,
         CASE WHEN depth BETWEEN 0 AND 255 AND cpu BETWEEN 0 AND 1048575
              THEN (flags & 3) | ((context & 7) << 2) | (depth << 5) | (cpu << 13)
              ELSE -((flags & 3) | ((context & 7) << 2) | ((cpu & 1048575) << 5) |
                     ((depth & 1073741823) << 25)) END,
         id - lag(id) OVER (PARTITION BY function_id ORDER BY id)
  FROM calls_version_1 ORDER BY id;
DROP TABLE calls_version_1;
CREATE VIEW calls AS )sql" PROBESEEK_CALLS_VIEW R"sql(;
)sql";

// Version 2's call_rows rebuilt with the links (version 3), in id order; then kLinksFromCalls.
inline constexpr const char* kCallsFromVersion2 = R"sql(
DROP VIEW IF EXISTS calls;
DROP INDEX IF EXISTS calls_by_function;
ALTER TABLE call_rows RENAME TO call_rows_version_2;
CREATE TABLE call_rows)sql" PROBESEEK_CALL_ROWS_COLUMNS R"sql(;
INSERT INTO call_rows(id, session_id, task_id, function_id, entry_ns, duration_ns, parent_offset,
                  span, children_ns, bits, previous_offset)
  SELECT id, session_id, task_id, function_id, entry_ns, duration_ns, parent_offset, span,
         children_ns, bits, id - lag(id) OVER (PARTITION BY function_id ORDER BY id)
  FROM call_rows_version_2 ORDER BY id;
DROP TABLE call_rows_version_2;
CREATE VIEW calls AS )sql" PROBESEEK_CALLS_VIEW R"sql(;
)sql";

// Where each function's walk starts, for files of version 1 and 2 (after the rebuild above).
inline constexpr const char* kLinksFromCalls = R"sql(
ALTER TABLE function_stats ADD COLUMN last_call_id INTEGER;
UPDATE function_stats SET last_call_id = l.last
  FROM (SELECT function_id, MAX(id) AS last FROM call_rows GROUP BY function_id) AS l
  WHERE l.function_id = function_stats.function_id;
)sql";

// "The calls of the functions named ?N in session ?S", as the common table `fcalls(id, fid)`
// (`fid`: the function): version 3 walks each function's links back from its last call. Every
// step goes to a strictly smaller id and only along rows of the same function, so a damaged
// link ends the walk (at most one step per row) instead of looping. Readers join
// `calls u ON u.id = fc.id AND u.function_id = fc.fid`, which drops a link into another
// function's row. The ids come out in descending order. PARAMS: S and N are "?1" style names.
#define PROBESEEK_FUNCTION_CALLS_WALK(S, N)                                                       \
  "fcalls(id, fid) AS (SELECT fs.last_call_id, fs.function_id FROM functions ff "                 \
  "JOIN function_stats fs ON fs.function_id = ff.id WHERE ff.session_id = " S " AND ff.name = " N \
  " AND fs.last_call_id IS NOT NULL "                                                             \
  "UNION ALL SELECT r.id - r.previous_offset, k.fid FROM fcalls k JOIN call_rows r "              \
  "ON r.id = k.id WHERE r.function_id = k.fid AND r.previous_offset > 0)"

// The same for version 1 and 2 files, read as they are: their calls_by_function index.
#define PROBESEEK_FUNCTION_CALLS_INDEXED(S, N)                                     \
  "fcalls(id, fid) AS (SELECT u.id, u.function_id FROM functions ff JOIN calls u " \
  "ON u.function_id = ff.id WHERE ff.session_id = " S " AND ff.name = " N ")"

// The one of the two this database answers with.
#define PROBESEEK_FUNCTION_CALLS(DB, S, N)                          \
  ((DB).schema_version() >= 3 ? PROBESEEK_FUNCTION_CALLS_WALK(S, N) \
                              : PROBESEEK_FUNCTION_CALLS_INDEXED(S, N))

inline constexpr const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS functions_by_name ON functions(session_id, name);
CREATE INDEX IF NOT EXISTS tasks_by_session ON tasks(session_id, pid);
CREATE INDEX IF NOT EXISTS function_stats_by_session ON function_stats(session_id);
CREATE INDEX IF NOT EXISTS function_edges_by_callee ON function_edges(callee_id);
CREATE INDEX IF NOT EXISTS function_syscalls_by_session ON function_syscalls(session_id);
CREATE INDEX IF NOT EXISTS session_stats_by_session ON session_stats(session_id);
CREATE INDEX IF NOT EXISTS kallsyms_by_name ON kallsyms(set_id, name);
CREATE INDEX IF NOT EXISTS kallsyms_by_address ON kallsyms(set_id, address);
CREATE INDEX IF NOT EXISTS filter_functions_by_name ON filter_functions(set_id, name);
CREATE INDEX IF NOT EXISTS kprobe_blacklist_by_name ON kprobe_blacklist(set_id, name);
)sql";

}  // namespace probeseek::schema
