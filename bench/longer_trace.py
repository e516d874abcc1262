#!/usr/bin/env python3
"""Makes a longer trace.dat from a version 7, zstd-compressed one: each CPU's ring-buffer pages
are repeated N times, every repetition shifted later in time, so a memory benchmark can import
traces of 1x, 2x, 4x... the length with the same tasks, stack depths and functions.

    bench/longer_trace.py IN.dat OUT.dat N

The copy keeps every section of IN.dat; the CPU data of the repetitions is appended and the
BUFFER option (in an uncompressed options section) is patched to point at it. Calls that span a
repetition boundary come out as unfinished or entered-before-the-recording frames, as they
would in a recording started and stopped N times. Needs the zstd command.
"""
import os
import struct
import subprocess
import sys
import tempfile

OPTION_DONE, OPTION_BUFFER = 0, 3
SECTION_COMPRESSED = 1


def cstring(buf, pos):
    end = buf.index(b"\0", pos)
    return buf[pos:end].decode(), end + 1


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, dst, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = bytearray(open(src, "rb").read())
    if data[:10] != b"\x17\x08\x44tracing":
        sys.exit("not a trace.dat")
    version, pos = cstring(data, 10)
    if version != "7":
        sys.exit("only version 7 files")
    e = ">" if data[pos] else "<"
    page_size = struct.unpack_from(e + "I", data, pos + 2)[0]
    compression, pos = cstring(data, pos + 6)
    _, pos = cstring(data, pos)
    if compression != "zstd":
        sys.exit("only zstd-compressed files (this one: %s)" % compression)
    options = struct.unpack_from(e + "Q", data, pos)[0]

    # The top instance's BUFFER option: where its CPU table sits in the file.
    cpu_table = None
    while options:
        sid, flags, _, size = struct.unpack_from(e + "HHIQ", data, options)
        if flags & SECTION_COMPRESSED:
            sys.exit("compressed options sections are not handled")
        p, end, options = options + 16, options + 16 + size, 0
        while p + 6 <= end:
            oid, osize = struct.unpack_from(e + "HI", data, p)
            body = p + 6
            p = body + osize
            if oid == OPTION_DONE:
                options = struct.unpack_from(e + "Q", data, body)[0]
                break
            if oid != OPTION_BUFFER:
                continue
            name, q = cstring(data, body + 8)
            _, q = cstring(data, q)
            if name:
                continue
            rest = p - q
            cpus = struct.unpack_from(e + "I", data, q)[0]
            if rest != 4 + 20 * cpus:  # trace-cmd 3.1+ writes the page size first
                cpus = struct.unpack_from(e + "I", data, q + 4)[0]
                q += 4
            cpu_table = (q + 4, cpus)
    if not cpu_table:
        sys.exit("no top-instance BUFFER option")

    # Each CPU's pages, decompressed, and the time span of the whole recording.
    table, cpus = cpu_table
    pages, first, last = [], None, None
    for c in range(cpus):
        _, offset, size = struct.unpack_from(e + "IQQ", data, table + 20 * c)
        count = struct.unpack_from(e + "I", data, offset)[0]
        at, chunks = offset + 4, []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(count):
                zsize, usize = struct.unpack_from(e + "II", data, at)
                name = os.path.join(tmp, "%d.zst" % i)
                open(name, "wb").write(data[at + 8 : at + 8 + zsize])
                chunks.append((name, usize))
                at += 8 + zsize
            subprocess.run(["zstd", "-q", "-d", "-f", "--rm"] + [n for n, _ in chunks], check=True)
            cpu_pages = b"".join(open(n[:-4], "rb").read() for n, _ in chunks)
        cpu_pages = [cpu_pages[i : i + page_size] for i in range(0, len(cpu_pages), page_size)]
        for page in cpu_pages:
            ts = struct.unpack_from(e + "Q", page, 0)[0]
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
        pages.append(cpu_pages)
    shift = (last - first) + 10_000_000  # a 10 ms gap between repetitions

    # Append each CPU's repeated, time-shifted pages as a new chunk stream; patch the table.
    out = data
    chunk_pages = 10
    for c in range(cpus):
        with tempfile.TemporaryDirectory() as tmp:
            names = []
            for r in range(reps):
                for i in range(0, len(pages[c]), chunk_pages):
                    blob = bytearray()
                    for page in pages[c][i : i + chunk_pages]:
                        page = bytearray(page)
                        ts = struct.unpack_from(e + "Q", page, 0)[0]
                        struct.pack_into(e + "Q", page, 0, ts + r * shift)
                        blob += page
                    name = os.path.join(tmp, "%d_%d" % (r, i))
                    open(name, "wb").write(blob)
                    names.append((name, len(blob)))
            subprocess.run(["zstd", "-q", "-f", "--rm"] + [n for n, _ in names], check=True)
            stream = bytearray()
            for name, usize in names:
                z = open(name + ".zst", "rb").read()
                stream += struct.pack(e + "II", len(z), usize) + z
        offset = len(out)
        out += struct.pack(e + "I", len(names)) + stream
        struct.pack_into(e + "QQ", out, table + 20 * c + 4, offset, len(stream))
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
