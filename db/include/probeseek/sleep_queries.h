// Where recorded calls slept: the time below schedule() (off the CPU, asleep or waiting to run)
// of every function on a sleeping call's stack, and what ran once the sleep was over. Rank and
// explain use them to say that a return probe misses calls already waiting when it is attached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "probeseek/db.h"
#include "probeseek/error.h"

namespace probeseek {

// One function's task-context time below calls of the sleeper, in one session: each sleeper
// call's duration is added once to every function on its stack of callers (the sleeper's own
// calls excluded). `open`: sleeper calls still running when the recording ended, likewise.
struct TimeBelowRow {
  std::string name;
  int64_t ns = 0;
  int64_t open = 0;
};
// Parent chains are followed at most 512 levels and never round a cycle (a damaged file).
Result<std::vector<TimeBelowRow>> time_below(Database& db, int64_t session_id,
                                             const std::string& sleeper);

// A function that ran after a call of `function` slept (in its sleeper): called by it after
// its last sleeper call returned (`below`), or called by its caller after it returned.
struct AfterSleepRow {
  std::string name;
  bool below = false;
  std::string caller;  // who called it: `function`, or its caller
  int64_t calls = 0;   // calls of `function` after whose sleep it ran
};
// Over the first `max_calls` completed task-context calls of `function` that slept; most
// frequent first.
Result<std::vector<AfterSleepRow>> after_sleep(Database& db, int64_t session_id,
                                               const std::string& function,
                                               const std::string& sleeper, size_t max_calls = 256);

}  // namespace probeseek
