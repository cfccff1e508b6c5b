"""hsyncd role signer in the provider chain, every hop TSIG (tests/lib/signer_chain.py):

    named (owner) -> hsyncd combiner -> hsyncd signer -> knotd downstream secondary

Proves, for the signed zone at the downstream:
- it passes dnssec-verify, kzonecheck -d on and ldns-verify-zone (after every step);
- the signer made one KSK and one ZSK on first sight and lists them (hsyncctl zone keys
  --json); it publishes no CDS/CDNSKEY of its own (publish-cds: false);
- a foreign ZSK and KSK added through the combiner appear in the signed DNSKEY RRset,
  and the RRSIG(DNSKEY) by our KSK verifies (ECDSA, python cryptography) over the RRset
  with them and not without them; no RRSIG comes from the foreign keys;
- delv with our KSK as the only trust anchor validates names at the downstream; with the
  foreign KSK as anchor it does not;
- a foreign CDS/CDNSKEY set put through the combiner is published as given;
- an owner change flows to a new signed serial at the downstream by IXFR on every hop and
  is signed incrementally (the signer's log);
- key steps by command: a new ZSK published, activated, the old one retired and removed,
  the zone valid after each step.
A CSK + NSEC3 chain keeps another provider's CSK too.
"""

from __future__ import annotations

import re
import sys

import hsynctest
import signer_chain
from hsynctest import check, fail
from signer_chain import (Chain, delv_ok, ds_sha256, key_tag, print_verify, rrset, rrsigs, tags,
                          verify_rrsig)

ZONE = "example.lab."


def _key_step(c: Chain, *args: str) -> None:
    r = hsynctest.hsyncctl("--server", f"127.0.0.1:{c.mgmt_port['signer']}", "zone", "key", ZONE, *args,
                           timeout=30, check_rc=None)
    check(r.rc == 0, f"hsyncctl zone key {' '.join(args)} failed\n  " + r.describe())


def test_hsync_signer_chain():
    with hsynctest.TempDir("hsync-signer") as d:
        c = Chain(d, signer="hsync", zone=ZONE)
        with c:
            t = c.start()
            print("  started: " + ", ".join(f"{h} {s:.2f}s" for h, s in t.items())
                  + "; serials " + ", ".join(f"{h} {c.serial(h)}" for h in signer_chain.HOPS))
            errs: list[str] = []

            # 1. The first signed version: our keys only, valid for three verifiers.
            print_verify("first version", c.verify_zone())
            own = c.signer_keys()
            print("  signer's keys: " + ", ".join(f"{k['role']} {k['tag']} {k['raw']['state']}" for k in own))
            check(sorted(k["role"] for k in own) == ["ksk", "zsk"] and all(k["algorithm"] == 13 for k in own)
                  and all(k["raw"]["state"] == "active" for k in own),
                  f"the signer should have made one active KSK and ZSK of algorithm 13: {own}")
            own_tags = sorted(k["tag"] for k in own)
            ksk_tag = next(k["tag"] for k in own if k["role"] == "ksk")
            rrs = c.rrs("downstream")
            check(tags(rrset(rrs, ZONE, "DNSKEY")) == own_tags,
                  f"DNSKEY tags at the downstream {tags(rrset(rrs, ZONE, 'DNSKEY'))}, the signer's {own_tags}")
            check(not rrset(rrs, ZONE, "CDS") and not rrset(rrs, ZONE, "CDNSKEY"),
                  "CDS/CDNSKEY published although the unsigned zone has none and publish-cds is off")
            ksk = c.signer_ksk_dnskey()
            check(key_tag(ksk.split()) == ksk_tag and ksk.startswith("257 3 13 "), f"signer KSK {ksk}")

            # 2. Another provider's ZSK and KSK through the combiner.
            fzsk = signer_chain.foreign_key(d / "foreign", ZONE, ksk=False)
            fksk = signer_chain.foreign_key(d / "foreign", ZONE, ksk=True)
            ftags = sorted([key_tag(fzsk.split()), key_tag(fksk.split())])
            before = c.serial("signer")
            c.combiner_update(f"update add {ZONE} {c.dnskey_ttl} DNSKEY {fzsk}\n"
                              f"update add {ZONE} {c.dnskey_ttl} DNSKEY {fksk}")
            s = c.wait_signed_change(before)
            rrs = c.rrs("downstream")
            keys = rrset(rrs, ZONE, "DNSKEY")
            print(f"  foreign ZSK+KSK {ftags} via the combiner -> downstream serial {s}: DNSKEY tags {tags(keys)}")
            check(tags(keys) == sorted(own_tags + ftags),
                  f"DNSKEY RRset at the downstream {tags(keys)}, want ours {own_tags} + foreign {ftags}")
            check(sorted(k.rdata for k in keys if key_tag(k.fields) in ftags) == sorted([fzsk, fksk]),
                  "the foreign DNSKEYs were changed on the way")
            sigs = rrsigs(rrs, ZONE, "DNSKEY")
            sig_tags = sorted(int(x.fields[6]) for x in sigs)
            check(sig_tags == [ksk_tag], f"RRSIG(DNSKEY) from keys {sig_tags}, want only our KSK {ksk_tag}")
            kskrr = next(k for k in keys if key_tag(k.fields) == ksk_tag)
            why = verify_rrsig(keys, sigs[0], kskrr)
            check(why is None, f"RRSIG(DNSKEY) by our KSK over the 4-key RRset: {why}")
            without = [k for k in keys if key_tag(k.fields) not in ftags]
            check(verify_rrsig(without, sigs[0], kskrr) is not None,
                  "RRSIG(DNSKEY) also verifies without the foreign keys: it does not cover them")
            print("  RRSIG(DNSKEY) by our KSK verifies over the RRset with the foreign keys, fails without")
            print_verify("with foreign keys", c.verify_zone())

            # 3. delv: our KSK as the only trust anchor.
            for name, qtype in ((f"www.{ZONE}", "A"), (ZONE, "DNSKEY"), (f"x.wild.{ZONE}", "A"),
                                (f"nothere.{ZONE}", "A")):
                ok, text = delv_ok(c, name, qtype)
                negative = "; negative response, fully validated" in text
                if not ok or negative != name.startswith("nothere"):
                    errs.append(f"delv {name} {qtype} with our KSK as anchor: not validated as expected\n{text}")
            ok, text = delv_ok(c, f"www.{ZONE}", "A", anchor=fksk)
            print("  delv with our KSK: www A, DNSKEY, wildcard, NXDOMAIN validated; with the foreign KSK: "
                  f"{'VALIDATED (wrong)' if ok else text.splitlines()[0][:90]}")
            if ok:
                errs.append("delv validated with the foreign KSK as the trust anchor (it signs nothing)")

            # 4. The group's CDS/CDNSKEY set, published as given.
            cds = sorted([ds_sha256(ZONE, ksk.split()), ds_sha256(ZONE, fksk.split())])
            cdnskey = sorted([ksk, fksk])
            before = c.serial("signer")
            c.combiner_update("\n".join([f"update add {ZONE} 3600 CDS {x}" for x in cds]
                                        + [f"update add {ZONE} 3600 CDNSKEY {x}" for x in cdnskey]))
            s = c.wait_signed_change(before)
            rrs = c.rrs("downstream")
            got_cds = sorted(r.rdata.upper() for r in rrset(rrs, ZONE, "CDS"))
            got_cdnskey = sorted(r.rdata for r in rrset(rrs, ZONE, "CDNSKEY"))
            print(f"  CDS set via the combiner -> serial {s}: CDS tags {[x.split()[0] for x in got_cds]}")
            if got_cds != [x.upper() for x in cds] or got_cdnskey != cdnskey:
                errs.append(f"CDS/CDNSKEY not published as given:\n  CDS {got_cds}\n  want {cds}")
            for t in ("CDS", "CDNSKEY"):
                if [int(x.fields[6]) for x in rrsigs(rrs, ZONE, t)] != [ksk_tag]:
                    errs.append(f"RRSIG({t}) not by our KSK alone")
            print_verify("with the CDS set", c.verify_zone())

            # 5. An owner change -> new signed serial downstream, IXFR on every hop, signed
            #    incrementally.
            logpos = {h: len(c.log(h)) for h in ("owner", "signer", "downstream")}
            before = c.serial("signer")
            owner_serial = c.owner_change(add=[f"new.{ZONE} 300 A 192.0.2.77"], delete=[f"txt.{ZONE} TXT"])
            s = c.wait_signed_change(before)
            rrs = c.rrs("downstream")
            print(f"  owner serial {owner_serial} -> combiner {c.serial('combiner')} -> signed serial {s}")
            if [r.rdata for r in rrset(rrs, f"new.{ZONE}", "A")] != ["192.0.2.77"] \
                    or not rrsigs(rrs, f"new.{ZONE}", "A"):
                errs.append("new.example.lab A (the owner's change) is missing or unsigned downstream")
            if rrset(rrs, f"txt.{ZONE}", "TXT"):
                errs.append("txt.example.lab TXT deleted by the owner is still downstream")
            ok, text = delv_ok(c, f"new.{ZONE}")
            if not ok:
                errs.append(f"delv new.{ZONE} A not validated:\n{text}")
            slog = c.log("signer")[logpos["signer"]:]
            signed = [ln.split("event=")[1] for ln in slog.splitlines() if "event=signed " in ln]
            print("  signer: " + "; ".join(x[:150] for x in signed))
            if not any("mode=incremental" in x for x in signed) or any("mode=full" in x for x in signed):
                errs.append("the owner's change was not signed incrementally:\n" + slog[-1500:])
            if not re.search(r"event=transfer_in zone=example\.lab\. type=IXFR", slog):
                errs.append("the signer did not take the change by IXFR:\n" + slog[-1500:])
            dlog = c.log("downstream")[logpos["downstream"]:]
            if not re.search(r"IXFR, incoming.*finished", dlog) or "AXFR, incoming" in dlog:
                errs.append("the downstream did not take the change by IXFR:\n" + dlog[-1500:])
            print_verify("after the owner's change", c.verify_zone())

            # 6. A ZSK rollover by command, valid after every step.
            old_zsk = next(k["tag"] for k in own if k["role"] == "zsk")
            before = c.serial("signer")
            _key_step(c, "publish", "zsk")
            c.wait_signed_change(before)
            new_zsk = next(k["tag"] for k in c.signer_keys() if k["tag"] not in own_tags)
            for step in (("activate", str(new_zsk)), ("retire", str(old_zsk)), ("remove", str(old_zsk))):
                before = c.serial("signer")
                _key_step(c, *step)
                c.wait_signed_change(before)
                rrs = c.rrs("downstream")
                data_sigs = sorted({int(x.fields[6]) for x in rrsigs(rrs, f"www.{ZONE}", "A")})
                print(f"  key {' '.join(step)}: DNSKEY {tags(rrset(rrs, ZONE, 'DNSKEY'))}, www A signed by {data_sigs}")
                c.verify_zone()
            rrs = c.rrs("downstream")
            if tags(rrset(rrs, ZONE, "DNSKEY")) != sorted([ksk_tag, new_zsk] + ftags):
                errs.append(f"after the ZSK roll the DNSKEY RRset is {tags(rrset(rrs, ZONE, 'DNSKEY'))}")
            if sorted({int(x.fields[6]) for x in rrsigs(rrs, f"www.{ZONE}", "A")}) != [new_zsk]:
                errs.append("after the ZSK roll www A is not signed by the new ZSK alone")
            r = hsynctest.hsyncctl("--server", f"127.0.0.1:{c.mgmt_port['signer']}", "zone", "key", ZONE,
                                   "retire", str(ksk_tag), timeout=30, check_rc=None)
            print(f"  retire the only KSK: rc {r.rc}: {r.stderr.strip()}")
            if r.rc == 0 or "only active key" not in r.stderr:
                errs.append("retiring the only KSK was not refused:\n  " + r.describe())

            check(all(c.alive().values()), f"a process died: {c.alive()}")
            if errs:
                fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))
        check(not any(c.alive().values()), f"processes still running after stop: {c.alive()}")


def test_hsync_signer_csk_nsec3():
    """Single-type signing (a CSK) with NSEC3 keeps another provider's CSK (RFC 8901 §7)."""
    with hsynctest.TempDir("hsync-signer-csk") as d:
        with Chain(d, signer="hsync", zone=ZONE, keys="csk", nsec3=True) as c:
            c.start()
            signer_chain.check_csk_nsec3_keeps_foreign_csk(c, d / "foreign")
            # An owner change that makes a new empty non-terminal: the NSEC3 chain is followed
            # incrementally, and the zone still verifies and validates.
            logpos = len(c.log("signer"))
            before = c.serial("signer")
            c.owner_change(add=[f"a.ent.{ZONE} 300 TXT \"under a new empty non-terminal\""],
                           delete=[f"txt.{ZONE} TXT"])
            s = c.wait_signed_change(before)
            slog = c.log("signer")[logpos:]
            signed = [ln.split("event=")[1] for ln in slog.splitlines() if "event=signed " in ln]
            print("  signer: " + "; ".join(x[:150] for x in signed))
            check(any("mode=incremental" in x for x in signed) and not any("mode=full" in x for x in signed),
                  "the NSEC3 zone's change was not signed incrementally:\n" + slog[-1500:])
            out = c.verify_zone(tools=("dnssec-verify", "ldns-verify-zone"))
            print(f"  serial {s}: dnssec-verify -z: "
                  f"{re.search(r'KSKs:[^|]*', out['dnssec-verify']).group(0).strip()}; "
                  f"ldns-verify-zone: {out['ldns-verify-zone']!r}")
            for name, rtype in ((f"a.ent.{ZONE}", "TXT"), (f"ent.{ZONE}", "A"), (f"txt.{ZONE}", "TXT")):
                ok, text = delv_ok(c, name, rtype)
                check(ok, f"delv {name} {rtype} (NSEC3, after the incremental change):\n{text}")
            print("  NSEC3 incremental: delv validates the new name, its empty non-terminal "
                  "(NODATA) and the removed name (NXDOMAIN)")


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
