// The BPF ring buffer reader of attach (attach/src/event_ring.h): each poll hands out at most its
// budget of records and returns, also while the kernel keeps producing (a probe on a hot
// function), so that attach's Ctrl-C check runs. The records come from a real ring buffer filled
// by a tiny socket-filter program run with BPF_PROG_TEST_RUN; skipped where BPF is not allowed.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "bpf_insn.h"
#include "event_ring.h"
#include "probeseek/fd.h"

namespace probeseek {
namespace {

using internal::EventRing;
using internal::insn;

constexpr uint32_t kRingBytes = 64 * 1024;
constexpr size_t kRecordBytes = 8;  // + 8 of header: about 4096 records fill the ring
constexpr size_t kRingRecords = kRingBytes / (kRecordBytes + BPF_RINGBUF_HDR_SZ);

// *(u64 *)(r10 - 8) = 42; bpf_ringbuf_output(map, r10 - 8, 8, 0); return 0;
std::vector<bpf_insn> producer_program(int map_fd) {
  return {
      insn(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 42),
      insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
      insn(0, 0, 0, 0, 0),
      insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
      insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8),
      insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, kRecordBytes),
      insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0),
      insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output),
      insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
      insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
}

class EventRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    map_ = Fd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ring_test", 0, 0, kRingBytes, nullptr));
    if (map_.get() < 0) GTEST_SKIP() << "no BPF ring buffer here: " << std::strerror(errno);
    std::vector<bpf_insn> prog = producer_program(map_.get());
    prog_ = Fd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "ring_producer", "GPL", prog.data(),
                             prog.size(), nullptr));
    if (prog_.get() < 0) GTEST_SKIP() << "cannot load a BPF program here: " << std::strerror(errno);
    auto ring = EventRing::open(map_.get(), [this](const void* data, size_t size) {
      uint64_t v = 0;
      if (size == kRecordBytes) std::memcpy(&v, data, sizeof v);
      if (v == 42) ++records_;
    });
    ASSERT_TRUE(ring) << ring.error().message();
    ring_ = std::move(*ring);
  }

  // Runs the program `times` times: one record each while the ring has room.
  void produce(int times) {
    unsigned char packet[ETH_HLEN + 20] = {};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof packet,
                .repeat = times);
    ASSERT_EQ(bpf_prog_test_run_opts(prog_.get(), &opts), 0) << std::strerror(errno);
  }

  Fd map_, prog_;
  std::unique_ptr<EventRing> ring_;
  std::atomic<size_t> records_{0};
};

TEST_F(EventRingTest, HandsOutAtMostItsBudgetAndKeepsTheRestForTheNextPoll) {
  produce(static_cast<int>(kRingRecords) + 100);  // full: the last 100 found no room
  auto n = ring_->poll(0, 100);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 100u);
  EXPECT_EQ(records_, 100u);
  n = ring_->poll(0, 0);  // no budget: everything left, as libbpf alone
  ASSERT_TRUE(n);
  EXPECT_EQ(records_, 100 + *n);
  EXPECT_GE(records_, kRingRecords - 1);  // the kernel keeps one record's room free
  n = ring_->poll(0, 100);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
}

// The case attach met in the lab: the producer refills the ring while it is read. Each poll still
// returns after its budget (with libbpf's loop alone the first one would not return while the
// producer keeps up).
TEST_F(EventRingTest, ReturnsWhileAProducerKeepsTheRingFull) {
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    unsigned char packet[ETH_HLEN + 20] = {};
    while (!stop) {
      LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof packet,
                  .repeat = 512);
      bpf_prog_test_run_opts(prog_.get(), &opts);
    }
  });
  size_t polls = 0, total = 0;
  while (total < 20 * kRingRecords) {
    auto n = ring_->poll(1000, 64);
    ASSERT_TRUE(n) << n.error().message();
    ASSERT_LE(*n, 64u);
    total += *n;
    ++polls;
  }
  stop = true;
  producer.join();
  EXPECT_GE(polls, total / 64);
  EXPECT_EQ(records_, total);
}

}  // namespace
}  // namespace probeseek
