"""The management API is authenticated (docs/configuration.md, "Management API"):

- hsyncd creates its key file on first start, mode 0600, and logs where it is;
- a request without credentials, signed with a wrong key, signed too far from the
  server's clock, or replayed byte for byte over a raw socket gets HTTP 401 and changes
  nothing: the zone's SOA serial (dig) stays, and the log has no management_action, only
  management_unauthorized lines;
- hsyncctl with the right key works (--key, -c CONFIG, HSYNC_MANAGEMENT_KEY_FILE), and
  without it says what to give;
- /metrics needs the key too; the secret appears neither in the log nor in /metrics;
- a key file that other users can read is refused at start; an operator's own key (plain
  base64, via management-key-file) is used;
- a non-loopback management address (or allow-remote-management: true) is refused at
  start: the API has no TLS.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import stat
import sys
import time
from pathlib import Path

import hsynctest
from hsynctest import check

ZONE = "auth.test."


def zone_text(serial: int) -> str:
    return (f"$TTL 300\n@ IN SOA ns.{ZONE} hostmaster.{ZONE} {serial} 3600 600 86400 300\n"
            f"@ IN NS ns.{ZONE}\nns IN A 192.0.2.1\nwww IN A 192.0.2.{serial}\n")


def serial(h: hsynctest.Hsyncd) -> int | None:
    return hsynctest.soa_serial("127.0.0.1", h.port, ZONE)


def raw_http(port: int, data: bytes) -> bytes:
    """Sends the bytes on a fresh connection; everything the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def log_events(h: hsynctest.Hsyncd, event: str) -> list[str]:
    text = h.log_path.read_text(errors="replace") if h.log_path.exists() else ""
    return [l for l in text.splitlines() if f"event={event} " in l or l.endswith(f"event={event}")]


def test_requests_without_the_key_change_nothing():
    with hsynctest.TempDir("hsync-mgmt-auth") as d:
        zf = d / "auth.test.zone"
        zf.write_text(zone_text(1))
        h = hsynctest.start_hsyncd({"zones": [{"name": ZONE, "type": "primary", "file": str(zf)}]},
                                   d / "hsyncd", wait_zones=[ZONE])
        key_file = h.data_dir / "management.key"
        check(key_file.exists(), f"no key file at {key_file}")
        mode = stat.S_IMODE(key_file.stat().st_mode)
        check(mode == 0o600, f"key file mode {mode:o}, want 600")
        secret = hsynctest.read_management_key(key_file)
        check(len(secret) >= 32, f"secret of {len(secret)} octets")
        check(any(f"file={key_file}" in l and "created=true" in l for l in log_events(h, "management_key")),
              "no management_key created=true line in the log")

        # The file changes to serial 2; nothing below may make the daemon load it.
        zf.write_text(zone_text(2))
        target = f"/zones/{ZONE}/reload"
        status, body = hsynctest.management_request(h.mgmt_port, "POST", target, sign=False)
        check(status == 401 and "no credentials" in body, f"unsigned: {status} {body}")
        wrong = d / "wrong.key"
        wrong.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        wrong.chmod(0o600)
        status, body = hsynctest.management_request(h.mgmt_port, "POST", target, key_file=wrong)
        check(status == 401 and "wrong MAC" in body, f"wrong key: {status} {body}")
        skewed = hsynctest.management_authorization(secret, "POST", target, ts=int(time.time()) - 3600)
        answer = raw_http(h.mgmt_port, (f"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: {skewed}\r\n"
                                        "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
        check(answer.startswith(b"HTTP/1.1 401") and b"off the server's clock" in answer,
              f"an hour-old signature: {answer[:300]!r}")
        for args in (["zone", "reload", ZONE], ["zone", "notify", ZONE], ["status"]):
            r = hsynctest.run([hsynctest.hsyncctl_path(), "--server", f"127.0.0.1:{h.mgmt_port}", *args],
                              check_rc=1)
            check("refused the request" in r.stderr and "--key FILE" in r.stderr, r.describe())
        r = hsynctest.run([hsynctest.hsyncctl_path(), "--server", f"127.0.0.1:{h.mgmt_port}",
                           "--key", wrong, "zone", "reload", ZONE], check_rc=1)
        check("wrong MAC" in r.stderr, r.describe())
        status, _ = hsynctest.management_request(h.mgmt_port, "GET", "/metrics", sign=False)
        check(status == 401, f"unsigned /metrics: HTTP {status}")

        time.sleep(1.5)
        check(serial(h) == 1, f"serial {serial(h)} after refused requests, want 1")
        check(not log_events(h, "management_action"), "a refused request was acted on:\n" +
              "\n".join(log_events(h, "management_action")))
        refused = log_events(h, "management_unauthorized")
        check(len(refused) >= 8, f"{len(refused)} management_unauthorized lines:\n" + "\n".join(refused))

        # A valid signed request, captured, then played again byte for byte.
        auth = hsynctest.management_authorization(secret, "POST", target)
        captured = (f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n").encode()
        first = raw_http(h.mgmt_port, captured)
        check(first.startswith(b"HTTP/1.1 200"), f"the signed request: {first[:300]!r}")
        hsynctest.wait_serial("127.0.0.1", h.port, ZONE, 2, timeout=20)
        zf.write_text(zone_text(3))
        again = raw_http(h.mgmt_port, captured)
        check(again.startswith(b"HTTP/1.1 401") and b"replayed" in again, f"the replay: {again[:300]!r}")
        time.sleep(1.5)
        check(serial(h) == 2, f"serial {serial(h)} after the replay, want 2")
        check(len(log_events(h, "management_action")) == 1,
              "management_action lines:\n" + "\n".join(log_events(h, "management_action")))

        # The right key, every way hsyncctl finds it.
        r = h.ctl("zone", "reload", ZONE)
        check("reload started" in r.stdout, r.describe())
        hsynctest.wait_serial("127.0.0.1", h.port, ZONE, 3, timeout=20)
        r = hsynctest.run([hsynctest.hsyncctl_path(), "-c", h.config_path, "status", "--json"])
        check('"role": "auth"' in r.stdout, r.describe())
        r = hsynctest.run([hsynctest.hsyncctl_path(), "zone", "show", ZONE, "--server",
                           f"127.0.0.1:{h.mgmt_port}", "--key", key_file])
        check("serial" in r.stdout and " 3" in r.stdout, r.describe())
        env = dict(os.environ, HSYNC_MANAGEMENT_KEY_FILE=str(key_file),
                   HSYNC_SERVER=f"127.0.0.1:{h.mgmt_port}")
        r = hsynctest.run([hsynctest.hsyncctl_path(), "zone", "list"], env=env)
        check(ZONE in r.stdout, r.describe())

        metrics = h.metrics()
        m = re.search(r"(?m)^hsync_management_unauthorized_total (\d+)$", metrics)
        check(m is not None and int(m.group(1)) >= 9, "unauthorized counter:\n" + metrics[:2000])
        secret_b64 = base64.b64encode(secret).decode()
        for what, text in (("/metrics", metrics), ("the log file", h.log_path.read_text(errors="replace")),
                           ("stderr", h.log())):
            check(secret_b64 not in text and secret.hex() not in text, f"the secret is in {what}")


def test_operator_key_and_file_mode():
    with hsynctest.TempDir("hsync-mgmt-key") as d:
        key = d / "ops.key"
        secret = os.urandom(32)
        key.write_text("# the operator's own key\n" + base64.b64encode(secret).decode() + "\n")
        key.chmod(0o644)
        h = hsynctest.start_hsyncd({"management-key-file": "../ops.key"}, d / "hsyncd", start=False)
        check(h.key_file == d / "hsyncd" / "../ops.key", f"key file {h.key_file}")
        r = hsynctest.run([hsynctest.hsyncd_path(), "-c", h.config_path], check_rc=1, timeout=20)
        check("mode 0644" in r.stderr and "chmod 600" in r.stderr, r.describe())
        check(secret.hex() not in r.stderr and base64.b64encode(secret).decode() not in r.stderr,
              "the secret is in the error message")
        key.chmod(0o600)
        h.start()
        r = h.ctl("status")
        check(r.rc == 0, r.describe())
        status, _ = hsynctest.management_request(h.mgmt_port, "GET", "/status", key_file=key)
        check(status == 200, f"operator key: HTTP {status}")
        check(not (h.data_dir / "management.key").exists(), "a default key was created anyway")
        # A rotated key takes effect on SIGHUP.
        new = base64.b64encode(os.urandom(32)).decode()
        key.write_text(new + "\n")
        h.proc.popen.send_signal(signal.SIGHUP)
        hsynctest.wait_until(lambda: hsynctest.management_request(h.mgmt_port, "GET", "/status",
                                                                  key_file=key)[0] == 200,
                             10, "the new key accepted after SIGHUP", process=h.proc)
        old = d / "old.key"
        old.write_text(base64.b64encode(secret).decode() + "\n")
        old.chmod(0o600)
        status, _ = hsynctest.management_request(h.mgmt_port, "GET", "/status", key_file=old)
        check(status == 401, f"the old key after rotation: HTTP {status}")


def test_non_loopback_management_is_refused():
    with hsynctest.TempDir("hsync-mgmt-remote") as d:
        for name, extra in (("any", {"management": "0.0.0.0:8053"}),
                            ("v6", {"management": "[::]:8053"}),
                            ("remote", {"management": "192.0.2.1:8053"}),
                            ("allow", {"allow-remote-management": True})):
            h = hsynctest.start_hsyncd(extra, d / name, start=False)
            r = hsynctest.run([hsynctest.hsyncd_path(), "-c", h.config_path], check_rc=2, timeout=20)
            check("has no TLS" in r.stderr and "loopback only" in r.stderr, r.describe())
            check(not (h.data_dir / "management.key").exists(), f"{name}: a key was created")


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
