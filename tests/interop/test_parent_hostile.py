"""hsyncd role parent against hostile children, with real servers on loopback:

    hsyncd auth "ns1" (every child zone)  --+
    hsyncd auth "ns2" (one child, stale)  --+--> hsyncd parent (tld.) --IXFR--> hsyncd signer (tld.)
                                              ^ validated by libunbound from the signer's KSK

The parent zone `tld.` is a file served by the parent role; its signer (role signer, a
secondary of the parent role) signs it, and the signer's KSK is the parent's only trust
anchor (stub `tld.` -> the signer). The children are zone files signed here with
`hsyncctl zone sign` (KSK + ZSK from `hsyncctl keygen`), so the test controls exactly what
each child publishes and which key signs what.

Refused, with the parent zone unchanged (the DS served for the child and the SOA serial as
before), each result `refused: ...` naming the problem:
  1. a CDS/CDNSKEY RRset signed only by a new KSK the current DS does not point to;
  2. two nameservers of one child that disagree (one serves a stale CDS set);
  3. CDS and CDNSKEY that name different keys;
  4. a CDS with an unknown algorithm (253), and one with an unknown digest type (99);
  5. an unsigned child without DS that publishes CDS (initial-ds is off).
Accepted:
  6. a CDS/CDNSKEY set signed by the current KSK that adds a new KSK: the parent serves the
     new DS set, its serial went up, and the DS set equals what BIND's dnssec-cds derives
     from the same child records and the old DS;
  7. the RFC 8078 delete signal: the DS is gone;
  8. CSYNC (immediate, soaminimum; NS A) with a new in-bailiwick nameserver: the parent
     serves the new NS set and its glue.
Generalized NOTIFY (RFC 9859): NOTIFY(CDS) for a child starts a scan within a second; for a
name that is not a delegation it is REFUSED and changes nothing; the DSYNC records are
served at _dsync.tld.
Scheduling: every child is scanned at start without being asked, and a NOTIFY that
arrives while the child is being scanned still leads to a scan after it (the second
nameserver of that child is a black hole, so that a scan lasts seconds).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import hsynctest
from hsynctest import check

PARENT = "tld."
TTL = 30
UNKNOWN_DIGEST = "ab" * 32  # 32 octets: the size of a SHA-256 digest


# --------------------------------------------------------------------------- keys and zones


class Key:
    """A key made by `hsyncctl keygen`: .base (path without .key), .tag, .dnskey (RDATA),
    .ds (the SHA-256 DS RDATA from dnssec-dsfromkey)."""

    def __init__(self, keydir: Path, zone: str, kind: str):
        r = hsynctest.hsyncctl("keygen", f"--{kind}", "-K", keydir, zone, timeout=30)
        base = r.stdout.strip().splitlines()[-1].strip()
        self.base = str(keydir / Path(base).name)
        m = re.search(r"\+(\d+)$", self.base)
        check(m is not None, f"keygen printed {base!r}, not a Kzone.+AAA+TAG name")
        self.tag = int(m.group(1))
        text = Path(self.base + ".key").read_text()
        line = next(ln for ln in text.splitlines() if " DNSKEY " in ln and not ln.startswith(";"))
        self.dnskey = line.split(" DNSKEY ", 1)[1].strip()
        ds = hsynctest.run([hsynctest.require_program("dnssec-dsfromkey"), "-2",
                            self.base + ".key"], timeout=30).stdout.split()
        check(ds[2:4] == ["DS", str(self.tag)] or ds[3:5] == ["DS", str(self.tag)],
              f"dnssec-dsfromkey output {ds}")
        self.ds = " ".join(ds[ds.index("DS") + 1:])


def rdata_key(text: str) -> str:
    """An RDATA in comparable form: one space between fields, hex/base64 fields joined,
    upper case (DS digests are hex)."""
    f = text.split()
    return " ".join(f[:3] + ["".join(f[3:]).upper()]) if len(f) > 3 else " ".join(f).upper()


def sign_zone(workdir: Path, zone: str, body: list[str], keys: list[Key],
              drop_sigs: tuple[tuple[str, int], ...] = ()) -> Path:
    """Writes `zone` (SOA, then `body`) and, when keys are given, signs it with
    `hsyncctl zone sign`; `drop_sigs` removes the RRSIGs of (type covered, key tag) from
    the signed file, so that an RRset is signed by the other keys only."""
    src = workdir / f"{zone}zone.in"
    src.write_text("$TTL %d\n%s SOA ns1.%s hostmaster.%s 1000 30 30 600 30\n%s\n"
                   % (TTL, zone, zone, zone, "\n".join(body)))
    out = workdir / f"{zone}zone"
    if not keys:
        out.write_text(src.read_text())
        return out
    args = ["zone", "sign", src, "--origin", zone, "-o", out, "--threads", "1"]
    for k in keys:
        args += ["-k", k.base]
    hsynctest.hsyncctl(*args, timeout=60)
    if drop_sigs:
        kept, dropped = [], 0
        for line in out.read_text().splitlines():
            f = line.split()
            if len(f) > 10 and f[3] == "RRSIG" and (f[4], int(f[10])) in drop_sigs:
                dropped += 1
                continue
            kept.append(line)
        check(dropped == len(drop_sigs), f"{zone}: dropped {dropped} RRSIGs, want {drop_sigs}")
        out.write_text("\n".join(kept) + "\n")
    return out


def apex_lines(path: Path, zone: str, types: tuple[str, ...]) -> list[str]:
    """The signed file's records at the apex of `types` and their RRSIGs, one per line."""
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) < 5 or f[0].lower() != zone:
            continue
        if f[3] in types or (f[3] == "RRSIG" and f[4] in types):
            out.append(line)
    return out


def bind_dnssec_cds(workdir: Path, signed: Path, zone: str, old_ds: list[str]) -> hsynctest.Result:
    """BIND's `dnssec-cds` on the child's DNSKEY/CDS/CDNSKEY records (with their RRSIGs)
    from its signed zone file and the old DS set; any exit code."""
    child_file = workdir / f"{zone}child"
    child_file.write_text("\n".join(apex_lines(signed, zone, ("DNSKEY", "CDS", "CDNSKEY"))) + "\n")
    old_file = workdir / f"{zone}dsset"
    old_file.write_text("".join(f"{zone} {TTL} IN DS {ds}\n" for ds in old_ds))
    # -s -86400: signatures made up to a day before the DS file are acceptable (replay check).
    return hsynctest.run([hsynctest.require_program("dnssec-cds"), "-s", "-86400", "-f", child_file,
                          "-d", old_file, zone], timeout=30, check_rc=None)


# --------------------------------------------------------------------------- the lab


class Child:
    """One delegation of tld.: what the parent zone says about it and what it publishes.
    `servers`: the nameserver names, each served by "ns1" or "ns2" (the auth instances);
    `versions`: per auth instance, the zone file it serves."""

    def __init__(self, name: str):
        self.name = name
        self.ns = [f"ns1.{name}"]
        self.where = {f"ns1.{name}": "ns1"}
        self.ds: list[str] = []
        self.files: dict[str, Path] = {}


class Lab:
    def __init__(self, d: Path, children: list[Child], dsync: bool = False):
        self.d, self.children, self.dsync = d, children, dsync
        self.port = {n: hsynctest.free_port() for n in ("ns1", "ns2", "parent", "signer")}
        self.mgmt = {n: hsynctest.free_port() for n in ("ns1", "ns2", "parent", "signer")}
        self.servers: dict[str, hsynctest.Hsyncd] = {}
        self.anchor_file = d / "parent" / "anchors.txt"

    def start(self, kick: bool = True) -> None:
        t0 = time.monotonic()
        for inst in ("ns1", "ns2"):
            zones = [{"name": c.name, "type": "primary", "file": str(c.files[inst])}
                     for c in self.children if inst in c.files]
            if not zones:
                continue
            self.servers[inst] = hsynctest.start_hsyncd(
                {"role": "auth", "log-level": "info", "zones": zones}, self.d / inst,
                port=self.port[inst], mgmt_port=self.mgmt[inst],
                wait_zones=[z["name"] for z in zones])
        lines = [f"$TTL {TTL}",
                 f"{PARENT} SOA ns.{PARENT} hostmaster.{PARENT} 100 30 30 600 30",
                 f"{PARENT} NS ns.{PARENT}", f"ns.{PARENT} A 127.0.0.1"]
        for c in self.children:
            lines += [f"{c.name} NS {n}" for n in c.ns]
            lines += [f"{n} A 127.0.0.1" for n in c.ns]
            lines += [f"{c.name} DS {ds}" for ds in c.ds]
        (self.d / "parent").mkdir(parents=True, exist_ok=True)
        (self.d / "parent" / "tld.zone").write_text("\n".join(lines) + "\n")
        self.anchor_file.write_text("; the signer's KSK comes here once it has signed tld.\n")
        parent_cfg = {
            "role": "parent", "log-level": "debug",
            "zones": [{"name": PARENT, "type": "primary", "file": "tld.zone",
                       "notify": [f"127.0.0.1:{self.port['signer']}"],
                       "allow-transfer": "127.0.0.1"}],
            "parent": {
                "scan-interval": 3600, "notify-min-interval": 0, "timeout": 2000,
                "resolver": {"trust-anchor-file": str(self.anchor_file),
                             "stubs": [{"zone": PARENT,
                                        "servers": [f"127.0.0.1:{self.port['signer']}"]}]},
                "nameservers": {n: f"127.0.0.1:{self.port[inst]}"
                                for c in self.children for n, inst in c.where.items()},
            }}
        if self.dsync:
            parent_cfg["parent"]["dsync"] = {"target": f"ns.{PARENT}", "port": self.port["parent"]}
        self.parent = hsynctest.start_hsyncd(parent_cfg, self.d / "parent", port=self.port["parent"],
                                             mgmt_port=self.mgmt["parent"], wait_zones=[PARENT])
        self.signer = hsynctest.start_hsyncd({
            "role": "signer", "log-level": "info",
            "dnssec-policies": [{"name": "p", "algorithm": "ecdsap256sha256", "keys": "ksk-zsk",
                                 "dnskey-ttl": TTL, "nsec3": False, "publish-cds": False}],
            "zones": [{"name": PARENT, "type": "secondary",
                       "primaries": [f"127.0.0.1:{self.port['parent']}"],
                       "dnssec-policy": "p"}]},
            self.d / "signer", port=self.port["signer"], mgmt_port=self.mgmt["signer"])
        # Every child's first scan runs without a trust anchor and is refused; only then is
        # the anchor written, so that no scan acts before the test asks for one. (The scan
        # of one child wakes the scan loop, which then scans every child that is due: all
        # of them, at start. test_children_scanned_at_start checks that they are scanned
        # without being asked.)
        hsynctest.wait_until(lambda: len(self.children_json()) == len(self.children), 20,
                             "every child listed by the parent role", process=self.parent.proc)
        if kick:
            self.parent.ctl("parent", "scan", self.children[0].name, "--no-wait")
        hsynctest.wait_until(lambda: all(c["scans"] >= 1 for c in self.children_json().values()),
                             20 if kick else 5, "first scan of every child" +
                             ("" if kick else " at start, unasked"), process=self.parent.proc)
        for name, c in self.children_json().items():
            check("no trust anchor" in c["result"], f"{name}: first scan without an anchor: {c}")
        ksk: list[str] = []

        def signed() -> bool:
            a = hsynctest.dig1("127.0.0.1", self.port["signer"], PARENT, "DNSKEY")
            ksk[:] = [ln for ln in a.sections["answer"] if " DNSKEY 257 " in ln]
            return len(ksk) == 1

        hsynctest.wait_until(signed, 20, "the signer serving tld. with its KSK", interval=0.3,
                             process=self.signer.proc)
        self.anchor_file.write_text(ksk[0] + "\n")
        print(f"  lab up in {time.monotonic() - t0:.1f}s: parent #{self.port['parent']}, signer "
              f"#{self.port['signer']} (anchor {' '.join(ksk[0].split()[3:7])[:40]}...), "
              f"children {[c.name for c in self.children]}")

    # --- what the parent serves and says

    def children_json(self) -> dict[str, dict]:
        r = self.parent.ctl("parent", "children", "--json")
        return {c["child"]: c for c in json.loads(r.stdout)}

    def scan(self, child: str) -> dict:
        r = self.parent.ctl("parent", "scan", child, "--json", "--wait", "30", timeout=40)
        return json.loads(r.stdout)

    def serial(self) -> int | None:
        return hsynctest.soa_serial("127.0.0.1", self.port["parent"], PARENT)

    def ds(self, child: str) -> list[str]:
        """The DS RDATA the parent role serves for child (dig, comparable form)."""
        a = hsynctest.dig1("127.0.0.1", self.port["parent"], child, "DS")
        check(a.rcode == "NOERROR", f"DS {child} at the parent: {a.rcode}\n{a.raw}")
        return sorted(rdata_key(ln.split(" DS ", 1)[1]) for ln in a.sections["answer"]
                      if " DS " in ln)

    def referral(self, child: str) -> tuple[list[str], list[str]]:
        """(NS targets, glue 'name A addr') of the parent's referral for child."""
        a = hsynctest.dig1("127.0.0.1", self.port["parent"], f"www.{child}", "A")
        ns = sorted(ln.split()[-1].lower() for ln in a.sections["authority"] if " NS " in ln)
        glue = sorted(f"{ln.split()[0]} {ln.split()[3]} {ln.split()[4]}"
                      for ln in a.sections["additional"] if ln.split()[3:4] in (["A"], ["AAAA"]))
        return ns, glue

    def refused(self, child: str, *patterns: str) -> str:
        """Scans child; checks the result is `refused: ...` matching every pattern and that
        neither its DS nor the parent's serial changed. Returns the result."""
        ds_before, serial_before = self.ds(child), self.serial()
        j = self.scan(child)
        result = j["result"]
        print(f"  {child}: {result}")
        check(result.startswith("refused: "), f"{child}: want refused, got {result!r}\n{j}")
        for p in patterns:
            check(re.search(p, result) is not None,
                  f"{child}: the reason does not match {p!r}: {result!r}")
        check(self.ds(child) == ds_before,
              f"{child}: DS at the parent changed after a refusal: {ds_before} -> {self.ds(child)}")
        check(self.serial() == serial_before,
              f"{child}: the parent's serial moved after a refusal: {serial_before} -> {self.serial()}")
        check(j["managed"] == [], f"{child}: the role says it manages {j['managed']} after a refusal")
        return result


def child_with_keys(d: Path, name: str, ksks: int = 1) -> tuple[Child, list[Key], Key]:
    keydir = d / "keys" / name.rstrip(".")
    keydir.mkdir(parents=True, exist_ok=True)
    return Child(name), [Key(keydir, name, "ksk") for _ in range(ksks)], Key(keydir, name, "zsk")


def base_body(c: Child) -> list[str]:
    return [f"{c.name} NS {n}" for n in c.ns] + [f"{n} A 127.0.0.1" for n in c.ns] \
        + [f"www.{c.name} A 192.0.2.1"]


# --------------------------------------------------------------------------- the tests


def test_hostile_children_refused():
    """Cases 1-5: every signal refused, with a reason that names the problem, nothing
    changed at the parent."""
    with hsynctest.TempDir("hsync-parent-hostile") as d:
        children = []
        zd = d / "zones"
        zd.mkdir()

        # 1. CDS/CDNSKEY for a new KSK, signed by the new KSK only (the old one, which the
        #    DS points to, still signs the DNSKEY RRset, so everything validates).
        c1, (old, new), zsk = child_with_keys(d, "foreignsig.tld.", 2)
        c1.ds = [old.ds]
        c1.files["ns1"] = sign_zone(zd, c1.name, base_body(c1) + [
            f"{c1.name} CDS {new.ds}", f"{c1.name} CDNSKEY {new.dnskey}"],
            [old, new, zsk], drop_sigs=(("CDS", old.tag), ("CDNSKEY", old.tag)))
        children.append(c1)

        # 2. Two nameservers: ns1 serves the new CDS set, ns2 a stale one.
        c2, (old2, new2), zsk2 = child_with_keys(d, "split.tld.", 2)
        c2.ns = [f"ns1.{c2.name}", f"ns2.{c2.name}"]
        c2.where = {f"ns1.{c2.name}": "ns1", f"ns2.{c2.name}": "ns2"}
        c2.ds = [old2.ds]
        zd2 = zd / "stale"
        zd2.mkdir()
        c2.files["ns1"] = sign_zone(zd, c2.name, base_body(c2) + [
            f"{c2.name} CDS {old2.ds}", f"{c2.name} CDS {new2.ds}",
            f"{c2.name} CDNSKEY {old2.dnskey}", f"{c2.name} CDNSKEY {new2.dnskey}"],
            [old2, new2, zsk2])
        c2.files["ns2"] = sign_zone(zd2, c2.name, base_body(c2) + [
            f"{c2.name} CDS {old2.ds}", f"{c2.name} CDNSKEY {old2.dnskey}"], [old2, new2, zsk2])
        children.append(c2)

        # 3. CDS names the current KSK, CDNSKEY a new one.
        c3, (old3, new3), zsk3 = child_with_keys(d, "mismatch.tld.", 2)
        c3.ds = [old3.ds]
        c3.files["ns1"] = sign_zone(zd, c3.name, base_body(c3) + [
            f"{c3.name} CDS {old3.ds}", f"{c3.name} CDNSKEY {new3.dnskey}"], [old3, zsk3])
        children.append(c3)

        # 4. A CDS of algorithm 253 (private) beside a good one; a CDS of digest type 99.
        c4, (k4,), z4 = child_with_keys(d, "alg253.tld.")
        c4.ds = [k4.ds]
        c4.files["ns1"] = sign_zone(zd, c4.name, base_body(c4) + [
            f"{c4.name} CDS {k4.ds}", f"{c4.name} CDS 4242 253 2 {UNKNOWN_DIGEST}"], [k4, z4])
        children.append(c4)
        c4b, (k4b,), z4b = child_with_keys(d, "digest99.tld.")
        c4b.ds = [k4b.ds]
        c4b.files["ns1"] = sign_zone(zd, c4b.name, base_body(c4b) + [
            f"{c4b.name} CDS {k4b.ds}", f"{c4b.name} CDS {k4b.tag} 13 99 {UNKNOWN_DIGEST}"],
            [k4b, z4b])
        children.append(c4b)

        # 5. An unsigned child without DS that asks for one.
        c5, (k5,), _ = child_with_keys(d, "unsigned.tld.")
        c5.files["ns1"] = sign_zone(zd, c5.name, base_body(c5) + [
            f"{c5.name} CDS {k5.ds}", f"{c5.name} CDNSKEY {k5.dnskey}"], [])
        children.append(c5)

        lab = Lab(d, children)
        lab.start()

        lab.refused(c1.name, r"CDS: ", r"not signed by a key the current DS points to",
                    r"RFC 7344")
        r = bind_dnssec_cds(d, c1.files["ns1"], c1.name, c1.ds)
        check(r.rc != 0 and "could not validate" in r.stderr,
              f"dnssec-cds should refuse {c1.name} as well:\n  " + r.describe())
        print(f"  dnssec-cds on {c1.name}: {r.stderr.strip()}")
        lab.refused(c2.name, r"nameservers disagree on CDS/CDNSKEY",
                    rf"#{lab.port['ns1']}", rf"#{lab.port['ns2']}")
        lab.refused(c3.name, r"CDS and CDNSKEY are inconsistent", str(old3.tag), str(new3.tag))
        lab.refused(c4.name, r"key tag 4242", r"algorithm", r"cannot validate")
        lab.refused(c4b.name, rf"key tag {k4b.tag}", r"unknown digest type 99")
        lab.refused(c5.name, r"no DS", r"RFC 8078", r"not allowed by policy")
        check(lab.ds(c5.name) == [], f"{c5.name}: the parent serves DS {lab.ds(c5.name)}")

        # The refusals are in the listing too, and nothing is managed.
        listing = lab.children_json()
        for c in children:
            got = listing[c.name]
            check(got["result"].startswith("refused: ") and got["managed"] == [],
                  f"parent children --json for {c.name}: {got}")
        check(lab.parent.alive() and lab.signer.alive(), "a daemon died")


def test_good_changes_accepted():
    """Cases 6-8: a KSK added by CDS (cross-checked with dnssec-cds), the RFC 8078 delete
    signal, and CSYNC with a new in-bailiwick nameserver."""
    hsynctest.require_program("dnssec-cds")
    with hsynctest.TempDir("hsync-parent-good") as d:
        zd = d / "zones"
        zd.mkdir()
        # 6. The current KSK signs a CDS/CDNSKEY set naming itself and a new KSK.
        c6, (old, new), zsk = child_with_keys(d, "roll.tld.", 2)
        c6.ds = [old.ds]
        c6.files["ns1"] = sign_zone(zd, c6.name, base_body(c6) + [
            f"{c6.name} CDS {old.ds}", f"{c6.name} CDS {new.ds}",
            f"{c6.name} CDNSKEY {old.dnskey}", f"{c6.name} CDNSKEY {new.dnskey}"],
            [old, new, zsk])
        # 7. Delete.
        c7, (k7,), z7 = child_with_keys(d, "goodbye.tld.")
        c7.ds = [k7.ds]
        c7.files["ns1"] = sign_zone(zd, c7.name, base_body(c7) + [
            f"{c7.name} CDS 0 0 0 00", f"{c7.name} CDNSKEY 0 3 0 AA=="], [k7, z7])
        # 8. CSYNC: the child adds ns2 (in bailiwick, with an address).
        c8, (k8,), z8 = child_with_keys(d, "moved.tld.")
        c8.ds = [k8.ds]
        c8.files["ns1"] = sign_zone(zd, c8.name, base_body(c8) + [
            f"{c8.name} NS ns2.{c8.name}", f"ns2.{c8.name} A 127.0.0.2",
            f"{c8.name} CSYNC 1000 3 NS A"], [k8, z8])
        lab = Lab(d, [c6, c7, c8])
        lab.start()

        # 6.
        before, serial = lab.ds(c6.name), lab.serial()
        check(before == [rdata_key(old.ds)], f"{c6.name}: DS before {before}")
        j = lab.scan(c6.name)
        print(f"  {c6.name}: {j['result']}")
        check(j["result"].startswith("updated: DS"), f"{c6.name}: want updated, got {j}")
        hsynctest.wait_until(lambda: lab.ds(c6.name) != before, 5, f"{c6.name}: the new DS served")
        after = lab.ds(c6.name)
        check(after == sorted([rdata_key(old.ds), rdata_key(new.ds)]),
              f"{c6.name}: DS served {after}, want the old and the new KSK's")
        s6 = lab.serial()
        check(s6 is not None and serial is not None and s6 > serial,
              f"{c6.name}: the parent's serial did not go up: {serial} -> {s6}")
        check(j["managed"] == ["DS"], f"{c6.name}: managed {j['managed']}")
        # BIND's dnssec-cds on the same child records and the old DS.
        r = bind_dnssec_cds(d, c6.files["ns1"], c6.name, c6.ds)
        check(r.rc == 0, "dnssec-cds failed:\n  " + r.describe())
        bind = sorted(rdata_key(ln.split(" DS ", 1)[1]) for ln in
                      (hsynctest.normalize_rr_line(x) for x in r.stdout.splitlines()) if " DS " in ln)
        print(f"  dnssec-cds: {bind}")
        hsynctest.assert_sets_equal(bind, after, f"{c6.name}: DS from dnssec-cds vs served",
                                    "dnssec-cds", "hsync parent")
        # The signer signed the new DS (the chain the next scan will walk).
        hsynctest.wait_until(
            lambda: sorted(rdata_key(ln.split(" DS ", 1)[1]) for ln in hsynctest.dig1(
                "127.0.0.1", lab.port["signer"], c6.name, "DS").sections["answer"]
                if " DS " in ln) == after, 20, f"{c6.name}: the signer serving the new DS")
        j = lab.scan(c6.name)
        check(j["result"] == "unchanged", f"{c6.name}: a second scan should be unchanged: {j}")

        # 7.
        serial = lab.serial()
        check(lab.ds(c7.name) == [rdata_key(k7.ds)], f"{c7.name}: DS before {lab.ds(c7.name)}")
        j = lab.scan(c7.name)
        print(f"  {c7.name}: {j['result']}")
        check(j["result"].startswith("updated: DS removed"), f"{c7.name}: want removed, got {j}")
        check(lab.ds(c7.name) == [], f"{c7.name}: the parent still serves DS {lab.ds(c7.name)}")
        check(lab.serial() > serial, f"{c7.name}: serial {serial} -> {lab.serial()}")
        check(j["ds"] == [], f"{c7.name}: parent children says DS {j['ds']}")

        # 8.
        serial = lab.serial()
        ns, glue = lab.referral(c8.name)
        check(ns == [f"ns1.{c8.name}"], f"{c8.name}: NS before {ns}")
        j = lab.scan(c8.name)
        print(f"  {c8.name}: {j['result']}")
        check(j["result"].startswith("updated: NS and glue"), f"{c8.name}: want updated, got {j}")
        ns, glue = lab.referral(c8.name)
        print(f"  {c8.name}: referral NS {ns}, glue {glue}")
        check(ns == [f"ns1.{c8.name}", f"ns2.{c8.name}"], f"{c8.name}: NS served {ns}")
        check(glue == [f"ns1.{c8.name} A 127.0.0.1", f"ns2.{c8.name} A 127.0.0.2"],
              f"{c8.name}: glue served {glue}")
        check(lab.serial() > serial, f"{c8.name}: serial {serial} -> {lab.serial()}")
        check(lab.ds(c8.name) == [rdata_key(k8.ds)], f"{c8.name}: DS changed {lab.ds(c8.name)}")
        # The other delegations kept what they had.
        check(lab.ds(c6.name) == after, f"{c6.name}: DS changed by another child's change")
        check(lab.parent.alive() and lab.signer.alive(), "a daemon died")


def test_generalized_notify_and_dsync():
    """Case 9: NOTIFY(CDS) starts a scan within a second; NOTIFY for a name that is no
    delegation is REFUSED; _dsync.tld. DSYNC is served."""
    with hsynctest.TempDir("hsync-parent-notify") as d:
        zd = d / "zones"
        zd.mkdir()
        c, (k,), z = child_with_keys(d, "notified.tld.")
        c.ds = [k.ds]
        c.files["ns1"] = sign_zone(zd, c.name, base_body(c) + [f"{c.name} CDS {k.ds}"], [k, z])
        lab = Lab(d, [c], dsync=True)
        lab.start()
        port = lab.port["parent"]

        before = lab.children_json()[c.name]["scans"]
        serial = lab.serial()
        a = hsynctest.dig1("127.0.0.1", port, c.name, "CDS", "+opcode=notify")
        check(a.rcode == "NOERROR", f"NOTIFY(CDS) {c.name}: {a.rcode}\n{a.raw}")
        t0 = time.monotonic()
        hsynctest.wait_until(lambda: lab.children_json()[c.name]["scans"] > before, 1.0,
                             f"a scan of {c.name} within 1 s of NOTIFY(CDS)", interval=0.05)
        print(f"  NOTIFY(CDS) {c.name}: NOERROR, scan within {time.monotonic() - t0:.2f}s")
        hsynctest.wait_until(lambda: not lab.children_json()[c.name]["scanning"], 10,
                             "the NOTIFY-started scan finished")
        got = lab.children_json()[c.name]
        check(got["result"] == "unchanged", f"{c.name}: CDS equal to the DS, want unchanged: {got}")

        for qtype in ("CDS", "CSYNC"):
            a = hsynctest.dig1("127.0.0.1", port, f"nosuch.{PARENT}", qtype, "+opcode=notify")
            check(a.rcode == "REFUSED", f"NOTIFY({qtype}) nosuch.{PARENT}: want REFUSED, got {a.rcode}")
        a = hsynctest.dig1("127.0.0.1", port, PARENT, "CDS", "+opcode=notify")
        check(a.rcode == "REFUSED", f"NOTIFY(CDS) for the parent's apex: want REFUSED, got {a.rcode}")
        time.sleep(1.0)
        after = lab.children_json()
        check(list(after) == [c.name], f"children after the refused NOTIFY: {list(after)}")
        check(after[c.name]["scans"] == got["scans"], "a refused NOTIFY started a scan")
        check(lab.serial() == serial, f"serial {serial} -> {lab.serial()} after NOTIFYs")
        print(f"  NOTIFY(CDS/CSYNC) nosuch.{PARENT} and {PARENT}: REFUSED, nothing changed")

        a = hsynctest.dig1("127.0.0.1", port, f"_dsync.{PARENT}", "TYPE66")
        check(a.rcode == "NOERROR" and "aa" in a.flags, f"_dsync.{PARENT} TYPE66: {a.rcode}\n{a.raw}")
        rdatas = sorted(ln.split(None, 4)[4] for ln in a.sections["answer"]
                        if ln.split()[3] in ("DSYNC", "TYPE66"))
        want_names = {"CDS": f"003B 01 {port:04x}", "CSYNC": f"003E 01 {port:04x}"}
        target_wire = hsynctest.encode_name(f"ns.{PARENT}").hex()
        ok = len(rdatas) == 2
        for rd in rdatas:
            if rd.startswith("\\#"):
                hexdata = "".join(rd.split()[2:]).lower()
                ok &= any(hexdata == (w.replace(" ", "").lower() + target_wire)
                          for w in want_names.values())
            else:
                f = rd.split()
                # dig 9.18 knows DSYNC and names scheme 1 NOTIFY.
                ok &= f[0] in want_names and f[1] in ("1", "NOTIFY") \
                    and f[2:] == [str(port), f"ns.{PARENT}"]
        check(ok, f"_dsync.{PARENT}: want DSYNC CDS and CSYNC 1 {port} ns.{PARENT}, got {rdatas}")
        print(f"  _dsync.{PARENT} DSYNC: {rdatas}")


def test_children_scanned_at_start():
    """Every child is due at once when the parent role starts (docs/parent.md: each child
    is scanned every scan-interval): its first scan comes without a NOTIFY or a command."""
    with hsynctest.TempDir("hsync-parent-start") as d:
        zd = d / "zones"
        zd.mkdir()
        c, (k,), z = child_with_keys(d, "early.tld.")
        c.ds = [k.ds]
        c.files["ns1"] = sign_zone(zd, c.name, base_body(c), [k, z])
        lab = Lab(d, [c])
        lab.start(kick=False)  # fails in the wait for the first scan if it never comes
        print(f"  {c.name} scanned at start: {lab.children_json()[c.name]['result']}")


def test_notify_during_a_scan_is_not_lost():
    """A NOTIFY(CDS) that arrives while the child is being scanned (the scan may have
    fetched the child's records before the change the NOTIFY announces) must still lead
    to a scan after it: docs/parent.md folds later NOTIFYs into one scan, never drops them.
    The child's second nameserver is a black hole, so that a scan lasts seconds."""
    import socket
    with hsynctest.TempDir("hsync-parent-notify-busy") as d:
        zd = d / "zones"
        zd.mkdir()
        c, (k,), z = child_with_keys(d, "slow.tld.")
        c.ns = [f"ns1.{c.name}", f"ns2.{c.name}"]
        hole_port = hsynctest.free_port()
        c.ds = [k.ds]
        c.files["ns1"] = sign_zone(zd, c.name, base_body(c) + [f"{c.name} CDS {k.ds}"], [k, z])
        lab = Lab(d, [c])
        lab.port["hole"] = hole_port
        c.where = {f"ns1.{c.name}": "ns1", f"ns2.{c.name}": "hole"}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            u.bind(("127.0.0.1", hole_port))  # never answers
            t.bind(("127.0.0.1", hole_port))
            t.listen(64)  # never accepts
            lab.start()
            before = lab.children_json()[c.name]["scans"]
            lab.parent.ctl("parent", "scan", c.name, "--no-wait")
            hsynctest.wait_until(lambda: lab.children_json()[c.name]["scanning"], 5,
                                 f"a scan of {c.name} in flight")
            t0 = time.monotonic()
            a = hsynctest.dig1("127.0.0.1", lab.port["parent"], c.name, "CDS", "+opcode=notify")
            check(a.rcode == "NOERROR", f"NOTIFY(CDS) {c.name}: {a.rcode}")
            hsynctest.wait_until(lambda: lab.children_json()[c.name]["scans"] >= before + 1, 30,
                                 "the scan in flight finished")
            first = lab.children_json()[c.name]
            print(f"  scan in flight when NOTIFY came ended after {time.monotonic() - t0:.1f}s: "
                  f"{first['result'][:120]}; next scan {first['next_scan']}")
            hsynctest.wait_until(lambda: lab.children_json()[c.name]["scans"] >= before + 2, 20,
                                 f"a scan of {c.name} after the NOTIFY that came during a scan "
                                 f"(next_scan was {first['next_scan']})")


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
