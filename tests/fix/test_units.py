"""Small pieces of the fix on real inputs: apt source lines and deb822 .sources, relation fields, armored keys,
broken .deb files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hullscan.fix import apt, deb822
from hullscan.fix.debfile import DebError, read_deb
from tests.fix import debrepo as d


def test_one_line_sources() -> None:
    text = ("# comment\ndeb-src http://deb.debian.org/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://deb.debian.org/debian/ bookworm main contrib\n"
            "deb http://security.debian.org/debian-security bookworm-security main # trailing\n")
    got = apt.parse_one_line(text)
    assert [(s.uri, s.suite, s.components, s.signed_by, s.archs) for s in got] == [
        ("http://deb.debian.org/debian", "bookworm", ("main", "contrib"), ("/usr/share/keyrings/x.gpg",), ("amd64",)),
        ("http://security.debian.org/debian-security", "bookworm-security", ("main",), (), ())]
    with pytest.raises(ValueError, match="line 1"):
        apt.parse_one_line("deb http://only-a-uri\n")


def test_deb822_sources_with_an_inline_key(tmp_path: Path) -> None:
    signer = d.Signer.make(tmp_path / "gpg", "unit@hullscan.invalid")
    armored = subprocess.run(["gpg", "--batch", "--homedir", str(signer.home), "--armor", "--export", signer.email],
                             capture_output=True, check=True, text=True).stdout
    folded = "\n".join(" " + (ln or ".") for ln in armored.strip().splitlines())
    text = ("Types: deb deb-src\nURIs: http://a.invalid/debian http://b.invalid/debian\nSuites: bookworm bookworm-updates\n"
            f"Components: main\nSigned-By:\n{folded}\n\n"
            "Types: deb\nURIs: http://off.invalid/\nSuites: x\nComponents: main\nEnabled: no\n")
    got = apt.parse_deb822_sources(text)
    assert [(s.uri, s.suite) for s in got] == [("http://a.invalid/debian", "bookworm"),
                                               ("http://a.invalid/debian", "bookworm-updates"),
                                               ("http://b.invalid/debian", "bookworm"),
                                               ("http://b.invalid/debian", "bookworm-updates")]
    assert apt.dearmor(got[0].inline_key) == signer.public_key()


def test_relations() -> None:
    assert deb822.relations("libc6 (>= 2.34), libfoo1:any | libbar (<< 2) [amd64], perl:any (> 5)") == [
        [("libc6", "", ">=", "2.34")], [("libfoo1", "any", "", ""), ("libbar", "", "<<", "2")],
        [("perl", "any", ">=", "5")]]


def test_broken_deb_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DebError, match="not an ar archive"):
        read_deb(b"PK\x03\x04zip", "x.deb")
    deb = d.build_deb(d.Pkg("unit", "1.0", {"/usr/share/unit/a": b"a"}), tmp_path / "out", tmp_path / "b")
    data = deb.read_bytes()
    with pytest.raises(DebError, match="truncated"):
        read_deb(data[: len(data) // 2], "unit.deb")
    parsed = read_deb(data, "unit.deb")
    assert (parsed.name, parsed.version) == ("unit", "1.0")
    assert [m.path for m in parsed.members if m.info.isfile()] == ["/usr/share/unit/a"]
