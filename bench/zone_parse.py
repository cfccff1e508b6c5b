#!/usr/bin/env python3
"""Zone-file parse benchmark: hsync vs BIND vs Knot on the same generated zone.

Generates (once, cached under build/bench/) a real-world-shaped zone with
scripts/gen-zone (HSYNC in RFC 3597 form so every tool can load it), then runs, each
--runs times, under /usr/bin/time -v:
  hsyncctl zone check FILE --origin ORIGIN                      (Release build)
  named-checkzone -i none -k ignore ... ORIGIN FILE             (BIND: load, minimal checks)
  kzonecheck -d off -o ORIGIN FILE                              (Knot: load + semantic checks
                                                                 without DNSSEC)
and prints a markdown report (best wall time, records/s, peak RSS, ratios) on stdout,
ready to paste into docs/PERFORMANCE.md. Progress goes to stderr.
Every tool must exit 0 (the zone is valid); otherwise the benchmark fails.
"""

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def which(name: str) -> str:
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    sys.exit(f"zone_parse: required program {name!r} not found (run scripts/setup)")


def zone_file(records: int, seed: int, origin: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"zone-{records}-seed{seed}-{origin.rstrip('.')}.zone"
    gen = ROOT / "scripts" / "gen-zone"
    if path.exists() and path.stat().st_mtime >= gen.stat().st_mtime:
        log(f"using cached {path}")
        return path
    log(f"generating {records} records into {path}")
    tmp = path.with_suffix(".tmp")
    t0 = time.monotonic()
    subprocess.run([sys.executable, str(gen), "--records", str(records), "--seed", str(seed),
                    "--origin", origin, "--rfc3597", "-o", str(tmp)], check=True)
    tmp.rename(path)
    log(f"  generated in {time.monotonic() - t0:.1f}s")
    return path


def measure(argv: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one run; exits on a non-zero exit code."""
    with tempfile.NamedTemporaryFile("r", prefix="bench-time-") as tf:
        cmd = ["/usr/bin/time", "-v", "-o", tf.name] + argv
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace")
        wall = time.monotonic() - t0
        report = Path(tf.name).read_text()
    if p.returncode != 0:
        sys.exit(f"zone_parse: {' '.join(argv)} exited {p.returncode}\n"
                 f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    if not m:
        sys.exit(f"zone_parse: no peak RSS in /usr/bin/time output:\n{report}")
    return wall, int(m.group(1))


def version(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            return "version not reported"
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def cpu_model() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--origin", default="example.com.")
    ap.add_argument("--hsyncctl", default=str(ROOT / "build" / "bin" / "hsyncctl"))
    ap.add_argument("--cache", default=str(ROOT / "build" / "bench"))
    a = ap.parse_args()

    if not os.access(a.hsyncctl, os.X_OK):
        sys.exit(f"zone_parse: {a.hsyncctl} missing: build it with scripts/build (Release)")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("zone_parse: /usr/bin/time missing (Debian package 'time')")
    zf = zone_file(a.records, a.seed, a.origin, Path(a.cache))
    size = zf.stat().st_size

    bind_flags = ["-i", "none", "-k", "ignore", "-m", "ignore", "-M", "ignore", "-n", "ignore",
                  "-r", "ignore", "-S", "ignore", "-W", "ignore", "-q"]
    tools = [
        ("hsync", "hsyncctl zone check", [a.hsyncctl, "zone", "check", str(zf), "--origin", a.origin],
         version([a.hsyncctl, "--version"])),
        ("BIND", "named-checkzone " + " ".join(bind_flags),
         [which("named-checkzone"), *bind_flags, a.origin, str(zf)],
         version([which("named-checkzone"), "-v"])),
        ("Knot", "kzonecheck -d off", [which("kzonecheck"), "-d", "off", "-o", a.origin, str(zf)],
         version([which("kzonecheck"), "-V"])),
    ]
    # hsync must have read the whole zone: its summary names the record count
    p = subprocess.run(tools[0][2], capture_output=True, text=True)
    counts = {int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", p.stdout)}
    if p.returncode != 0 or a.records not in counts:
        sys.exit(f"zone_parse: hsyncctl zone check did not report {a.records} records "
                 f"(exit {p.returncode}): {p.stdout.strip()} {p.stderr.strip()[-2000:]}")
    results = {}
    for name, _, argv, _ in tools:
        walls, rss = [], 0
        for i in range(a.runs):
            w, r = measure(argv)
            walls.append(w)
            rss = max(rss, r)
            log(f"{name} run {i + 1}/{a.runs}: {w:.2f}s, peak RSS {r / 1024:.1f} MiB")
        results[name] = (min(walls), sorted(walls)[len(walls) // 2], rss)

    mib = 1024 * 1024
    out = []
    out.append(f"### Zone file parse: {a.records:,} records\n")
    out.append(f"- date: {datetime.date.today().isoformat()}; host: {cpu_model()}, "
               f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    out.append(f"- zone: `scripts/gen-zone --records {a.records} --seed {a.seed} --origin "
               f"{a.origin} --rfc3597`, {size / mib:.1f} MiB ({size:,} bytes)")
    out.append(f"- wall time: best of {a.runs} runs (median in brackets); peak RSS: "
               f"`/usr/bin/time -v` maximum resident set size")
    for name, cmd, _, ver in tools:
        out.append(f"- {name}: `{cmd}` ({ver})")
    out.append("")
    out.append("| tool | wall s | records/s | peak RSS MiB | RSS / file size |")
    out.append("|---|---:|---:|---:|---:|")
    for name, *_ in tools:
        best, med, rss = results[name]
        out.append(f"| {name} | {best:.2f} ({med:.2f}) | {a.records / best:,.0f} | "
                   f"{rss / 1024:.1f} | {rss * 1024 / size:.2f} |")
    out.append("")
    hb, _, hr = results["hsync"]
    out.append("| ratio | time | peak RSS |")
    out.append("|---|---:|---:|")
    for other in ("BIND", "Knot"):
        ob, _, orss = results[other]
        out.append(f"| hsync / {other} | {hb / ob:.2f} | {hr / orss:.2f} |")
    out.append("\n(ratio < 1: hsync is faster / smaller)")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
