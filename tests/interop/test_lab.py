"""`hsyncctl lab` (docs/lab.md) end to end, with Debian's Unbound as the validator:

- `lab up --providers 1` in a temporary directory: every process runs (the agent has done
  its "add signer" process: the parent serves the DS), the spare provider p2 is planned but
  not started, status --json names every config, key file and port, and the TSIG key files
  work with dig -k;
- the delegation follower logged the stub it started with (the parent's NS set), and
  status shows the parent's NS set and Unbound's stub agree;
- Unbound answers www.example.lab. validated (AD), the lab's own DNS view agrees;
- an owner change (`lab edit`) while `lab probe --require-ad` runs: every hop serves the
  new serial, Unbound returns the new name validated within a bound, and the probe sees
  zero SERVFAIL, zero timeouts and no answer without AD;
- the probe is a real oracle: a wrong DS at the parent makes it fail with SERVFAIL and an
  Extended DNS Error (RFC 8914) naming the DNSSEC failure;
- `lab down` leaves no process and no listening port behind;
- bad input: `lab up` twice, `lab down` and `lab status` with nothing up, a port already
  taken, a non-lab directory, bad `lab edit` arguments: one clear message, exit 1, no
  stray process;
- a spare provider joins (`lab edit --add-provider 2 --nsmgmt agent`, then `lab wait`):
  its processes start, the agents run "add signer", the parent's NS set grows and the
  follower points Unbound's stub at both providers; `--offboard 1` takes p1 out again.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import hsynctest
from hsynctest import check, fail

NEW_NAME_BOUND = 15.0  # seconds from `lab edit` until Unbound gives the new name with AD


def lab(*args, **kw):
    kw.setdefault("timeout", 120)
    return hsynctest.hsyncctl("lab", *args, **kw)


def lab_processes(d: Path) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line mentions directory d."""
    needle = str(d).encode()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state = stat[stat.rfind(")") + 2:][:1]
        if needle in cmd and state not in ("Z", "X"):
            out.append(int(entry))
    return out


def port_bound(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return True
    return False


def resolve(port: int, name: str, qtype: str = "A") -> hsynctest.DigAnswer:
    r = hsynctest.run([hsynctest.require_program("dig"), "+dnssec", "+time=2", "+tries=1",
                       "-p", str(port), "@127.0.0.1", name, qtype], check_rc=None, timeout=20)
    return hsynctest.DigAnswer(r.stdout)


def rdata_of(ans: hsynctest.DigAnswer, qtype: str) -> list[str]:
    return sorted(" ".join(rr.split()[4:]) for rr in ans.sections["answer"]
                  if rr.split()[3] == qtype)


def follower_events(d: Path, event: str) -> list[str]:
    log = d / "delegation-follower" / "log"
    return [ln for ln in log.read_text().splitlines() if f"event={event} " in ln] if log.exists() else []


def stub_of(line: str) -> set[str]:
    """The NS names of a follower line: the new set of stub_changed, the set of start."""
    m = re.search(r'\b(?:new|stub)="?([^"=]*?)"?(?: \w+=|$)', line)
    return set(m.group(1).split()) if m else set()


def wait_for(what: str, cond, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(interval)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


def no_crash(res: hsynctest.Result) -> None:
    text = res.stdout + res.stderr
    for bad in ("AddressSanitizer", "terminate called", "Traceback", "runtime error:"):
        check(bad not in text, f"{bad!r} in the output\n  " + res.describe())


def test_lab_up_change_probe_down():
    with hsynctest.TempDir("lab") as tmp:
        d = tmp / "lab"
        try:
            t0 = time.monotonic()
            up = lab("up", "--providers", "1", "--dir", d)
            no_crash(up)
            print(f"  lab up: {time.monotonic() - t0:.1f}s; " + up.lines[-6])
            st = json.loads(lab("status", "--json", "--dir", d).stdout)
            procs = {p["name"]: p for p in st["processes"]}
            spare = {"p2-combiner", "p2-signer", "p2-auth", "p2-agent"}
            want = {"parent", "parent-signer", "owner", "p1-combiner", "p1-signer", "p1-auth",
                    "p1-agent", "resolver", "delegation-follower"}
            check(set(procs) == want | spare, f"processes {sorted(procs)}, want {sorted(want | spare)}")
            check(st["all_alive"] and all(procs[n]["alive"] and procs[n]["pid"] > 0 for n in want),
                  f"not every process is alive: {[(n, p['alive']) for n, p in procs.items()]}")
            # The spare provider: planned (ports, config) but not started, not in the zone.
            for n in spare:
                p = procs[n]
                check(p["state"] == "not started" and not p["started"] and p["pid"] == 0
                      and not p["alive"] and p["dns_port"] > 0 and Path(p["config"]).is_file(),
                      f"spare {n}: {p}")
            check(st["planned_providers"] == 2 and st["active_providers"] == [1] and st["spare"] == 1
                  and st["ttl"] == 10 and st["sync"] == "peer",
                  f"lab.json: planned {st['planned_providers']} active {st['active_providers']} "
                  f"spare {st['spare']} ttl {st['ttl']} sync {st['sync']}")
            owner_zone = Path(procs["owner"]["zone_file"]).read_text()
            check("agent.p1.lab." in owner_zone and "agent.p2.lab." not in owner_zone
                  and "ns.p2" not in owner_zone, "owner's zone names the spare provider:\n" + owner_zone)
            for n in want:
                p = procs[n]
                check((not p["config"] or Path(p["config"]).is_file()) and Path(p["log"]).is_file(),
                      f"{p['name']}: config {p['config']} or log {p['log']} missing")
                for kf in p["tsig_key_files"]:
                    check(Path(kf).is_file() and 'algorithm hmac-sha256;' in Path(kf).read_text(),
                          f"{p['name']}: TSIG key file {kf} missing or not BIND's format")

            # The follower began with the parent's delegation: p1 only.
            starts = follower_events(d, "start")
            check(len(starts) == 1 and stub_of(starts[0]) == {"ns.p1.example.lab."}
                  and f"127.0.0.1@{procs['p1-auth']['dns_port']}" in starts[0],
                  f"follower log: {starts}")
            check(st["delegation"]["parent_ns"] == ["ns.p1.example.lab."]
                  and st["delegation"]["resolver_stub"] == ["ns.p1.example.lab."],
                  f"delegation: {st['delegation']}")
            check(all(s["in_sync"] for s in st["serials"] if s["process"] != "resolver"),
                  f"hops not in sync after up: {st['serials']}")
            res_port = procs["resolver"]["dns_port"]
            auth = procs["p1-auth"]

            # The key file of the last hop works with dig -k (a signed AXFR).
            axfr = hsynctest.run([hsynctest.require_program("dig"), "-k", auth["tsig_key_files"][0],
                                  "+onesoa", "-p", str(auth["dns_port"]), "@127.0.0.1",
                                  "example.lab.", "AXFR"], timeout=30)
            check("RRSIG" in axfr.stdout and "TSIG" in axfr.stdout and "Transfer failed" not in axfr.stdout,
                  "dig -k AXFR from p1-auth\n  " + axfr.describe())

            a = resolve(res_port, "www.example.lab.")
            check(a.rcode == "NOERROR" and "ad" in a.flags and rdata_of(a, "A") == ["192.0.2.1"],
                  f"www.example.lab. through Unbound: {a!r}\n{a.raw}")

            # Bad input while it runs: up twice, bad edits. Nothing new starts.
            before = sorted(lab_processes(d))
            r = lab("up", "--providers", "1", "--dir", d, check_rc=1)
            no_crash(r)
            check("a lab is already running in" in r.stderr and "lab down first" in r.stderr,
                  "second lab up\n  " + r.describe())
            for args, msg in ((["--delete", "nothere A"], "nothing in example.lab. matches"),
                              (["--add", "bad 30 IN A 192.0.2.300"], "--add"),
                              (["--hsync-state", "p7=on"], "pN=on or pN=off"),
                              (["--add", "x.other.test. 30 IN A 192.0.2.1"], "is not in example.lab."),
                              (["--add-provider", "1"], "is running already"),
                              (["--add-provider", "7"], "the lab has providers 1 to 2"),
                              (["--add-provider", "2", "--offboard", "2"], "in one edit"),
                              (["--nsmgmt", "both"], "--nsmgmt must be owner or agent"),
                              (["--zone", "lab.", "--offboard", "1"], "applies to example.lab.")):
                r = lab("edit", "--dir", d, *args, check_rc=1)
                no_crash(r)
                check(msg in r.stderr, f"lab edit {args}: expected {msg!r}\n  " + r.describe())
            check(sorted(lab_processes(d)) == before,
                  f"processes changed by refused commands: {before} -> {sorted(lab_processes(d))}")

            # An owner change under a probe that also wants AD on every answer.
            probe = subprocess.Popen(
                [hsynctest.hsyncctl_path(), "lab", "probe", "--dir", str(d), "--duration", "7",
                 "--interval", "100", "--require-ad", "--json",
                 "--names", "www.example.lab/A,fresh.example.lab/A,example.lab/SOA,"
                            "example.lab/DNSKEY,lab/SOA,nothing.example.lab/A"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
            try:
                time.sleep(1.5)
                t_edit = time.monotonic()
                # (p1=on: it is ON already; turning the only provider OFF would start the
                # agents' "remove signer".)
                e = lab("edit", "--dir", d, "--add", "fresh 30 IN A 192.0.2.77",
                        "--delete", "www A", "--add", "www 30 IN A 192.0.2.2",
                        "--hsync-state", "p1=on")
                no_crash(e)
                check(re.search(r"2 added, 1 removed, 0 HSYNC changed; serial 1 -> 2", e.stdout)
                      and "HSYNC of agent.p1.lab. is already ON" in e.stdout
                      and "every hop serves the change" in e.stdout, "lab edit\n  " + e.describe())
                print("  " + " | ".join(e.lines))
                seen = None
                while time.monotonic() - t_edit < NEW_NAME_BOUND:
                    seen = resolve(res_port, "fresh.example.lab.")
                    if seen.rcode == "NOERROR" and "ad" in seen.flags and rdata_of(seen, "A") == ["192.0.2.77"]:
                        break
                    time.sleep(0.2)
                else:
                    fail(f"Unbound did not answer fresh.example.lab. A 192.0.2.77 with AD within "
                         f"{NEW_NAME_BOUND}s: {seen!r}\n{seen.raw if seen else ''}")
                print(f"  new name validated through Unbound {time.monotonic() - t_edit:.1f}s after lab edit")
                out, err = probe.communicate(timeout=60)
            finally:
                if probe.poll() is None:
                    probe.kill()
                    probe.wait()
            try:
                pr = json.loads(out)
            except json.JSONDecodeError:
                fail(f"lab probe --json printed no JSON (rc {probe.returncode}):\n{out}\n{err}")
            print(f"  probe: {pr['queries']} queries, rcodes {pr['rcodes']}, SERVFAIL {pr['servfail']}, "
                  f"timeouts {pr['timeouts']}, validated {pr['validated']}, not validated {pr['not_validated']}")
            check(probe.returncode == 0 and pr["pass"] and pr["servfail"] == 0 and pr["timeouts"] == 0
                  and pr["not_validated"] == 0 and pr["queries"] >= 6 * 30,
                  f"probe through the change failed (rc {probe.returncode}): {json.dumps(pr)[:1500]}\n{err}")
            check(pr["rcodes"].get("NXDOMAIN", 0) > 0 and pr["rcodes"].get("NOERROR", 0) > 0,
                  f"probe rcodes {pr['rcodes']}: expected both NOERROR and NXDOMAIN answers")
            st = json.loads(lab("status", "--json", "--dir", d).stdout)
            serials = {s["process"]: s["serial"] for s in st["serials"] if s["zone"] == "example.lab."}
            check(serials["owner"] == 2 and all(s["in_sync"] for s in st["serials"] if s["process"] != "resolver"),
                  f"serials after the change: {st['serials']}")

            # The probe catches a broken chain of trust: a DS at the parent that matches no key,
            # put into the parent's zone file by its operator (an operator's DS wins over the
            # one the parent role took from the CDS: docs/parent.md).
            bad_ds = "example 30 IN DS 4711 13 2 " + "00" * 32
            e = lab("edit", "--dir", d, "--zone", "lab.", "--add", bad_ds)
            no_crash(e)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                if resolve(res_port, "www.example.lab.").rcode == "SERVFAIL":
                    break
                time.sleep(0.5)
            else:
                fail("Unbound never failed www.example.lab. after the parent's DS was broken")
            r = lab("probe", "--dir", d, "--duration", "1", "--names", "www.example.lab/A", check_rc=1)
            no_crash(r)
            check(re.search(r"SERVFAIL www\.example\.lab\. A: EDE (6|9|10) \(", r.stdout) is not None,
                  "probe with a broken DS: expected SERVFAIL lines with EDE 6/9/10\n  " + r.describe())
            print("  broken DS: " + next(ln for ln in r.lines if "SERVFAIL www" in ln).strip()[:200])

            # Down: nothing left.
            ports = [p[k] for p in procs.values() for k in ("dns_port", "management_port", "api_port")
                     if p.get(k)]
            dn = lab("down", "--dir", d)
            no_crash(dn)
            print("  " + dn.lines[-1])
            check(re.search(r"9 process\(es\) stopped", dn.stdout) is not None, "lab down\n  " + dn.describe())
            left = lab_processes(d)
            check(not left, f"processes left after lab down: {left}")
            busy = [p for p in ports if port_bound(p)]
            check(not busy, f"ports still bound after lab down: {busy}")
            check(not (d / "lab.json").exists(), "lab.json still there after lab down")
        finally:
            if (d / "lab.json").exists():
                hsynctest.hsyncctl("lab", "down", "--dir", d, check_rc=None, timeout=60)


def test_lab_bad_input():
    with hsynctest.TempDir("lab-bad") as tmp:
        d = tmp / "lab"
        try:
            for cmd, msg in ((["down"], "no lab is running in"), (["status"], "no lab in"),
                             (["probe"], "no lab in"), (["edit", "--add", "a 30 IN A 192.0.2.1"], "no lab in")):
                r = lab(*cmd, "--dir", d, check_rc=1)
                no_crash(r)
                check(msg in r.stderr and len(r.stderr.strip().splitlines()) == 1,
                      f"lab {cmd[0]} with nothing up: expected one line with {msg!r}\n  " + r.describe())

            # A port of the lab's range already taken: a clear message, nothing started.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                s.listen()
                taken = s.getsockname()[1]
                base = taken - 4  # the owner's DNS port
                r = lab("up", "--providers", "1", "--dir", d, "--base-port", base, check_rc=1)
            no_crash(r)
            # It names the taken port, or one below it in the lab's range that another
            # process on this machine happened to hold at that moment.
            named = re.search(r"port (\d+) .*already in use", r.stderr)
            check(named is not None and base <= int(named.group(1)) <= taken,
                  "lab up with a taken port\n  " + r.describe())
            check(not lab_processes(d) and not (d / "lab.json").exists(),
                  f"lab up with a taken port left {lab_processes(d)} / a state file")

            # A directory with other files in it is not taken over.
            other = tmp / "other"
            other.mkdir()
            (other / "precious.txt").write_text("mine\n")
            r = lab("up", "--providers", "1", "--dir", other, check_rc=1)
            no_crash(r)
            check("is not empty and is not a lab directory" in r.stderr
                  and (other / "precious.txt").read_text() == "mine\n", "lab up in a non-lab dir\n  " + r.describe())

            r = lab("up", "--providers", "0", "--dir", d, check_rc=None)
            check(r.rc not in (0, None) and not lab_processes(d), "lab up --providers 0\n  " + r.describe())
            r = lab("up", "--providers", "5", "--spare", "5", "--dir", d, check_rc=1)
            no_crash(r)
            check("plan at most 9 providers" in r.stderr and not lab_processes(d),
                  "lab up --providers 5 --spare 5\n  " + r.describe())
            r = lab("up", "--sync", "sometimes", "--dir", d, check_rc=None)
            check(r.rc not in (0, None) and not lab_processes(d), "lab up --sync sometimes\n  " + r.describe())
        finally:
            if (d / "lab.json").exists():
                hsynctest.hsyncctl("lab", "down", "--dir", d, check_rc=None, timeout=60)


def test_lab_add_provider_offboard():
    with hsynctest.TempDir("lab-add") as tmp:
        d = tmp / "lab"
        try:
            up = lab("up", "--providers", "1", "--spare", "1", "--ttl", "5", "--dir", d, timeout=240)
            no_crash(up)
            st = json.loads(lab("status", "--json", "--dir", d).stdout)
            procs = {p["name"]: p for p in st["processes"]}
            res_port = procs["resolver"]["dns_port"]
            check(st["ttl"] == 5 and "$TTL 5" in Path(procs["owner"]["zone_file"]).read_text(),
                  "--ttl 5 not in the owner's zone")
            check("dnskey-ttl: 5" in Path(procs["p1-signer"]["config"]).read_text(),
                  "--ttl 5 not the signers' DNSKEY TTL")

            # p2 joins; NSMgmt AGENT, so the agents publish the NS set and CSYNC.
            t0 = time.monotonic()
            e = lab("edit", "--dir", d, "--add-provider", "2", "--nsmgmt", "agent", timeout=180)
            no_crash(e)
            check(re.search(r"2 added, 0 removed, 1 HSYNC changed; serial 1 -> 2", e.stdout)
                  and "started p2-agent" in e.stdout, "lab edit --add-provider 2\n  " + e.describe())
            st = json.loads(lab("status", "--json", "--dir", d).stdout)
            procs = {p["name"]: p for p in st["processes"]}
            check(st["active_providers"] == [1, 2] and st["all_alive"]
                  and all(procs[f"p2-{w}"]["state"] == "running"
                          for w in ("combiner", "signer", "auth", "agent")),
                  f"after --add-provider 2: active {st['active_providers']}, "
                  f"{[(n, p['state']) for n, p in procs.items()]}")
            zone = Path(procs["owner"]["zone_file"]).read_text()
            check(re.search(r"HSYNC\s+ON AGENT YES agent\.p2\.lab\.", zone)
                  and re.search(r"HSYNC\s+ON AGENT YES agent\.p1\.lab\.", zone)
                  and re.search(r"ns\.p2\.example\.lab\.\s+5\s+IN\s+A\s+127\.0\.0\.1", zone),
                  "owner's zone after --add-provider 2:\n" + zone)

            w = lab("wait", "--dir", d, "--timeout", "180", timeout=240)
            no_crash(w)
            print(f"  p2 added in {time.monotonic() - t0:.1f}s; " + w.lines[-1][:120])
            both = {"ns.p1.example.lab.", "ns.p2.example.lab."}
            wait_for("the follower to point Unbound at both providers",
                     lambda: any(stub_of(ln) == both for ln in follower_events(d, "stub_changed")), 30)
            st = json.loads(lab("status", "--json", "--dir", d).stdout)
            check(set(st["delegation"]["parent_ns"] or []) == both
                  and set(st["delegation"]["resolver_stub"]) == both, f"delegation: {st['delegation']}")
            wait_for("www.example.lab. validated through Unbound with two providers",
                     lambda: "ad" in resolve(res_port, "www.example.lab.").flags, 30)

            # p1 leaves: "remove signer", the delegation and the stub shrink to p2.
            e = lab("edit", "--dir", d, "--offboard", "1")
            no_crash(e)
            check("1 HSYNC changed" in e.stdout, "lab edit --offboard 1\n  " + e.describe())
            w = lab("wait", "--dir", d, "--timeout", "180", timeout=240)
            no_crash(w)
            wait_for("the follower to point Unbound at p2 only",
                     lambda: any(stub_of(ln) == {"ns.p2.example.lab."}
                                 for ln in follower_events(d, "stub_changed")), 30)
            r = lab("probe", "--dir", d, "--duration", "3", "--require-ad",
                    "--names", "www.example.lab/A,example.lab/DNSKEY")
            no_crash(r)
            print("  " + r.lines[-1])
            dn = lab("down", "--dir", d)
            check(re.search(r"13 process\(es\) stopped", dn.stdout) is not None, "lab down\n  " + dn.describe())
            check(not lab_processes(d), f"processes left after lab down: {lab_processes(d)}")
        finally:
            if (d / "lab.json").exists():
                hsynctest.hsyncctl("lab", "down", "--dir", d, check_rc=None, timeout=60)


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
