#!/usr/bin/env python3
"""smtpsim.py - a small scripted SMTP server for tests (Python 3 stdlib only).

It acts out misbehaviour no real server shows (garbage, endless or dripped replies, silence,
dropped connections) so that the callout client can be tested against each.

Usage: smtpsim.py --port-file FILE --mode MODE [--log FILE]

Binds 127.0.0.1 on an ephemeral port, writes the port number to --port-file once listening,
serves each connection in its own thread until killed (SIGTERM: clean exit), and appends to
--log one line per connection ("conn PEER") and per received command ("cmd PEER LINE").

Modes:
  ok                  220 banner, multi-line 250 to EHLO, 250 MAIL, RCPT: 250 for local parts
                      starting with "good", "user" or "postmaster", 550 5.1.1 otherwise,
                      250 RSET, 221 QUIT
  garbage             banner, then random non-SMTP text as every reply
  hugeline            banner, then EHLO answered with a 1 MB line (newline only at its end)
  endless             EHLO answered with endless "250-..." lines, one every 10 ms
  drip                banner, then every reply sent one byte per second
  silent              accept, never write anything
  banner554 banner421 that banner (421: then close)
  ehlo5xx             500 to EHLO, 250 to HELO, then like ok
  ehlo4xx             451 to EHLO and HELO
  mail5xx             550 to MAIL FROM
  rcpt451             451 to every RCPT
  close_after_banner  banner, then close
  drop_after_rcpt     first RCPT answered normally, then close on the next command
  mixed_codes         EHLO/HELO answered "250-a\\r\\n251 b\\r\\n"
  double_reply        like ok, but the server's first RCPT to an address other than postmaster
                      and the probe address is answered twice at once (two 550s)
  late_duplicate      like ok, but the server's first 550 is repeated 150 ms later, and every
                      later RCPT's real answer is held 400 ms (issue 13, defect 2)
  reset_after_ehlo    banner, then a TCP reset (SO_LINGER 0) when EHLO arrives
  admin550            "550 Administrative prohibition" to every RCPT (Exim refusing the null
                      sender at RCPT, no enhanced status code)
  smtpd524            like ok, but unknown users get OpenSMTPD's "524 5.2.4 Mailing list
                      expansion problem"
  rcpt421             like ok, but the 3rd RCPT of a connection gets "421 4.7.0 Error: too many
                      errors" and the connection is closed (Postfix's smtpd_hard_error_limit)
  policy5xx           550 5.7.1 (policy) to every RCPT, 552 to "full*" local parts
"""
import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

MODES = ("ok", "garbage", "hugeline", "endless", "drip", "silent", "banner554", "banner421",
         "ehlo5xx", "ehlo4xx", "mail5xx", "rcpt451", "close_after_banner", "drop_after_rcpt",
         "mixed_codes", "double_reply", "policy5xx", "late_duplicate", "reset_after_ehlo",
         "rcpt421", "admin550", "smtpd524")

log_lock = threading.Lock()
DOUBLE_SENT = []   # double_reply, late_duplicate: whether the doubled reply went out (any connection)


class Closed(Exception):
    """The conversation is over (peer gone, or the mode closes it)."""


def log(path, line):
    """Append one line to the log file (if any), whole, even from several threads."""
    if not path:
        return
    with log_lock:
        with open(path, "a", encoding="utf-8", errors="replace") as f:
            f.write(line + "\n")


class Session:
    """One client connection acted out in the chosen mode."""

    def __init__(self, sock, peer, mode, logpath):
        self.sock = sock
        self.peer = "%s:%d" % peer[:2]
        self.mode = mode
        self.logpath = logpath
        self.buf = b""
        self.rcpts = 0

    def send(self, text):
        data = text.encode("latin-1") if isinstance(text, str) else text
        try:
            if self.mode == "drip":
                for i in range(len(data)):
                    self.sock.sendall(data[i:i + 1])
                    time.sleep(1)
            else:
                self.sock.sendall(data)
        except OSError:
            raise Closed()

    def send_quietly(self, text):
        """send() from a timer thread: a closed peer is no error there."""
        try:
            self.send(text)
        except Closed:
            pass

    def reply(self, *lines):
        """Send a (multi-line) reply from lines like "250 text"; continuation marks added."""
        out = []
        for i, line in enumerate(lines):
            code, text = line[:3], line[4:]
            sep = " " if i == len(lines) - 1 else "-"
            out.append("%s%s%s\r\n" % (code, sep, text))
        if self.mode == "garbage":
            words = ["hello", "what", "is", "this", "banana", "<html>", "zzz", "ok?", "ERROR"]
            out = [" ".join(random.choice(words) for _ in range(5)) + "\r\n"]
        self.send("".join(out))

    def readline(self):
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(4096)
            except OSError:
                raise Closed()
            if not data:
                raise Closed()
            self.buf += data
            if len(self.buf) > 65536:
                raise Closed()
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.rstrip(b"\r").decode("latin-1")
        log(self.logpath, "cmd %s %s" % (self.peer, line))
        return line

    def run(self):
        m = self.mode
        if m == "silent":
            while self.sock.recv(4096):
                pass
            return
        if m == "banner554":
            self.reply("554 5.3.2 smtpsim: no service here")
        elif m == "banner421":
            self.reply("421 4.3.2 smtpsim: try again later")
            return
        else:
            # Why not via reply(): in garbage and drip modes the banner itself is normal.
            self.sock.sendall(b"220 smtpsim ESMTP ready\r\n")
        if m == "close_after_banner":
            return
        while True:
            line = self.readline()
            verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            if m == "banner554":
                self.reply("503 5.5.1 no service")
                continue
            if m == "drop_after_rcpt" and self.rcpts >= 1:
                return
            if m == "reset_after_ehlo":
                # Why SO_LINGER 0: close() then sends a reset, as a crashing server would.
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if verb in ("EHLO", "HELO"):
                self.greet(verb)
            elif verb == "MAIL":
                if m == "mail5xx":
                    self.reply("550 5.7.1 null sender refused")
                else:
                    self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                self.rcpts += 1
                self.rcpt(line)
            elif verb == "RSET":
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            else:
                self.reply("502 5.5.2 command not recognised")

    def greet(self, verb):
        m = self.mode
        if m == "hugeline" and verb == "EHLO":
            chunk = b"x" * 65536
            self.send(b"250 ")
            for _ in range(16):
                self.send(chunk)
            self.send(b"\r\n")
        elif m == "endless" and verb == "EHLO":
            n = 0
            while True:
                self.send("250-smtpsim line %d of an endless reply\r\n" % n)
                n += 1
                time.sleep(0.01)
        elif m == "ehlo5xx" and verb == "EHLO":
            self.reply("500 5.5.1 EHLO not understood")
        elif m == "ehlo4xx":
            self.reply("451 4.3.0 %s refused for now" % verb)
        elif m == "mixed_codes":
            self.send("250-a\r\n251 b\r\n")
        elif verb == "EHLO":
            self.reply("250 smtpsim greets you", "250 PIPELINING", "250 SIZE 10240000",
                       "250 8BITMIME")
        else:
            self.reply("250 smtpsim")

    def rcpt(self, line):
        if self.mode == "rcpt451":
            self.reply("451 4.3.0 try again later")
            return
        addr = line.split(":", 1)[1].strip() if ":" in line else ""
        local = addr.strip("<>").split("@", 1)[0]
        known = local.startswith("good") or local.startswith("user") or local == "postmaster"
        if self.mode == "double_reply" and local != "postmaster" and \
                not local.startswith("rcptguard-probe-"):
            with log_lock:
                first = not DOUBLE_SENT
                DOUBLE_SENT.append(1)
            if first:
                self.send("550 5.1.1 unknown\r\n550 5.1.1 unknown\r\n")
                return
        if self.mode == "admin550":
            self.reply("550 Administrative prohibition")
            return
        if self.mode == "smtpd524" and not known:
            self.reply("524 5.2.4 Mailing list expansion problem")
            return
        if self.mode == "rcpt421" and self.rcpts == 3:
            self.reply("421 4.7.0 smtpsim Error: too many errors")
            raise Closed()
        if self.mode == "late_duplicate":
            with log_lock:
                held = bool(DOUBLE_SENT)
                first = not known and not DOUBLE_SENT
                if first:
                    DOUBLE_SENT.append(1)
            if held:
                time.sleep(0.4)
            text = "250 2.1.5 Ok" if known else "550 5.1.1 <%s>: unknown" % addr.strip("<>")
            self.reply(text)
            if first:
                t = threading.Timer(0.15, self.send_quietly, ("%s\r\n" % text,))
                t.daemon = True
                t.start()
            return
        if self.mode == "policy5xx":
            if local.startswith("full"):
                self.reply("552 5.2.2 mailbox full")
            else:
                self.reply("550 5.7.1 client host blocked")
            return
        if known:
            self.reply("250 2.1.5 Ok")
        else:
            self.reply("550 5.1.1 <%s>: Recipient address rejected: User unknown"
                       % addr.strip("<>"))


def serve(conn, peer, mode, logpath):
    """Thread body: run one session, then close."""
    try:
        # Why TCP_NODELAY: without it, Nagle + delayed ACK stall pipelined clients ~40 ms.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log(logpath, "conn %s:%d" % peer[:2])
        Session(conn, peer, mode, logpath).run()
    except (Closed, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description="scripted SMTP server for tests")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--mode", required=True, choices=MODES)
    ap.add_argument("--log")
    args = ap.parse_args()

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    # Why a rename: a reader must never see a half-written port number.
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, args.port_file)
    try:
        # Why a timeout: a SIGTERM delivered to a worker thread does not interrupt the
        # main thread's accept(); waking every 200 ms lets its handler run promptly.
        lsock.settimeout(0.2)
        while True:
            try:
                conn, peer = lsock.accept()
            except socket.timeout:
                continue
            conn.settimeout(None)
            threading.Thread(target=serve, args=(conn, peer, args.mode, args.log),
                             daemon=True).start()
    except SystemExit:
        pass
    finally:
        lsock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
