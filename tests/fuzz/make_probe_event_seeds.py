#!/usr/bin/env python3
"""Seeds of fuzz_probe_event: struct probe_event records (bpf/include/probeseek/probe_event.h,
x86-64 layout: 592 bytes, decoded[] at 112, 68 bytes each, ret_decoded at 520) as the probe on
tcp_v4_connect (probe 0), vfs_read (1) and inet_csk_accept (2) writes them.

    tests/fuzz/make_probe_event_seeds.py tests/fuzz/corpus/probe_event
"""
import os
import struct
import sys

SIZE, DECODED, DSIZE, RET_DECODED = 592, 112, 68, 520


def record(probe, flags=0, args=(), ret=0, decoded=(), ret_decoded=b"", comm=b"curl",
           duration=0):
    r = bytearray(SIZE)
    struct.pack_into("<QQIIIIII", r, 0, 5_000_000_000, duration, probe, flags, 312, 313, 0, 0)
    r[40:40 + len(comm[:16])] = comm[:16]
    for i, a in enumerate(args):
        struct.pack_into("<Q", r, 56 + 8 * i, a)
    struct.pack_into("<Q", r, 104, ret)
    for i, d in enumerate(decoded):
        r[DECODED + DSIZE * i:DECODED + DSIZE * i + len(d)] = d
    r[RET_DECODED:RET_DECODED + len(ret_decoded)] = ret_decoded
    return bytes(r)


def sock(family, lport, rport_net, state, proto, local, remote, status=0):
    return struct.pack("<iHHHBB16s16s", status, family, lport, rport_net, state, proto, local,
                       remote)


def sockaddr(family, port_net, addr, status=0):
    return struct.pack("<iHH16s", status, family, port_net, addr)


def name(text, status=0):
    return struct.pack("<i64s", status, text)


lo = bytes([127, 0, 0, 1]) + bytes(12)
v6 = bytes(15) + b"\x01"
seeds = {
    "connect-v4": record(0, args=(0xffff888003a1c000, 0xffffc90000123e40, 16),
                         decoded=(sock(2, 40212, 0x901f, 2, 6, lo, lo), sockaddr(2, 0x901f, lo))),
    "connect-v6-returned": record(0, flags=1, duration=45000, ret=(1 << 64) - 111,
                                  args=(0xffff888003a1c000, 0xffffc90000123e40, 28),
                                  decoded=(sock(10, 0, 0x901f, 7, 6, v6, v6),
                                           sockaddr(10, 0x901f, v6))),
    "connect-unreadable": record(0, args=(0xffff888003a1c000, 0x7ffd1234, 16),
                                 decoded=(sock(0, 0, 0, 0, 0, bytes(16), bytes(16), -14),
                                          sockaddr(0, 0, bytes(16), -14))),
    "connect-odd-bytes": record(0, args=(1, 2, (1 << 64) - 1),
                                decoded=(sock(65535, 65535, 65535, 255, 255, b"\xff" * 16,
                                              b"\xff" * 16),
                                         sockaddr(1, 0, b"\x00" * 16)),
                                comm=b"\x1b[2J\xff\xfe" + b"A" * 10),
    "read-file": record(1, args=(0xffff888004a3c000, 0x7ffd0000, 1, 0xffffc90000aaa000),
                        decoded=(name(b"rw-loop.dat"),), comm=b"rw-loop"),
    "read-name-no-nul": record(1, args=(0xffff888004a3c000, 0, 1, 0),
                               decoded=(name(b"\x07" * 64),)),
    "accept-returned": record(2, flags=1, duration=2_700_000_000, args=(0xffff888003a1d000, 0,
                                                                        0xffffc90000bbb000, 0),
                              ret=0xffff888003a1e000,
                              ret_decoded=sock(2, 8080, 0x3412, 1, 6, lo, lo)),
    "accept-err-ptr": record(2, flags=1, ret=(1 << 64) - 11),
    "unknown-probe": record(7, args=(1, 2, 3)),
    "short": record(0)[:300],
}
seeds["two-records"] = seeds["connect-v4"] + seeds["read-file"]
seeds["three-records-last-short"] = seeds["accept-returned"] + seeds["connect-unreadable"] + \
    seeds["read-file"][:100]

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for label, data in seeds.items():
    with open(os.path.join(out, label), "wb") as f:
        f.write(data)
