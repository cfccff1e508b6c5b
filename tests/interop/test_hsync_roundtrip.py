#!/usr/bin/env python3
"""HSYNC (type 65290) through BIND and Knot and back.

`hsyncctl rr` converts HSYNC records to RFC 3597 form (checked byte for byte against an
encoder written here from docs/protocol.md); a zone with those records is served by `named`
and by `knotd` as primary; AXFR with `dig` and `kdig` from each; every TYPE65290 line of
the transfer is converted back with `hsyncctl rr` and must give the original RDATA and
the canonical HSYNC presentation; the whole transfer read by `hsyncctl zone print`
shows the same HSYNC records. Bad HSYNC input is rejected with a message.
"""

import re
import sys
from pathlib import Path

import hsynctest as ht
from hsynctest import check, fail

HSYNC_TYPE = 65290
STATE = {"ON": 1, "OFF": 2}
NSMGMT = {"OWNER": 1, "AGENT": 2}
SIGN = {"YES": 1, "NO": 2}
ZONE = "rt.example."

# (input line, owner, ttl, state, nsmgmt, sign, identity): tokens in any case or numbers
RECORDS = [
    ("rt.example. 3600 IN HSYNC ON AGENT YES agent.p1.example.",
     "rt.example.", 3600, "ON", "AGENT", "YES", "agent.p1.example."),
    ("rt.example. 3600 IN HSYNC OFF OWNER NO msa.provider-two.example.net.",
     "rt.example.", 3600, "OFF", "OWNER", "NO", "msa.provider-two.example.net."),
    ("rt.example. 3600 IN HSYNC on agent no agent.p3.example.org.",
     "rt.example.", 3600, "ON", "AGENT", "NO", "agent.p3.example.org."),
    ("rt.example. 3600 IN HSYNC 1 1 1 agent.p4.example.",
     "rt.example.", 3600, "ON", "OWNER", "YES", "agent.p4.example."),
    ("rt.example. 3600 IN HSYNC Off Agent Yes a.very-long-label-for-an-agent-identity-0123456789.p5.example.",
     "rt.example.", 3600, "OFF", "AGENT", "YES",
     "a.very-long-label-for-an-agent-identity-0123456789.p5.example."),
    ("sub.rt.example. 600 IN HSYNC 2 2 2 agent.p1.example.",
     "sub.rt.example.", 600, "OFF", "AGENT", "NO", "agent.p1.example."),
]


def name_wire(name: str) -> bytes:
    if name == ".":
        return b"\x00"
    return b"".join(bytes([len(lb)]) + lb.encode() for lb in name.rstrip(".").split(".")) + b"\x00"


def rdata(state, nsmgmt, sign, identity) -> bytes:
    return bytes([STATE[state], NSMGMT[nsmgmt], SIGN[sign]]) + name_wire(identity)


def canonical(owner, ttl, state, nsmgmt, sign, identity) -> str:
    return f"{owner} {ttl} IN HSYNC {state} {nsmgmt} {sign} {identity}"


RFC3597_RE = re.compile(r"^(\S+)\s+(\d+)\s+(IN|CLASS1)\s+TYPE65290\s+\\#\s+(\d+)((?:\s+[0-9A-Fa-f]+)*)\s*$")


def parse_rfc3597(line: str) -> tuple[str, int, bytes]:
    m = RFC3597_RE.match(line.strip())
    if not m:
        fail(f"not an RFC 3597 TYPE65290 line: {line!r}")
    data = bytes.fromhex("".join(m.group(5).split()))
    check(len(data) == int(m.group(4)), f"length field {m.group(4)} != {len(data)} bytes in {line!r}")
    return m.group(1), int(m.group(2)), data


def rr(line: str, **kw) -> ht.Result:
    return ht.hsyncctl("rr", line, **kw)


def one_line(res: ht.Result) -> str:
    check(len(res.lines) == 1, "hsyncctl rr should print exactly one line\n  " + res.describe())
    return ht.normalize_rr_line(res.lines[0])


# --------------------------------------------------------------------------- conversion


def test_rr_native_to_rfc3597():
    for line, owner, ttl, *f in RECORDS:
        out = one_line(rr(line))
        o, t, data = parse_rfc3597(out)
        check(o.lower() == owner and t == ttl, f"owner/TTL changed: {line!r} -> {out!r}")
        want = rdata(*f)
        check(data == want, f"RDATA of {line!r}: got {data.hex()}, want {want.hex()}")


def test_rr_rfc3597_to_native():
    for line, owner, ttl, *f in RECORDS:
        d = rdata(*f)
        for form in (d.hex(), d.hex().upper(), d.hex()[:6] + " " + d.hex()[6:]):
            src = f"{owner} {ttl} IN TYPE65290 \\# {len(d)} {form}"
            out = one_line(rr(src))
            check(out == canonical(owner, ttl, *f),
                  f"{src!r} -> {out!r}, want {canonical(owner, ttl, *f)!r}")


def test_rr_round_trip_is_identity():
    for line, owner, ttl, *f in RECORDS:
        once = one_line(rr(line))
        back = one_line(rr(once))
        check(back == canonical(owner, ttl, *f), f"{line!r} -> {once!r} -> {back!r}")
        again = one_line(rr(back))
        check(again == once, f"second round trip differs: {once!r} vs {again!r}")


# (what, input); a field value error must name the field in its message
BAD = [
    ("State 0", "x.example. 3600 IN HSYNC 0 AGENT YES agent.p1.example."),
    ("State 3", "x.example. 3600 IN HSYNC 3 AGENT YES agent.p1.example."),
    ("NSMgmt 9", "x.example. 3600 IN HSYNC ON 9 YES agent.p1.example."),
    ("Sign 0", "x.example. 3600 IN HSYNC ON AGENT 0 agent.p1.example."),
    ("State 256", "x.example. 3600 IN HSYNC 256 AGENT YES agent.p1.example."),
    ("unknown token", "x.example. 3600 IN HSYNC ON AGENT MAYBE agent.p1.example."),
    ("missing identity", "x.example. 3600 IN HSYNC ON AGENT YES"),
    ("trailing garbage", "x.example. 3600 IN HSYNC ON AGENT YES agent.p1.example. extra"),
    ("bad identity", "x.example. 3600 IN HSYNC ON AGENT YES agent..p1.example."),
    ("compressed identity in wire", "x.example. 3600 IN TYPE65290 \\# 5 010201c00c"),
    ("State 0 in wire", "x.example. 3600 IN TYPE65290 \\# 6 000201016100"),
    ("NSMgmt 3 in wire", "x.example. 3600 IN TYPE65290 \\# 6 010301016100"),
    ("unterminated identity in wire", "x.example. 3600 IN TYPE65290 \\# 5 0102010161"),
    ("missing identity in wire", "x.example. 3600 IN TYPE65290 \\# 3 010201"),
    ("bytes after identity in wire", "x.example. 3600 IN TYPE65290 \\# 7 01020101610000"),
    ("length mismatch", "x.example. 3600 IN TYPE65290 \\# 7 010201016100"),
]


def test_rr_rejects_bad_hsync():
    problems = []
    for what, line in BAD:
        res = rr(line, check_rc=None)
        msg = (res.stdout + res.stderr).strip()
        if res.rc == 0:
            problems.append(f"{what}: accepted (exit 0): {line!r} -> {msg!r}")
        elif res.rc < 0 or res.rc >= 128:
            problems.append(f"{what}: crashed (exit {res.rc}): {line!r}")
        elif not msg:
            problems.append(f"{what}: exit {res.rc} but no message: {line!r}")
        else:
            field = what.split()[0]
            if field in ("State", "NSMgmt", "Sign") and field.lower() not in msg.lower():
                problems.append(f"{what}: message does not name the field {field}: {msg!r}")
    check(not problems, "bad HSYNC input:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- servers


def make_zone(tmp: Path) -> Path:
    lines = [f"$ORIGIN {ZONE}", "$TTL 3600",
             f"@ IN SOA ns1 hostmaster 2024010101 3600 900 1209600 300",
             "@ IN NS ns1", "ns1 IN A 192.0.2.53", "sub IN A 192.0.2.54"]
    for line, *_ in RECORDS:
        lines.append(one_line(rr(line)))  # RFC 3597 form, as a zone owner would publish it
    path = tmp / "rt.example.zone"
    path.write_text("\n".join(lines) + "\n")
    return path


def check_transfer(lines: list[str], label: str, tmp: Path) -> None:
    want = sorted(canonical(o, t, *f) for _, o, t, *f in RECORDS)
    want_rdata = sorted(rdata(*f).hex() for _, _, _, *f in RECORDS)
    got_lines = [ln for ln in lines if ln.split()[3] == "TYPE65290"]
    check(len(got_lines) == len(RECORDS),
          f"{label}: {len(got_lines)} TYPE65290 RRs in the transfer, want {len(RECORDS)}:\n  "
          + "\n  ".join(lines))
    got_rdata = sorted(parse_rfc3597(ln)[2].hex() for ln in got_lines)
    ht.assert_sets_equal(want_rdata, got_rdata, f"{label}: RDATA", "original", "transferred")
    back = sorted(one_line(rr(ln)).lower() for ln in got_lines)
    ht.assert_sets_equal([w.lower() for w in want], back, f"{label}: hsyncctl rr of the transfer",
                         "original", "converted back")
    back_exact = sorted(one_line(rr(ln)) for ln in got_lines)
    ht.assert_sets_equal(want, back_exact, f"{label}: canonical presentation", "original", "printed")
    # the whole transfer as a zone file, read by hsync's zone parser
    zf = tmp / "axfr.zone"
    zf.write_text("\n".join(lines) + "\n")
    printed = [ht.normalize_rr_line(x) for x in
               ht.hsyncctl("zone", "print", zf, "--origin", ZONE, "--format", "text").lines]
    hs = sorted(x for x in printed if x.split()[3] == "HSYNC")
    ht.assert_sets_equal(want, hs, f"{label}: zone print of the transfer", "original", "zone print")
    check(len(printed) == len(lines), f"{label}: zone print has {len(printed)} RRs, transfer {len(lines)}")


def test_named_and_knotd_serve_hsync_unchanged():
    with ht.TempDir("hsync-rt") as tmp:
        zone = make_zone(tmp)
        ht.run([ht.require_program("named-checkzone"), "-q", ZONE, zone])
        ht.run([ht.require_program("kzonecheck"), "-d", "off", "-o", ZONE, zone])
        done = []
        for starter, name in ((ht.start_named, "named"), (ht.start_knotd, "knotd")):
            with starter(ZONE, zone, tmp / name) as srv:
                for tool in ("dig", "kdig"):
                    lines = ht.axfr(srv.host, srv.port, ZONE, tool=tool)
                    check_transfer(lines, f"{name} -> {tool}", tmp)
                    done.append(f"{name}->{tool}")
        print(f"  HSYNC unchanged through {', '.join(done)}")


if __name__ == "__main__":
    sys.exit(ht.run_tests(globals()))
