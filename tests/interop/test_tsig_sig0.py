#!/usr/bin/env python3
"""TSIG (RFC 8945) and SIG(0) (RFC 2931) against BIND and Knot.

1. named applies an UPDATE we build and sign with TSIG (its signed answer verifies in
   ours), refuses the same UPDATE signed with a wrong secret (NOTAUTH, BADSIG) and one
   signed 1000 s ago (BADTIME with its clock in Other Data).
2. knotd answers our TSIG-signed AXFR (several messages, each checked by ours); a
   tampered middle message fails; an unsigned AXFR is refused by its ACL.
3. Messages from dig -y, kdig -y and nsupdate -y captured on loopback verify in ours; a
   flipped bit gives BADSIG.
4. SIG(0): KEY keys from dnssec-keygen (algorithms 13, 15, 8); dig -k NOTIFYs and
   nsupdate -k UPDATEs verify in ours; tampered, unsigned, expired and wrong-key messages
   fail with the reason; messages we sign with BIND's private key verify.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import hsynctest  # noqa: E402
from hsynctest import check, fail  # noqa: E402

ZONE = "example."


def ctl(*args, check_rc=0):
    return hsynctest.hsyncctl(*[str(a) for a in args], check_rc=check_rc)


def write_zone(path: Path, extra: int = 0) -> Path:
    lines = [
        "$TTL 300",
        f"{ZONE} IN SOA ns.{ZONE} admin.{ZONE} 1 3600 600 86400 300",
        f"{ZONE} IN NS ns.{ZONE}",
        f"ns.{ZONE} IN A 192.0.2.53",
    ]
    # Enough data that an AXFR needs several messages (each at most 64 KB).
    lines += [f"t{i}.{ZONE} IN TXT \"{'x' * 200} {i}\"" for i in range(extra)]
    path.write_text("\n".join(lines) + "\n")
    return path


def new_tsig_key(workdir: Path, name: str = "k.example.") -> tuple[Path, str]:
    """A key file written by our keygen (BIND syntax); returns its path and secret."""
    res = ctl("tsig", "keygen", name)
    path = workdir / (name.rstrip(".") + ".key.conf")
    path.write_text(res.stdout)
    m = re.search(r'secret "([^"]+)"', res.stdout)
    check(m is not None, f"tsig keygen printed no secret:\n{res.stdout}")
    return path, m.group(1)


def udp_exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", port))
        try:
            reply, _ = s.recvfrom(65535)
        except socket.timeout:
            fail(f"no UDP answer from 127.0.0.1#{port} within {timeout}s")
        return reply


def rcode(msg: bytes) -> int:
    return msg[3] & 0x0F


def skip_name(msg: bytes, pos: int) -> int:
    while True:
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            return pos + 2
        if n == 0:
            return pos + 1
        pos += 1 + n


def answer_types(msg: bytes) -> list[int]:
    qd, an = struct.unpack("!HH", msg[4:8])
    pos = 12
    for _ in range(qd):
        pos = skip_name(msg, pos) + 4
    types = []
    for _ in range(an):
        pos = skip_name(msg, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        types.append(rtype)
        pos += 10 + rdlen
    return types


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            fail(f"TCP connection closed after {len(buf)} of {n} octets")
        buf += chunk
    return buf


def tcp_axfr(port: int, query: bytes, timeout: float = 10) -> list[bytes]:
    """Sends `query` over TCP and reads messages until the closing SOA (or an error)."""
    msgs = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        soas = 0
        while True:
            (length,) = struct.unpack("!H", recv_exact(s, 2))
            msg = recv_exact(s, length)
            msgs.append(msg)
            if rcode(msg) != 0:
                return msgs
            soas += answer_types(msg).count(6)
            if soas >= 2:
                return msgs
            if len(msgs) > 1000:
                fail("AXFR did not end after 1000 messages")


def dig_short(port: int, name: str, rtype: str = "A") -> str:
    dig = hsynctest.require_program("dig")
    res = hsynctest.run([dig, "+short", "+time=2", "+tries=1", "-p", port, "@127.0.0.1",
                         name, rtype])
    return res.stdout.strip()


def start_named_with_key(workdir: Path, key_file: Path) -> hsynctest.Server:
    named = hsynctest.require_program("named")
    port = hsynctest.free_port()
    zone = write_zone(workdir / "example.zone")
    conf = workdir / "named.conf"
    conf.write_text(f"""include "{key_file}";
options {{
    directory "{workdir}";
    pid-file none;
    session-keyfile none;
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query {{ 127.0.0.1; }};
}};
controls {{ }};
logging {{ channel out {{ stderr; severity info; print-time yes; }}; category default {{ out; }}; }};
zone "{ZONE}" {{ type primary; file "{zone}"; allow-update {{ key "k.example"; }}; }};
""")
    argv = [named, "-g", "-n", "1", "-c", str(conf)]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    proc = hsynctest.Process(argv, "named", workdir / "named.log", cwd=str(workdir))
    server = hsynctest.Server(proc, "127.0.0.1", port, workdir, [ZONE])
    try:
        hsynctest.wait_until(lambda: hsynctest.soa_answers("127.0.0.1", port, ZONE), 30,
                             f"named serving {ZONE}", process=proc)
    except BaseException:
        proc.stop()
        raise
    return server


def test_named_update_with_tsig():
    with hsynctest.TempDir("tsig-named") as d:
        key_file, secret = new_tsig_key(d)
        with start_named_with_key(d, key_file) as srv:
            # 1. Signed with the right key: applied, and named's signed answer verifies.
            upd = d / "upd.bin"
            ctl("tsig", "sign", "--key", key_file, "--update", ZONE,
                "--add", "new.example. 300 IN A 192.0.2.77", "--out", upd)
            reply = udp_exchange(srv.port, upd.read_bytes())
            (d / "upd.reply").write_bytes(reply)
            check(rcode(reply) == 0, f"named answered rcode {rcode(reply)} to our signed "
                  f"UPDATE; log:\n{srv.log()[-2000:]}")
            res = ctl("tsig", "verify", "--key", key_file, "--request", upd, d / "upd.reply")
            check(": ok:" in res.stdout, f"named's answer did not verify:\n{res.stdout}")
            got = dig_short(srv.port, "new.example.")
            check(got == "192.0.2.77", f"the UPDATE was not applied: dig says {got!r}")

            # 2. Same key name, wrong secret: NOTAUTH + BADSIG, nothing applied.
            wrong = d / "wrong.key.conf"
            wrong_secret = "AAAA" + secret[4:] if not secret.startswith("AAAA") else "BBBB" + secret[4:]
            wrong.write_text(key_file.read_text().replace(secret, wrong_secret))
            bad = d / "bad.bin"
            ctl("tsig", "sign", "--key", wrong, "--update", ZONE,
                "--add", "bad.example. 300 IN A 192.0.2.66", "--out", bad)
            reply = udp_exchange(srv.port, bad.read_bytes())
            (d / "bad.reply").write_bytes(reply)
            check(rcode(reply) == 9, f"wrong secret: expected NOTAUTH (9), got {rcode(reply)}")
            res = ctl("tsig", "verify", "--key", wrong, "--request", bad, d / "bad.reply",
                      check_rc=1)
            check("peer answered BADSIG" in res.stdout,
                  f"named's answer should carry TSIG error BADSIG:\n{res.stdout}")
            check(dig_short(srv.port, "bad.example.") == "",
                  "UPDATE with a wrong secret was applied")

            # 3. Signed 1000 s ago: BADTIME, signed by named, its clock in Other Data.
            old = d / "old.bin"
            ctl("tsig", "sign", "--key", key_file, "--update", ZONE, "--time",
                int(time.time()) - 1000, "--add", "old.example. 300 IN A 192.0.2.55",
                "--out", old)
            reply = udp_exchange(srv.port, old.read_bytes())
            (d / "old.reply").write_bytes(reply)
            check(rcode(reply) == 9, f"stale request: expected NOTAUTH, got {rcode(reply)}")
            res = ctl("tsig", "verify", "--key", key_file, "--request", old, d / "old.reply",
                      check_rc=1)
            m = re.search(r"peer answered BADTIME, server time (\d+)", res.stdout)
            check(m is not None, f"expected a verified BADTIME answer:\n{res.stdout}")
            check(abs(int(m.group(1)) - time.time()) < 60,
                  f"server time in Other Data is off: {m.group(1)}")
            check(dig_short(srv.port, "old.example.") == "", "stale UPDATE was applied")


def test_knot_axfr_with_tsig():
    knotd = hsynctest.require_program("knotd")
    with hsynctest.TempDir("tsig-knot") as d:
        key_file, secret = new_tsig_key(d)
        zone = write_zone(d / "example.zone", extra=1200)  # ~300 KB: several messages
        port = hsynctest.free_port()
        (d / "run").mkdir()
        (d / "storage").mkdir()
        user = "    user: root:root\n" if os.geteuid() == 0 else ""
        (d / "knot.conf").write_text(f"""server:
    rundir: "{d / 'run'}"
{user}    listen: 127.0.0.1@{port}
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
database:
    storage: "{d / 'storage'}"
log:
  - target: stderr
    any: info
key:
  - id: k.example.
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: xfr_key
    address: 127.0.0.1
    key: k.example.
    action: transfer
zone:
  - domain: {ZONE}
    file: {zone}
    acl: xfr_key
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
""")
        proc = hsynctest.Process([knotd, "-c", d / "knot.conf"], "knotd", d / "knotd.log",
                                 cwd=str(d))
        try:
            hsynctest.wait_until(lambda: hsynctest.soa_answers("127.0.0.1", port, ZONE), 30,
                                 "knotd serving example.", process=proc)
            # The ACL is in force: an unsigned AXFR, or one signed with a key knotd does
            # not know, is refused.
            unsigned = (struct.pack("!HHHHHH", 0x2222, 0, 1, 0, 0, 0) +
                        b"\x07example\x00" + struct.pack("!HH", 252, 1))
            msgs = tcp_axfr(port, unsigned)
            check(rcode(msgs[0]) != 0, "knotd answered an unsigned AXFR: its ACL is not in force")
            plain = d / "plain.bin"
            ctl("tsig", "sign", "-y", "hmac-sha256:other.key:" + secret, "--query", ZONE,
                "--type", "AXFR", "--out", plain)
            msgs = tcp_axfr(port, plain.read_bytes())
            check(rcode(msgs[0]) != 0, "knotd answered an AXFR signed with an unknown key")

            q = d / "axfr.bin"
            ctl("tsig", "sign", "--key", key_file, "--query", ZONE, "--type", "AXFR",
                "--out", q)
            msgs = tcp_axfr(port, q.read_bytes())
            check(rcode(msgs[0]) == 0, f"knotd refused our signed AXFR (rcode "
                  f"{rcode(msgs[0])}); log:\n{proc.log()[-2000:]}")
            check(len(msgs) >= 3, f"expected a multi-message AXFR, got {len(msgs)} message(s)")
            files = []
            for i, m in enumerate(msgs):
                f = d / f"axfr.{i:03d}"
                f.write_bytes(m)
                files.append(f)
            res = ctl("tsig", "verify", "--key", key_file, "--request", q, *files)
            oks = res.stdout.count(": ok:")
            check(oks >= 2 and "stream:" not in res.stdout,
                  f"Knot's AXFR stream did not verify:\n{res.stdout}")
            print(f"  knotd AXFR: {len(msgs)} messages, {oks} signed, all verified")

            # A tampered middle message breaks the stream.
            mid = len(msgs) // 2
            tampered = bytearray(msgs[mid])
            tampered[len(tampered) // 2] ^= 0x01
            files[mid].write_bytes(bytes(tampered))
            res = ctl("tsig", "verify", "--key", key_file, "--request", q, *files, check_rc=1)
            check("BADSIG" in res.stdout, f"tampered AXFR message not caught:\n{res.stdout}")
            # Our request MAC is covered: another request's MAC does not fit.
            q2 = d / "axfr2.bin"
            ctl("tsig", "sign", "--key", key_file, "--query", ZONE, "--type", "AXFR",
                "--out", q2)
            files[mid].write_bytes(msgs[mid])
            ctl("tsig", "verify", "--key", key_file, "--request", q2, *files, check_rc=1)
        finally:
            proc.stop()


def capture_udp(argv: list[str], stdin_text: str | None = None, timeout: float = 8) -> bytes:
    """Runs a client against a loopback UDP socket of ours and returns its first message
    (the client gets no answer and is stopped). PORT in argv/stdin is replaced."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
        argv = [str(a).replace("PORT", port) for a in argv]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            if stdin_text is not None:
                p.stdin.write(stdin_text.replace("PORT", port))
            p.stdin.close()
            s.settimeout(timeout)
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                data = b""
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        check(len(data) > 12, f"{argv[0]} sent nothing to our listener")
        return data


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


NSUPDATE_SCRIPT = ("server 127.0.0.1 PORT\nzone example.\n"
                   "update add x.example. 300 IN A 192.0.2.1\nsend\n")


def test_captured_tsig_from_bind_and_knot_tools():
    dig = hsynctest.require_program("dig")
    kdig = hsynctest.require_program("kdig")
    nsupdate = hsynctest.require_program("nsupdate")
    with hsynctest.TempDir("tsig-capture") as d:
        cases = []
        for alg in ("hmac-sha256", "hmac-sha512", "hmac-sha1"):
            res = ctl("tsig", "keygen", "--algorithm", alg, f"{alg}.example.")
            kf = d / f"{alg}.conf"
            kf.write_text(res.stdout)
            secret = re.search(r'secret "([^"]+)"', res.stdout).group(1)
            spec = f"{alg}:{alg}.example:{secret}"
            cases += [
                (f"dig-{alg}", kf, [dig, "-y", spec, "@127.0.0.1", "-p", "PORT", ZONE, "SOA",
                                    "+tries=1", "+time=3"], None),
                (f"kdig-{alg}", kf, [kdig, "-y", spec, "@127.0.0.1", "-p", "PORT", ZONE,
                                     "SOA", "+retry=0", "+time=3"], None),
                (f"nsupdate-{alg}", kf, [nsupdate, "-y", spec, "-t", "3", "-u", "3", "-r",
                                         "0"], NSUPDATE_SCRIPT),
            ]
        for name, kf, argv, script in cases:
            msg = capture_udp(argv, script)
            f = d / f"{name}.bin"
            f.write_bytes(msg)
            res = ctl("tsig", "verify", "--key", kf, f)
            check(": ok:" in res.stdout, f"{name}: did not verify:\n{res.stdout}")
            # A flipped bit in the question section (just after the header).
            bad = d / f"{name}.flipped"
            bad.write_bytes(flip(msg, 14))
            res = ctl("tsig", "verify", "--key", kf, bad, check_rc=1)
            check("BADSIG" in res.stdout, f"{name}: flipped bit not caught:\n{res.stdout}")
            # The verifier's clock far away: BADTIME.
            res = ctl("tsig", "verify", "--key", kf, "--time", int(time.time()) + 3600, f,
                      check_rc=1)
            check("BADTIME" in res.stdout, f"{name}: skew not caught:\n{res.stdout}")
        # A key the verifier does not have: BADKEY.
        other = d / "other.conf"
        other.write_text(ctl("tsig", "keygen", "other.example.").stdout)
        res = ctl("tsig", "verify", "--key", other, d / "dig-hmac-sha256.bin", check_rc=1)
        check("BADKEY" in res.stdout, f"unknown key not reported:\n{res.stdout}")
        print(f"  {len(cases)} captured TSIG messages verified")


def test_sig0_with_bind_keys():
    keygen = hsynctest.require_program("dnssec-keygen")
    dig = hsynctest.require_program("dig")
    nsupdate = hsynctest.require_program("nsupdate")
    with hsynctest.TempDir("sig0-capture") as d:
        bases = []
        for alg in ("13", "15", "8"):
            res = hsynctest.run([keygen, "-q", "-K", d, "-a", alg, "-T", "KEY", "-n", "HOST",
                                 "k.example."])
            bases.append(d / res.stdout.strip())
        plain = capture_udp([dig, "@127.0.0.1", "-p", "PORT", "+opcode=notify", ZONE, "SOA",
                             "+tries=1", "+time=3"])
        (d / "plain.bin").write_bytes(plain)
        verified = 0
        for i, base in enumerate(bases):
            pub = f"{base}.key"
            priv = f"{base}.private"
            msgs = {
                "dig": capture_udp([dig, "-k", priv, "@127.0.0.1", "-p", "PORT",
                                    "+opcode=notify", ZONE, "SOA", "+tries=1", "+time=3"]),
                "nsupdate": capture_udp([nsupdate, "-k", priv, "-t", "3", "-u", "3", "-r",
                                         "0"], NSUPDATE_SCRIPT),
            }
            for tool, msg in msgs.items():
                f = d / f"{base.name}.{tool}.bin"
                f.write_bytes(msg)
                res = ctl("sig0", "verify", "--key", pub, f)
                check(": ok:" in res.stdout, f"{tool} -k {base.name}: did not verify:\n"
                      f"{res.stdout}")
                verified += 1
                bad = d / f"{base.name}.{tool}.flipped"
                bad.write_bytes(flip(msg, 14))
                res = ctl("sig0", "verify", "--key", pub, bad, check_rc=1)
                check("bad signature" in res.stdout, f"tampered {tool}: {res.stdout}")
                res = ctl("sig0", "verify", "--key", pub, "--time", int(time.time()) + 3600, f,
                          check_rc=1)
                check("expired" in res.stdout, f"late check of {tool}: {res.stdout}")
                other = bases[(i + 1) % len(bases)]
                res = ctl("sig0", "verify", "--key", f"{other}.key", f, check_rc=1)
                check("key tag/algorithm mismatch" in res.stdout,
                      f"{tool} message with another key: {res.stdout}")
            res = ctl("sig0", "verify", "--key", pub, d / "plain.bin", check_rc=1)
            check("no SIG(0)" in res.stdout, f"unsigned message: {res.stdout}")

            # Ours, with BIND's private key: fresh ones verify, old ones are expired.
            ours = d / f"{base.name}.ours.bin"
            ctl("sig0", "sign", "--key", base, "--query", ZONE, "--opcode", "NOTIFY",
                "--out", ours)
            res = ctl("sig0", "verify", "--key", pub, ours)
            check(": ok:" in res.stdout, f"our SIG(0) did not verify: {res.stdout}")
            old = d / f"{base.name}.old.bin"
            ctl("sig0", "sign", "--key", base, "--update", ZONE, "--add",
                "y.example. 300 IN A 192.0.2.9", "--time", int(time.time()) - 3600,
                "--out", old)
            res = ctl("sig0", "verify", "--key", pub, old, check_rc=1)
            check("expired" in res.stdout, f"old SIG(0) not refused: {res.stdout}")
            # A response signed over our request verifies only with that request.
            resp = d / f"{base.name}.resp.bin"
            ctl("sig0", "sign", "--key", base, "--query", ZONE, "--request", ours,
                "--out", resp)
            ctl("sig0", "verify", "--key", pub, "--request", ours, resp)
            ctl("sig0", "verify", "--key", pub, resp, check_rc=1)
        print(f"  {verified} SIG(0) messages from dig -k / nsupdate -k verified")


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
