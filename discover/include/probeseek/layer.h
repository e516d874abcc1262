// Which layer of the kernel a function sits in, from evidence, the way a kernel engineer
// reasons about it. A *dispatcher* calls through an ops member and so covers every
// implementation behind it (vfs_read calls ->read_iter of procfs, kernfs and tmpfs); an
// *implementation* sits in a slot of an ops table and covers what that table serves
// (tcp_prot.connect = tcp_v4_connect: TCP over IPv4), and its *siblings* in the same member of
// other tables cover the rest (tcpv6_prot.connect = tcp_v6_connect). A prototype that merely
// has a member's shape, while kernel memory shows no table holding it, is neither.
//
// Evidence, strongest first: the slots record read out of kernel memory (ops_store.h), the
// calls seen in the recordings, the BTF prototype and the function's name.
#pragma once

#include <string>
#include <vector>

namespace probeseek {

// A function held by a member of an ops table: "tcpv6_prot.connect = tcp_v6_connect".
struct SlotHolder {
  std::string function;
  std::string table;   // "tcpv6_prot"; "" when no table was read (BTF prototype and name)
  std::string module;  // "" for vmlinux
  std::string struct_name, member;
  // "verified in kernel memory (/proc/kcore at record time, 2026-...)", or "BTF: its prototype
  // fits and its name is the same but for the address family"
  std::string source;
  bool same_family = false;  // the same protocol for another address family (v4/v6, ...)
  bool recorded = false;     // seen in the sessions
  std::string text() const;  // "tcpv6_prot.connect = tcp_v6_connect"
};

// "function implements struct_name.member": a table in kernel memory holds it there (verified),
// or, where no memory was read, its prototype and name fit the member.
struct Implementation {
  std::string struct_name, member;
  std::vector<std::string> tables;  // the tables that hold it; empty unless verified
  bool verified = false;
};

// "function calls through struct_name.member": the implementations seen below it.
struct Dispatch {
  std::string struct_name, member;
  std::vector<std::string> implementations;  // "shmem_file_read_iter (shmem_file_operations)"
  size_t verified = 0;                       // of them, held by a table in kernel memory
};

struct Layer {
  std::vector<Implementation> implements;  // best first
  std::vector<Dispatch> dispatches;        // most implementations seen first
  // Members it has the shape of although kernel memory holds it in none: "file_operations.read".
  std::vector<std::string> shapes;
  // The other functions in the member of its first implementation, same family first.
  std::vector<SlotHolder> siblings;
  std::string siblings_source;  // where they were looked for, or why they are unknown

  // The siblings of the same family, one line per function: "tcp_v6_connect (tcpv6_prot,
  // tcpv6_prot_override)".
  std::vector<std::string> family() const;
  bool dispatcher() const { return !dispatches.empty(); }
  bool implementation() const { return !implements.empty(); }
  // One line: "dispatcher of file_operations.read_iter: covers every implementation of it
  // (3 seen: ...)", "implementation of proto.connect in tcp_prot: covers what tcp_prot serves;
  // 8 other tables fill proto.connect", "has the shape of file_operations.read; no table in
  // kernel memory holds it", or "" when nothing is known.
  std::string summary() const;
  // "dispatcher", "implementation", "dispatcher and implementation", "shape only", "none".
  std::string kind() const;
};

// The hooks that together answer the question (rank --complete): the best candidate and, for an
// implementation, its siblings of the same family; for a dispatcher, itself.
struct HookSet {
  std::vector<std::string> functions;  // the best candidate first
  std::vector<std::string> why;        // one line per function, in that order
  std::string covers;
  std::string trade_off;
  std::string alternative;  // the dispatcher above it, or the implementations below it
};

}  // namespace probeseek
