#!/usr/bin/env python3
"""Signer: the combiner's new unsigned serial to the signed serial downstream, hsyncd vs knotd.

The provider chain of tests/lib/signer_chain.py, every hop TSIG, on loopback:

    named owner --> hsyncd combiner --> SIGNER --> knotd downstream
    SIGNER = hsyncd `role: signer` | knotd (docs/knot-signer.md, `dnskey-management:
             incremental`, `signing-threads` = the number of CPUs, as hsyncd signs a whole
             zone on every core)

Both signers: ECDSA P-256 KSK + ZSK made on first sight of the zone, NSEC, 14-day
signatures. The same zone (scripts/gen-zone --rfc3597, apex key placeholders removed,
cached under build/bench/) goes through both chains, on the same machine, in the same run,
ONE CHAIN AFTER THE OTHER (--order; never concurrently, so each signer has the CPUs to
itself; only the chain being measured exists).

The clock starts when the combiner answers SOA with its new unsigned serial and stops when
the downstream answers SOA with the new signed serial; the signer's own SOA is polled too,
which splits each run into: combiner serving -> signer serving -> downstream serving.
Every server is polled every --poll-ms (default 2 ms) with raw UDP SOA queries, one
outstanding per server; the combiner and the signer are no longer polled once they serve
the new serial. knotd NOTIFYs its downstream about a second after it serves a new version
(a whole-second timer, see docs/knot-signer.md), hsyncd at once: "combiner -> signer
serving" compares the signing work alone, "combiner -> downstream" the whole hop.

Cases (--cases), each --runs times (the incremental ones --ixfr-runs times, default at
least 5), every process idle before a run:
  full  first load: the combiner, the signer and the downstream are started empty (their
        state deleted; the signer's and the downstream's first refresh has failed), then
        the combiner starts and transfers the zone from the owner (running all along); the
        clock starts when the combiner serves it;
  ixfr  on the loaded zone, one UPDATE at the owner (named) adds --changes records (default
        10, 100, 1000: one A record at each of N new names spread over the zone); the
        combiner and then the signer follow by IXFR;
  new   most content new: the owner restarts with a version of the zone in which every
        name with a number is renamed (host-17 -> host-n17, ...), or back; the combiner
        transfers it in full and sends a zone-sized change on as an AXFR-style IXFR, so
        both signers sign the new version in full.
Reported (markdown on stdout, progress on stderr): medians with min-max, ratios
hsync/Knot for both spans, the signer's own log events (hsyncd: event=signed mode/ms;
knotd: its transfer, "DNSSEC, ..." and "zone updated, N seconds" lines) relative to the
clock start, and the signer process's peak memory (VmHWM, /proc/PID/status) after the
first load and at the end, per record; then the verdict on the issue 6 goals.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import select
import shutil
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import dnsbench as db
import hsynctest

import combiner_hop as ch  # Poller, soa_serial_of, serial_now, log time stamps, formats

# This file is bench/signer_chain.py; the chain library has the same module name under
# tests/lib, so it is loaded from its path under another name.
_spec = importlib.util.spec_from_file_location(
    "signer_chain_lib", db.ROOT / "tests" / "lib" / "signer_chain.py")
chainlib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chainlib)

ORIGIN_DEFAULT = "example.com."
BASE_SERIAL = 2024010101  # the generated zone's serial line
LABEL = {"hsync": "hsyncd signer", "knot": "knotd"}
RENAME = re.compile(r"(?<=[A-Za-z])-(n?)(\d+)")


# --------------------------------------------------------------------------- polling


class Poller(ch.Poller):
    """combiner_hop's SOA poller, but any answer to the outstanding query (also REFUSED or
    SERVFAIL from a server that does not serve the zone yet) or a refused port frees the
    slot, so a server that starts serving is seen within one tick, not one resend."""

    def read(self) -> int | None:
        try:
            msg = self.sock.recv(4096)
        except BlockingIOError:
            return None
        except ConnectionRefusedError:
            self.qid = None
            return None
        if len(msg) >= 2 and self.qid is not None and struct.unpack_from("!H", msg)[0] == self.qid:
            self.qid = None
        return ch.soa_serial_of(msg)


HOPS3 = ("combiner", "signer", "downstream")


class Run:
    def __init__(self, case: str):
        self.case = case
        self.t_trigger = 0.0
        self.t = {h: 0.0 for h in HOPS3}       # time.time() each hop served the new serial
        self.serial = {h: 0 for h in HOPS3}
        self.before = {h: None for h in HOPS3}
        self.events: list[tuple[float, str]] = []   # the signer's log lines (time, text)
        self.signer_log = ""                         # the signer's log during the run
        self.down_got = "?"
        self.signer_cpu = 0.0  # CPU seconds (user + system) the signer process used

    @property
    def to_signer(self) -> float:
        return self.t["signer"] - self.t["combiner"]

    @property
    def to_down(self) -> float:
        return self.t["downstream"] - self.t["combiner"]

    @property
    def signer_to_down(self) -> float:
        return self.t["downstream"] - self.t["signer"]


def pgids(c) -> list[int]:
    return [s.proc.pid for s in c.servers.values() if s is not None and s.proc.alive()]


def wait_idle(c, quiet: float = 0.03, window: float = 0.5, timeout: float = 300) -> None:
    """Until the chain's processes together used under `quiet` cores over `window` s
    (journal writes, zone flushes and SQLite writes of the last run are over)."""
    groups = pgids(c)
    end = time.monotonic() + timeout
    before = sum(db.group_cpu_seconds(g) for g in groups)
    while time.monotonic() < end:
        time.sleep(window)
        now = sum(db.group_cpu_seconds(g) for g in groups)
        if now - before < quiet * window:
            return
        before = now
    db.log(f"  (still busy after {timeout:.0f} s; going on)")


def measure(c, case: str, trigger, poll: float, timeout: float, fresh: bool = False) -> Run:
    """Runs trigger() on a thread (it may block, e.g. until a server started), polls the
    combiner, the signer and the downstream until the downstream serves a new serial (with
    `fresh`: serves the zone at all) after the signer did, and returns the times."""
    r = Run(case)
    if not fresh:
        for h in HOPS3:
            r.before[h] = ch.serial_now(c.port[h], c.zone)
            if r.before[h] is None:
                db.die(f"signer_chain: {c.signer_kind} chain: {h} not serving before a run")
    spos = len(c.log("signer"))
    dpos = len(c.log("downstream"))
    spg = c.servers["signer"].proc.pid
    cpu0 = db.group_cpu_seconds(spg)
    pollers = {h: Poller(c.port[h], c.zone) for h in HOPS3}
    err: list[BaseException] = []

    def run_trigger() -> None:
        try:
            trigger()
        except BaseException as e:  # noqa: BLE001  (reported by the main thread)
            err.append(e)

    th = threading.Thread(target=run_trigger, daemon=True)
    r.t_trigger = time.time()
    th.start()
    try:
        deadline = time.monotonic() + timeout
        next_tick = time.monotonic()
        while not r.t["downstream"]:
            now = time.monotonic()
            if now > deadline:
                db.die(f"signer_chain: {c.signer_kind} chain, {case}: no new downstream serial "
                       f"within {timeout:.0f} s (seen: {r.serial})\nsigner log tail:\n"
                       f"{c.log('signer')[-3000:]}\ndownstream log tail:\n"
                       f"{c.log('downstream')[-1500:]}")
            if err:
                db.die(f"signer_chain: {c.signer_kind} chain, {case}: trigger failed: {err[0]}")
            if now >= next_tick:
                for h, p in pollers.items():
                    if not r.t[h]:
                        p.send_if_due(now)
                next_tick = now + poll
            rd, _, _ = select.select(list(pollers.values()), [], [],
                                     max(0.0, next_tick - time.monotonic()))
            t = time.time()
            for p in rd:
                h = next(k for k, v in pollers.items() if v is p)
                s = p.read()
                if s is None or r.t[h] or s == r.before[h]:
                    continue
                # A hop counts only once the hop before it was seen with its new serial
                # (a stale earlier version of a restarting hop must not stop the clock).
                prev = HOPS3[HOPS3.index(h) - 1] if h != "combiner" else None
                if prev and not r.t[prev]:
                    r.t[prev] = t  # seen in the same tick: the earlier hop served by now
                r.t[h], r.serial[h] = t, s
            for h, s in list(c.servers.items()):
                if s is not None and not s.proc.alive():
                    db.die(f"signer_chain: {h} exited:\n{c.log(h)[-3000:]}")
        th.join(timeout)
        if th.is_alive():
            db.die(f"signer_chain: {case}: the trigger did not finish")
        if err:
            db.die(f"signer_chain: {c.signer_kind} chain, {case}: trigger failed: {err[0]}")
    finally:
        for p in pollers.values():
            p.close()
    r.signer_cpu = db.group_cpu_seconds(spg) - cpu0
    time.sleep(0.1)  # the last log lines (transfer_out, notify) follow the answer
    r.signer_log = c.log("signer")[spos:]
    r.events = log_events(r.signer_log)
    r.down_got = ch.down_transfer(c.log("downstream")[dpos:])
    return r


# --------------------------------------------------------------------------- logs

def log_events(text: str) -> list[tuple[float, str]]:
    """(time, line after the time stamp) of every time-stamped log line."""
    out = []
    for ln in text.splitlines():
        m = ch.LOG_TS.match(ln)
        if m:
            out.append((ch.parse_ts(m.group(1), m.group(2)), m.group(3)))
    return out


def hsync_signed(r: Run) -> list[dict]:
    """The fields of each event=signed line of a run."""
    out = []
    for _t, text in r.events:
        if re.search(r"\bevent=signed\b", text):
            out.append({k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', text)})
    return out


def event_offsets(r: Run) -> dict[str, float]:
    """hsyncd: seconds after the combiner served the new serial at which the signer logged
    each event (first occurrence in the run)."""
    t0 = r.t["combiner"]
    out: dict[str, float] = {}
    for t, text in r.events:
        m = re.search(r"\bevent=(\w+)", text)
        if m and m.group(1) not in out:
            out[m.group(1)] = t - t0
    return out


def signer_got(r: Run) -> str:
    """How the signer received the version: hsyncd's transfer_in type and record count,
    knotd's transfer kind."""
    full = any(re.search(r"event=signing_started .*changed_names=0\b", x) for _t, x in r.events)
    for _t, text in r.events:
        m = re.search(r"event=transfer_in .*type=(\w+).*records=(\d+)", text)
        if m:
            kind = m.group(1)
            if kind == "IXFR" and full:  # the whole zone in one IXFR: no difference sequences
                kind = "AXFR-style IXFR"
            return f"{kind} ({int(m.group(2)):,} records)"
    kinds = set()
    for _t, text in r.events:
        if "receiving AXFR-style IXFR" in text:
            return "AXFR-style IXFR"
        m = re.search(r"(AXFR|IXFR), incoming, .*finished", text)
        if m:
            kinds.add(m.group(1))
    return "+".join(sorted(kinds)) or "?"


def knot_seconds(r: Run) -> dict[str, float]:
    """knotd's own durations: the transfer ("finished, N seconds") and the refresh
    ("zone updated, N seconds": transfer, signing and storing)."""
    out: dict[str, float] = {}
    for _t, s in r.events:
        m = re.search(r"(AXFR|IXFR), incoming, .*finished, ([\d.]+) seconds", s)
        if m:  # the last one (an AXFR-style IXFR logs the IXFR start, then the AXFR)
            out["transfer"] = float(m.group(2))
        m = re.search(r"zone updated, ([\d.]+) seconds", s)
        if m and "updated" not in out:
            out["updated"] = float(m.group(1))
    return out


# --------------------------------------------------------------------------- the chain


def rename_all(text: str) -> str:
    """Every numbered name of a gen-zone zone renamed (host-17 <-> host-n17), in owners and
    in the RDATA that refers to them alike: almost every owner name is new."""
    return RENAME.sub(lambda m: "-" + ("" if m.group(1) else "n") + m.group(2), text)


def with_serial(text: str, serial: int) -> str:
    return text.replace(f"{BASE_SERIAL} ; serial", f"{serial} ; serial", 1)


def nowait_downstream(c):
    """The chain's downstream knotd started without waiting for the zone (the chain's
    starter waits until it serves; here it starts before the zone exists upstream)."""
    orig = chainlib._start_knotd
    chainlib._start_knotd = (lambda d, body, port, zones, timeout, workers=1:
                             orig(d, body, port, [], timeout, workers))
    try:
        return c._start_downstream()
    finally:
        chainlib._start_knotd = orig


def nowait_signer(c):
    if c.signer_kind == "hsync":
        return hsynctest.start_hsyncd(c.hsync_signer_config(), c.dir / "signer",
                                      port=c.port["signer"], mgmt_port=c.mgmt_port["signer"],
                                      wait_zones=[], timeout=c.timeout)
    s = chainlib._start_knotd(c.dir / "signer", c.knot_signer_config(), c.port["signer"], [],
                              c.timeout, workers=max(1, c.signer_threads))
    hsynctest.wait_until(lambda: ch.port_open(c.port["signer"]), 60, "knotd signer listening",
                         process=s.proc)
    return s


def empty_hops(c) -> None:
    """Combiner, signer and downstream stopped and their state deleted; signer and
    downstream started again with nothing, until their first refresh has failed (so the
    combiner's NOTIFY finds them idle)."""
    for h in ("downstream", "signer", "combiner"):
        s = c.servers.pop(h, None)
        if s is not None:
            s.stop()
        shutil.rmtree(c.dir / h, ignore_errors=True)
        (c.dir / h).mkdir(parents=True)
    c.servers["signer"] = nowait_signer(c)
    c.servers["downstream"] = nowait_downstream(c)
    failed = re.compile(r"event=refresh_failed|refresh, .*failed")
    for h in ("signer", "downstream"):
        hsynctest.wait_until(lambda h=h: failed.search(c.log(h)) is not None, 60,
                             f"{h}: first refresh failed", interval=0.05,
                             process=c.servers[h].proc)


def restart_owner(c, text: str) -> None:
    """The owner's named stopped, its zone file replaced by `text` (journal deleted: the
    new file is the zone), named started again; it NOTIFYs the combiner on load."""
    s = c.servers.pop("owner", None)
    if s is not None:
        s.stop()
    for j in c.owner_file.parent.glob(c.owner_file.name + ".jnl"):
        j.unlink()
    tmp = c.owner_file.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.rename(c.owner_file)
    c.servers["owner"] = c._start_owner()


def spread_names(origin: str, tag: str, n: int) -> list[str]:
    """n new names spread over the NSEC chain (hash-like labels, each between two other
    names of the zone)."""
    return [f"{hashlib.sha1(f'{tag}-{k}'.encode()).hexdigest()[:10]}.{origin}" for k in range(n)]


def peak_kib(pid: int) -> tuple[int, int]:
    return ch.peak_kib(pid)


class SignerResult:
    def __init__(self, kind: str):
        self.kind = kind
        self.runs: dict[str, list[Run]] = {}
        self.mem_first: list[tuple[int, int]] = []   # (VmHWM, VmRSS) KiB after each first load
        self.mem_ixfr: tuple[int, int] | None = None
        self.mem_end: tuple[int, int] | None = None
        self.down_records = 0
        self.version = ""
        self.load = ("", "")
        self.verify = ""


def run_signer(kind: str, a, zone: Path, texts: list[str], work: Path) -> SignerResult:
    res = SignerResult(kind)
    cases = a.cases.split(",")
    changes = [int(x) for x in a.changes.split(",") if x]
    poll = a.poll_ms / 1000
    res.load = (db.loadavg(), "")
    db.log(f"=== {LABEL[kind]}: chain named -> hsyncd combiner -> {kind} -> knotd "
           f"(load average {res.load[0]})")
    c = chainlib.Chain(work / kind, signer=kind, zone=a.origin, zone_file=zone,
                       signer_threads=a.knot_threads if kind == "knot" else 1,
                       timeout=a.timeout)
    serial = [BASE_SERIAL]

    def show(r: Run) -> None:
        extra = ""
        if kind == "hsync":
            extra = "; " + ", ".join(f"signed mode={x.get('mode')} ms={x.get('ms')}"
                                     for x in hsync_signed(r))
        else:
            k = knot_seconds(r)
            extra = (f"; knotd: transfer {k.get('transfer', '-')} s, zone updated "
                     f"{k.get('updated', '-')} s")
        try:
            hwm, rss = peak_kib(c.servers["signer"].proc.pid)
            extra += f"; signer RSS {rss / 1024:,.0f} MiB, VmHWM {hwm / 1024:,.0f} MiB"
        except (OSError, KeyError):
            pass
        db.log(f"  {r.case:>8} {kind:>5}: combiner -> signer {r.to_signer:8.3f} s, -> "
               f"downstream {r.to_down:8.3f} s (serials {r.serial['combiner']} -> "
               f"{r.serial['signer']} -> {r.serial['downstream']}, downstream "
               f"{r.down_got}; signer CPU {r.signer_cpu:.2f} s){extra}")

    try:
        with c:
            c._fresh_dirs()
            c.servers = {}
            c.servers["owner"] = c._start_owner()
            for i in range(a.runs):
                empty_hops(c)
                wait_idle(c)
                r = measure(c, "full", lambda: c.servers.__setitem__("combiner",
                                                                      c._start_combiner()),
                            poll, a.timeout, fresh=True)
                show(r)
                res.runs.setdefault("full", []).append(r)
                wait_idle(c)
                res.mem_first.append(peak_kib(c.servers["signer"].proc.pid))
                if "full" not in cases:
                    break  # the first load only sets the chain up
            if "ixfr" in cases:
                for n in changes:
                    for i in range(a.ixfr_runs):
                        names = spread_names(a.origin, f"{kind}-{n}-{i}", n)
                        add = [f"{x} 3600 A 198.51.100.{k % 250 + 1}"
                               for k, x in enumerate(names)]
                        wait_idle(c)
                        r = measure(c, f"ixfr{n}", lambda add=add: c.owner_change(add=add),
                                    poll, a.timeout)
                        show(r)
                        res.runs.setdefault(f"ixfr{n}", []).append(r)
                wait_idle(c)
                res.mem_ixfr = peak_kib(c.servers["signer"].proc.pid)
            if "new" in cases:
                for i in range(a.runs):
                    cur = ch.serial_now(c.port["owner"], c.zone) or BASE_SERIAL
                    serial[0] = max(serial[0], cur) + 1
                    text = with_serial(texts[(i + 1) % 2], serial[0])
                    wait_idle(c)
                    r = measure(c, "new", lambda text=text: restart_owner(c, text), poll,
                                a.timeout)
                    show(r)
                    res.runs.setdefault("new", []).append(r)
            wait_idle(c)
            res.mem_end = peak_kib(c.servers["signer"].proc.pid)
            res.down_records = db.xfr(c.port["downstream"], c.zone, db.AXFR).records
            if a.verify:
                db.log(f"  verifying the downstream's zone ({kind})")
                out = c.verify_zone(tools=("dnssec-verify",))
                res.verify = out["dnssec-verify"]
            res.version = (db.version([hsynctest.hsyncd_path(), "--version"]) if kind == "hsync"
                           else db.version([db.which("knotd"), "-V"]))
            res.load = (res.load[0], db.loadavg())
    except hsynctest.TestFailure as e:
        db.die(f"signer_chain: {kind} chain: {e}")
    return res


# --------------------------------------------------------------------------- report


def med(rs: list[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in rs)


def cell(rs: list[Run], attr: str) -> str:
    xs = [getattr(r, attr) for r in rs]
    s = ch.fmt_s(xs)
    sp = ch.spread(xs)
    return f"{s} ({sp})" if sp else s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each case per signer")
    ap.add_argument("--ixfr-runs", type=int, default=0,
                    help="repetitions of each incremental case (default: --runs, at least 5)")
    ap.add_argument("--changes", default="10,100,1000",
                    help="records added per incremental case (comma-separated)")
    ap.add_argument("--cases", default="full,ixfr,new", help="any of full, ixfr, new")
    ap.add_argument("--order", default="hsync,knot", help="signers, in the order run")
    ap.add_argument("--knot-threads", type=int, default=os.cpu_count() or 1,
                    help="knotd signing-threads and background-workers (default: CPUs)")
    ap.add_argument("--poll-ms", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--origin", default=ORIGIN_DEFAULT)
    ap.add_argument("--cache", default=str(db.ROOT / "build" / "bench"))
    ap.add_argument("--timeout", type=float, default=0,
                    help="seconds per wait (default 60 + 1 s per 2,000 records)")
    ap.add_argument("--verify", action="store_true",
                    help="dnssec-verify each signer's final zone at the downstream")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    a = ap.parse_args()
    a.origin = a.origin if a.origin.endswith(".") else a.origin + "."
    a.timeout = a.timeout or 60 + a.records / 2000
    a.ixfr_runs = a.ixfr_runs or max(5, a.runs)
    order = [x for x in a.order.split(",") if x]
    if any(x not in LABEL for x in order) or not order:
        db.die("signer_chain: --order takes hsync and/or knot")
    cases = a.cases.split(",")
    changes = [int(x) for x in a.changes.split(",") if x]

    head = db.host_line()
    zone = db.plain_zone(a.records, a.seed, a.origin, Path(a.cache))
    text = zone.read_text()
    if f"{BASE_SERIAL} ; serial" not in text[:2000]:
        db.die(f"signer_chain: {zone} has no '{BASE_SERIAL} ; serial' line")
    texts = [text, rename_all(text)] if "new" in cases else [text]
    work = Path(tempfile.mkdtemp(prefix="bench-signer-"))
    results: dict[str, SignerResult] = {}
    try:
        for kind in order:
            results[kind] = run_signer(kind, a, zone, texts, work)
    finally:
        hsynctest.stop_all()
        if a.keep:
            db.log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------------------------ report
    case_names = []
    if "full" in cases:
        case_names.append(("full", f"full: first load, {a.records:,} records"))
    if "ixfr" in cases:
        for n in changes:
            case_names.append((f"ixfr{n}", f"incremental: {n:,} records added"))
    if "new" in cases:
        case_names.append(("new", "full: most content new"))
    kinds = [k for k in ("hsync", "knot") if k in results]
    o = [f"### Signer (issue 6): combiner's new unsigned serial to the signed serial "
         f"downstream, {a.records:,} records\n", head,
         f"- command: `python3 bench/signer_chain.py --records {a.records} --runs {a.runs} "
         f"--ixfr-runs {a.ixfr_runs} --cases {a.cases} --changes {a.changes} --knot-threads "
         f"{a.knot_threads}` (what `scripts/bench signer` runs with its defaults)",
         f"- zone: `scripts/gen-zone --records {a.records} --seed {a.seed} --origin "
         f"{a.origin} --rfc3597` without the apex DNSKEY/CDS/CDNSKEY/ZONEMD placeholders",
         "- chain (tests/lib/signer_chain.py), TSIG on every hop, loopback: named owner -> "
         "hsyncd combiner -> SIGNER -> knotd downstream. SIGNER: hsyncd `role: signer` "
         "(signs a whole zone on every core) or knotd with docs/knot-signer.md's policy "
         f"(`dnskey-management: incremental`, `signing-threads: {a.knot_threads}`, "
         f"`background-workers: {a.knot_threads}`, journal-content all); both ECDSA P-256 "
         "KSK + ZSK, NSEC, 14-day signatures, keys made on first sight",
         f"- the two chains ran one after the other (order: {', '.join(order)}), never at "
         "the same time: the signer measured had the CPUs to itself (other processes of "
         "the chain aside)",
         f"- clock: from the combiner answering SOA with its new unsigned serial to the "
         f"signer / the downstream answering SOA with the new signed serial, each polled "
         f"every {a.poll_ms:g} ms over UDP. knotd NOTIFYs its downstream on a whole-second "
         "timer after it serves (docs/knot-signer.md), hsyncd at once: *combiner -> signer "
         "serving* is the signing work alone, *combiner -> downstream* the whole hop",
         "- cases: *first load*: combiner, signer and downstream started empty (state "
         "deleted), the combiner then loads the zone from the owner and NOTIFYs; "
         "*incremental*: one UPDATE at the owner adds N A records at N new names spread "
         "over the zone, which reaches the signer by IXFR; *most content new*: the owner "
         "restarts with every numbered name renamed (host-17 <-> host-n17); the combiner "
         "sends a zone-sized change as an AXFR-style IXFR, so both signers sign it in full",
         "- signer CPU time: user + system seconds of the signer process from the trigger "
         "to the downstream serving (its answers to the polls included); above the elapsed "
         "time when it signs on both cores",
         f"- {a.runs} runs of the full cases and {a.ixfr_runs} of each incremental case per "
         "signer, every process idle before each run; medians (min-max)",
         "- versions: " + "; ".join(f"{results[k].version}" for k in kinds)
         + "; load average " + "; ".join(f"{k} chain {results[k].load[0]} at start, "
                                         f"{results[k].load[1]} at the end" for k in kinds),
         "",
         "| case | signer | combiner -> signer serving | signer serving -> downstream "
         "serving | combiner -> downstream | signer CPU time | downstream got |",
         "|---|---|---:|---:|---:|---:|---|"]
    for case, title in case_names:
        for k in kinds:
            rs = results[k].runs.get(case)
            if not rs:
                continue
            o.append(f"| {title} | {LABEL[k]} | {cell(rs, 'to_signer')} | "
                     f"{cell(rs, 'signer_to_down')} | {cell(rs, 'to_down')} | "
                     f"{ch.fmt_s([r.signer_cpu for r in rs])} | "
                     f"{', '.join(sorted(set(r.down_got for r in rs)))} |")
    ratios: dict[str, tuple[float, float]] = {}
    if len(kinds) == 2:
        o += ["", "| case | hsync / Knot: combiner -> signer serving | combiner -> "
              "downstream |", "|---|---:|---:|"]
        for case, title in case_names:
            h, k = results["hsync"].runs.get(case), results["knot"].runs.get(case)
            if not h or not k:
                continue
            ratios[case] = (med(h, "to_signer") / med(k, "to_signer"),
                            med(h, "to_down") / med(k, "to_down"))
            o.append(f"| {title} | {ratios[case][0]:.2f} | {ratios[case][1]:.2f} |")
        o.append("\n(ratio < 1: hsync is faster.)")

    # Where the time goes: the signers' own log lines.
    if "hsync" in results:
        cols = [("notify_received", "NOTIFY in"), ("signing_started", "transfer in done, "
                 "signing started"), ("signed", "signed, stored, served"),
                ("notify_sent", "NOTIFY out"), ("transfer_out", "downstream's transfer done")]
        o += ["", "Where the time goes, hsyncd signer: its log lines (millisecond time "
              "stamps), seconds after the combiner served the new serial, median over the runs; "
              "`event=signed` reports the mode and the milliseconds from the unsigned version "
              "in memory to the signed one (before it is stored and served):", "",
              "| case | signer got | " + " | ".join(x[1] for x in cols)
              + " | signer serving (poll) | event=signed |",
              "|---|---|" + "---:|" * (len(cols) + 1) + "---|"]
        for case, title in case_names:
            rs = results["hsync"].runs.get(case)
            if not rs:
                continue
            offs = [event_offsets(r) for r in rs]
            row = []
            for key, _ in cols:
                xs = [x[key] for x in offs if key in x]
                row.append(f"{statistics.median(xs):.3f}" if xs else "-")
            sig = [x for r in rs for x in hsync_signed(r)]
            modes = sorted(set(x.get("mode", "?") for x in sig))
            ms = [float(x["ms"]) for x in sig if "ms" in x]
            work = [f"{int(x['names']):,} names re-signed" if "names" in x
                    else f"{int(x.get('records', 0)):,} records out" for x in sig[:1]]
            self_rep = (f"{'+'.join(modes)}, {statistics.median(ms):,.1f} ms, "
                        f"{len(sig)} signings in {len(rs)} runs"
                        + (f" ({work[0]})" if work else "")) if sig else "no event=signed"
            got = ", ".join(sorted(set(signer_got(r) for r in rs)))
            o.append(f"| {title} | {got} | " + " | ".join(row)
                     + f" | {med(rs, 'to_signer'):.3f} | {self_rep} |")
    if "knot" in results:
        o += ["", "Where the time goes, knotd signer: knotd logs whole seconds only, so its own "
              "durations are given: `zone updated, N seconds` (transfer in, signing, journal "
              "write) and the transfer's `finished, N seconds`; the rest of *combiner -> signer "
              "serving* is NOTIFY and SOA query before the transfer, and making the new version "
              "live:", "",
              "| case | signer got | transfer in | zone updated | combiner -> signer serving "
              "(poll) | log lines |", "|---|---|---:|---:|---:|---|"]
        for case, title in case_names:
            rs = results["knot"].runs.get(case)
            if not rs:
                continue
            ks = [knot_seconds(r) for r in rs]
            up = [x["updated"] for x in ks if "updated" in x]
            tr = [x["transfer"] for x in ks if "transfer" in x]
            lines = sorted(set(m.group(0) for r in rs for _t, x in r.events
                               for m in [re.search(r"DNSSEC, (successfully|incrementally) signed",
                                                   x)] if m))
            got = ", ".join(sorted(set(signer_got(r) for r in rs)))
            o.append(f"| {title} | {got} | {statistics.median(tr) if tr else float('nan'):.2f} s | "
                     f"{statistics.median(up) if up else float('nan'):.2f} s | "
                     f"{med(rs, 'to_signer'):.3f} s | {'; '.join(lines) or '-'} |")

    o += ["", "Peak memory of the signer process (VmHWM in /proc/PID/status: the largest "
          "resident set since it started; each first load starts a new process):", "",
          "| signer | when | RSS MiB | peak RSS (VmHWM) MiB | peak bytes per record |",
          "|---|---|---:|---:|---:|"]
    peaks: dict[str, int] = {}
    for k in kinds:
        r = results[k]
        stages = []
        if r.mem_first:
            hw = max(r.mem_first)
            stages.append((f"after the first load (largest of {len(r.mem_first)})", hw))
        if r.mem_ixfr:
            stages.append(("after the incremental cases", r.mem_ixfr))
        if r.mem_end:
            stages.append(("at the end", r.mem_end))
        for label, (hwm, rss) in stages:
            o.append(f"| {LABEL[k]} | {label} | {rss / 1024:,.0f} | {hwm / 1024:,.0f} | "
                     f"{hwm * 1024 / a.records:,.0f} |")
        peaks[k] = max(x[1][0] for x in stages)
    o.append("\nRecords by AXFR from the downstream at the end: " + "; ".join(
        f"{LABEL[k]} chain {results[k].down_records:,}" for k in kinds) + ".")
    for k in kinds:
        if results[k].verify:
            o.append(f"dnssec-verify of the {LABEL[k]} chain's final zone: "
                     f"{results[k].verify[:200]}")

    if len(kinds) == 2:
        goals = []
        for case, what in (("full", "full sign (first load)"), ("ixfr10", "10-record change")):
            if case in ratios:
                rs, rd = ratios[case]
                goals.append(f"faster than Knot, {what}: combiner -> downstream {rd:.2f}x "
                             f"({'met' if rd < 1 else 'NOT MET'}), combiner -> signer "
                             f"serving {rs:.2f}x ({'met' if rs < 1 else 'NOT MET'})")
        if "new" in ratios:
            rs, rd = ratios["new"]
            goals.append(f"(most content new: {rd:.2f}x / {rs:.2f}x, "
                         f"{'faster' if rd < 1 and rs < 1 else 'not faster on both spans'})")
        mr = peaks["hsync"] / peaks["knot"]
        goals.append(f"peak memory at most Knot's: hsync {peaks['hsync'] / 1024:,.0f} MiB, "
                     f"Knot {peaks['knot'] / 1024:,.0f} MiB, {mr:.2f}x "
                     f"({'met' if mr <= 1 else 'NOT MET'})")
        o.append("\nGoals (issue 6): " + "; ".join(goals) + ".")
    print("\n".join(o))
    return 0


if __name__ == "__main__":
    sys.exit(main())
