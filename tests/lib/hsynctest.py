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
import contextlib
import difflib
import os
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
    return run([hsyncctl_path(), *args], **kw)


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


def free_port(host: str = "127.0.0.1") -> int:
    """A port on which both a TCP and a UDP socket could be bound just now (bind-and-release).
    Never returns the same port twice in one process."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((host, 0))
            port = t.getsockname()[1]
            if port in _handed_out or port < 1024:
                continue
            try:
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
