#!/usr/bin/env python3
"""How long the agents take to add and to remove a signer, against the floor the
processes' mandatory waits set (docs/agent.md "Processes").

A lab (`hsyncctl lab up --providers 1 --spare 1 --ttl T`) in peer and in leader/follower
mode: provider 2 is added (`lab edit --add-provider 2 --nsmgmt agent`), then provider 1 is
offboarded (`--offboard 1`); `lab wait` returns when every agent is done. From the agents'
logs (`agent_process_step`, `agent_process_wait`, `agent_process_completed`), per process:

- total: from the first agent's `agent_process_started` to the last agent's
  `agent_process_completed`;
- TTL waits: the waits the processes must make (add step 8: max(DS TTL, DNSKEY TTL); remove
  step 5: NS-Wait-Time), as the agents logged them: the floor;
- parent: the time spent in the steps that wait for the parent to publish DS or NS (add 6
  and 12, remove 3 and 10): the parent role's scan, its signer and the transfer to its
  secondary, which the agents cannot shorten (they NOTIFY its DSYNC target at once);
- overhead: total - TTL waits - parent, the agents' own part (UPDATEs to the combiner, the
  signer's new version, the transfer back to the agent, the reports between agents).

    python3 bench/agent_process.py [--ttl 2] [--modes peer,leader-follower] [--json]
                                   [--hsyncd PATH] [--hsyncctl PATH]

The goal (issue 17): overhead under 1 s per process.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def binary(name: str, given: str | None) -> str:
    if given:
        return given
    env = os.environ.get(name.upper())
    if env:
        return env
    return str(ROOT / "build" / "bin" / name)


def run(argv, timeout=600, env=None):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                       env=env)
    if r.returncode != 0:
        sys.stderr.write(f"failed: {' '.join(map(str, argv))}\n{r.stdout}\n{r.stderr}\n")
        raise SystemExit(1)
    return r.stdout


LINE = re.compile(r'^(\S+) level=\S+ role=agent event=(\S+) (.*)$')


def when(stamp: str) -> float:
    # 2026-12-06T08:11:40.794Z
    base, frac = stamp.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000.0


def fields(rest: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r'(\w+)=("([^"]*)"|\S+)', rest):
        out[m.group(1)] = m.group(3) if m.group(3) is not None else m.group(2)
    return out


PARENT_STEPS = {"add-signer": {6, 12}, "remove-signer": {3, 10}}


def analyse(lab_dir: Path, kind: str, since: float) -> dict:
    """The process of `kind` that started after `since`, from every agent's log."""
    started, completed, waits = [], [], []
    parent_by_step: dict[int, float] = {}  # the longest any agent spent in each parent wait
    for log in sorted(lab_dir.glob("p*-agent/log")):
        step_at: dict[int, float] = {}
        done_at = None
        for line in log.read_text(errors="replace").splitlines():
            m = LINE.match(line)
            if not m:
                continue
            t = when(m.group(1))
            if t < since:
                continue
            ev, f = m.group(2), fields(m.group(3))
            if f.get("zone") != "example.lab.":
                continue
            if ev == "agent_process_wait" and step_at:
                waits.append(float(f["seconds"]))
            if f.get("process") != kind:
                continue
            if ev == "agent_process_started":
                started.append(t)
            elif ev == "agent_process_step":
                step_at[int(f["step"])] = t
            elif ev == "agent_process_completed":
                completed.append(t)
                done_at = t
                break
        for s in PARENT_STEPS[kind]:
            if s not in step_at:
                continue
            later = [step_at[x] for x in step_at if x > s]
            end = min(later) if later else (done_at or step_at[s])
            parent_by_step[s] = max(parent_by_step.get(s, 0.0), end - step_at[s])
    if not started or not completed:
        raise SystemExit(f"no complete {kind} in {lab_dir}")
    parent = sum(parent_by_step.values())
    total = max(completed) - min(started)
    ttl_wait = max(waits) if waits else 0.0
    return {"process": kind, "total_s": round(total, 2), "ttl_waits_s": ttl_wait,
            "parent_s": round(parent, 2), "overhead_s": round(total - ttl_wait - parent, 2),
            "overhead_over_floor_s": round(total - ttl_wait, 2)}


def one_mode(mode: str, ttl: int, hsyncctl: str, env: dict) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="hsync-bench-proc-") as tmp:
        d = Path(tmp) / "lab"
        try:
            run([hsyncctl, "lab", "up", "--dir", d, "--providers", "1", "--spare", "1", "--ttl",
                 ttl, "--sync", mode], env=env)
            out = []
            t0 = time.time() - 0.5
            run([hsyncctl, "lab", "edit", "--dir", d, "--add-provider", "2", "--nsmgmt",
                 "agent"], env=env)
            run([hsyncctl, "lab", "wait", "--dir", d, "--timeout", "300"], env=env)
            out.append(analyse(d, "add-signer", t0))
            t1 = time.time() - 0.5
            run([hsyncctl, "lab", "edit", "--dir", d, "--offboard", "1"], env=env)
            run([hsyncctl, "lab", "wait", "--dir", d, "--timeout", "300"], env=env)
            out.append(analyse(d, "remove-signer", t1))
            for o in out:
                o["mode"] = mode
            return out
        finally:
            subprocess.run([hsyncctl, "lab", "down", "--dir", str(d)], capture_output=True,
                           timeout=120, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ttl", type=int, default=2)
    ap.add_argument("--modes", default="peer,leader-follower")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--hsyncd")
    ap.add_argument("--hsyncctl")
    a = ap.parse_args()
    env = dict(os.environ)
    env["HSYNCD"] = binary("hsyncd", a.hsyncd)
    hsyncctl = binary("hsyncctl", a.hsyncctl)
    rows = []
    for mode in a.modes.split(","):
        rows += one_mode(mode, a.ttl, hsyncctl, env)
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"lab TTL {a.ttl} s; times in seconds (docs/PERFORMANCE.md)")
    print(f"{'mode':18} {'process':14} {'total':>7} {'TTL waits':>10} {'parent':>7} "
          f"{'overhead':>9} {'total-floor':>12}")
    for r in rows:
        print(f"{r['mode']:18} {r['process']:14} {r['total_s']:7.2f} {r['ttl_waits_s']:10.2f} "
              f"{r['parent_s']:7.2f} {r['overhead_s']:9.2f} {r['overhead_over_floor_s']:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
