"""Shared helpers for hsync's interop and system tests (Python 3.11 standard library only).

A test script is a module with `test_*` functions and ends with

    if __name__ == "__main__":
        sys.exit(hsynctest.run_tests(globals()))

Every external program a test needs is looked up with require_program(), which FAILS
the test (never skips it) when the program is missing: scripts/setup installs them all.
Every process started through this module runs in its own process group and is killed
when the test ends, also when it fails, is interrupted or the interpreter exits.

Environment (set by tests/CMakeLists.txt, or by hand when running a script directly):
  HSYNCCTL, HSYNCD        paths of the binaries under test
  HSYNC_SOURCE_DIR        the source tree (default: two levels above this file)
  HSYNC_BUILD_DIR         the build tree (default: $HSYNC_SOURCE_DIR/build)
  HSYNC_KEEP_TMP=1        keep temporary directories (their paths are printed)
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import difflib
import hashlib
import hmac
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, Iterable, Sequence

# --------------------------------------------------------------------------- failures


class TestFailure(AssertionError):
    """A check failed. The message says what was expected and what happened."""


def fail(msg: str) -> None:
    raise TestFailure(msg)


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise TestFailure(msg)


def _tail(text: str, lines: int = 40) -> str:
    parts = text.rstrip("\n").split("\n")
    if len(parts) > lines:
        parts = [f"... ({len(parts) - lines} lines cut)"] + parts[-lines:]
    return "\n".join("    | " + p for p in parts)


def assert_lines_equal(expected: Sequence[str], actual: Sequence[str], what: str,
                       expected_name: str = "expected", actual_name: str = "actual",
                       max_diff_lines: int = 60) -> None:
    """Fails with a unified diff (first max_diff_lines lines) when the lists differ."""
    expected, actual = list(expected), list(actual)
    if expected == actual:
        return
    diff = list(difflib.unified_diff(expected, actual, expected_name, actual_name,
                                     lineterm="", n=1))
    cut = ""
    if len(diff) > max_diff_lines:
        cut = f"\n  ... {len(diff) - max_diff_lines} more diff lines"
        diff = diff[:max_diff_lines]
    fail(f"{what}: {len(expected)} {expected_name} lines vs {len(actual)} {actual_name} lines differ:\n"
         + "\n".join("  " + d for d in diff) + cut)


def assert_sets_equal(expected: Iterable[str], actual: Iterable[str], what: str,
                      expected_name: str = "expected", actual_name: str = "actual",
                      show: int = 15) -> None:
    """Compares as multisets; on failure shows the first `show` items missing on each side."""
    exp_list, act_list = list(expected), list(actual)
    from collections import Counter
    ce, ca = Counter(exp_list), Counter(act_list)
    if ce == ca:
        return
    only_e = sorted((ce - ca).elements())
    only_a = sorted((ca - ce).elements())
    msg = [f"{what}: {len(exp_list)} {expected_name} vs {len(act_list)} {actual_name} items; "
           f"{len(only_e)} only in {expected_name}, {len(only_a)} only in {actual_name}"]
    if only_e:
        msg.append(f"  only in {expected_name} (first {min(show, len(only_e))}):")
        msg += ["    - " + x for x in only_e[:show]]
    if only_a:
        msg.append(f"  only in {actual_name} (first {min(show, len(only_a))}):")
        msg += ["    + " + x for x in only_a[:show]]
    fail("\n".join(msg))


# --------------------------------------------------------------------------- paths & programs


def source_dir() -> Path:
    return Path(os.environ.get("HSYNC_SOURCE_DIR", Path(__file__).resolve().parents[2]))


def build_dir() -> Path:
    return Path(os.environ.get("HSYNC_BUILD_DIR", source_dir() / "build"))


_EXTRA_PATH = ["/usr/sbin", "/usr/local/sbin", "/sbin"]


def require_program(name: str) -> str:
    """Absolute path of `name`; FAILS the test loudly when it is not installed."""
    if os.sep in name:
        if os.access(name, os.X_OK):
            return name
        fail(f"required program {name!r} is missing or not executable")
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(_EXTRA_PATH)
    found = shutil.which(name, path=path)
    if not found:
        fail(f"required program {name!r} not found in PATH: run scripts/setup "
             f"(a missing oracle is a failure, not a skip)")
    return found


def _binary(env_name: str, default_name: str) -> str:
    path = os.environ.get(env_name)
    if not path:
        path = str(build_dir() / "bin" / default_name)
    if not os.access(path, os.X_OK):
        fail(f"{env_name}={path}: binary under test missing (build it with scripts/build, "
             f"or set {env_name})")
    return path


def hsyncctl_path() -> str:
    return _binary("HSYNCCTL", "hsyncctl")


def hsyncd_path() -> str:
    return _binary("HSYNCD", "hsyncd")


# --------------------------------------------------------------------------- processes

_live: list["Process"] = []


class Process:
    """A started background process in its own process group; stop() kills the group."""

    def __init__(self, argv: Sequence[str], name: str, log_path: Path, cwd: str | None = None,
                 env: dict | None = None):
        self.argv = [str(a) for a in argv]
        self.name = name
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                      start_new_session=True)
        self.pid = self.popen.pid
        _live.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the process group, SIGKILL after `timeout` s. Idempotent."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        # children that outlived the leader (same group)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if not self._log.closed:
            self._log.close()
        if self in _live:
            _live.remove(self)
        return self.popen.returncode


def stop_all() -> None:
    for p in list(_live):
        with contextlib.suppress(Exception):
            p.stop(timeout=3)


atexit.register(stop_all)


def _on_signal(signum, frame):  # noqa: ARG001
    stop_all()
    sys.exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    with contextlib.suppress(ValueError, OSError):
        signal.signal(_sig, _on_signal)


class Result:
    def __init__(self, argv, rc, stdout, stderr, seconds):
        self.argv, self.rc, self.stdout, self.stderr, self.seconds = argv, rc, stdout, stderr, seconds

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stdout.splitlines() if ln.strip()]

    def describe(self) -> str:
        return (f"command: {' '.join(_quote(a) for a in self.argv)}\n  exit code: {self.rc}\n"
                f"  stdout:\n{_tail(self.stdout)}\n  stderr:\n{_tail(self.stderr)}")


def _quote(a: str) -> str:
    return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"


def run(argv: Sequence, *, timeout: float = 120, check_rc: int | None = 0, input: str | None = None,
        cwd: str | None = None, env: dict | None = None) -> Result:
    """Runs argv, captures output. Fails the test (with the command, exit code and output
    tails) on timeout, or when check_rc is not None and the exit code differs from it.
    Pass check_rc=None to accept any exit code and inspect Result.rc yourself."""
    argv = [str(a) for a in argv]
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                             cwd=cwd, env=env, text=True, errors="replace", start_new_session=True)
    except FileNotFoundError:
        fail(f"cannot run {argv[0]!r}: not found")
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        fail(f"timeout after {timeout}s:\n  " + Result(argv, None, out, err, timeout).describe())
    finally:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    res = Result(argv, p.returncode, out, err, time.monotonic() - t0)
    if check_rc is not None and res.rc != check_rc:
        fail(f"expected exit code {check_rc}, got {res.rc}\n  " + res.describe())
    return res


def hsyncctl(*args, **kw) -> Result:
    """Runs hsyncctl. `--server 127.0.0.1:PORT` of an hsyncd started here gets that
    daemon's management key (--key) unless the arguments name a key or config already."""
    args = [str(a) for a in args]
    if "--server" in args and not {"--key", "-c", "--config"} & set(args):
        i = args.index("--server")
        if i + 1 < len(args):
            key = management_key_file(args[i + 1])
            if key is not None:
                args = ["--key", str(key), *args]
    return run([hsyncctl_path(), *args], **kw)


# --------------------------------------------------------------------------- management API

# Every request to hsyncd's management API is signed with the daemon's key (docs/
# configuration.md): management port -> key file, for each daemon started by a test.
_MANAGEMENT_KEYS: dict[int, Path] = {}


def register_management_key(port: int, key_file: str | Path) -> None:
    _MANAGEMENT_KEYS[int(port)] = Path(key_file)


def management_key_file(server: str | int) -> Path | None:
    """The key file of a daemon started here, by port or "ADDR:PORT"; None if unknown."""
    with contextlib.suppress(ValueError):
        return _MANAGEMENT_KEYS.get(int(str(server).rsplit(":", 1)[-1]))
    return None


def read_management_key(path: str | Path) -> bytes:
    """The secret of a key file: BIND form (key "hsync-management" { ... secret "B64"; };)
    or one base64 line."""
    text = Path(path).read_text()
    m = re.search(r'secret\s+"([^"]+)"', text)
    if m:
        return base64.b64decode(m.group(1))
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    return base64.b64decode(lines[0])


def management_authorization(secret: bytes, method: str, target: str, body: bytes = b"",
                             ts: int | None = None, nonce: str | None = None) -> str:
    """The Authorization header for one request (HSYNC-HMAC, docs/configuration.md)."""
    ts = int(time.time()) if ts is None else ts
    nonce = nonce or os.urandom(16).hex()
    text = "\n".join(["HSYNC-HMAC", method, target, str(ts), nonce,
                      hashlib.sha256(body).hexdigest()])
    mac = base64.b64encode(hmac.new(secret, text.encode(), hashlib.sha256).digest()).decode()
    return f"HSYNC-HMAC ts={ts}, nonce={nonce}, mac={mac}"


def management_request(port: int, method: str, target: str, *, key_file: str | Path | None = None,
                       body: bytes = b"", sign: bool = True, timeout: float = 30,
                       host: str = "127.0.0.1") -> tuple[int, str]:
    """One request to hsyncd's management API, signed with key_file (default: the key of
    the daemon on that port); returns (HTTP status, body text)."""
    headers = {"Connection": "close"}
    if sign:
        kf = key_file if key_file is not None else management_key_file(port)
        if kf is None:
            fail(f"management_request: no key known for port {port}")
        headers["Authorization"] = management_authorization(read_management_key(kf), method,
                                                            target, body)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, target, body=body or None, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


# --------------------------------------------------------------------------- temp dirs & ports


class TempDir:
    """`with TempDir("name") as d:` -> Path, removed at exit unless HSYNC_KEEP_TMP=1."""

    def __init__(self, prefix: str = "hsync-test"):
        self.prefix = prefix
        self.path: Path | None = None

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix=self.prefix + "-"))
        return self.path

    def __exit__(self, *exc):
        if self.path is None:
            return False
        if os.environ.get("HSYNC_KEEP_TMP") == "1":
            print(f"[hsynctest] kept {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A port on which both a TCP and a UDP socket could be bound just now (bind-and-release).
    Never returns the same port twice in one process. Taken at random below the kernel's
    ephemeral range (as `hsyncctl lab` does): a port from that range could be given to some
    outgoing connection or query of a test running alongside before our daemon binds it."""
    low, high = 10000, max(_ephemeral_low() - 1, 10001)
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randint(low, high)
        if port in _handed_out:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind((host, port))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((host, port))
        except OSError:
            continue
        _handed_out.add(port)
        return port
    fail("free_port: no free TCP+UDP port found")


# --------------------------------------------------------------------------- DNS helpers


def soa_answers(server: str, port: int, zone: str) -> bool:
    """True when the server answers SOA for zone (uses dig; one 1 s try)."""
    dig = require_program("dig")
    try:
        p = subprocess.run([dig, "+short", "+time=1", "+tries=1", "-p", str(port), f"@{server}",
                            zone, "SOA"], capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return p.returncode == 0 and bool(p.stdout.strip())


def wait_until(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.1,
               process: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            fail(f"{what}: {process.name} exited with code {process.popen.returncode}; log:\n"
                 + _tail(process.log()))
        if cond():
            return
        time.sleep(interval)
    extra = ("; log:\n" + _tail(process.log())) if process is not None else ""
    fail(f"{what}: not true after {timeout}s{extra}")


class Server:
    """A running name server: .port, .host, .stop(), .log(), .workdir."""

    def __init__(self, proc: Process, host: str, port: int, workdir: Path, zones: list[str]):
        self.proc, self.host, self.port, self.workdir, self.zones = proc, host, port, workdir, zones

    def stop(self) -> None:
        self.proc.stop()

    def log(self) -> str:
        return self.proc.log()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def _zone_list(zone_name, zone_file, zones):
    z = list(zones or [])
    if zone_name is not None:
        z.insert(0, (zone_name, zone_file))
    if not z:
        fail("no zone given")
    return [(n if n.endswith(".") else n + ".", Path(f).resolve()) for n, f in z]


def start_named(zone_name: str | None, zone_file: str | Path | None, workdir: Path, *,
                port: int | None = None, zones: Iterable[tuple[str, str | Path]] = (),
                extra_options: str = "", extra_zone_options: str = "",
                timeout: float = 30) -> Server:
    """Starts BIND `named -g` on 127.0.0.1:port as primary for the zone(s), AXFR allowed to
    127.0.0.1, and waits until every zone answers SOA. As root named runs with `-u root`
    (it would otherwise try to switch to the 'bind' user). workdir must be private to it."""
    named = require_program("named")
    zl = _zone_list(zone_name, zone_file, zones)
    port = port or free_port()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    zone_blocks = "".join(
        f'zone "{n}" {{ type primary; file "{f}"; allow-transfer {{ 127.0.0.1; }}; '
        f'check-names ignore; {extra_zone_options} }};\n' for n, f in zl)
    conf = workdir / "named.conf"
    conf.write_text(f"""options {{
    directory "{workdir}";
    pid-file none;
    session-keyfile none;
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query {{ 127.0.0.1; }};
    max-cache-size 16M;
    {extra_options}
}};
controls {{ }};
logging {{ channel out {{ stderr; severity info; print-time yes; }}; category default {{ out; }}; }};
{zone_blocks}""")
    argv = [named, "-g", "-n", "1", "-c", str(conf)]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    proc = Process(argv, "named", workdir / "named.log", cwd=str(workdir))
    server = Server(proc, "127.0.0.1", port, workdir, [n for n, _ in zl])
    try:
        for n, _ in zl:
            wait_until(lambda: soa_answers("127.0.0.1", port, n), timeout,
                       f"named serving {n} on port {port}", process=proc)
    except BaseException:
        proc.stop()
        raise
    return server


def start_knotd(zone_name: str | None, zone_file: str | Path | None, workdir: Path, *,
                port: int | None = None, zones: Iterable[tuple[str, str | Path]] = (),
                extra_zone_options: str = "", timeout: float = 30) -> Server:
    """Starts Knot `knotd -c CONF` on 127.0.0.1:port as primary for the zone(s) (zone file
    copied into workdir's storage, never written back to the original), AXFR allowed to
    127.0.0.1, rundir and storage under workdir; waits until every zone answers SOA."""
    knotd = require_program("knotd")
    zl = _zone_list(zone_name, zone_file, zones)
    port = port or free_port()
    workdir = Path(workdir)
    (workdir / "run").mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    zone_blocks = []
    for n, f in zl:
        local = storage / ((n.rstrip(".").replace("/", "_") or "root") + ".zone")
        shutil.copyfile(f, local)
        zone_blocks.append(f"  - domain: {n}\n    file: {local}\n    acl: xfr_local\n"
                           f"    zonefile-sync: -1\n    journal-content: none\n"
                           f"    semantic-checks: off\n{extra_zone_options}")
    conf = workdir / "knot.conf"
    user_line = "    user: root:root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"""server:
    rundir: "{workdir / 'run'}"
{user_line}    listen: 127.0.0.1@{port}
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
database:
    storage: "{storage}"
log:
  - target: stderr
    any: info
acl:
  - id: xfr_local
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "{storage}"
zone:
""" + "".join(zone_blocks))
    proc = Process([knotd, "-c", str(conf)], "knotd", workdir / "knotd.log", cwd=str(workdir))
    server = Server(proc, "127.0.0.1", port, workdir, [n for n, _ in zl])
    try:
        for n, _ in zl:
            wait_until(lambda: soa_answers("127.0.0.1", port, n), timeout,
                       f"knotd serving {n} on port {port}", process=proc)
    except BaseException:
        proc.stop()
        raise
    return server


def normalize_rr_line(line: str) -> str:
    """Joins whitespace runs to one space (outside quoted strings)."""
    out, in_q, esc, pending_space = [], False, False, False
    for ch in line.strip():
        if in_q:
            out.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_q = False
            continue
        if ch in " \t":
            pending_space = True
            continue
        if pending_space and out:
            out.append(" ")
        pending_space = False
        out.append(ch)
        if ch == '"':
            in_q = True
    return "".join(out)


def strip_comment(line: str) -> str:
    """Removes a ';' comment that is not inside quotes or escaped."""
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


def axfr(server: str, port: int, zone: str, tool: str = "dig", generic: bool = False,
         timeout: float = 60) -> list[str]:
    """AXFR of zone from server:port with dig or kdig; returns RR lines (comments stripped,
    whitespace normalised, the trailing duplicate SOA removed). generic=True asks for
    RFC 3597 form of every RR (dig +unknownformat / kdig +generic). Fails on a failed
    transfer."""
    if tool == "dig":
        argv = [require_program("dig"), "+nocmd", "+nostats", "+nocomments", "+noquestion",
                "+time=5", "+tries=1", "-p", str(port), f"@{server}", zone, "AXFR"]
        if generic:
            argv.insert(1, "+unknownformat")
    elif tool == "kdig":
        argv = [require_program("kdig"), "+noall", "+answer", "+time=5", "+retry=0",
                "-p", str(port), f"@{server}", zone, "AXFR"]
        if generic:
            argv.insert(1, "+generic")
    else:
        fail(f"axfr: unknown tool {tool!r}")
    res = run(argv, timeout=timeout, check_rc=None)
    text = res.stdout + res.stderr
    if res.rc != 0 or "Transfer failed" in text or "failed" in res.stderr.lower():
        fail(f"AXFR of {zone} from {server}#{port} with {tool} failed\n  " + res.describe())
    rrs = []
    for line in res.stdout.splitlines():
        s = strip_comment(line).strip()
        if s:
            rrs.append(normalize_rr_line(s))
    if len(rrs) < 2:
        fail(f"AXFR of {zone} with {tool}: fewer than 2 RRs\n  " + res.describe())
    first_type = rrs[0].split()[3] if len(rrs[0].split()) > 3 else ""
    last_type = rrs[-1].split()[3] if len(rrs[-1].split()) > 3 else ""
    check(first_type.upper() in ("SOA", "TYPE6") and last_type.upper() in ("SOA", "TYPE6"),
          f"AXFR of {zone} with {tool} does not start and end with SOA:\n  {rrs[0]}\n  {rrs[-1]}")
    return rrs[:-1]


# --------------------------------------------------------------------------- runner


def run_tests(namespace: dict, argv: Sequence[str] | None = None) -> int:
    """Runs every `test_*` function of namespace (in definition order, or the ones named on
    the command line); prints PASS/FAIL with the reason; returns the exit code (0 = all pass).
    Background processes are stopped after each test."""
    argv = list(sys.argv[1:] if argv is None else argv)
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    if argv:
        unknown = [a for a in argv if a not in dict(tests)]
        if unknown:
            print(f"unknown test(s): {unknown}", file=sys.stderr)
            return 2
        tests = [(n, f) for n, f in tests if n in argv]
    failed = []
    for name, fn in tests:
        t0 = time.monotonic()
        print(f"[ RUN  ] {name}", flush=True)
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            failed.append(name)
            if isinstance(e, TestFailure):
                print(f"[ FAIL ] {name}: {e}", flush=True)
            else:
                print(f"[ FAIL ] {name}: unexpected {type(e).__name__}", flush=True)
                traceback.print_exc()
        else:
            print(f"[  OK  ] {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        finally:
            stop_all()
    print(f"{len(tests) - len(failed)}/{len(tests)} passed" +
          (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed or not tests else 0


# --------------------------------------------------------------------------- hsyncd & servers (system tests)

import base64 as _base64
import json as _json
import secrets as _secrets


def tsig_secret(nbytes: int = 32) -> str:
    """A random base64 TSIG secret."""
    return _base64.b64encode(_secrets.token_bytes(nbytes)).decode()


def _tcp_connects(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class Hsyncd:
    """A running `hsyncd -c CONFIG`: .port (DNS, UDP+TCP), .mgmt_port, .data_dir,
    .log_path (log-file), .config_path, .workdir, .proc; stop(), kill9(), start() again
    with the same config and data, ctl(*args) runs hsyncctl against it."""

    def __init__(self, workdir: Path, config_path: Path, port: int, mgmt_port: int,
                 data_dir: Path, log_path: Path, timeout: float):
        self.workdir, self.config_path = workdir, config_path
        self.port, self.mgmt_port, self.host = port, mgmt_port, "127.0.0.1"
        self.data_dir, self.log_path, self.timeout = data_dir, log_path, timeout
        self.proc: Process | None = None
        self.starts = 0
        self.key_file = data_dir / "management.key"  # the daemon's default; start_hsyncd may change it

    def start(self, wait_zones: Iterable[str] = ()) -> "Hsyncd":
        """Starts (or restarts) the daemon; waits for the management port and DNS port,
        then until every zone in wait_zones answers SOA."""
        if self.proc is not None and self.proc.alive():
            fail("Hsyncd.start: already running")
        self.starts += 1
        register_management_key(self.mgmt_port, self.key_file)
        self.proc = Process([hsyncd_path(), "-c", self.config_path], f"hsyncd#{self.starts}",
                            self.workdir / f"hsyncd-stderr-{self.starts}.log", cwd=str(self.workdir))
        try:
            wait_until(lambda: _tcp_connects("127.0.0.1", self.mgmt_port)
                       and _tcp_connects("127.0.0.1", self.port), self.timeout,
                       "hsyncd management and DNS ports open", process=self.proc)
            for z in wait_zones:
                wait_until(lambda: soa_answers("127.0.0.1", self.port, z), self.timeout,
                           f"hsyncd serving {z} on port {self.port}", process=self.proc)
        except BaseException:
            self.proc.stop()
            raise
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def stop(self) -> int | None:
        return self.proc.stop() if self.proc is not None else None

    def kill9(self) -> None:
        """SIGKILL now (no clean shutdown), and reap it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.popen.wait(10)
        self.proc.stop()

    def log(self) -> str:
        """Everything the daemon wrote on stderr, all runs."""
        parts = []
        for i in range(1, self.starts + 1):
            with contextlib.suppress(OSError):
                parts.append((self.workdir / f"hsyncd-stderr-{i}.log").read_text(errors="replace"))
        return "".join(parts)

    def ctl(self, *args, **kw) -> Result:
        kw.setdefault("timeout", 30)
        return hsyncctl("--server", f"127.0.0.1:{self.mgmt_port}", "--key", self.key_file, *args, **kw)

    def api(self, method: str, target: str, **kw) -> tuple[int, str]:
        """A signed management API request: (HTTP status, body)."""
        return management_request(self.mgmt_port, method, target, key_file=self.key_file, **kw)

    def metrics(self) -> str:
        status, text = self.api("GET", "/metrics")
        check(status == 200, f"GET /metrics: HTTP {status}: {text[:300]}")
        return text

    def zone_json(self, zone: str) -> dict:
        return _json.loads(self.ctl("zone", "show", zone, "--json").stdout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def start_hsyncd(config: dict | str, workdir: Path, *, port: int | None = None,
                 mgmt_port: int | None = None, wait_zones: Iterable[str] = (),
                 timeout: float = 30, start: bool = True) -> Hsyncd:
    """Writes workdir/hsyncd.yaml and starts hsyncd on it. `config` is a dict (written as
    JSON, which YAML accepts) or YAML text; `listen`, `management`, `data-dir` (workdir/data),
    `log-file` (workdir/hsyncd.log) and `log-level: debug` are filled in when absent.
    Returns the handle (stopped at test end like every Process)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    mgmt_port = mgmt_port or free_port()
    defaults = {"listen": [f"127.0.0.1:{port}"], "management": f"127.0.0.1:{mgmt_port}",
                "data-dir": str(workdir / "data"), "log-file": str(workdir / "hsyncd.log"),
                "log-level": "debug"}
    if isinstance(config, dict):
        cfg = dict(config)
        cfg.setdefault("role", "auth")
        for k, v in defaults.items():
            cfg.setdefault(k, v)
        text = _json.dumps(cfg, indent=2) + "\n"
        data_dir = Path(cfg["data-dir"])
        log_path = Path(cfg["log-file"])
    else:
        head = []
        if not re.search(r"(?m)^role:", config):
            head.append("role: auth")
        for k, v in defaults.items():
            if not re.search(rf"(?m)^{re.escape(k)}:", config):
                head.append(f"{k}: {_json.dumps(v)}")
        text = "\n".join(head) + "\n" + config
        m = re.search(r"(?m)^data-dir:\s*\"?([^\"\n]+)\"?", text)
        data_dir = Path(m.group(1)) if m else workdir / "data"
        m = re.search(r"(?m)^log-file:\s*\"?([^\"\n]+)\"?", text)
        log_path = Path(m.group(1)) if m else workdir / "hsyncd.log"
    if not data_dir.is_absolute():
        data_dir = workdir / data_dir
    if not log_path.is_absolute():
        log_path = workdir / log_path
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "hsyncd.yaml"
    cfg_path.write_text(text)
    h = Hsyncd(workdir, cfg_path, port, mgmt_port, data_dir, log_path, timeout)
    m = re.search(r'(?m)^\s*"?management-key-file"?:\s*"?([^"\n,]+)"?', text)
    if m:
        kf = Path(m.group(1).strip())
        h.key_file = kf if kf.is_absolute() else workdir / kf
    if start:
        h.start(wait_zones)
    return h


def soa_serial(server: str, port: int, zone: str, key: str | None = None) -> int | None:
    """The SOA serial the server gives for zone (dig +short, one 1 s try), or None.
    key: 'alg:name:secret' to sign the query."""
    argv = [require_program("dig"), "+short", "+norec", "+time=1", "+tries=1", "-p", str(port),
            f"@{server}", zone, "SOA"]
    if key:
        argv[1:1] = ["-y", key]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 7 and f[2].isdigit():
            return int(f[2])
    return None


def wait_serial(server: str, port: int, zone: str, serial: int, timeout: float = 30,
                process: Process | None = None, key: str | None = None) -> None:
    """Waits until server:port serves zone with SOA serial `serial` (dig +short SOA);
    fails with the last serial seen."""
    seen: list[int | None] = [None]

    def ok() -> bool:
        seen[0] = soa_serial(server, port, zone, key)
        return seen[0] == serial

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            fail(f"waiting for {zone} serial {serial} on {server}#{port}: {process.name} exited "
                 f"with code {process.popen.returncode}; log:\n" + _tail(process.log()))
        if ok():
            return
        time.sleep(0.2)
    fail(f"{server}#{port} did not serve {zone} serial {serial} within {timeout}s "
         f"(last serial seen: {seen[0]})")


class DigAnswer:
    """One parsed dig response: rcode, flags (set), sections {'answer','authority',
    'additional'} of normalised RR lines, edns (bool), raw text."""

    def __init__(self, raw: str):
        self.raw = raw
        self.rcode = None
        self.flags: set[str] = set()
        self.edns = False
        self.edns_flags: set[str] = set()
        self.udp_size = 0
        self.sections: dict[str, list[str]] = {"answer": [], "authority": [], "additional": []}
        sec = None
        for line in raw.splitlines():
            m = re.search(r"->>HEADER<<- opcode: (\w+), status: (\w+), id: (\d+)", line)
            if m:
                self.rcode = m.group(2)
                continue
            m = re.match(r";; flags:([^;]*);", line)
            if m:
                self.flags = set(m.group(1).split())
                continue
            m = re.match(r"; EDNS: version: (\d+), flags:([^;]*); udp: (\d+)", line)
            if m:
                self.edns = True
                self.edns_flags = set(m.group(2).split())
                self.udp_size = int(m.group(3))
            m = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
            if m:
                sec = m.group(1).lower()
                continue
            if line.startswith(";") or not line.strip():
                if not line.strip():
                    sec = None
                continue
            if sec:
                self.sections[sec].append(_canonical_rr(line))

    def __repr__(self):
        return (f"rcode={self.rcode} flags={sorted(self.flags)} "
                + " ".join(f"{k}={len(v)}" for k, v in self.sections.items()))


def _canonical_rr(line: str) -> str:
    """RR line with whitespace normalised and the owner name in lower case."""
    s = normalize_rr_line(strip_comment(line))
    parts = s.split(" ", 1)
    return parts[0].lower() + (" " + parts[1] if len(parts) > 1 else "")


def dig_many(server: str, port: int, queries: Sequence[tuple[str, str]], opts: Sequence[str] = (),
             timeout: float = 60) -> list[DigAnswer]:
    """Runs ONE dig for several (name, type) queries with the same options; returns one
    DigAnswer per query, in order. Fails if dig gives no answer for any of them."""
    argv = [require_program("dig"), "+norec", "+nocmd", "+nostats", "+time=3", "+tries=1",
            *opts, "-p", str(port), f"@{server}"]
    for name, qtype in queries:
        argv += [name, qtype]
    res = run(argv, timeout=timeout, check_rc=None)
    blocks = res.stdout.split(";; Got answer:")[1:]
    if len(blocks) != len(queries):
        fail(f"dig returned {len(blocks)} answers for {len(queries)} queries\n  " + res.describe())
    return [DigAnswer(b) for b in blocks]


def dig1(server: str, port: int, name: str, qtype: str = "A", *opts: str) -> DigAnswer:
    return dig_many(server, port, [(name, qtype)], opts)[0]


def start_named_config(workdir: Path, body: str, *, port: int | None = None,
                       options: str = "", wait_zones: Iterable[str] = (),
                       debug: int = 0, timeout: float = 30) -> Server:
    """Starts `named -g` on 127.0.0.1:port with the given top-level `body` (zone, key,
    server statements) and extra `options`; logs at info (or debug level `debug`) to
    workdir/named.log with categories printed; waits until every zone in wait_zones
    answers SOA."""
    named = require_program("named")
    port = port or free_port()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "named.conf"
    sev = f"debug {debug}" if debug else "info"
    conf.write_text(f"""options {{
    directory "{workdir}";
    pid-file none;
    session-keyfile none;
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query {{ any; }};
    max-cache-size 16M;
    {options}
}};
controls {{ }};
logging {{ channel out {{ stderr; severity {sev}; print-time yes; print-category yes; }};
           category default {{ out; }}; category xfer-in {{ out; }}; category xfer-out {{ out; }};
           category notify {{ out; }}; }};
{body}""")
    argv = [named, "-g", "-n", "1", "-c", str(conf)]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    proc = Process(argv, "named", workdir / "named.log", cwd=str(workdir))
    zl = [z if z.endswith(".") else z + "." for z in wait_zones]
    server = Server(proc, "127.0.0.1", port, workdir, zl)
    try:
        wait_until(lambda: _tcp_connects("127.0.0.1", port), timeout, "named listening",
                   process=proc)
        for n in zl:
            wait_until(lambda: soa_answers("127.0.0.1", port, n), timeout,
                       f"named serving {n} on port {port}", process=proc)
    except BaseException:
        proc.stop()
        raise
    return server


def start_knotd_config(workdir: Path, body: str, *, port: int | None = None,
                       wait_zones: Iterable[str] = (), timeout: float = 30,
                       workers: int = 1, tcp_workers: int = 1) -> Server:
    """Starts `knotd -c CONF` on 127.0.0.1:port; `body` is the YAML after the server,
    database, log and template sections (key:, remote:, acl:, zone: ...). Storage is
    workdir/storage (template default). Waits until every zone in wait_zones answers SOA."""
    knotd = require_program("knotd")
    port = port or free_port()
    workdir = Path(workdir)
    (workdir / "run").mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    user_line = "    user: root:root\n" if os.geteuid() == 0 else ""
    conf = workdir / "knot.conf"
    conf.write_text(f"""server:
    rundir: "{workdir / 'run'}"
{user_line}    listen: 127.0.0.1@{port}
    background-workers: {workers}
    udp-workers: 1
    tcp-workers: {tcp_workers}
database:
    storage: "{storage}"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "{storage}"
    semantic-checks: off
{body}""")
    proc = Process([knotd, "-c", str(conf)], "knotd", workdir / "knotd.log", cwd=str(workdir))
    zl = [z if z.endswith(".") else z + "." for z in wait_zones]
    server = Server(proc, "127.0.0.1", port, workdir, zl)
    try:
        wait_until(lambda: _tcp_connects("127.0.0.1", port), timeout, "knotd listening",
                   process=proc)
        for n in zl:
            wait_until(lambda: soa_answers("127.0.0.1", port, n), timeout,
                       f"knotd serving {n} on port {port}", process=proc)
    except BaseException:
        proc.stop()
        raise
    return server


def nsupdate(server: str, port: int, zone: str, commands: str, key: str | None = None,
             tcp: bool = False, timeout: float = 60) -> Result:
    """Runs `nsupdate [-y key] [-v]` with `server`, `zone`, the commands and `send`;
    returns the Result (any exit code; inspect .rc and .stdout/.stderr)."""
    argv = [require_program("nsupdate")]
    if key:
        argv += ["-y", key]
    if tcp:
        argv.append("-v")
    script = f"server {server} {port}\nzone {zone}\n{commands.strip()}\nsend\n"
    return run(argv, input=script, timeout=timeout, check_rc=None)


def wait_log_match(text_fn: Callable[[], str], pattern: str, timeout: float, what: str,
                   process: Process | None = None, start: int = 0) -> re.Match:
    """Waits until regex `pattern` matches text_fn()[start:]; returns the match."""
    found: list[re.Match] = []

    def seen() -> bool:
        m = re.search(pattern, text_fn()[start:])
        if m:
            found.append(m)
        return bool(m)

    wait_until(seen, timeout, what, process=process)
    return found[0]


# --------------------------------------------------------------------------- raw DNS wire


def encode_name(name: str) -> bytes:
    """Uncompressed wire form of a presentation name (no escapes)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode()
            out += bytes([len(b)]) + b
    return out + b"\0"


RR_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
            "OPT": 41, "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50,
            "IXFR": 251, "AXFR": 252, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}


def build_query(name: str, qtype: str | int = "A", qid: int = 0x1234, *, flags: int = 0,
                edns: int | None = None, do: bool = False, opcode: int = 0) -> bytes:
    """A query message: header (flags word ORed with opcode<<11), one question (class IN),
    and an OPT RR with payload size `edns` when given."""
    import struct
    t = RR_TYPES[qtype] if isinstance(qtype, str) else qtype
    ar = 1 if edns is not None else 0
    msg = struct.pack("!HHHHHH", qid, flags | (opcode << 11), 1, 0, 0, ar)
    msg += encode_name(name) + struct.pack("!HH", t, 1)
    if edns is not None:
        msg += b"\0" + struct.pack("!HHIH", 41, edns, 0x8000 if do else 0, 0)
    return msg


class WireHeader:
    """The 12-byte header of a message: id, qr, opcode, aa, tc, rd, ra, ad, cd, rcode, counts."""

    def __init__(self, data: bytes):
        import struct
        if len(data) < 12:
            fail(f"message of {len(data)} bytes has no complete header: {data!r}")
        (self.id, f, self.qdcount, self.ancount, self.nscount,
         self.arcount) = struct.unpack("!HHHHHH", data[:12])
        self.qr, self.opcode = bool(f & 0x8000), (f >> 11) & 0xF
        self.aa, self.tc, self.rd = bool(f & 0x400), bool(f & 0x200), bool(f & 0x100)
        self.ra, self.ad, self.cd = bool(f & 0x80), bool(f & 0x20), bool(f & 0x10)
        self.rcode = f & 0xF
        self.size = len(data)

    @property
    def rcode_name(self) -> str:
        return RCODES.get(self.rcode, str(self.rcode))

    def __repr__(self):
        fl = [n for n in ("qr", "aa", "tc", "rd", "ra", "ad", "cd") if getattr(self, n)]
        return (f"id={self.id} opcode={self.opcode} rcode={self.rcode_name} flags={fl} "
                f"counts={self.qdcount}/{self.ancount}/{self.nscount}/{self.arcount} size={self.size}")


def udp_exchange(port: int, data: bytes, timeout: float = 1.0, host: str = "127.0.0.1",
                 source: str = "127.0.0.1") -> bytes | None:
    """Sends one datagram, returns the first reply or None after `timeout` s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            return s.recvfrom(65535)[0]
        except (socket.timeout, ConnectionRefusedError):
            return None


def tcp_recv_message(s: socket.socket) -> bytes | None:
    """Reads one length-prefixed message; None when the peer closed or timed out first."""
    import struct

    def recv_exact(n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            try:
                chunk = s.recv(n - len(buf))
            except (socket.timeout, ConnectionResetError):
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    ln = recv_exact(2)
    if ln is None:
        return None
    return recv_exact(struct.unpack("!H", ln)[0])


def tcp_exchange(port: int, data: bytes, timeout: float = 2.0, host: str = "127.0.0.1",
                 raw: bool = False) -> bytes | None:
    """Sends one message over a new TCP connection (with the 2-byte length unless raw),
    returns the reply, or None if the server closed or said nothing within `timeout`."""
    import struct
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        try:
            s.sendall(data if raw else struct.pack("!H", len(data)) + data)
        except (BrokenPipeError, ConnectionResetError):
            return None
        return tcp_recv_message(s)
