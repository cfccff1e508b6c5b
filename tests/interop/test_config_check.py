"""`hsyncd -c FILE --check` and `hsyncctl config check FILE`, as named-checkconf -z: each
kind of mistake (unknown key, bad address, missing zone file, bad zone file, unreadable or
broken key file, a role without what it needs) is reported as FILE:LINE with exit 1, all
mistakes of one file in one run; valid files exit 0 with one OK line; nothing is bound and
no database is made, so the check passes while the configured ports are in use."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import hsynctest
from hsynctest import check

GOOD_ZONE = "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 300\n@ IN NS ns\nns IN A 192.0.2.1\n"


def head(d: Path, role: str = "auth", port: int = 5399, mgmt: int = 8399) -> str:
    (d / "data").mkdir(exist_ok=True)
    return f"role: {role}\nlisten: [127.0.0.1:{port}]\ndata-dir: data\nmanagement: 127.0.0.1:{mgmt}\n"


def hsyncd_check(cfg: Path, rc: int) -> hsynctest.Result:
    r = hsynctest.run([hsynctest.hsyncd_path(), "-c", cfg, "--check"], check_rc=None, timeout=30,
                      cwd=str(cfg.parent))
    check(r.rc == rc, f"expected exit {rc}\n  {r.describe()}")
    return r


def expect_problems(cfg: Path, expected: list[tuple[str, int, str]]) -> None:
    """Each (file, line, text) must be a stderr line FILE:LINE: ...TEXT..., and there must be
    no other problem lines; hsyncctl config check says the same."""
    r = hsyncd_check(cfg, 1)
    lines = [ln for ln in r.stderr.splitlines() if ln and not ln.startswith("hsyncd: ")]
    for file, line, text in expected:
        prefix = f"{file}:{line}: "
        check(any(ln.startswith(prefix) and text in ln for ln in lines),
              f"no line {prefix}...{text}... in\n" + "\n".join(lines))
    check(len(lines) == len(expected),
          f"{len(expected)} problems expected, got {len(lines)}:\n" + "\n".join(lines))
    check(f"hsyncd: {cfg}: {len(expected)} problem" in r.stderr, r.describe())
    check(not (cfg.parent / "data" / "auth.sqlite").exists(), "--check made a database")
    c = hsynctest.run([hsynctest.hsyncctl_path(), "config", "check", cfg], check_rc=1, timeout=30,
                      cwd=str(cfg.parent), env={**os.environ, "HSYNCD": hsynctest.hsyncd_path()})
    check(c.stderr == r.stderr, f"hsyncctl config check differs:\n{c.stderr}\nvs\n{r.stderr}")


def test_valid_config_ok_while_ports_are_taken():
    with hsynctest.TempDir("check-ok") as d:
        # The configured DNS and management ports are held by someone else: --check must
        # not care, since it binds nothing.
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket() as mgmt:
            tcp.bind(("127.0.0.1", 0))
            tcp.listen()
            port = tcp.getsockname()[1]
            udp.bind(("127.0.0.1", port))
            mgmt.bind(("127.0.0.1", 0))
            mgmt.listen()
            (d / "ex.zone").write_text(GOOD_ZONE)
            (d / "k.key").write_text(
                f'key "xfr." {{\n\talgorithm hmac-sha256;\n\tsecret "{hsynctest.tsig_secret()}";\n}};\n')
            cfg = d / "ok.yaml"
            cfg.write_text(head(d, port=port, mgmt=mgmt.getsockname()[1]) +
                           "tsig-keys:\n  - key-file: k.key\n"
                           "zones:\n  - name: example.com\n    type: primary\n    file: ex.zone\n"
                           "    allow-transfer: \"key xfr.\"\n")
            r = hsyncd_check(cfg, 0)
            check(r.stdout.strip() == f"{cfg}: OK (role auth, 1 zone)", r.describe())
            check(r.stderr == "", r.describe())
            c = hsynctest.run([hsynctest.hsyncctl_path(), "config", "check", cfg], timeout=30,
                              env={**os.environ, "HSYNCD": hsynctest.hsyncd_path()})
            check(c.stdout == r.stdout, c.describe())
        check(not list((d / "data").iterdir()), "--check wrote into data-dir")


def test_every_mistake_of_one_file_with_its_line():
    with hsynctest.TempDir("check-bad") as d:
        (d / "broken.zone").write_text(
            "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 300\n@ IN NS ns\n"
            "ns IN A 300.1.1.1\nwww.elsewhere. IN A 192.0.2.1\n")
        (d / "nosoa.zone").write_text("$TTL 300\n@ IN NS ns.example.\n")
        (d / "bad.key").write_text('key "k." {\n\talgorithm hmac-sha256;\n\tsecret "!!";\n};\n')
        cfg = d / "bad.yaml"
        cfg.write_text(head(d) +                                # lines 1-4
                       "colour: blue\n"                         # 5: unknown key
                       "log-levle: debug\n"                     # 6: unknown key (typo)
                       "tsig-keys:\n"                           # 7
                       "  - key-file: missing.key\n"            # 8: unreadable key file
                       "  - key-file: bad.key\n"                # 9: broken key file
                       "zones:\n"                               # 10
                       "  - name: a.example\n"                  # 11
                       "    type: primary\n"                    # 12
                       "    file: nowhere.zone\n"               # 13: missing zone file
                       "  - name: b.example\n"                  # 14: secondary without primaries
                       "    type: secondary\n"                  # 15
                       "  - name: c.example\n"                  # 16
                       "    type: secondary\n"                  # 17
                       "    primaries: [192.0.2.300]\n"         # 18: bad address
                       "    notify: [\"[2001:db8::1]:x\"]\n"    # 19: bad address
                       "  - name: d.example\n"                  # 20
                       "    type: primary\n"                    # 21
                       "    file: broken.zone\n"                # 22: zone file with errors
                       "  - name: e.example\n"                  # 23
                       "    type: primary\n"                    # 24
                       "    file: nosoa.zone\n")                # 25: no SOA
        b, z = str(cfg), str(d / "broken.zone")
        expect_problems(cfg, [
            (b, 5, "colour: unknown key"),
            (b, 6, 'log-levle: unknown key (did you mean "log-level"?)'),
            (b, 8, "tsig-keys[0].key-file: cannot read"),
            (b, 9, "tsig-keys[1].key-file:"),
            (b, 14, 'zones[1]: "primaries" is required for a secondary zone'),
            (b, 18, 'zones[2].primaries[0]: "192.0.2.300" is not ADDR:PORT'),
            (b, 19, 'zones[2].notify[0]: "[2001:db8::1]:x" is not ADDR:PORT'),
            (b, 13, "zones[0].file: cannot read"),
            (z, 4, "error: bad IPv4 address"),
            (z, 5, "error: www.elsewhere. is outside the zone d.example."),
            (b, 22, "zones[3].file: zone d.example. would not load: 2 errors"),
            (b, 25, "has no SOA at its apex"),
        ])


def test_unreadable_key_file_as_the_service_user():
    if os.geteuid() != 0:
        print("  (not root: the unreadable-file case runs as this user only)")
    with hsynctest.TempDir("check-perm") as d:
        key = d / "secret.key"
        key.write_text(f'key "k." {{\n\talgorithm hmac-sha256;\n\tsecret "{hsynctest.tsig_secret()}";\n}};\n')
        cfg = d / "perm.yaml"
        cfg.write_text(head(d) + "tsig-keys:\n  - key-file: secret.key\n")
        hsyncd_check(cfg, 0)
        if os.geteuid() == 0:
            # root reads anything: check as nobody, who may read the directory but not the key.
            os.chmod(d, 0o755)
            os.chmod(d / "data", 0o777)
            key.chmod(0o600)
            r = hsynctest.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                               hsynctest.hsyncd_path(), "-c", cfg, "--check"], check_rc=1, timeout=30)
        else:
            key.chmod(0)
            r = hsyncd_check(cfg, 1)
        check(f"{cfg}:6: tsig-keys[0].key-file: cannot read" in r.stderr and
              "Permission denied" in r.stderr, r.describe())


def test_roles_without_their_settings():
    with hsynctest.TempDir("check-roles") as d:
        (d / "ex.zone").write_text(GOOD_ZONE)
        cases = [
            # role, extra lines (from line 5), expected (line, text)
            ("combiner", "zones:\n  - {name: a.example, type: primary, file: ex.zone}\n",
             [(6, "a combiner's zone must be type secondary")]),
            ("signer", "zones:\n  - {name: a.example, type: primary, file: ex.zone}\n",
             [(6, "a signer's zone must be type secondary")]),
            ("signer", "zones:\n  - {name: a.example, type: secondary, primaries: [127.0.0.1],"
                       " dnssec-policy: strict}\n",
             [(6, 'dnssec-policy: "strict" is not defined in dnssec-policies')]),
            ("parent", "zones: []\n", [(1, "role parent needs a parent: section")]),
            ("parent", "parent:\n  scan-interval: 1h\n", [(6, "parent.resolver: is required")]),
            ("parent", "parent:\n  resolver:\n    trust-anchor-file: anchors.txt\n",
             [(7, "anchors.txt\" does not exist")]),
            ("parent", "parent:\n  resolver:\n    trust-anchor-file: ex.zone\n",
             [(2, "error: a trust anchor must be a DS or DNSKEY record")] * 3),
            ("auth", "parent:\n  scan-interval: 1h\n", [(6, "parent: applies only to role parent")]),
            ("nameserver", "", [(1, 'role: "nameserver" is not one of')]),
        ]
        for i, (role, extra, expected) in enumerate(cases):
            cfg = d / f"r{i}.yaml"
            cfg.write_text(head(d, role) + extra)
            r = hsyncd_check(cfg, 1)
            for line, text in expected:
                file = str(d / "ex.zone") if "trust anchor must" in text else str(cfg)
                check(any(ln.startswith(f"{file}:") and text in ln for ln in r.stderr.splitlines()),
                      f"{role}: no {text!r}\n  {r.describe()}")
                if file == str(cfg):
                    check(f"{file}:{line}: " in r.stderr, f"{role}: not at line {line}\n  {r.describe()}")
        # A parent with a good anchor file passes.
        (d / "anchors.txt").write_text(
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
        cfg = d / "parent-ok.yaml"
        cfg.write_text(head(d, "parent") + "zones:\n  - {name: example, type: primary, file: ex.zone}\n"
                       "parent:\n  resolver:\n    trust-anchor-file: anchors.txt\n")
        (d / "ex.zone").write_text(GOOD_ZONE)
        r = hsyncd_check(cfg, 0)
        check("OK (role parent, 1 zone)" in r.stdout, r.describe())


def test_shipped_examples():
    """The example configurations of the package parse (their data-dir and anchors are
    replaced by local ones: the real paths exist only once installed)."""
    src = hsynctest.source_dir() / "packaging" / "etc"
    examples = sorted(src.glob("*.yaml"))
    check(len(examples) >= 4, f"examples: {examples}")
    with hsynctest.TempDir("check-examples") as d:
        (d / "root.ds").write_text(
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
        for ex in examples:
            role = ex.stem
            (d / role).mkdir()
            text = ex.read_text().replace(f"/var/lib/hsync/{role}", str(d / role)) \
                                 .replace("/usr/share/dns/root.ds", str(d / "root.ds"))
            cfg = d / ex.name
            cfg.write_text(text)
            r = hsyncd_check(cfg, 0)
            check(f"OK (role {role}," in r.stdout, r.describe())


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
