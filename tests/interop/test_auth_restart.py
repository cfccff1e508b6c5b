"""kill -9 of a secondary hsyncd (role auth) during a large IXFR in, then a restart.

named is the primary (ixfr-from-differences, NOTIFY to hsyncd). Each generation of the
zone replaces 50,000 records (r<gen>x<n>), so an IXFR carries up to 100,000 changes and
takes a moment. A warm-up change measures how long one takes without a kill; then, in
five attempts, hsyncd is killed with SIGKILL at a random moment in the k-th fifth of
that duration after named's "IXFR started". After the restart the zone must be exactly one
complete version (the AXFR out of hsyncd: the SOA serial and the set of records of that
serial, never a mix), and hsyncd must finish the transfer by itself (serve the new
serial with exactly the primary's content)."""

from __future__ import annotations

import os
import random
import re
import signal
import sys
import time
from collections import Counter

import hsynctest
from hsynctest import check, fail

ZONE = "rst.test."
PER_GEN = 50_000
BASE = 20
ATTEMPTS = 5


def zone_text(serial: int) -> str:
    gen = serial - 1  # serial 1: base only; serial s >= 2: base + generation s-1
    lines = [f"$TTL 300\n@ IN SOA ns1 hostmaster {serial} 3600 900 604800 120\n@ NS ns1\nns1 A 127.0.0.1\n"]
    lines += [f"base{i} A 192.0.2.{i + 1}\n" for i in range(BASE)]
    if gen >= 1:
        lines += [f"r{gen}x{n} A 10.{n // 65536}.{(n // 256) % 256}.{n % 256}\n" for n in range(PER_GEN)]
    return "".join(lines)


def classify(rrs: list[str]) -> tuple[int, Counter]:
    """(serial, Counter of record 'kinds': 'base', 'gen<k>', 'apex')."""
    serial = int(rrs[0].split()[6])
    kinds = Counter()
    for r in rrs:
        owner = r.split()[0]
        m = re.match(r"r(\d+)x\d+\." + re.escape(ZONE) + "$", owner)
        kinds["gen%s" % m.group(1) if m else ("base" if owner.startswith("base") else "apex")] += 1
    return serial, kinds


def expected_kinds(serial: int) -> Counter:
    c = Counter({"apex": 3, "base": BASE})  # SOA, NS, ns1 A
    if serial >= 2:
        c[f"gen{serial - 1}"] = PER_GEN
    return c


def check_version(h, what: str, errs: list, allowed: tuple[int, ...]) -> int | None:
    try:
        rrs = hsynctest.axfr("127.0.0.1", h.port, ZONE, timeout=60)
    except hsynctest.TestFailure as e:
        errs.append(f"{what}: AXFR from hsyncd failed: {str(e)[:500]}")
        return None
    serial, kinds = classify(rrs)
    if serial not in allowed:
        errs.append(f"{what}: serial {serial}, expected one of {allowed}")
    elif kinds != expected_kinds(serial):
        errs.append(f"{what}: serial {serial} but the records are a MIX: {dict(kinds)} "
                    f"(serial {serial} has {dict(expected_kinds(serial))})")
    return serial


def test_kill9_during_ixfr_in():
    rng = random.Random(int(os.environ.get("HSYNC_TEST_SEED", "0")) or None)
    with hsynctest.TempDir("auth-restart") as d:
        hport = hsynctest.free_port()
        (d / "named").mkdir()
        zf = d / "named" / "rst.test.zone"
        zf.write_text(zone_text(1))
        named = hsynctest.start_named_config(d / "named", f"""
zone "rst.test" {{ type primary; file "{zf}"; ixfr-from-differences yes; max-ixfr-ratio unlimited; max-journal-size unlimited;
    notify explicit; also-notify {{ 127.0.0.1 port {hport}; }}; allow-transfer {{ 127.0.0.1; }};
    check-names ignore; }};
""", options="notify-delay 0;", wait_zones=[ZONE])
        h = hsynctest.start_hsyncd({"zones": [{"name": ZONE, "type": "secondary",
                                               "primaries": [f"127.0.0.1:{named.port}"],
                                               "allow-notify": ["127.0.0.1"],
                                               "allow-transfer": ["127.0.0.1"]}]},
                                   d / "hsyncd", port=hport)
        hsynctest.wait_serial("127.0.0.1", h.port, ZONE, 1, 30, process=h.proc)
        errs: list[str] = []

        def change_primary(serial: int) -> int:
            """Writes version `serial`, reloads named, returns the log position before."""
            pos = len(named.log())
            zf.write_text(zone_text(serial))
            os.kill(named.proc.pid, signal.SIGHUP)
            return pos

        def wait_ixfr_started(pos: int, serial: int) -> float:
            pat = re.compile(r"rst\.test/IN': (AXFR-style IXFR|IXFR|AXFR) started")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                m = pat.search(named.log()[pos:])
                if m:
                    if m.group(1) != "IXFR":
                        errs.append(f"serial {serial}: named served an {m.group(1)}, not an IXFR "
                                    f"(hsyncd asked for AXFR?)")
                    return time.monotonic()
                time.sleep(0.003)
            fail(f"serial {serial}: no transfer to hsyncd started within 30 s after the change; "
                 f"named log:\n{named.log()[pos:][-2000:]}\nhsyncd log:\n{h.log()[-2000:]}")

        # Warm-up: 1 -> 2 without a kill, to measure one transfer.
        pos = change_primary(2)
        t_start = wait_ixfr_started(pos, 2)
        hsynctest.wait_serial("127.0.0.1", h.port, ZONE, 2, 90, process=h.proc)
        duration = time.monotonic() - t_start
        check_version(h, "after the warm-up IXFR (no kill)", errs, (2,))
        print(f"  warm-up IXFR 1 -> 2 ({PER_GEN} adds): {duration:.2f} s until served")

        serial = 2
        during = 0
        for attempt in range(1, ATTEMPTS + 1):
            new = serial + 1
            pos = change_primary(new)
            t_start = wait_ixfr_started(pos, new)
            # Stratified: attempt k kills in the k-th slice of the measured duration.
            delay = duration * (attempt - 1 + rng.random()) / ATTEMPTS
            time.sleep(max(0.0, t_start + delay - time.monotonic()))
            ended = "IXFR ended" in named.log()[pos:]
            before_kill = hsynctest.soa_serial("127.0.0.1", h.port, ZONE)
            h.kill9()
            during += before_kill != new
            print(f"  attempt {attempt}: {serial} -> {new}, killed {delay:.2f} s after IXFR started "
                  f"(named {'had' if ended else 'had not'} finished sending; hsyncd served {before_kill})")
            h.start([ZONE])
            got = check_version(h, f"attempt {attempt} right after the restart", errs, (serial, new))
            try:
                hsynctest.wait_serial("127.0.0.1", h.port, ZONE, new, 60, process=h.proc)
            except hsynctest.TestFailure as e:
                errs.append(f"attempt {attempt}: the transfer was not finished after the restart "
                            f"(right after restart: serial {got}): {e}")
                break
            check_version(h, f"attempt {attempt} after the transfer finished", errs, (new,))
            serial = new
        print(f"  {during} of {ATTEMPTS} kills came before hsyncd served the new serial")
        want = sorted(hsynctest.axfr("127.0.0.1", named.port, ZONE, timeout=60))
        got = sorted(hsynctest.axfr("127.0.0.1", h.port, ZONE, timeout=60))
        if want != got:
            errs.append(f"final content differs from named's: {len(got)} vs {len(want)} records")
        check(h.alive(), "hsyncd died")
        if errs:
            fail(f"{len(errs)} problems:\n" + "\n".join("  " + e for e in errs)
                 + "\n  hsyncd log tail:\n" + h.log()[-1500:])


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
