// What a probe reports: one event per call (or return), its arguments decoded with BTF
// (sockets as addresses and ports, file names), and the one-line text attach prints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace probeseek {

// A socket's endpoints as the kernel holds them.
struct SockValue {
  uint16_t family = 0;
  std::string family_name;    // "AF_INET"
  std::string local, remote;  // "127.0.0.1", "::1"; empty for non-IP families
  uint16_t local_port = 0, remote_port = 0;
  std::string state;     // "ESTABLISHED"
  std::string protocol;  // "tcp", "udp"
};
struct SockaddrValue {
  uint16_t family = 0;
  std::string family_name;
  std::string address;
  uint16_t port = 0;
};

// One argument (or the return value), decoded.
struct Value {
  std::string name;  // parameter name ("sk"); "" for the return value
  std::string type;  // C spelling: "struct sock *"
  uint64_t raw = 0;  // register / trampoline slot as captured
  std::string text;  // scalar as its type says ("-111", "true", "TCP_CLOSE"), pointer as 0x...
  // Fields read through a pointer of a well-known type, when the read worked:
  std::optional<SockValue> sock;
  std::optional<SockaddrValue> sockaddr;
  std::optional<uint32_t> skb_len;
  std::optional<uint16_t> skb_protocol;  // host byte order (ETH_P_IP = 0x0800)
  std::optional<std::string> file_name;  // filename, dentry, file, path
  std::string read_error;                // why the fields could not be read
  std::string detail() const;            // the decoded fields as text ("" when none)
};

struct Event {
  size_t probe = 0;           // index in Tracer::probes()
  std::string function;       // the probe's function
  uint64_t time_ns = 0;       // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  uint64_t wall_time_ns = 0;  // CLOCK_REALTIME equivalent
  uint64_t duration_ns = 0;   // at return, when the entry was seen
  int pid = 0, tid = 0, cpu = 0;
  std::string comm;
  bool returned = false;
  std::vector<Value> args;   // the captured parameters, in order
  std::optional<Value> ret;  // when returned and the function is not void
};

// "12:04:05.123456 curl 312/312 tcp_v4_connect(struct sock *sk=0xffff... {AF_INET
// 127.0.0.1:40212 -> 127.0.0.1:8080 tcp SYN_SENT}, ...) = 0 (45 us)"
std::string format_event(const Event& event);

}  // namespace probeseek
