#!/usr/bin/env python3
"""The agent role with many zones: N small unsigned zones shared by three agents on one
machine, all fed by one hsyncd auth.

    hsyncd auth (zones z1.bench. .. zN.bench., each with SOA, NS and an HSYNC RRset naming
                 agent.p1.bench., agent.p2.bench., agent.p3.bench.; NOTIFY to the agents)
      |  AXFR
      +--> hsyncd agent p1  --+
      +--> hsyncd agent p2  --+-- discovery (validated, DNSKEY trust anchor per identity
      +--> hsyncd agent p3  --+   zone, stub to its agent), HELLO per zone, HEARTBEAT per peer

Each agent's identity zone key (CSK, ECDSA P-256) is made beforehand with `hsyncctl keygen`
in DATA_DIR/agent/identity/, so its DNSKEY can be every agent's trust anchor for that
identity zone (no parent zone is needed).

Measured, per zone count N (`--zones`, default 100 and 10,000):
- cold start: the agents start with empty data directories (the auth already serves every
  zone); the time until every agent has all N zones, both its relations OPERATIONAL and all
  N zones "negotiated"; the phases from the agents' logs (first/last transfer_in,
  identity zone published, peers discovered, relations OPERATIONAL, last zone negotiated);
- heartbeats: HEARTBEAT messages sent per minute by each agent, from /metrics deltas over
  `--window` seconds (default 60) once everything is negotiated. They are per peer, not per
  zone: 2 peers x 60/heartbeat-interval a minute, the same at every N;
- HELLOs sent, refused and unanswered while converging;
- CPU seconds (/proc utime+stime) of each agent to converge and during the window, and its
  peak RSS (VmHWM).

    python3 bench/agent_scale.py [--zones 100,10000] [--heartbeat-interval 5] [--window 60]
                                 [--json] [--keep] [--hsyncd PATH] [--hsyncctl PATH]
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(ROOT / "bench"))

AGENTS = 3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def zone_name(i: int) -> str:
    return f"z{i}.bench."


def identity(k: int) -> str:
    return f"agent.p{k}.bench."


# --------------------------------------------------------------------------- /proc


def proc_cpu_seconds(pid: int) -> float:
    """user+system CPU seconds of a process (all its threads)."""
    st = Path(f"/proc/{pid}/stat").read_text()
    f = st[st.rfind(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds by thread name (threads of the same name added up)."""
    out: dict[str, float] = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            st = (t / "stat").read_text()
        except OSError:
            continue
        name = st[st.find("(") + 1:st.rfind(")")]
        f = st[st.rfind(")") + 2:].split()
        out[name] = out.get(name, 0.0) + (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return out


def proc_rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    cur = peak = 0
    for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
        if ln.startswith("VmRSS:"):
            cur = int(ln.split()[1])
        elif ln.startswith("VmHWM:"):
            peak = int(ln.split()[1])
    return cur / 1024, peak / 1024


def fixed_port(used: set[int]) -> int:
    """A free TCP+UDP port below the kernel's ephemeral range: thousands of outgoing
    transfer connections use ephemeral ports, and an agent started after another could find
    its pre-chosen port taken (hsynctest.free_port picks from that range)."""
    import random
    import socket
    try:
        lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    for _ in range(1000):
        port = random.randrange(10000, max(lo, 10001))
        if port in used:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        used.add(port)
        return port
    raise SystemExit("no free port below the ephemeral range")


# --------------------------------------------------------------------------- metrics

_METRIC = re.compile(r"^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Metrics:
    """A parsed /metrics page: get(name, label=value...) -> value (0 when absent)."""

    def __init__(self, text: str):
        self.rows: list[tuple[str, dict, float]] = []
        for ln in text.splitlines():
            if not ln or ln[0] == "#":
                continue
            m = _METRIC.match(ln)
            if not m:
                continue
            labels = dict(_LABEL.findall(m.group(2) or ""))
            try:
                self.rows.append((m.group(1), labels, float(m.group(3))))
            except ValueError:
                continue

    def get(self, name: str, **labels) -> float:
        total = 0.0
        for n, l, v in self.rows:
            if n == name and all(l.get(k) == w for k, w in labels.items()):
                total += v
        return total

    def bench_zones_served(self) -> int:
        return sum(1 for n, l, _ in self.rows
                   if n == "hsync_zone_serial" and l.get("zone", "").endswith(".bench.")
                   and l["zone"].startswith("z"))


# --------------------------------------------------------------------------- logs

_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z")


def log_time(line: str) -> float | None:
    m = _TS.match(line)
    if not m:
        return None
    t = calendar.timegm(tuple(int(x) for x in m.groups()[:6]) + (0, 0, 0))
    return t + (float("0." + m.group(7)) if m.group(7) else 0.0)


def log_phases(path: Path, t0_wall: float) -> dict:
    """Seconds after the agents' start of the first/last occurrence of each event, and
    counts, from one agent's log file."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    count: dict[str, int] = {}
    lines = 0
    try:
        fh = open(path, errors="replace")
    except OSError:
        return {}
    with fh:
        for ln in fh:
            lines += 1
            m = re.search(r" event=(\S+)", ln)
            if not m:
                continue
            ev = m.group(1)
            t = log_time(ln)
            if t is None:
                continue
            t -= t0_wall
            count[ev] = count.get(ev, 0) + 1
            first.setdefault(ev, t)
            last[ev] = t
    return {"first": first, "last": last, "count": count, "lines": lines}


# --------------------------------------------------------------------------- one run


def write_auth(d: Path, n: int, agent_ports: list[int], hb_ttl: int) -> tuple[dict, Path]:
    """Zone files and the auth's configuration (flow-style YAML, one line per zone: the
    config file is limited to 16 MiB)."""
    zd = d / "auth" / "z"
    zd.mkdir(parents=True, exist_ok=True)
    hsync = "".join(f"@ IN HSYNC ON AGENT YES {identity(k)}\n" for k in range(1, AGENTS + 1))
    ns = "".join(f"@ IN NS ns.p{k}.bench.\n" for k in range(1, AGENTS + 1))
    for i in range(1, n + 1):
        # refresh 1 h, retry 5 s: no refresh traffic during the measurement.
        (zd / f"{i}.zone").write_text(
            f"$ORIGIN {zone_name(i)}\n$TTL {hb_ttl}\n"
            f"@ IN SOA ns.p1.bench. hostmaster.bench. 1 3600 5 1209600 300\n{ns}{hsync}")
    notify = ", ".join(f"127.0.0.1:{p}" for p in agent_ports)
    lines = [f"  - {{name: {zone_name(i)}, type: primary, file: z/{i}.zone, notify: [{notify}], "
             f"allow-transfer: any}}" for i in range(1, n + 1)]
    return {"zones_yaml": "zones:\n" + "\n".join(lines) + "\n"}, zd


def keygen_identity(data_dir: Path, k: int) -> str:
    """The identity zone's CSK in DATA_DIR/agent/identity/; returns its DNSKEY record text."""
    import hsynctest
    kd = data_dir / "agent" / "identity"
    kd.mkdir(parents=True, exist_ok=True)
    hsynctest.hsyncctl("keygen", "--algorithm", "13", "--csk", "-K", str(kd), identity(k),
                       timeout=60)
    keys = list(kd.glob("K*.key"))
    if len(keys) != 1:
        raise SystemExit(f"{kd}: expected one .key file, found {keys}")
    for ln in keys[0].read_text().splitlines():
        ln = ln.strip()
        if ln and not ln.startswith(";") and " DNSKEY " in ln:
            return ln
    raise SystemExit(f"{keys[0]}: no DNSKEY record")


def agent_config(k: int, n: int, auth_port: int, ports: list[int], anchors: list[str],
                 a) -> str:
    stubs = "".join(f"      - {{zone: \"{identity(j)}\", servers: [\"127.0.0.1:{ports[j - 1]}\"]}}\n"
                    for j in range(1, AGENTS + 1))
    tas = "".join(f"      - {json.dumps(t)}\n" for t in anchors)
    pns = f"  provider-nameservers: [\"ns.p{k}.bench.\"]\n" if a.provider_nameservers else ""
    zones = "\n".join(f"  - {{name: {zone_name(i)}, type: secondary, primaries: [127.0.0.1:{auth_port}]}}"
                      for i in range(1, n + 1))
    return (f"role: agent\nlog-level: {a.log_level}\n"
            f"agent:\n"
            f"  identity: \"{identity(k)}\"\n"
            f"  ttl: 60\n"
            f"  nameservers: [{{name: \"ns.{identity(k)}\", addresses: [127.0.0.1]}}]\n"
            f"{pns}"
            f"  heartbeat-interval: {a.heartbeat_interval}\n"
            f"  retry-initial: 1\n  retry-max: 10\n"
            f"  resolver:\n    trust-anchors:\n{tas}    stubs:\n{stubs}"
            f"zones:\n{zones}\n")


def run_one(n: int, a, work_root: Path) -> dict:
    import hsynctest
    res: dict = {"zones": n, "agents": {}, "heartbeat_interval": a.heartbeat_interval,
                 "window": a.window}
    with hsynctest.TempDir(f"hsync-bench-agent-{n}") as d:
        d = Path(d) if work_root is None else work_root / f"agent-{n}"
        d.mkdir(parents=True, exist_ok=True)
        used: set[int] = set()
        auth_port = fixed_port(used)
        ports = [fixed_port(used) for _ in range(AGENTS)]

        # --- the auth with every zone
        t = time.monotonic()
        cfg, _ = write_auth(d, n, ports, 300)
        limits = (f"limits: {{tcp-clients: {a.auth_tcp}, tcp-per-client: {a.auth_tcp}}}\n"
                  if a.auth_tcp else "")
        auth = hsynctest.start_hsyncd(f"role: auth\nlog-level: {a.log_level}\n{limits}" + cfg["zones_yaml"],
                                      d / "auth", port=auth_port, mgmt_port=fixed_port(used),
                                      timeout=600, start=False)
        log(f"[{n}] zone files and configs written ({time.monotonic() - t:.1f} s); starting the auth")
        t = time.monotonic()
        auth.start()
        hsynctest.wait_until(lambda: Metrics(auth.metrics()).get("hsync_zones_loaded") >= n,
                             max(600, n / 50), f"auth serving {n} zones", interval=0.5,
                             process=auth.proc)
        res["auth_load_s"] = time.monotonic() - t
        log(f"[{n}] auth serves {n} zones ({res['auth_load_s']:.1f} s)")
        # Let its start-up NOTIFYs (to agents not running yet) run out.
        time.sleep(a.settle)

        # --- three agents, keys made beforehand, each trusting the others' identity DNSKEY
        anchors, agents = [], []
        for k in range(1, AGENTS + 1):
            anchors.append(keygen_identity(d / f"agent{k}" / "data", k))
        for k in range(1, AGENTS + 1):
            text = agent_config(k, n, auth_port, ports, anchors, a)
            agents.append(hsynctest.start_hsyncd(text, d / f"agent{k}", port=ports[k - 1],
                                                 mgmt_port=fixed_port(used), timeout=600,
                                                 start=False))
        want_rel = AGENTS - 1
        t0_wall = time.time()
        t0 = time.monotonic()
        for h in agents:
            h.start()
        started = time.monotonic() - t0
        log(f"[{n}] agents started ({started:.1f} s); waiting for relations and negotiation")

        milestones = [{"transferred": None, "operational": None, "negotiated": None}
                      for _ in agents]
        # A relation that was OPERATIONAL and is not any more (DEGRADED, INTERRUPTED...).
        dropped = [{"relations_dropped_at": None, "relations_back_at": None} for _ in agents]
        last_print = 0.0
        while True:
            now = time.monotonic() - t0
            done = True
            status = []
            for i, h in enumerate(agents):
                if not h.alive():
                    raise SystemExit(f"agent {i + 1} exited; log tail:\n{h.log()[-3000:]}")
                m = Metrics(h.metrics())
                served = m.bench_zones_served()
                oper = int(m.get("hsync_agent_relations", state="OPERATIONAL"))
                nego = int(m.get("hsync_agent_zones", state="negotiated"))
                ms = milestones[i]
                if served >= n and ms["transferred"] is None:
                    ms["transferred"] = now
                if oper >= want_rel and ms["operational"] is None:
                    ms["operational"] = now
                dr = dropped[i]
                if ms["operational"] is not None and oper < want_rel and dr["relations_dropped_at"] is None:
                    dr["relations_dropped_at"] = now
                if dr["relations_dropped_at"] is not None and oper >= want_rel and dr["relations_back_at"] is None:
                    dr["relations_back_at"] = now
                if nego >= n and ms["negotiated"] is None:
                    ms["negotiated"] = now
                done &= None not in ms.values()
                status.append(f"p{i + 1}: {served} served, {oper} oper, {nego} negotiated")
            if done:
                break
            if now - last_print >= 10:
                log(f"[{n}] {now:5.0f} s  " + " | ".join(status))
                last_print = now
            if now > a.timeout:
                res["timeout"] = True
                log(f"[{n}] not converged after {a.timeout} s: " + " | ".join(status))
                break
            time.sleep(a.poll)
        converge_s = time.monotonic() - t0
        res["converge_s"] = converge_s
        log(f"[{n}] converged in {converge_s:.1f} s")

        # --- confirm with the JSON views, then CPU/RSS at convergence
        for i, h in enumerate(agents):
            ag = res["agents"].setdefault(f"p{i + 1}", {})
            ag.update(milestones[i])
            ag.update(dropped[i])
            ag["cpu_converge_s"] = proc_cpu_seconds(h.proc.pid)
            ag["_threads0"] = thread_cpu(h.proc.pid)
            ag["rss_converge_mib"], ag["hwm_converge_mib"] = proc_rss_mib(h.proc.pid)
            st, body = h.api("GET", "/agent/peers")
            peers = json.loads(body)["peers"] if st == 200 else []
            ag["peers"] = {p["identity"]: p["state"] for p in peers}
            st, body = h.api("GET", "/agent/zones", timeout=120)
            zs = json.loads(body)["zones"] if st == 200 else []
            states: dict[str, int] = {}
            for z in zs:
                states[z["state"]] = states.get(z["state"], 0) + 1
            ag["zone_states"] = states
            m = Metrics(h.metrics())
            ag["hello_sent"] = m.get("hsync_agent_messages_sent_total", operation="hello")
            ag["hello_received"] = m.get("hsync_agent_messages_received_total", operation="hello")
            ag["hello_refused"] = m.get("hsync_agent_responses_total", operation="hello", outcome="refused")
            ag["hello_unanswered"] = m.get("hsync_agent_responses_total", operation="hello",
                                           outcome="unanswered")
            ag["inbound_refused"] = m.get("hsync_agent_messages_refused_total")
            ag["_beats0"] = m.get("hsync_agent_messages_sent_total", operation="heartbeat")
            ag["_beats_in0"] = m.get("hsync_agent_messages_received_total", operation="heartbeat")

        # --- heartbeats over the window
        log(f"[{n}] counting heartbeats for {a.window} s")
        tw = time.monotonic()
        time.sleep(a.window)
        window = time.monotonic() - tw
        for i, h in enumerate(agents):
            ag = res["agents"][f"p{i + 1}"]
            m = Metrics(h.metrics())
            beats = m.get("hsync_agent_messages_sent_total", operation="heartbeat") - ag.pop("_beats0")
            beats_in = m.get("hsync_agent_messages_received_total", operation="heartbeat") - ag.pop("_beats_in0")
            ag["beats_per_min"] = beats * 60 / window
            ag["beats_in_per_min"] = beats_in * 60 / window
            ag["beat_unanswered"] = m.get("hsync_agent_responses_total", operation="heartbeat",
                                          outcome="unanswered")
            ag["beat_refused"] = m.get("hsync_agent_responses_total", operation="heartbeat",
                                       outcome="refused")
            cpu = proc_cpu_seconds(h.proc.pid)
            ag["cpu_window_per_min"] = (cpu - ag["cpu_converge_s"]) * 60 / window
            ag["cpu_total_s"] = cpu
            th0 = ag.pop("_threads0")
            ag["threads_window_per_min"] = {k: round((v - th0.get(k, 0.0)) * 60 / window, 3)
                                            for k, v in thread_cpu(h.proc.pid).items()
                                            if v - th0.get(k, 0.0) > 0}
            ag["rss_mib"], ag["hwm_mib"] = proc_rss_mib(h.proc.pid)
            ph = log_phases(h.log_path, t0_wall)
            ag["log_lines"] = ph.get("lines", 0)
            ev = {}
            for name in ("transfer_in", "refresh_failed", "zone_loaded", "agent_started", "agent_identity_published",
                         "agent_peer_discovered", "agent_peer_operational", "agent_zone_negotiated",
                         "agent_hello_failed", "agent_message_refused", "agent_discovery_failed"):
                if name in ph.get("count", {}):
                    ev[name] = {"n": ph["count"][name], "first": ph["first"][name],
                                "last": ph["last"][name]}
            ag["events"] = ev
        st = Metrics(auth.metrics())
        res["auth_transfers_out"] = st.get("hsync_transfers_out_total")
        res["auth_cpu_s"] = proc_cpu_seconds(auth.proc.pid)
        res["auth_rss_mib"], res["auth_hwm_mib"] = proc_rss_mib(auth.proc.pid)
        res["loadavg"] = open("/proc/loadavg").read().split()[:3]
        for h in agents:
            h.stop()
        auth.stop()
        if a.keep:
            log(f"[{n}] kept {d}")
    return res


# --------------------------------------------------------------------------- report


def fmt(v, spec=".1f", none="-"):
    return none if v is None else format(v, spec)


def report(results: list[dict], a) -> None:
    expect = (AGENTS - 1) * 60 / a.heartbeat_interval
    print(f"### Agent role: zones shared by {AGENTS} agents, cold start and heartbeats\n")
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; "
          f"heartbeat-interval {a.heartbeat_interval} s (expected {expect:.0f} beats/min per agent: "
          f"{AGENTS - 1} peers); window {a.window} s; log-level {a.log_level}; "
          f"provider-nameservers {'on' if a.provider_nameservers else 'off'}; auth TCP limits "
          f"{a.auth_tcp or 'hsyncd defaults (100, 10 per client)'}")
    print("- one hsyncd auth serves every zone (SOA, 3 NS, 3 HSYNC); the agents start empty "
          "(identity keys made beforehand) and transfer every zone from it\n")
    for r in results:
        n = r["zones"]
        print(f"#### {n:,} zones{' (TIMED OUT)' if r.get('timeout') else ''}\n")
        print(f"- auth loaded {n:,} zones in {r['auth_load_s']:.1f} s; all agents converged "
              f"(every zone transferred, relations OPERATIONAL, zones negotiated) in "
              f"**{r['converge_s']:.1f} s**; auth peak RSS {fmt(r.get('auth_hwm_mib'), '.0f')} MiB, CPU "
              f"{r['auth_cpu_s']:.1f} s; load average at end {' '.join(r['loadavg'])}")
        for name, ag in r["agents"].items():
            if ag.get("relations_dropped_at") is not None:
                print(f"- {name}: relations OPERATIONAL at {ag['operational']:.1f} s, then not all "
                      f"OPERATIONAL from {ag['relations_dropped_at']:.1f} s to "
                      f"{fmt(ag['relations_back_at'])} s")
        print()
        print("| agent | all transferred | relations OPERATIONAL | all negotiated | HELLOs sent "
              "(refused, unanswered) | beats/min sent (received) | CPU to converge | CPU/min after "
              "| peak RSS | RSS after |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, ag in r["agents"].items():
            print(f"| {name} | {fmt(ag['transferred'])} s | {fmt(ag['operational'])} s | "
                  f"{fmt(ag['negotiated'])} s | {ag['hello_sent']:,.0f} ({ag['hello_refused']:,.0f}, "
                  f"{ag['hello_unanswered']:,.0f}) | {ag['beats_per_min']:.1f} "
                  f"({ag['beats_in_per_min']:.1f}) | {ag['cpu_converge_s']:.1f} s | "
                  f"{ag['cpu_window_per_min']:.2f} s | {ag['hwm_mib']:.0f} MiB | {ag['rss_mib']:.0f} MiB |")
        print()
        print("CPU/min after converging, by thread: " + "; ".join(
            f"{name}: " + ", ".join(f"{t} {v:.2f} s" for t, v in sorted(
                ag["threads_window_per_min"].items(), key=lambda kv: -kv[1]))
            for name, ag in r["agents"].items()) + "\n")
        print("Phases from the agents' logs (seconds after the agents' start, first–last, count):\n")
        evs = ["transfer_in", "refresh_failed", "agent_identity_published", "agent_peer_discovered",
               "agent_peer_operational", "agent_zone_negotiated", "agent_hello_failed",
               "agent_message_refused"]
        print("| agent | " + " | ".join(evs) + " | log lines |")
        print("|---|" + "---:|" * (len(evs) + 1))
        for name, ag in r["agents"].items():
            cells = []
            for e in evs:
                x = ag["events"].get(e)
                cells.append("-" if not x else f"{x['first']:.1f}–{x['last']:.1f} ({x['n']:,})")
            print(f"| {name} | " + " | ".join(cells) + f" | {ag['log_lines']:,} |")
        print()
    if len(results) > 1:
        print("Heartbeats per minute per agent, by zone count: " +
              "; ".join(f"{r['zones']:,}: " + ", ".join(f"{ag['beats_per_min']:.0f}"
                                                       for ag in r["agents"].values())
                        for r in results) + f" (expected {expect:.0f} at every N)\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zones", default="100,10000",
                    help="comma-separated zone counts, one run each (default 100,10000)")
    ap.add_argument("--heartbeat-interval", type=int, default=5, help="seconds (default 5)")
    ap.add_argument("--window", type=float, default=60, help="heartbeat count window, seconds")
    ap.add_argument("--timeout", type=float, default=1800, help="give up converging after this")
    ap.add_argument("--poll", type=float, default=1.0, help="progress poll interval, seconds")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds between the auth serving everything and the agents' start")
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--auth-tcp", type=int, default=15000,
                    help="the auth's tcp-clients and tcp-per-client limits (default 15000: every "
                         "agent opens one connection per zone at once, all from 127.0.0.1; "
                         "0 = hsyncd's defaults, 100 and 10)")
    ap.add_argument("--no-provider-nameservers", dest="provider_nameservers",
                    action="store_false",
                    help="publish no _ns.<zone>.<identity> PTRs (then the unsigned zones add "
                         "nothing to the identity zone)")
    ap.add_argument("--hsyncd", help="default: $HSYNCD or build/bin/hsyncd")
    ap.add_argument("--hsyncctl", help="default: $HSYNCCTL or build/bin/hsyncctl")
    ap.add_argument("--workdir", help="keep everything under this directory (else a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args()
    if a.hsyncd:
        os.environ["HSYNCD"] = os.path.abspath(a.hsyncd)
    if a.hsyncctl:
        os.environ["HSYNCCTL"] = os.path.abspath(a.hsyncctl)
    if a.keep and not a.workdir:
        os.environ["HSYNC_KEEP_TMP"] = "1"
    import hsynctest
    hsynctest.hsyncd_path()
    hsynctest.hsyncctl_path()
    counts = [int(x) for x in a.zones.split(",") if x.strip()]
    results = []
    for n in counts:
        results.append(run_one(n, a, Path(a.workdir) if a.workdir else None))
    if a.json:
        print(json.dumps({"heartbeat_interval": a.heartbeat_interval, "window": a.window,
                          "results": results}, indent=2))
    else:
        report(results, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
