"""`hsyncctl zone print --no-zone-checks` on record lists and zone fragments, against
ldns-read-zone: the same records in the same canonical order (ldns-read-zone -z) for a
fragment without SOA, with relative and out-of-origin owners; a broken line is reported
as FILE:LINE on stderr with exit 1 while every other record is still printed (ldns stops
at the first error, so it reads the fragment without that line); the default keeps the
whole-zone checks."""

from __future__ import annotations

import sys

import hsynctest
from hsynctest import check

FRAGMENT = """; a record list: no SOA, no NS, owners in and out of the origin
www      300 IN A     192.0.2.1
www      300 IN AAAA  2001:db8::1
mail     300 IN MX    10 mx.example.
bad      300 IN A     300.1.1.1
@        300 IN TXT   "apex text" "with two strings"
other.test. 60 IN TXT "outside any origin"
_443._tcp 300 IN TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
sub      300 IN DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
alias    300 IN CNAME www
"""
BROKEN_LINE = 5


def fold(line: str) -> str:
    """Whitespace joined and case folded outside quoted strings: ldns prints hex digits in
    lower case, hsync (as BIND) in upper case."""
    out, in_q, esc = [], False, False
    for ch in hsynctest.normalize_rr_line(line):
        if in_q:
            esc = not esc and ch == "\\"
            in_q = esc or ch != '"'
            out.append(ch)
            continue
        in_q = ch == '"'
        out.append(ch.lower())
    return "".join(out)


def ldns_read(text: str, d) -> list[str]:
    f = d / "ldns-input.txt"
    f.write_text(text)
    r = hsynctest.run([hsynctest.require_program("ldns-read-zone"), "-z", f], timeout=30)
    return [fold(ln) for ln in r.stdout.splitlines() if ln.strip()]


def hsync_print(path, *extra, rc: int) -> hsynctest.Result:
    r = hsynctest.hsyncctl("zone", "print", "--no-zone-checks", *extra, path, check_rc=None,
                           timeout=30)
    check(r.rc == rc, f"expected exit {rc}\n  {r.describe()}")
    return r


def lines_of(r: hsynctest.Result) -> list[str]:
    return [fold(ln) for ln in r.stdout.splitlines() if ln.strip()]


def test_fragment_with_a_broken_line_against_ldns():
    with hsynctest.TempDir("fragment") as d:
        frag = d / "records.txt"
        frag.write_text(FRAGMENT)
        r = hsync_print(frag, "--origin", "example.", rc=1)
        errors = [ln for ln in r.stderr.splitlines() if ln]
        check(errors[0].startswith(f"{frag}:{BROKEN_LINE}: error: ") and "300.1.1.1" in errors[0],
              r.describe())
        check(errors[-1] == f"{frag}: 1 error, 8 records printed", r.describe())
        check(len(errors) == 2, r.describe())
        good = [ln for i, ln in enumerate(FRAGMENT.splitlines(), 1) if i != BROKEN_LINE]
        expected = ldns_read("$ORIGIN example.\n" + "\n".join(good) + "\n", d)
        hsynctest.assert_lines_equal(expected, lines_of(r), "zone print --no-zone-checks vs ldns-read-zone -z")


def test_record_list_without_origin_against_ldns():
    with hsynctest.TempDir("fragment-root") as d:
        text = ("a.example. 3600 IN A 192.0.2.7\nb.example.net. 60 IN NS ns1.example.net.\n"
                "relative 10 IN TXT \"under the root\"\n")
        f = d / "list.txt"
        f.write_text(text)
        r = hsync_print(f, rc=0)
        check(r.stderr == "", r.describe())
        hsynctest.assert_lines_equal(ldns_read(text, d), lines_of(r), "record list vs ldns-read-zone -z")
        # The wire form works on fragments too.
        w = hsynctest.hsyncctl("zone", "print", "--no-zone-checks", "--format", "wire", f, timeout=30)
        check(len(w.lines) == 3, w.describe())


def test_default_keeps_whole_zone_checks():
    with hsynctest.TempDir("fragment-default") as d:
        frag = d / "records.txt"
        frag.write_text(FRAGMENT.replace("bad      300 IN A     300.1.1.1\n", ""))
        r = hsynctest.hsyncctl("zone", "print", "--origin", "example.", frag, check_rc=1, timeout=30)
        check(r.stdout == "", r.describe())
        check("no SOA record at the zone apex" in r.stderr and "nothing printed" in r.stderr,
              r.describe())
        check("other.test. is outside the zone" in r.stderr, r.describe())
        r = hsynctest.hsyncctl("zone", "print", frag, check_rc=None, timeout=30)
        check(r.rc != 0 and "--origin" in r.stderr, r.describe())


if __name__ == "__main__":
    sys.exit(hsynctest.run_tests(globals()))
