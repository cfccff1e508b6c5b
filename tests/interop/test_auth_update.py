"""RFC 2136 UPDATE against hsyncd role auth, driven by BIND's `nsupdate -y`:
records added and deleted with the right TSIG key (visible with dig, SOA serial bumped,
kept across a clean restart and across kill -9), wrong/absent/unknown keys refused with
nothing changed, failing prerequisites give YXDOMAIN/NXDOMAIN/YXRRSET/NXRRSET with
nothing changed, all-or-nothing for a large UPDATE with one bad record, an UPDATE whose
header claims more than 10,000 records refused, and update-policy limits per key."""

from __future__ import annotations

import re
import struct
import sys

import hsynctest
from hsynctest import check, fail

ZONE = "upd.test."
ZONE_TEXT = """$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 120
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
mail A 192.0.2.25
txtonly TXT "initial"
"""


class Ctx:
    def __init__(self, d):
        self.d = d
        self.secrets = {k: hsynctest.tsig_secret() for k in ("upd.", "sub.", "txt.")}
        zf = d / "upd.test.zone"
        zf.write_text(ZONE_TEXT)
        self.h = hsynctest.start_hsyncd({
            "tsig-keys": [{"name": k, "algorithm": "hmac-sha256", "secret": s} for k, s in self.secrets.items()],
            "zones": [{"name": ZONE, "type": "primary", "file": str(zf),
                       "allow-transfer": ["127.0.0.1"],
                       "allow-update": ["key upd.", "key sub.", "key txt."],
                       "update-policy": [
                           {"key": "upd.", "match": "subdomain"},
                           {"key": "sub.", "match": "subdomain", "name": "dyn"},
                           {"key": "txt.", "match": "exact", "name": "txtonly", "types": ["TXT"]}]}]},
            d / "hsyncd", wait_zones=[ZONE])
        self.errs: list[str] = []

    def key(self, name: str, secret: str | None = None) -> str:
        return f"hmac-sha256:{name}:{secret or self.secrets[name]}"

    def serial(self) -> int | None:
        return hsynctest.soa_serial("127.0.0.1", self.h.port, ZONE)

    def axfr(self) -> list[str]:
        return sorted(hsynctest.axfr("127.0.0.1", self.h.port, ZONE))

    def update(self, commands: str, key: str | None, tcp: bool = False):
        return hsynctest.nsupdate("127.0.0.1", self.h.port, ZONE, commands, key=key, tcp=tcp)

    def rrs(self, name: str, qtype: str) -> list[str]:
        a = hsynctest.dig1("127.0.0.1", self.h.port, name, qtype)
        return a.sections["answer"]

    def expect_ok(self, what: str, commands: str, key: str, tcp: bool = False) -> None:
        before = self.serial()
        r = self.update(commands, key, tcp)
        after = self.serial()
        if r.rc != 0:
            self.errs.append(f"{what}: nsupdate failed\n  " + r.describe())
        elif before is None or after is None or not (after > before):
            self.errs.append(f"{what}: serial not bumped ({before} -> {after})")

    def expect_refused(self, what: str, commands: str, key: str | None, rcodes: str,
                       tcp: bool = False) -> None:
        """The update fails with one of the rcodes (regex) and changes nothing."""
        before_serial, before = self.serial(), self.axfr()
        r = self.update(commands, key, tcp)
        text = r.stdout + r.stderr
        if r.rc == 0:
            self.errs.append(f"{what}: nsupdate succeeded, expected {rcodes}\n  " + r.describe())
        elif not re.search(rcodes, text):
            self.errs.append(f"{what}: failed but not with {rcodes}\n  " + r.describe())
        after_serial, after = self.serial(), self.axfr()
        if after_serial != before_serial or after != before:
            self.errs.append(f"{what}: the zone CHANGED (serial {before_serial} -> {after_serial}; "
                             f"new {[x for x in after if x not in before][:4]}, gone "
                             f"{[x for x in before if x not in after][:4]})")

    def done(self) -> None:
        check(self.h.alive(), "hsyncd died:\n" + self.h.log()[-2000:])
        if self.errs:
            fail(f"{len(self.errs)} problems:\n" + "\n".join("  " + e for e in self.errs))


def test_add_delete_and_persist():
    with hsynctest.TempDir("auth-update") as d:
        c = Ctx(d)
        k = c.key("upd.")
        c.expect_ok("add", f"update add new.{ZONE} 300 A 192.0.2.7\nupdate add new.{ZONE} 300 TXT \"hello\"", k)
        if c.rrs(f"new.{ZONE}", "A") != [f"new.{ZONE} 300 IN A 192.0.2.7"]:
            c.errs.append(f"added A not served: {c.rrs(f'new.{ZONE}', 'A')}")
        c.expect_ok("delete RRset", f"update delete www.{ZONE} A", k)
        a = hsynctest.dig1("127.0.0.1", c.h.port, f"www.{ZONE}", "A")
        if a.rcode != "NXDOMAIN":
            c.errs.append(f"deleted www still there: {a!r} {a.sections['answer']}")
        c.expect_ok("delete one RR", f"update delete new.{ZONE} TXT \"hello\"", k, tcp=True)
        if c.rrs(f"new.{ZONE}", "TXT"):
            c.errs.append("deleted TXT still served")
        serial, content = c.serial(), c.axfr()
        # Clean restart: same serial and content (the zone file still says serial 1).
        c.h.stop()
        c.h.start([ZONE])
        if c.serial() != serial or c.axfr() != content:
            c.errs.append(f"after a clean restart: serial {c.serial()} (was {serial}), content "
                          f"{'same' if c.axfr() == content else 'DIFFERENT'}")
        # kill -9 right after an acknowledged update: the update survives.
        c.expect_ok("add before kill -9", f"update add durable.{ZONE} 300 A 192.0.2.8", k)
        serial2 = c.serial()
        c.h.kill9()
        c.h.start([ZONE])
        if c.serial() != serial2 or c.rrs(f"durable.{ZONE}", "A") != [f"durable.{ZONE} 300 IN A 192.0.2.8"]:
            c.errs.append(f"after kill -9: serial {c.serial()} (want {serial2}), durable A "
                          f"{c.rrs(f'durable.{ZONE}', 'A')}")
        print(f"  serials: 1 -> {serial} -> {serial2}")
        c.done()


def test_bad_keys_refused():
    with hsynctest.TempDir("auth-update-keys") as d:
        c = Ctx(d)
        add = f"update add evil.{ZONE} 300 A 192.0.2.66"
        c.expect_refused("no TSIG", add, None, r"REFUSED")
        c.expect_refused("wrong secret", add, c.key("upd.", hsynctest.tsig_secret()),
                         r"NOTAUTH|BADSIG|tsig verify failure|tsig indicates error")
        c.expect_refused("unknown key name", add, f"hmac-sha256:nokey.:{c.secrets['upd.']}",
                         r"NOTAUTH|BADKEY|tsig indicates error")
        c.expect_refused("wrong algorithm", add, f"hmac-sha512:upd.:{c.secrets['upd.']}",
                         r"NOTAUTH|BADKEY|BADSIG|tsig indicates error")
        c.done()


def test_prerequisites():
    with hsynctest.TempDir("auth-update-prereq") as d:
        c = Ctx(d)
        k = c.key("upd.")
        add = f"update add pre.{ZONE} 300 A 192.0.2.9"
        c.expect_refused("nxdomain on an existing name", f"prereq nxdomain mail.{ZONE}\n{add}", k, r"YXDOMAIN")
        c.expect_refused("yxdomain on a missing name", f"prereq yxdomain nope.{ZONE}\n{add}", k, r"NXDOMAIN")
        c.expect_refused("nxrrset on an existing RRset", f"prereq nxrrset mail.{ZONE} A\n{add}", k, r"YXRRSET")
        c.expect_refused("yxrrset on a missing RRset", f"prereq yxrrset mail.{ZONE} MX\n{add}", k, r"NXRRSET")
        c.expect_refused("yxrrset with the wrong value", f"prereq yxrrset mail.{ZONE} A 192.0.2.99\n{add}", k, r"NXRRSET")
        c.expect_refused("second prerequisite fails", f"prereq yxdomain mail.{ZONE}\nprereq nxdomain www.{ZONE}\n{add}",
                         k, r"YXDOMAIN")
        c.expect_ok("prerequisites that hold", f"prereq yxrrset mail.{ZONE} A 192.0.2.25\nprereq nxdomain pre.{ZONE}\n{add}", k)
        if c.rrs(f"pre.{ZONE}", "A") != [f"pre.{ZONE} 300 IN A 192.0.2.9"]:
            c.errs.append("update with true prerequisites not applied")
        c.done()


def test_large_updates():
    """3000 adds plus one record outside the zone: NOTZONE and none applied; the 3000
    alone: all applied; a header claiming 10,001 update records: refused (FORMERR or
    REFUSED), nothing changed, server alive. (A DNS message cannot hold more than ~5,950
    records, so 10,000+ real records cannot be sent.)"""
    with hsynctest.TempDir("auth-update-large") as d:
        c = Ctx(d)
        k = c.key("upd.")
        bulk = "\n".join(f"update add bulk.{ZONE} 300 A 10.{i // 250}.{i % 250}.1" for i in range(3000))
        c.expect_refused("3000 adds + one outside the zone", bulk + "\nupdate add www.other.test. 300 A 192.0.2.1",
                         k, r"NOTZONE", tcp=True)
        before = len(c.axfr())
        c.expect_ok("3000 adds", bulk, k, tcp=True)
        after = len(c.axfr())
        if after != before + 3000:
            c.errs.append(f"3000 adds: zone has {after} records, expected {before + 3000}")
        serial, content = c.serial(), c.axfr()
        # Header: UPDATE opcode 5, ZOCOUNT 1, PRCOUNT 0, UPCOUNT 10001, ADCOUNT 0, then the
        # zone and as many delete-RRset records as fit in 65535 bytes.
        msg = struct.pack("!HHHHHH", 0x5151, 5 << 11, 1, 0, 10001, 0)
        msg += hsynctest.encode_name(ZONE) + struct.pack("!HH", 6, 1)
        rec = b"\xc0\x0c" + struct.pack("!HHIH", 1, 255, 0, 0)  # delete A at the apex
        msg += rec * ((65535 - len(msg)) // len(rec))
        for transport in ("tcp", "udp"):
            resp = (hsynctest.tcp_exchange(c.h.port, msg, timeout=5) if transport == "tcp"
                    else hsynctest.udp_exchange(c.h.port, msg[:1200], timeout=2))
            if resp is None and transport == "tcp":
                c.errs.append("UPDATE claiming 10001 records over TCP: no answer (a header was readable: "
                              "FORMERR or REFUSED expected)")
            if resp is not None:
                hd = hsynctest.WireHeader(resp)
                print(f"  UPDATE claiming 10001 records over {transport}: {hd!r}")
                if hd.id != 0x5151 or hd.rcode_name not in ("FORMERR", "REFUSED"):
                    c.errs.append(f"UPDATE claiming 10001 records over {transport}: {hd!r}")
        if c.serial() != serial or c.axfr() != content:
            c.errs.append("UPDATE claiming 10001 records changed the zone")
        c.done()


def test_update_policy():
    with hsynctest.TempDir("auth-update-policy") as d:
        c = Ctx(d)
        sub, txt = c.key("sub."), c.key("txt.")
        c.expect_ok("sub. below dyn", f"update add x.dyn.{ZONE} 300 A 192.0.2.10", sub)
        c.expect_ok("sub. at dyn", f"update add dyn.{ZONE} 300 TXT \"dyn\"", sub)
        c.expect_refused("sub. at the apex", f"update add {ZONE} 300 TXT \"apex\"", sub, r"REFUSED|NOTAUTH")
        c.expect_refused("sub. deletes mail", f"update delete mail.{ZONE} A", sub, r"REFUSED|NOTAUTH")
        c.expect_refused("sub. changes the SOA",
                         f"update add {ZONE} 300 SOA ns1.{ZONE} hostmaster.{ZONE} 100 3600 900 604800 120", sub,
                         r"REFUSED|NOTAUTH")
        c.expect_refused("sub. mixes allowed and forbidden",
                         f"update add y.dyn.{ZONE} 300 A 192.0.2.11\nupdate add www2.{ZONE} 300 A 192.0.2.11", sub,
                         r"REFUSED|NOTAUTH")
        c.expect_refused("sub. at a name that only looks like dyn", f"update add xdyn.{ZONE} 300 A 192.0.2.12", sub,
                         r"REFUSED|NOTAUTH")
        c.expect_ok("txt. TXT at txtonly", f"update add txtonly.{ZONE} 300 TXT \"second\"", txt)
        c.expect_refused("txt. A at txtonly", f"update add txtonly.{ZONE} 300 A 192.0.2.13", txt, r"REFUSED|NOTAUTH")
        c.expect_refused("txt. TXT below txtonly", f"update add a.txtonly.{ZONE} 300 TXT \"x\"", txt, r"REFUSED|NOTAUTH")
        if sorted(c.rrs(f"txtonly.{ZONE}", "TXT")) != sorted([f'txtonly.{ZONE} 300 IN TXT "initial"',
                                                             f'txtonly.{ZONE} 300 IN TXT "second"']):
            c.errs.append(f"txtonly TXT: {c.rrs(f'txtonly.{ZONE}', 'TXT')}")
        c.done()


def test_sig0():
    """SIG(0) (RFC 2931) where the policy names a KEY owner: nsupdate -k with the key
    whose KEY record is in the zone may change names below dyn; unsigned, another key of
    the same name, or a change outside dyn: refused, nothing changed."""
    keygen = hsynctest.require_program("dnssec-keygen")
    with hsynctest.TempDir("auth-update-sig0") as d:
        zone = "s0.test."
        kd, od = d / "keys", d / "other-keys"
        kd.mkdir()
        od.mkdir()
        good = hsynctest.run([keygen, "-q", "-K", kd, "-T", "KEY", "-a", "ECDSAP256SHA256", "-n", "HOST",
                              f"signer.{zone}"]).stdout.strip()
        bad = hsynctest.run([keygen, "-q", "-K", od, "-T", "KEY", "-a", "ECDSAP256SHA256", "-n", "HOST",
                             f"signer.{zone}"]).stdout.strip()
        key_rr = [ln for ln in (kd / f"{good}.key").read_text().splitlines() if ln and not ln.startswith(";")][0]
        zf = d / "s0.test.zone"
        zf.write_text(f"$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 604800 120\n@ NS ns1\nns1 A 127.0.0.1\n"
                      f"{key_rr}\nwww A 192.0.2.1\n")
        h = hsynctest.start_hsyncd({"zones": [{
            "name": zone, "type": "primary", "file": str(zf), "allow-transfer": ["127.0.0.1"],
            "allow-update": ["127.0.0.1"],
            "update-policy": [{"key": f"signer.{zone}", "key-type": "sig0", "match": "subdomain", "name": "dyn"}]}]},
            d / "hsyncd", wait_zones=[zone])
        errs = []

        def upd(cmds, keyfile):
            argv = [hsynctest.require_program("nsupdate")] + (["-k", keyfile] if keyfile else [])
            return hsynctest.run(argv, input=f"server 127.0.0.1 {h.port}\nzone {zone}\n{cmds}\nsend\n", check_rc=None)

        def state():
            return hsynctest.soa_serial("127.0.0.1", h.port, zone), sorted(hsynctest.axfr("127.0.0.1", h.port, zone))

        for what, cmds, keyfile in (("unsigned", f"update add a.dyn.{zone} 300 A 192.0.2.20", None),
                                    ("another key of the same name", f"update add b.dyn.{zone} 300 A 192.0.2.21",
                                     od / f"{bad}.private"),
                                    ("right key, outside dyn", f"update add {zone} 300 TXT \"apex\"",
                                     kd / f"{good}.private")):
            before = state()
            r = upd(cmds, keyfile)
            if r.rc == 0 or not re.search(r"REFUSED|NOTAUTH|BADSIG|BADKEY", r.stdout + r.stderr):
                errs.append(f"SIG(0) {what}: not refused\n  " + r.describe())
            if state() != before:
                errs.append(f"SIG(0) {what}: the zone changed")
        before = state()
        r = upd(f"update add c.dyn.{zone} 300 A 192.0.2.22", kd / f"{good}.private")
        after = state()
        if r.rc != 0 or f"c.dyn.{zone} 300 IN A 192.0.2.22" not in after[1] or not (after[0] > before[0]):
            errs.append(f"SIG(0) with the zone's KEY below dyn: not applied (serial {before[0]} -> {after[0]})\n  "
                        + r.describe())
        check(h.alive(), "hsyncd died")
        if errs:
            fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
