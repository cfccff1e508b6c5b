"""The agents' multi-signer processes (docs/agent.md "Processes", ../shared/spec/processes.md)
in `hsyncctl lab` labs (docs/lab.md), checked against outside oracles: BIND's dnssec-cds
(what the parent's DS set must become from the CDS the providers publish), BIND's
dnssec-verify (every provider's zone), BIND's dnssec-dsfromkey (the DS of each provider's
KSK) and Debian's Unbound (validation all the way from the lab's trust anchor). Every
scenario has its own lab (--ttl 2, or 4 where an agent is stopped) and a `lab probe
--require-ad` through the lab's Unbound running for the whole scenario: zero SERVFAIL, zero
timeouts, every answer validated.

- test_peer_add_then_offboard (peer): p2 joins with NSMgmt AGENT. The CDS set caught at
  p1-auth while the agents run, fed to dnssec-cds with the parent's old DS set, gives exactly
  the DS set the parent publishes afterwards; both providers' DNSKEY RRsets hold both ZSKs
  and their own KSK; the parent delegates to ns.p1 and ns.p2 with 2 DS; both agents say
  process none, members both, mode peer; an Unbound that reaches only p2's server validates.
  Then p1 is offboarded: the parent delegates to ns.p2 alone with p2's DS only, p2's DNSKEY
  RRset loses p1's ZSK, the parent changed the NS before the DS (remove signer: NS, then
  DS), and dnssec-verify passes every running provider's zone at each stage.
- test_leader_follower_add_and_remove_at_once (leader/follower): p3 added and p1 offboarded
  in one edit: p2 (the lowest ON signer) is elected leader, the agents run add signer and
  then remove signer; the end state is p2+p3 everywhere; the agents' logs merged by time
  never show one agent more than one step ahead of another in a process (the one-step rule).
- test_algorithm_mismatch_stops_at_step_1: a spare provider whose signer uses Ed25519 joins
  a group signing with ECDSA P-256: add signer fails at step 1 with "algorithm mismatch"
  (JSON and text output), nothing changes at the parent, the zone keeps validating, and
  `lab wait` reports the agents are not done (exit 1).
- test_kill_and_pause_during_add (peer, --ttl 4): the joining agent is killed (kill -9)
  in add signer at step 6 or later: p1 stops at most one step ahead of it and waits for it;
  restarted, it resumes and the process completes. Then p1 is offboarded and its agent
  stopped (SIGTERM) in remove signer for 3 x the TTL: p2 pauses (waits for agent.p1.lab.'s
  reports) and finishes once p1's agent is back.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import hsynctest
from hsynctest import check, fail

ZONE = "example.lab."
STEPS = {"add-signer": 13, "remove-signer": 11}
PROBE_NAMES = "www.example.lab/A,example.lab/DNSKEY,example.lab/NS"


# --------------------------------------------------------------------------- the lab


def lab(*args, **kw):
    kw.setdefault("timeout", 180)
    return hsynctest.hsyncctl("lab", *args, **kw)


def no_crash(res: hsynctest.Result) -> None:
    text = res.stdout + res.stderr
    for bad in ("AddressSanitizer", "terminate called", "Traceback", "runtime error:"):
        check(bad not in text, f"{bad!r} in the output\n  " + res.describe())


def now_stamp() -> str:
    """The current time in the form of hsyncd's log timestamps (UTC, ms, 'Z')."""
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Lab:
    """One lab in a directory: `lab status --json`, the agents' process, DNS views."""

    def __init__(self, d: Path):
        self.dir = d
        self.reload()

    def reload(self) -> None:
        self.status = json.loads(lab("status", "--json", "--dir", self.dir, check_rc=None).stdout)
        self.procs = {p["name"]: p for p in self.status["processes"]}

    def port(self, name: str) -> int:
        return self.procs[name]["dns_port"]

    def process(self, agent: str) -> dict:
        """GET /agent/process/example.lab. at an agent (what `agent process --json` prints)."""
        p = self.procs[agent]
        status, body = hsynctest.management_request(p["management_port"], "GET",
                                                    f"/agent/process/{ZONE}",
                                                    key_file=p["management_key_file"], timeout=10)
        check(status == 200, f"GET /agent/process/{ZONE} at {agent}: HTTP {status} {body}")
        return json.loads(body)

    def ctl(self, agent: str, *args, **kw) -> hsynctest.Result:
        p = self.procs[agent]
        return hsynctest.hsyncctl("--server", f"127.0.0.1:{p['management_port']}", "--key",
                                  p["management_key_file"], *args, **kw)

    def process_json(self, agent: str) -> dict:
        r = self.ctl(agent, "agent", "process", ZONE, "--json")
        no_crash(r)
        return json.loads(r.stdout)

    def identity(self, n: int) -> str:
        return f"agent.p{n}.lab."

    # --- the parent's view (parent-signer serves lab.)
    def parent_ds(self) -> list[tuple]:
        a = hsynctest.dig1("127.0.0.1", self.port("parent-signer"), ZONE, "DS")
        check(a.rcode == "NOERROR", f"DS at parent-signer: {a!r}\n{a.raw}")
        return sorted(ds_tuple(rr) for rr in a.sections["answer"] if rr.split()[3] == "DS")

    def parent_ns(self) -> set[str]:
        a = hsynctest.dig1("127.0.0.1", self.port("parent-signer"), ZONE, "NS")
        check(a.rcode == "NOERROR" and "aa" not in a.flags,
              f"NS at parent-signer is not a referral: {a!r}\n{a.raw}")
        return {rr.split()[4].lower() for rr in a.sections["authority"] if rr.split()[3] == "NS"}

    def dnskeys(self, n: int) -> set[tuple]:
        """pN-auth's DNSKEY RRset as {(flags, key)}."""
        a = hsynctest.dig1("127.0.0.1", self.port(f"p{n}-auth"), ZONE, "DNSKEY")
        check(a.rcode == "NOERROR", f"DNSKEY at p{n}-auth: {a!r}\n{a.raw}")
        return {dnskey_tuple(rr) for rr in a.sections["answer"] if rr.split()[3] == "DNSKEY"}

    def signer_keys(self, n: int) -> dict[str, dict]:
        """pN-signer's own keys from its key files: {"ksk"|"zsk": {tag, key, file}}."""
        out = {}
        for f in glob.glob(f"{self.dir}/p{n}-signer/data/keys/*/K*.key"):
            tag = int(re.search(r"\+(\d+)\.key$", f).group(1))
            for line in Path(f).read_text().splitlines():
                if line.startswith(";") or "DNSKEY" not in line:
                    continue
                flags, key = dnskey_tuple(line)
                out["ksk" if flags == 257 else "zsk"] = {"tag": tag, "key": (flags, key), "file": f}
        check(set(out) == {"ksk", "zsk"}, f"p{n}-signer's key files: {out}")
        return out

    def axfr_text(self, n: int) -> str:
        """pN-auth's zone by AXFR (TSIG pN-auth-xfr.), as a zone file: no TSIG, no comments."""
        auth = self.procs[f"p{n}-auth"]
        r = hsynctest.run([hsynctest.require_program("dig"), "-k", auth["tsig_key_files"][0],
                           "+nocmd", "+nostats", "+time=3", "+tries=1", "-p", str(auth["dns_port"]),
                           "@127.0.0.1", ZONE, "AXFR"], check_rc=None, timeout=20)
        lines = [ln for ln in r.stdout.splitlines()
                 if ln.strip() and not ln.startswith(";") and ln.split()[3:4] != ["TSIG"]]
        return "\n".join(lines) + "\n" if r.rc == 0 and "Transfer failed" not in r.stdout else ""

    def log_events(self, name: str, event: str | None = None, since: str = "") -> list[dict]:
        return log_events(self.dir / name / "log", event, since)

    def down(self) -> None:
        if (self.dir / "lab.json").exists():
            hsynctest.hsyncctl("lab", "down", "--dir", self.dir, check_rc=None, timeout=60)


def ds_tuple(rr: str) -> tuple:
    f = rr.split()
    i = f.index("DS")
    return (int(f[i + 1]), int(f[i + 2]), int(f[i + 3]), "".join(f[i + 4:]).upper())


def dnskey_tuple(rr: str) -> tuple:
    f = rr.split()
    i = f.index("DNSKEY")
    return (int(f[i + 1]), "".join(f[i + 4:]))


def ds_of_key(key_file: str) -> tuple:
    """dnssec-dsfromkey -2: the SHA-256 DS of a key file."""
    r = hsynctest.run([hsynctest.require_program("dnssec-dsfromkey"), "-2", key_file], timeout=20)
    return ds_tuple(r.stdout.strip())


def wait_for(what: str, cond, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(interval)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


# --------------------------------------------------------------------------- logs

_LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line: str) -> dict:
    out = {"ts": line.split(" ", 1)[0]}
    for k, v in _LOGFMT.findall(line):
        out[k] = v[1:-1] if v.startswith('"') else v
    return out


def log_events(path: Path, event: str | None = None, since: str = "") -> list[dict]:
    if not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text(errors="replace").splitlines():
        if " event=" not in line:
            continue
        e = parse_logfmt(line)
        if (event is None or e.get("event") == event) and e["ts"] >= since:
            out.append(e)
    return out


def check_one_step_rule(lb: Lab, agents: list[str]) -> int:
    """Merges every agent's process events by timestamp and checks that within one process
    no participant is ever more than one step ahead of another (a participant that has not
    started it counts as step 0, one that completed it as steps+1). Returns the number of
    step events checked."""
    ident = {a: lb.procs[a]["identity"] for a in agents}
    events = []
    for a in agents:
        for e in lb.log_events(a):
            if e.get("event", "").startswith("agent_process_"):
                events.append((e["ts"], a, e))
    events.sort(key=lambda x: (x[0], x[1]))
    current: dict[str, tuple | None] = {a: None for a in agents}   # agent -> process key
    steps: dict[tuple, dict[str, int]] = {}       # key -> identity -> step
    members: dict[tuple, set[str]] = {}           # key -> participants
    checked = 0
    i = 0
    while i < len(events):
        ts = events[i][0]
        touched = set()
        while i < len(events) and events[i][0] == ts:   # one millisecond at a time
            _, a, e = events[i]
            i += 1
            ev = e["event"]
            if ev == "agent_process_started":
                key = (e.get("id"), e["process"])
                current[a] = key
                parts = {x for x in (e.get("before", "").split(",") + e.get("after", "").split(","))
                         if x}
                members.setdefault(key, set()).update(parts)
                steps.setdefault(key, {})[ident[a]] = 0
            elif ev in ("agent_process_step", "agent_process_resumed"):
                key = current[a]
                if key is None or key[1] != e["process"]:
                    key = (key[0] if key else "?", e["process"])   # rewound, or no start seen
                    current[a] = key
                steps.setdefault(key, {})[ident[a]] = int(e["step"])
                members.setdefault(key, set()).add(ident[a])
                touched.add(key)
                checked += ev == "agent_process_step"
            elif ev == "agent_process_completed" and current[a]:
                key = current[a]
                steps[key][ident[a]] = STEPS[key[1]] + 1
                touched.add(key)
                current[a] = None
            elif ev == "agent_process_failed":
                current[a] = None
        for key in touched:
            at = {m: steps[key].get(m, 0) for m in members[key]}
            check(max(at.values()) - min(at.values()) <= 1,
                  f"one-step rule broken at {ts} in {key[1]} (id {key[0]}): steps {at}")
    return checked


def completions(lb: Lab, agent: str, since: str = "") -> list[dict]:
    return lb.log_events(agent, "agent_process_completed", since)


# --------------------------------------------------------------------------- the probe


class Probe:
    """`hsyncctl lab probe --require-ad --json` in the background for a whole scenario."""

    def __init__(self, d: Path, names: str = PROBE_NAMES):
        self.popen = subprocess.Popen(
            [hsynctest.hsyncctl_path(), "lab", "probe", "--dir", str(d), "--duration", "600",
             "--require-ad", "--json", "--names", names],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.result: dict | None = None

    def stop(self) -> dict:
        if self.result is not None:
            return self.result
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            out, err = self.popen.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, err = self.popen.communicate()
            fail(f"lab probe did not end on SIGTERM:\n{out[-2000:]}\n{err[-2000:]}")
        try:
            self.result = json.loads(out)
        except json.JSONDecodeError:
            fail(f"lab probe --json printed no JSON (rc {self.popen.returncode}):\n{out[-3000:]}\n"
                 f"{err[-3000:]}")
        return self.result

    def check_clean(self) -> dict:
        pr = self.stop()
        print(f"  probe: {pr['queries']} queries in {pr.get('seconds', 0):.0f} s, rcodes {pr['rcodes']}, "
              f"SERVFAIL {pr['servfail']}, timeouts {pr['timeouts']}, not validated {pr['not_validated']}")
        check(pr["servfail"] == 0 and pr["timeouts"] == 0 and pr["not_validated"] == 0
              and pr["queries"] > 0,
              f"probe through the scenario failed: {json.dumps(pr)[:3000]}")
        return pr

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.communicate()


def scenario(prefix: str, up_args: list[str], body) -> None:
    """A lab in a temporary directory, a probe for the whole scenario, always `lab down`."""
    with hsynctest.TempDir(prefix) as tmp:
        d = tmp / "lab"
        probe = None
        lb = None
        try:
            t0 = time.monotonic()
            up = lab("up", "--dir", d, *up_args, timeout=300, check_rc=None)
            no_crash(up)
            check(up.rc == 0, "lab up failed\n  " + up.describe())
            lb = Lab(d)
            print(f"  lab up {' '.join(up_args)}: {time.monotonic() - t0:.1f} s")
            probe = Probe(d)
            time.sleep(1)
            body(lb, probe, tmp)
            probe.check_clean()
        finally:
            if probe is not None:
                probe.kill()
            if lb is not None:
                lb.down()
            elif (d / "lab.json").exists():
                hsynctest.hsyncctl("lab", "down", "--dir", d, check_rc=None, timeout=60)


def lab_wait(lb: Lab, timeout: int = 120) -> float:
    t0 = time.monotonic()
    w = lab("wait", "--dir", lb.dir, "--timeout", timeout, timeout=timeout + 60, check_rc=None)
    no_crash(w)
    check(w.rc == 0, "lab wait\n  " + w.describe())
    return time.monotonic() - t0


def dnssec_verify(zone_text: str, where: Path, what: str) -> None:
    check(zone_text, f"{what}: AXFR failed")
    f = where / f"{what}.zone"
    f.write_text(zone_text)
    r = hsynctest.run([hsynctest.require_program("dnssec-verify"), "-o", ZONE, str(f)],
                      check_rc=None, timeout=60)
    check(r.rc == 0, f"dnssec-verify of {what}\n  " + r.describe())


def check_keys(lb: Lab, providers: list[int]) -> None:
    """Model 2: every provider's DNSKEY RRset = every provider's ZSK + its own KSK."""
    keys = {n: lb.signer_keys(n) for n in providers}
    zsks = {keys[n]["zsk"]["key"] for n in providers}
    for n in providers:
        want = zsks | {keys[n]["ksk"]["key"]}
        got = lb.dnskeys(n)
        check(got == want, f"p{n}-auth's DNSKEY RRset: {sorted(got)}, expected the ZSKs of "
              f"p{providers} and p{n}'s KSK: {sorted(want)}")


def check_parent(lb: Lab, providers: list[int]) -> None:
    want_ds = sorted(ds_of_key(lb.signer_keys(n)["ksk"]["file"]) for n in providers)
    got_ds = lb.parent_ds()
    check(got_ds == want_ds, f"parent DS {got_ds}, expected the DS of the KSKs of p{providers}: "
          f"{want_ds}")
    want_ns = {f"ns.p{n}.example.lab." for n in providers}
    got_ns = lb.parent_ns()
    check(got_ns == want_ns, f"parent NS {sorted(got_ns)}, expected {sorted(want_ns)}")


def seconds_of(lb: Lab, agents: list[str], since: str = "") -> str:
    return "; ".join(f"{a}: " + ", ".join(f"{e['process']} {e['seconds']} s" for e in
                                          completions(lb, a, since)) for a in agents)


# --------------------------------------------------------------------------- 1


def test_peer_add_then_offboard():
    def body(lb: Lab, probe: Probe, tmp: Path):
        old_ds_rrs = hsynctest.run([hsynctest.require_program("dig"), "+norec", "+noall", "+answer",
                                    "-p", lb.port("parent-signer"), "@127.0.0.1", ZONE, "DS"]).stdout
        old_ds = sorted(ds_tuple(rr) for rr in old_ds_rrs.splitlines() if rr.strip())
        check(len(old_ds) == 1 and old_ds == [ds_of_key(lb.signer_keys(1)["ksk"]["file"])],
              f"parent DS after up: {old_ds}")
        ds_file = tmp / "old-ds"
        ds_file.write_text(old_ds_rrs)

        # p2 joins; the edit runs in the background while we watch p1-auth for the CDS.
        t0 = time.monotonic()
        since = now_stamp()
        edit = subprocess.Popen([hsynctest.hsyncctl_path(), "lab", "edit", "--dir", str(lb.dir),
                                 "--add-provider", "2", "--nsmgmt", "agent"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        zone_with_cds = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = lb.axfr_text(1)
            if re.search(r"^\S+\s+\d+\s+IN\s+CDS\s", text, re.M):
                zone_with_cds = text
                break
            time.sleep(0.02)
        out, err = edit.communicate(timeout=180)
        check(edit.returncode == 0 and "started p2-agent" in out,
              f"lab edit --add-provider 2 (rc {edit.returncode}):\n{out}\n{err}")
        check(zone_with_cds, "p1-auth never served a CDS RRset while p2 was being added")
        cds_file = tmp / "p1-auth-with-cds.zone"
        cds_file.write_text(zone_with_cds)
        cds = [ln for ln in zone_with_cds.splitlines() if ln.split()[3:4] == ["CDS"]]
        print(f"  CDS at p1-auth {time.monotonic() - t0:.1f} s after the edit began: {len(cds)} records")
        # dnssec-cds: the CDS must be signed by a key the old DS names (RFC 7344); -s: accept
        # signatures from the last day (the signer backdates inception; the DS file is new).
        start = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() - 86400))
        r = hsynctest.run([hsynctest.require_program("dnssec-cds"), "-s", start, "-f", cds_file,
                           "-d", ds_file, ZONE], check_rc=None, timeout=30)
        check(r.rc == 0, "dnssec-cds on p1-auth's zone with the old DS\n  " + r.describe())
        expected_ds = sorted(ds_tuple(rr) for rr in r.stdout.splitlines() if " DS " in f" {rr} ")
        check(len(expected_ds) == 2, f"dnssec-cds computes {expected_ds}, expected 2 DS")

        lab_wait(lb)
        lb.reload()
        print(f"  p2 added in {time.monotonic() - t0:.1f} s; {seconds_of(lb, ['p1-agent', 'p2-agent'], since)}")
        got_ds = lb.parent_ds()
        check(got_ds == expected_ds, f"the parent's DS {got_ds} is not what dnssec-cds computed "
              f"from the CDS: {expected_ds}")
        check_parent(lb, [1, 2])
        check_keys(lb, [1, 2])
        for a in ("p1-agent", "p2-agent"):
            pj = lb.process_json(a)
            check(pj["process"] == "none" and sorted(pj["members"]) == ["agent.p1.lab.", "agent.p2.lab."]
                  and pj["mode"] == "peer" and pj["error"] == "",
                  f"{a} agent process after the add: {pj}")
        for n in (1, 2):
            dnssec_verify(lb.axfr_text(n), tmp, f"p{n}-auth-after-add")

        # An Unbound that can reach p2 only (example.lab.'s stub: p2-auth) validates.
        verify_through_one_provider(lb, tmp, 2)

        # p1 leaves.
        t1 = time.monotonic()
        since = now_stamp()
        e = lab("edit", "--dir", lb.dir, "--offboard", "1")
        no_crash(e)
        check("1 HSYNC changed" in e.stdout, "lab edit --offboard 1\n  " + e.describe())
        lab_wait(lb)
        print(f"  p1 offboarded in {time.monotonic() - t1:.1f} s; "
              f"{seconds_of(lb, ['p1-agent', 'p2-agent'], since)}")
        check_parent(lb, [2])
        p2 = lb.signer_keys(2)
        got = lb.dnskeys(2)
        check(got == {p2["ksk"]["key"], p2["zsk"]["key"]},
              f"p2-auth's DNSKEY RRset after p1 left: {sorted(got)}; expected p2's KSK and ZSK only")
        pj = lb.process_json("p2-agent")
        check(pj["process"] == "none" and pj["members"] == ["agent.p2.lab."],
              f"p2-agent after the offboarding: {pj}")
        changes = lb.log_events("parent", "delegation_changed", since)
        kinds = [("NS" if e["what"].startswith("NS") else e["what"]) for e in changes]
        check("NS" in kinds and "DS" in kinds and kinds.index("NS") < kinds.index("DS"),
              "the parent's delegation changes while p1 left (remove signer: NS first, then DS): "
              + "; ".join(f"{e['ts']} {e['what']}: {e['new']}" for e in changes))
        ns_change = changes[kinds.index("NS")]
        ds_change = changes[kinds.index("DS")]
        print(f"  parent: NS -> ns.p2 at {ns_change['ts']}, DS -> 1 record at {ds_change['ts']}")
        dnssec_verify(lb.axfr_text(2), tmp, "p2-auth-after-offboard")
        print(f"  one-step rule: {check_one_step_rule(lb, ['p1-agent', 'p2-agent'])} step events checked")

    scenario("agent-proc-peer", ["--providers", "1", "--spare", "1", "--ttl", "2"], body)


def verify_through_one_provider(lb: Lab, tmp: Path, n: int) -> None:
    conf = Path(lb.procs["resolver"]["config"]).read_text()
    res_dir = tmp / f"unbound-p{n}"
    res_dir.mkdir()
    port = hsynctest.free_port()
    conf = conf.split("\nremote-control:")[0] + "\n"
    conf = re.sub(r"(?m)^(\s*)port: \d+$", rf"\g<1>port: {port}", conf)
    conf = re.sub(r'(?m)^(\s*)directory: ".*"$', rf'\g<1>directory: "{res_dir}"', conf)
    conf = re.sub(r'(?m)^(\s*)pidfile: ".*"$', rf'\g<1>pidfile: "{res_dir}/unbound.pid"', conf)
    stub = (f'stub-zone:\n    name: "{ZONE}"\n'
            f'    stub-addr: 127.0.0.1@{lb.port(f"p{n}-auth")}\n')
    conf, count = re.subn(r'stub-zone:\n\s*name: "example\.lab\."\n(?:\s*stub-addr: \S+\n)+', stub, conf)
    check(count == 1, "no example.lab. stub-zone in the lab's unbound.conf:\n" + conf)
    (res_dir / "unbound.conf").write_text(conf)
    # The lab runs a private copy of lab.json's `unbound` (AppArmor, docs/lab.md); the
    # resolver's command line names it. Same program, same version.
    unbound = lb.procs["resolver"]["argv"][0]
    check(Path(lb.status["unbound"]).name == "unbound" and os.access(unbound, os.X_OK),
          f"the lab's unbound: {lb.status['unbound']} / {unbound}")
    ub = hsynctest.Process([unbound, "-d", "-p", "-c", res_dir / "unbound.conf"], "unbound-p2",
                           res_dir / "log")
    try:
        last = None

        def validated():
            nonlocal last
            check(ub.alive(), "the second Unbound exited:\n" + ub.log()[-2000:])
            r = hsynctest.run([hsynctest.require_program("dig"), "+dnssec", "+time=2", "+tries=1",
                               "-p", port, "@127.0.0.1", "www.example.lab.", "A"], check_rc=None)
            last = hsynctest.DigAnswer(r.stdout)
            return last.rcode == "NOERROR" and "ad" in last.flags and last.sections["answer"]
        try:
            wait_for("Unbound that reaches only p2-auth to answer www.example.lab. with AD",
                     validated, 20, 0.3)
        except hsynctest.TestFailure:
            fail(f"Unbound via p{n}-auth only: {last!r}\n{last.raw if last else ''}\n"
                 + ub.log()[-2000:])
        print(f"  an Unbound reaching only p{n}-auth (port {lb.port(f'p{n}-auth')}) validates "
              f"www.example.lab.: flags {' '.join(sorted(last.flags))}")
    finally:
        ub.stop()


# --------------------------------------------------------------------------- 2


def test_leader_follower_add_and_remove_at_once():
    def body(lb: Lab, probe: Probe, tmp: Path):
        t0 = time.monotonic()
        since = now_stamp()
        e = lab("edit", "--dir", lb.dir, "--add-provider", "3", "--offboard", "1", "--nsmgmt", "agent")
        no_crash(e)
        check("started p3-agent" in e.stdout, "lab edit --add-provider 3 --offboard 1\n  " + e.describe())
        lab_wait(lb)
        lb.reload()
        agents = ["p1-agent", "p2-agent", "p3-agent"]
        print(f"  p3 added and p1 removed in {time.monotonic() - t0:.1f} s; {seconds_of(lb, agents, since)}")
        for a in ("p2-agent", "p3-agent"):
            pj = lb.process_json(a)
            check(pj["process"] == "none" and pj["mode"] == "leader/follower"
                  and pj["leader"] == "agent.p2.lab."
                  and sorted(pj["members"]) == ["agent.p2.lab.", "agent.p3.lab."],
                  f"{a} agent process: {pj}")
            done = [c["process"] for c in completions(lb, a, since)]
            check(done == ["add-signer", "remove-signer"],
                  f"{a} completed {done} since the edit; expected add-signer, then remove-signer")
        elected = lb.log_events("p2-agent", "agent_leader_elected", since)
        check(elected, "p2-agent logged no agent_leader_elected after the edit")
        acks = lb.log_events("p3-agent", "agent_leader_acknowledged", since)
        check(any(a.get("leader") == "agent.p2.lab." for a in acks),
              f"p3-agent did not acknowledge agent.p2.lab. as leader: {acks}")
        print(f"  leader agent.p2.lab. elected, term {elected[-1].get('term')}, at {elected[-1]['ts']}")
        check_parent(lb, [2, 3])
        check_keys(lb, [2, 3])
        for n in (2, 3):
            dnssec_verify(lb.axfr_text(n), tmp, f"p{n}-auth")
        print(f"  one-step rule: {check_one_step_rule(lb, agents)} step events checked")

    scenario("agent-proc-lf", ["--providers", "2", "--spare", "1", "--ttl", "2",
                               "--sync", "leader-follower"], body)


# --------------------------------------------------------------------------- 3


def test_algorithm_mismatch_stops_at_step_1():
    def body(lb: Lab, probe: Probe, tmp: Path):
        cfg = Path(lb.procs["p2-signer"]["config"])
        text = cfg.read_text()
        check("algorithm: ecdsap256sha256" in text, "p2-signer's policy:\n" + text)
        cfg.write_text(text.replace("algorithm: ecdsap256sha256", "algorithm: ed25519"))
        ds_before = lb.parent_ds()
        e = lab("edit", "--dir", lb.dir, "--add-provider", "2")
        no_crash(e)
        lb.reload()
        check(lb.signer_keys(2)["ksk"]["file"].endswith(".key")
              and "+015+" in lb.signer_keys(2)["ksk"]["file"], "p2-signer does not sign with Ed25519")
        pj = wait_for("p1-agent's add signer to fail at step 1",
                      lambda: (lambda p: p if p["status"] == "failed" else None)(lb.process("p1-agent")),
                      60)
        check(pj["process"] == "add-signer" and pj["step"] == 1 and "algorithm mismatch" in pj["error"],
              f"p1-agent process: {pj}")
        print(f"  p1-agent: {pj['process']} step {pj['step']} {pj['status']}: {pj['error']}")
        text_out = lb.ctl("p1-agent", "agent", "process", ZONE)
        no_crash(text_out)
        check(pj["error"] in text_out.stdout and "failed" in text_out.stdout,
              "agent process (text) does not show the error:\n" + text_out.stdout)
        p2j = wait_for("p2-agent's add signer to fail at step 1 too",
                       lambda: (lambda p: p if p["status"] == "failed" else None)(lb.process("p2-agent")),
                       30)
        check(p2j["step"] == 1 and "algorithm mismatch" in p2j["error"], f"p2-agent process: {p2j}")
        time.sleep(3)  # the zone must keep validating while the process stands failed
        check(lb.parent_ds() == ds_before, f"the parent's DS changed: {ds_before} -> {lb.parent_ds()}")
        check(lb.parent_ns() == {"ns.p1.example.lab."}, f"parent NS: {lb.parent_ns()}")
        check(lb.dnskeys(1) == {lb.signer_keys(1)[k]["key"] for k in ("ksk", "zsk")},
              f"p1-auth's DNSKEY RRset changed: {lb.dnskeys(1)}")
        w = lab("wait", "--dir", lb.dir, "--timeout", "5", check_rc=None, timeout=60)
        no_crash(w)
        check(w.rc == 1 and "algorithm mismatch" in w.stderr, "lab wait --timeout 5\n  " + w.describe())
        print("  lab wait: " + w.stderr.strip().splitlines()[0])

    scenario("agent-proc-alg", ["--providers", "1", "--spare", "1", "--ttl", "2"], body)


# --------------------------------------------------------------------------- 4


def test_kill_and_pause_during_add():
    ttl = 4

    def body(lb: Lab, probe: Probe, tmp: Path):
        since = now_stamp()
        e = lab("edit", "--dir", lb.dir, "--add-provider", "2", "--nsmgmt", "agent")
        no_crash(e)
        lb.reload()
        pj = wait_for("p2-agent in add signer at step 6 or later",
                      lambda: (lambda p: p if p["process"] == "add-signer" and p["step"] >= 6 else None)(
                          lb.process("p2-agent")), 60, 0.05)
        k = lab("stop", "--kill", "p2-agent", "--dir", lb.dir)
        no_crash(k)
        steps = [int(s["step"]) for s in lb.log_events("p2-agent", "agent_process_step", since)]
        p2_step = max([pj["step"], *steps[-1:]])
        print(f"  p2-agent killed (kill -9) in add signer step {p2_step}")
        time.sleep(2)

        def p1_waits():
            p1 = lb.process("p1-agent")
            check(p1["process"] == "add-signer" and p1["step"] <= p2_step + 1,
                  f"p1-agent with p2-agent dead at step {p2_step}: {p1}")
            return p1 if "agent.p2.lab." in p1["waiting_for"] or "report" in p1["waiting_for"] else None
        p1 = wait_for("p1-agent to wait for agent.p2.lab.", p1_waits, 3 * ttl, 0.3)
        print(f"  p1-agent: step {p1['step']}, waiting for {p1['waiting_for']}")
        time.sleep(ttl)
        p1b = p1_waits()
        check(p1b and p1b["step"] == p1["step"], f"p1-agent moved while p2 was dead: {p1} -> {p1b}")
        lab("start", "p2-agent", "--dir", lb.dir)
        lb.reload()
        lab_wait(lb)
        resumed = lb.log_events("p2-agent", "agent_process_resumed", since)
        check(resumed and resumed[-1]["process"] == "add-signer",
              f"p2-agent did not log agent_process_resumed: {resumed}")
        print(f"  p2-agent resumed at step {resumed[-1]['step']}; {seconds_of(lb, ['p1-agent', 'p2-agent'], since)}")
        for a in ("p1-agent", "p2-agent"):
            pj = lb.process_json(a)
            check(pj["process"] == "none" and sorted(pj["members"]) == ["agent.p1.lab.", "agent.p2.lab."],
                  f"{a} after the add: {pj}")
        check_parent(lb, [1, 2])
        check_keys(lb, [1, 2])

        # Pause: p1's agent stops (SIGTERM) in remove signer; p2 must wait for it.
        since = now_stamp()
        e = lab("edit", "--dir", lb.dir, "--offboard", "1")
        no_crash(e)
        wait_for("p2-agent in remove signer at step 2 or later",
                 lambda: (lambda p: p["process"] == "remove-signer" and p["step"] >= 2)(
                     lb.process("p2-agent")), 60, 0.05)
        lab("stop", "p1-agent", "--dir", lb.dir)
        p1_steps = [int(s["step"]) for s in lb.log_events("p1-agent", "agent_process_step", since)]
        p1_last = p1_steps[-1] if p1_steps else 0
        first = lb.process("p2-agent")
        print(f"  p1-agent stopped (SIGTERM) at remove signer step {p1_last}; p2-agent at step "
              f"{first['step']}")
        seen = []
        t_end = time.monotonic() + 3 * ttl
        while time.monotonic() < t_end:
            p2 = lb.process("p2-agent")
            check(p2["process"] == "remove-signer" and p2["step"] <= p1_last + 1,
                  f"p2-agent with p1-agent stopped at step {p1_last}: {p2}")
            seen.append((p2["step"], p2["waiting_for"]))
            time.sleep(0.5)
        last_step, last_wait = seen[-1]
        check(all(s == last_step for s, _ in seen[len(seen) // 2:]) and "agent.p1.lab." in last_wait,
              f"p2-agent did not pause waiting for agent.p1.lab.: {seen}")
        print(f"  p2-agent paused at step {last_step} for {3 * ttl} s: {last_wait}")
        lab("start", "p1-agent", "--dir", lb.dir)
        lb.reload()
        lab_wait(lb)
        print(f"  remove signer done; {seconds_of(lb, ['p1-agent', 'p2-agent'], since)}")
        check_parent(lb, [2])
        p2k = lb.signer_keys(2)
        check(lb.dnskeys(2) == {p2k["ksk"]["key"], p2k["zsk"]["key"]},
              f"p2-auth's DNSKEY RRset after p1 left: {lb.dnskeys(2)}")
        print(f"  one-step rule: {check_one_step_rule(lb, ['p1-agent', 'p2-agent'])} step events checked")

    scenario("agent-proc-kill", ["--providers", "1", "--spare", "1", "--ttl", str(ttl)], body)


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
