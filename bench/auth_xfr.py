#!/usr/bin/env python3
"""Zone transfers out: AXFR of a large zone from hsyncd vs Knot vs NSD; IXFR from hsyncd.

AXFR: a zone generated with scripts/gen-zone (default 1,000,000 records, apex key
placeholders removed; cached under build/bench/) is loaded by each server in turn (one
at a time, stopped before the next starts) and pulled --runs times over TCP on loopback by
the same small Python client (dnsbench.xfr: reads length-prefixed messages, counts records
from the header ANCOUNTs and stops at the final SOA, decoding only the candidate message,
so it stays cheap next to the server). Reported: best and median wall time from connect to
the final message, time to the first byte, messages, bytes, records (every server must send
the same number), the time the server took to start serving the zone and its RSS then.

IXFR: hsyncd serves the large zone and a small one (--small-records, default 1/100 of
it); on each, the zone file gets a new serial and --change new records, `hsyncctl zone
reload` makes hsyncd compute and journal the difference, and the client pulls IXFR from
the old serial --ixfr-pulls times (each must be incremental: SOA new, SOA old, ..., with
exactly the change). The time per pull must not depend on the zone size.
Markdown on stdout, progress on stderr.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dnsbench as db
import hsynctest

OLD_SERIAL, NEW_SERIAL = 2024010101, 2024010102


def axfr_runs(r: db.Running, origin: str, runs: int) -> list[db.XfrResult]:
    out = []
    for i in range(runs):
        x = db.xfr(r.port, origin, db.AXFR)
        db.log(f"  {r.name} AXFR {i + 1}/{runs}: {x.seconds:.2f}s (first byte "
               f"{x.first_byte:.3f}s), {x.messages} messages, {x.records:,} records, "
               f"{x.bytes / 2**20:.1f} MiB")
        out.append(x)
    return out


def ixfr_case(work: Path, origin: str, zone: Path, change: int, pulls: int) -> dict:
    """hsyncd on a copy of `zone`; returns timings of IXFR pulls of a `change`-record
    difference."""
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "zone.db"
    text = zone.read_text()
    if str(OLD_SERIAL) not in text:
        db.die(f"auth_xfr: {zone} has no SOA serial {OLD_SERIAL}")
    copy.write_text(text)
    r = db.start_hsyncd(work / "hsyncd", origin, copy, 900)
    try:
        # Added records with absolute names and explicit TTLs ($ORIGIN/$TTL at the end of
        # the generated file do not matter).
        extra = "".join(f"ixfr-bench-{k}.{origin} 3600 IN A 198.51.100.{k % 250 + 1}\n"
                        for k in range(change))
        copy.write_text(text.replace(str(OLD_SERIAL), str(NEW_SERIAL), 1) + extra)
        del text
        t0 = time.monotonic()
        res = r.handle.ctl("zone", "reload", origin.rstrip("."), timeout=600, check_rc=None)
        if res.rc != 0:
            db.die(f"auth_xfr: hsyncctl zone reload failed: {res.stdout}{res.stderr}")
        hsynctest.wait_serial("127.0.0.1", r.port, origin, NEW_SERIAL, timeout=600,
                              process=r.proc)
        reload_s = time.monotonic() - t0
        times, first = [], None
        for _ in range(pulls):
            x = db.xfr(r.port, origin, db.IXFR, serial=OLD_SERIAL)
            if x.soa_serials[:2] != [NEW_SERIAL, OLD_SERIAL]:
                db.die(f"auth_xfr: IXFR from {OLD_SERIAL} was not incremental (SOA serials "
                       f"{x.soa_serials[:4]}, {x.records} records)")
            if x.records != change + 4:
                db.die(f"auth_xfr: IXFR carried {x.records} records, expected {change} + 4 SOA")
            times.append(x.seconds)
            first = first or x
        return {"reload": reload_s, "best": min(times), "median": statistics.median(times),
                "records": first.records, "bytes": first.bytes, "messages": first.messages,
                "rss": db.group_rss_mib(r.pgid)[0]}
    finally:
        r.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--small-records", type=int, default=0,
                    help="zone size for the IXFR comparison (default records/100, at least 1000)")
    ap.add_argument("--runs", type=int, default=3, help="AXFR pulls per server")
    ap.add_argument("--change", type=int, default=100, help="records added for the IXFR")
    ap.add_argument("--ixfr-pulls", type=int, default=20)
    ap.add_argument("--servers", default="hsync,Knot,NSD")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--origin", default="example.com.")
    ap.add_argument("--cache", default=str(db.ROOT / "build" / "bench"))
    a = ap.parse_args()
    servers = a.servers.split(",")
    for s in servers:
        if s not in db.STARTERS:
            db.die(f"auth_xfr: unknown server {s!r} (hsync, NSD, Knot, BIND)")
    small = a.small_records or max(1000, a.records // 100)

    head = db.host_line()
    cache = Path(a.cache)
    zone = db.plain_zone(a.records, a.seed, a.origin, cache)
    small_zone = db.plain_zone(small, a.seed, a.origin, cache)
    work = Path(tempfile.mkdtemp(prefix="bench-xfr-"))
    try:
        ax: dict[str, list[db.XfrResult]] = {}
        info: dict[str, tuple] = {}
        for s in servers:
            db.log(f"starting {s} with {zone.name}")
            r = db.STARTERS[s](work / s, a.origin, zone, 900)
            try:
                rss = db.group_rss_mib(r.pgid)[0]
                db.log(f"  serving after {r.load_seconds:.1f}s, RSS {rss:.0f} MiB, load "
                       f"{db.loadavg()}")
                ax[s] = axfr_runs(r, a.origin, a.runs)
                info[s] = (r.load_seconds, rss, r.version, db.loadavg())
            finally:
                r.stop()
            shutil.rmtree(work / s, ignore_errors=True)
        counts = {s: ax[s][0].records for s in servers}

        db.log(f"IXFR: {a.change} records added to the {a.records:,}-record zone")
        big = ixfr_case(work / "ixfr-big", a.origin, zone, a.change, a.ixfr_pulls)
        db.log(f"  {big}")
        db.log(f"IXFR: {a.change} records added to the {small:,}-record zone")
        little = ixfr_case(work / "ixfr-small", a.origin, small_zone, a.change, a.ixfr_pulls)
        db.log(f"  {little}")

        mib = 2**20
        o = [f"### Zone transfer out: AXFR of {a.records:,} records, IXFR of a "
             f"{a.change}-record change\n", head,
             f"- zone: `scripts/gen-zone --records {a.records} --seed {a.seed} --origin "
             f"{a.origin} --rfc3597` without apex DNSKEY/CDS/CDNSKEY/ZONEMD, unsigned, "
             f"{zone.stat().st_size / mib:.1f} MiB of zone file",
             "- client: one Python TCP client for every server (bench/dnsbench.py `xfr`: "
             "counts records from header ANCOUNTs, decodes only the message that may end the "
             f"transfer), loopback; {a.runs} pulls per server, one server running at a time",
             "- servers: " + "; ".join(f"{s}: {info[s][2]}" for s in servers)
             + " (Knot: 1 TCP worker; NSD: server-count 1; defaults otherwise)",
             "- load average when each server finished: "
             + "; ".join(f"{s} {info[s][3]}" for s in servers), "",
             "| server | AXFR best s (median) | records/s | first byte s | messages | MiB | "
             "records | zone load s | RSS after load MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        best = {}
        for s in servers:
            ts = [x.seconds for x in ax[s]]
            best[s] = min(ts)
            x = ax[s][0]
            o.append(f"| {s} | {min(ts):.3f} ({statistics.median(ts):.3f}) | "
                     f"{x.records / min(ts):,.0f} | "
                     f"{statistics.median(y.first_byte for y in ax[s]):.3f} | {x.messages:,} | "
                     f"{x.bytes / mib:.1f} | {x.records:,} | {info[s][0]:.1f} | {info[s][1]:,.0f} |")
        if len(set(counts.values())) != 1:
            o.append(f"\n**The servers sent different record counts: {counts}**")
        if "hsync" in servers and len(servers) > 1:
            o += ["", "| ratio | AXFR time |", "|---|---:|"]
            for s in servers:
                if s != "hsync":
                    o.append(f"| hsync / {s} | {best['hsync'] / best[s]:.2f} |")
            o.append("\n(ratio < 1: hsync transfers faster)")
        o += ["", f"IXFR from hsyncd: zone file edited (new serial, {a.change} records added), "
              f"`hsyncctl zone reload` (hsyncd diffs old and new content and journals the "
              f"difference), then {a.ixfr_pulls} IXFR pulls over TCP from the old serial, "
              f"each checked to be incremental with exactly {a.change} + 4 SOA records.", "",
              "| zone size | IXFR best ms (median) | records | bytes | reload + diff s |",
              "|---|---:|---:|---:|---:|"]
        for n, c in ((a.records, big), (small, little)):
            o.append(f"| {n:,} | {c['best'] * 1000:.2f} ({c['median'] * 1000:.2f}) | "
                     f"{c['records']} | {c['bytes']:,} | {c['reload']:.2f} |")
        ratio = big["median"] / little["median"]
        o.append(f"\nIXFR median time, {a.records:,}-record zone / {small:,}-record zone: "
                 f"{ratio:.2f} (1.0 = independent of the zone size).")
        goals = [f"IXFR proportional to the change: {'met' if ratio <= 2 else 'MISSED'}"]
        for s in ("Knot", "NSD"):
            if "hsync" in best and s in best:
                goals.append(f"AXFR at least as fast as {s}: "
                             f"{'met' if best['hsync'] <= best[s] else 'MISSED'}")
        o.append("\nGoal (issue 4): " + "; ".join(goals) + ".")
        print("\n".join(o))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
