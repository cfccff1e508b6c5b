"""The provider's signing chain on loopback, for system tests and benchmarks:

    owner primary (named, zone file with an HSYNC RRset)
        --AXFR/IXFR + NOTIFY, TSIG owner-xfr.-->  hsyncd role combiner
        --AXFR/IXFR + NOTIFY, TSIG signer-xfr.--> SIGNER (knotd, or hsyncd role signer)
        --AXFR/IXFR + NOTIFY, TSIG down-xfr.-->   knotd secondary ("downstream")
                          ^
        agent: nsupdate -y agent. to the combiner (combiner_update)

Hops are named "owner", "combiner", "signer", "downstream". Every port is picked at run
time; every process is a hsynctest.Process, so it is stopped when the test ends (also on
failure). Waits scale with the zone size, so the same chain serves a 1M-record benchmark
(zone_file= the output of scripts/gen-zone --rfc3597).

    with hsynctest.TempDir("chain") as d, Chain(d, signer="knot") as c:
        c.start()
        c.verify_zone()                      # dnssec-verify, kzonecheck -d on, ldns-verify-zone
        before = c.serial("signer")
        c.combiner_update("update add example.lab. 3600 DNSKEY 256 3 13 ...")
        c.wait_signed_change(before)         # new signed serial at the downstream
        ksk = c.signer_ksk_dnskey()          # "257 3 13 base64" of the signer's own KSK

Python 3.11 standard library, plus `cryptography` (Debian python3-cryptography) for
verify_rrsig().
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import hsynctest
from hsynctest import check, fail

HOPS = ("owner", "combiner", "signer", "downstream")
HSYNC_TYPE = 65290

TYPE_CODES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
              "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50,
              "NSEC3PARAM": 51, "CDS": 59, "CDNSKEY": 60}


# --------------------------------------------------------------------------- record helpers


def name_wire(name: str) -> bytes:
    """Canonical (lower-case) wire form of an absolute name; handles \\X and \\DDD."""
    name = name.lower()
    if name == ".":
        return b"\x00"
    labels, cur, i = [], bytearray(), 0
    while i < len(name):
        c = name[i]
        if c == "\\":
            if len(name) >= i + 4 and name[i + 1:i + 4].isdigit():
                cur.append(int(name[i + 1:i + 4]))
                i += 4
                continue
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
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"


class RR:
    """One record of an AXFR listing: owner (lower case), ttl, type (upper), rdata fields."""

    def __init__(self, line: str):
        f = line.split()
        if len(f) < 4:
            fail(f"not a record line: {line!r}")
        self.line = line
        self.owner = f[0].lower()
        self.ttl = int(f[1])
        self.rclass = f[2].upper()
        self.type = f[3].upper()
        self.fields = f[4:]

    @property
    def rdata(self) -> str:
        return " ".join(self.fields)

    def __repr__(self):
        return self.line


def records(lines: Iterable[str]) -> list[RR]:
    return [RR(ln) for ln in lines]


def rrset(rrs: Sequence[RR], owner: str, rtype: str) -> list[RR]:
    owner = owner.lower()
    return [r for r in rrs if r.owner == owner and r.type == rtype.upper()]


def rrsigs(rrs: Sequence[RR], owner: str, covered: str) -> list[RR]:
    return [r for r in rrset(rrs, owner, "RRSIG") if r.fields[0].upper() == covered.upper()]


def dnskey_rdata_wire(fields: Sequence[str]) -> bytes:
    """DNSKEY/CDNSKEY RDATA from presentation fields (flags proto alg base64...)."""
    return struct.pack("!HBB", int(fields[0]), int(fields[1]), int(fields[2])) + \
        base64.b64decode("".join(fields[3:]))


def key_tag(fields: Sequence[str]) -> int:
    """RFC 4034 Appendix B key tag of a DNSKEY given as presentation fields."""
    rd = dnskey_rdata_wire(fields)
    acc = 0
    for i, b in enumerate(rd):
        acc += b if i & 1 else b << 8
    acc += (acc >> 16) & 0xFFFF
    return acc & 0xFFFF


def ds_sha256(zone: str, fields: Sequence[str]) -> str:
    """The SHA-256 DS/CDS RDATA text (RFC 4034 §5.1.4) of a DNSKEY."""
    digest = hashlib.sha256(name_wire(zone) + dnskey_rdata_wire(fields)).hexdigest().upper()
    return f"{key_tag(fields)} {fields[2]} 2 {digest}"


def _rdata_wire(rr: RR) -> bytes:
    t, f = rr.type, rr.fields
    if t in ("DNSKEY", "CDNSKEY"):
        return dnskey_rdata_wire(f)
    if t in ("DS", "CDS"):
        return struct.pack("!HBB", int(f[0]), int(f[1]), int(f[2])) + bytes.fromhex("".join(f[3:]))
    if t == "A":
        return bytes(int(x) for x in f[0].split("."))
    if t == "AAAA":
        import ipaddress
        return ipaddress.IPv6Address(f[0]).packed
    if t.startswith("TYPE") and f[0] == "\\#":
        return bytes.fromhex("".join(f[2:]))
    fail(f"verify_rrsig: no canonical RDATA for type {t} in this helper")
    return b""


def _rrsig_time(text: str) -> int:
    if len(text) == 14 and text.isdigit():
        return calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S"))
    return int(text)


def verify_rrsig(rrs: Sequence[RR], sig: RR, key: RR, now: float | None = None) -> str | None:
    """Verifies one RRSIG (algorithm 13, ECDSA P-256/SHA-256, RFC 6605) over the RRset
    `rrs` with DNSKEY `key` (RFC 4034 §3.1.8.1, RFC 4035 §5.3). Returns None when it is
    valid, else the reason."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    f = sig.fields
    covered, alg, labels, orig_ttl = f[0].upper(), int(f[1]), int(f[2]), int(f[3])
    expiration, inception, tag, signer = _rrsig_time(f[4]), _rrsig_time(f[5]), int(f[6]), f[7]
    signature = base64.b64decode("".join(f[8:]))
    if alg != 13 or int(key.fields[2]) != 13:
        return f"algorithm {alg} not supported by this helper"
    if tag != key_tag(key.fields):
        return f"key tag {tag} is not the key's {key_tag(key.fields)}"
    now = time.time() if now is None else now
    if not inception <= now <= expiration:
        return f"outside its validity {f[5]}..{f[4]}"
    if not rrs or any(r.type != covered for r in rrs):
        return f"RRset is not of the covered type {covered}"
    owner = name_wire(rrs[0].owner)
    if labels != len([x for x in rrs[0].owner.rstrip(".").split(".") if x]):
        return "wildcard expansion not supported by this helper"
    data = struct.pack("!HBBIIIH", TYPE_CODES.get(covered, 0) or int(covered[4:]), alg, labels,
                       orig_ttl, expiration, inception, tag) + name_wire(signer)
    tcode = TYPE_CODES.get(covered) or int(covered[4:])
    for rd in sorted({_rdata_wire(r) for r in rrs}):
        data += owner + struct.pack("!HHIH", tcode, 1, orig_ttl, len(rd)) + rd
    pub = base64.b64decode("".join(key.fields[3:]))
    if len(pub) != 64 or len(signature) != 64:
        return "bad ECDSA P-256 key or signature length"
    pk = ec.EllipticCurvePublicNumbers(int.from_bytes(pub[:32], "big"), int.from_bytes(pub[32:], "big"),
                                       ec.SECP256R1()).public_key()
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    try:
        pk.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "signature does not verify"
    return None


def foreign_key(keydir: Path, zone: str, ksk: bool, algorithm: str = "13") -> str:
    """A key of "another provider": dnssec-keygen in keydir; returns its DNSKEY RDATA
    ("257 3 13 base64" for a KSK, "256 ..." for a ZSK)."""
    keydir = Path(keydir)
    keydir.mkdir(parents=True, exist_ok=True)
    argv = [hsynctest.require_program("dnssec-keygen"), "-q", "-K", keydir, "-a", algorithm,
            "-n", "ZONE"] + (["-f", "KSK"] if ksk else []) + [zone]
    base = hsynctest.run(argv, timeout=30).stdout.strip()
    for line in (keydir / f"{base}.key").read_text().splitlines():
        f = hsynctest.strip_comment(line).split()
        if "DNSKEY" in f:
            i = f.index("DNSKEY")  # key files split the base64 in two; join it as dig +nosplit does
            return f"{f[i + 1]} {f[i + 2]} {f[i + 3]} {''.join(f[i + 4:])}"
    fail(f"dnssec-keygen wrote no DNSKEY into {keydir / base}.key")
    return ""


def hsync_rdata_text(state: int = 1, nsmgmt: int = 1, sign: int = 1,
                     identity: str = "agent.example.") -> str:
    """HSYNC (type 65290) in RFC 3597 form: State | NSMgmt | Sign | Identity."""
    rd = bytes([state, nsmgmt, sign]) + name_wire(identity)
    return f"TYPE{HSYNC_TYPE} \\# {len(rd)} {rd.hex()}"


DEFAULT_RECORDS = [
    "@ MX 10 mail",
    "@ TXT \"v=spf1 -all\"",
    "ns1 A 192.0.2.1",
    "ns2 A 192.0.2.2",
    "mail A 192.0.2.3",
    "www A 192.0.2.10",
    "www AAAA 2001:db8::10",
    "alias CNAME www",
    "*.wild A 192.0.2.20",
    "sub NS ns.sub",
    "ns.sub A 192.0.2.30",
    "txt TXT \"hello world\"",
]


# --------------------------------------------------------------------------- the chain


class Chain:
    """owner (named) -> combiner (hsyncd) -> signer ("knot": knotd | "hsync": hsyncd) ->
    downstream (knotd). See the module docstring.

    zone_records: the owner's records below the generated SOA/NS/HSYNC apex (relative
    names, $TTL 300); zone_file: a complete owner zone file instead (e.g. from gen-zone
    --rfc3597; it is copied). keys: "ksk-zsk" or "csk". timeout: per-hop start-up and
    propagation wait; by default 30 s + 1 s per 10,000 owner records."""

    def __init__(self, tmpdir: Path, signer: str = "knot", *, zone: str = "example.lab.",
                 zone_records: Sequence[str] | None = None, zone_file: str | Path | None = None,
                 serial: int = 1, nsec3: bool = False, keys: str = "ksk-zsk",
                 dnskey_ttl: int = 3600, signer_threads: int = 1,
                 hsync_nsmgmt: str = "OWNER", knot_cds_publish: str = "always",
                 knot_dnskey_management: str = "incremental", knot_delete_delay: str | None = "30d",
                 timeout: float | None = None):
        check(signer in ("knot", "hsync"), f"Chain: signer must be 'knot' or 'hsync', not {signer!r}")
        check(keys in ("ksk-zsk", "csk"), f"Chain: keys must be 'ksk-zsk' or 'csk', not {keys!r}")
        self.dir = Path(tmpdir)
        self.signer_kind, self.nsec3, self.keys = signer, nsec3, keys
        self.zone = zone if zone.endswith(".") else zone + "."
        self.dnskey_ttl, self.signer_threads = dnskey_ttl, signer_threads
        self.cds_publish = knot_cds_publish
        self.dnskey_management, self.delete_delay = knot_dnskey_management, knot_delete_delay
        self.secrets = {k: hsynctest.tsig_secret() for k in ("owner-xfr.", "owner-upd.", "agent.",
                                                          "signer-xfr.", "down-xfr.")}
        self._pick_ports()
        self.servers: dict[str, object] = {}
        self.timings: dict[str, float] = {}
        self.dir.mkdir(parents=True, exist_ok=True)
        # The owner's zone as given; each start attempt copies it for named (which keeps
        # its journal beside it).
        self.input_file = self.dir / "owner-input.zone"
        self.owner_file = self.dir / "owner" / (self.zone.rstrip(".") + ".zone")
        if zone_file is not None:
            shutil.copyfile(zone_file, self.input_file)
            with open(self.input_file, "rb") as fh:
                self.records = sum(1 for ln in fh if ln.strip() and not ln.lstrip().startswith(b";"))
        else:
            body = DEFAULT_RECORDS if zone_records is None else list(zone_records)
            mg = {"OWNER": 1, "AGENT": 2}[hsync_nsmgmt]
            self.input_file.write_text(
                f"$ORIGIN {self.zone}\n$TTL 300\n"
                f"@ IN SOA ns1 hostmaster {serial} 3600 600 604800 300\n"
                f"@ NS ns1\n@ NS ns2\n@ {hsync_rdata_text(1, mg, 1, 'agent.example.')}\n"
                + "".join(ln + "\n" for ln in body))
            self.records = len(body) + 4
        self.timeout = timeout if timeout is not None else 30 + self.records / 10_000
        # knotd keeps the zone in its journal (journal-content: all); the default
        # journal-max-usage (100M) refuses a signed 1M-record zone ("not enough space").
        self.journal_mb = max(100, 100 + self.records // 500)

    # ------------------------------------------------------------------ keys and addresses

    def key(self, name: str) -> str:
        """'hmac-sha256:NAME:SECRET' for dig -y / nsupdate -y."""
        return f"hmac-sha256:{name}:{self.secrets[name]}"

    XFR_KEY = {"owner": "owner-xfr.", "combiner": "signer-xfr.", "signer": "down-xfr.",
               "downstream": None}

    # ------------------------------------------------------------------ start / stop

    def _pick_ports(self) -> None:
        self.port = {h: hsynctest.free_port() for h in HOPS}
        self.mgmt_port = {"combiner": hsynctest.free_port(), "signer": hsynctest.free_port()}

    def _fresh_dirs(self) -> None:
        for h in HOPS:
            shutil.rmtree(self.dir / h, ignore_errors=True)
            (self.dir / h).mkdir(parents=True)
        shutil.copyfile(self.input_file, self.owner_file)

    def start(self, attempts: int = 3) -> dict[str, float]:
        """Starts the four hops in order, each after the previous one serves the zone;
        returns the seconds each took until it served (and, for the downstream, until it
        serves the signer's serial). The configurations name each other's ports, so a
        port taken by someone else between picking and binding (an ephemeral port of
        another client) restarts the whole chain on new ports, up to `attempts` times."""
        steps = [("owner", self._start_owner), ("combiner", self._start_combiner),
                 ("signer", self._start_knot_signer if self.signer_kind == "knot"
                  else self._start_hsync_signer),
                 ("downstream", self._start_downstream)]
        for attempt in range(1, attempts + 1):
            self._fresh_dirs()
            self.servers, self.timings = {}, {}
            try:
                for hop, fn in steps:
                    t0 = time.monotonic()
                    self.servers[hop] = fn()
                    self.timings[hop] = time.monotonic() - t0
                t0 = time.monotonic()
                self.wait_synced()
                self.timings["downstream"] += time.monotonic() - t0
                return dict(self.timings)
            except hsynctest.TestFailure as e:
                self.stop()
                in_use = re.search(r"(?i)address (already )?in use", str(e) + "".join(
                    _read(self.dir / h) for h in HOPS))
                if not in_use or attempt == attempts:
                    raise
                print(f"[signer_chain] a port was taken before its server bound it; "
                      f"restarting the chain on new ports (attempt {attempt + 1})", flush=True)
                self._pick_ports()
            except BaseException:
                self.stop()
                raise
        return dict(self.timings)

    def stop(self) -> None:
        for hop in reversed(HOPS):
            s = self.servers.get(hop)
            if s is not None:
                s.stop()

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False

    def process(self, hop: str) -> hsynctest.Process | None:
        s = self.servers.get(hop)
        return None if s is None else s.proc

    def log(self, hop: str) -> str:
        s = self.servers.get(hop)
        return "" if s is None else s.log()

    def alive(self) -> dict[str, bool]:
        return {h: (self.process(h) is not None and self.process(h).alive()) for h in HOPS}

    def _start_owner(self):
        s = self.secrets
        d = self.dir / "owner"
        return hsynctest.start_named_config(d, f"""
key "owner-xfr." {{ algorithm hmac-sha256; secret "{s['owner-xfr.']}"; }};
key "owner-upd." {{ algorithm hmac-sha256; secret "{s['owner-upd.']}"; }};
zone "{self.zone}" {{ type primary; file "{self.owner_file}";
    allow-transfer {{ key "owner-xfr."; }}; allow-update {{ key "owner-upd."; }};
    notify explicit; also-notify {{ 127.0.0.1 port {self.port['combiner']}; }};
    check-names ignore; check-integrity no; }};
""", port=self.port["owner"], options="notify-delay 0;", wait_zones=[self.zone],
            timeout=self.timeout)

    def _tsig_list(self, *names: str) -> list[dict]:
        return [{"name": n, "algorithm": "hmac-sha256", "secret": self.secrets[n]} for n in names]

    def _start_combiner(self):
        return hsynctest.start_hsyncd({
            "role": "combiner",
            "log-level": "info",
            "tsig-keys": self._tsig_list("owner-xfr.", "agent.", "signer-xfr."),
            "zones": [{"name": self.zone, "type": "secondary",
                       "primaries": [f"127.0.0.1:{self.port['owner']}"],
                       "transfer-key": "owner-xfr.", "allow-update": "key agent.",
                       "allow-transfer": "key signer-xfr.",
                       "notify": [f"127.0.0.1:{self.port['signer']}"]}]},
            self.dir / "combiner", port=self.port["combiner"], mgmt_port=self.mgmt_port["combiner"],
            wait_zones=[self.zone], timeout=self.timeout)

    # The hsyncd signer's configuration (role signer, docs in issue 6).
    def hsync_signer_config(self) -> dict:
        return {
            "role": "signer",
            "log-level": "info",
            "tsig-keys": self._tsig_list("signer-xfr.", "down-xfr."),
            "dnssec-policies": [{
                "name": "p1", "algorithm": "ecdsap256sha256", "keys": self.keys,
                "dnskey-ttl": self.dnskey_ttl, "signature-validity": "14d",
                "signature-refresh": "7d", "nsec3": self.nsec3, "publish-cds": False}],
            "zones": [{"name": self.zone, "type": "secondary",
                       "primaries": [f"127.0.0.1:{self.port['combiner']}"],
                       "transfer-key": "signer-xfr.",
                       "notify": [f"127.0.0.1:{self.port['downstream']}"],
                       "allow-transfer": "key down-xfr.",
                       "dnssec-policy": "p1"}]}

    def _start_hsync_signer(self):
        return hsynctest.start_hsyncd(self.hsync_signer_config(), self.dir / "signer",
                                      port=self.port["signer"], mgmt_port=self.mgmt_port["signer"],
                                      wait_zones=[self.zone], timeout=self.timeout)

    def knot_signer_config(self) -> str:
        """The knotd signer's configuration body (see docs/knot-signer.md)."""
        s, p, d = self.secrets, self.port, self.dir / "signer"
        delay = f"    delete-delay: {self.delete_delay}\n" if self.delete_delay else ""
        return f"""key:
  - id: signer-xfr.
    algorithm: hmac-sha256
    secret: {s['signer-xfr.']}
  - id: down-xfr.
    algorithm: hmac-sha256
    secret: {s['down-xfr.']}
remote:
  - id: combiner
    address: 127.0.0.1@{p['combiner']}
    key: signer-xfr.
  - id: downstream
    address: 127.0.0.1@{p['downstream']}
    key: down-xfr.
acl:
  - id: notify_from_combiner
    address: 127.0.0.1
    action: notify
  - id: transfer_to_downstream
    address: 127.0.0.1
    key: down-xfr.
    action: transfer
policy:
  - id: multisigner
    algorithm: ecdsap256sha256
    single-type-signing: {'on' if self.keys == 'csk' else 'off'}
    dnskey-ttl: {self.dnskey_ttl}
    zone-max-ttl: 86400
    ksk-lifetime: 0
    zsk-lifetime: 0
{delay}    rrsig-lifetime: 14d
    rrsig-refresh: 7d
    nsec3: {'on' if self.nsec3 else 'off'}
    nsec3-iterations: 0
    nsec3-salt-length: 0
    cds-cdnskey-publish: {self.cds_publish}
    dnskey-management: {self.dnskey_management}
    signing-threads: {self.signer_threads}
zone:
  - domain: {self.zone}
    master: combiner
    notify: downstream
    acl: [notify_from_combiner, transfer_to_downstream]
    file: {d}/storage/{self.zone.rstrip('.')}.zone
    zonefile-sync: -1
    zonefile-load: none
    journal-content: all
    journal-max-usage: {self.journal_mb}M
    dnssec-signing: on
    dnssec-policy: multisigner
"""

    def _start_knot_signer(self):
        return _start_knotd(self.dir / "signer", self.knot_signer_config(), self.port["signer"],
                            [self.zone], self.timeout, workers=max(1, self.signer_threads))

    def _start_downstream(self):
        s, p, d = self.secrets, self.port, self.dir / "downstream"
        body = f"""key:
  - id: down-xfr.
    algorithm: hmac-sha256
    secret: {s['down-xfr.']}
remote:
  - id: signer
    address: 127.0.0.1@{p['signer']}
    key: down-xfr.
acl:
  - id: notify_plain          # hsyncd's NOTIFY is not TSIG-signed
    address: 127.0.0.1
    action: notify
  - id: notify_tsig           # knotd signs its NOTIFY with the remote's key
    address: 127.0.0.1
    key: down-xfr.
    action: notify
  - id: transfer_out
    address: 127.0.0.1
    action: transfer
zone:
  - domain: {self.zone}
    master: signer
    acl: [notify_plain, notify_tsig, transfer_out]
    file: {d}/storage/{self.zone.rstrip('.')}.zone
    zonefile-sync: -1
    zonefile-load: none
    journal-content: all
    journal-max-usage: {self.journal_mb}M
"""
        return _start_knotd(d, body, p["downstream"], [self.zone], self.timeout)

    # ------------------------------------------------------------------ queries

    def serial(self, hop: str) -> int | None:
        """The SOA serial hop serves now (None: no answer)."""
        return hsynctest.soa_serial("127.0.0.1", self.port[hop], self.zone)

    def wait_serial(self, hop: str, want: int | Callable[[int], bool], timeout: float | None = None,
                    what: str = "") -> int:
        """Waits until hop serves a serial equal to `want` (an int) or for which
        want(serial) is true; returns it. Fails (with the hop's log tail) otherwise."""
        pred = want if callable(want) else (lambda s: s == want)
        timeout = self.timeout if timeout is None else timeout
        seen: list[int | None] = [None]

        def ok() -> bool:
            seen[0] = self.serial(hop)
            return seen[0] is not None and bool(pred(seen[0]))

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if ok():
                return seen[0]
            time.sleep(0.1)
        fail(f"{hop} (port {self.port[hop]}): no wanted serial of {self.zone} within {timeout:.0f}s "
             f"{what}(last seen {seen[0]}); log tail:\n" + _tail(self.log(hop), 25))
        return -1

    def _check_alive(self) -> None:
        for hop, up in self.alive().items():
            if hop in self.servers and not up:
                fail(f"{hop} exited with code {self.process(hop).popen.returncode}; log tail:\n"
                     + _tail(self.log(hop), 30))

    def wait_synced(self, timeout: float | None = None) -> int:
        """Waits until the downstream serves the signer's current serial; returns it."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last = (None, None)
        while time.monotonic() < deadline:
            self._check_alive()
            s, d = self.serial("signer"), self.serial("downstream")
            last = (s, d)
            if s is not None and s == d:
                return d
            time.sleep(0.1)
        fail(f"downstream did not reach the signer's serial within {timeout:.0f}s "
             f"(signer {last[0]}, downstream {last[1]}); downstream log tail:\n"
             + _tail(self.log("downstream"), 25))
        return -1

    def wait_signed_change(self, signer_serial_before: int, timeout: float | None = None) -> int:
        """After an input change: waits until the signer serves a serial after
        signer_serial_before (RFC 1982) and the downstream serves the signer's serial;
        returns the downstream's serial."""
        timeout = self.timeout if timeout is None else timeout
        t0 = time.monotonic()
        self.wait_serial("signer", lambda s: serial_after(s, signer_serial_before), timeout,
                         f"after {signer_serial_before} ")
        return self.wait_synced(max(1.0, timeout - (time.monotonic() - t0)))

    def axfr(self, hop: str, timeout: float | None = None) -> list[str]:
        """AXFR from hop (with the TSIG key that hop requires) as normalised RR lines, one
        SOA (first)."""
        res = self._dig_axfr(hop, timeout)
        out = []
        for line in res.stdout.splitlines():
            s = hsynctest.strip_comment(line).strip()
            if s:
                out.append(hsynctest.normalize_rr_line(s))
        check(len(out) >= 2 and out[0].split()[3] == "SOA",
              f"AXFR of {self.zone} from {hop}: no SOA first\n  " + res.describe())
        return out

    def rrs(self, hop: str) -> list[RR]:
        return records(self.axfr(hop))

    def query(self, hop: str, name: str, rtype: str) -> list[RR]:
        """The answer records (RRSIGs included, DO bit set) for name/type at hop, by one
        TCP query: cheap where an AXFR of a big zone is not."""
        r = hsynctest.run([hsynctest.require_program("dig"), "+norec", "+tcp", "+dnssec", "+nosplit",
                           "+noall", "+answer", "+time=5", "+tries=1", "-p", str(self.port[hop]),
                           "@127.0.0.1", name, rtype], timeout=30)
        return records(hsynctest.normalize_rr_line(hsynctest.strip_comment(ln))
                       for ln in r.stdout.splitlines() if hsynctest.strip_comment(ln).strip())

    def _dig_argv(self, hop: str) -> list[str]:
        argv = [hsynctest.require_program("dig"), "+nocmd", "+nostats", "+nocomments",
                "+noquestion", "+onesoa", "+nosplit", "+time=10", "+tries=1"]
        k = self.XFR_KEY[hop]
        if k:
            argv += ["-y", self.key(k)]
        return argv + ["-p", str(self.port[hop]), "@127.0.0.1", self.zone, "AXFR"]

    def _dig_axfr(self, hop: str, timeout: float | None) -> hsynctest.Result:
        res = hsynctest.run(self._dig_argv(hop), timeout=timeout or self.timeout, check_rc=None)
        if res.rc != 0 or "Transfer failed" in res.stdout or "failed" in res.stderr.lower():
            fail(f"AXFR of {self.zone} from {hop} failed\n  " + res.describe())
        return res

    def save_zone(self, hop: str, path: Path | None = None) -> Path:
        """Writes hop's AXFR to a zone file (streamed: fine for millions of records)."""
        path = Path(path or self.dir / f"{hop}-axfr.zone")
        with open(path, "w") as fh:
            p = subprocess.run(self._dig_argv(hop), stdout=fh, stderr=subprocess.PIPE, text=True,
                               timeout=self.timeout + 60)
        if p.returncode != 0 or "Transfer failed" in path.read_text(errors="replace")[-2000:]:
            fail(f"AXFR of {self.zone} from {hop} into {path} failed: rc {p.returncode} {p.stderr}")
        return path

    # ------------------------------------------------------------------ changes

    def combiner_update(self, script: str, key: str = "agent.") -> hsynctest.Result:
        """Sends an UPDATE (nsupdate commands) to the combiner with the agent's key;
        fails unless it succeeds."""
        r = hsynctest.nsupdate("127.0.0.1", self.port["combiner"], self.zone, script,
                               key=self.key(key), tcp=True)
        check(r.rc == 0, "UPDATE to the combiner failed\n  " + r.describe())
        return r

    def owner_update(self, script: str) -> int:
        """UPDATE at the owner's named (it bumps its serial); returns the owner's new serial."""
        before = self.serial("owner")
        r = hsynctest.nsupdate("127.0.0.1", self.port["owner"], self.zone, script,
                               key=self.key("owner-upd."), tcp=True)
        check(r.rc == 0, "UPDATE to the owner's named failed\n  " + r.describe())
        return self.wait_serial("owner", lambda s: s != before, 10, "after the owner's UPDATE ")

    def owner_change(self, add: Sequence[str] = (), delete: Sequence[str] = ()) -> int:
        """An owner change: adds (`NAME TTL TYPE RDATA`) and deletes (`NAME [TYPE [RDATA]]`)
        records at named by UPDATE; named bumps the serial and NOTIFYs the combiner.
        Returns the owner's new serial."""
        lines = [f"update delete {x}" for x in delete] + [f"update add {x}" for x in add]
        check(bool(lines), "owner_change: nothing to change")
        return self.owner_update("\n".join(lines))

    # ------------------------------------------------------------------ the signer's keys

    def signer_keys(self) -> list[dict]:
        """The signer's own keys: [{"tag", "algorithm", "role": ksk|zsk|csk, ...}]."""
        if self.signer_kind == "knot":
            r = hsynctest.run([hsynctest.require_program("keymgr"), "-c",
                               self.dir / "signer" / "knot.conf", "-j", self.zone, "list"], timeout=30)
            try:
                data = json.loads(r.stdout)
            except json.JSONDecodeError:
                fail("keymgr -j list: not JSON\n  " + r.describe())
            out = []
            for k in data if isinstance(data, list) else data.get("keys", []):
                ksk, zsk = bool(k.get("ksk")), bool(k.get("zsk"))
                out.append({"tag": int(k["tag"]), "algorithm": int(k["algorithm"]),
                            "role": "csk" if ksk and zsk else ("ksk" if ksk else "zsk"),
                            "raw": k})
            return out
        zs = json.loads(hsynctest.hsyncctl("--server", f"127.0.0.1:{self.mgmt_port['signer']}",
                                           "zone", "show", self.zone, "--json", timeout=30).stdout)
        # {"signing": {"keys": [{"tag", "algorithm", "role", "state", "flags", ...}]}}
        keys = (zs.get("signing") or {}).get("keys")
        check(isinstance(keys, list), f"hsyncctl zone show {self.zone} --json: no signing.keys list: {zs}")
        out = []
        for k in keys:
            alg = k.get("algorithm")
            out.append({"tag": int(k["tag"]), "algorithm": int(alg) if str(alg).isdigit() else alg,
                        "role": str(k["role"]).lower(), "raw": k})
        return out

    def signer_ksk_dnskey(self, hop: str = "signer") -> str:
        """The DNSKEY RDATA ("257 3 13 base64") of the signer's own KSK (or CSK), as
        published at hop."""
        ksks = [k["tag"] for k in self.signer_keys() if k["role"] in ("ksk", "csk")]
        check(len(ksks) == 1, f"expected one KSK/CSK of the signer, got tags {ksks}")
        found = [r for r in rrset(self.query(hop, self.zone, "DNSKEY"), self.zone, "DNSKEY")
                 if key_tag(r.fields) == ksks[0] and int(r.fields[0]) & 1]
        check(len(found) == 1, f"the signer's KSK {ksks[0]} is not in the DNSKEY RRset at {hop}")
        return found[0].rdata

    # ------------------------------------------------------------------ checks

    VERIFIERS = ("dnssec-verify", "kzonecheck", "ldns-verify-zone")

    def verify_zone(self, hop: str = "downstream", path: Path | None = None,
                    tools: Sequence[str] = VERIFIERS) -> dict[str, str]:
        """Runs dnssec-verify (with -z for a CSK policy: its KSK/ZSK split check does not
        apply), kzonecheck -d on and ldns-verify-zone (or the `tools` named) on hop's zone
        (one AXFR); fails with every failing tool's output unless all pass. Returns each
        tool's output, joined with " | "."""
        zf = self.save_zone(hop, path)
        n = self.zone
        t = self.timeout + 120
        argv = {"dnssec-verify": ["dnssec-verify"] + (["-z"] if self.keys == "csk" else []) + ["-o", n, zf],
                "kzonecheck": ["kzonecheck", "-o", n, "-d", "on", zf],
                "ldns-verify-zone": ["ldns-verify-zone", zf]}
        runs = {}
        for tool in tools:
            check(tool in argv, f"verify_zone: unknown tool {tool!r}")
            a = argv[tool]
            runs[tool] = hsynctest.run([hsynctest.require_program(a[0]), *a[1:]], check_rc=None, timeout=t)
        errs, out = [], {}
        for tool, r in runs.items():
            text = (r.stdout + r.stderr).strip()
            ok = r.rc == 0
            if tool == "dnssec-verify":
                ok = ok and "Zone fully signed" in text
            if tool == "ldns-verify-zone":
                ok = ok and "Zone is verified and complete" in text
            out[tool] = " | ".join(ln.strip() for ln in text.splitlines() if ln.strip())[:300]
            if not ok:
                errs.append(f"{tool} failed on {zf}\n  " + r.describe())
        if errs:
            fail("\n".join(errs))
        return out

    def delv(self, name: str, qtype: str = "A", anchor_dnskey: str | None = None,
             hop: str = "downstream") -> hsynctest.Result:
        """delv at hop with the signer's KSK (or anchor_dnskey) as the only trust anchor."""
        rd = (anchor_dnskey or self.signer_ksk_dnskey()).split()
        anchor = self.dir / "anchor.conf"
        anchor.write_text(f'trust-anchors {{ "{self.zone}" static-key {rd[0]} {rd[1]} {rd[2]} '
                          f'"{"".join(rd[3:])}"; }};\n')
        return hsynctest.run([hsynctest.require_program("delv"), "@127.0.0.1", "-p",
                              str(self.port[hop]), "-a", anchor, f"+root={self.zone}", name, qtype],
                             check_rc=None, timeout=30)

    def knot_signer_input_serial(self) -> int | None:
        """Knot only: the combiner serial the signer last took in (keymgr master-serial)."""
        if self.signer_kind != "knot":
            return None
        r = hsynctest.run([hsynctest.require_program("keymgr"), "-c", self.dir / "signer" / "knot.conf",
                           self.zone, "master-serial"], check_rc=None, timeout=30)
        m = re.search(r"(\d+)", r.stdout)
        return int(m.group(1)) if r.rc == 0 and m else None


# --------------------------------------------------------------------------- helpers


def serial_after(a: int, b: int) -> bool:
    """RFC 1982: a is after b."""
    return a != b and ((a - b) % (1 << 32)) < (1 << 31)


def _read(hopdir: Path) -> str:
    """Every *.log under a hop's directory (for start-up failure diagnosis)."""
    out = []
    for f in Path(hopdir).glob("*.log"):
        try:
            out.append(f.read_text(errors="replace")[-20000:])
        except OSError:
            pass
    return "".join(out)


def _tail(text: str, lines: int) -> str:
    parts = text.rstrip("\n").split("\n")[-lines:]
    return "\n".join("    | " + p for p in parts)


def _start_knotd(workdir: Path, body: str, port: int, zones: Sequence[str], timeout: float,
                 workers: int = 1) -> hsynctest.Server:
    """knotd -c workdir/knot.conf on 127.0.0.1:port; storage (zones, journal, KASP DB)
    under workdir/storage; waits until every zone answers SOA."""
    return hsynctest.start_knotd_config(workdir, body, port=port, wait_zones=zones, timeout=timeout,
                                        workers=workers, tcp_workers=2)


# --------------------------------------------------------------------------- shared checks


def print_verify(label: str, out: dict[str, str]) -> None:
    """One line of what Chain.verify_zone() found (it fails the test on any error)."""
    dv = re.search(r"KSKs:[^|]*\| ZSKs:[^|]*", out["dnssec-verify"])
    kz = out.get("kzonecheck")
    print(f"  verify ({label}): dnssec-verify {dv.group(0) if dv else out['dnssec-verify'][:120]!r}; "
          f"kzonecheck -d on: {'ok' + ((' ' + kz[:80]) if kz else '') if kz is not None else 'not run'}; "
          f"ldns-verify-zone: {out.get('ldns-verify-zone', '-')!r}")


def tags(rrs) -> list[int]:
    return sorted(key_tag(r.fields) for r in rrs)


def delv_ok(c: "Chain", name: str, qtype: str = "A", anchor: str | None = None) -> tuple[bool, str]:
    """delv through the downstream with the signer's KSK (or `anchor`) as trust anchor."""
    r = c.delv(name, qtype, anchor)
    ok = re.search(r"(?m)^; (negative response, )?fully validated$", r.stdout) is not None
    return ok, (r.stdout + r.stderr).strip()


def check_csk_nsec3_keeps_foreign_csk(c: "Chain", keydir: Path) -> None:
    """For a started chain whose signer uses one CSK and NSEC3: another provider's CSK
    (RFC 8901 §7) put through the combiner is kept, the DNSKEY RRset with it is signed by
    our CSK alone, and the zone validates."""
    zone = c.zone
    own = c.signer_keys()
    check([k["role"] for k in own] == ["csk"], f"the signer should have made one CSK: {own}")
    rrs = c.rrs("downstream")
    check(len(rrset(rrs, zone, "NSEC3PARAM")) == 1 and not any(r.type == "NSEC" for r in rrs),
          "the NSEC3 chain is missing (or NSEC is used)")
    c.verify_zone()
    fcsk = foreign_key(keydir, zone, ksk=True)
    before = c.serial("signer")
    c.combiner_update(f"update add {zone} {c.dnskey_ttl} DNSKEY {fcsk}")
    s = c.wait_signed_change(before)
    rrs = c.rrs("downstream")
    keys = rrset(rrs, zone, "DNSKEY")
    csk = next(k for k in keys if key_tag(k.fields) == own[0]["tag"])
    sigs = rrsigs(rrs, zone, "DNSKEY")
    check(tags(keys) == sorted([own[0]["tag"], key_tag(fcsk.split())]),
          f"DNSKEY tags {tags(keys)}: want our CSK and the foreign one")
    check([int(x.fields[6]) for x in sigs] == [own[0]["tag"]] and verify_rrsig(keys, sigs[0], csk) is None,
          "RRSIG(DNSKEY) by our CSK does not verify over the RRset with the foreign CSK")
    # kzonecheck -d on (3.2.6) rejects every CSK-signed zone that also publishes a key which
    # signs nothing ("no valid signature for a record"), so it is left out here (see
    # docs/knot-signer.md); dnssec-verify -z and ldns-verify-zone check it.
    out = c.verify_zone(tools=("dnssec-verify", "ldns-verify-zone"))
    print(f"  CSK + foreign CSK, serial {s}: dnssec-verify -z: "
          f"{re.search(r'KSKs:[^|]*', out['dnssec-verify']).group(0).strip()}; "
          f"ldns-verify-zone: {out['ldns-verify-zone']!r}")
    for name in (f"www.{zone}", f"nothere.{zone}"):
        ok, text = delv_ok(c, name, "A")
        check(ok, f"delv {name} (NSEC3) with our CSK as the anchor:\n{text}")
    print(f"  CSK {own[0]['tag']} + NSEC3: foreign CSK kept, RRSIG(DNSKEY) verifies, "
          f"delv validates www and the NXDOMAIN")
