#!/usr/bin/env python3
"""DNSSEC keys: hsync's key files against BIND 9.18's tools, both ways.

  - keys made by `dnssec-keygen` (ZSK, KSK, SIG(0) KEY; algorithms 8, 13, 14, 15, 16)
    load in hsync (`hsyncctl keyinfo` checks the private half against the public one);
    the key tag equals the one in BIND's file name and the RDATA equals the .key file's;
    hsync's DS digests (SHA-1, SHA-256, SHA-384) equal `dnssec-dsfromkey`'s;
  - keys made by `hsyncctl keygen` (every algorithm, every role) are read by BIND:
    `dnssec-dsfromkey` computes the same DS as hsync, `dnssec-settime -p all` reads the
    timing, and a zone that `dnssec-signzone` signs with hsync's KSK and ZSK passes
    `dnssec-verify`.
"""

import base64
import re
import struct
import sys
from pathlib import Path

import hsynctest as ht
from hsynctest import check, fail

ALGORITHMS = [8, 10, 13, 14, 15, 16]


def key_record(key_file: Path) -> tuple[str, str, bytes]:
    """(owner, type, RDATA) of the record in a .key file, decoded here independently."""
    lines = [ht.strip_comment(ln).strip() for ln in key_file.read_text().splitlines()]
    lines = [ln for ln in lines if ln]
    check(len(lines) == 1, f"{key_file.name}: expected one record line, got {lines}")
    f = lines[0].split()
    i = next((n for n, t in enumerate(f) if t in ("DNSKEY", "KEY")), None)
    check(i is not None, f"{key_file.name}: no DNSKEY/KEY in {lines[0]!r}")
    flags, proto, alg = int(f[i + 1]), int(f[i + 2]), int(f[i + 3])
    rdata = struct.pack("!HBB", flags, proto, alg) + base64.b64decode("".join(f[i + 4:]))
    return f[0], f[i], rdata


def keyinfo(base: Path) -> dict:
    res = ht.hsyncctl("keyinfo", "-d", "1", "-d", "2", "-d", "4", str(base))
    info: dict = {"ds": []}
    for line in res.lines:
        k, _, v = line.partition(" ")
        if k == "ds":
            info["ds"].append(v.upper().split())
        else:
            info[k] = v
    return info


def bind_ds(base: Path, *digest_args: str) -> list[list[str]]:
    """DS RDATA fields from dnssec-dsfromkey (tag alg type digest), upper-case."""
    out = []
    for args in digest_args:
        res = ht.run([ht.require_program("dnssec-dsfromkey"), *args.split(), f"{base}.key"])
        for line in res.lines:
            f = line.split()
            check("DS" in f, f"unexpected dnssec-dsfromkey output {line!r}")
            out.append([x.upper() for x in f[f.index("DS") + 1:]])
    return out


def compare_with_bind(base: Path) -> None:
    info = keyinfo(base)
    name = base.name
    check(info.get("base") == name, f"hsync names the key {info.get('base')!r}, file is {name}")
    check(info.get("private") == "yes", f"{name}: private key not loaded")
    want_tag = int(name.rsplit("+", 1)[1])
    check(int(info["tag"]) == want_tag, f"{name}: hsync key tag {info['tag']}, BIND {want_tag}")
    _, rtype, rdata = key_record(base.with_name(name + ".key"))
    check(info["rdata"] == rdata.hex(), f"{name}: RDATA differs\n  hsync {info['rdata']}\n"
          f"  file  {rdata.hex()}")
    if rtype == "DNSKEY":
        theirs = bind_ds(base, "-1", "-2", "-a SHA-384")
        check(info["ds"] == theirs, f"{name}: DS differ\n  hsync {info['ds']}\n  BIND  {theirs}")


def test_bind_keys_load_in_hsync():
    keygen = ht.require_program("dnssec-keygen")
    with ht.TempDir("keys-bind") as d:
        runs = [["-a", "13", "-n", "ZONE", "example."],
                ["-a", "13", "-f", "KSK", "-L", "300", "example."],
                ["-a", "8", "-n", "ZONE", "example."],
                ["-a", "8", "-b", "1024", "-f", "KSK", "example."],
                ["-a", "14", "example."],
                ["-a", "15", "-n", "ZONE", "example."],
                ["-a", "16", "example."],
                ["-a", "13", "-T", "KEY", "-n", "HOST", "agent.example."],
                ["-a", "15", "-T", "KEY", "-n", "HOST", "agent.example."]]
        for args in runs:
            res = ht.run([keygen, "-K", str(d), *args])
            compare_with_bind(d / res.lines[-1].strip())


def test_hsync_keys_work_with_bind():
    settime = ht.require_program("dnssec-settime")
    with ht.TempDir("keys-hsync") as d:
        for alg in ALGORITHMS:
            for role in ("--zsk", "--ksk", "--csk", "--sig0"):
                owner = "agent.example." if role == "--sig0" else "example."
                res = ht.hsyncctl("keygen", "--algorithm", str(alg), role, "--dir", str(d), owner)
                base = d / res.lines[-1].strip()
                check(base.name.startswith(f"K{owner}+{alg:03d}+"), f"bad name {base.name}")
                priv = base.with_name(base.name + ".private")
                check(priv.stat().st_mode & 0o077 == 0, f"{priv.name} readable by others")
                owner_, rtype, rdata = key_record(base.with_name(base.name + ".key"))
                flags = struct.unpack("!H", rdata[:2])[0]
                want = {"--zsk": 256, "--ksk": 257, "--csk": 257, "--sig0": 512}[role]
                check(flags == want and rdata[2] == 3 and rdata[3] == alg,
                      f"{base.name}: flags/protocol/algorithm {flags} {rdata[2]} {rdata[3]}")
                check(rtype == ("KEY" if role == "--sig0" else "DNSKEY"), f"{base.name}: {rtype}")
                compare_with_bind(base)
                # BIND reads both files (it fails on a .private it cannot parse).
                # dnssec-settime refuses KEY records (its own too): DNSKEYs only.
                if role != "--sig0":
                    res = ht.run([settime, "-K", str(d), "-p", "all", base.name])
                    check("Created:" in res.stdout and "Activate:" in res.stdout,
                          f"dnssec-settime did not show our timing:\n{res.stdout}")
    # hsync refuses what it cannot make.
    res = ht.hsyncctl("keygen", "--algorithm", "7", "example.", check_rc=None)
    check(res.rc != 0 and "not supported" in res.stderr, res.describe())
    res = ht.hsyncctl("keygen", "--ksk", "--zsk", "example.", check_rc=None)
    check(res.rc != 0, res.describe())


ZONE = """$TTL 3600
@       IN SOA ns1.example. hostmaster.example. 1 7200 3600 1209600 3600
        IN NS  ns1.example.
        IN NS  ns2.example.
ns1     IN A   192.0.2.1
ns2     IN A   192.0.2.2
www     IN A   192.0.2.10
        IN AAAA 2001:db8::10
mail    IN MX  10 www.example.
sub     IN NS  ns.sub.example.
ns.sub  IN A   192.0.2.20
"""


def test_bind_signs_with_hsync_keys():
    signzone = ht.require_program("dnssec-signzone")
    verify = ht.require_program("dnssec-verify")
    for alg in ALGORITHMS:
        with ht.TempDir(f"keys-sign-{alg}") as d:
            ksk = ht.hsyncctl("keygen", "-a", str(alg), "--ksk", "--dir", str(d),
                              "example.").lines[-1].strip()
            zsk = ht.hsyncctl("keygen", "-a", str(alg), "--zsk", "--dir", str(d),
                              "example.").lines[-1].strip()
            zone = d / "example.zone"
            zone.write_text(ZONE + f"$INCLUDE {ksk}.key\n$INCLUDE {zsk}.key\n")
            ht.run([signzone, "-o", "example.", "-k", ksk, "-f", "example.signed",
                    "example.zone", zsk], cwd=str(d))
            signed = (d / "example.signed").read_text()
            ksk_tag, zsk_tag = int(ksk.rsplit("+", 1)[1]), int(zsk.rsplit("+", 1)[1])
            check(re.search(rf"RRSIG\s+SOA {alg} 1 3600", signed),
                  f"alg {alg}: no RRSIG SOA of our algorithm in the signed zone")
            for tag in (ksk_tag, zsk_tag):
                check(re.search(rf"\s{tag} example\.\s", signed),
                      f"alg {alg}: no RRSIG by key {tag}")
            res = ht.run([verify, "-o", "example.", "example.signed"], cwd=str(d))
            out = res.stdout + res.stderr
            check("Zone fully signed" in out, f"dnssec-verify:\n{out}")
            # A tampered signed zone must fail: the check above can fail.
            bad = signed.replace("192.0.2.10", "192.0.2.11")
            check(bad != signed, "tamper target not found")
            (d / "bad.signed").write_text(bad)
            res = ht.run([verify, "-o", "example.", "bad.signed"], cwd=str(d), check_rc=None)
            check(res.rc != 0, f"alg {alg}: dnssec-verify accepted a tampered zone")


if __name__ == "__main__":
    sys.exit(ht.run_tests(globals()))
