// Bounded little-endian reads from untrusted bytes, shared by the image readers.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace probeseek::kernels {

template <typename T>
std::optional<T> read_le(std::string_view b, uint64_t off) {
  if (off > b.size() || b.size() - off < sizeof(T)) return std::nullopt;
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));  // x86_64 and the images are little endian
  return v;
}
// Unchecked read: the caller has bounds-checked [off, off+sizeof(T)).
template <typename T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

inline uint64_t align8(uint64_t x) {
  return (x + 7) & ~uint64_t{7};
}

// a + b when it does not overflow.
inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::string hex_bytes(std::string_view b, bool spaced = true);  // "02 21 4c 18"

}  // namespace probeseek::kernels
