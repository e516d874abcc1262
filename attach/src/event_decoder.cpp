// EventDecoder: ring-buffer records into Events (see event_decoder.h), and an Event as the one
// line attach prints.
#include "event_decoder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "probeseek/text.h"

namespace probeseek {
namespace internal {

int64_t realtime_minus_monotonic() {
  struct timespec rt {
  }, mono{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  return (static_cast<int64_t>(rt.tv_sec) - mono.tv_sec) * 1'000'000'000 +
         (static_cast<int64_t>(rt.tv_nsec) - mono.tv_nsec);
}

namespace {

std::string family_name(uint16_t family) {
  switch (family) {
    case AF_UNIX:
      return "AF_UNIX";
    case AF_INET:
      return "AF_INET";
    case AF_INET6:
      return "AF_INET6";
    case AF_NETLINK:
      return "AF_NETLINK";
    case AF_PACKET:
      return "AF_PACKET";
    case AF_UNSPEC:
      return "AF_UNSPEC";
    default:
      return "family " + std::to_string(family);
  }
}

// include/net/tcp_states.h: UDP and raw sockets use the same values (ESTABLISHED, CLOSE).
std::string sock_state_name(uint8_t state) {
  static const char* const names[] = {
      "",          "ESTABLISHED", "SYN_SENT",     "SYN_RECV",      "FIN_WAIT1",
      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",        "CLOSE_WAIT",    "LAST_ACK",
      "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
  if (state > 0 && state < std::size(names)) return names[state];
  return "state " + std::to_string(state);
}

std::string protocol_name(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    case IPPROTO_RAW:
      return "raw";
    case 0:
      return "";
    default:
      return "protocol " + std::to_string(protocol);
  }
}

// Dotted quads by hand: glibc's inet_ntop prints IPv4 with sprintf, 1.7 k instructions an
// address, most of attach's cost per event on a socket function.
std::string ip_text(uint16_t family, const uint8_t* addr) {
  if (family == AF_INET) {
    std::string out;  // at most 15 bytes: no allocation
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      const unsigned b = addr[i];
      if (b >= 100) out += static_cast<char>('0' + b / 100);
      if (b >= 10) out += static_cast<char>('0' + b / 10 % 10);
      out += static_cast<char>('0' + b % 10);
    }
    return out;
  }
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET6) inet_ntop(AF_INET6, addr, buf, sizeof buf);
  return buf;
}

// Fills `v` in place: the strings keep their capacity from the previous record.
void fill_value(Value& v, const ArgSpec& spec, uint64_t raw, const probe_decoded& d,
                bool is_return) {
  v.name = spec.name;
  v.type = spec.type;
  v.raw = raw;
  format_scalar(spec, raw, is_return, v.text);
  v.read_error.clear();
  v.sock.reset();
  v.sockaddr.reset();
  v.skb_len.reset();
  v.skb_protocol.reset();
  v.file_name.reset();
  if (spec.kind == PROBE_VALUE_RAW || raw == 0) return;
  if (is_return && raw >= static_cast<uint64_t>(-4095)) return;  // ERR_PTR
  if (d.status != 0) {
    // A -errno from bpf_probe_read_kernel(); anything else is said as the number it is (negating
    // INT_MIN would overflow: fuzz_probe_event found it).
    const int64_t err = -static_cast<int64_t>(d.status);
    v.read_error = "cannot read the " + std::string(kind_name(spec.kind)) + ": " +
                   (err > 0 && err < 4096 ? std::string(std::strerror(static_cast<int>(err)))
                                          : "status " + std::to_string(d.status));
    return;
  }
  switch (spec.kind) {
    case PROBE_VALUE_SOCK:
    case PROBE_VALUE_SOCKET: {
      SockValue& s = v.sock.emplace();
      s.family = d.sock.family;
      s.family_name = family_name(s.family);
      if (s.family == AF_INET || s.family == AF_INET6) {
        s.local = ip_text(s.family, d.sock.local);
        s.remote = ip_text(s.family, d.sock.remote);
        s.local_port = d.sock.local_port;
        s.remote_port = ntohs(d.sock.remote_port);
        s.state = sock_state_name(d.sock.state);
        s.protocol = protocol_name(d.sock.protocol);
      }
      break;
    }
    case PROBE_VALUE_SOCKADDR: {
      SockaddrValue& a = v.sockaddr.emplace();
      a.family = d.sockaddr.family;
      a.family_name = family_name(a.family);
      if (a.family == AF_INET || a.family == AF_INET6) {
        a.address = ip_text(a.family, d.sockaddr.addr);
        a.port = ntohs(d.sockaddr.port);
      }
      break;
    }
    case PROBE_VALUE_SKB:
      v.skb_len = d.skb.len;
      v.skb_protocol = ntohs(d.skb.protocol);
      break;
    case PROBE_VALUE_FILENAME:
    case PROBE_VALUE_DENTRY:
    case PROBE_VALUE_FILE:
    case PROBE_VALUE_PATH:
      v.file_name.emplace(d.name, strnlen(d.name, sizeof d.name));
      break;
    default:
      break;
  }
}

}  // namespace

void EventDecoder::set_probe(size_t id, std::string function, PrototypeSpec spec) {
  if (id >= probes_.size()) probes_.resize(id + 1);
  probes_[id] = Probe{true, std::move(function), std::move(spec)};
}

bool EventDecoder::decode(const void* data, size_t size, Event& e) const {
  if (size < sizeof(probe_event)) return false;
  probe_event raw;
  std::memcpy(&raw, data, sizeof raw);
  if (raw.probe_id >= probes_.size() || !probes_[raw.probe_id].set) return false;
  const Probe& probe = probes_[raw.probe_id];
  e.probe = raw.probe_id;
  e.function = probe.function;
  e.time_ns = raw.ts_ns;
  e.wall_time_ns = raw.ts_ns + static_cast<uint64_t>(wall_offset_);
  e.duration_ns = raw.duration_ns;
  e.pid = static_cast<int>(raw.tgid);
  e.tid = static_cast<int>(raw.tid);
  e.cpu = static_cast<int>(raw.cpu);
  e.comm.assign(raw.comm, strnlen(raw.comm, sizeof raw.comm));
  e.returned = (raw.flags & PROBE_EVENT_RETURNED) != 0;
  const size_t n = std::min<size_t>(probe.spec.args.size(), PROBE_MAX_ARGS);
  e.args.resize(n);
  for (size_t i = 0; i < n; ++i)
    fill_value(e.args[i], probe.spec.args[i], raw.args[i], raw.decoded[i], false);
  if (e.returned && probe.spec.ret)
    fill_value(e.ret ? *e.ret : e.ret.emplace(), *probe.spec.ret, raw.ret, raw.ret_decoded, true);
  else
    e.ret.reset();
  return true;
}

}  // namespace internal

namespace {

void append_endpoint(std::string& out, const std::string& address, uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  if (v6) out += '[';
  out += address;
  if (v6) out += ']';
  out += ':';
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
  out.append(digits, end);
}

void append_detail(std::string& out, const Value& v) {
  if (!v.read_error.empty()) {
    out += '(';
    out += v.read_error;
    out += ')';
  } else if (v.sock) {
    out += v.sock->family_name;
    if (v.sock->local.empty()) return;
    out += ' ';
    append_endpoint(out, v.sock->local, v.sock->local_port);
    out += " -> ";
    append_endpoint(out, v.sock->remote, v.sock->remote_port);
    if (!v.sock->protocol.empty()) {
      out += ' ';
      out += v.sock->protocol;
    }
    out += ' ';
    out += v.sock->state;
  } else if (v.sockaddr) {
    out += v.sockaddr->family_name;
    if (v.sockaddr->address.empty()) return;
    out += ' ';
    append_endpoint(out, v.sockaddr->address, v.sockaddr->port);
  } else if (v.skb_len) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "len %u protocol 0x%04x", *v.skb_len,
                  static_cast<unsigned>(v.skb_protocol.value_or(0)));
    out += buf;
  } else if (v.file_name) {
    out += '"';
    out += *v.file_name;
    out += '"';
  }
}

bool has_detail(const Value& v) {
  return !v.read_error.empty() || v.sock || v.sockaddr || v.skb_len || v.file_name;
}

void append_value(std::string& out, const Value& v, bool named) {
  if (named) {
    out += v.type;
    if (!v.type.empty() && v.type.back() != '*') out += ' ';
    out += v.name;
    out += '=';
  }
  out += v.text;
  if (has_detail(v)) {
    out += " {";
    append_detail(out, v);
    out += '}';
  }
}

void append_number(std::string& out, long long n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

}  // namespace

std::string Value::detail() const {
  std::string out;
  append_detail(out, *this);
  return out;
}

std::string format_event(const Event& e) {
  // The wall clock's "HH:MM:SS" changes once a second: localtime_r and strftime run then, not
  // for each of the (up to a million a second) events.
  thread_local time_t clock_secs = -1;
  thread_local char clock[16];
  const time_t secs = static_cast<time_t>(e.wall_time_ns / 1'000'000'000);
  if (secs != clock_secs) {
    struct tm tm {};
    localtime_r(&secs, &tm);
    if (std::strftime(clock, sizeof clock, "%H:%M:%S", &tm) == 0) clock[0] = '\0';
    clock_secs = secs;
  }
  std::string out;
  out.reserve(256);
  out += clock;
  char micros[8] = {'.', '0', '0', '0', '0', '0', '0', ' '};  // ".%06u "
  for (auto us = static_cast<unsigned>(e.wall_time_ns % 1'000'000'000 / 1000), i = 6u; us && i;
       us /= 10, --i)
    micros[i] = static_cast<char>('0' + us % 10);
  out.append(micros, sizeof micros);
  out += e.comm;
  out += ' ';
  append_number(out, e.pid);
  out += '/';
  append_number(out, e.tid);
  out += ' ';
  out += e.function;
  out += '(';
  for (size_t i = 0; i < e.args.size(); ++i) {
    if (i) out += ", ";
    append_value(out, e.args[i], true);
  }
  out += ')';
  if (e.returned) {
    if (e.ret) {
      out += " = ";
      append_value(out, *e.ret, false);
    } else {
      out += " returned";
    }
  }
  if (e.duration_ns) {
    char d[32];
    std::snprintf(d, sizeof d, " (%.1f us)", static_cast<double>(e.duration_ns) / 1000.0);
    out += d;
  }
  // comm, file names and strings read from kernel memory are bytes: shown, never sent. Most
  // lines are plain ASCII already, and are returned without a second copy.
  const bool plain = std::all_of(out.begin(), out.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f &&
           c != '\\';
  });
  return plain ? out : printable(out);
}

}  // namespace probeseek
