#!/usr/bin/env python3
"""smtpload.py - many concurrent SMTP sessions against one server, for fault tests.

Each session: banner, EHLO, MAIL FROM, RCPT TO x N (random local parts, some known),
QUIT (not waiting for the 221). Errors (a session killed under it, a refused
connection) are counted, never fatal: the test that runs this kills the server's
session processes on purpose.

    smtpload.py --port P [--host 127.0.0.1] [--sessions 300] [--concurrency 20]
                [--rcpts 5] [--domain example.org] [--known user1,user2] [--timeout 10]

Prints one line: "sessions=N completed=N errors=N replies_2xx=N replies_5xx=N replies_4xx=N".
"""
import argparse
import random
import socket
import sys
import threading


def read_reply(f):
    """Read one (possibly multi-line) SMTP reply; return its code (int) or raise."""
    while True:
        line = f.readline(4096)
        if not line:
            raise EOFError("connection closed")
        if len(line) >= 4 and line[:3].isdigit() and line[3:4] != b"-":
            return int(line[:3])
        if len(line) < 4 or not line[:3].isdigit():
            raise ValueError("bad reply line %r" % line[:80])


def session(args, stats, lock, n):
    rnd = random.Random()
    codes = []
    s = None
    try:
        s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"EHLO load.test\r\n")
        read_reply(f)
        s.sendall(b"MAIL FROM:<load%d@load.test>\r\n" % n)
        read_reply(f)
        known = args.known.split(",") if args.known else []
        for _ in range(args.rcpts):
            if known and rnd.random() < 0.3:
                local = rnd.choice(known)
            else:
                local = "r%08x" % rnd.getrandbits(32)
            s.sendall(b"RCPT TO:<%s@%s>\r\n" % (local.encode(), args.domain.encode()))
            codes.append(read_reply(f))
        s.sendall(b"QUIT\r\n")
        ok = True
    except Exception:
        ok = False
    finally:
        if s is not None:
            try:
                s.close()
            except Exception:
                pass
    with lock:
        stats["completed" if ok else "errors"] += 1
        for c in codes:
            stats["replies_%dxx" % (c // 100)] = stats.get("replies_%dxx" % (c // 100), 0) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--rcpts", type=int, default=5)
    ap.add_argument("--domain", default="example.org")
    ap.add_argument("--known", default="user1,user2,user3,alice,bob")
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()

    stats = {"completed": 0, "errors": 0, "replies_2xx": 0, "replies_4xx": 0, "replies_5xx": 0}
    lock = threading.Lock()
    counter = iter(range(args.sessions))
    counter_lock = threading.Lock()

    def worker():
        while True:
            with counter_lock:
                n = next(counter, None)
            if n is None:
                return
            session(args, stats, lock, n)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("sessions=%d completed=%d errors=%d replies_2xx=%d replies_5xx=%d replies_4xx=%d" % (
        args.sessions, stats["completed"], stats["errors"], stats["replies_2xx"],
        stats["replies_5xx"], stats["replies_4xx"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
