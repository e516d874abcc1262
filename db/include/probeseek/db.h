// The SQLite store: one database holds many sessions (recordings under investigation).
// Write side: SessionWriter (one transaction per session; bulk insert through prepared
// statements; aggregates computed while streaming; indexes built after the load).
// Read side: Store (sessions, functions, trees, read-only SQL). Schema: docs/schema.md.
// One header per area; this one includes them all.
#pragma once

#include "probeseek/btf_store.h"
#include "probeseek/database.h"
#include "probeseek/session_writer.h"
#include "probeseek/store.h"
#include "probeseek/symbol_store.h"
