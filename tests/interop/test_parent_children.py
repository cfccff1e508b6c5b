"""hsyncd role parent with real children: a child signed by Knot (`knotd`, automatic
signing with CDS/CDNSKEY publication) and one signed by BIND (`named` with dnssec-policy),
both delegated from `tld.` without DS:

    parent role (tld. from a file) --xfr--> hsyncd signer (tld. signed) <-- Unbound
    knotd (knot.tld., signs, publishes CDS)        named (bind.tld., signs, publishes CDS)

Proves:
- the parent role scans each child at its nameserver (by address), validates the answers
  with libunbound from the signer's KSK, takes the first DS from the signed CDS under
  `initial-ds: accept-after-delay` (delay 0 here) and serves it; the signer signs it;
- a real validating resolver (Unbound, trust anchor = the signer's KSK) then answers both
  children with AD;
- BIND's `dnssec-cds`, given the child's signed DNSKEY/CDS/CDNSKEY and the DS the parent
  published, keeps exactly that DS set (what the parent derived from the CDS is what BIND
  derives);
- `hsyncctl parent children --json` lists both with result `updated` and then `unchanged`,
  and `hsyncctl parent scan CHILD` scans at once;
- the DS changes survive a restart of the parent role (SQLite), and a reload of the parent
  zone file (an upstream change) keeps them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import hsynctest
from hsynctest import check, fail

TLD = "tld."
KNOT = "knot.tld."
BIND = "bind.tld."


def parent_zone_text(serial: int) -> str:
    return f"""$ORIGIN tld.
$TTL 30
@ IN SOA ns.tld. hostmaster.tld. {serial} 60 2 1209600 10
@ IN NS ns.tld.
ns IN A 127.0.0.1
knot IN NS ns.knot.tld.
ns.knot IN A 127.0.0.1
bind IN NS ns.bind.tld.
ns.bind IN A 127.0.0.1
"""


def child_zone_text(name: str) -> str:
    return f"""$ORIGIN {name}
$TTL 30
@ IN SOA ns.{name} hostmaster.{name} 1 60 2 1209600 10
@ IN NS ns.{name}
ns IN A 127.0.0.1
www IN A 192.0.2.7
"""


def dig_records(port: int, name: str, qtype: str, *opts: str) -> list[str]:
    r = hsynctest.run([hsynctest.require_program("dig"), "+norec", "+time=2", "+tries=2",
                       "+nocomments", "+nostats", "+noquestion", "+nocmd", "-p", str(port),
                       "@127.0.0.1", name, qtype, *opts], check_rc=None, timeout=20)
    return [l for l in r.stdout.splitlines() if l.strip() and not l.startswith(";")]


def rdatas(lines: list[str], qtype: str) -> set[str]:
    out = set()
    for l in lines:
        f = l.split()
        if len(f) >= 5 and f[3] == qtype:
            if qtype in ("DS", "CDS") and len(f) >= 8:  # dig splits long digests
                out.add(" ".join(f[4:7]) + " " + "".join(f[7:]).upper())
            else:
                out.add(" ".join(f[4:]).upper())
    return out


def start_unbound(d: Path, anchor: str, stubs: dict[str, int]) -> tuple[hsynctest.Process, int]:
    """Debian's Unbound, validating from `anchor`, with stub zones to the lab's ports. A
    copy of the binary: AppArmor confines /usr/sbin/unbound to /etc/unbound (docs/lab.md)."""
    d.mkdir(parents=True, exist_ok=True)
    exe = d / "unbound"
    shutil.copy(hsynctest.require_program("unbound"), exe)
    port = hsynctest.free_port()
    conf = d / "unbound.conf"
    stub_text = "".join(f"stub-zone:\n    name: \"{z}\"\n    stub-addr: 127.0.0.1@{p}\n"
                        for z, p in stubs.items())
    conf.write_text(f"""server:
    verbosity: 1
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    use-syslog: no
    logfile: ""
    num-threads: 1
    so-reuseport: no
    module-config: "validator iterator"
    trust-anchor: "{anchor}"
    val-log-level: 2
    cache-max-ttl: 5
{stub_text}remote-control:
    control-enable: no
""")
    proc = hsynctest.Process([str(exe), "-d", "-p", "-c", str(conf)], "unbound", d / "unbound.log",
                             cwd=str(d))
    hsynctest.wait_until(lambda: hsynctest._tcp_connects("127.0.0.1", port), 20, "unbound listening",
                         process=proc)
    return proc, port


def children(parent: hsynctest.Hsyncd) -> dict[str, dict]:
    r = parent.ctl("parent", "children", "--json")
    return {c["child"]: c for c in json.loads(r.stdout)}


def test_parent_knot_and_bind_children():
    with hsynctest.TempDir("hsync-parent") as d:
        d = Path(d)
        # The children first: their servers sign at once and publish CDS for their KSK.
        (d / "knot").mkdir()
        (d / "knot" / "knot.tld.zone").write_text(child_zone_text(KNOT))
        knot = hsynctest.start_knotd_config(d / "knot", f"""policy:
  - id: fast
    algorithm: ecdsap256sha256
    ksk-lifetime: 0
    zsk-lifetime: 0
    dnskey-ttl: 10
    zone-max-ttl: 30
    propagation-delay: 0
    cds-cdnskey-publish: always
zone:
  - domain: {KNOT}
    file: "{d / 'knot' / 'knot.tld.zone'}"
    dnssec-signing: on
    dnssec-policy: fast
    zonefile-sync: -1
    zonefile-load: difference-no-serial
    journal-content: all
""", wait_zones=[KNOT])
        (d / "bind").mkdir()
        (d / "bind" / "bind.tld.zone").write_text(child_zone_text(BIND))
        bind = hsynctest.start_named_config(d / "bind", f"""dnssec-policy "fast" {{
    keys {{ ksk lifetime unlimited algorithm ecdsap256sha256; zsk lifetime unlimited algorithm ecdsap256sha256; }};
    dnskey-ttl 10;
    publish-safety 0;
    retire-safety 0;
    zone-propagation-delay 0;
    max-zone-ttl 30;
    parent-ds-ttl 30;
    parent-propagation-delay 0;
}};
zone "{BIND}" {{
    type primary;
    file "{d / 'bind' / 'bind.tld.zone'}";
    dnssec-policy "fast";
    inline-signing yes;
    key-directory "{d / 'bind'}";
}};
""", wait_zones=[BIND])

        # The parent role, its signer, and the trust anchor (written once signed).
        (d / "parent").mkdir()
        zone_file = d / "parent" / "tld.zone"
        zone_file.write_text(parent_zone_text(1))
        anchor_file = d / "parent" / "anchor"
        anchor_file.write_text("; written once the signer has signed tld.\n")
        parent_port, signer_port = hsynctest.free_port(), hsynctest.free_port()
        parent = hsynctest.start_hsyncd(f"""role: parent
zones:
  - name: {TLD}
    type: primary
    file: "{zone_file}"
    notify: ["127.0.0.1:{signer_port}"]
    allow-transfer: ["127.0.0.1"]
parent:
  scan-interval: 2
  notify-min-interval: 0
  initial-ds: accept-after-delay
  initial-ds-delay: 0
  timeout: 2000
  resolver:
    trust-anchor-file: "{anchor_file}"
    stubs:
      - {{zone: "{TLD}", servers: ["127.0.0.1:{signer_port}"]}}
  nameservers:
    ns.knot.tld.: "127.0.0.1:{knot.port}"
    ns.bind.tld.: "127.0.0.1:{bind.port}"
""", d / "parent", port=parent_port, wait_zones=[TLD])
        signer = hsynctest.start_hsyncd(f"""role: signer
dnssec-policies:
  - name: lab
    algorithm: ecdsap256sha256
    dnskey-ttl: 10
zones:
  - name: {TLD}
    type: secondary
    primaries: ["127.0.0.1:{parent_port}"]
    retry: 1
    dnssec-policy: lab
""", d / "signer", port=signer_port, wait_zones=[TLD])

        def ksk() -> str | None:
            for l in dig_records(signer_port, TLD, "DNSKEY"):
                f = l.split()
                if len(f) >= 8 and f[3] == "DNSKEY" and f[4] == "257":
                    return " ".join([TLD, "IN", "DNSKEY"] + f[4:])
            return None

        hsynctest.wait_until(lambda: ksk() is not None, 30, "the signer serving a KSK for tld.")
        anchor = ksk()
        anchor_file.write_text(anchor + "\n")
        print(f"  trust anchor: {anchor[:60]}...")

        # The first DS of each child, from its CDS.
        def ds_of(name: str) -> set[str]:
            return rdatas(dig_records(signer_port, name, "DS"), "DS")

        t0 = time.monotonic()
        try:
            hsynctest.wait_until(lambda: ds_of(KNOT) and ds_of(BIND), 120,
                                 "the parent publishing DS for knot.tld. and bind.tld.")
        except hsynctest.TestFailure:
            print(parent.ctl("parent", "children").stdout)
            raise
        print(f"  DS published after {time.monotonic() - t0:.1f} s: knot {sorted(ds_of(KNOT))}, "
              f"bind {sorted(ds_of(BIND))}")
        for name, server in ((KNOT, knot.port), (BIND, bind.port)):
            cds = rdatas(dig_records(server, name, "CDS"), "CDS")
            check(ds_of(name) == cds, f"{name}: DS served {ds_of(name)} is not the child's CDS {cds}")

        kids = children(parent)
        for name in (KNOT, BIND):
            c = kids.get(name)
            check(c is not None, f"{name} missing from parent children: {sorted(kids)}")
            check(c["managed"] == ["DS"], f"{name}: managed {c['managed']}")
            print(f"  {name} result: {c['result']}; servers {c['servers']}")

        # A real resolver validates both children now.
        unbound, uport = start_unbound(d / "unbound", anchor, {TLD: signer_port, KNOT: knot.port,
                                                               BIND: bind.port})
        for name in (KNOT, BIND):
            def validated() -> bool:
                r = hsynctest.run([hsynctest.require_program("dig"), "+dnssec", "+time=2", "+tries=1",
                                   "-p", str(uport), "@127.0.0.1", "www." + name, "A"], check_rc=None)
                return "status: NOERROR" in r.stdout and " ad" in r.stdout.split("flags:")[1].split(";")[0]
            hsynctest.wait_until(validated, 30, f"Unbound answering www.{name} with AD")
        print("  Unbound validates www.knot.tld. and www.bind.tld. (AD)")

        # dnssec-cds on the same child data and the published DS keeps that DS set.
        for name, server in ((KNOT, knot.port), (BIND, bind.port)):
            child_file = d / f"{name}child"
            lines = []
            for t in ("DNSKEY", "CDS", "CDNSKEY"):
                lines += dig_records(server, name, t, "+dnssec")
            child_file.write_text("\n".join(lines) + "\n")
            ds_file = d / f"{name}ds"
            ds_file.write_text("\n".join(l for l in dig_records(signer_port, name, "DS")
                                         if l.split()[3] == "DS") + "\n")
            r = hsynctest.run([hsynctest.require_program("dnssec-cds"), "-s", "20000101000000",
                               "-f", str(child_file), "-d", str(ds_file), name], check_rc=None)
            check(r.rc == 0, f"dnssec-cds failed for {name}\n  " + r.describe())
            check(rdatas(r.stdout.splitlines(), "DS") == ds_of(name),
                  f"{name}: dnssec-cds gives {rdatas(r.stdout.splitlines(), 'DS')}, "
                  f"the parent published {ds_of(name)}")
        print("  dnssec-cds agrees with the published DS of both children")

        # A scan on demand: unchanged now.
        r = parent.ctl("parent", "scan", KNOT, "--json")
        c = json.loads(r.stdout)
        check(c["result"] == "unchanged", f"scan of {KNOT} after the change: {c['result']}")

        # Restart: the DS stay (stored before served); a reload of the zone file keeps them.
        serial = hsynctest.soa_serial("127.0.0.1", parent_port, TLD)
        parent.stop()
        parent.start([TLD])
        check(ds_of(KNOT) and rdatas(dig_records(parent_port, KNOT, "DS"), "DS") == ds_of(KNOT),
              "the DS of knot.tld. is not served after a restart")
        check(hsynctest.soa_serial("127.0.0.1", parent_port, TLD) == serial,
              "a restart changed the parent's serial")
        zone_file.write_text(parent_zone_text(2) + "new IN A 192.0.2.9\n")
        parent.ctl("zone", "reload", TLD)
        hsynctest.wait_until(lambda: dig_records(parent_port, "new.tld.", "A"), 10,
                             "the reloaded parent zone served")
        check(rdatas(dig_records(parent_port, BIND, "DS"), "DS") == ds_of(BIND),
              "the DS of bind.tld. is lost after a reload of the parent zone file")
        print("  DS kept across a restart and a zone file reload")
        unbound.stop()


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
