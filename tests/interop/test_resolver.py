#!/usr/bin/env python3
"""The validating resolver (net::resolver on libunbound) through `hsyncctl resolve`,
against BIND: zones signed by `hsyncctl zone sign`, served by `named` on loopback, and
every verdict compared with BIND's own validator, `delv`, on the same query.

- a signed name is secure, with the same records and RRSIGs as delv shows; so are an
  NXDOMAIN and a NODATA answer (authenticated denial), also with the trust anchor from a
  file and with cache-max-ttl 0 (the scanner's setting: TTL still the zone's);
- a trust anchor for another key than the zone's is bogus, with libunbound's reason, as
  delv fails too;
- an unsigned child below a signed parent (the parent through --forward, the child by
  --stub on another server, whose different data proves the stub is used) is insecure;
- a server that never answers gives a timeout within the --timeout given;
- usage errors exit 2.
"""

import json
import socket
import sys
import time
from pathlib import Path

import hsynctest as ht
from hsynctest import check, fail

ZONE = "lab."
CHILD = "insecure.lab."

LAB_ZONE = """$TTL 300
lab. IN SOA ns.lab. hostmaster.lab. 1 3600 600 86400 60
lab. IN NS ns.lab.
ns.lab. IN A 127.0.0.1
www.lab. IN A 192.0.2.1
www.lab. IN A 192.0.2.2
www.lab. 600 IN TXT "hello" "world"
insecure.lab. IN NS ns.insecure.lab.
ns.insecure.lab. IN A 127.0.0.1
"""

# The unsigned child, as the parent's server has it (for delv) and as its own server has
# it (the stub): the addresses differ, so an answer shows which server gave it.
CHILD_ZONE = """$TTL 300
insecure.lab. IN SOA ns.insecure.lab. hostmaster.lab. 1 3600 600 86400 60
insecure.lab. IN NS ns.insecure.lab.
ns.insecure.lab. IN A 127.0.0.1
www.insecure.lab. IN A {address}
"""


class Lab:
    """lab. signed with one CSK; `parent` (named) serves lab. and a copy of the child;
    `child` (named, started on demand) serves the child alone."""

    def __init__(self, d: Path):
        self.d = d
        hs = ht.hsyncctl_path()
        self.key = d / ht.run([hs, "keygen", "--algorithm", "13", "--csk", "-K", d, ZONE]).stdout.strip()
        other = d / "other"
        other.mkdir()
        self.other_key = other / ht.run([hs, "keygen", "--algorithm", "13", "--csk", "-K", other,
                                         ZONE]).stdout.strip()
        self.ds = self.ds_of(self.key)
        self.other_ds = self.ds_of(self.other_key)
        (d / "lab.zone").write_text(LAB_ZONE)
        ht.run([hs, "zone", "sign", d / "lab.zone", "--origin", ZONE, "--key", self.key,
                "-o", d / "lab.signed"])
        (d / "child-copy.zone").write_text(CHILD_ZONE.format(address="192.0.2.99"))
        (d / "child.zone").write_text(CHILD_ZONE.format(address="192.0.2.9"))
        self.parent = ht.start_named(None, None, d / "named-parent",
                                     zones=[(ZONE, d / "lab.signed"),
                                            (CHILD, d / "child-copy.zone")])
        self.child = None

    @staticmethod
    def ds_of(key: Path) -> str:
        """'lab. IN DS TAG ALG 2 HEX' from `hsyncctl keyinfo`."""
        info = ht.run([ht.hsyncctl_path(), "keyinfo", key]).stdout
        for line in info.splitlines():
            if line.startswith("ds "):
                return f"{ZONE} 3600 IN DS {line[3:].strip()}"
        fail(f"no DS line in keyinfo output:\n{info}")

    def start_child(self):
        self.child = ht.start_named(None, None, self.d / "named-child",
                                    zones=[(CHILD, self.d / "child.zone")])

    def delv_anchor(self, ds: str, name: str) -> Path:
        """delv's -a file (named.conf trust-anchors syntax) for a DS record."""
        tag, alg, digest_type, digest = ds.split()[4:8]
        path = self.d / name
        path.write_text(f'trust-anchors {{ {ZONE} static-ds {tag} {alg} {digest_type} "{digest}"; }};\n')
        return path


def resolve(*args, check_rc=None, timeout=60) -> ht.Result:
    return ht.hsyncctl("resolve", *args, check_rc=check_rc, timeout=timeout)


def resolve_json(*args, rc: int) -> dict:
    r = resolve(*args, "--json")
    check(r.rc == rc, f"expected exit code {rc}\n  " + r.describe())
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        fail("--json output is not JSON\n  " + r.describe())


def delv(server_port: int, anchor: Path, name: str, qtype: str) -> ht.Result:
    return ht.run([ht.require_program("delv"), "@127.0.0.1", "-p", server_port, "-a", anchor,
                   f"+root={ZONE}", "+nosplit", "+norrcomments", name, qtype], check_rc=None,
                  timeout=60)


def rr_key(line: str) -> str:
    """A record line compared across tools: whitespace normalised, comments dropped, the
    base64 of an RRSIG joined (in case delv splits it), the owner lower-cased."""
    t = ht.normalize_rr_line(ht.strip_comment(line)).split(" ")
    if len(t) > 13 and t[3] == "RRSIG":
        t = t[:12] + ["".join(t[12:])]
    t[0] = t[0].lower()
    return " ".join(t)


def records(text: str) -> list[str]:
    return sorted(rr_key(ln) for ln in text.splitlines() if ln.strip() and not ln.startswith(";"))


def first_line(text: str) -> str:
    return text.splitlines()[0] if text.strip() else ""


def test_secure_answers_match_delv():
    with ht.TempDir("resolver-secure") as d:
        lab = Lab(d)
        anchor = lab.delv_anchor(lab.ds, "ta.conf")
        stub = f"{ZONE}=127.0.0.1@{lab.parent.port}"
        for name, qtype in [("www.lab.", "A"), ("www.lab.", "TXT"), ("lab.", "DNSKEY"),
                            ("lab.", "SOA")]:
            ours = resolve(name, qtype, "--trust-anchor", lab.ds, "--stub", stub)
            theirs = delv(lab.parent.port, anchor, name, qtype)
            what = f"{name} {qtype}"
            check(ours.rc == 0 and first_line(ours.stdout) == "; fully validated",
                  f"{what}: expected a secure answer\n  " + ours.describe())
            check(first_line(theirs.stdout) == "; fully validated",
                  f"{what}: delv does not validate it\n  " + theirs.describe())
            check(any(r.split(" ")[3] == "RRSIG" for r in records(ours.stdout)),
                  f"{what}: no RRSIG printed\n  " + ours.describe())
            ht.assert_lines_equal(records(theirs.stdout), records(ours.stdout),
                                  f"{what}: records", "delv", "hsyncctl resolve")

        # Authenticated denial: NXDOMAIN and NODATA, trust anchor from a file.
        ta_file = d / "ta.ds"
        ta_file.write_text(lab.ds + "\n")
        for name, qtype, nx in [("nope.lab.", "A", True), ("www.lab.", "MX", False)]:
            what = f"{name} {qtype}"
            j = resolve_json(name, qtype, "--trust-anchor-file", ta_file, "--stub", stub, rc=0)
            check(j["security"] == "secure" and j["nxdomain"] == nx and not j["havedata"]
                  and j["records"] == [] and j["rcode"] == (3 if nx else 0),
                  f"{what}: expected a secure {'NXDOMAIN' if nx else 'NODATA'}, got {j}")
            check(j["ttl"] == 60, f"{what}: negative TTL should be the SOA minimum 60, got {j}")
            theirs = delv(lab.parent.port, anchor, name, qtype)
            check(first_line(theirs.stdout) == "; negative response, fully validated",
                  f"{what}: delv disagrees\n  " + theirs.describe())
            ours = resolve(name, qtype, "--trust-anchor-file", ta_file, "--stub", stub)
            check(ours.rc == 0 and first_line(ours.stdout) == "; negative response, fully validated",
                  f"{what}: text output\n  " + ours.describe())

        # cache-max-ttl 0 (every query to the server): still secure, TTL the zone's.
        j = resolve_json("www.lab.", "TXT", "--trust-anchor", lab.ds, "--stub", stub,
                         "--cache-max-ttl", "0", rc=0)
        check(j["security"] == "secure" and j["ttl"] == 600 and len(j["records"]) == 1
              and len(j["signatures"]) == 1,
              f"cache-max-ttl 0: expected secure TXT with ttl 600, got {j}")


def test_wrong_key_is_bogus():
    with ht.TempDir("resolver-bogus") as d:
        lab = Lab(d)
        stub = f"{ZONE}=127.0.0.1@{lab.parent.port}"
        ours = resolve("www.lab.", "A", "--trust-anchor", lab.other_ds, "--stub", stub)
        check(ours.rc == 1 and first_line(ours.stdout).startswith("; validation failed: "),
              "a DS of another key should make the answer bogus\n  " + ours.describe())
        check("trust anchor" in ours.stdout or "DS" in ours.stdout,
              "the reason should name the chain of trust\n  " + ours.describe())
        check(not records(ours.stdout), "bogus data must not be printed\n  " + ours.describe())
        j = resolve_json("www.lab.", "A", "--trust-anchor", lab.other_ds, "--stub", stub, rc=1)
        check(j["security"] == "bogus" and j["reason"] and j["records"] == [],
              f"expected bogus with a reason, got {j}")
        # delv fails the same query (it prints why on stderr, no "; fully validated").
        theirs = delv(lab.parent.port, lab.delv_anchor(lab.other_ds, "ta-other.conf"),
                      "www.lab.", "A")
        check("fully validated" not in theirs.stdout and "resolution failed" in theirs.stderr,
              "delv should fail the chain of trust too\n  " + theirs.describe())


def test_unsigned_delegation_is_insecure():
    with ht.TempDir("resolver-insecure") as d:
        lab = Lab(d)
        lab.start_child()
        # delv on the parent's server (which also has a copy of the child).
        anchor = lab.delv_anchor(lab.ds, "ta.conf")
        theirs = delv(lab.parent.port, anchor, "www.insecure.lab.", "A")
        check(first_line(theirs.stdout) == "; unsigned answer",
              "delv: expected an unsigned answer\n  " + theirs.describe())
        ours = resolve("www.insecure.lab.", "A", "--trust-anchor", lab.ds,
                       "--forward", f"127.0.0.1#{lab.parent.port}")
        check(ours.rc == 1 and first_line(ours.stdout) == "; unsigned answer",
              "forwarder: expected an unsigned answer\n  " + ours.describe())
        ht.assert_lines_equal(records(theirs.stdout), records(ours.stdout),
                              "www.insecure.lab. A through the forwarder", "delv",
                              "hsyncctl resolve")
        # The parent through the forwarder, the child from its own server (the stub).
        j = resolve_json("www.insecure.lab.", "A", "--trust-anchor", lab.ds,
                         "--forward", f"127.0.0.1@{lab.parent.port}",
                         "--stub", f"{CHILD}=127.0.0.1@{lab.child.port}", rc=1)
        check(j["security"] == "insecure" and j["reason"] == "" and j["havedata"],
              f"stub: expected insecure data, got {j}")
        check([ht.normalize_rr_line(r) for r in j["records"]]
              == ["www.insecure.lab. 300 IN A 192.0.2.9"],
              f"stub: the answer should come from the child's own server, got {j['records']}")
        # And a signed name through the same configuration stays secure.
        j = resolve_json("www.lab.", "A", "--trust-anchor", lab.ds,
                         "--forward", f"127.0.0.1@{lab.parent.port}",
                         "--stub", f"{CHILD}=127.0.0.1@{lab.child.port}", rc=0)
        check(j["security"] == "secure" and len(j["records"]) == 2, f"expected secure, got {j}")


def test_silent_server_times_out():
    with ht.TempDir("resolver-timeout") as d:
        lab_ds = Lab.ds_of(d / ht.run([ht.hsyncctl_path(), "keygen", "--csk", "-K", d,
                                        ZONE]).stdout.strip())
        # A server that takes queries and never answers: a bound UDP socket nobody reads,
        # a TCP listener that never accepts.
        port = ht.free_port()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind(("127.0.0.1", port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("127.0.0.1", port))
            tcp.listen(16)
            t0 = time.monotonic()
            j = resolve_json("www.lab.", "A", "--trust-anchor", lab_ds,
                             "--stub", f"{ZONE}=127.0.0.1@{port}", "--timeout", "1500", rc=1)
            took = time.monotonic() - t0
            check(j["security"] == "timeout" and "1500 ms" in j["reason"],
                  f"expected a timeout, got {j}")
            check(1.4 <= j["elapsed_ms"] / 1000 <= 2.0 and took < 6,
                  f"the deadline was 1500 ms: the query took {j['elapsed_ms']} ms, the command "
                  f"{took:.2f}s")
            r = resolve("www.lab.", "A", "--trust-anchor", lab_ds,
                        "--forward", f"127.0.0.1#{port}", "--timeout", "800")
            check(r.rc == 1 and first_line(r.stdout).startswith("; resolution failed: timeout"),
                  "forwarder that never answers: expected a timeout\n  " + r.describe())
        finally:
            udp.close()
            tcp.close()


def test_usage_errors_exit_2():
    ds = "lab. 3600 IN DS 38225 13 2 D41444DAC4925BA5B4A53523DC91F5923B5320BC5E70B0A343EFC6E5691DA12D"
    cases = [
        ("no trust anchor", ["www.lab.", "A"]),
        ("anchor not DS/DNSKEY", ["www.lab.", "A", "--trust-anchor", "lab. IN A 192.0.2.1"]),
        ("bad anchor", ["www.lab.", "A", "--trust-anchor", "lab. IN DS 1 2"]),
        ("missing type", ["www.lab.", "--trust-anchor", ds]),
        ("bad type", ["www.lab.", "NOSUCHTYPE", "--trust-anchor", ds]),
        ("bad forwarder", ["www.lab.", "A", "--trust-anchor", ds, "--forward", "nowhere"]),
        ("bad port", ["www.lab.", "A", "--trust-anchor", ds, "--forward", "127.0.0.1#99999"]),
        ("bad stub", ["www.lab.", "A", "--trust-anchor", ds, "--stub", "lab.127.0.0.1"]),
        ("bad timeout", ["www.lab.", "A", "--trust-anchor", ds, "--timeout", "0"]),
        ("unknown option", ["www.lab.", "A", "--trust-anchor", ds, "--frobnicate"]),
        ("missing file", ["www.lab.", "A", "--trust-anchor-file", "/nonexistent/ta"]),
    ]
    for what, args in cases:
        r = resolve(*args)
        check(r.rc == 2 and r.stderr.strip(),
              f"{what}: expected exit code 2 and a message\n  " + r.describe())
    r = resolve("--help")
    check(r.rc == 0 and "--trust-anchor" in r.stdout, "--help\n  " + r.describe())


if __name__ == "__main__":
    sys.exit(ht.run_tests(globals()))
