// A BPF ring buffer read with a budget: each poll hands out at most N records and returns, even
// while the kernel keeps producing.
//
// libbpf's ring_buffer__poll() (1.1, Debian 12) consumes until the ring is empty, re-reading the
// producer position after every pass: with a probe on a hot function (vfs_read under a read
// loop) the kernel refills it faster than the records are decoded, so one call never returns
// and the caller's Ctrl-C check never runs (measured in the lab: 12 s from SIGINT to detach).
// Here the record callback stops the pass once the budget is spent (a negative return makes
// libbpf store the consumer position and return); the rest waits for the next poll, and the
// ring's epoll stays readable while records are left, so nothing is skipped.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "probeseek/error.h"

struct ring_buffer;

namespace probeseek::internal {

class EventRing {
 public:
  // Called for each record with its bytes; they are valid during the call only.
  using Handler = std::function<void(const void* data, size_t size)>;

  // Reads the BPF_MAP_TYPE_RINGBUF map `map_fd` (not owned: it must outlive the EventRing).
  static Result<std::unique_ptr<EventRing>> open(int map_fd, Handler handler);
  ~EventRing();
  EventRing(const EventRing&) = delete;
  EventRing& operator=(const EventRing&) = delete;

  // Waits up to timeout_ms for records, then hands out at most max_records (0: no limit, as
  // libbpf alone) in the order they were produced; returns how many. A signal ending the wait
  // is not an error (0 records).
  Result<size_t> poll(int timeout_ms, size_t max_records);

 private:
  EventRing() = default;
  static int on_record(void* ctx, void* data, size_t size);
  struct RingFree {
    void operator()(struct ring_buffer* rb) const;
  };
  std::unique_ptr<struct ring_buffer, RingFree> ring_;
  Handler handler_;
  size_t budget_ = 0, delivered_ = 0;
};

}  // namespace probeseek::internal
