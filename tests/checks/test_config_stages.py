"""The image-config stages: baseline_config (root user, HEALTHCHECK, unowned setuid) and secrets_in_config."""

from __future__ import annotations

from hullscan.checks.config import baseline_config, secrets_in_config
from hullscan.model import Category, ImageConfigSummary, Inventory, Package
from hullscan.options import ScanOptions
from hullscan.stages import ScanContext


def _ctx(config: ImageConfigSummary, raw: bool = True, setuid: list[str] | None = None,
         packages: list[Package] | None = None) -> ScanContext:
    inv = Inventory(packages=packages or [], facts={"setuid": setuid} if setuid else {})
    return ScanContext(options=ScanOptions(), inventory=inv, config=config, raw_config={"config": {}} if raw else {})


def test_root_and_healthcheck() -> None:
    for user in ("", "root", "0", "0:0", "root:root"):
        ids = [f.id for f in baseline_config(_ctx(ImageConfigSummary(user=user)))]
        assert ids == ["baseline-root-user", "baseline-no-healthcheck"], user
    ok = ImageConfigSummary(user="1000:1000", healthcheck=("CMD", "curl", "-f", "http://localhost/"))
    assert baseline_config(_ctx(ok)) == []
    disabled = ImageConfigSummary(user="app", healthcheck=("NONE",))
    assert [f.id for f in baseline_config(_ctx(disabled))] == ["baseline-no-healthcheck"]


def test_rootfs_scan_has_no_config_checks() -> None:
    ctx = _ctx(ImageConfigSummary(), raw=False)
    assert baseline_config(ctx) == []
    assert any("no image config" in n for n in ctx.notes)


def test_setuid_owned_by_packages_is_fine() -> None:
    pkgs = [Package("passwd", "1:4.13", "deb", files=("/usr/bin/passwd", "/usr/bin/chsh"))]
    ctx = _ctx(ImageConfigSummary(user="app", healthcheck=("CMD", "true")), setuid=["/usr/bin/passwd", "/opt/tool/suid-helper"],
               packages=pkgs)
    found = baseline_config(ctx)
    assert [(f.id, f.location.path, f.category) for f in found] == [
        ("baseline-setuid-unowned", "/opt/tool/suid-helper", Category.BASELINE)]


def test_secrets_in_env_labels_history_are_masked() -> None:
    key = "AKIA" + "QYLPMN7CVWZBT3RS"
    token = "glpat-" + "aB3dE6gH9jK2mN5pQ8sT"
    config = ImageConfigSummary(
        env=("PATH=/usr/bin", f"AWS_ACCESS_KEY_ID={key}"),
        labels=(("ci.token", token),),
        history=((f"/bin/sh -c git clone https://oauth2:{token}@gitlab.corp/x.git", False),),
    )
    found = secrets_in_config(_ctx(config))
    got = sorted((f.id, f.location.path) for f in found)
    assert got == [("secret-aws-access-key-id", "config.Env[1]"), ("secret-gitlab-pat", "config.Labels[ci.token]"),
                   ("secret-gitlab-pat", "history[0]")]
    for f in found:
        assert key not in f.evidence + f.description and token not in f.evidence + f.description
        assert f.category is Category.SENSITIVE
