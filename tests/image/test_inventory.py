"""Squashing layer results: topmost wins, whiteouts, opaque dirs, layer attribution, every-layer findings."""

from __future__ import annotations

from hullscan.inventory import squash
from hullscan.model import (
    AnalysisResult,
    Category,
    Distro,
    FileResult,
    Finding,
    Layer,
    LayerResult,
    Location,
    Package,
    Severity,
)

STATUS = "/var/lib/dpkg/status"


def layer(i: int) -> Layer:
    return Layer(index=i, digest=f"sha256:blob{i}", diff_id=f"sha256:diff{i}", size=1)


def pkgs(layer_i: int, *nv: str) -> AnalysisResult:
    out = []
    for item in nv:
        name, version = item.split("=")
        out.append(Package(name=name, version=version, ecosystem="deb", layer=f"sha256:diff{layer_i}", path=STATUS))
    return AnalysisResult(packages=out)


def lr(i: int, files=(), written=(), whiteouts=(), opaque=()) -> LayerResult:
    return LayerResult(
        diff_id=f"sha256:diff{i}",
        files=[FileResult(path, "os/dpkg", res) for path, res in files],
        written=list(written) + [p for p, _ in files],
        whiteouts=list(whiteouts),
        opaque_dirs=list(opaque),
    )


def secret(path: str, layer_i: int, line: int = 1) -> Finding:
    return Finding("secret-aws", Category.SENSITIVE, Severity.HIGH, "AWS key",
                   location=Location(path=path, line=line, layer=f"sha256:diff{layer_i}"), evidence="AKIA****")


def test_topmost_database_wins_and_packages_keep_the_layer_that_installed_them():
    inv = squash([
        (layer(0), lr(0, [(STATUS, pkgs(0, "libc6=2.36", "bash=5.2"))])),
        (layer(1), lr(1, [(STATUS, pkgs(1, "libc6=2.36", "bash=5.2", "curl=7.88"))])),
        (layer(2), lr(2, [(STATUS, pkgs(2, "libc6=2.36", "curl=7.88", "bash=5.3"))])),  # bash upgraded, nothing removed
    ])
    got = {(p.name, p.version): p.layer for p in inv.packages}
    assert got == {
        ("libc6", "2.36"): "sha256:diff0",
        ("curl", "7.88"): "sha256:diff1",
        ("bash", "5.3"): "sha256:diff2",
    }


def test_removed_then_reinstalled_package_is_attributed_to_the_reinstalling_layer():
    inv = squash([
        (layer(0), lr(0, [(STATUS, pkgs(0, "vim=9"))])),
        (layer(1), lr(1, [(STATUS, pkgs(1, "bash=5"))])),
        (layer(2), lr(2, [(STATUS, pkgs(2, "bash=5", "vim=9"))])),
    ])
    assert {p.name: p.layer for p in inv.packages} == {"bash": "sha256:diff1", "vim": "sha256:diff2"}


def test_whiteout_removes_lower_files_and_their_packages():
    meta = "/usr/lib/python3/site-packages/requests-2.0.dist-info/METADATA"
    py = AnalysisResult(packages=[Package("requests", "2.0", "PyPI", path=meta)])
    inv = squash([
        (layer(0), lr(0, [(meta, py), (STATUS, pkgs(0, "bash=5"))])),
        (layer(1), lr(1, whiteouts=["/usr/lib/python3/site-packages/requests-2.0.dist-info"])),
    ])
    assert [p.name for p in inv.packages] == ["bash"]


def test_opaque_dir_hides_lower_content_but_keeps_its_own_layer():
    a = "/opt/app/a/METADATA"
    b = "/opt/app/b/METADATA"
    inv = squash([
        (layer(0), lr(0, [(a, AnalysisResult(packages=[Package("a", "1", "PyPI", path=a)]))])),
        (layer(1), lr(1, [(b, AnalysisResult(packages=[Package("b", "1", "PyPI", path=b)]))], opaque=["/opt/app"])),
    ])
    assert [p.name for p in inv.packages] == ["b"]


def test_secret_deleted_later_is_still_reported_with_both_layers():
    key = "/root/.ssh/id_rsa"
    l0 = lr(0, [(key, AnalysisResult(findings=[secret(key, 0)]))])
    l0.files[0].analyzer = "secret"
    inv = squash([(layer(0), l0), (layer(1), lr(1)), (layer(2), lr(2, whiteouts=[key]))])
    (f,) = inv.findings
    assert f.location.layer == "sha256:diff0"
    assert f.location.removed_in == "sha256:diff2"


def test_secret_rewritten_unchanged_is_reported_once_from_the_upper_layer():
    key = "/etc/app.env"
    inv = squash([
        (layer(0), lr(0, [(key, AnalysisResult(findings=[secret(key, 0)]))])),
        (layer(1), lr(1, [(key, AnalysisResult(findings=[secret(key, 1)]))])),
    ])
    (f,) = inv.findings
    assert f.location.layer == "sha256:diff1" and f.location.removed_in == ""


def test_distro_and_owned_files():
    res = AnalysisResult(owners={"deb:bash": ["/bin/bash", "/usr/share/doc/bash"]})
    os_res = AnalysisResult(distro=Distro(id="debian", version_id="12"))
    inv = squash([
        (layer(0), lr(0, [("/etc/os-release", os_res), (STATUS, pkgs(0, "bash=5")), ("/var/lib/dpkg/info/bash.list", res)])),
    ])
    assert inv.distro == Distro(id="debian", version_id="12")
    assert inv.packages[0].files == ("/bin/bash", "/usr/share/doc/bash")
