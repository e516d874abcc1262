// Counts and times read from files and databases can be anything: sums of them saturate at the
// int64 bounds instead of wrapping (signed overflow is undefined behaviour).
#pragma once

#include <cstdint>

namespace probeseek {

inline int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

inline int64_t saturating_sub(int64_t a, int64_t b) {
  int64_t diff;
  if (__builtin_sub_overflow(a, b, &diff)) return b < 0 ? INT64_MAX : INT64_MIN;
  return diff;
}

// a += b, saturating.
inline void add_to(int64_t& a, int64_t b) {
  a = saturating_add(a, b);
}

}  // namespace probeseek
