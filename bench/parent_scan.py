#!/usr/bin/env python3
"""The parent role scanning many children: N delegations under `tld.`, each child signed
offline (`hsyncctl keygen` + `hsyncctl zone sign`, a KSK and a ZSK each, CDS for the KSK)
and all served by one hsyncd auth instance; the parent role (tld. from a file with every
child's DS) and an hsyncd signer for tld. (the chain of trust the scans validate from).

Measured:
- a full scan round: from the parent's start until every child has been scanned once
  (all `unchanged`), and the queries it sent (the children's server's request counter);
- NOTIFY(CDS) to the new DS served: child 1 gets a new version whose CDS names a second
  KSK (signed by the first); after its reload, a NOTIFY(CDS) goes to the parent, and the
  time until the parent role serves the new DS set is taken; --notify-runs times.

The goal (issue 16): a round bounded by the children's nameservers and the resolver, not
by the zone size; NOTIFY -> DS in well under a second.

    python3 bench/parent_scan.py [--children N] [--notify-runs R] [--parallel P]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import hsynctest  # noqa: E402


def child_name(i: int) -> str:
    return f"c{i}.tld."


def keygen(d: Path, zone: str, role: str) -> str:
    r = hsynctest.hsyncctl("keygen", "--algorithm", "13", f"--{role}", zone, "-K", str(d),
                           timeout=60)
    return r.stdout.strip().splitlines()[-1]


def key_base(d: Path, zone: str, role: str) -> Path:
    out = keygen(d, zone, role)
    p = Path(out)
    return p if p.is_absolute() else d / p.name


def make_children(work: Path, n: int) -> dict[str, dict]:
    """Signs every child once (cached under work/children); returns name -> paths."""
    out = {}
    kids = work / "children"
    kids.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for i in range(1, n + 1):
        name = child_name(i)
        cd = kids / name
        signed = cd / "signed.zone"
        meta = cd / "meta.json"
        if meta.exists():
            out[name] = json.loads(meta.read_text())
            continue
        cd.mkdir(exist_ok=True)
        ksk = key_base(cd, name, "ksk")
        zsk = key_base(cd, name, "zsk")
        ds = hsynctest.run([hsynctest.require_program("dnssec-dsfromkey"), "-2", str(ksk) + ".key"]).stdout.strip()
        cds = ds.replace(" DS ", " CDS ")
        unsigned = cd / "unsigned.zone"
        unsigned.write_text(f"$TTL 300\n{name} IN SOA ns.{name} h.{name} 1 60 10 1209600 60\n"
                            f"{name} IN NS ns.{name}\nns.{name} IN A 127.0.0.1\n{cds}\n")
        hsynctest.hsyncctl("zone", "sign", str(unsigned), "--origin", name, "--key", str(ksk),
                           "--key", str(zsk), "-o", str(signed), timeout=60)
        m = {"signed": str(signed), "ds": ds, "ksk": str(ksk), "zsk": str(zsk), "dir": str(cd)}
        meta.write_text(json.dumps(m))
        out[name] = m
        if i % 1000 == 0:
            print(f"  {i} children signed ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--children", type=int, default=10000)
    ap.add_argument("--notify-runs", type=int, default=5)
    ap.add_argument("--parallel", type=int, default=16, help="parent: max-parallel-scans")
    ap.add_argument("--cache", default=str(ROOT / "build" / "bench"))
    a = ap.parse_args()

    cache = Path(a.cache) / f"parent-{a.children}"
    kids = make_children(cache, a.children)
    with hsynctest.TempDir("hsync-bench-parent") as d:
        d = Path(d)
        # The children's server: one hsyncd auth with every child zone.
        zones = [{"name": n, "type": "primary", "file": k["signed"]} for n, k in kids.items()]
        auth = hsynctest.start_hsyncd({"zones": zones, "log-level": "warn"}, d / "auth",
                                      wait_zones=[child_name(1)], timeout=600)
        # The parent zone with every delegation and its DS.
        lines = ["$TTL 300", "tld. IN SOA ns.tld. h.tld. 1 60 10 1209600 60", "tld. IN NS ns.tld.",
                 "ns.tld. IN A 127.0.0.1"]
        for n, k in kids.items():
            lines += [f"{n} IN NS ns.{n}", f"ns.{n} IN A 127.0.0.1", k["ds"]]
        (d / "tld.zone").write_text("\n".join(lines) + "\n")
        anchor_file = d / "anchor"
        anchor_file.write_text("; written once tld. is signed\n")
        pport, sport = hsynctest.free_port(), hsynctest.free_port()
        nameservers = "".join(f"    ns.{n}: \"127.0.0.1:{auth.port}\"\n" for n in kids)
        parent_cfg = f"""role: parent
log-level: warn
zones:
  - name: tld.
    type: primary
    file: "{d / 'tld.zone'}"
    notify: ["127.0.0.1:{sport}"]
    allow-transfer: ["127.0.0.1"]
parent:
  scan-interval: 86400
  notify-min-interval: 0
  max-parallel-scans: {a.parallel}
  timeout: 5000
  resolver:
    trust-anchor-file: "{anchor_file}"
    stubs:
      - {{zone: "tld.", servers: ["127.0.0.1:{sport}"]}}
  nameservers:
{nameservers}"""
        signer = hsynctest.start_hsyncd(f"""role: signer
log-level: warn
zones:
  - name: tld.
    type: secondary
    primaries: ["127.0.0.1:{pport}"]
    retry: 1
""", d / "signer", port=sport, start=False)
        parent = hsynctest.start_hsyncd(parent_cfg, d / "parent", port=pport, wait_zones=["tld."],
                                        timeout=600)
        signer.start(["tld."])

        def anchor() -> str | None:
            r = hsynctest.run([hsynctest.require_program("dig"), "+short", "-p", str(sport), "@127.0.0.1",
                               "tld.", "DNSKEY"], check_rc=None)
            for l in r.stdout.splitlines():
                if l.startswith("257 "):
                    return "tld. IN DNSKEY " + l
            return None
        hsynctest.wait_until(lambda: anchor() is not None, 120, "tld. signed")

        def requests() -> float:
            text = auth.metrics()  # signed with the daemon's management key
            for l in text.splitlines():
                if l.startswith("hsync_requests_total"):
                    return float(l.split()[-1])
            return float("nan")

        def scanned() -> list[dict]:
            return json.loads(parent.ctl("parent", "children", "--json", timeout=120).stdout)

        q0 = requests()
        anchor_file.write_text(anchor() + "\n")
        t0 = time.monotonic()
        # The children wait for the anchor; a scan of each is due now.
        parent.ctl("parent", "scan", child_name(1), "--no-wait")
        while True:
            cs = scanned()
            done = sum(1 for c in cs if c["scans"] >= 1 and c["result"] != "not scanned yet"
                       and "no trust anchor" not in c["result"])
            if done >= a.children:
                break
            if time.monotonic() - t0 > 3600:
                print(f"round not finished: {done}/{a.children}", file=sys.stderr)
                return 1
            time.sleep(1)
        round_s = time.monotonic() - t0
        q1 = requests()
        results = {}
        for c in cs:
            results[c["result"].split(":")[0]] = results.get(c["result"].split(":")[0], 0) + 1

        # NOTIFY(CDS) -> new DS: child 1 announces a second KSK.
        k = kids[child_name(1)]
        cd = Path(k["dir"])
        ksk2 = key_base(cd, child_name(1), "ksk")
        ds2 = hsynctest.run([hsynctest.require_program("dnssec-dsfromkey"), "-2", str(ksk2) + ".key"]).stdout.strip()
        times = []
        for run in range(a.notify_runs):
            cds_lines = [k["ds"].replace(" DS ", " CDS ")]
            if run % 2 == 0:
                cds_lines.append(ds2.replace(" DS ", " CDS "))
            unsigned = cd / "unsigned2.zone"
            unsigned.write_text(f"$TTL 300\n{child_name(1)} IN SOA ns.{child_name(1)} h.{child_name(1)} "
                                f"{10 + run} 60 10 1209600 60\n{child_name(1)} IN NS ns.{child_name(1)}\n"
                                f"ns.{child_name(1)} IN A 127.0.0.1\n" + "\n".join(cds_lines) + "\n"
                                + next(l for l in Path(str(ksk2) + ".key").read_text().splitlines()
                                       if " DNSKEY " in l and not l.startswith(";")) + "\n")
            signed2 = cd / "signed2.zone"
            hsynctest.hsyncctl("zone", "sign", str(unsigned), "--origin", child_name(1), "--key", k["ksk"],
                               "--key", k["zsk"], "--key", str(ksk2), "-o", str(signed2), timeout=60)
            os.replace(signed2, k["signed"])
            auth.ctl("zone", "reload", child_name(1))
            hsynctest.wait_until(lambda: hsynctest.soa_serial("127.0.0.1", auth.port, child_name(1)) == 10 + run,
                                 20, "child 1 reloaded")
            want = {l.split()[3] for l in cds_lines}  # key tags
            t1 = time.monotonic()
            hsynctest.run([hsynctest.require_program("dig"), "+short", "+opcode=notify", "-p", str(pport),
                           "@127.0.0.1", child_name(1), "CDS"], check_rc=None)

            def ds_now() -> set[str]:
                r = hsynctest.run([hsynctest.require_program("dig"), "+short", "+norec", "-p", str(pport),
                                   "@127.0.0.1", child_name(1), "DS"], check_rc=None)
                return {l.split()[0] for l in r.stdout.splitlines() if l.strip()}
            hsynctest.wait_until(lambda: ds_now() == want, 30, "the new DS served", interval=0.005)
            times.append(time.monotonic() - t1)

        print(f"### Parent role: {a.children:,} children, one scan round and NOTIFY(CDS) to DS\n")
        print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
              f"{open('/proc/loadavg').read().split()[:3]}; max-parallel-scans {a.parallel}")
        print(f"- children: {a.children:,} zones signed offline (ECDSA P-256 KSK+ZSK, CDS = DS), "
              f"one hsyncd auth; parent zone tld. with {a.children:,} delegations and DS\n")
        print("| what | value |\n|---|---:|")
        print(f"| full scan round (every child scanned once) | {round_s:.1f} s |")
        print(f"| children per second | {a.children / round_s:,.0f} |")
        print(f"| queries at the children's server during the round | {q1 - q0:,.0f} |")
        print(f"| queries per child | {(q1 - q0) / a.children:.1f} |")
        print(f"| results | {', '.join(f'{k} {v}' for k, v in sorted(results.items()))} |")
        print(f"| NOTIFY(CDS) -> new DS served by the parent role, median of {len(times)} | "
              f"{statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
