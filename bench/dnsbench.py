"""Shared pieces of the server benchmarks (auth_query.py, auth_xfr.py).

- zones: generated with scripts/gen-zone (cached under build/bench/, through zone_sign's
  cache: apex DNSKEY/CDS/CDNSKEY/ZONEMD placeholders removed so every server loads them,
  optionally signed with dnssec-signzone);
- servers: hsyncd (auth role), NSD, Knot and BIND started unprivileged on free loopback
  ports with one query-serving thread each, stopped on exit (tests/lib/hsynctest.py
  process groups);
- a zone-transfer client that counts messages, records and bytes until the final SOA
  without decoding every record (the same client for every server);
- CPU time of a process group (/proc), for saying who was saturated.
"""

from __future__ import annotations

import datetime
import os
import platform
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(ROOT / "bench"))

import hsynctest  # noqa: E402  (process groups, free ports, hsyncd/named/knotd starters)
import zone_sign  # noqa: E402  (cached zones without apex key placeholders)

SOA, IXFR, AXFR, OPT = 6, 251, 252, 41

TYPE_CODES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
              "AAAA": 28, "SRV": 33, "NAPTR": 35, "DS": 43, "SSHFP": 44, "RRSIG": 46,
              "NSEC": 47, "DNSKEY": 48, "NSEC3": 50, "NSEC3PARAM": 51, "TLSA": 52,
              "CDS": 59, "CDNSKEY": 60, "CSYNC": 62, "ZONEMD": 63, "SVCB": 64, "HTTPS": 65,
              "URI": 256, "CAA": 257}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def die(msg: str) -> None:
    sys.exit(msg)


# --------------------------------------------------------------------------- host facts


def cpu_model() -> str:
    return zone_sign.cpu_model()


def mem_gib() -> float:
    for ln in Path("/proc/meminfo").read_text().splitlines():
        if ln.startswith("MemTotal:"):
            return int(ln.split()[1]) / 1024 / 1024
    return 0.0


def os_name() -> str:
    try:
        for ln in Path("/etc/os-release").read_text().splitlines():
            if ln.startswith("PRETTY_NAME="):
                return ln.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def host_line() -> str:
    return (f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; host: {cpu_model()}, "
            f"{os.cpu_count()} CPUs, {mem_gib():.0f} GiB, {os_name()}, "
            f"{platform.system()} {platform.release()}; load average at start {loadavg()}")


def version(argv: list[str]) -> str:
    return zone_sign.version(argv)


def which(name: str) -> str:
    return hsynctest.require_program(name)


# --------------------------------------------------------------------------- zones


def plain_zone(records: int, seed: int, origin: str, cache: Path) -> Path:
    """Generated zone, apex key placeholders removed (cached)."""
    return zone_sign.zone_file(records, seed, origin, cache)


def signed_zone(records: int, seed: int, origin: str, cache: Path) -> Path:
    """plain_zone signed with dnssec-signzone (ECDSA P-256 KSK+ZSK, NSEC), one record per
    line with absolute names (-O full); cached beside it."""
    src = plain_zone(records, seed, origin, cache)
    out = cache / f"signed-{src.name}"
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        log(f"using cached {out}")
        return out
    keydir = cache / f"keys-{src.stem}"
    shutil.rmtree(keydir, ignore_errors=True)
    keydir.mkdir(parents=True)
    for flags in (["-f", "KSK"], []):
        subprocess.run([which("dnssec-keygen"), "-q", "-K", str(keydir), "-a", "13", *flags,
                        origin], check=True, capture_output=True)
    log(f"signing {src.name} with dnssec-signzone into {out.name}")
    tmp = out.with_suffix(".tmp")
    p = subprocess.run([which("dnssec-signzone"), "-q", "-S", "-K", str(keydir), "-n",
                        str(os.cpu_count() or 1), "-O", "full", "-o", origin, "-f", str(tmp),
                        str(src)], capture_output=True, text=True)
    if p.returncode != 0:
        die(f"dnssec-signzone failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    tmp.rename(out)
    return out


# --------------------------------------------------------------------------- wire helpers


def name_wire(name: str) -> bytes:
    """Wire form of an absolute presentation name with \\X and \\DDD escapes."""
    if name == ".":
        return b"\0"
    labels, cur, i = [], bytearray(), 0
    while i < len(name):
        c = name[i]
        if c == "\\":
            d = name[i + 1:i + 4]
            if len(d) == 3 and d.isdigit():
                cur.append(int(d))
                i += 4
            else:
                cur += name[i + 1].encode()
                i += 2
            continue
        if c == ".":
            labels.append(bytes(cur))
            cur = bytearray()
        else:
            cur += c.encode()
        i += 1
    if cur:
        labels.append(bytes(cur))
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\0"


def query_wire(name: str, qtype: int, *, qid: int = 0, edns: int | None = None,
               do: bool = False, ixfr_serial: int | None = None) -> bytes:
    """A query (RD clear); IXFR carries the client's SOA in the authority section
    (RFC 1995 §3)."""
    ns = 1 if ixfr_serial is not None else 0
    ar = 1 if edns is not None else 0
    qn = name_wire(name)
    msg = struct.pack("!HHHHHH", qid, 0, 1, 0, ns, ar) + qn + struct.pack("!HH", qtype, 1)
    if ixfr_serial is not None:
        rdata = b"\0\0" + struct.pack("!IIIII", ixfr_serial, 0, 0, 0, 0)
        msg += qn + struct.pack("!HHIH", SOA, 1, 0, len(rdata)) + rdata
    if edns is not None:
        msg += b"\0" + struct.pack("!HHIH", OPT, edns, 0x8000 if do else 0, 0)
    return msg


def _skip_name(m: bytes, off: int) -> int:
    while True:
        n = m[off]
        if n == 0:
            return off + 1
        if n >= 0xC0:
            return off + 2
        off += n + 1


def parse_answers(m: bytes) -> list[tuple[int, bytes]]:
    """(type, rdata) of every answer record of one message (names not decoded)."""
    qd, an = struct.unpack_from("!HH", m, 4)
    off = 12
    for _ in range(qd):
        off = _skip_name(m, off) + 4
    out = []
    for _ in range(an):
        off = _skip_name(m, off)
        t, _c, _ttl, ln = struct.unpack_from("!HHIH", m, off)
        off += 10
        out.append((t, m[off:off + ln]))
        off += ln
    return out


class XfrResult:
    def __init__(self):
        self.seconds = 0.0       # connect to last byte of the final message
        self.first_byte = 0.0    # connect to first byte of the answer
        self.messages = 0
        self.records = 0
        self.bytes = 0
        self.soa_serials: list[int] = []  # serials of the SOAs in the first message (IXFR)


def xfr(port: int, zone: str, qtype: int, serial: int | None = None, host: str = "127.0.0.1",
        timeout: float = 600) -> XfrResult:
    """Pulls an AXFR (or IXFR from `serial`) over TCP. The end is the message whose last
    record is the zone's SOA again: each message is checked by its final 20 bytes (the SOA's
    five counters) and only a candidate is decoded, so the client costs little next to the
    server. Records are counted from the header ANCOUNTs; every RCODE must be NOERROR."""
    r = XfrResult()
    q = query_wire(zone, qtype, qid=random.randrange(65536), ixfr_serial=serial)
    t0 = time.perf_counter()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(struct.pack("!H", len(q)) + q)
        f = s.makefile("rb", buffering=1 << 20)
        tail = None   # the last 20 bytes of the SOA's rdata
        new_serial = None
        soas_needed = 1  # final SOAs still to see after the first one
        while True:
            hdr = f.read(2)
            if len(hdr) < 2:
                die(f"xfr {zone} from port {port}: connection closed after {r.messages} "
                    f"messages, {r.records} records, without the final SOA")
            if r.messages == 0:
                r.first_byte = time.perf_counter() - t0
            (ln,) = struct.unpack("!H", hdr)
            m = f.read(ln)
            if len(m) < ln:
                die(f"xfr {zone} from port {port}: short message")
            r.messages += 1
            r.bytes += ln + 2
            flags, _qd, an = struct.unpack_from("!HHH", m, 2)
            if flags & 0xF:
                die(f"xfr {zone} from port {port}: RCODE {flags & 0xF} in message {r.messages}")
            r.records += an
            if tail is None:
                rrs = parse_answers(m)
                if not rrs or rrs[0][0] != SOA:
                    die(f"xfr {zone} from port {port}: first record is not the SOA")
                tail = rrs[0][1][-20:]
                new_serial = struct.unpack("!I", tail[:4])[0]
                r.soa_serials = [struct.unpack("!I", rd[-20:-16])[0] for t, rd in rrs if t == SOA]
                if qtype == IXFR and len(rrs) > 1 and rrs[1][0] == SOA:
                    # RFC 1995 §4 incremental: the new serial appears again after the
                    # deletions and at the end; count in whole decoded messages.
                    soas_needed = 2
                seen = sum(1 for t, rd in rrs[1:] if t == SOA and rd[-20:] == tail)
                if seen >= soas_needed and rrs[-1][0] == SOA:
                    break
                soas_needed -= seen
                continue
            if soas_needed > 1:
                rrs = parse_answers(m)
                seen = sum(1 for t, rd in rrs if t == SOA and rd[-20:] == tail)
                if seen >= soas_needed and rrs[-1][0] == SOA:
                    break
                soas_needed -= seen
                continue
            if m[-20:] == tail:
                rrs = parse_answers(m)
                if rrs and rrs[-1][0] == SOA and rrs[-1][1][-20:] == tail:
                    break
    r.seconds = time.perf_counter() - t0
    return r


# --------------------------------------------------------------------------- process CPU


def udp_rcvbuf_errors() -> int:
    """Datagrams the kernel dropped because a socket's receive buffer was full (all
    sockets of the host: /proc/net/snmp Udp RcvbufErrors)."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()
             if ln.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def _clk() -> int:
    return os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """user+system CPU seconds of every live process in process group `pgid`."""
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        f = st[st.rfind(")") + 2:].split()
        if int(f[2]) == pgid:  # field 5 (pgrp) counted from the state field (3)
            total += int(f[11]) + int(f[12])
    return total / _clk()


def group_rss_mib(pgid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB summed over the process group."""
    cur = peak = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = Path(f"/proc/{d}/stat").read_text()
            if int(st[st.rfind(")") + 2:].split()[2]) != pgid:
                continue
            for ln in Path(f"/proc/{d}/status").read_text().splitlines():
                if ln.startswith("VmRSS:"):
                    cur += int(ln.split()[1])
                elif ln.startswith("VmHWM:"):
                    peak += int(ln.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return cur / 1024, peak / 1024


# --------------------------------------------------------------------------- servers


class Running:
    """A started server: name, port, pid (process group), stop()."""

    def __init__(self, name: str, port: int, proc: hsynctest.Process, load_seconds: float,
                 ver: str):
        self.name, self.port, self.proc = name, port, proc
        self.pgid = proc.pid
        self.load_seconds = load_seconds
        self.version = ver
        self.handle: hsynctest.Hsyncd | None = None  # hsyncd only: ctl()

    def stop(self) -> None:
        self.proc.stop(timeout=30)


def _wait_soa(name: str, port: int, origin: str, proc: hsynctest.Process, timeout: float) -> None:
    hsynctest.wait_until(lambda: hsynctest.soa_answers("127.0.0.1", port, origin), timeout,
                         f"{name} serving {origin} on port {port}", interval=0.2, process=proc)


def start_hsyncd(work: Path, origin: str, zone: Path, timeout: float) -> Running:
    t0 = time.monotonic()
    h = hsynctest.start_hsyncd(
        {"log-level": "info",
         "zones": [{"name": origin, "type": "primary", "file": str(zone),
                    "allow-transfer": ["127.0.0.0/8"]}]},
        work, wait_zones=[origin], timeout=timeout)
    r = Running("hsync", h.port, h.proc, time.monotonic() - t0,
                version([hsynctest.hsyncd_path(), "--version"]))
    r.handle = h
    return r


def start_nsd(work: Path, origin: str, zone: Path, timeout: float) -> Running:
    """NSD unprivileged-style: no chroot, no user switch, no database file, its state files
    under `work`, one server process, not daemonised (-d) so the process group holds it.
    Response rate limiting off (Debian's NSD has it on: 200 answers/s per /24)."""
    nsd = which("nsd")
    work.mkdir(parents=True, exist_ok=True)
    port = hsynctest.free_port()
    conf = work / "nsd.conf"
    conf.write_text(f"""server:
    ip-address: 127.0.0.1
    port: {port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{work}"
    database: ""
    pidfile: "{work / 'nsd.pid'}"
    xfrdfile: "{work / 'xfrd.state'}"
    zonelistfile: "{work / 'zone.list'}"
    logfile: "{work / 'nsd.log'}"
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "{origin}"
    zonefile: "{zone}"
    provide-xfr: 127.0.0.0/8 NOKEY
""")
    p = subprocess.run([which("nsd-checkconf"), str(conf)], capture_output=True, text=True)
    if p.returncode != 0:
        die(f"nsd-checkconf {conf}: {p.stdout}{p.stderr}")
    t0 = time.monotonic()
    proc = hsynctest.Process([nsd, "-d", "-c", str(conf)], "nsd", work / "nsd-stderr.log",
                             cwd=str(work))
    try:
        _wait_soa("nsd", port, origin, proc, timeout)
    except BaseException:
        proc.stop()
        raise
    return Running("NSD", port, proc, time.monotonic() - t0, version([nsd, "-v"]))


def start_knot(work: Path, origin: str, zone: Path, timeout: float) -> Running:
    """knotd with one UDP, one TCP and one background worker (hsynctest's config); the zone
    file is a copy (Knot may write its zone file back)."""
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "zone.db"
    shutil.copyfile(zone, copy)
    t0 = time.monotonic()
    s = hsynctest.start_knotd_config(work, f"""acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
zone:
  - domain: {origin}
    file: "{copy}"
    acl: xfr
    journal-content: none
    zonefile-sync: -1
""", wait_zones=[origin], timeout=timeout)
    return Running("Knot", s.port, s.proc, time.monotonic() - t0, version([which("knotd"), "-V"]))


def start_bind(work: Path, origin: str, zone: Path, timeout: float) -> Running:
    """named -n 1 (one worker thread), recursion off, defaults otherwise."""
    t0 = time.monotonic()
    s = hsynctest.start_named_config(
        work, f'zone "{origin}" {{ type primary; file "{zone}"; '
              f'allow-transfer {{ 127.0.0.0/8; }}; }};',
        wait_zones=[origin], timeout=timeout)
    return Running("BIND", s.port, s.proc, time.monotonic() - t0,
                   version([which("named"), "-v"]))


STARTERS = {"hsync": start_hsyncd, "NSD": start_nsd, "Knot": start_knot, "BIND": start_bind}
