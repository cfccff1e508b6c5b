"""Knot DNS (knotd 3.2) as the provider's signer behind an hsyncd combiner (issue 6):

    named (owner) -> hsyncd combiner -> knotd signer (dnskey-management: incremental)
                  -> knotd downstream secondary          (tests/lib/signer_chain.py)

Proves, for the signed zone served by the downstream:
- it passes dnssec-verify, kzonecheck -d on and ldns-verify-zone (after every step);
- a foreign ZSK and KSK (another provider's, dnssec-keygen) added through the combiner
  by UPDATE appear in the signed DNSKEY RRset, and the RRSIG(DNSKEY) made by the
  signer's KSK verifies (ECDSA, python cryptography) over the RRset with them, and not
  without them; no RRSIG comes from the foreign keys;
- delv with the signer's KSK as the only trust anchor validates names at the
  downstream; with the foreign KSK as the anchor it does not;
- the multi-signer CDS/CDNSKEY set (signer's KSK + foreign KSK) put through the
  combiner is published as given (RDATA and TTL);
- an owner change at named flows to a new signed serial at the downstream (IXFR on
  every hop), signed and validating, with the foreign keys and CDS still there.
Controls: with dnskey-management: full the foreign DNSKEYs are dropped, and knotd
refuses incremental without delete-delay. A CSK + NSEC3 chain keeps another
provider's CSK too.
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


def test_knot_signer_chain():
    with hsynctest.TempDir("knot-signer") as d:
        c = Chain(d, signer="knot", zone=ZONE)
        with c:
            t = c.start()
            print("  started: " + ", ".join(f"{h} {s:.2f}s" for h, s in t.items())
                  + f"; serials " + ", ".join(f"{h} {c.serial(h)}" for h in signer_chain.HOPS))
            errs: list[str] = []

            # 1. The first signed version: own keys only, valid for three verifiers.
            print_verify("first version", c.verify_zone())
            own = c.signer_keys()
            print("  knotd's keys (keymgr): " + ", ".join(f"{k['role']} {k['tag']}" for k in own))
            check(sorted(k["role"] for k in own) == ["ksk", "zsk"]
                  and all(k["algorithm"] == 13 for k in own),
                  f"knotd should have made one KSK and one ZSK of algorithm 13: {own}")
            own_tags = sorted(k["tag"] for k in own)
            ksk_tag = next(k["tag"] for k in own if k["role"] == "ksk")
            rrs = c.rrs("downstream")
            check(tags(rrset(rrs, ZONE, "DNSKEY")) == own_tags,
                  f"DNSKEY tags at the downstream {tags(rrset(rrs, ZONE, 'DNSKEY'))}, "
                  f"knotd's keys {own_tags}")
            ksk = c.signer_ksk_dnskey()
            check(key_tag(ksk.split()) == ksk_tag and ksk.startswith("257 3 13 "), f"signer KSK {ksk}")
            # cds-cdnskey-publish: always -> knotd's own CDS; also checks ds_sha256 against Knot.
            cds0 = [r.rdata.upper() for r in rrset(rrs, ZONE, "CDS")]
            if cds0 != [ds_sha256(ZONE, ksk.split())]:
                errs.append(f"knotd's own CDS at start: {cds0}, want [{ds_sha256(ZONE, ksk.split())}]")

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
            print(f"  foreign ZSK+KSK {ftags} via the combiner -> downstream serial {s}: DNSKEY tags "
                  f"{tags(keys)}, TTLs {sorted({k.ttl for k in keys})}")
            check(tags(keys) == sorted(own_tags + ftags),
                  f"DNSKEY RRset at the downstream {tags(keys)}, want knotd's {own_tags} + foreign {ftags}")
            check(sorted(k.rdata for k in keys if key_tag(k.fields) in ftags) == sorted([fzsk, fksk]),
                  "the foreign DNSKEYs were changed on the way")
            sigs = rrsigs(rrs, ZONE, "DNSKEY")
            sig_tags = sorted(int(x.fields[6]) for x in sigs)
            print(f"  RRSIG(DNSKEY) key tags: {sig_tags}")
            check(sig_tags == [ksk_tag], f"RRSIG(DNSKEY) from keys {sig_tags}, want only knotd's KSK {ksk_tag}")
            kskrr = next(k for k in keys if key_tag(k.fields) == ksk_tag)
            why = verify_rrsig(keys, sigs[0], kskrr)
            check(why is None, f"RRSIG(DNSKEY) by knotd's KSK over the 4-key RRset: {why}")
            without = [k for k in keys if key_tag(k.fields) not in ftags]
            check(verify_rrsig(without, sigs[0], kskrr) is not None,
                  "RRSIG(DNSKEY) also verifies without the foreign keys: it does not cover them")
            print("  RRSIG(DNSKEY) by knotd's KSK verifies over the RRset with the foreign keys "
                  "(ECDSA P-256), and fails without them")
            print_verify("with foreign keys", c.verify_zone())

            # 3. delv: knotd's KSK as the only trust anchor; the foreign KSK signs nothing.
            for name, qtype in ((f"www.{ZONE}", "A"), (ZONE, "DNSKEY"), (f"x.wild.{ZONE}", "A"),
                                (f"nothere.{ZONE}", "A")):
                ok, text = delv_ok(c, name, qtype)
                negative = "; negative response, fully validated" in text
                want = "NXDOMAIN" if name.startswith("nothere") else "answer"
                if not ok or negative != (want == "NXDOMAIN"):
                    errs.append(f"delv {name} {qtype} with knotd's KSK as anchor: not a validated "
                                f"{want}\n{text}")
            ok, text = delv_ok(c, f"www.{ZONE}", "A", anchor=fksk)
            print(f"  delv with knotd's KSK: www A, DNSKEY, wildcard, NXDOMAIN validated; with the "
                  f"foreign KSK as anchor: {'VALIDATED (wrong)' if ok else text.splitlines()[0][:90]}")
            if ok:
                errs.append("delv validated with the foreign KSK as the trust anchor (it signs nothing)")

            # 4. The group's CDS/CDNSKEY set (knotd's KSK + the foreign KSK), published as given.
            cds = sorted([ds_sha256(ZONE, ksk.split()), ds_sha256(ZONE, fksk.split())])
            cdnskey = sorted([ksk, fksk])
            before = c.serial("signer")
            c.combiner_update("\n".join([f"update delete {ZONE} CDS", f"update delete {ZONE} CDNSKEY"]
                                        + [f"update add {ZONE} 3600 CDS {x}" for x in cds]
                                        + [f"update add {ZONE} 3600 CDNSKEY {x}" for x in cdnskey]))
            s = c.wait_signed_change(before)
            rrs = c.rrs("downstream")
            got_cds = sorted(r.rdata.upper() for r in rrset(rrs, ZONE, "CDS"))
            got_cdnskey = sorted(r.rdata for r in rrset(rrs, ZONE, "CDNSKEY"))
            ttls = sorted({r.ttl for r in rrset(rrs, ZONE, "CDS") + rrset(rrs, ZONE, "CDNSKEY")})
            print(f"  CDS set {[x.split()[0] for x in cds]} + CDNSKEY via the combiner -> serial {s}: "
                  f"CDS {[x.split()[0] for x in got_cds]}, CDNSKEY tags "
                  f"{tags(rrset(rrs, ZONE, 'CDNSKEY'))}, TTLs {ttls}")
            if got_cds != [x.upper() for x in cds] or got_cdnskey != cdnskey or ttls != [3600]:
                errs.append(f"CDS/CDNSKEY not published as given:\n  CDS {got_cds}\n  want {cds}\n"
                            f"  CDNSKEY {got_cdnskey}\n  want {cdnskey}\n  TTLs {ttls}")
            keys = {key_tag(k.fields): k for k in rrset(rrs, ZONE, "DNSKEY")}
            for t in ("CDS", "CDNSKEY"):
                good = [x for x in rrsigs(rrs, ZONE, t) if int(x.fields[6]) in own_tags
                        and verify_rrsig(rrset(rrs, ZONE, t), x, keys[int(x.fields[6])]) is None]
                if not good:
                    errs.append(f"no RRSIG({t}) by knotd's keys verifies")
            print_verify("with the CDS set", c.verify_zone())

            # 5. An owner change at named -> new signed serial at the downstream, by IXFR.
            logpos = {h: len(c.log(h)) for h in ("owner", "signer", "downstream")}
            before = c.serial("signer")
            owner_serial = c.owner_change(add=[f"new.{ZONE} 300 A 192.0.2.77"],
                                          delete=[f"txt.{ZONE} TXT"])
            s = c.wait_signed_change(before)
            rrs = c.rrs("downstream")
            print(f"  owner serial {owner_serial} -> combiner {c.serial('combiner')} -> signed serial {s} "
                  f"at the downstream")
            if [r.rdata for r in rrset(rrs, f"new.{ZONE}", "A")] != ["192.0.2.77"] \
                    or not rrsigs(rrs, f"new.{ZONE}", "A"):
                errs.append("new.example.lab A (the owner's change) is missing or unsigned downstream")
            if rrset(rrs, f"txt.{ZONE}", "TXT"):
                errs.append("txt.example.lab TXT deleted by the owner is still downstream")
            if tags(rrset(rrs, ZONE, "DNSKEY")) != sorted(own_tags + ftags) \
                    or sorted(r.rdata.upper() for r in rrset(rrs, ZONE, "CDS")) != [x.upper() for x in cds]:
                errs.append("foreign keys or the CDS set changed with the owner's change")
            ok, text = delv_ok(c, f"new.{ZONE}")
            if not ok:
                errs.append(f"delv new.{ZONE} A not validated:\n{text}")
            slog, dlog = c.log("signer")[logpos["signer"]:], c.log("downstream")[logpos["downstream"]:]
            xfr = [ln.split("): ")[-1] for ln in c.log("owner")[logpos["owner"]:].splitlines()
                   if "IXFR ended" in ln]
            xfr += [ln.split("info: ")[-1] for ln in (slog + dlog).splitlines()
                    if "XFR, incoming" in ln and "finished" in ln]
            print("  transfers: " + "; ".join(xfr))
            olog = c.log("owner")[logpos["owner"]:]
            if not re.search(r"transfer of 'example\.lab/IN': IXFR started: TSIG owner-xfr", olog):
                errs.append("the combiner did not fetch the owner's change from named by IXFR:\n"
                            + olog[-1500:])
            if not re.search(r"IXFR, incoming.*finished", slog) or "AXFR, incoming" in slog:
                errs.append("knotd (signer) did not take the owner's change by IXFR:\n" + slog[-1500:])
            if "DNSSEC, incrementally signed" not in slog:
                errs.append("knotd did not sign the change incrementally:\n" + slog[-1500:])
            if not re.search(r"IXFR, incoming.*finished", dlog) or "AXFR, incoming" in dlog:
                errs.append("the downstream did not take the change by IXFR:\n" + dlog[-1500:])
            print_verify("after the owner's change", c.verify_zone())

            check(all(c.alive().values()), f"a process died: {c.alive()}")
            if errs:
                fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))
        check(not any(c.alive().values()), f"processes still running after stop: {c.alive()}")


def test_knot_full_management_drops_foreign_keys():
    """Controls: the DNSKEY check above can fail (dnskey-management: full drops the
    foreign keys), and knotd refuses incremental without delete-delay."""
    with hsynctest.TempDir("knot-signer-full") as d:
        c = Chain(d / "full", signer="knot", zone=ZONE, knot_dnskey_management="full")
        with c:
            c.start()
            fzsk = signer_chain.foreign_key(d / "foreign", ZONE, ksk=False)
            before = c.serial("signer")
            c.combiner_update(f"update add {ZONE} {c.dnskey_ttl} DNSKEY {fzsk}")
            s = c.wait_signed_change(before)
            at_comb = [r.rdata for r in rrset(c.rrs("combiner"), ZONE, "DNSKEY")]
            dnskey_tags = tags(rrset(c.rrs("downstream"), ZONE, "DNSKEY"))
            own = sorted(k["tag"] for k in c.signer_keys())
            print(f"  full: combiner serves {len(at_comb)} foreign DNSKEY, downstream serial {s} has tags "
                  f"{dnskey_tags} (knotd's {own})")
            check(at_comb == [fzsk], f"the combiner should serve the foreign ZSK: {at_comb}")
            check(dnskey_tags == own, f"with dnskey-management: full the foreign key should be dropped: {dnskey_tags}")

        c2 = Chain(d / "nodelay", signer="knot", zone=ZONE, knot_delete_delay=None)
        conf = d / "nodelay" / "knot-check.conf"
        conf.write_text(f"server:\n    listen: 127.0.0.1@{c2.port['signer']}\n"
                        f"template:\n  - id: default\n    storage: \"{d / 'nodelay'}\"\n"
                        + c2.knot_signer_config())
        r = hsynctest.run([hsynctest.require_program("knotc"), "-c", conf, "conf-check"], check_rc=None)
        text = (r.stdout + r.stderr).strip()
        print(f"  knotc conf-check without delete-delay: rc {r.rc}: {text.splitlines()[0] if text else ''}")
        check(r.rc != 0 and "requires configured delete-delay" in text,
              "knotd should refuse dnskey-management: incremental without delete-delay\n  " + r.describe())


def test_knot_signer_csk_nsec3():
    """Single-type signing (a CSK) with NSEC3 keeps another provider's CSK (RFC 8901 §7)."""
    with hsynctest.TempDir("knot-signer-csk") as d:
        with Chain(d, signer="knot", zone=ZONE, keys="csk", nsec3=True) as c:
            c.start()
            signer_chain.check_csk_nsec3_keeps_foreign_csk(c, d / "foreign")


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
