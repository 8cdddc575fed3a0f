"""Run the ecosystems' own version comparators (the references) on batches of pairs.

Each runner takes ``[(a, b), ...]`` and returns one of -1/0/1 per pair, computed by the real tool
in a single subprocess: dpkg, rpm (its Lua ``rpm.ver``), Maven's ComparableVersion (Java),
RubyGems (Ruby), Composer (PHP), node-semver (Node.js) and golang.org/x/mod/semver (Go).
``available(name)`` says whether a reference can run here; tests skip otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

Pairs = Sequence[tuple[str, str]]

MAVEN_JARS = ("/usr/share/java/maven3-artifact.jar", "/usr/share/java/maven-artifact-3.x.jar")
COMPOSER_AUTOLOAD = "/usr/share/php/Composer/Semver/autoload.php"
NODE_SEMVER_DIRS = ("/usr/lib/node_modules/npm/node_modules/semver", "/usr/share/nodejs/semver")
GO_XMOD = "/usr/share/gocode/src/golang.org/x/mod/semver"


def _run(cmd: list[str], stdin: str = "", env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _ints(out: str, n: int) -> list[int]:
    values = [int(x) for x in out.split()]
    assert len(values) == n, f"reference returned {len(values)} results for {n} pairs"
    return [(v > 0) - (v < 0) for v in values]


def dpkg(pairs: Pairs) -> list[int]:
    """``dpkg --compare-versions`` for every pair (one shell, one dpkg per comparison)."""
    script = (
        'while IFS=" " read -r a b; do '
        'if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo -1; '
        'elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo 0; else echo 1; fi; done'
    )
    stdin = "".join(f"{a} {b}\n" for a, b in pairs)
    return _ints(_run(["bash", "-c", script], stdin), len(pairs))


def _rpm_lua(pairs: Pairs, loop_body: str) -> list[int]:
    """Run ``loop_body`` (Lua, with ``p[1]``/``p[2]`` bound) for every pair inside ``rpm --eval``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write("local P = {\n")
        for a, b in pairs:
            fh.write(f"{{{json.dumps(a)}, {json.dumps(b)}}},\n")
        fh.write(f"}}\nfor _, p in ipairs(P) do {loop_body} end\n")
        path = fh.name
    try:
        return _ints(_run(["rpm", "--eval", f'%{{lua: dofile("{path}")}}']), len(pairs))
    finally:
        os.unlink(path)


def rpm(pairs: Pairs) -> list[int]:
    """rpm's own EVR comparison (``rpm.ver`` objects in rpm's embedded Lua)."""
    return _rpm_lua(
        pairs,
        "local a, b = rpm.ver(p[1]), rpm.ver(p[2]) "
        "if a < b then print('-1\\n') elseif a == b then print('0\\n') else print('1\\n') end",
    )


def rpmvercmp(pairs: Pairs) -> list[int]:
    """rpm's ``rpmvercmp`` on bare version strings (``rpm.vercmp`` in rpm's Lua)."""
    return _rpm_lua(pairs, "print(rpm.vercmp(p[1], p[2]) .. '\\n')")


def maven(pairs: Pairs) -> list[int]:
    """``org.apache.maven.artifact.versioning.ComparableVersion`` from the installed maven-artifact jar."""
    jar = next(j for j in MAVEN_JARS if os.path.exists(j))
    args: list[str] = []
    for a, b in pairs:
        args += [a, b]
    out = _run(["java", "-cp", jar, "org.apache.maven.artifact.versioning.ComparableVersion", *args])
    ops = [line.split()[1] for line in out.splitlines() if line.startswith("   ")]
    # main() compares every adjacent argument; our pairs are the 1st, 3rd, 5th... comparisons.
    picked = ops[0::2]
    assert len(picked) == len(pairs)
    return [{"<": -1, "==": 0, ">": 1}[op] for op in picked]


def gem(pairs: Pairs) -> list[int]:
    """``Gem::Version#<=>`` from the installed Ruby."""
    script = "STDIN.each_line { |l| a, b = l.chomp.split(' ', 2); puts(Gem::Version.new(a) <=> Gem::Version.new(b)) }"
    return _ints(_run(["ruby", "-e", script], "".join(f"{a} {b}\n" for a, b in pairs)), len(pairs))


def composer(pairs: Pairs) -> list[int]:
    """Composer's ``VersionParser::normalize`` + ``version_compare`` (what ``Comparator`` uses)."""
    script = (
        f'require "{COMPOSER_AUTOLOAD}"; $p = new Composer\\Semver\\VersionParser();'
        'while (($l = fgets(STDIN)) !== false) { [$a, $b] = explode(" ", rtrim($l, "\\n"), 2);'
        'echo version_compare($p->normalize($a), $p->normalize($b)), "\\n"; }'
    )
    return _ints(_run(["php", "-r", script], "".join(f"{a} {b}\n" for a, b in pairs)), len(pairs))


def node_semver(pairs: Pairs) -> list[int]:
    """node-semver's ``compare`` in loose mode (the semver package npm itself uses)."""
    lib = next(d for d in NODE_SEMVER_DIRS if os.path.isdir(d))
    script = (
        f"const s = require({json.dumps(lib)}); const lines = require('fs').readFileSync(0, 'utf8').split('\\n');"
        "for (const l of lines) { if (!l) continue; const [a, b] = l.split(' '); console.log(s.compare(a, b, true)); }"
    )
    return _ints(_run(["node", "-e", script], "".join(f"{a} {b}\n" for a, b in pairs)), len(pairs))


_GO_MAIN = """package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 2)
		fmt.Println(semver.Compare(f[0], f[1]))
	}
}
"""


@cache
def _go_binary() -> str:
    work = Path(tempfile.mkdtemp(prefix="hullscan-gosemver-"))
    (work / "main.go").write_text(_GO_MAIN)
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(work / "cache"), GOFLAGS="")
    _run(["go", "build", "-o", str(work / "gosemver"), str(work / "main.go")], env=env)
    return str(work / "gosemver")


def go(pairs: Pairs) -> list[int]:
    """``golang.org/x/mod/semver.Compare`` (both sides must carry the ``v``)."""
    return _ints(_run([_go_binary()], "".join(f"{a} {b}\n" for a, b in pairs)), len(pairs))


RUNNERS: dict[str, Callable[[Pairs], list[int]]] = {
    "deb": dpkg,
    "rpm": rpm,
    "maven": maven,
    "gem": gem,
    "composer": composer,
    "semver": node_semver,
    "cargo": node_semver,
    "go": go,
}


@cache
def available(name: str) -> bool:
    """Whether the reference for scheme ``name`` can run on this machine."""
    if name == "deb":
        return shutil.which("dpkg") is not None
    if name == "rpm":
        return shutil.which("rpm") is not None
    if name == "maven":
        return shutil.which("java") is not None and any(os.path.exists(j) for j in MAVEN_JARS)
    if name == "gem":
        return shutil.which("ruby") is not None
    if name == "composer":
        return shutil.which("php") is not None and os.path.exists(COMPOSER_AUTOLOAD)
    if name in ("semver", "cargo"):
        return shutil.which("node") is not None and any(os.path.isdir(d) for d in NODE_SEMVER_DIRS)
    if name == "go":
        if shutil.which("go") is None or not os.path.isdir(GO_XMOD):
            return False
        try:
            _go_binary()
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            return False
        return True
    return False
