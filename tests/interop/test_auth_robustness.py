"""hsyncd role auth against malformed and abusive input, over UDP and TCP: messages too
short for a header and messages with QR set are dropped; messages whose header can be
read but whose body is broken (counts larger than the message, compression loops,
forward pointers, pointers past the end, bad label types, names over 255 octets, two
OPTs, ...) get FORMERR with the query's ID; other opcodes NOTIMP; random junk never
crashes it; oversized and truncated TCP frames, a 65535-byte TCP message, pipelining.
After EVERY case a normal query over UDP and TCP must be answered. Slow TCP clients
(holding connections, trickling bytes, never reading) do not stop other clients, and
idle connections are closed."""

from __future__ import annotations

import random
import socket
import struct
import sys
import time

import hsynctest
from hsynctest import check, fail

ZONE = "rob.test."
BIG = 40


def zone_text() -> str:
    return ("$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 604800 120\n@ NS ns1\nns1 A 127.0.0.1\n"
            "www A 192.0.2.1\n" + "".join(f'big TXT "{i:03d} {"y" * 80}"\n' for i in range(BIG)))


def hdr(qid=0xBEEF, flags=0, qd=1, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


QTAIL = struct.pack("!HH", 1, 1)  # type A class IN
Q = hsynctest.encode_name("www." + ZONE) + QTAIL
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)

# (name, message, expectation): "drop", "FORMERR", "NOTIMP"
CASES = [
    ("empty datagram", b"", "drop"),
    ("5-byte truncated header", hdr()[:5], "drop"),
    ("11-byte truncated header", hdr()[:11], "drop"),
    ("header only, QDCOUNT=1", hdr(), "FORMERR"),
    ("question cut in the middle", hdr() + Q[:6], "FORMERR"),
    ("question without type/class", hdr() + Q[:-4], "FORMERR"),
    ("ANCOUNT=5 but no answers", hdr(an=5) + Q, "FORMERR"),
    ("NSCOUNT=65535 but no records", hdr(ns=65535) + Q, "FORMERR"),
    ("ARCOUNT=3 but one OPT", hdr(ar=3) + Q + OPT, "FORMERR"),
    ("qname pointer to itself", hdr() + b"\xc0\x0c" + QTAIL, "FORMERR"),
    ("two-pointer compression loop", hdr() + b"\x01a\xc0\x0e" + QTAIL, "FORMERR"),
    ("label then pointer back to itself", hdr() + b"\x03www\xc0\x0c" + QTAIL, "FORMERR"),
    ("forward pointer", hdr() + b"\xc0\x12" + QTAIL + b"\x03www\x00", "FORMERR"),
    ("pointer past the end", hdr() + b"\xc3\xff" + QTAIL, "FORMERR"),
    ("pointer cut after one byte", hdr() + b"\x03www\xc0", "FORMERR"),
    ("reserved label type 0x40", hdr() + b"\x41" + b"a" * 1 + b"\x00" + QTAIL, "FORMERR"),
    ("reserved label type 0x80", hdr() + b"\x81a\x00" + QTAIL, "FORMERR"),
    ("name over 255 octets", hdr() + (b"\x3f" + b"a" * 63) * 5 + b"\x00" + QTAIL, "FORMERR"),
    ("label length past the end", hdr() + b"\x3fabc", "FORMERR"),
    ("two OPT records", hdr(ar=2) + Q + OPT + OPT, "FORMERR"),
    ("OPT not at the root name", hdr(ar=1) + Q + b"\x01x\x00" + OPT[1:], "FORMERR"),
    ("OPT with an option running past its RDATA", hdr(ar=1) + Q + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 4)
     + struct.pack("!HH", 10, 8), "FORMERR"),
    ("RR with RDLENGTH past the end", hdr(an=1) + Q + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 200) + b"\x01\x02",
     "FORMERR"),
    ("A record with RDLENGTH 3", hdr(an=1) + Q + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 3) + b"\x01\x02\x03",
     "FORMERR"),
    ("QDCOUNT=2", hdr(qd=2) + Q + Q, "FORMERR"),
    ("QDCOUNT=0", hdr(qd=0), "FORMERR"),
    ("QR set (a response)", hdr(flags=0x8000) + Q, "drop"),
    ("QR set and malformed", hdr(flags=0x8000, an=9) + Q, "drop"),
    ("opcode 3 (unassigned)", hdr(flags=3 << 11) + Q, "NOTIMP"),
    ("opcode 2 (STATUS)", hdr(flags=2 << 11) + Q, "NOTIMP"),
    ("QTYPE OPT (meta)", hdr() + hsynctest.encode_name("www." + ZONE) + struct.pack("!HH", 41, 1), "FORMERR"),
    ("QTYPE MAILA", hdr() + hsynctest.encode_name("www." + ZONE) + struct.pack("!HH", 254, 1), "NOTIMP"),
    ("class CH", hdr() + hsynctest.encode_name("www." + ZONE) + struct.pack("!HH", 1, 3), "REFUSED"),
    ("EDNS version 1", hdr(ar=1) + Q + b"\x00" + struct.pack("!HHIH", 41, 1232, 0x00010000, 0), "BADVERS"),
]


def start(d):
    zf = d / "rob.test.zone"
    zf.write_text(zone_text())
    return hsynctest.start_hsyncd({
        "zones": [{"name": ZONE, "type": "primary", "file": str(zf)}],
        "limits": {"tcp-clients": 20, "tcp-per-client": 4, "tcp-idle-timeout": "2s"}},
        d / "hsyncd", wait_zones=[ZONE])


class Liveness:
    def __init__(self, h):
        self.h, self.n = h, 0

    def __call__(self, after: str, errs: list) -> None:
        """A normal query over UDP and over TCP is answered correctly."""
        self.n += 1
        qid = 0x7000 + self.n % 4096
        q = hsynctest.build_query("www." + ZONE, "A", qid)
        for transport in ("udp", "tcp"):
            try:
                resp = (hsynctest.udp_exchange(self.h.port, q, timeout=2) if transport == "udp"
                        else hsynctest.tcp_exchange(self.h.port, q, timeout=3))
            except OSError as e:
                resp = None
                errs.append(f"after {after}: {transport} query: {e}")
            ok = False
            if resp is not None:
                hd = hsynctest.WireHeader(resp)
                ok = hd.id == qid and hd.qr and hd.aa and hd.rcode == 0 and hd.ancount == 1
            if not ok:
                errs.append(f"after {after}: normal {transport} query not answered correctly "
                            f"({hsynctest.WireHeader(resp) if resp else 'no answer'})")
        if not self.h.alive():
            fail(f"hsyncd died after {after}; log:\n" + self.h.log()[-3000:])


def judge(name: str, transport: str, expect: str, msg: bytes, resp: bytes | None, errs: list) -> None:
    qid = struct.unpack("!H", msg[:2])[0] if len(msg) >= 2 else None
    if expect == "drop":
        if resp is not None:
            errs.append(f"{transport} {name}: expected no answer, got {hsynctest.WireHeader(resp) if len(resp) >= 12 else resp!r}")
        return
    if resp is None:
        errs.append(f"{transport} {name}: expected {expect}, got no answer")
        return
    if len(resp) < 12:
        errs.append(f"{transport} {name}: answer shorter than a header: {resp!r}")
        return
    hd = hsynctest.WireHeader(resp)
    if expect == "BADVERS":
        # RCODE 16 = header 0 + OPT extended RCODE 1 (RFC 6891 6.1.3); the OPT is last.
        opt = resp[-11:]
        ok = (hd.id == qid and hd.qr and hd.rcode == 0 and hd.arcount >= 1 and opt[0] == 0
              and struct.unpack("!H", opt[1:3])[0] == 41 and opt[5] == 1)
        if not ok:
            errs.append(f"{transport} {name}: expected BADVERS (OPT extended rcode 1), got {hd!r} tail {opt.hex()}")
        return
    if hd.id != qid or not hd.qr or hd.rcode_name != expect:
        errs.append(f"{transport} {name}: expected {expect} with id {qid}, got {hd!r}")


def test_malformed_udp():
    with hsynctest.TempDir("auth-rob-udp") as d:
        h = start(d)
        live, errs = Liveness(h), []
        for name, msg, expect in CASES:
            resp = hsynctest.udp_exchange(h.port, msg, timeout=0.7)
            judge(name, "UDP", expect, msg, resp, errs)
            live(f"UDP {name}", errs)
        print(f"  {len(CASES)} UDP cases, {len(errs)} problems")
        check(not errs, f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))


def test_malformed_tcp():
    with hsynctest.TempDir("auth-rob-tcp") as d:
        h = start(d)
        live, errs = Liveness(h), []
        for name, msg, expect in CASES:
            if len(msg) == 0:
                continue
            resp = hsynctest.tcp_exchange(h.port, msg, timeout=1.5)
            judge(name, "TCP", expect, msg, resp, errs)
            live(f"TCP {name}", errs)
        # Framing abuse: the server must neither crash nor hang on these.
        frames = [
            ("length 0", struct.pack("!H", 0)),
            ("one byte of the length", b"\x00"),
            ("length 65535, then 100 bytes and close", struct.pack("!H", 65535) + hdr() + b"\x00" * 88),
            ("length 300 with a 20-byte query inside", struct.pack("!H", 300) + hsynctest.build_query("www." + ZONE)),
        ]
        for name, raw in frames:
            try:
                hsynctest.tcp_exchange(h.port, raw, timeout=1.0, raw=True)
            except OSError:
                pass
            live(f"TCP {name}", errs)
        # 65535 bytes with counts larger than the message: FORMERR.
        big_bad = hdr(qid=0xAAAA, an=65535) + Q
        big_bad += b"\x00" * (65535 - len(big_bad))
        judge("65535-byte message with ANCOUNT=65535", "TCP", "FORMERR", big_bad,
              hsynctest.tcp_exchange(h.port, big_bad, timeout=5), errs)
        live("65535-byte bad message", errs)
        # 65535 well-formed bytes: a query with filler records in the additional section.
        n = 60
        body_len = 65535 - 12 - len(Q)
        per = body_len // n
        recs = b""
        for i in range(n):
            size = per if i < n - 1 else body_len - per * (n - 1)
            recs += b"\x00" + struct.pack("!HHIH", 65280, 1, 0, size - 11) + bytes(size - 11)
        big_ok = hdr(qid=0xBBBB, ar=n) + Q + recs
        check(len(big_ok) == 65535, f"test bug: {len(big_ok)}")
        resp = hsynctest.tcp_exchange(h.port, big_ok, timeout=5)
        if resp is None:
            errs.append("65535-byte well-formed query: no answer")
        else:
            hd = hsynctest.WireHeader(resp)
            if hd.id != 0xBBBB or not hd.qr or hd.rcode_name not in ("NOERROR", "FORMERR"):
                errs.append(f"65535-byte well-formed query: {hd!r}")
        live("65535-byte well-formed message", errs)
        # Pipelining (RFC 7766 6.2.1.1): three queries in one write, three answers.
        with socket.create_connection(("127.0.0.1", h.port), timeout=3) as s:
            data = b""
            for qid in (1, 2, 3):
                m = hsynctest.build_query("www." + ZONE, "A", qid)
                data += struct.pack("!H", len(m)) + m
            s.sendall(data)
            ids = set()
            for _ in range(3):
                m = hsynctest.tcp_recv_message(s)
                if m is None:
                    break
                ids.add(hsynctest.WireHeader(m).id)
            if ids != {1, 2, 3}:
                errs.append(f"pipelined queries 1,2,3: answers for {sorted(ids)}")
        live("pipelining", errs)
        check(not errs, f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))


def test_random_junk():
    """400 random datagrams (fixed seed), half with QR set: those must be dropped; the
    others answered with their ID and QR or dropped; then 100 random TCP frames."""
    with hsynctest.TempDir("auth-rob-junk") as d:
        h = start(d)
        live, errs = Liveness(h), []
        rng = random.Random(4242)
        answered = 0
        for i in range(400):
            msg = bytearray(rng.randbytes(rng.randint(12, 700)))
            if i % 2:
                msg[2] |= 0x80
            else:
                msg[2] &= 0x7F
            resp = hsynctest.udp_exchange(h.port, bytes(msg), timeout=0.05)
            if resp is not None:
                answered += 1
                hd = hsynctest.WireHeader(resp)
                if i % 2 or hd.id != struct.unpack("!H", msg[:2])[0] or not hd.qr:
                    errs.append(f"junk #{i} ({'QR set' if i % 2 else 'QR clear'}): answered {hd!r}")
            if i % 50 == 49:
                live(f"junk datagram #{i}", errs)
        for i in range(100):
            body = bytearray(rng.randbytes(rng.randint(0, 3000)))
            if len(body) > 2:
                body[2] &= 0x7F
            with socket.create_connection(("127.0.0.1", h.port), timeout=2) as s:
                with contextlib_suppress():
                    s.sendall(struct.pack("!H", len(body)) + bytes(body))
                    s.settimeout(0.2)
                    s.recv(65535)
        live("100 junk TCP frames", errs)
        # Drain stragglers, then check the log for sanitizer reports.
        time.sleep(0.3)
        log = h.log()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if bad in log:
                errs.append(f"sanitizer report in hsyncd's log: {bad}")
        print(f"  400 junk datagrams, {answered} answered")
        check(not errs, f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs[:30]))


class contextlib_suppress:
    def __enter__(self):
        return self

    def __exit__(self, et, e, tb):
        return et is not None and issubclass(et, OSError)


def test_slow_tcp_clients():
    """30 connections from 127.0.0.2 that send one byte and wait, a client from 127.0.0.3
    trickling a query one byte per 0.4 s, and a client from 127.0.0.4 that pipelines 2000
    queries for a 4 KB RRset and never reads: clients from 127.0.0.1 are still served over
    TCP and UDP; idle connections are closed (tcp-idle-timeout 2s)."""
    with hsynctest.TempDir("auth-rob-slow") as d:
        h = start(d)
        live, errs = Liveness(h), []
        holders = []
        try:
            for _ in range(30):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.2", 0))
                s.settimeout(2)
                s.connect(("127.0.0.1", h.port))
                s.sendall(b"\x00")
                holders.append(s)
            trickle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            trickle.bind(("127.0.0.3", 0))
            trickle.connect(("127.0.0.1", h.port))
            tq = hsynctest.build_query("www." + ZONE, "A", 0x3333)
            tq = struct.pack("!H", len(tq)) + tq
            reader = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader.bind(("127.0.0.4", 0))
            reader.connect(("127.0.0.1", h.port))
            reader.setblocking(False)
            sent = 0
            for qid in range(2000):
                m = hsynctest.build_query("big." + ZONE, "TXT", qid)
                try:
                    reader.sendall(struct.pack("!H", len(m)) + m)
                    sent += 1
                except (BlockingIOError, OSError):
                    break
            t0 = time.monotonic()
            served = 0
            pos = 0
            closed_trickle = None
            while time.monotonic() - t0 < 8:
                if pos < len(tq) and closed_trickle is None:
                    try:
                        trickle.sendall(tq[pos:pos + 1])
                        pos += 1
                    except OSError:
                        closed_trickle = time.monotonic() - t0
                for transport in ("tcp", "udp"):
                    q = hsynctest.build_query("www." + ZONE, "A", 0x4444)
                    t1 = time.monotonic()
                    try:
                        resp = (hsynctest.tcp_exchange(h.port, q, timeout=2) if transport == "tcp"
                                else hsynctest.udp_exchange(h.port, q, timeout=2))
                    except OSError as e:
                        resp = None
                        errs.append(f"{transport} query while slow clients hold on: {e}")
                    if resp is None or hsynctest.WireHeader(resp).rcode != 0:
                        errs.append(f"{transport} query at t={t1 - t0:.1f}s not answered while slow clients hold on")
                    else:
                        served += 1
                time.sleep(0.4)
            # The trickler never completed a query within the idle timeout: closed by now.
            if closed_trickle is None:
                trickle.settimeout(0.5)
                try:
                    closed = trickle.recv(100) == b""
                except socket.timeout:
                    closed = False
                except OSError:
                    closed = True
                if not closed and pos < len(tq):
                    errs.append(f"trickling client (1 byte / 0.4 s, {pos} bytes sent) not closed after 8 s "
                                f"(tcp-idle-timeout 2s)")
            # The holders: all closed within 20 s of opening.
            deadline = t0 + 20
            open_ones = list(holders)
            while open_ones and time.monotonic() < deadline:
                still = []
                for s in open_ones:
                    s.settimeout(0.05)
                    try:
                        if s.recv(100) == b"":
                            continue
                    except socket.timeout:
                        still.append(s)
                        continue
                    except OSError:
                        continue
                    still.append(s)
                open_ones = still
                time.sleep(0.2)
            if open_ones:
                errs.append(f"{len(open_ones)} of 30 idle connections from 127.0.0.2 still open after 20 s")
            print(f"  {served} queries served during the slow-client phase; reader queued {sent} queries; "
                  f"trickler closed after {closed_trickle if closed_trickle is None else round(closed_trickle, 1)} s "
                  f"({pos} bytes sent); holders closed after {time.monotonic() - t0:.1f} s: {30 - len(open_ones)}")
        finally:
            for s in holders:
                s.close()
            for s in (locals().get("trickle"), locals().get("reader")):
                if s is not None:
                    s.close()
        live("slow clients", errs)
        check(not errs, f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs[:20]))


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
