"""hsyncd role combiner between real programs, TSIG on every hop:

    named (zone owner's primary) --AXFR/IXFR--> hsyncd combiner --AXFR/IXFR--> knotd (signer)
                                                      ^
                                       nsupdate -y agent. (the agent's UPDATEs)

Checked with kdig/dig AXFR at knotd: the owner's DNSKEY/RRSIG are dropped; agent DNSKEY,
CDS and NS at the apex flow through; the apex NS follows the owner's HSYNC NSMgmt (OWNER,
then AGENT); an owner change (nsupdate on named) flows through by IXFR (knotd's log);
forbidden UPDATEs (A at the apex, DNSKEY below it), UPDATEs without TSIG, with a wrong
key, with a failing prerequisite and one claiming 10,001 records get a clear RCODE and
change nothing; a restart keeps the agent data and the served serial."""

from __future__ import annotations

import json
import re
import struct
import sys

import hsynctest
from hsynctest import check, fail

ZONE = "comb.test."
HSYNC = 65290
# HSYNC RDATA: State | NSMgmt | Sign | Identity (agent.), RFC 3597 form for named.
HSYNC_OWNER = f"@ 3600 TYPE{HSYNC} \\# 10 010101 05616765 6e7400"
HSYNC_AGENT_TEXT = f"3600 TYPE{HSYNC} \\# 10 010201 05616765 6e7400"
OWNER_DNSKEY = ("257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLU"
                "T0rAK9iUzy1L53eKGQ==")
AGENT_DNSKEY = ("256 3 13 oJMRESz5E4gYzS/q6XDrvU1qMPYIjCWzJaOau8XNEZeqCYKD5ar0IRd8KqXXFJkqmVf"
                "RvMGPmM1x8fGAa2XhSA==")
AGENT_CDS = "2 13 2 " + "AB" * 32
FILLER = 200


def owner_zone(serial: int) -> str:
    fill = "".join(f"host{i:03d} A 198.51.100.{i % 250 + 1}\n" for i in range(FILLER))
    return (f"$TTL 300\n@ IN SOA ns1 hostmaster {serial} 3600 900 604800 120\n"
            f"@ NS ns1.owner.example.\n{HSYNC_OWNER}\n@ DNSKEY {OWNER_DNSKEY}\n"
            f"@ RRSIG SOA 13 2 300 20300101000000 20200101000000 12345 comb.test. "
            f"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
            f"www A 192.0.2.1\n{fill}")


def types_at(rrs: list[str], owner: str, qtype: str) -> list[str]:
    return sorted(" ".join(r.split()[4:]) for r in rrs
                  if r.split()[0].lower() == owner and r.split()[3].upper() == qtype)


def test_combiner_between_named_and_knotd():
    xfr, agent, sig = hsynctest.tsig_secret(), hsynctest.tsig_secret(), hsynctest.tsig_secret()
    agent_key = f"hmac-sha256:agent.:{agent}"
    with hsynctest.TempDir("combiner") as d:
        cport, kport = hsynctest.free_port(), hsynctest.free_port()
        (d / "named").mkdir()
        zf = d / "named" / "comb.test.zone"
        zf.write_text(owner_zone(1))
        named = hsynctest.start_named_config(d / "named", f"""
key "xfr." {{ algorithm hmac-sha256; secret "{xfr}"; }};
zone "comb.test" {{ type primary; file "{zf}"; allow-transfer {{ key "xfr."; }};
    allow-update {{ key "xfr."; }}; notify explicit; also-notify {{ 127.0.0.1 port {cport}; }};
    check-names ignore; }};
""", options="notify-delay 0;", wait_zones=[ZONE])
        h = hsynctest.start_hsyncd({
            "role": "combiner",
            "tsig-keys": [{"name": "xfr.", "algorithm": "hmac-sha256", "secret": xfr},
                          {"name": "agent.", "algorithm": "hmac-sha256", "secret": agent},
                          {"name": "sig.", "algorithm": "hmac-sha256", "secret": sig}],
            "zones": [{"name": ZONE, "type": "secondary", "primaries": [f"127.0.0.1:{named.port}"],
                       "transfer-key": "xfr.", "allow-update": "key agent.",
                       "allow-transfer": ["key sig.", "127.0.0.1"],
                       "notify": [f"127.0.0.1:{kport}"]}]},
            d / "hsyncd", port=cport, wait_zones=[ZONE])
        knot = hsynctest.start_knotd_config(d / "knot", f"""key:
  - id: sig.
    algorithm: hmac-sha256
    secret: {sig}
remote:
  - id: combiner
    address: 127.0.0.1@{cport}
    key: sig.
acl:
  - id: notify_in
    address: 127.0.0.1
    action: notify
  - id: xfr_out
    address: 127.0.0.1
    action: transfer
zone:
  - domain: {ZONE}
    master: combiner
    acl: [notify_in, xfr_out]
    file: {d}/knot/comb.test.zone
""", port=kport, wait_zones=[ZONE])
        errs: list[str] = []

        def at_knot() -> list[str]:
            return hsynctest.axfr("127.0.0.1", knot.port, ZONE, tool="kdig")

        def at_combiner() -> list[str]:
            return sorted(hsynctest.axfr("127.0.0.1", h.port, ZONE))

        serial = lambda port: hsynctest.soa_serial("127.0.0.1", port, ZONE)  # noqa: E731

        # 1. The owner's zone as served: DNSKEY/RRSIG dropped, everything else there.
        hsynctest.wait_serial("127.0.0.1", knot.port, ZONE, 1, 20, process=knot.proc)
        rrs = at_knot()
        check(not types_at(rrs, ZONE, "DNSKEY") and not any(r.split()[3] == "RRSIG" for r in rrs),
              "owner's DNSKEY/RRSIG not dropped at knotd:\n  " + "\n  ".join(rrs[:8]))
        check(types_at(rrs, "www." + ZONE, "A") == ["192.0.2.1"] and len(rrs) == FILLER + 4,
              f"knotd after the first transfer: {len(rrs)} records, want {FILLER + 4}")
        check(hsynctest.axfr("127.0.0.1", h.port, ZONE, tool="dig") is not None, "AXFR from the combiner")

        # 2. The agent's DNSKEY, CDS and NS at the apex.
        r = hsynctest.nsupdate("127.0.0.1", h.port, ZONE,
                               f"update add {ZONE} 300 DNSKEY {AGENT_DNSKEY}\n"
                               f"update add {ZONE} 300 CDS {AGENT_CDS}\n"
                               f"update add {ZONE} 300 NS ns1.agent.example.\n"
                               f"update add {ZONE} 300 NS ns2.agent.example.", key=agent_key)
        check(r.rc == 0, "agent UPDATE failed\n  " + r.describe())
        hsynctest.wait_serial("127.0.0.1", knot.port, ZONE, 2, 20, process=knot.proc)
        rrs = at_knot()
        if types_at(rrs, ZONE, "DNSKEY") != [AGENT_DNSKEY]:
            errs.append(f"agent DNSKEY at knotd: {types_at(rrs, ZONE, 'DNSKEY')}")
        if [x.upper() for x in types_at(rrs, ZONE, "CDS")] != [AGENT_CDS.upper()]:
            errs.append(f"agent CDS at knotd: {types_at(rrs, ZONE, 'CDS')}")
        if types_at(rrs, ZONE, "NS") != ["ns1.owner.example."]:
            errs.append(f"NSMgmt=OWNER but the apex NS at knotd is {types_at(rrs, ZONE, 'NS')}")
        # Only the apex was combined again (the served zone follows by a difference).
        if not re.search(r"event=combined zone=\S+ mode=apex owner_serial=\d+ serial=2 changes=", h.log()):
            errs.append("the agent UPDATE was not combined at the apex alone (no mode=apex line)")

        # 3. Forbidden and bad UPDATEs: clear RCODE, nothing changed.
        before, before_serial = at_combiner(), serial(h.port)

        def refused(what: str, commands: str, key: str | None, rcodes: str) -> None:
            r = hsynctest.nsupdate("127.0.0.1", h.port, ZONE, commands, key=key)
            text = r.stdout + r.stderr
            print(f"  {what}: " + " | ".join(ln for ln in text.splitlines() if "status" in ln or "failed" in ln)[:150])
            if r.rc == 0 or not re.search(rcodes, text):
                errs.append(f"{what}: expected {rcodes}\n  " + r.describe())
        refused("A at the apex (with a valid DNSKEY)", f"update add {ZONE} 300 CDNSKEY {AGENT_DNSKEY}\n"
                f"update add {ZONE} 300 A 192.0.2.99", agent_key, "REFUSED")
        refused("DNSKEY below the apex", f"update add www.{ZONE} 300 DNSKEY {AGENT_DNSKEY}", agent_key, "REFUSED")
        refused("no TSIG", f"update add {ZONE} 300 CDS {AGENT_CDS}", None, "REFUSED")
        refused("wrong TSIG secret", f"update add {ZONE} 300 CDS 2 13 2 {'CD' * 32}",
                f"hmac-sha256:agent.:{hsynctest.tsig_secret()}", r"NOTAUTH|BADSIG|tsig")
        refused("the owner's transfer key", f"update add {ZONE} 300 CDS 2 13 2 {'CD' * 32}",
                f"hmac-sha256:xfr.:{xfr}", "REFUSED")
        refused("failing prerequisite", f"prereq nxrrset {ZONE} DNSKEY\nupdate add {ZONE} 300 CDS 2 13 2 {'CD' * 32}",
                agent_key, "YXRRSET")
        msg = struct.pack("!HHHHHH", 0x5151, 5 << 11, 1, 0, 10001, 0)
        msg += hsynctest.encode_name(ZONE) + struct.pack("!HH", 6, 1)
        rec = b"\xc0\x0c" + struct.pack("!HHIH", 48, 255, 0, 0)
        msg += rec * ((65535 - len(msg)) // len(rec))
        resp = hsynctest.tcp_exchange(h.port, msg, timeout=5)
        hd = hsynctest.WireHeader(resp) if resp else None
        print(f"  UPDATE claiming 10001 records: {hd!r}")
        if hd is None or hd.rcode_name not in ("FORMERR", "REFUSED"):
            errs.append(f"UPDATE claiming 10001 records: {hd!r}")
        if at_combiner() != before or serial(h.port) != before_serial:
            errs.append("a refused UPDATE changed the combined zone")

        # 4. Owner change (nsupdate on named) + NSMgmt flipped to AGENT: flows through by IXFR.
        kpos = len(knot.log())
        xfr_key = f"hmac-sha256:xfr.:{xfr}"
        r = hsynctest.nsupdate("127.0.0.1", named.port, ZONE,
                               f"update add www2.{ZONE} 300 A 192.0.2.2\n"
                               f"update delete {ZONE} TYPE{HSYNC}\n"
                               f"update add {ZONE} {HSYNC_AGENT_TEXT}", key=xfr_key)
        check(r.rc == 0, "nsupdate on named failed\n  " + r.describe())
        hsynctest.wait_serial("127.0.0.1", named.port, ZONE, 2, 10)
        hsynctest.wait_serial("127.0.0.1", knot.port, ZONE, 3, 20, process=knot.proc)
        rrs = at_knot()
        if types_at(rrs, "www2." + ZONE, "A") != ["192.0.2.2"]:
            errs.append("the owner's new www2 did not reach knotd")
        if types_at(rrs, ZONE, "NS") != ["ns1.agent.example.", "ns2.agent.example."]:
            errs.append(f"NSMgmt=AGENT but the apex NS at knotd is {types_at(rrs, ZONE, 'NS')}")
        if types_at(rrs, ZONE, "DNSKEY") != [AGENT_DNSKEY]:
            errs.append(f"agent DNSKEY lost after the owner's change: {types_at(rrs, ZONE, 'DNSKEY')}")
        klog = knot.log()[kpos:]
        print("  knotd:", "; ".join(ln.split("info: ")[-1] for ln in klog.splitlines() if "XFR" in ln))
        if not re.search(r"IXFR, incoming, remote 127\.0\.0\.1@\d+.*(started|finished)", klog) \
                or "AXFR, incoming" in klog or "AXFR-style" in klog:
            errs.append("knotd did not fetch the change by IXFR:\n" + klog[-1500:])
        if "IXFR" not in named.log() or not re.search(r"comb\.test/IN': IXFR started: TSIG xfr", named.log()):
            errs.append("the combiner did not fetch the owner's change by IXFR from named")
        # The combiner's own IXFR answer from serial 2 carries only the change.
        ixfr = hsynctest.run([hsynctest.require_program("kdig"), "+noall", "+answer", "-p", str(h.port),
                              "@127.0.0.1", ZONE, "IXFR=2"], check_rc=None)
        body = [ln for ln in ixfr.stdout.splitlines() if ln.strip()]
        print(f"  IXFR=2 from the combiner: {len(body)} records")
        if not (4 <= len(body) <= 14):
            errs.append(f"IXFR=2 from the combiner has {len(body)} records (the change is ~9):\n  " + ixfr.describe())

        # 5. Management: zone show and combiner data.
        zs = h.zone_json(ZONE)
        det = zs.get("details", {})
        if det.get("owner serial") != "2" or det.get("served serial") != "3" or "agent." not in det.get("agent DNSKEY", ""):
            errs.append(f"hsyncctl zone show: {zs}")
        cd = json.loads(h.ctl("combiner", "data", ZONE, "--json").stdout)
        types = {s["type"]: s for s in cd.get("rrsets", [])}
        if set(types) != {"DNSKEY", "CDS", "NS"} or types["DNSKEY"]["changed_by"] != "agent." \
                or cd.get("ns_management") != "AGENT" or cd.get("served_serial") != 3:
            errs.append(f"hsyncctl combiner data --json: {cd}")
        human = h.ctl("combiner", "data", ZONE).stdout
        print("  " + human.replace("\n", "\n  ")[:600])

        # 5b. An owner change that leaves the HSYNC RRset alone: the combined zone follows the
        # owner's difference (no whole-zone combining), served as serial 4.
        r = hsynctest.nsupdate("127.0.0.1", named.port, ZONE,
                               f"update add www3.{ZONE} 300 A 192.0.2.3", key=xfr_key)
        check(r.rc == 0, "nsupdate on named failed\n  " + r.describe())
        hsynctest.wait_serial("127.0.0.1", knot.port, ZONE, 4, 20, process=knot.proc)
        if types_at(at_knot(), "www3." + ZONE, "A") != ["192.0.2.3"]:
            errs.append("the owner's new www3 did not reach knotd")
        if not re.search(r"event=combined zone=\S+ mode=incremental owner_serial=3 serial=4", h.log()):
            errs.append("the owner's IXFR was not combined incrementally:\n" + h.log()[-1500:])

        # 6. Restart: the agent data and the served serial stay.
        content = at_combiner()
        h.stop()
        h.start([ZONE])
        if serial(h.port) != 4 or at_combiner() != content:
            errs.append(f"after a restart: serial {serial(h.port)} (want 4), content "
                        f"{'same' if at_combiner() == content else 'DIFFERENT'}")
        # A later agent change after the restart: next serial is 5.
        r = hsynctest.nsupdate("127.0.0.1", h.port, ZONE, f"update delete {ZONE} CDS", key=agent_key)
        check(r.rc == 0, "agent UPDATE after restart failed\n  " + r.describe())
        hsynctest.wait_serial("127.0.0.1", knot.port, ZONE, 5, 20, process=knot.proc)
        rrs = at_knot()
        if types_at(rrs, ZONE, "CDS") or types_at(rrs, ZONE, "DNSKEY") != [AGENT_DNSKEY]:
            errs.append(f"after restart + delete CDS: CDS {types_at(rrs, ZONE, 'CDS')}, DNSKEY {types_at(rrs, ZONE, 'DNSKEY')}")
        check(h.alive(), "hsyncd died:\n" + h.log()[-2000:])
        if errs:
            fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
