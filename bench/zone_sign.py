#!/usr/bin/env python3
"""Zone signing benchmark: hsync vs BIND (dnssec-signzone) vs Knot (kzonesign).

Generates (once, cached under build/bench/) a real-world-shaped zone with scripts/gen-zone
(HSYNC in RFC 3597 form; the apex DNSKEY/CDS/CDNSKEY/ZONEMD placeholders removed), makes
one ECDSA P-256 (algorithm 13) KSK and ZSK with dnssec-keygen, and signs the zone with
the same keys, with NSEC and with NSEC3 (0 iterations, no salt), each --runs times under
/usr/bin/time -v:
  hsyncctl zone sign FILE --origin O --key KSK --key ZSK [--nsec3] -o OUT   (Release build)
  dnssec-signzone -S -K KEYDIR -n CORES -o O -f OUT [-3 -] FILE
  kzonesign -c knot.conf -o OUTDIR O     (keys imported with keymgr import-bind; policy
                                          manual, nsec3 off/on, 0 iterations, no salt)
Every signed zone is then checked once with `dnssec-verify` (the benchmark fails if one
does not verify). Prints a markdown report (best wall time, peak RSS, ratios) on stdout;
progress on stderr.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DROP_TYPES = {"DNSKEY", "CDS", "CDNSKEY", "ZONEMD", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def which(name: str) -> str:
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    sys.exit(f"zone_sign: required program {name!r} not found (run scripts/setup)")


def strip_comment(line: str) -> str:
    in_q = esc = False
    for i, ch in enumerate(line):
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == '"':
            in_q = not in_q
        elif ch == ";" and not in_q:
            return line[:i]
    return line


def zone_file(records: int, seed: int, origin: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"sign-zone-{records}-seed{seed}-{origin.rstrip('.')}.zone"
    gen = ROOT / "scripts" / "gen-zone"
    if path.exists() and path.stat().st_mtime >= gen.stat().st_mtime:
        log(f"using cached {path}")
        return path
    log(f"generating {records} records into {path}")
    raw = path.with_suffix(".raw")
    subprocess.run([sys.executable, str(gen), "--records", str(records), "--seed", str(seed),
                    "--origin", origin, "--rfc3597", "-o", str(raw)], check=True)
    # Drop the apex key placeholders (no signer could keep them valid), record by record
    # (records may span lines in parentheses).
    with open(raw) as src, open(path.with_suffix(".tmp"), "w") as dst:
        cur, depth = [], 0
        for line in src:
            body = strip_comment(line)
            cur.append(line)
            depth += body.count("(") - body.count(")")
            if depth > 0:
                continue
            text = " ".join(strip_comment(x) for x in cur).replace("(", " ").replace(")", " ")
            if not any(t.upper() in DROP_TYPES for t in text.split()[:5]):
                dst.writelines(cur)
            cur, depth = [], 0
    raw.unlink()
    path.with_suffix(".tmp").rename(path)
    return path


def measure(argv: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one run; exits on a non-zero exit code."""
    with tempfile.NamedTemporaryFile("r", prefix="bench-time-") as tf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name] + argv,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace")
        wall = time.monotonic() - t0
        report = Path(tf.name).read_text()
    if p.returncode != 0:
        sys.exit(f"zone_sign: {' '.join(argv)} exited {p.returncode}\n"
                 f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    if not m:
        sys.exit(f"zone_sign: no peak RSS in /usr/bin/time output:\n{report}")
    return wall, int(m.group(1))


def version(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
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


def knot_conf(w: Path, origin: str, zone: Path, nsec3: bool) -> Path:
    conf = w / "knot.conf"
    conf.write_text(f"""database:
    storage: "{w}"
    kasp-db: "{w / 'kasp'}"
policy:
  - id: p
    algorithm: ecdsap256sha256
    manual: on
    nsec3: {'on' if nsec3 else 'off'}
    nsec3-iterations: 0
    nsec3-salt-length: 0
zone:
  - domain: {origin}
    file: "{zone}"
    dnssec-signing: on
    dnssec-policy: p
""")
    return conf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--origin", default="example.com.")
    ap.add_argument("--hsyncctl", default=str(ROOT / "build" / "bin" / "hsyncctl"))
    ap.add_argument("--cache", default=str(ROOT / "build" / "bench"))
    ap.add_argument("--no-verify", action="store_true", help="skip dnssec-verify of outputs")
    a = ap.parse_args()

    if not os.access(a.hsyncctl, os.X_OK):
        sys.exit(f"zone_sign: {a.hsyncctl} missing: build it with scripts/build (Release)")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("zone_sign: /usr/bin/time missing (Debian package 'time')")
    cores = os.cpu_count() or 1
    zf = zone_file(a.records, a.seed, a.origin, Path(a.cache))
    size = zf.stat().st_size

    work = Path(tempfile.mkdtemp(prefix="bench-sign-"))
    try:
        keygen = which("dnssec-keygen")
        keys = [subprocess.run([keygen, "-q", "-K", str(work), "-a", "13", *flags, a.origin],
                               check=True, capture_output=True, text=True).stdout.strip()
                for flags in (["-f", "KSK"], [])]
        keypaths = [str(work / k) for k in keys]
        keymgr, kzonesign, signzone = which("keymgr"), which("kzonesign"), which("dnssec-signzone")
        knot = {}
        for nsec3 in (False, True):
            w = work / f"knot-{'nsec3' if nsec3 else 'nsec'}"
            (w / "out").mkdir(parents=True)
            conf = knot_conf(w, a.origin, zf, nsec3)
            for k in keypaths:
                subprocess.run([keymgr, "-c", str(conf), a.origin, "import-bind", k], check=True,
                               capture_output=True)
            knot[nsec3] = (conf, w / "out")

        tools = []  # (tool, denial, argv, output file)
        for nsec3 in (False, True):
            denial = "NSEC3" if nsec3 else "NSEC"
            out = work / f"hsync-{denial}.zone"
            argv = [a.hsyncctl, "zone", "sign", str(zf), "--origin", a.origin, "--rfc3597",
                    "-o", str(out)]
            for k in keypaths:
                argv += ["--key", k]
            tools.append(("hsync", denial, argv + (["--nsec3"] if nsec3 else []), out))
            out = work / f"bind-{denial}.zone"
            tools.append(("BIND", denial,
                          [signzone, "-q", "-S", "-K", str(work), "-n", str(cores), "-o", a.origin,
                           "-f", str(out), *(["-3", "-"] if nsec3 else []), str(zf)], out))
            conf, outdir = knot[nsec3]
            tools.append(("Knot", denial,
                          [kzonesign, "-c", str(conf), "-o", str(outdir), a.origin],
                          outdir / zf.name))

        results = {}
        for name, denial, argv, out in tools:
            walls, rss = [], 0
            for i in range(a.runs):
                w, r = measure(argv)
                walls.append(w)
                rss = max(rss, r)
                log(f"{name} {denial} run {i + 1}/{a.runs}: {w:.2f}s, peak RSS {r / 1024:.1f} MiB")
            results[(name, denial)] = (min(walls), rss)
            if not a.no_verify:
                outs = [out] if out.exists() else list(out.parent.iterdir())
                p = subprocess.run([which("dnssec-verify"), "-q", "-o", a.origin, str(outs[0])],
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"zone_sign: {name} {denial} output does not verify:\n"
                             f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
                log(f"  dnssec-verify: ok")

        mib = 1024 * 1024
        o = [f"### Zone signing: {a.records:,} records, ECDSAP256SHA256 KSK+ZSK\n",
             f"- date: {datetime.date.today().isoformat()}; host: {cpu_model()}, {cores} CPUs, "
             f"{platform.system()} {platform.release()}",
             f"- zone: `scripts/gen-zone --records {a.records} --seed {a.seed} --origin "
             f"{a.origin} --rfc3597` without apex DNSKEY/CDS/CDNSKEY/ZONEMD, "
             f"{size / mib:.1f} MiB",
             f"- NSEC3: 0 iterations, no salt, no opt-out; wall time best of {a.runs}; peak RSS "
             f"from `/usr/bin/time -v`; every output checked with `dnssec-verify`",
             f"- hsync: `hsyncctl zone sign` ({version([a.hsyncctl, '--version'])}); BIND: "
             f"`dnssec-signzone -S -n {cores}` ({version([signzone, '-V'])}); Knot: "
             f"`kzonesign` ({version([kzonesign, '-V'])})", "",
             "| tool | denial | wall s | records/s | peak RSS MiB |", "|---|---|---:|---:|---:|"]
        for (name, denial), (best, rss) in results.items():
            o.append(f"| {name} | {denial} | {best:.2f} | {a.records / best:,.0f} | "
                     f"{rss / 1024:.1f} |")
        o += ["", "| ratio | denial | time | peak RSS |", "|---|---|---:|---:|"]
        for denial in ("NSEC", "NSEC3"):
            hb, hr = results[("hsync", denial)]
            for other in ("BIND", "Knot"):
                ob, orss = results[(other, denial)]
                o.append(f"| hsync / {other} | {denial} | {hb / ob:.2f} | {hr / orss:.2f} |")
        o.append("\n(ratio < 1: hsync is faster / smaller)")
        print("\n".join(o))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
