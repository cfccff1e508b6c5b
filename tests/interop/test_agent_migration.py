"""Migration (draft-leon-distributed-multi-signer, "Migration"): moving a zone into and out of
multi-signer operation changes nothing a resolver sees until a provider is really added or
removed. Each scenario runs a lab (docs/lab.md) with Debian's Unbound validating and a
probe (`lab probe --require-ad`) for the whole scenario:

- an HSYNC record for the only provider, added to an already signed single-signer zone:
  no DNSKEY, CDS, NS or DS changes and the agent sends its combiner nothing;
- NSMgmt OWNER -> AGENT while the providers' nameservers and the owner's NS RRset agree:
  nothing served changes, nothing is sent;
- offboarding all but one provider, then NSMgmt AGENT -> OWNER (the owner's NS RRset
  trimmed to the remaining provider): the zone is single-signer again, with that
  provider's keys and DS alone, and validates throughout;
- a provider with Sign=NO (`lab up --no-sign 2`: it serves p1's signed zone): its
  nameservers join the NS set and the parent's delegation, it never adds a DNSKEY or a CDS
  (none at the parent, none in its identity zone).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import hsynctest
from hsynctest import check


def lab(*args, **kw):
    kw.setdefault("timeout", 240)
    return hsynctest.hsyncctl("lab", *args, **kw)


class Lab:
    def __init__(self, d: Path):
        self.dir = d
        self.reload()

    def reload(self) -> None:
        st = json.loads(lab("status", "--json", "--dir", self.dir).stdout)
        self.procs = {p["name"]: p for p in st["processes"]}

    def port(self, name: str) -> int:
        return self.procs[name]["dns_port"]

    def dig(self, name: str, qname: str, qtype: str) -> list[str]:
        r = hsynctest.run([hsynctest.require_program("dig"), "+norec", "+time=2", "+tries=2",
                           "-p", str(self.port(name)), "@127.0.0.1", qname, qtype],
                          check_rc=None, timeout=20)
        ans = hsynctest.DigAnswer(r.stdout)
        out = []
        for section in ("answer", "authority"):
            for rr in ans.sections.get(section, []):
                f = rr.split(None, 4)
                if len(f) == 5 and f[3] == qtype and f[0].lower() == qname.lower():
                    out.append(f[4])
        return sorted(out)

    def snapshot(self) -> dict:
        """What resolvers see of the zone's keys and delegation, at every provider's auth
        and at the parent."""
        snap = {}
        for n, p in self.procs.items():
            if p["role"] == "auth" and n.endswith("-auth") and p.get("state") == "running":
                for t in ("DNSKEY", "CDS", "NS", "CSYNC"):
                    snap[f"{n} {t}"] = self.dig(n, "example.lab.", t)
        for t in ("DS", "NS"):
            snap[f"parent {t}"] = self.dig("parent-signer", "example.lab.", t)
        return snap

    def metric(self, name: str, metric: str, labels: str = "") -> float:
        p = self.procs[name]
        status, body = hsynctest.management_request(p["management_port"], "GET", "/metrics",
                                                    key_file=p["management_key_file"])
        check(status == 200, f"/metrics of {name}: HTTP {status}")
        return sum(float(line.split()[-1]) for line in body.splitlines()
                   if line.startswith(metric) and labels in line)

    def process(self, name: str) -> dict:
        p = self.procs[name]
        r = hsynctest.hsyncctl("--server", f"127.0.0.1:{p['management_port']}", "--key",
                               p["management_key_file"], "agent", "process", "example.lab.",
                               "--json")
        return json.loads(r.stdout)

    def updates_sent(self) -> float:
        return sum(self.metric(n, "hsync_agent_updates_total", 'outcome="sent"')
                   for n, p in self.procs.items()
                   if p["role"] == "agent" and p.get("state") == "running")


class Probe:
    """`lab probe --require-ad` for as long as the scenario runs."""

    def __init__(self, d: Path):
        self.proc = subprocess.Popen(
            [hsynctest.hsyncctl_path(), "lab", "probe", "--dir", str(d), "--duration", "900",
             "--require-ad", "--json", "--names",
             "www.example.lab/A,example.lab/DNSKEY,example.lab/NS"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self) -> dict:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        j = json.loads(out)
        check(j["queries"] > 0 and j["servfail"] == 0 and j["timeouts"] == 0
              and j["not_validated"] == 0, f"the probe was not clean: {out}\n{err}")
        return j


def settled(lb: Lab) -> None:
    lab("wait", "--dir", lb.dir, "--timeout", "120")
    lb.reload()


def test_hsync_added_to_a_single_signer_zone_changes_nothing():
    with hsynctest.TempDir("migr-add") as tmp:
        d = tmp / "lab"
        try:
            lab("up", "--providers", "1", "--spare", "0", "--ttl", "2", "--dir", d)
            lb = Lab(d)
            # A single-signer zone: signed, with its DS at the parent, and no HSYNC RRset.
            lab("edit", "--dir", d, "--delete", "@ HSYNC")
            settled(lb)
            before = lb.snapshot()
            check(len(before["parent DS"]) == 1 and len(before["p1-auth DNSKEY"]) == 2,
                  f"a signed single-signer zone with its DS: {before}")
            probe = Probe(d)
            sent = lb.updates_sent()
            lab("edit", "--dir", d, "--add", "@ 2 IN HSYNC ON OWNER YES agent.p1.lab.")
            settled(lb)
            p = lb.process("p1-agent")
            check(p["process"] == "none" and p["members"] == ["agent.p1.lab."],
                  f"the agent ran add-signer for itself to the end: {p}")
            after = lb.snapshot()
            hsynctest.assert_sets_equal([f"{k}: {v}" for k, v in before.items()],
                                        [f"{k}: {v}" for k, v in after.items()],
                                        "what is served, before and after the HSYNC record")
            check(lb.updates_sent() == sent,
                  f"the agent sent its combiner {lb.updates_sent() - sent} UPDATE(s)")
            j = probe.finish()
            print(f"  nothing served changed; probe {j['queries']} queries, all validated")
        finally:
            lab("down", "--dir", d, check_rc=None, timeout=60)


def test_nsmgmt_to_agent_and_back_to_single_signer():
    with hsynctest.TempDir("migr-ns") as tmp:
        d = tmp / "lab"
        try:
            lab("up", "--providers", "2", "--spare", "0", "--ttl", "2", "--dir", d)
            lb = Lab(d)
            before = lb.snapshot()
            probe = Probe(d)
            sent = lb.updates_sent()
            # OWNER -> AGENT: the providers' nameservers are the owner's NS RRset already.
            lab("edit", "--dir", d, "--nsmgmt", "agent")
            settled(lb)
            after = lb.snapshot()
            hsynctest.assert_sets_equal([f"{k}: {v}" for k, v in before.items()],
                                        [f"{k}: {v}" for k, v in after.items()],
                                        "what is served, before and after NSMgmt AGENT")
            check(lb.updates_sent() == sent,
                  f"NSMgmt AGENT with agreeing NS sets: {lb.updates_sent() - sent} UPDATE(s)")

            # All but one provider leave; then the owner takes NS back.
            t0 = time.monotonic()
            lab("edit", "--dir", d, "--offboard", "1")
            settled(lb)
            removed_in = time.monotonic() - t0
            lab("edit", "--dir", d, "--nsmgmt", "owner", "--delete", "@ NS ns.p1.example.lab.")
            settled(lb)
            final = lb.snapshot()
            keys = final["p2-auth DNSKEY"]
            check(len(keys) == 2 and sum(k.startswith("257 ") for k in keys) == 1,
                  f"p2 serves its own KSK and ZSK only: {keys}")
            check(final["parent NS"] == ["ns.p2.example.lab."] and len(final["parent DS"]) == 1,
                  f"the parent delegates to p2 alone, with one DS: {final}")
            check(final["p2-auth NS"] == ["ns.p2.example.lab."] and not final["p2-auth CDS"]
                  and not final["p2-auth CSYNC"], f"p2's apex: {final}")
            p = lb.process("p2-agent")
            check(p["process"] == "none" and p["members"] == ["agent.p2.lab."], f"p2-agent: {p}")
            j = probe.finish()
            print(f"  p1 removed in {removed_in:.1f}s; single-signer again; "
                  f"probe {j['queries']} queries, all validated")
        finally:
            lab("down", "--dir", d, check_rc=None, timeout=60)


def test_a_provider_with_sign_no():
    with hsynctest.TempDir("migr-nosign") as tmp:
        d = tmp / "lab"
        try:
            lab("up", "--providers", "1", "--spare", "1", "--no-sign", "2", "--ttl", "2",
                "--dir", d)
            lb = Lab(d)
            probe = Probe(d)
            lab("edit", "--dir", d, "--add-provider", "2", "--nsmgmt", "agent")
            settled(lb)
            zone = (d / "owner" / "example.lab.zone").read_text()
            check("ON AGENT NO agent.p2.lab." in zone, "p2's HSYNC record says Sign=NO:\n" + zone)
            snap = lb.snapshot()
            check(snap["parent NS"] == ["ns.p1.example.lab.", "ns.p2.example.lab."],
                  f"p2's nameserver joined the delegation: {snap['parent NS']}")
            check(len(snap["parent DS"]) == 1, f"one DS (p1's KSK) at the parent: {snap}")
            check(snap["p2-auth DNSKEY"] == snap["p1-auth DNSKEY"]
                  and len(snap["p1-auth DNSKEY"]) == 2,
                  f"p2 serves p1's keys, and no key of its own: {snap}")
            check(lb.dig("p2-agent", "example.lab.agent.p2.lab.", "DNSKEY") == []
                  and lb.dig("p2-agent", "example.lab.agent.p2.lab.", "CDS") == [],
                  "p2's identity zone publishes no DNSKEY or CDS for the zone")
            check(lb.dig("p2-agent", "_ns.example.lab.agent.p2.lab.", "PTR")
                  == ["ns.p2.example.lab."], "p2 publishes its nameserver")
            p = lb.process("p1-agent")
            check(p["process"] == "none" and p["members"] == ["agent.p1.lab.", "agent.p2.lab."],
                  f"p1-agent: {p}")
            j = probe.finish()
            print(f"  Sign=NO provider added; probe {j['queries']} queries, all validated")
        finally:
            lab("down", "--dir", d, check_rc=None, timeout=60)


if __name__ == "__main__":
    import sys
    sys.exit(hsynctest.run_tests(globals()))
