"""Every inbound agent message is checked before anything is done with it (docs/agent.md,
docs/protocol.md §9). A misbehaving peer, driven from here with BIND's dig, which makes
SIG(0)-signed NOTIFYs (`dig -k KEYFILE +opcode=notify`) with RFC 2931's signed data, and
with raw bytes for forged and replayed messages, talks to p1-agent of a 2-provider lab:

- a HELLO and a HEARTBEAT signed by dig with p2-agent's published key are accepted;
- unsigned, forged signature, replayed, expired (signed here from RFC 2931's text, since
  dig cannot sign in the past), a key that is not
  the published one, a sender not in the zone's HSYNC RRset: each REFUSED or NOTAUTH,
  counted by reason in /metrics, logged with the reason, and no state changes;
- the agent's own signed answer verifies, with code written here from RFC 2931 §3.1 (the
  SIG last, type covered 0, signed data = SIG RDATA | our request | the answer before the
  SIG), against the KEY it publishes.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

import hsynctest
from hsynctest import check, fail

OPTION = "+ednsopt=65050:01010300"  # Multi-Signer: HELLO, DNS, leader/follower + peer
BEAT = "+ednsopt=65050:02010300"


def lab(*args, **kw):
    kw.setdefault("timeout", 180)
    return hsynctest.hsyncctl("lab", *args, **kw)


def rcode_of(wire: bytes) -> int:
    return wire[3] & 0x0F


class Capture:
    """A UDP socket dig sends to: keeps the query bytes; with `forward`, passes them to the
    agent and the answer back."""

    def __init__(self, forward: int | None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.forward = forward
        self.query = b""
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            data, addr = self.sock.recvfrom(65535)
        except OSError:
            return
        self.query = data
        if self.forward:
            self.sock.sendto(exchange(self.forward, data), addr)

    def close(self):
        self.thread.join(15)
        self.sock.close()


def exchange(port: int, wire: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(wire, ("127.0.0.1", port))
        return s.recvfrom(65535)[0]


def dig_notify(port: int, qname: str, option: str, key: str | None = None) -> hsynctest.Result:
    argv = [hsynctest.require_program("dig"), "+opcode=notify", "+norecurse", "+time=2",
            "+tries=1", option, "-p", str(port), "@127.0.0.1", qname, "SOA"]
    if key:
        argv[1:1] = ["-k", key]
    return hsynctest.run(argv, check_rc=None, timeout=30)


def status_of(out: str) -> str | None:
    for line in out.splitlines():
        if "status:" in line:
            return line.split("status:")[1].split(",")[0].strip()
    return None


class Agent:
    def __init__(self, proc: dict):
        self.p = proc

    def get(self, path: str):
        status, body = hsynctest.management_request(self.p["management_port"], "GET", path,
                                                    key_file=self.p["management_key_file"])
        check(status == 200, f"GET {path}: HTTP {status} {body}")
        return body

    def refused(self, reason: str) -> float:
        for line in self.get("/metrics").splitlines():
            if line.startswith("hsync_agent_messages_refused_total") and f'reason="{reason}"' in line:
                return float(line.split()[-1])
        return 0.0

    def received(self, operation: str) -> float:
        for line in self.get("/metrics").splitlines():
            if (line.startswith("hsync_agent_messages_received_total") and
                    f'operation="{operation}"' in line):
                return float(line.split()[-1])
        return 0.0

    def state(self) -> dict:
        """What a refused message must not change: relations and the zone's negotiation."""
        peers = json.loads(self.get("/agent/peers"))["peers"]
        zone = json.loads(self.get("/agent/zone/example.lab."))
        return {"peers": [(p["identity"], p["state"], p["last_hello"], p["capabilities"])
                          for p in peers],
                "zone": (zone["state"], zone["transport"], zone["sync"],
                         [(p["identity"], p["hello"]) for p in zone["peers"]])}


def name_wire(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def new_id(wire: bytes) -> bytes:
    return os.urandom(2) + wire[2:]


def sig0_sign(message: bytes, private_file: str, signer: str, tag: int, inception: int,
              expiration: int) -> bytes:
    """RFC 2931 §3: a SIG RR (type covered 0, labels 0, original TTL 0, class ANY, TTL 0)
    appended to `message`, signing SIG RDATA-without-signature | message-before-the-SIG,
    with an ECDSA P-256 key (algorithm 13; signature r | s, RFC 6605 §4) read from a BIND
    private key file."""
    fields = dict(line.split(": ", 1) for line in Path(private_file).read_text().splitlines()
                  if ": " in line)
    check(fields.get("Algorithm", "").startswith("13"), "not an ECDSAP256SHA256 key")
    scalar = int.from_bytes(base64.b64decode(fields["PrivateKey"]), "big")
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    head = struct.pack("!HBBIIIH", 0, 13, 0, 0, expiration, inception, tag) + name_wire(signer)
    r, s = decode_dss_signature(key.sign(head + message, ec.ECDSA(hashes.SHA256())))
    rdata = head + r.to_bytes(32, "big") + s.to_bytes(32, "big")
    sig_rr = b"\0" + struct.pack("!HHIH", 24, 255, 0, len(rdata)) + rdata
    out = bytearray(message)
    out[10:12] = struct.pack("!H", struct.unpack("!H", message[10:12])[0] + 1)
    return bytes(out) + sig_rr


def skip_name(wire: bytes, i: int) -> int:
    while wire[i]:
        if wire[i] & 0xC0 == 0xC0:
            return i + 2
        i += wire[i] + 1
    return i + 1


def sig0_verify_response(response: bytes, request: bytes, key_file: Path, signer: str) -> None:
    """RFC 2931 §3.1 for a response: the signature covers the SIG RDATA without the
    signature, the request as sent, and the response up to the SIG with ARCOUNT less one.
    The SIG must be the last record; its key is the public key of the BIND .key file."""
    qd, an, ns, ar = struct.unpack("!HHHH", response[4:12])
    check(ar >= 1, "the answer carries no SIG(0)")
    i = 12
    for _ in range(qd):
        i = skip_name(response, i) + 4
    start = i
    for n in range(an + ns + ar):
        start = i
        i = skip_name(response, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", response[i:i + 10])
        i += 10 + rdlen
    check(i == len(response) and rtype == 24, "the SIG(0) is not the last record")
    owner_end = skip_name(response, start)
    rdata = response[owner_end + 10:]
    covered, alg, labels, ottl, expiration, inception, tag = struct.unpack("!HBBIIIH", rdata[:18])
    check(covered == 0 and labels == 0 and ottl == 0 and alg == 13,
          f"SIG(0) fields: covered {covered} labels {labels} original TTL {ottl} alg {alg}")
    now = int(time.time())
    check(inception <= now <= expiration, "the answer's SIG(0) is not valid now")
    name_end = skip_name(rdata, 18)
    check(rdata[18:name_end] == name_wire(signer), "the SIG(0) signer name is not the KEY's owner")
    signature = rdata[name_end:]
    check(len(signature) == 64, "an ECDSA P-256 signature is 64 octets (RFC 6605)")
    before = bytearray(response[:start])
    before[10:12] = struct.pack("!H", ar - 1)
    data = rdata[:name_end] + request + bytes(before)
    key_text = [l for l in key_file.read_text().splitlines() if l and not l.startswith(";")][0]
    fields = key_text.split()
    public = base64.b64decode("".join(fields[fields.index("KEY") + 4:]))
    x, y = int.from_bytes(public[:32], "big"), int.from_bytes(public[32:], "big")
    pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    try:
        pub.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        fail("p1's answer does not verify as RFC 2931 §3.1 defines the signed data")


def keygen(d: Path, owner: str) -> str:
    r = hsynctest.run([hsynctest.require_program("dnssec-keygen"), "-K", str(d), "-T", "KEY",
                       "-n", "HOST", "-a", "ECDSAP256SHA256", owner], timeout=30)
    return str(d / (r.stdout.strip() + ".private"))


def test_agent_messages_from_a_misbehaving_peer():
    with hsynctest.TempDir("hsync-agent-sec") as d:
        r = lab("up", "--providers", "2", "--spare", "0", "--dir", d, check_rc=None, timeout=300)
        if r.rc != 0:
            fail("lab up failed:\n" + r.describe())
        try:
            run_checks(d)
        finally:
            lab("down", "--dir", d, check_rc=None)


def run_checks(d: Path) -> None:
    st = json.loads(lab("status", "--json", "--dir", d, check_rc=None).stdout)
    procs = {p["name"]: p for p in st["processes"]}
    p1 = Agent(procs["p1-agent"])
    port = procs["p1-agent"]["dns_port"]
    sig0_dir = Path(procs["p2-agent"]["data_dir"]) / "agent" / "sig0"
    published = [str(f) for f in sig0_dir.glob("*.private")]
    check(len(published) == 1, f"p2-agent's SIG(0) key files: {published}")
    p2_key = published[0]
    log_path = Path(procs["p1-agent"]["log"])

    # --- accepted: dig -k with the published key, HELLO and HEARTBEAT.
    hellos = p1.received("hello")
    r = dig_notify(port, "example.lab.", OPTION, key=p2_key)
    check(status_of(r.stdout) == "NOERROR", "HELLO signed by dig -k:\n" + r.stdout + r.stderr)
    check(p1.received("hello") == hellos + 1, "the HELLO was not counted as received")
    beats = p1.received("heartbeat")
    r = dig_notify(port, "agent.p2.lab.", BEAT, key=p2_key)
    check(status_of(r.stdout) == "NOERROR", "HEARTBEAT signed by dig -k:\n" + r.stdout + r.stderr)
    check(p1.received("heartbeat") == beats + 1, "the HEARTBEAT was not counted")

    # The relation's timestamps move with real traffic (beats every 5 s): compare the parts
    # a refused message could change.
    before = p1.state()

    def refused_case(what: str, reason: str, expect_status: str, send) -> None:
        n = p1.refused(reason)
        status = send()
        check(status == expect_status, f"{what}: answered {status}, expected {expect_status}")
        check(p1.refused(reason) == n + 1, f"{what}: refused{{reason={reason}}} not counted")
        after = p1.state()
        check([(i, s, c) for i, s, _, c in after["peers"]] ==
              [(i, s, c) for i, s, _, c in before["peers"]] and after["zone"] == before["zone"],
              f"{what} changed the agent's state:\n{before}\n{after}")
        check(f"reason={reason}" in log_path.read_text(), f"{what}: no log line with the reason")

    # Unsigned.
    refused_case("unsigned HELLO", "unsigned", "REFUSED",
                 lambda: status_of(dig_notify(port, "example.lab.", OPTION).stdout))

    # Replayed: a HELLO captured on its way, delivered, then sent again byte for byte.
    cap = Capture(forward=port)
    r = dig_notify(cap.port, "example.lab.", OPTION, key=p2_key)
    cap.close()
    check(status_of(r.stdout) == "NOERROR" and cap.query, "the captured HELLO was not accepted")
    refused_case("replayed HELLO", "replayed", "NOTAUTH",
                 lambda: {9: "NOTAUTH", 5: "REFUSED"}.get(rcode_of(exchange(port, cap.query))))

    # Forged: a fresh signed HELLO (never delivered) with one octet of the signature changed.
    cap = Capture(forward=None)
    dig_notify(cap.port, "example.lab.", OPTION, key=p2_key)
    cap.close()
    forged = bytearray(cap.query)
    forged[-5] ^= 0x5A
    refused_case("forged signature", "bad-signature", "NOTAUTH",
                 lambda: {9: "NOTAUTH", 5: "REFUSED"}.get(rcode_of(exchange(port, bytes(forged)))))

    # Expired: dig cannot sign in the past (libfaketime breaks its clock), so a small signer
    # written from RFC 2931 §3.1 signs dig's unsigned HELLO: first now (accepted, which
    # checks the signer), then an hour ago (its validity now-3600±300).
    cap = Capture(forward=None)
    dig_notify(cap.port, "example.lab.", OPTION)
    cap.close()
    unsigned = cap.query
    tag = int(Path(p2_key).name.split("+")[-1].split(".")[0])
    now = int(time.time())
    fresh = sig0_sign(unsigned, p2_key, "dns.agent.p2.lab.", tag, now - 300, now + 300)
    answer = exchange(port, fresh)
    check(rcode_of(answer) == 0, "a HELLO signed by the RFC 2931 signer here was not accepted")
    # p1's answer is signed over our request as RFC 2931 §3.1 says: checked here against
    # p1's published KEY, by code that is not hsync's.
    p1_key = next((Path(procs["p1-agent"]["data_dir"]) / "agent" / "sig0").glob("*.key"))
    sig0_verify_response(answer, fresh, p1_key, "dns.agent.p1.lab.")
    stale = sig0_sign(new_id(unsigned), p2_key, "dns.agent.p2.lab.", tag, now - 3900, now - 3300)
    refused_case("expired signature", "stale", "NOTAUTH",
                 lambda: {9: "NOTAUTH", 5: "REFUSED"}.get(rcode_of(exchange(port, stale))))

    # A key for p2's name that is not the one p2 publishes.
    with hsynctest.TempDir("hsync-agent-keys") as kd:
        other = keygen(Path(kd), "dns.agent.p2.lab.")
        refused_case("unpublished key", "key-mismatch", "NOTAUTH",
                     lambda: status_of(dig_notify(port, "example.lab.", OPTION, key=other).stdout))
        # A sender the zone's HSYNC RRset does not name.
        stranger = keygen(Path(kd), "dns.agent.p9.lab.")
        refused_case("sender not in HSYNC", "not-in-hsync", "REFUSED",
                     lambda: status_of(dig_notify(port, "example.lab.", OPTION,
                                                  key=stranger).stdout))
    # And a HELLO for a zone that is not multi-signer here.
    refused_case("HELLO for an unknown zone", "unknown-zone", "REFUSED",
                 lambda: status_of(dig_notify(port, "nosuch.lab.", OPTION, key=p2_key).stdout))

    # The process still serves and its relations are intact.
    time.sleep(0.5)
    peers = json.loads(p1.get("/agent/peers"))["peers"]
    check([p["state"] for p in peers] == ["OPERATIONAL"], f"p1's relations: {peers}")


if __name__ == "__main__":
    raise SystemExit(hsynctest.run_tests(globals()))
