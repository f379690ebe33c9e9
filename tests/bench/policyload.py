#!/usr/bin/env python3
"""policyload.py - the greylisting stream against postgrey over the Postfix policy protocol
(tests/bench/greylist.sh).

    policyload.py PORT N DELAY_S

One connection (as Postfix's smtpd keeps one per process); the same stream as gl_bench:
client 127.0.0.1, sender bench@client.test, recipient r<i>@d<i % 100>.test, in three
phases: new (every answer a deferral), retried after the delay (passes), known (passes).
Prints one key=value line per phase, like gl_bench.
"""
import socket
import sys
import time


def ask(sock, f, rcpt):
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=127.0.0.1\nclient_name=unknown\nhelo_name=client.test\n"
           "sender=bench@client.test\nrecipient=%s\n\n" % rcpt)
    sock.sendall(req.encode())
    action = None
    while True:
        line = f.readline()
        if not line:
            raise SystemExit("postgrey closed the connection")
        line = line.strip()
        if not line:
            return action
        if line.startswith("action="):
            action = line[7:]


def phase(sock, f, name, n, want_defer):
    t0 = time.perf_counter()
    bad = 0
    for i in range(n):
        a = ask(sock, f, "r%d@d%d.test" % (i, i % 100)) or ""
        deferred = a.upper().startswith("DEFER")
        if deferred != want_defer:
            if bad == 0:
                print("%s: unexpected answer: %s" % (name, a), file=sys.stderr)
            bad += 1
    dt = time.perf_counter() - t0
    print("phase=%s decisions=%d bad=%d per_s=%.0f" % (name, n, bad, n / dt))
    return bad


def main():
    port, n, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = sock.makefile("r")
    bad = phase(sock, f, "new", n, True)
    time.sleep(delay)
    bad += phase(sock, f, "retry", n, False)
    bad += phase(sock, f, "known", n, False)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
