#!/usr/bin/env python3
"""Zone files: hsync's parser against BIND 9.18 (the reference) and Knot.

For every zone in tests/data/zones/realworld/ and a generated 20k-record zone:
  - named-checkzone accepts it (if BIND refuses a test zone the zone is wrong);
  - wire check (main): the RRs hsync reads from the original file, in wire form, equal
    the RRs hsync reads from BIND's canonical dump of the same file (named-checkzone -D);
  - independent wire check: the zone loaded into `named` and transferred with
    `dig +unknownformat` gives BIND's own RDATA bytes; they must equal hsync's;
  - hsync's `zone print --format wire` is in canonical order (RFC 4034 6.1 / 6.3);
  - text check (second): `zone print --format text` equals BIND's dump for the types
    whose presentation both print the same way.
A broken zone with bad records on known lines makes `hsyncctl zone check` exit 1 and
name exactly those lines; BIND and Knot reject each of those records too.
"""

import sys
from pathlib import Path

import hsynctest as ht
from hsynctest import check, fail

SRC = ht.source_dir()
REALWORLD = SRC / "tests" / "data" / "zones" / "realworld"
GEN_ZONE = SRC / "scripts" / "gen-zone"

TYPE_NUMBERS = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MINFO": 14, "MX": 15,
    "TXT": 16, "RP": 17, "AFSDB": 18, "SIG": 24, "KEY": 25, "AAAA": 28, "LOC": 29, "SRV": 33,
    "NAPTR": 35, "KX": 36, "CERT": 37, "DNAME": 39, "APL": 42, "DS": 43, "SSHFP": 44,
    "IPSECKEY": 45, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "DHCID": 49, "NSEC3": 50,
    "NSEC3PARAM": 51, "TLSA": 52, "SMIMEA": 53, "HIP": 55, "CDS": 59, "CDNSKEY": 60,
    "OPENPGPKEY": 61, "CSYNC": 62, "ZONEMD": 63, "SVCB": 64, "HTTPS": 65, "SPF": 99,
    "EUI48": 108, "EUI64": 109, "URI": 256, "CAA": 257, "HSYNC": 65290,
}
# RFC 4034 6.2 (as amended by RFC 6840 5.1): types whose RDATA names are lower-cased in
# canonical form. hsync may print those names lower-cased; BIND keeps their case.
CANONICAL_LOWER = {2, 5, 6, 12, 13, 14, 15, 17, 18, 24, 33, 35, 36, 39}
# Types whose presentation BIND and hsync both print in one agreed form (names, numbers,
# addresses, quoted strings); the others (hex/base64 chunking and case, SVCB parameters,
# HSYNC vs TYPE65290, ...) are compared through wire form only.
TEXT_SAME_FORM = {"A", "AAAA", "NS", "CNAME", "PTR", "MX", "SRV", "SOA", "TXT", "NAPTR",
                  "CAA", "URI", "CSYNC"}


def type_number(mnemonic: str) -> int:
    m = mnemonic.upper()
    if m.startswith("TYPE") and m[4:].isdigit():
        return int(m[4:])
    if m not in TYPE_NUMBERS:
        fail(f"test table lacks RR type {mnemonic!r}")
    return TYPE_NUMBERS[m]


def name_wire(name: str) -> bytes:
    """Wire form of an absolute presentation name (\\X and \\DDD escapes), for comparing
    owner names printed by dig with hsync's wire output."""
    if name == ".":
        return b"\x00"
    labels, cur, i = [], bytearray(), 0
    while i < len(name):
        c = name[i]
        if c == "\\":
            if name[i + 1:i + 4].isdigit():
                cur.append(int(name[i + 1:i + 4]))
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
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"


def lower_ascii(b: bytes) -> bytes:
    return bytes(x + 32 if 65 <= x <= 90 else x for x in b)


# --------------------------------------------------------------------------- zones


class Zone:
    def __init__(self, origin: str, path: Path):
        self.origin = origin if origin.endswith(".") else origin + "."
        self.path = path

    def __repr__(self):
        return f"{self.path.name} ({self.origin})"


def realworld_zones() -> list[Zone]:
    files = sorted(REALWORLD.glob("*.zone"))
    check(len(files) >= 5, f"expected at least 5 zones in {REALWORLD}, found {len(files)}")
    return [Zone(f.name[:-len(".zone")], f) for f in files]


def generated_zone(tmp: Path, records: int = 20000) -> Zone:
    out = tmp / "generated-20k.zone"
    ht.run([sys.executable, GEN_ZONE, "--records", str(records), "--rfc3597", "--seed", "7",
            "--origin", "gen.example.", "-o", out], timeout=120)
    return Zone("gen.example.", out)


def all_zones(tmp: Path) -> list[Zone]:
    return realworld_zones() + [generated_zone(tmp)]


# --------------------------------------------------------------------------- tools


def bind_dump(zone: Zone, tmp: Path) -> tuple[Path, list[str]]:
    """named-checkzone -D: BIND's canonical dump (absolute names, one RR per line)."""
    out = tmp / (zone.path.name + ".bind")
    ht.run([ht.require_program("named-checkzone"), "-i", "local", "-D", "-o", out,
            zone.origin, zone.path], timeout=300)
    lines = []
    for ln in out.read_text(errors="replace").splitlines():
        s = ht.strip_comment(ln).strip()
        if s:
            lines.append(ht.normalize_rr_line(s))
    check(lines, f"{zone}: named-checkzone dumped no records")
    return out, lines


def hs_print(zone_file: Path, origin: str, fmt: str) -> list[str]:
    res = ht.hsyncctl("zone", "print", zone_file, "--origin", origin, "--format", fmt,
                      timeout=300)
    return [ht.normalize_rr_line(ln) for ln in res.stdout.splitlines() if ln.strip()]


class WireRR:
    """One line of `zone print --format wire`: owner-hex class ttl type rdata-hex ('-' if empty)."""

    def __init__(self, line: str):
        f = line.split()
        if len(f) not in (4, 5):
            fail(f"bad wire line (want owner class ttl type rdata): {line!r}")
        try:
            self.owner = bytes.fromhex(f[0])
            self.cls, self.ttl, self.type = int(f[1]), int(f[2]), int(f[3])
            # empty RDATA: the field is '-' (or absent)
            self.rdata = bytes.fromhex(f[4]) if len(f) == 5 and f[4] != "-" else b""
        except ValueError as e:
            fail(f"bad wire line {line!r}: {e}")
        self.line = line

    def key(self, lower_rdata: bool = False):
        rd = lower_ascii(self.rdata) if lower_rdata else self.rdata
        return (lower_ascii(self.owner), self.cls, self.ttl, self.type, rd)


def canonical_name_key(wire: bytes) -> tuple:
    labels, i = [], 0
    while i < len(wire) and wire[i]:
        n = wire[i]
        labels.append(lower_ascii(wire[i + 1:i + 1 + n]))
        i += 1 + n
    return tuple(reversed(labels))


def fmt_key(k) -> str:
    return f"{k[0].hex()} {k[1]} {k[2]} {k[3]} {k[4].hex()}"


# --------------------------------------------------------------------------- tests


def test_bind_and_knot_accept_zones():
    with ht.TempDir("zone-bind") as tmp:
        for z in all_zones(tmp):
            ht.run([ht.require_program("named-checkzone"), "-i", "local", "-q", z.origin, z.path])
            ht.run([ht.require_program("kzonecheck"), "-d", "off", "-o", z.origin, z.path])
        print(f"  BIND and Knot accept {len(realworld_zones())} real-world zones + generated")


def test_hsync_check_accepts_zones():
    with ht.TempDir("zone-bind") as tmp:
        for z in all_zones(tmp):
            res = ht.hsyncctl("zone", "check", z.path, "--origin", z.origin, timeout=300)
            check(len(res.lines) == 1, f"{z}: zone check should print one summary line:\n  "
                  + res.describe())
            _, bind = bind_dump(z, tmp)
            check(str(len(bind)) in res.stdout,
                  f"{z}: summary does not mention the {len(bind)} records BIND loaded: "
                  f"{res.stdout.strip()!r}")


def test_wire_from_original_equals_wire_from_bind_dump():
    """Main check: hsync(original) == hsync(BIND's dump), every RR in wire form."""
    with ht.TempDir("zone-bind") as tmp:
        total = 0
        for z in all_zones(tmp):
            dump, bind_lines = bind_dump(z, tmp)
            ours = hs_print(z.path, z.origin, "wire")
            via_bind = hs_print(dump, z.origin, "wire")
            check(len(ours) == len(bind_lines),
                  f"{z}: hsync read {len(ours)} RRs, BIND {len(bind_lines)}")
            ht.assert_sets_equal(via_bind, ours, f"{z}: wire form",
                                 "hsync(BIND dump)", "hsync(original)")
            total += len(ours)
        print(f"  {total} RRs equal in wire form")


def test_wire_equals_bind_rdata_bytes():
    """Independent oracle: BIND's own RDATA bytes (named + dig +unknownformat AXFR)."""
    with ht.TempDir("zone-bind") as tmp:
        total = lowered = 0
        for idx, z in enumerate(all_zones(tmp)):
            ours = [WireRR(ln) for ln in hs_print(z.path, z.origin, "wire")]
            with ht.start_named(z.origin, z.path, tmp / f"named{idx}") as srv:
                lines = ht.axfr(srv.host, srv.port, z.origin, tool="dig", generic=True)
            theirs = []
            for ln in lines:
                f = ln.split()
                if len(f) < 6 or f[4] != "\\#":
                    fail(f"{z}: unexpected dig +unknownformat line {ln!r}")
                t = type_number(f[3])
                rd = bytes.fromhex("".join(f[6:]))
                check(len(rd) == int(f[5]), f"{z}: dig length mismatch in {ln!r}")
                cls = f[2].upper()
                cls = 1 if cls == "IN" else int(cls[5:]) if cls.startswith("CLASS") else -1
                theirs.append((lower_ascii(name_wire(f[0])), cls,
                               int(f[1]), t, rd))
            # names inside RDATA may be lower-cased by hsync (canonical form); compare those
            # types with ASCII letters folded on both sides, all others byte for byte
            ours_k = [r.key(r.type in CANONICAL_LOWER) for r in ours]
            theirs_k = [(o, c, ttl, t, lower_ascii(rd) if t in CANONICAL_LOWER else rd)
                        for o, c, ttl, t, rd in theirs]
            lowered += sum(1 for r in ours if r.type in CANONICAL_LOWER)
            ht.assert_sets_equal([fmt_key(k) for k in theirs_k], [fmt_key(k) for k in ours_k],
                                 f"{z}: RR bytes", "BIND (AXFR)", "hsync")
            total += len(ours)
        print(f"  {total} RRs equal to BIND's bytes ({lowered} with names case-folded)")


def test_wire_output_is_in_canonical_order():
    with ht.TempDir("zone-bind") as tmp:
        for z in all_zones(tmp):
            rrs = [WireRR(ln) for ln in hs_print(z.path, z.origin, "wire")]
            prev = None
            seen_sets = set()
            for r in rrs:
                k = (canonical_name_key(r.owner), r.type, r.rdata)
                if prev is not None:
                    pk, pl = prev
                    check(pk[0] <= k[0], f"{z}: owner order (RFC 4034 6.1) broken:\n  {pl}\n  {r.line}")
                    if pk[0] == k[0]:
                        check(pk[1] <= k[1], f"{z}: RR types of one owner not ascending:\n  {pl}\n  {r.line}")
                        if pk[1] == k[1]:
                            check(pk[2] < k[2], f"{z}: RDATA order within RRset (RFC 4034 6.3) "
                                  f"broken or duplicate RR:\n  {pl}\n  {r.line}")
                    if (pk[0], pk[1]) != (k[0], k[1]):
                        check((k[0], k[1]) not in seen_sets, f"{z}: RRset split: {r.line}")
                seen_sets.add((k[0], k[1]))
                prev = (k, r.line)


def _text_key(line: str) -> tuple[str, str] | None:
    f = line.split(" ", 4)
    if len(f) < 4:
        fail(f"bad text RR line {line!r}")
    owner, ttl, cls, typ = f[0].lower(), f[1], f[2].upper(), f[3].upper()
    if typ not in TEXT_SAME_FORM:
        return None
    rdata = f[4] if len(f) > 4 else ""
    if typ == "NAPTR":  # strings keep their case; the replacement name is canonical
        head, _, repl = rdata.rpartition(" ")
        rdata = f"{head} {repl.lower()}"
    elif type_number(typ) in CANONICAL_LOWER:
        rdata = rdata.lower()
    return typ, f"{owner} {ttl} {cls} {typ} {rdata}"


def test_text_equals_bind_where_forms_agree():
    with ht.TempDir("zone-bind") as tmp:
        compared = 0
        for z in all_zones(tmp):
            _, bind_lines = bind_dump(z, tmp)
            ours = hs_print(z.path, z.origin, "text")
            check(len(ours) == len(bind_lines),
                  f"{z}: hsync printed {len(ours)} RRs, BIND {len(bind_lines)}")
            b = [k[1] for k in map(_text_key, bind_lines) if k]
            o = [k[1] for k in map(_text_key, ours) if k]
            ht.assert_sets_equal(b, o, f"{z}: presentation of {sorted(TEXT_SAME_FORM)}",
                                 "BIND", "hsync")
            compared += len(o)
        print(f"  {compared} RRs equal in text form")


# --------------------------------------------------------------------------- broken zone

BROKEN_HEAD = """$ORIGIN broken.example.
$TTL 3600
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 192.0.2.1
"""
# one bad record per entry, each rejected by BIND and Knot too (checked below);
# good records in between so the checker must continue after an error
BROKEN_BODY = [
    ("bad-a A 192.0.2.256", True),
    ("good-1 A 192.0.2.2", False),
    ("bad-aaaa AAAA 2001:db8::g1", True),
    ("bad-mx MX mail.example.", True),
    ("good-2 TXT \"fine; really\"", False),
    ("bad-type FOOBAR 1 2 3", True),
    ("bad-rfc3597 TYPE65400 \\# 4 0102", True),
    ("bad-ds DS 12345 13 2 abcd", True),
    ("good-3 ( MX 10\n    ns )", False),
    ("bad-caa CAA 0 issue", True),
    ("bad-srv SRV 10 60 host", True),
    ("bad-tlsa TLSA 3 1 1 zz", True),
    ("a..b A 192.0.2.5", True),
    ("bad-b64 DNSKEY 257 3 13 abc!def", True),
    ("bad-mx2 MX 65536 mail.example.", True),
    ("bad-https HTTPS 1 . alpn=", True),
    ("bad-svcb SVCB 1 . alpn=h2 mandatory=port", True),
    ("bad-csync CSYNC 1 3 A NOSUCHTYPE", True),
    ("x" * 64 + " A 192.0.2.9", True),
    ("good-4 AAAA 2001:db8::4", False),
]


def broken_zone_text() -> tuple[str, list[int]]:
    text, lines = BROKEN_HEAD, []
    line_no = BROKEN_HEAD.count("\n")
    for rec, bad in BROKEN_BODY:
        if bad:
            lines.append(line_no + 1)
        text += rec + "\n"
        line_no += rec.count("\n") + 1
    return text, lines


def test_broken_zone_reported_line_by_line():
    text, bad_lines = broken_zone_text()
    with ht.TempDir("zone-broken") as tmp:
        # the oracles agree that each record is bad on its own
        for rec, bad in BROKEN_BODY:
            single = tmp / "single.zone"
            single.write_text(BROKEN_HEAD + rec + "\n")
            rb = ht.run([ht.require_program("named-checkzone"), "-i", "local", "-q",
                         "broken.example.", single], check_rc=None).rc
            rk = ht.run([ht.require_program("kzonecheck"), "-d", "off", "-o", "broken.example.",
                         single], check_rc=None).rc
            check((rb != 0) == bad and (rk != 0) == bad,
                  f"oracles disagree with the test on {rec!r}: named-checkzone rc={rb}, "
                  f"kzonecheck rc={rk}, test says bad={bad}")
        path = tmp / "broken.zone"
        path.write_text(text)
        ht.run([ht.require_program("named-checkzone"), "-i", "local", "-q", "broken.example.",
                path], check_rc=1)
        ht.run([ht.require_program("kzonecheck"), "-d", "off", "-o", "broken.example.", path],
               check_rc=1)
        res = ht.hsyncctl("zone", "check", path, "--origin", "broken.example.", check_rc=1)
        out = (res.stdout + res.stderr).splitlines()
        prefix = f"{path}:"
        reported = set()
        for ln in out:
            if ln.startswith(prefix) and ": error:" in ln:
                num = ln[len(prefix):].split(":", 1)[0]
                check(num.isdigit(), f"bad error line {ln!r}")
                reported.add(int(num))
                check(ln.split(": error:", 1)[1].strip() != "", f"error without a reason: {ln!r}")
        missing = sorted(set(bad_lines) - reported)
        extra = sorted(reported - set(bad_lines))
        check(not missing and not extra,
              f"zone check error lines: missing {missing}, unexpected {extra} "
              f"(expected {bad_lines})\n  " + res.describe())
        print(f"  {len(bad_lines)} bad records reported on their lines")


if __name__ == "__main__":
    sys.exit(ht.run_tests(globals()))
