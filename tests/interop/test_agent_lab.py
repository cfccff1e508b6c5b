"""The agent role (docs/agent.md) in a 3-provider lab, validated by Debian's Unbound and by
each agent's own libunbound:

- cold start: every agent publishes its identity zone (delegated from lab. with DS; Unbound
  answers its URI, SVCB, KEY and <zone>.<identity> records with AD), and every relation
  reaches OPERATIONAL; example.lab. is negotiated (DNS, peer) by every agent;
- kill -9 of one agent: the others see it go DEGRADED; restarted, it continues from its
  stored relations and every relation is OPERATIONAL again;
- a late zone transfer: an agent restarted without its zone (database gone, its signer
  stopped) answers HELLOs with REFUSED; the others retry with backoff and converge as soon
  as the zone arrives;
- a KEY withdrawn from an identity zone: the others' relations with that agent go to
  ERROR (not OPERATIONAL), with the reason; published again, they recover.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import hsynctest
from hsynctest import check, fail


def lab(*args, **kw):
    kw.setdefault("timeout", 180)
    return hsynctest.hsyncctl("lab", *args, **kw)


class Lab:
    def __init__(self, d: Path):
        self.dir = d
        self.reload()

    def reload(self) -> None:
        st = json.loads(lab("status", "--json", "--dir", self.dir, check_rc=None).stdout)
        self.procs = {p["name"]: p for p in st["processes"]}
        self.resolver_port = self.procs["resolver"]["dns_port"]

    def agents(self) -> list[str]:
        return sorted(n for n, p in self.procs.items() if p["role"] == "agent")

    def get(self, name: str, path: str):
        p = self.procs[name]
        status, body = hsynctest.management_request(p["management_port"], "GET", path,
                                                    key_file=p["management_key_file"])
        check(status == 200, f"GET {path} on {name}: HTTP {status} {body}")
        return json.loads(body)

    def ctl(self, name: str, *args, **kw) -> hsynctest.Result:
        p = self.procs[name]
        return hsynctest.hsyncctl("--server", f"127.0.0.1:{p['management_port']}", "--key",
                                  p["management_key_file"], *args, **kw)

    def peers(self, name: str) -> dict[str, dict]:
        return {p["identity"]: p for p in self.get(name, "/agent/peers")["peers"]}

    def metric(self, name: str, metric: str, labels: str = "") -> float:
        p = self.procs[name]
        status, body = hsynctest.management_request(p["management_port"], "GET", "/metrics",
                                                    key_file=p["management_key_file"])
        check(status == 200, f"/metrics of {name}: HTTP {status}")
        total = 0.0
        for line in body.splitlines():
            if line.startswith(metric) and labels in line:
                total += float(line.split()[-1])
        return total


def wait_for(what: str, cond, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    fail(f"timed out after {timeout:.0f} s waiting for {what}")


def all_operational(lb: Lab) -> bool:
    for a in lb.agents():
        peers = lb.peers(a)
        if len(peers) != len(lb.agents()) - 1:
            return False
        if any(p["state"] != "OPERATIONAL" for p in peers.values()):
            return False
    return True


def states(lb: Lab) -> str:
    out = []
    for a in lb.agents():
        try:
            out.append(a + ": " + ", ".join(f"{i} {p['state']} ({p['reason']})"
                                             for i, p in sorted(lb.peers(a).items())))
        except Exception as e:  # noqa: BLE001 - for the failure message only
            out.append(f"{a}: {e}")
    return "; ".join(out)


def dig_ad(port: int, name: str, qtype: str) -> list[str]:
    r = hsynctest.run([hsynctest.require_program("dig"), "+dnssec", "+time=2", "+tries=2",
                       "-p", str(port), "@127.0.0.1", name, qtype], check_rc=None, timeout=20)
    ans = hsynctest.DigAnswer(r.stdout)
    check(ans.rcode == "NOERROR", f"{name} {qtype} via Unbound: {ans.rcode}\n{r.stdout}")
    check("ad" in ans.flags, f"{name} {qtype} via Unbound is not validated (no AD)\n{r.stdout}")
    return [rr for rr in ans.sections["answer"] if rr.split()[3] == qtype]


def test_agents_in_a_three_provider_lab():
    with hsynctest.TempDir("hsync-agent-lab") as d:
        r = lab("up", "--providers", "3", "--spare", "0", "--dir", d, check_rc=None, timeout=300)
        if r.rc != 0:
            fail("lab up failed:\n" + r.describe())
        try:
            run_scenarios(Lab(d))
        finally:
            lab("down", "--dir", d, check_rc=None)


def run_scenarios(lb: Lab) -> None:
    agents = lb.agents()
    check(agents == ["p1-agent", "p2-agent", "p3-agent"], f"agents: {agents}")
    for a in agents:
        p = lb.procs[a]
        for k in ("identity", "dns_port", "management_port", "api_port", "provider"):
            check(k in p, f"lab status --json: {a} has no {k}")
        check(p["identity"] == f"agent.p{p['provider']}.lab.", f"{a} identity {p['identity']}")

    # --- cold start: lab up waited for OPERATIONAL; check what every agent says.
    check(all_operational(lb), "after lab up: " + states(lb))
    for a in agents:
        zones = json.loads(lb.ctl(a, "agent", "zones", "--json").stdout)
        check(len(zones) == 1 and zones[0]["zone"] == "example.lab.", f"{a} zones: {zones}")
        z = zones[0]
        own = lb.procs[a]["identity"]
        check(z["agents"][0] == own and sorted(z["agents"]) == sorted(
            lb.procs[x]["identity"] for x in agents), f"{a} agents (own first): {z['agents']}")
        check(z["state"] == "negotiated" and z["transport"] == "api" and z["sync"] == "peer",
              f"{a} negotiation (every agent offers the API and peer sync): {z}")
        peers = json.loads(lb.ctl(a, "agent", "peers", "--json").stdout)
        for p in peers:
            for k in ("identity", "state", "transport", "last_hello", "last_beat", "zones",
                      "error"):
                check(k in p, f"{a} agent peers --json: no {k} in {p}")
            check(p["transport"] == "api" and p["zones"] == 1 and p["error"] is None,
                  f"{a} peer {p}")
            check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", p["last_hello"] or ""),
                  f"last_hello is not RFC 3339: {p['last_hello']}")
        table = lb.ctl(a, "agent", "peers").stdout
        check(table.count("OPERATIONAL") == 2, f"{a} agent peers:\n{table}")
        check(lb.metric(a, "hsync_agent_relations", 'state="OPERATIONAL"') == 2,
              f"{a} /metrics relations")

    # The identity zones validate for a resolver we did not write.
    for n in (1, 2, 3):
        ident = f"agent.p{n}.lab."
        uri = dig_ad(lb.resolver_port, f"_dns._tcp.{ident}", "URI")
        check(any(f'"dns://dns.{ident[:-1]}:' in rr for rr in uri), f"URI of {ident}: {uri}")
        check(dig_ad(lb.resolver_port, f"dns.{ident}", "SVCB"), f"SVCB of {ident}")
        check(len(dig_ad(lb.resolver_port, f"dns.{ident}", "KEY")) == 1, f"KEY of {ident}")
        keys = dig_ad(lb.resolver_port, f"example.lab.{ident}", "DNSKEY")
        check(len(keys) == 2, f"example.lab.{ident} DNSKEY: its signer's KSK and ZSK: {keys}")
        check(len(dig_ad(lb.resolver_port, f"example.lab.{ident}", "CDS")) == 1, "CDS")
        ns = dig_ad(lb.resolver_port, f"_ns.example.lab.{ident}", "PTR")
        check(ns and ns[0].split()[-1] == f"ns.p{n}.example.lab.", f"nameservers: {ns}")
    # The identity zone as a secondary gets it: AXFR, and ldns-verify-zone finds it signed
    # and complete. (BIND's dnssec-verify wants every DNSKEY RRset signed by a key of its
    # own, which a DNSKEY RRset below the apex cannot be: docs/agent.md.)
    with hsynctest.TempDir("hsync-identity") as td:
        axfr = hsynctest.run([hsynctest.require_program("dig"), "-p",
                              str(lb.procs["p1-agent"]["dns_port"]), "@127.0.0.1",
                              "agent.p1.lab.", "AXFR", "+nocmd", "+nostats"], timeout=30)
        zone_file = Path(td) / "agent.p1.lab.zone"
        zone_file.write_text(axfr.stdout)
        types = {line.split()[3] for line in axfr.stdout.splitlines()
                 if len(line.split()) > 4 and not line.startswith(";")}
        check({"KEY", "URI", "SVCB", "TLSA", "DNSKEY", "CDS", "PTR"} <= types,
              "AXFR of agent.p1.lab.:\n" + axfr.stdout)
        v = hsynctest.run([hsynctest.require_program("ldns-verify-zone"), str(zone_file)],
                          check_rc=None, timeout=60)
        check(v.rc == 0 and "verified and complete" in v.stdout,
              "ldns-verify-zone of the identity zone:\n" + v.stdout + v.stderr)

    # The published DNSKEYs are the signer's own. The zone's DNSKEY RRset (RFC 8901 model
    # 2, put together by the agents) holds a provider's KSK and ZSK and the two other ZSKs.
    p1_keys = {rr.split(None, 4)[4] for rr in
               dig_ad(lb.resolver_port, "example.lab.agent.p1.lab.", "DNSKEY")}
    all_keys = {rr.split(None, 4)[4] for rr in dig_ad(lb.resolver_port, "example.lab.", "DNSKEY")}
    check(len(all_keys) == 4, f"the zone's DNSKEY RRset: {all_keys}")
    check(sum(1 for k in all_keys if k.startswith("257 ")) == 1,
          f"one KSK in a provider's DNSKEY RRset (its own): {all_keys}")
    check({k for k in p1_keys if k.startswith("256 ")} <= all_keys,
          f"p1's ZSK {p1_keys} is in the zone's DNSKEY RRset {all_keys}")

    # --- kill -9 one agent; the others notice; restarted, it continues.
    lab("stop", "--kill", "p2-agent", "--dir", lb.dir)
    wait_for("p1 to see p2 miss its heartbeats",
             lambda: lb.peers("p1-agent")["agent.p2.lab."]["state"] in ("DEGRADED", "INTERRUPTED"),
             40)
    lab("start", "p2-agent", "--dir", lb.dir)
    lb.reload()
    log = Path(lb.procs["p2-agent"]["log"]).read_text()
    check(re.search(r"agent_peer_added peer=agent.p1.lab. state=OPERATIONAL", log),
          "p2 restarted without its stored relation:\n" + log[-2000:])
    wait_for("every relation OPERATIONAL after the restart", lambda: all_operational(lb), 60)

    # --- a late zone transfer: p3's agent without its zone says REFUSED; then converges.
    lab("stop", "p3-agent", "--dir", lb.dir)
    lab("stop", "p3-signer", "--dir", lb.dir)
    data = Path(lb.procs["p3-agent"]["data_dir"])
    for f in data.glob("auth.sqlite*"):
        f.unlink()
    refused_before = lb.metric("p1-agent", "hsync_agent_responses_total",
                               'outcome="refused"')
    lab("start", "p3-agent", "--dir", lb.dir)
    lb.reload()
    wait_for("p1's HELLO for example.lab. to be REFUSED by p3 (it has no zone yet)",
             lambda: lb.metric("p1-agent", "hsync_agent_responses_total",
                               'outcome="refused"') > refused_before, 60)
    show = json.loads(lb.ctl("p1-agent", "agent", "show", "example.lab.", "--json").stdout)
    p3 = [p for p in show["peers"] if p["identity"] == "agent.p3.lab."][0]
    check(p3["hello"] != "done", f"p1 thinks p3 knows the zone: {p3}")
    check(p3["last"] and "REFUSED" in p3["last"], f"p1's last HELLO outcome with p3: {p3}")
    check(show["state"] == "waiting", f"example.lab. at p1 while p3 lacks it: {show['state']}")
    p3log = Path(lb.procs["p3-agent"]["log"]).read_text()
    check("reason=unknown-zone" in p3log, "p3 did not log its refusal:\n" + p3log[-2000:])
    lab("start", "p3-signer", "--dir", lb.dir)
    lb.reload()
    wait_for("every relation OPERATIONAL once p3's zone arrived", lambda: all_operational(lb), 90)
    wait_for("example.lab. negotiated at p1 again",
             lambda: json.loads(lb.ctl("p1-agent", "agent", "zones", "--json").stdout)[0][
                 "state"] == "negotiated", 30)

    # --- p3's KEY withdrawn: p1 and p2 must not keep trusting p3.
    cfg = Path(lb.procs["p3-agent"]["config"])
    original = cfg.read_text()
    cfg.write_text(original.replace("agent:\n", "agent:\n  publish-key: false\n", 1))
    os.kill(lb.procs["p3-agent"]["pid"], signal.SIGHUP)
    wait_for("p3's KEY to be gone from its identity zone",
             lambda: not hsynctest.run([hsynctest.require_program("dig"), "+short", "-p",
                                        str(lb.procs["p3-agent"]["dns_port"]), "@127.0.0.1",
                                        "dns.agent.p3.lab.", "KEY"], check_rc=None).stdout.strip(),
             20)
    for a in ("p1-agent", "p2-agent"):
        lb.ctl(a, "agent", "discover", "agent.p3.lab.")
    for a in ("p1-agent", "p2-agent"):
        wait_for(f"{a}'s relation with p3 to go to ERROR",
                 lambda a=a: lb.peers(a)["agent.p3.lab."]["state"] == "ERROR", 30)
        p = lb.peers(a)["agent.p3.lab."]
        check(p["error"] and "KEY" in p["error"], f"{a} error for p3: {p}")
    time.sleep(6)  # a heartbeat interval: nothing brings it back while the KEY is gone
    for a in ("p1-agent", "p2-agent"):
        check(lb.peers(a)["agent.p3.lab."]["state"] == "ERROR", f"{a}: " + states(lb))
    cfg.write_text(original)
    os.kill(lb.procs["p3-agent"]["pid"], signal.SIGHUP)
    time.sleep(1)
    for a in ("p1-agent", "p2-agent"):
        lb.ctl(a, "agent", "discover", "agent.p3.lab.")
    wait_for("every relation OPERATIONAL with the KEY back", lambda: all_operational(lb), 60)

    # Heartbeats went over the API (HTTPS, TLSA-checked both ways).
    check(lb.metric("p1-agent", "hsync_agent_api_requests_total", 'direction="received"') > 0,
          "p1 received no API request")
    tlsa = dig_ad(lb.resolver_port, f"_{lb.procs['p3-agent']['api_port']}._tcp.api.agent.p3.lab.",
                  "TLSA")
    check(len(tlsa) == 1 and " 3 1 1 " in tlsa[0], f"p3's TLSA: {tlsa}")

    # --- a wrong TLSA digest at p3: the others' API calls fail with the reason, DNS is used.
    cfg.write_text(original.replace(
        "  api: {listen:", "  api: {publish-own-tlsa: false, extra-tlsa: [" + "ab" * 32 +
        "], listen:", 1))
    check(cfg.read_text() != original, "p3's config has no api line to change")
    os.kill(lb.procs["p3-agent"]["pid"], signal.SIGHUP)
    wait_for("p3's published TLSA to change",
             lambda: "AB" * 8 in hsynctest.run(
                 [hsynctest.require_program("dig"), "+short", "-p",
                  str(lb.procs["p3-agent"]["dns_port"]), "@127.0.0.1",
                  f"_{lb.procs['p3-agent']['api_port']}._tcp.api.agent.p3.lab.", "TLSA"],
                 check_rc=None).stdout.upper().replace(" ", ""), 20)
    for a in ("p1-agent", "p2-agent"):
        lb.ctl(a, "agent", "discover", "agent.p3.lab.")
    for a in ("p1-agent", "p2-agent"):
        wait_for(f"{a} to fall back to DNS for p3",
                 lambda a=a: lb.peers(a)["agent.p3.lab."]["transport"] == "dns" and
                 "TLSA" in (lb.peers(a)["agent.p3.lab."]["api"] or ""), 30)
    time.sleep(6)
    for a in ("p1-agent", "p2-agent"):
        p = lb.peers(a)["agent.p3.lab."]
        check(p["state"] == "OPERATIONAL", f"{a}: p3 over DNS after the API failed: {p}")
    table = lb.ctl("p1-agent", "agent", "peers").stdout
    check("dns" in table, f"agent peers does not say DNS:\n{table}")
    cfg.write_text(original)
    os.kill(lb.procs["p3-agent"]["pid"], signal.SIGHUP)

    # --- p3 restarted without the API: the zone is negotiated to DNS everywhere.
    lab("stop", "p3-agent", "--dir", lb.dir)
    cfg.write_text("\n".join(l for l in original.splitlines() if not l.startswith("  api:")) + "\n")
    lab("start", "p3-agent", "--dir", lb.dir)
    lb.reload()
    for a in agents:
        wait_for(f"{a} to negotiate example.lab. to DNS",
                 lambda a=a: json.loads(lb.ctl(a, "agent", "zones", "--json").stdout)[0][
                     "transport"] == "dns", 60)
    wait_for("every relation OPERATIONAL with p3 DNS-only", lambda: all_operational(lb), 60)


if __name__ == "__main__":
    raise SystemExit(hsynctest.run_tests(globals()))
