// EventRing: libbpf's ring buffer consumer with a per-poll budget (see event_ring.h).
#include "event_ring.h"

#include <bpf/libbpf.h>

#include <cerrno>

namespace probeseek::internal {

namespace {

// What on_record returns once the budget is spent: negative, so libbpf stores the consumer
// position (past this record, which was handled) and returns it from ring_buffer__poll().
constexpr int kBudgetSpent = -ECANCELED;

}  // namespace

void EventRing::RingFree::operator()(struct ring_buffer* rb) const {
  ring_buffer__free(rb);
}

Result<std::unique_ptr<EventRing>> EventRing::open(int map_fd, Handler handler) {
  std::unique_ptr<EventRing> r(new EventRing());
  r->handler_ = std::move(handler);
  r->ring_.reset(ring_buffer__new(map_fd, &EventRing::on_record, r.get(), nullptr));
  if (!r->ring_) return runtime_error("cannot map the BPF ring buffer", "", errno);
  return r;
}

EventRing::~EventRing() = default;

int EventRing::on_record(void* ctx, void* data, size_t size) {
  auto* self = static_cast<EventRing*>(ctx);
  self->handler_(data, size);
  ++self->delivered_;
  return self->budget_ != 0 && self->delivered_ >= self->budget_ ? kBudgetSpent : 0;
}

Result<size_t> EventRing::poll(int timeout_ms, size_t max_records) {
  budget_ = max_records;
  delivered_ = 0;
  int n = ring_buffer__poll(ring_.get(), timeout_ms);
  if (n == kBudgetSpent && budget_ != 0 && delivered_ >= budget_) return delivered_;
  // A signal (Ctrl-C) interrupts the wait: not an error, the caller decides whether to stop.
  if (n < 0 && n != -EINTR) return runtime_error("cannot read the BPF ring buffer", "", -n);
  return delivered_;
}

}  // namespace probeseek::internal
