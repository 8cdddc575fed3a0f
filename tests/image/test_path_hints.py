"""Analyzers' path hints are a pre-filter the core applies before ``wants``: a hint must never hide a path that
``wants`` accepts. Checked over real paths (this machine's Debian file lists) plus every path the analyzers are
built for, in several letter cases."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from hullscan.analyzers import ANALYZERS, create
from hullscan.model import FileInfo

#: paths analyzers read, as found in real images (and odd-case variants)
KNOWN = [
    "/etc/os-release", "/usr/lib/os-release", "/etc/alpine-release", "/etc/redhat-release", "/etc/debian_version",
    "/var/lib/dpkg/status", "/var/lib/dpkg/status.d/base", "/var/lib/dpkg/status.d/libssl3.md5sums",
    "/var/lib/dpkg/info/libc6:amd64.list", "/lib/apk/db/installed", "/usr/lib/apk/db/installed",
    "/var/lib/rpm/Packages", "/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/Packages.db",
    "/usr/share/java/commons-lang3.jar", "/srv/app.WAR", "/opt/x/plugin.Jpi", "/app/go.mod", "/app/go.sum",
    "/app/Cargo.lock", "/srv/app/node_modules/left-pad/package.json", "/srv/app/package-lock.json",
    "/srv/app/yarn.lock", "/srv/app/pnpm-lock.yaml", "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
    "/usr/lib/python3/dist-packages/foo.egg-info/PKG-INFO", "/app/requirements.txt", "/app/poetry.lock",
    "/app/Pipfile.lock", "/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", "/app/Gemfile.lock",
    "/app/vendor/composer/installed.json", "/app/composer.lock", "/app/bin/App.deps.json",
    "/app/packages.lock.json", "/usr/bin/tool", "/usr/local/bin/app.exe",
]


@functools.cache
def _real_paths() -> list[str]:
    lists = sorted(Path("/var/lib/dpkg/info").glob("*.list"))[:60]
    out: list[str] = []
    for f in lists:
        out.extend(line for line in f.read_text(errors="replace").splitlines() if line.startswith("/"))
    return out


def _variants(path: str) -> list[str]:
    return [path, path.upper(), path[:1] + path[1:].swapcase()]


@pytest.mark.parametrize("entry", list(ANALYZERS), ids=lambda e: e.name)
def test_a_path_hint_never_hides_a_path_wants_accepts(entry):
    analyzer = create(entry)
    hint = analyzer.path_hint()
    if hint is None:
        pytest.skip(f"{entry.name} has no hint: asked about every entry")
    suffixes, prefixes, min_size = hint.suffixes, hint.prefixes, hint.min_size
    assert all(s == s.lower() for s in suffixes + prefixes), "hints are matched against the lower-cased path"
    paths = [v for p in KNOWN + _real_paths() for v in _variants(p)]
    accepted = 0
    for path in paths:
        for info in (FileInfo(path=path, size=4096, mode=0o755), FileInfo(path=path, size=4096, kind="hardlink"),
                     FileInfo(path=path, size=1 << 20, mode=0o755), FileInfo(path=path, size=1 << 20, mode=0o644)):
            if analyzer.wants(path, info):
                accepted += 1
                low = path.lower()
                sized = min_size is not None and info.size >= min_size
                assert low.endswith(suffixes) or low.startswith(prefixes) or sized, f"{entry.name} wants {path} but its hint hides it"
    assert accepted, f"{entry.name}: no path in the corpus is wanted (the test would prove nothing)"


def test_hints_skip_most_entries_of_a_real_file_list():
    """The point of the hints: on a real Debian file list most entries match no hint."""
    hints = [h for h in (create(e).path_hint() for e in ANALYZERS) if h is not None]
    suffixes = tuple(s for h in hints for s in h.suffixes)
    prefixes = tuple(p for h in hints for p in h.prefixes)
    paths = _real_paths()
    matched = [p for p in paths if p.lower().endswith(suffixes) or p.lower().startswith(prefixes)]
    assert len(paths) > 1000
    assert len(matched) < 0.1 * len(paths)
