"""hsyncd as a process: start with a config on free loopback ports, `hsyncctl status`,
bad configurations (exit 2, one message with file:line and key path, nothing listening),
SIGHUP with a broken config keeps the old one running, SIGTERM stops within a second."""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import time
from pathlib import Path

import hsynctest
from hsynctest import check, fail


def write_config(d: Path, dns_port: int, mgmt_port: int, extra: str = "", name: str = "hsyncd.yaml") -> Path:
    (d / "data").mkdir(exist_ok=True)
    cfg = d / name
    cfg.write_text(f"""role: auth
listen: ["127.0.0.1:{dns_port}"]
data-dir: data
log-level: debug
log-file: hsyncd.log
management: 127.0.0.1:{mgmt_port}
{extra}""")
    return cfg


def tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ctl(mgmt_port: int, *args, **kw):
    return hsynctest.hsyncctl("--server", f"127.0.0.1:{mgmt_port}", *args, timeout=30, **kw)


def start(cfg: Path, d: Path, mgmt_port: int) -> hsynctest.Process:
    hsynctest.register_management_key(mgmt_port, d / "data" / "management.key")
    p = hsynctest.Process([hsynctest.hsyncd_path(), "-c", cfg], "hsyncd", d / "stderr.log", cwd=str(d))
    hsynctest.wait_until(lambda: tcp_open(mgmt_port), 20, "hsyncd management port open", process=p)
    return p


def wait_log(p: hsynctest.Process, pattern: str, what: str) -> str:
    found: list[str] = []

    def seen() -> bool:
        m = re.search(pattern, p.log())
        if m:
            found.append(m.group(0))
        return bool(m)

    hsynctest.wait_until(seen, 10, what, process=p)
    return found[0]


def test_status_reload_and_stop():
    with hsynctest.TempDir("daemon") as d:
        dns_port, mgmt_port = hsynctest.free_port(), hsynctest.free_port()
        cfg = write_config(d, dns_port, mgmt_port)
        p = start(cfg, d, mgmt_port)
        try:
            # One parseable line per event, timestamp first.
            line = wait_log(p, r"\S+ level=info role=auth event=started [^\n]*", "started line")
            check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info role=auth event=started "
                           rf"version=\S+ pid={p.pid} listen=127\.0\.0\.1:{dns_port} "
                           rf"management=127\.0\.0\.1:{mgmt_port} zones=0$", line) is not None,
                  f"started line has the wrong shape: {line!r}")
            check("event=started" in (d / "hsyncd.log").read_text(), "log-file did not get the lines")

            r = ctl(mgmt_port, "status")
            rows = dict(ln.split(None, 1) for ln in r.lines)
            check(rows.get("role") == "auth", f"status role: {r.stdout!r}")
            check(rows.get("pid") == str(p.pid), f"status pid {rows.get('pid')} != {p.pid}")
            check(rows.get("zones") == "0", f"status zones: {r.stdout!r}")
            j = json.loads(ctl(mgmt_port, "status", "--json").stdout)
            check(j["role"] == "auth" and j["pid"] == p.pid and j["zones"] == 0, f"status --json: {j}")

            r = ctl(mgmt_port, "zone", "list")
            check(r.lines and r.lines[0].split()[:3] == ["ZONE", "TYPE", "SERIAL"] and len(r.lines) == 1,
                  f"zone list of a role without zones: {r.stdout!r}")
            check(json.loads(ctl(mgmt_port, "zone", "list", "--json").stdout) == {"zones": []},
                  "zone list --json")
            r = ctl(mgmt_port, "zone", "show", "example.com", check_rc=1)
            check("zone example.com. is not served here" in r.stderr, f"zone show unknown: {r.stderr!r}")

            # SIGHUP with a broken config: logged, old config kept, still answering.
            good = cfg.read_text()
            cfg.write_text(good + "zones:\n  - name: example.com\n    type: secondary\n"
                           "    primaries: [\"1.2.3.4:x\"]\n")
            p.popen.send_signal(signal.SIGHUP)
            line = wait_log(p, r"level=error role=auth event=reload_failed [^\n]*", "reload_failed line")
            check('hsyncd.yaml:10: zones[0].primaries[0]: \\"1.2.3.4:x\\" is not ADDR:PORT' in line,
                  f"reload_failed line does not name file:line and key: {line!r}")
            time.sleep(0.2)
            check(p.alive(), "hsyncd died after SIGHUP with a broken config")
            check(ctl(mgmt_port, "status").rc == 0, "status after a failed reload")

            cfg.write_text(good)
            p.popen.send_signal(signal.SIGHUP)
            wait_log(p, r"event=reload_done zones=0", "reload_done line")

            # SIGTERM: clean stop within a second, nothing left listening.
            t0 = time.monotonic()
            p.popen.send_signal(signal.SIGTERM)
            try:
                rc = p.popen.wait(5)
            except Exception:
                fail("hsyncd did not stop within 5 s of SIGTERM")
            took = time.monotonic() - t0
            check(took < 1.0, f"SIGTERM took {took:.2f}s (limit 1 s)")
            check(rc == 0, f"exit code after SIGTERM: {rc}")
            check("event=stopped" in p.log(), "no stopped line")
            check(not tcp_open(mgmt_port), "management port still open after stop")
        finally:
            p.stop()


def test_bad_configs_exit_2_and_start_nothing():
    with hsynctest.TempDir("daemon-bad") as d:
        dns_port, mgmt_port = hsynctest.free_port(), hsynctest.free_port()
        cases = [
            ("zones:\n  - name: example.com\n    type: secondary\n    primaries:\n      - 127.0.0.1:53\n"
             "      - \"1.2.3.4:x\"\n",
             f'{d}/bad.yaml:12: zones[0].primaries[1]: "1.2.3.4:x" is not ADDR:PORT'),
            ("zones:\n  - name: example.com\n    type: primary\n    fiel: x.zone\n",
             f'{d}/bad.yaml:10: zones[0].fiel: unknown key (did you mean "file"?)'),
        ]
        for extra, message in cases:
            cfg = write_config(d, dns_port, mgmt_port, extra, name="bad.yaml")
            r = hsynctest.run([hsynctest.hsyncd_path(), "-c", cfg], check_rc=None, timeout=20, cwd=str(d))
            check(r.rc == 2, f"bad config: expected exit 2\n  {r.describe()}")
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            check(lines == [f"hsyncd: {message}"], f"expected one message {message!r}, got {lines!r}")
            check(not tcp_open(mgmt_port) and not tcp_open(dns_port), "something listens after a bad config")
            check(not (d / "hsyncd.log").exists(), "a bad config still opened the log file")

        # --check: the same message for a bad file (exit 1), OK for a good one, nothing started.
        good = write_config(d, dns_port, mgmt_port, name="good.yaml")
        r = hsynctest.run([hsynctest.hsyncd_path(), "-c", good, "--check"], timeout=20)
        check("OK (role auth, 0 zones)" in r.stdout, f"--check output: {r.stdout!r}")
        bad = write_config(d, dns_port, "x", name="bad2.yaml")  # type: ignore[arg-type]
        r = hsynctest.run([hsynctest.hsyncd_path(), "-c", bad, "--check"], check_rc=1, timeout=20)
        check(f'{bad}:6: management: "127.0.0.1:x" is not ADDR:PORT' in r.stderr, r.describe())

        remote = write_config(d, dns_port, mgmt_port, name="remote.yaml").read_text()
        (d / "remote.yaml").write_text(remote.replace("127.0.0.1:" + str(mgmt_port), "0.0.0.0:" + str(mgmt_port)))
        r = hsynctest.run([hsynctest.hsyncd_path(), "-c", d / "remote.yaml"], check_rc=2, timeout=20)
        check("is not a loopback address" in r.stderr and "has no TLS" in r.stderr, r.describe())

        agent = good.read_text().replace("role: auth", "role: agent")
        (d / "agent.yaml").write_text(agent)
        # An agent needs its identity and a resolver to validate its peers with.
        r = hsynctest.run([hsynctest.hsyncd_path(), "-c", d / "agent.yaml"], check_rc=None, timeout=20)
        check(r.rc not in (0, None) and "role agent needs an agent: section" in r.stderr,
              r.describe())
        # A signer's zones are secondaries of its combiner: a primary zone is refused.
        (d / "x.zone").write_text("@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 IN NS ns\n")
        signer = good.read_text().replace("role: auth", "role: signer") + \
            "zones:\n  - name: x.test\n    type: primary\n    file: x.zone\n"
        (d / "signer.yaml").write_text(signer)
        r = hsynctest.run([hsynctest.hsyncd_path(), "-c", d / "signer.yaml"], check_rc=2, timeout=20)
        check("a signer's zone must be type secondary" in r.stderr, r.describe())

        r = hsynctest.run([hsynctest.hsyncd_path(), "-c", d / "missing.yaml"], check_rc=2, timeout=20)
        check("missing.yaml: cannot read the file" in r.stderr, r.describe())
        check(not tcp_open(mgmt_port), "something listens after bad configs")


def test_hsyncctl_without_daemon():
    port = hsynctest.free_port()
    r = ctl(port, "status", check_rc=1)
    check(f"cannot connect to hsyncd at 127.0.0.1:{port}: Connection refused" in r.stderr, r.describe())


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
