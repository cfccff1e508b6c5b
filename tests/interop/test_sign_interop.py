#!/usr/bin/env python3
"""Zone signing and verification: hsync against BIND 9.18, Knot and ldns.

- zones signed by `hsyncctl zone sign` (NSEC, NSEC3, NSEC3 opt-out; algorithms 8, 13, 15;
  KSK+ZSK and CSK) pass `dnssec-verify`, `ldns-verify-zone` and `kzonecheck -d on`, and
  our own `hsyncctl zone verify`;
- zones signed by `dnssec-signzone` and by Knot's `kzonesign` pass `hsyncctl zone verify`;
- a flipped signature byte, a missing NSEC and an expired signature each make
  `hsyncctl zone verify` exit non-zero with the reason on stderr;
- a DNSKEY from another key pair in the input (another signer's, RFC 8901 model 2) stays
  in the signed DNSKEY RRset and the zone still verifies everywhere.
The test zone comes from scripts/gen-zone (HSYNC in RFC 3597 form) without its apex
DNSKEY/CDS/CDNSKEY/ZONEMD (placeholders that no signer could keep valid).
"""

import base64
import re
import sys
from pathlib import Path

import hsynctest as ht
from hsynctest import check, fail

ORIGIN = "example.com."
RECORDS = 1500
DROP_TYPES = {"DNSKEY", "CDS", "CDNSKEY", "ZONEMD", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM"}


def records_of(text: str) -> list[str]:
    """Zone text as one string per record (parentheses joined), directives kept."""
    out, cur, depth = [], "", 0
    for line in text.splitlines():
        body = ht.strip_comment(line)
        if depth == 0 and cur:
            out.append(cur)
            cur = ""
        cur = (cur + " " + body.strip()) if depth else body.rstrip()
        depth += body.count("(") - body.count(")")
    if cur:
        out.append(cur)
    return [r for r in out if r.strip()]


def base_zone(d: Path) -> Path:
    gen = ht.source_dir() / "scripts" / "gen-zone"
    raw = d / "gen.zone"
    ht.run([sys.executable, gen, "--records", RECORDS, "--origin", ORIGIN, "--rfc3597",
            "-o", raw])
    keep = []
    for rec in records_of(raw.read_text()):
        toks = rec.replace("(", " ").replace(")", " ").split()
        if any(t.upper() in DROP_TYPES for t in toks[:5]):
            continue
        keep.append(rec)
    z = d / "base.zone"
    z.write_text("\n".join(keep) + "\n")
    return z


def keygen(d: Path, alg: int, ksk: bool, zone: str = ORIGIN) -> str:
    argv = [ht.require_program("dnssec-keygen"), "-q", "-K", d, "-a", str(alg)]
    if alg in (8, 10):
        argv += ["-b", "2048"]
    if ksk:
        argv += ["-f", "KSK"]
    base = ht.run(argv + [zone]).stdout.strip()
    return str(d / base)


def oracles(zone: Path, what: str, csk: bool = False) -> None:
    # With a single (CSK) key per algorithm, BIND wants -z: ignore the KSK flag.
    r = ht.run([ht.require_program("dnssec-verify"), *(["-z"] if csk else []), "-o", ORIGIN,
                zone], check_rc=None)
    check(r.rc == 0, f"{what}: dnssec-verify rejects our zone\n  " + r.describe())
    r = ht.run([ht.require_program("ldns-verify-zone"), zone], check_rc=None)
    check(r.rc == 0 and "Zone is verified and complete" in r.stdout,
          f"{what}: ldns-verify-zone rejects our zone\n  " + r.describe())
    r = ht.run([ht.require_program("kzonecheck"), "-d", "on", "-o", ORIGIN, zone], check_rc=None)
    check(r.rc == 0, f"{what}: kzonecheck -d on rejects our zone\n  " + r.describe())


def our_verify(zone: Path, *extra, ok: bool = True) -> ht.Result:
    r = ht.hsyncctl("zone", "verify", zone, "--origin", ORIGIN, *extra, check_rc=None)
    if ok:
        check(r.rc == 0, f"hsyncctl zone verify rejects {zone.name}\n  " + r.describe())
    else:
        check(r.rc != 0, f"hsyncctl zone verify accepts broken {zone.name}\n  " + r.describe())
    return r


def sign(zone: Path, out: Path, keys: list[str], *extra) -> ht.Result:
    argv = ["zone", "sign", zone, "--origin", ORIGIN, "--rfc3597", "-o", out]
    for k in keys:
        argv += ["--key", k]
    return ht.hsyncctl(*argv, *extra)


def test_hsync_signed_zones_pass_bind_ldns_knot():
    with ht.TempDir("sign-ours") as d:
        z = base_zone(d)
        cases = [
            (13, "ksk+zsk", ["--nsec3", "--opt-out"]),
            (13, "csk", []),
            (8, "ksk+zsk", []),
            (8, "csk", ["--nsec3", "--iterations", "3", "--salt", "c0ffee"]),
            (15, "ksk+zsk", ["--nsec3"]),
            (15, "csk", []),
        ]
        for alg, mode, extra in cases:
            kd = d / f"k{alg}{mode}"
            kd.mkdir()
            keys = [keygen(kd, alg, True)]
            if mode == "ksk+zsk":
                keys.append(keygen(kd, alg, False))
            out = d / f"signed-{alg}-{mode}.zone"
            sign(z, out, keys, *extra)
            what = f"algorithm {alg} {mode} {' '.join(extra) or 'NSEC'}"
            oracles(out, what, csk=mode == "csk")
            r = our_verify(out)
            want = "NSEC3" if extra else "NSEC"
            check(want in r.stdout, f"{what}: expected a {want} zone: {r.stdout}")
            print(f"  ok: {what}", flush=True)


def test_foreign_dnskey_stays_in_signed_dnskey_rrset():
    with ht.TempDir("sign-foreign") as d:
        z = base_zone(d)
        ours, theirs = d / "ours", d / "theirs"
        ours.mkdir()
        theirs.mkdir()
        keys = [keygen(ours, 13, True), keygen(ours, 13, False)]
        foreign = keygen(theirs, 13, False)  # the other signer's ZSK
        foreign_rr = [ln for ln in Path(foreign + ".key").read_text().splitlines()
                      if ln.strip() and not ln.startswith(";")][0]
        # "owner IN DNSKEY flags protocol algorithm base64..." (BIND splits the base64)
        foreign_key = "".join(foreign_rr.split()[6:])
        withkey = d / "with-foreign.zone"
        withkey.write_text(z.read_text() + foreign_rr + "\n")
        out = d / "signed.zone"
        sign(withkey, out, keys)
        dnskeys = [ln.split() for ln in out.read_text().splitlines()
                   if ln.split()[3:4] == ["DNSKEY"]]
        check(len(dnskeys) == 3, f"expected 3 DNSKEYs (2 ours, 1 foreign), got {len(dnskeys)}")
        check(any("".join(k[7:]) == foreign_key for k in dnskeys),
              "the foreign DNSKEY was dropped")
        oracles(out, "zone with a foreign DNSKEY")
        our_verify(out)


def test_bind_signed_zones_pass_ours():
    with ht.TempDir("sign-bind") as d:
        z = base_zone(d)
        keygen(d, 13, True)
        keygen(d, 13, False)
        signzone = ht.require_program("dnssec-signzone")
        for extra, kind in (([], "NSEC"), (["-3", "-"], "NSEC3"),
                            (["-3", "aabbccdd", "-H", "5", "-A"], "NSEC3 opt-out")):
            out = d / f"bind-{kind.replace(' ', '-')}.zone"
            # -S: take the keys from -K and publish their DNSKEYs (smart signing).
            ht.run([signzone, "-q", "-S", "-K", d, "-o", ORIGIN, "-f", out, *extra, z])
            r = our_verify(out)
            check(kind.split()[0] in r.stdout, f"BIND {kind}: {r.stdout}")
            print(f"  ok: dnssec-signzone {kind}", flush=True)


def test_knot_signed_zones_pass_ours():
    with ht.TempDir("sign-knot") as d:
        z = base_zone(d)
        keymgr = ht.require_program("keymgr")
        kzonesign = ht.require_program("kzonesign")
        for nsec3 in ("off", "on"):
            w = d / f"knot-{nsec3}"
            w.mkdir()
            (w / "zone").write_text(z.read_text())
            conf = w / "knot.conf"
            conf.write_text(f"""database:
    storage: "{w}"
    kasp-db: "{w / 'kasp'}"
policy:
  - id: p
    algorithm: ecdsap256sha256
    manual: on
    nsec3: {nsec3}
    nsec3-iterations: 0
    nsec3-salt-length: 0
zone:
  - domain: {ORIGIN}
    file: "{w / 'zone'}"
    dnssec-signing: on
    dnssec-policy: p
""")
            for k in (keygen(w, 13, True), keygen(w, 13, False)):
                ht.run([keymgr, "-c", conf, ORIGIN, "import-bind", k])
            outdir = w / "out"
            outdir.mkdir()
            ht.run([kzonesign, "-c", conf, "-o", outdir, ORIGIN])
            signed = list(outdir.iterdir())
            check(len(signed) == 1, f"kzonesign wrote {signed}")
            r = our_verify(signed[0])
            want = "NSEC3" if nsec3 == "on" else "NSEC"
            check(want in r.stdout, f"Knot NSEC3={nsec3}: {r.stdout}")
            print(f"  ok: kzonesign nsec3={nsec3}", flush=True)


def test_broken_zones_fail_ours_with_reason():
    with ht.TempDir("sign-broken") as d:
        z = base_zone(d)
        keys = [keygen(d, 13, True), keygen(d, 13, False)]
        good = d / "good.zone"
        sign(z, good, keys)
        our_verify(good)
        lines = good.read_text().splitlines()

        # 1. One flipped bit in one signature (of an A RRset).
        flipped = list(lines)
        for i, ln in enumerate(flipped):
            f = ln.split()
            if f[3] == "RRSIG" and f[4] == "A":
                sig = bytearray(base64.b64decode("".join(f[12:])))
                sig[10] ^= 0x01
                flipped[i] = "\t".join(f[:12] + [base64.b64encode(bytes(sig)).decode()])
                owner = f[0]
                break
        else:
            fail("no RRSIG A in the signed zone")
        bad = d / "flipped.zone"
        bad.write_text("\n".join(flipped) + "\n")
        r = our_verify(bad, ok=False)
        check(re.search(re.escape(owner) + r" A: no valid signature.*bad signature", r.stderr),
              "flipped signature: reason missing\n  " + r.describe())

        # 2. One NSEC record missing.
        nsecs = [i for i, ln in enumerate(lines) if ln.split()[3] == "NSEC"]
        victim = lines[nsecs[len(nsecs) // 2]].split()[0]
        missing = [ln for i, ln in enumerate(lines) if i != nsecs[len(nsecs) // 2]]
        bad = d / "missing-nsec.zone"
        bad.write_text("\n".join(missing) + "\n")
        r = our_verify(bad, ok=False)
        check(f"{victim}: no NSEC record" in r.stderr,
              "missing NSEC: reason missing\n  " + r.describe())

        # 3. Expired: signed with a window that ended long ago.
        expired = d / "expired.zone"
        sign(z, expired, keys, "--inception", "20200101000000", "--expiration", "20200201000000")
        r = our_verify(expired, ok=False)
        check("signature expired" in r.stderr, "expired: reason missing\n  " + r.describe())
        # ... and the same zone is fine at a time inside its window.
        our_verify(expired, "--time", "20200115000000")


if __name__ == "__main__":
    sys.exit(ht.run_tests(globals()))
