#!/usr/bin/env python3
"""dnssim.py - a tiny authoritative DNS answerer on 127.0.0.1 for unit tests.

Every A query gets 127.0.0.1 (TTL 60), every PTR query host.example., anything else
NXDOMAIN. Writes its UDP port to --port-file and serves until killed. Nothing leaves the
machine; the resolver under test forwards to it.
"""
import argparse
import socket
import struct


def answer(q):
    if len(q) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    i = 12
    while i < len(q) and q[i] != 0:
        i += 1 + q[i]
    if i + 5 > len(q):
        return None
    qname_end = i + 1
    qtype, qclass = struct.unpack("!HH", q[qname_end:qname_end + 4])
    question = q[12:qname_end + 4]
    rflags = 0x8400 | (flags & 0x0100)          # response, authoritative, RD copied
    if qtype == 1:
        rdata = bytes([127, 0, 0, 1])
    elif qtype == 12:
        rdata = b"\x04host\x07example\x00"
    else:
        return struct.pack("!HHHHHH", qid, rflags | 3, 1, 0, 0, 0) + question
    rr = b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, rflags, 1, 1, 0, 0) + question + rr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        q, peer = s.recvfrom(4096)
        r = answer(q)
        if r is not None:
            s.sendto(r, peer)


if __name__ == "__main__":
    main()
