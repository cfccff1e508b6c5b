"""Zone transfers between hsyncd (role auth) and the reference servers, TSIG hmac-sha256
on every transfer:
  (a) knotd and named as secondaries of an hsyncd primary: initial AXFR, then a zone
      file change + `hsyncctl zone reload` -> NOTIFY -> both fetch by IXFR (their logs
      say so) and serve the new serial with the same content; transfers without TSIG or
      with a wrong key are refused by hsyncd;
  (b) hsyncd as secondary of named and of knotd: AXFR first, then nsupdate on the
      primary -> NOTIFY -> IXFR (the primaries' logs say IXFR), content equal to the
      primary's, answers checked with dig.
SOA refresh is 3600 s everywhere, so only NOTIFY can explain a refresh within the test."""

from __future__ import annotations

import os
import re
import signal
import sys

import hsynctest
from hsynctest import check, fail

FILLER = 200  # records besides the few that change, so an AXFR is easy to tell from an IXFR


def zone_text(serial: int, www: str = "192.0.2.1", extra: str = "") -> str:
    fill = "".join(f"host{i:03d} A 198.51.100.{i % 250 + 1}\n" for i in range(FILLER))
    return (f"$TTL 300\n@ IN SOA ns1 hostmaster {serial} 3600 900 604800 120\n@ NS ns1\n"
            f"ns1 A 127.0.0.1\nwww A {www}\ngone TXT \"to be deleted\"\n{extra}{fill}")


def dig_xfr(port: int, zone: str, qtype: str = "AXFR", key: str | None = None, serial: int | None = None):
    argv = [hsynctest.require_program("dig"), "+nocmd", "+nostats", "+time=5", "+tries=1",
            "-p", str(port), "@127.0.0.1", zone, qtype if serial is None else f"{qtype}={serial}"]
    if key:
        argv[1:1] = ["-y", key]
    r = hsynctest.run(argv, check_rc=None, timeout=30)
    rrs = [hsynctest._canonical_rr(ln) for ln in r.stdout.splitlines()
           if ln.strip() and not ln.startswith(";")]
    return rrs, r


def content(rrs: list[str]) -> list[str]:
    """AXFR records without the trailing SOA and without TSIG."""
    rrs = [r for r in rrs if r.split()[3] != "TSIG"]
    return sorted(rrs[:-1]) if rrs and rrs[-1].split()[3] == "SOA" else sorted(rrs)


def test_reference_servers_as_secondaries():
    secret = hsynctest.tsig_secret()
    key = f"hmac-sha256:xfr.:{secret}"
    with hsynctest.TempDir("auth-xfr-out") as d:
        zf = d / "xfr.test.zone"
        zf.write_text(zone_text(1))
        kport, nport = hsynctest.free_port(), hsynctest.free_port()
        h = hsynctest.start_hsyncd({
            "tsig-keys": [{"name": "xfr.", "algorithm": "hmac-sha256", "secret": secret}],
            "zones": [{"name": "xfr.test", "type": "primary", "file": str(zf),
                       "notify": [f"127.0.0.1:{kport}", f"127.0.0.1:{nport}"],
                       "allow-transfer": "key xfr."}]}, d / "hsyncd", wait_zones=["xfr.test."])
        knot = hsynctest.start_knotd_config(d / "knot", f"""key:
  - id: xfr.
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: primary
    address: 127.0.0.1@{h.port}
    key: xfr.
acl:
  - id: notify_in
    address: 127.0.0.1
    action: notify
  - id: xfr_out
    address: 127.0.0.1
    action: transfer
zone:
  - domain: xfr.test.
    master: primary
    acl: [notify_in, xfr_out]
    file: {d}/knot/xfr.test.zone
""", port=kport, wait_zones=["xfr.test."])
        named = hsynctest.start_named_config(d / "named", f"""
key "xfr." {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "xfr.test" {{ type secondary; primaries {{ 127.0.0.1 port {h.port} key "xfr."; }};
    file "xfr.test.db"; allow-notify {{ 127.0.0.1; }}; allow-transfer {{ 127.0.0.1; }}; }};
""", port=nport, wait_zones=["xfr.test."])
        errs = []
        want1, r = dig_xfr(h.port, "xfr.test.", key=key)
        check(len(content(want1)) == FILLER + 5, f"AXFR from hsyncd with the key: {len(content(want1))} records (want {FILLER + 5})\n  " + r.describe())
        for srv, name in ((knot, "knotd"), (named, "named")):
            got, r = dig_xfr(srv.port, "xfr.test.")
            if content(got) != content(want1):
                errs.append(f"{name} after the first transfer differs from hsyncd: "
                            f"{len(content(got))} vs {len(content(want1))} records")
        check(re.search(r"AXFR, incoming, remote 127\.0\.0\.1@\d+, finished", knot.log()) is not None,
              "knotd log has no finished incoming AXFR:\n" + knot.log()[-2000:])
        check("transferred serial 1: TSIG 'xfr'" in named.log(),
              "named log has no TSIG-signed transfer of serial 1:\n" + named.log()[-2000:])
        kpos, npos = len(knot.log()), len(named.log())

        # One record changed, one added, one deleted; reload -> NOTIFY -> IXFR.
        zf.write_text(zone_text(2, www="192.0.2.2", extra="new AAAA 2001:db8::2\n").replace('gone TXT "to be deleted"\n', ""))
        r = h.ctl("zone", "reload", "xfr.test")
        hsynctest.wait_serial("127.0.0.1", h.port, "xfr.test.", 2, 15, process=h.proc)
        for srv, name in ((knot, "knotd"), (named, "named")):
            try:
                hsynctest.wait_serial("127.0.0.1", srv.port, "xfr.test.", 2, 20, process=srv.proc)
            except hsynctest.TestFailure as e:
                errs.append(f"{name} did not get serial 2 after reload+NOTIFY: {e}")
        want2, _ = dig_xfr(h.port, "xfr.test.", key=key)
        for srv, name in ((knot, "knotd"), (named, "named")):
            got, _ = dig_xfr(srv.port, "xfr.test.")
            if content(got) != content(want2):
                errs.append(f"{name} content after the change differs from hsyncd's: only there "
                            f"{[x for x in content(got) if x not in want2][:5]}, missing "
                            f"{[x for x in content(want2) if x not in got][:5]}")
        a = hsynctest.dig1("127.0.0.1", knot.port, "www.xfr.test.", "A")
        if a.sections["answer"] != ["www.xfr.test. 300 IN A 192.0.2.2"]:
            errs.append(f"knotd www after change: {a.sections['answer']}")
        klog, nlog = knot.log()[kpos:], named.log()[npos:]
        if "notify, incoming" not in klog:
            errs.append("knotd got no NOTIFY from hsyncd:\n" + klog[-1500:])
        if not re.search(r"IXFR, incoming, remote 127\.0\.0\.1@\d+, (started|finished)", klog) \
                or "AXFR-style" in klog or "AXFR, incoming" in klog:
            errs.append("knotd did not fetch by IXFR (log since the change):\n" + klog[-1500:])
        if not re.search(r"notify from 127\.0\.0\.1#\d+: serial 2", nlog):
            errs.append("named got no NOTIFY for serial 2:\n" + nlog[-1500:])
        m = re.search(r"Transfer completed: \d+ messages, (\d+) records.*\(serial 2\)", nlog)
        print("  knotd:", "; ".join(ln.split("info: ")[-1] for ln in klog.splitlines() if "IXFR" in ln or "AXFR" in ln))
        print("  named:", m.group(0) if m else None)
        if not m or int(m.group(1)) > 20:
            errs.append(f"named did not fetch by IXFR (zone has {FILLER + 5} records; an IXFR of this "
                        f"change has < 20): {m.group(0) if m else 'no completed transfer'}\n" + nlog[-1500:])

        # `hsyncctl zone notify` sends a NOTIFY again (knotd answers "zone is up to date").
        n_before = knot.log().count("notify, incoming")
        h.ctl("zone", "notify", "xfr.test")
        try:
            hsynctest.wait_until(lambda: knot.log().count("notify, incoming") > n_before, 10,
                                 "knotd logs a NOTIFY after `hsyncctl zone notify`")
        except hsynctest.TestFailure as e:
            errs.append(str(e))
        zs = h.zone_json("xfr.test.")
        if zs.get("serial") != 2 or zs.get("kind") != "primary":
            errs.append(f"hsyncctl zone show xfr.test: {zs}")

        # hsyncd's own IXFR answer (condensed difference 1 -> 2) with the key.
        rrs, r = dig_xfr(h.port, "xfr.test.", "IXFR", key=key, serial=1)
        body = [x for x in rrs if x.split()[3] != "TSIG"]
        if not (5 <= len(body) <= 10 and "www.xfr.test. 300 IN A 192.0.2.2" in body
                and "www.xfr.test. 300 IN A 192.0.2.1" in body):
            errs.append(f"IXFR=1 from hsyncd: {len(body)} records, expected the difference (~8):\n  " + r.describe())

        # Refused transfers: no key, wrong secret, unknown key name; UDP IXFR without key.
        bad = hsynctest.tsig_secret()
        for what, qtype, k in (("AXFR without TSIG", "AXFR", None),
                               ("IXFR without TSIG", "IXFR", None),
                               ("AXFR with a wrong secret", "AXFR", f"hmac-sha256:xfr.:{bad}"),
                               ("AXFR with an unknown key", "AXFR", f"hmac-sha256:other.:{secret}"),
                               ("IXFR with a wrong secret", "IXFR", f"hmac-sha256:xfr.:{bad}")):
            rrs, r = dig_xfr(h.port, "xfr.test.", qtype, key=k, serial=1 if qtype == "IXFR" else None)
            data = [x for x in rrs if x.split()[3] not in ("TSIG",)]
            print(f"  {what}: {len(data)} records; dig said: "
                  + " | ".join(ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith(";") and "DiG" not in ln and "global" not in ln)[:160])
            if data:
                errs.append(f"{what} was NOT refused: {len(data)} records\n  " + r.describe())
            elif not re.search(r"Transfer failed|REFUSED|NOTAUTH|BADSIG|BADKEY|tsig|communications error|closed",
                               r.stdout + r.stderr, re.I):
                errs.append(f"{what}: no records but no refusal either?\n  " + r.describe())
        check(h.alive(), "hsyncd died")
        if errs:
            fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))


def test_hsyncd_as_secondary():
    secret = hsynctest.tsig_secret()
    key = f"hmac-sha256:xfr.:{secret}"
    with hsynctest.TempDir("auth-xfr-in") as d:
        hport = hsynctest.free_port()
        (d / "named").mkdir()
        nzf = d / "named" / "fromnamed.test.zone"
        nzf.write_text(zone_text(1))
        named = hsynctest.start_named_config(d / "named", f"""
key "xfr." {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "fromnamed.test" {{ type primary; file "{nzf}"; allow-transfer {{ key "xfr."; }};
    allow-update {{ key "xfr."; }}; notify explicit; also-notify {{ 127.0.0.1 port {hport}; }};
    max-ixfr-ratio unlimited; }};
""", options="notify-delay 0;", wait_zones=["fromnamed.test."])
        kzf = d / "knot-fromknot.test.zone"
        kzf.write_text(zone_text(1))
        knot = hsynctest.start_knotd_config(d / "knot", f"""key:
  - id: xfr.
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: hsyncd
    address: 127.0.0.1@{hport}
acl:
  - id: xfr_key
    address: 127.0.0.1
    key: xfr.
    action: [transfer, update]
zone:
  - domain: fromknot.test.
    file: {kzf}
    notify: hsyncd
    acl: xfr_key
    zonefile-sync: -1
    journal-content: changes
""", wait_zones=["fromknot.test."])
        zones = {"fromnamed.test.": named, "fromknot.test.": knot}
        h = hsynctest.start_hsyncd({
            "tsig-keys": [{"name": "xfr.", "algorithm": "hmac-sha256", "secret": secret}],
            "zones": [{"name": z, "type": "secondary", "primaries": [f"127.0.0.1:{srv.port}"],
                       "transfer-key": "xfr.", "allow-notify": ["127.0.0.1"],
                       "allow-transfer": ["127.0.0.1"]} for z, srv in zones.items()]},
            d / "hsyncd", port=hport)
        errs = []
        for z, srv in zones.items():
            hsynctest.wait_serial("127.0.0.1", h.port, z, 1, 30, process=h.proc)
            want, _ = dig_xfr(srv.port, z, key=key)
            got, r = dig_xfr(h.port, z)
            if content(got) != content(want):
                errs.append(f"{z}: hsyncd's copy after AXFR differs: {len(content(got))} vs {len(content(want))}\n  " + r.describe())
        check(re.search(r"fromnamed\.test/IN': AXFR started: TSIG xfr", named.log()) is not None,
              "named did not log a TSIG-signed AXFR to hsyncd:\n" + named.log()[-2000:])
        check(re.search(r"\[fromknot\.test\.\] AXFR, outgoing, remote 127\.0\.0\.1@\d+( TSIG xfr\.)?, started", knot.log()) is not None,
              "knotd did not log a TSIG-signed AXFR to hsyncd:\n" + knot.log()[-2000:])
        npos, kpos = len(named.log()), len(knot.log())
        for z, srv in zones.items():
            r = hsynctest.nsupdate("127.0.0.1", srv.port, z,
                                   f"update delete gone.{z} TXT\nupdate delete www.{z} A\n"
                                   f"update add www.{z} 300 A 192.0.2.3\nupdate add added.{z} 300 TXT \"added by update\"",
                                   key=key)
            check(r.rc == 0, f"nsupdate to the primary of {z} failed\n  " + r.describe())
            hsynctest.wait_serial("127.0.0.1", srv.port, z, 2, 10)
        ok = {}
        for z, srv in zones.items():
            try:
                hsynctest.wait_serial("127.0.0.1", h.port, z, 2, 20, process=h.proc)
                ok[z] = True
            except hsynctest.TestFailure as e:
                errs.append(f"{z}: hsyncd did not follow the NOTIFY: {e}")
        # The primaries' logs up to here: only hsyncd transferred (the test's own AXFRs follow).
        nlog, klog = named.log()[npos:], knot.log()[kpos:]
        for z, srv in zones.items():
            if z not in ok:
                continue
            want, _ = dig_xfr(srv.port, z, key=key)
            got, r = dig_xfr(h.port, z)
            if content(got) != content(want):
                errs.append(f"{z}: hsyncd's copy after IXFR differs: only hsyncd "
                            f"{[x for x in content(got) if x not in want][:5]}, missing "
                            f"{[x for x in content(want) if x not in got][:5]}")
            a = hsynctest.dig1("127.0.0.1", h.port, f"www.{z}", "A")
            if a.sections["answer"] != [f"www.{z} 300 IN A 192.0.2.3"] or "aa" not in a.flags:
                errs.append(f"{z}: www after IXFR: {a!r} {a.sections['answer']}")
            a = hsynctest.dig1("127.0.0.1", h.port, f"gone.{z}", "TXT")
            if a.rcode != "NXDOMAIN":
                errs.append(f"{z}: deleted name still there: {a!r} {a.sections}")
            a = hsynctest.dig1("127.0.0.1", h.port, f"added.{z}", "TXT", "+tcp")
            if a.sections["answer"] != [f'added.{z} 300 IN TXT "added by update"']:
                errs.append(f"{z}: added record over TCP: {a!r} {a.sections}")
        print("  named:", "; ".join(ln.split("(fromnamed.test): ")[-1] for ln in nlog.splitlines() if "XFR" in ln))
        print("  knotd:", "; ".join(ln.split("info: ")[-1] for ln in klog.splitlines() if "XFR" in ln))
        if not re.search(r"fromnamed\.test/IN': IXFR started: TSIG xfr", nlog) or "AXFR" in nlog:
            errs.append("named (primary) did not serve hsyncd an IXFR:\n" + nlog[-1500:])
        if not re.search(r"\[fromknot\.test\.\] IXFR, outgoing, remote 127\.0\.0\.1@\d+( TSIG xfr\.)?, started", klog) \
                or "AXFR" in klog:
            errs.append("knotd (primary) did not serve hsyncd an IXFR:\n" + klog[-1500:])
        st = h.ctl("zone", "list")
        for z in zones:
            if z.rstrip(".") not in st.stdout:
                errs.append(f"hsyncctl zone list lacks {z}:\n{st.stdout}")
        if errs:
            fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))


def test_hsyncd_secondary_axfr_style_ixfr_and_bad_key():
    """RFC 1995 4: a primary without a journal answers IXFR with the whole zone
    (named: "falling back to AXFR"); hsyncd must replace its copy (deleted records gone).
    A secondary zone whose transfer key the primary does not know is not served
    (no AA answer) and `hsyncctl zone show` reports an error."""
    secret = hsynctest.tsig_secret()
    key = f"hmac-sha256:xfr.:{secret}"
    with hsynctest.TempDir("auth-xfr-fallback") as d:
        hport = hsynctest.free_port()
        (d / "named").mkdir()
        zf = d / "named" / "fb.test.zone"
        zf.write_text(zone_text(1))
        bf = d / "named" / "badkey.test.zone"
        bf.write_text(zone_text(1))
        named = hsynctest.start_named_config(d / "named", f"""
key "xfr." {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "fb.test" {{ type primary; file "{zf}"; allow-transfer {{ key "xfr."; }};
    notify explicit; also-notify {{ 127.0.0.1 port {hport}; }}; }};
zone "badkey.test" {{ type primary; file "{bf}"; allow-transfer {{ key "xfr."; }}; }};
""", options="notify-delay 0;", wait_zones=["fb.test.", "badkey.test."])
        h = hsynctest.start_hsyncd({
            "tsig-keys": [{"name": "xfr.", "algorithm": "hmac-sha256", "secret": secret},
                          {"name": "other.", "algorithm": "hmac-sha256", "secret": hsynctest.tsig_secret()}],
            "zones": [{"name": "fb.test.", "type": "secondary", "primaries": [f"127.0.0.1:{named.port}"],
                       "transfer-key": "xfr.", "allow-transfer": ["127.0.0.1"]},
                      {"name": "badkey.test.", "type": "secondary", "primaries": [f"127.0.0.1:{named.port}"],
                       "transfer-key": "other."}]},
            d / "hsyncd", port=hport)
        errs = []
        hsynctest.wait_serial("127.0.0.1", h.port, "fb.test.", 1, 30, process=h.proc)
        pos = len(named.log())
        zf.write_text(zone_text(2, www="192.0.2.4", extra="fresh A 192.0.2.5\n").replace('gone TXT "to be deleted"\n', ""))
        os.kill(named.proc.pid, signal.SIGHUP)
        hsynctest.wait_serial("127.0.0.1", named.port, "fb.test.", 2, 15)
        try:
            hsynctest.wait_serial("127.0.0.1", h.port, "fb.test.", 2, 20, process=h.proc)
        except hsynctest.TestFailure as e:
            errs.append(f"fb.test: hsyncd did not follow the change: {e}")
        nlog = named.log()[pos:]
        print("  named:", "; ".join(ln.split("(fb.test): ")[-1] for ln in nlog.splitlines() if "XFR" in ln))
        if "falling back to AXFR" not in nlog or "AXFR-style IXFR ended" not in nlog:
            errs.append("named did not serve an AXFR-style IXFR (test setup?):\n" + nlog[-1500:])
        want, _ = dig_xfr(named.port, "fb.test.", key=key)
        got, r = dig_xfr(h.port, "fb.test.")
        if content(got) != content(want):
            errs.append(f"fb.test after the AXFR-style IXFR differs: only hsyncd "
                        f"{[x for x in content(got) if x not in want][:5]}, missing "
                        f"{[x for x in content(want) if x not in got][:5]}")
        a = hsynctest.dig1("127.0.0.1", h.port, "gone.fb.test.", "TXT")
        if a.rcode != "NXDOMAIN":
            errs.append(f"gone.fb.test after the AXFR-style IXFR: {a!r} {a.sections}")
        # badkey.test: never transferred.
        a = hsynctest.dig1("127.0.0.1", h.port, "www.badkey.test.", "A")
        if a.rcode == "NOERROR" or "aa" in a.flags or a.sections["answer"]:
            errs.append(f"badkey.test served without a transfer: {a!r} {a.sections}")
        try:
            hsynctest.wait_until(lambda: bool(h.zone_json("badkey.test.").get("last_error")), 15,
                                 "hsyncctl zone show badkey.test reports last_error")
        except hsynctest.TestFailure as e:
            errs.append(f"{e}: {h.ctl('zone', 'show', 'badkey.test.', '--json', check_rc=None).stdout[:400]}")
        print("  badkey.test:", h.ctl("zone", "show", "badkey.test.", "--json", check_rc=None).stdout.strip()[:300])
        if errs:
            fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs))


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
