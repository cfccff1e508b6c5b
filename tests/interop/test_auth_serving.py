"""hsyncd role auth as a primary answers like BIND: the same zone files (unsigned, signed
with NSEC, signed with NSEC3 by dnssec-signzone) served by `hsyncd` and by `named`, the
same dig/kdig queries (exact match, CNAME chains, delegations with glue, wildcards,
NXDOMAIN, NODATA, DO with RRSIGs and denial proofs, ANY, a zone not served), over UDP and
TCP, compared flag by flag and record set by record set per section. Then EDNS buffer
and TC behaviour on a large RRset, and `delv` with the zone's KSK as trust anchor
validates answers from hsyncd."""

from __future__ import annotations

import sys
from pathlib import Path

import hsynctest
from hsynctest import check, fail

ZONE_TEMPLATE = """$TTL 300
@ IN SOA ns1 hostmaster 2026112801 3600 900 604800 120
@ NS ns1
@ NS ns2.example.net.
@ MX 10 mail
@ TXT "apex text"
ns1 A 127.0.0.1
ns1 AAAA ::1
mail A 192.0.2.25
www A 192.0.2.1
www AAAA 2001:db8::1
alias CNAME alias2
alias2 CNAME www
ext CNAME target.example.net.
dangling CNAME nothere
sub NS ns.sub
sub NS ns.example.net.
ns.sub A 192.0.2.53
secure NS ns.secure
secure DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.secure A 192.0.2.54
*.wild A 192.0.2.99
*.wild TXT "wildcard"
a.b.deep A 192.0.2.77
srv._tcp SRV 0 5 443 www
"""
BIG_COUNT = 30


def zone_text() -> str:
    big = "".join(f'big TXT "record {i:02d} ' + "x" * 60 + '"\n' for i in range(BIG_COUNT))
    return ZONE_TEMPLATE + big


# (relative name, type); "@" is the apex.
QUERIES = [
    ("@", "SOA"), ("@", "NS"), ("@", "MX"), ("@", "TXT"), ("@", "DNSKEY"), ("@", "NSEC3PARAM"),
    ("www", "A"), ("WwW", "AAAA"), ("www", "MX"), ("www", "ANY"), ("ns1", "A"),
    ("alias", "A"), ("alias", "CNAME"), ("ext", "A"), ("dangling", "A"),
    ("sub", "A"), ("x.sub", "AAAA"), ("sub", "NS"), ("sub", "DS"), ("ns.sub", "A"),
    ("secure", "A"), ("secure", "DS"),
    ("foo.wild", "A"), ("foo.wild", "MX"), ("x.y.wild", "TXT"), ("wild", "A"),
    ("nothere", "A"), ("zz-after-all", "TXT"), ("deep", "A"), ("b.deep", "TXT"),
    ("a.b.deep", "A"), ("srv._tcp", "SRV"),
]
NOT_SERVED = [("example.org.", "A"), ("other.invalid.", "SOA"), ("net.", "NS")]


def fqdn(rel: str, zone: str) -> str:
    return zone if rel == "@" else f"{rel}.{zone}"


class Setup:
    def __init__(self, d: Path):
        self.d = d
        self.zones: dict[str, Path] = {}
        self.ksk: dict[str, str] = {}
        keygen = hsynctest.require_program("dnssec-keygen")
        signzone = hsynctest.require_program("dnssec-signzone")
        for zone, mode in (("plain.test.", None), ("nsec.test.", "nsec"), ("n3.test.", "nsec3")):
            src = d / f"{zone}zone"
            src.write_text(zone_text())
            if mode is None:
                self.zones[zone] = src
                continue
            kd = d / f"keys-{zone}"
            kd.mkdir()
            ksk = hsynctest.run([keygen, "-q", "-K", kd, "-a", "ECDSAP256SHA256", "-f", "KSK", zone]).stdout.strip()
            hsynctest.run([keygen, "-q", "-K", kd, "-a", "ECDSAP256SHA256", zone])
            self.ksk[zone] = (kd / f"{ksk}.key").read_text()
            out = d / f"{zone}signed"
            argv = [signzone, "-S", "-K", kd, "-o", zone, "-f", out]
            if mode == "nsec3":
                argv += ["-3", "-", "-H", "0"]
            hsynctest.run(argv + [src], cwd=str(d))
            self.zones[zone] = out


def compare(h_ans: list, b_ans: list, queries: list, what: str, problems: list) -> None:
    for (name, qtype), ha, ba in zip(queries, h_ans, b_ans):
        diffs = []
        if ha.rcode != ba.rcode:
            diffs.append(f"rcode hsyncd={ha.rcode} named={ba.rcode}")
        if ha.flags != ba.flags:
            diffs.append(f"flags hsyncd={sorted(ha.flags)} named={sorted(ba.flags)}")
        if ha.edns != ba.edns or ha.edns_flags != ba.edns_flags:
            diffs.append(f"EDNS hsyncd={ha.edns}{sorted(ha.edns_flags)} named={ba.edns}{sorted(ba.edns_flags)}")
        for sec in ("answer", "authority", "additional"):
            hs, bs = sorted(ha.sections[sec]), sorted(ba.sections[sec])
            if hs != bs:
                only_h = [x for x in hs if x not in bs]
                only_b = [x for x in bs if x not in hs]
                diffs.append(f"{sec}: only hsyncd {only_h[:6]}{' ...' if len(only_h) > 6 else ''}; "
                             f"only named {only_b[:6]}{' ...' if len(only_b) > 6 else ''}")
        if diffs:
            problems.append(f"{what} {name} {qtype}: " + "; ".join(diffs))


def start_both(s: Setup, d: Path):
    h = hsynctest.start_hsyncd({"zones": [{"name": z, "type": "primary", "file": str(f)}
                                          for z, f in s.zones.items()]},
                               d / "hsyncd", wait_zones=s.zones)
    body = "".join(f'zone "{z}" {{ type primary; file "{f}"; check-names ignore; }};\n'
                   for z, f in s.zones.items())
    named = hsynctest.start_named_config(d / "named", body, options="minimal-responses no-auth;",
                                         wait_zones=s.zones)
    return h, named


def test_answers_match_bind():
    """Every query of QUERIES for each zone, with and without DO, UDP and TCP: same
    rcode, header flags, EDNS flags and record sets per section as named."""
    with hsynctest.TempDir("auth-serving") as d:
        s = Setup(d)
        h, named = start_both(s, d)
        problems: list[str] = []
        total = 0
        for zone in s.zones:
            qs = [(fqdn(n, zone), t) for n, t in QUERIES]
            for transport in ("+notcp", "+tcp"):
                for do in ("+nodnssec", "+dnssec"):
                    opts = [transport, do, "+ignore"]
                    ha = hsynctest.dig_many("127.0.0.1", h.port, qs, opts)
                    ba = hsynctest.dig_many("127.0.0.1", named.port, qs, opts)
                    compare(ha, ba, qs, f"[{zone} {transport} {do}]", problems)
                    total += len(qs)
        for transport in ("+notcp", "+tcp"):
            ha = hsynctest.dig_many("127.0.0.1", h.port, NOT_SERVED, [transport, "+dnssec"])
            ba = hsynctest.dig_many("127.0.0.1", named.port, NOT_SERVED, [transport, "+dnssec"])
            compare(ha, ba, NOT_SERVED, f"[not served {transport}]", problems)
            for (n, t), a in zip(NOT_SERVED, ha):
                if a.rcode != "REFUSED":
                    problems.append(f"not served {n} {t} {transport}: rcode {a.rcode}, expected REFUSED")
            total += len(NOT_SERVED)
        print(f"  compared {total} answers, {len(problems)} differ")
        if problems:
            fail(f"{len(problems)} of {total} answers differ from named (first 25):\n"
                 + "\n".join("  " + p for p in problems[:25]))


def test_answer_shapes():
    """Absolute expectations on hsyncd's answers (independent of the comparison)."""
    with hsynctest.TempDir("auth-shapes") as d:
        s = Setup(d)
        h = hsynctest.start_hsyncd({"zones": [{"name": z, "type": "primary", "file": str(f)}
                                              for z, f in s.zones.items()]},
                                   d / "hsyncd", wait_zones=s.zones)
        errs = []

        def q(name, qtype, *opts):
            return hsynctest.dig1("127.0.0.1", h.port, name, qtype, *opts)

        for zone in s.zones:
            signed = zone != "plain.test."
            a = q(f"www.{zone}", "A")
            if not (a.rcode == "NOERROR" and "aa" in a.flags and a.sections["answer"] == [f"www.{zone} 300 IN A 192.0.2.1"]):
                errs.append(f"{zone} exact match: {a!r} {a.sections}")
            a = q(f"alias.{zone}", "A")
            types = [r.split()[3] for r in a.sections["answer"]]
            if not (a.rcode == "NOERROR" and "aa" in a.flags and types == ["CNAME", "CNAME", "A"]):
                errs.append(f"{zone} CNAME chain: {a!r} {a.sections['answer']}")
            a = q(f"x.sub.{zone}", "A")
            if not ("aa" not in a.flags and a.rcode == "NOERROR" and not a.sections["answer"]
                    and sorted(r.split()[3] for r in a.sections["authority"] if r.split()[3] == "NS") == ["NS", "NS"]
                    and f"ns.sub.{zone} 300 IN A 192.0.2.53" in a.sections["additional"]):
                errs.append(f"{zone} referral with glue: {a!r} {a.sections}")
            a = q(f"foo.wild.{zone}", "A")
            if not (a.rcode == "NOERROR" and "aa" in a.flags and a.sections["answer"] == [f"foo.wild.{zone} 300 IN A 192.0.2.99"]):
                errs.append(f"{zone} wildcard: {a!r} {a.sections}")
            a = q(f"nothere.{zone}", "A", "+dnssec")
            auth_types = {r.split()[3] for r in a.sections["authority"]}
            want = {"SOA"} | ({"RRSIG", "NSEC3" if zone == "n3.test." else "NSEC"} if signed else set())
            if not (a.rcode == "NXDOMAIN" and "aa" in a.flags and auth_types == want):
                errs.append(f"{zone} NXDOMAIN +dnssec: {a!r} authority types {sorted(auth_types)} want {sorted(want)}")
            a = q(f"www.{zone}", "MX", "+dnssec")
            auth_types = {r.split()[3] for r in a.sections["authority"]}
            if not (a.rcode == "NOERROR" and "aa" in a.flags and not a.sections["answer"] and auth_types == want):
                errs.append(f"{zone} NODATA +dnssec: {a!r} authority types {sorted(auth_types)} want {sorted(want)}")
            a = q(f"www.{zone}", "A", "+dnssec")
            ans_types = sorted(r.split()[3] for r in a.sections["answer"])
            if ans_types != (["A", "RRSIG"] if signed else ["A"]) or "do" not in a.edns_flags:
                errs.append(f"{zone} DO answer: {a!r} types {ans_types} edns flags {a.edns_flags}")
        a = q("example.org.", "A")
        if a.rcode != "REFUSED":
            errs.append(f"zone not served: {a!r}")
        if errs:
            fail(f"{len(errs)} wrong answers:\n" + "\n".join("  " + e for e in errs))


def test_kdig_agrees():
    """kdig (Knot's client, another parser) sees the same as against named."""
    kdig = hsynctest.require_program("kdig")
    with hsynctest.TempDir("auth-kdig") as d:
        s = Setup(d)
        h, named = start_both(s, d)

        def kq(port, name, qtype, *opts):
            r = hsynctest.run([kdig, "+norec", "+time=3", "+retry=0", *opts, "-p", str(port),
                               "@127.0.0.1", name, qtype], check_rc=None)
            lines = []
            for ln in r.stdout.splitlines():
                if ln.startswith(";; ->>HEADER<<-") or ln.startswith(";; Flags:"):
                    lines.append(ln.split("; id:")[0] if "->>HEADER" in ln else ln)
                elif ln.startswith(";; EDNS PSEUDOSECTION") or ln.startswith(";; Version"):
                    lines.append(ln)
                elif ln and not ln.startswith(";"):
                    lines.append(hsynctest._canonical_rr(ln))
            return sorted(lines), r

        diffs = []
        for zone in ("nsec.test.", "n3.test."):
            for name, qtype in (("www", "A"), ("nothere", "A"), ("foo.wild", "TXT"), ("sub", "A"),
                                ("deep", "A"), ("@", "DNSKEY")):
                for opts in (["+dnssec"], ["+dnssec", "+tcp"], []):
                    hl, hr = kq(h.port, fqdn(name, zone), qtype, *opts)
                    bl, br = kq(named.port, fqdn(name, zone), qtype, *opts)
                    if hl != bl:
                        diffs.append(f"kdig {' '.join(opts)} {fqdn(name, zone)} {qtype}: only hsyncd "
                                     f"{[x for x in hl if x not in bl][:5]} only named {[x for x in bl if x not in hl][:5]}")
                    check(len(hl) > 2, f"kdig got no answer from hsyncd:\n  " + hr.describe())
        if diffs:
            fail(f"{len(diffs)} kdig answers differ:\n" + "\n".join("  " + x for x in diffs[:15]))


def test_tc_and_edns():
    """A 30-record TXT RRset (~2.3 KB): over UDP with a 512 buffer or no EDNS the
    answer has TC and fits 512 bytes; with EDNS 4096 it fits our advertised 1232 or has TC;
    over TCP it is complete; named agrees on TC."""
    with hsynctest.TempDir("auth-tc") as d:
        s = Setup(d)
        h, named = start_both(s, d)
        zone = "plain.test."
        errs = []
        for edns in (None, 512, 4096):
            for do in (False, True):
                if do and edns is None:
                    continue
                qid = 0x4000 + (edns or 0) % 1000
                resp = hsynctest.udp_exchange(h.port, hsynctest.build_query(f"big.{zone}", "TXT", qid, edns=edns, do=do))
                if resp is None:
                    errs.append(f"UDP edns={edns} do={do}: no answer")
                    continue
                hd = hsynctest.WireHeader(resp)
                limit = 512 if edns in (None, 512) else 1232
                if hd.id != qid or not hd.qr or not hd.tc or hd.size > limit:
                    errs.append(f"UDP edns={edns} do={do}: {hd!r}; expected TC and size <= {limit}")
                if edns is not None and hd.arcount < 1:
                    errs.append(f"UDP edns={edns}: truncated answer lacks OPT (RFC 6891 7): {hd!r}")
                bresp = hsynctest.udp_exchange(named.port, hsynctest.build_query(f"big.{zone}", "TXT", qid, edns=edns, do=do))
                if bresp is not None and hsynctest.WireHeader(bresp).tc != hd.tc:
                    errs.append(f"UDP edns={edns}: TC hsyncd={hd.tc} named={hsynctest.WireHeader(bresp).tc}")
        for opts in (["+tcp"], ["+tcp", "+bufsize=512"], ["+bufsize=512"]):  # dig retries TC over TCP
            a = hsynctest.dig1("127.0.0.1", h.port, f"big.{zone}", "TXT", *opts)
            if "tc" in a.flags or len(a.sections["answer"]) != BIG_COUNT:
                errs.append(f"dig {opts}: {a!r}, expected {BIG_COUNT} TXT without TC")
        a = hsynctest.dig1("127.0.0.1", h.port, f"big.{zone}", "TXT", "+bufsize=512", "+ignore")
        if "tc" not in a.flags:
            errs.append(f"dig +bufsize=512 +ignore: no tc flag: {a!r}")
        # Small answer over UDP with a 512 buffer: complete, no TC.
        a = hsynctest.dig1("127.0.0.1", h.port, f"www.{zone}", "A", "+bufsize=512", "+ignore")
        if "tc" in a.flags or len(a.sections["answer"]) != 1:
            errs.append(f"small answer with +bufsize=512: {a!r}")
        if errs:
            fail("\n".join("  " + e for e in errs))


def test_delv_validates():
    """delv with the zone's KSK as the only trust anchor fully validates positive,
    wildcard and negative answers from hsyncd for the NSEC and NSEC3 zones."""
    delv = hsynctest.require_program("delv")
    with hsynctest.TempDir("auth-delv") as d:
        s = Setup(d)
        h, named = start_both(s, d)
        errs = []
        for zone in ("nsec.test.", "n3.test."):
            # "zone. IN DNSKEY 257 3 13 base64..." (comment lines first)
            rr = [ln.split() for ln in s.ksk[zone].splitlines() if ln and not ln.startswith(";")][0]
            i = rr.index("DNSKEY")
            anchor = d / f"anchor-{zone}conf"
            anchor.write_text(f'trust-anchors {{ "{zone}" static-key {rr[i+1]} {rr[i+2]} {rr[i+3]} "{"".join(rr[i+4:])}"; }};\n')
            for name, qtype, want in ((f"www.{zone}", "A", "; fully validated"),
                                      (f"foo.wild.{zone}", "A", "; fully validated"),
                                      (f"alias.{zone}", "A", "; fully validated"),
                                      (f"nothere.{zone}", "A", "; negative response, fully validated"),
                                      (f"www.{zone}", "MX", "; negative response, fully validated")):
                argv = [delv, "@127.0.0.1", "-p", str(h.port), "-a", anchor, f"+root={zone}", name, qtype]
                r = hsynctest.run(argv, check_rc=None, timeout=30)
                if want not in r.stdout:
                    argv_b = [delv, "@127.0.0.1", "-p", str(named.port), "-a", anchor, f"+root={zone}", name, qtype]
                    rb = hsynctest.run(argv_b, check_rc=None, timeout=30)
                    errs.append(f"delv {name} {qtype}: wanted {want!r}\n  {r.describe()}\n  "
                                f"(same against named: {'OK' if want in rb.stdout else 'ALSO FAILS'}: "
                                f"{rb.stdout.strip()[:200]})")
        if errs:
            fail("\n".join("  " + e for e in errs))


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
