#!/usr/bin/env python3
"""Authoritative query rate: hsyncd (auth role) vs NSD vs Knot vs BIND, one zone, dnsperf.

Generates (cached under build/bench/) a zone with scripts/gen-zone (default 100,000
records, apex key placeholders removed) and signs it with dnssec-signzone (ECDSA P-256,
NSEC), so DO queries get RRSIGs and NSEC proofs. Builds one binary query file (dnsperf -B:
2-byte length + message) from the zone: existing name/type pairs (answers and referrals),
existing names with a missing type (NODATA), names that do not exist (NXDOMAIN); some
without EDNS, most with EDNS, a share with the DO bit.

Starts all four servers on loopback ports, each with ONE query-serving thread (hsyncd
is single-threaded; NSD server-count 1, Knot udp-workers 1, named -n 1), then runs, for each
load profile (--profiles THREADS:CLIENTS:OUTSTANDING,...) and --runs rounds with the server
order rotated each round, back to back:
  dnsperf -B -s 127.0.0.1 -p PORT -d queries.bin -l SECONDS -T THREADS -c CLIENTS -q OUTSTANDING
after a 2 s warm-up per server. The default profiles are one dnsperf thread (the server
can have the other core to itself) and two dnsperf threads (the load generator takes more
than one core on a 2-core machine). Reports queries/s, lost queries, the RCODE mix (the same
file must give the same mix everywhere), latency, and the CPU the server and dnsperf used
(cores, from /proc and getrusage) to show which side was the bottleneck.
Markdown on stdout, progress on stderr.
"""

import argparse
import random
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dnsbench as db


def build_queries(zone: Path, origin: str, count: int, seed: int, out: Path) -> dict:
    """Writes `count` queries to `out` (dnsperf -B format); returns the mix."""
    owners: dict[str, set[str]] = {}
    records = 0
    with open(zone) as f:
        for ln in f:
            if not ln or ln[0] == ";" or ln[0].isspace():
                continue
            p = ln.split(None, 4)
            if len(p) < 4:
                continue
            records += 1
            t = p[3]
            if t in ("RRSIG", "NSEC", "NSEC3") or p[0].startswith("*"):
                continue
            owners.setdefault(p[0], set()).add(t)
    pairs = [(o, t) for o, ts in owners.items() for t in ts if t in db.TYPE_CODES]
    names = list(owners)
    rng = random.Random(seed)
    probe = ["A", "AAAA", "MX", "TXT", "SRV", "TLSA", "CAA"]
    mix = {"existing": 0, "nodata": 0, "nxdomain": 0, "no EDNS": 0, "EDNS": 0, "EDNS+DO": 0}
    with open(out, "wb") as f:
        for _ in range(count):
            x = rng.random()
            if x < 0.55:
                name, t = rng.choice(pairs)
                mix["existing"] += 1
            elif x < 0.65:
                name = rng.choice(names)
                missing = [p for p in probe if p not in owners[name]]
                t = rng.choice(missing or ["NAPTR"])
                mix["nodata"] += 1
            else:
                label = f"nx{rng.getrandbits(32):x}"
                name = f"{label}.{origin}" if rng.random() < 0.5 else f"{label}.{rng.choice(names)}"
                t = rng.choice(["A", "AAAA", "MX"])
                mix["nxdomain"] += 1
            y = rng.random()
            if y < 0.1:
                edns, do = None, False
                mix["no EDNS"] += 1
            elif y < 0.7:
                edns, do = 1232, False
                mix["EDNS"] += 1
            else:
                edns, do = 1232, True
                mix["EDNS+DO"] += 1
            m = db.query_wire(name, db.TYPE_CODES[t], qid=rng.randrange(65536), edns=edns, do=do)
            f.write(struct.pack("!H", len(m)) + m)
    mix["records"] = records
    return mix


def dnsperf(port: int, qfile: Path, seconds: float, clients: int, threads: int,
            outstanding: int) -> tuple[list[str], str]:
    argv = [db.which("dnsperf"), "-B", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile),
            "-l", str(seconds), "-c", str(clients), "-T", str(threads), "-q", str(outstanding)]
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        db.die(f"dnsperf exited {p.returncode}:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return argv, p.stdout


def parse_dnsperf(out: str) -> dict:
    def num(pat: str) -> float:
        m = re.search(pat, out)
        if not m:
            db.die(f"dnsperf output without {pat!r}:\n{out}")
        return float(m.group(1))
    rc = {}
    m = re.search(r"Response codes:\s+(.*)", out)
    for name, n in re.findall(r"(\w+) (\d+) \(", m.group(1) if m else ""):
        rc[name] = int(n)
    return {"qps": num(r"Queries per second:\s+([\d.]+)"),
            "completed": num(r"Queries completed:\s+(\d+)"),
            "lost_pct": num(r"Queries lost:\s+\d+ \(([\d.]+)%\)"),
            "latency_ms": num(r"Average Latency \(s\):\s+([\d.]+)") * 1000,
            "resp_size": num(r"Average packet size:\s+request \d+, response (\d+)"),
            "rcodes": rc}


def parse_profiles(text: str) -> list[tuple[int, int, int]]:
    out = []
    for part in text.split(","):
        f = part.split(":")
        if len(f) != 3 or not all(x.isdigit() and int(x) > 0 for x in f):
            db.die(f"auth_query: bad --profiles entry {part!r} (THREADS:CLIENTS:OUTSTANDING)")
        out.append(tuple(int(x) for x in f))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=2, help="rounds over all servers")
    ap.add_argument("--seconds", type=float, default=12, help="dnsperf -l")
    ap.add_argument("--profiles", default="1:4:100,2:8:500",
                    help="dnsperf loads THREADS:CLIENTS:OUTSTANDING (-T:-c:-q), comma-separated")
    ap.add_argument("--queries", type=int, default=200_000, help="distinct queries in the file")
    ap.add_argument("--servers", default="hsync,NSD,Knot,BIND")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--origin", default="example.com.")
    ap.add_argument("--cache", default=str(db.ROOT / "build" / "bench"))
    a = ap.parse_args()
    servers = a.servers.split(",")
    for s in servers:
        if s not in db.STARTERS:
            db.die(f"auth_query: unknown server {s!r} (hsync, NSD, Knot, BIND)")
    profiles = parse_profiles(a.profiles)

    head = db.host_line()
    cache = Path(a.cache)
    zone = db.signed_zone(a.records, a.seed, a.origin, cache)
    work = Path(tempfile.mkdtemp(prefix="bench-query-"))
    running: dict[str, db.Running] = {}
    try:
        qfile = work / "queries.bin"
        mix = build_queries(zone, a.origin, a.queries, a.seed, qfile)
        db.log(f"query file: {a.queries} queries, mix {mix}")
        for s in servers:
            db.log(f"starting {s}")
            running[s] = db.STARTERS[s](work / s, a.origin, zone, 300)
            db.log(f"  {s} on port {running[s].port}, serving after {running[s].load_seconds:.1f}s")
        results: dict[tuple, list[dict]] = {(p, s): [] for p in profiles for s in servers}
        for prof in profiles:
            threads, clients, outstanding = prof
            for rnd in range(a.runs):
                order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
                for s in order:
                    r = running[s]
                    dnsperf(r.port, qfile, 2, clients, threads, outstanding)  # warm-up
                    cpu0 = db.group_cpu_seconds(r.pgid)
                    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    drops0 = db.udp_rcvbuf_errors()
                    t0 = time.monotonic()
                    _, out = dnsperf(r.port, qfile, a.seconds, clients, threads, outstanding)
                    wall = time.monotonic() - t0
                    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    res = parse_dnsperf(out)
                    res["drops"] = db.udp_rcvbuf_errors() - drops0
                    res["server_cores"] = (db.group_cpu_seconds(r.pgid) - cpu0) / wall
                    res["dnsperf_cores"] = ((ru1.ru_utime - ru0.ru_utime)
                                            + (ru1.ru_stime - ru0.ru_stime)) / wall
                    res["load"] = db.loadavg()
                    results[(prof, s)].append(res)
                    db.log(f"-T {threads} -c {clients} -q {outstanding} round {rnd + 1}/{a.runs} "
                           f"{s}: {res['qps']:,.0f} q/s, lost {res['lost_pct']:.2f}%, server "
                           f"{res['server_cores']:.2f} cores, dnsperf {res['dnsperf_cores']:.2f} "
                           f"cores, rcodes {res['rcodes']}, load {res['load']}")
        for s in servers:
            running[s].stop()

        pct = lambda k: mix[k] * 100 // a.queries  # noqa: E731
        o = [f"### Authoritative query rate: {a.records:,}-record signed zone, dnsperf\n", head,
             f"- zone: `scripts/gen-zone --records {a.records} --seed {a.seed} --origin {a.origin}"
             f" --rfc3597` (apex key placeholders removed) signed with `dnssec-signzone -S` "
             f"(ECDSAP256SHA256, NSEC): {mix['records']:,} records with RRSIG/NSEC",
             f"- queries: {a.queries:,} distinct (dnsperf -B binary file, looped): "
             f"{pct('existing')}% existing name and type (answers and referrals), "
             f"{pct('nodata')}% NODATA, {pct('nxdomain')}% NXDOMAIN; {pct('no EDNS')}% without "
             f"EDNS, {pct('EDNS')}% EDNS (1232), {pct('EDNS+DO')}% EDNS with DO",
             f"- load: `dnsperf -B -s 127.0.0.1 -p PORT -d FILE -l {a.seconds:g} -T T -c C -q Q` "
             f"after a 2 s warm-up, {a.runs} rounds per load (server order rotated each round); "
             f"dnsperf runs on the same 2 cores as the server",
             "- every server runs ONE query thread: hsyncd (single-threaded by design), NSD "
             "`server-count: 1`, Knot `udp-workers: 1`, `named -n 1`; other settings default "
             "(NSD's response rate limiting off)",
             "- servers: " + "; ".join(f"{s}: {running[s].version}" for s in servers),
             "- CPU columns: cores used during the measured run (server: its process group from "
             "/proc; dnsperf: getrusage); 2.0 is the whole machine. Socket drops: datagrams the "
             "kernel discarded because a receive buffer was full (/proc/net/snmp RcvbufErrors, "
             "whole host during the run, dnsperf's own sockets included: answers still in "
             "flight when it stops count there and as lost)", "",
             "| load (-T/-c/-q) | server | q/s per round | mean q/s | lost % | socket drops | "
             "NOERROR / NXDOMAIN % | latency ms | response bytes | server CPU | dnsperf CPU |",
             "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|"]
        mean = {}
        for prof in profiles:
            for s in servers:
                rs = results[(prof, s)]
                mean[(prof, s)] = m = sum(r["qps"] for r in rs) / len(rs)
                rc = rs[-1]["rcodes"]
                tot = sum(rc.values()) or 1
                per_round = ", ".join(f"{r['qps']:,.0f}" for r in rs)
                o.append(f"| {'/'.join(map(str, prof))} | {s} | {per_round} | {m:,.0f} | "
                         f"{max(r['lost_pct'] for r in rs):.2f} | "
                         f"{sum(r['drops'] for r in rs):,} | "
                         f"{rc.get('NOERROR', 0) * 100 / tot:.1f} / "
                         f"{rc.get('NXDOMAIN', 0) * 100 / tot:.1f} | "
                         f"{sum(r['latency_ms'] for r in rs) / len(rs):.2f} | "
                         f"{rs[-1]['resp_size']:.0f} | "
                         f"{sum(r['server_cores'] for r in rs) / len(rs):.2f} | "
                         f"{sum(r['dnsperf_cores'] for r in rs) / len(rs):.2f} |")
        if "hsync" in servers and len(servers) > 1:
            others = [s for s in servers if s != "hsync"]
            o += ["", "| load (-T/-c/-q) | " + " | ".join(f"hsync / {s}" for s in others) + " |",
                  "|---|" + "---:|" * len(others)]
            for prof in profiles:
                o.append(f"| {'/'.join(map(str, prof))} | " + " | ".join(
                    f"{mean[(prof, 'hsync')] / mean[(prof, s)]:.2f}" for s in others) + " |")
            o.append("\n(query-rate ratios; > 1: hsync answers more queries per second)")
            for prof in profiles:
                h = mean[(prof, "hsync")]
                goals = []
                if "BIND" in servers:
                    goals.append(f"at least BIND's rate: "
                                 f"{'met' if h >= mean[(prof, 'BIND')] else 'MISSED'}")
                for s in ("NSD", "Knot"):
                    if s in servers:
                        goals.append(f"within 2x of {s}: "
                                     f"{'met' if h * 2 >= mean[(prof, s)] else 'MISSED'}")
                o.append(f"\nGoal (issue 4), load {'/'.join(map(str, prof))}: "
                         + "; ".join(goals) + ".")
        print("\n".join(o))
    finally:
        for r in running.values():
            r.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
