"""hsyncd role signer under bad input and a crash:

1. From a primary that sends a malformed record, then an oversized RRset: each version is
   refused with a clear log line naming the problem, and the last good signed version keeps
   being served (dnssec-verify passes on it); a good version after that is signed.
2. kill -9 while a large zone is being signed: the restarted signer serves the last complete
   signed version at once, then signs the new one (dnssec-verify passes), never a partly
   signed zone.

The primary of (1) is a small server in this file (no real server sends malformed data);
the primary of (2) is hsyncd auth."""
import re
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import hsynctest
from hsynctest import check, fail

ZONE = "sig.test."


def rr_wire(owner: str, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return hsynctest.encode_name(owner) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def soa_rdata(serial: int) -> bytes:
    return (hsynctest.encode_name("ns1." + ZONE) + hsynctest.encode_name("admin." + ZONE)
            + struct.pack("!IIIII", serial, 3600, 600, 86400, 300))


class FakePrimary:
    """Answers SOA over UDP and AXFR/IXFR (as a full zone) over TCP with `records` (wire RRs
    without the SOAs); the serial and records can be swapped while running."""

    def __init__(self):
        self.serial = 1
        self.records: list[bytes] = []
        self.port = hsynctest.free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        self.stopping = False
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    def _answer(self, query: bytes, answers: list[bytes]) -> bytes:
        qid = struct.unpack("!H", query[:2])[0]
        qend = 12
        while query[qend] != 0:
            qend += query[qend] + 1
        qend += 5
        return struct.pack("!HHHHHH", qid, 0x8400, 1, len(answers), 0, 0) + query[12:qend] + b"".join(answers)

    def _serve_udp(self):
        while not self.stopping:
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            self.udp.sendto(self._answer(data, [rr_wire(ZONE, 6, soa_rdata(self.serial))]), peer)

    def _serve_tcp(self):
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                q = hsynctest.tcp_recv_message(conn)
                if q is None:
                    continue
                soa = rr_wire(ZONE, 6, soa_rdata(self.serial))
                body = [soa] + self.records + [soa]
                # Several messages of at most ~16 KB, as a real primary would split them.
                chunk: list[bytes] = []
                for rr in body:
                    if chunk and sum(map(len, chunk)) + len(rr) > 16000:
                        m = self._answer(q, chunk)
                        conn.sendall(struct.pack("!H", len(m)) + m)
                        chunk = []
                    chunk.append(rr)
                m = self._answer(q, chunk)
                conn.sendall(struct.pack("!H", len(m)) + m)

    def close(self):
        self.stopping = True
        self.udp.close()
        self.tcp.close()


def a_rr(name: str, ip: str) -> bytes:
    return rr_wire(name + "." + ZONE, 1, socket.inet_aton(ip))


def base_records() -> list[bytes]:
    return [rr_wire(ZONE, 2, hsynctest.encode_name("ns1." + ZONE)), a_rr("ns1", "192.0.2.1"),
            a_rr("www", "192.0.2.2")]


def signer_config(primary_port: int, refresh: int = 1) -> dict:
    return {"role": "signer",
            "zones": [{"name": ZONE, "type": "secondary",
                       "primaries": [f"127.0.0.1:{primary_port}"], "allow-transfer": "any",
                       "refresh": refresh, "retry": 1}]}


def verified(h: hsynctest.Hsyncd, zone: str, workdir: Path, name: str) -> str:
    """AXFR from the signer, checked by dnssec-verify; returns its output or fails."""
    lines = hsynctest.axfr("127.0.0.1", h.port, zone)
    check(lines is not None, f"AXFR of {zone} from the signer failed")
    path = workdir / name
    path.write_text("\n".join(lines) + "\n")
    r = hsynctest.run([hsynctest.require_program("dnssec-verify"), "-o", zone, str(path)], check_rc=None)
    check(r.rc == 0, f"dnssec-verify refuses the signed zone {name}:\n  " + r.describe())
    return r.stdout + r.stderr


def test_bad_versions_are_refused_and_the_last_good_one_served():
    with hsynctest.TempDir("signer-bad") as d:
        p = FakePrimary()
        try:
            p.records = base_records()
            h = hsynctest.start_hsyncd(signer_config(p.port), d / "signer", wait_zones=[ZONE])
            hsynctest.wait_serial("127.0.0.1", h.port, ZONE, 1, 20, process=h.proc)
            verified(h, ZONE, d, "v1.zone")

            # Version 2: an A record with 5 octets of RDATA (RFC 1035 §3.4.1 says 4).
            bad = rr_wire("bad." + ZONE, 1, b"\x01\x02\x03\x04\x05")
            p.records, p.serial = base_records() + [bad], 2
            hsynctest.wait_log_match(h.log, r"event=refresh_failed zone=sig\.test\. error=.*", 20,
                                     "the malformed record refused")
            line = [ln for ln in h.log().splitlines() if "refresh_failed" in ln][-1]
            print("  malformed:", line.split("event=")[1][:200])
            check("A" in line and ("RDATA" in line or "rdata" in line or "length" in line),
                  f"the log line does not say what is wrong: {line}")
            check(hsynctest.soa_serial("127.0.0.1", h.port, ZONE) == 1, "serial moved after a refused version")

            # Version 3: one RRset of 300 TXT records of 241 octets (~75 KB): cannot be sent
            # with its signatures in one message.
            big = [rr_wire("big." + ZONE, 16, bytes([240]) + b"%03d" % i + b"x" * 237) for i in range(300)]
            p.records, p.serial = base_records() + big, 3
            hsynctest.wait_log_match(h.log, r"event=signing_failed zone=sig\.test\. unsigned_serial=3", 20,
                                     "the oversized RRset refused")
            line = [ln for ln in h.log().splitlines() if "signing_failed" in ln][-1]
            print("  oversized:", line.split("event=")[1][:240])
            check("big.sig.test. TXT" in line and "kept serving serial 1" in line,
                  f"the log line does not name the RRset and what is served: {line}")
            check(hsynctest.soa_serial("127.0.0.1", h.port, ZONE) == 1, "serial moved after a refused version")
            verified(h, ZONE, d, "still-v1.zone")
            check(h.alive(), "hsyncd died:\n" + h.log()[-2000:])

            # Version 4, good again: signed and served (a full signing: 3 was never signed).
            p.records, p.serial = base_records() + [a_rr("mail", "192.0.2.25")], 4
            hsynctest.wait_serial("127.0.0.1", h.port, ZONE, 4, 20, process=h.proc)
            out = verified(h, ZONE, d, "v4.zone")
            print("  v4:", out.strip().splitlines()[-1].strip())
            zs = h.zone_json(ZONE)
            check(zs.get("last_error", "") == "", f"last_error not cleared: {zs.get('last_error')}")
        finally:
            p.close()


def test_kill9_while_signing_a_large_zone():
    with hsynctest.TempDir("signer-kill") as d:
        gen = hsynctest.source_dir() / "scripts" / "gen-zone"
        small, large = d / "small.zone", d / "large.zone"
        hsynctest.run([sys.executable, str(gen), "--records", "200", "--origin", ZONE, "-o", str(small)])
        hsynctest.run([sys.executable, str(gen), "--records", "250000", "--origin", ZONE, "--seed", "7",
                       "-o", str(large)])
        # The large zone gets a higher serial than the small one.
        text = large.read_text()
        m = re.search(r"(?m)^(\S+\s+(?:\d+\s+)?(?:IN\s+)?SOA\s+\S+\s+\S+\s+\(?\s*)(\d+)", text)
        check(m is not None, "no SOA in the generated zone")
        small_serial = int(re.search(r"(?m)SOA\s+\S+\s+\S+\s+\(?\s*(\d+)", small.read_text()).group(1))
        large_serial = small_serial + 10
        large.write_text(text[:m.start(2)] + str(large_serial) + text[m.end(2):])
        served = d / "served.zone"
        served.write_text(small.read_text())
        primary = hsynctest.start_hsyncd(
            {"zones": [{"name": ZONE, "type": "primary", "file": str(served), "allow-transfer": "any"}]},
            d / "primary", wait_zones=[ZONE])
        h = hsynctest.start_hsyncd(signer_config(primary.port), d / "signer", wait_zones=[ZONE])
        hsynctest.wait_serial("127.0.0.1", h.port, ZONE, small_serial, 30, process=h.proc)
        verified(h, ZONE, d, "small-signed.zone")

        served.write_text(large.read_text())
        # The primary reads the 250000 records before it answers: seconds under ASan.
        primary.ctl("--timeout", "120", "zone", "reload", ZONE, timeout=150)
        # Killed after the transfer of the large version, while it is being signed.
        hsynctest.wait_log_match(h.log, rf"event=signing_started zone=sig\.test\. unsigned_serial={large_serial}",
                                 60, "signing of the large version started")
        check(not re.search(rf"event=signed \S+ mode=\w+ unsigned_serial={large_serial}", h.log()),
              "signing finished before the kill: make the large zone larger")
        h.kill9()
        print(f"  killed while signing serial {large_serial}")

        # Restart: the last complete signed version at once, then the new one.
        h.start()
        hsynctest.wait_until(lambda: hsynctest.soa_serial("127.0.0.1", h.port, ZONE) is not None, 30,
                             "the restarted signer answering")
        first = hsynctest.soa_serial("127.0.0.1", h.port, ZONE)
        print(f"  after restart first serial {first}")
        check(first == small_serial, f"restarted signer serves serial {first}, not the last complete "
                                     f"signed version {small_serial}")
        verified(h, ZONE, d, "after-restart.zone")
        hsynctest.wait_serial("127.0.0.1", h.port, ZONE, large_serial, 180, process=h.proc)
        out = verified(h, ZONE, d, "large-signed.zone")
        print("  large:", out.strip().splitlines()[-1].strip())
        check(h.alive(), "hsyncd died:\n" + h.log()[-2000:])


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
