"""hullscan in pipelines, run locally: the GitHub Action's composite steps (action.yml parsed, its ``run:`` steps
executed with the inputs substituted), the GitLab CI template's script, the pre-commit hooks' entries, and the one
Dockerfile (structure checked; built with Debian's buildah where the sandbox allows it, else skipped with the
reason printed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import hullscan
from tests.helpers.imagebuild import ImageBuilder
from tests.report.test_html_template import GITLAB_SCHEMA
from tests.vulndb.fixtures import osv, rng, write_osv_zip

ROOT = Path(hullscan.__file__).resolve().parents[2]
SRC = ROOT / "src"
HULLSCAN = shutil.which("hullscan")
pytestmark = pytest.mark.skipif(HULLSCAN is None or shutil.which("bash") is None,
                                reason="the hullscan command (scripts/setup) and bash are needed")
SECRET = 'AWS_ACCESS_KEY_ID = "AKIAQ4LZ7XK2M9TRB3WD"\nAWS_SECRET_ACCESS_KEY = "q8Zr2Lm4Nx7Vb1Kc9Hs3Jd6Fg0Tw5Ye8Up2Io4Ra"\n'


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HULLSCAN_")}
    env.update(PYTHONPATH=str(SRC), HULLSCAN_CACHE_DIR=str(tmp / "cache"), HULLSCAN_DB=str(tmp / "vuln.db"),
               HULLSCAN_SKIP_DB_UPDATE="true")
    return env


@pytest.fixture()
def test_image(tmp_path: Path) -> Path:
    """An image archive with a vulnerable Python package and a secret, and a database that knows the package."""
    b = ImageBuilder()
    b.add_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
                 "usr/lib/python3/dist-packages/demo-0.5.dist-info/METADATA":
                     "Metadata-Version: 2.1\nName: demo\nVersion: 0.5\n", "app/settings.py": SECRET})
    archive = tmp_path / "app.tar"
    b.write_docker_archive(archive, "test/pipeline:1")
    feed = write_osv_zip(tmp_path / "feeds" / "PyPI" / "all.zip",
                         [osv("PYSEC-2024-9", "PyPI", "demo", rng({"introduced": "0"}, {"fixed": "1.0"}))])
    subprocess.run([str(HULLSCAN), "db", "import", "-q", str(feed)], env=base_env(tmp_path), check=True,
                   capture_output=True, timeout=300)
    return archive


# --------------------------------------------------------------------------- GitHub Action

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _value(expr: str, ctx: dict[str, Any]) -> Any:
    """The small part of GitHub's expression language action.yml uses: ``inputs.x``, ``github.x``,
    ``steps.id.outputs.x``, ``'literal'``, ``==``, ``&&``, ``always()``."""
    expr = expr.strip()
    if "&&" in expr:
        return all(_value(part, ctx) for part in expr.split("&&"))
    if "==" in expr:
        left, right = expr.split("==", 1)
        return str(_value(left, ctx)) == str(_value(right, ctx))
    if expr == "always()":
        return True
    if expr.startswith("'") and expr.endswith("'"):
        return expr[1:-1]
    node: Any = ctx
    for part in expr.split("."):
        node = node[part]
    return node


def _subst(text: str, ctx: dict[str, Any]) -> str:
    return _EXPR.sub(lambda m: str(_value(m.group(1), ctx)), text)


def run_action(tmp: Path, **given: str) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """Run action.yml's composite steps like the runner: each ``run:`` step with bash, its ``env`` and the inputs
    substituted; ``uses:`` steps are returned (not run) with their ``with`` substituted. Returns the exit code of the
    first failed step (0: none)."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    missing = [n for n, spec in action["inputs"].items() if spec.get("required") and n not in given]
    assert not missing, missing
    inputs.update(given)
    ctx: dict[str, Any] = {"inputs": inputs, "github": {"action_path": str(ROOT), "sha": "0" * 40},
                           "steps": {}}
    used: list[dict[str, Any]] = []
    failed = 0
    for step in action["runs"]["steps"]:
        if failed and "always()" not in str(step.get("if", "")):
            continue  # after a failed step the runner runs only the steps that ask for it
        if "if" in step and not _value(_EXPR.sub(lambda m: m.group(1), str(step["if"])), ctx):
            continue
        if "uses" in step:
            used.append({"uses": step["uses"], "with": {k: _subst(str(v), ctx) for k, v in step.get("with", {}).items()}})
            continue
        assert step["shell"] == "bash"
        out_file = tmp / f"github-output-{len(ctx['steps'])}"
        out_file.write_text("")
        env = {**base_env(tmp), **{k: _subst(str(v), ctx) for k, v in step.get("env", {}).items()},
               "GITHUB_OUTPUT": str(out_file)}
        proc = subprocess.run(["bash", "-e", "-c", _subst(step["run"], ctx)], env=env, cwd=tmp, capture_output=True,
                              text=True, timeout=300, check=False)
        outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
        if "id" in step:
            ctx["steps"][step["id"]] = {"outputs": outputs}
        failed = failed or proc.returncode
    return failed, used, ctx


def test_the_github_action_scans_and_hands_the_sarif_to_upload(tmp_path: Path, test_image: Path) -> None:
    rc, used, ctx = run_action(tmp_path, image=str(test_image), install="false")
    assert rc == 0
    sarif = json.loads((tmp_path / "hullscan.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    rules = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert "PYSEC-2024-9" in rules and any(r.startswith("secret-") for r in rules)
    assert ctx["steps"]["scan"]["outputs"]["report"] == "hullscan.sarif"
    [upload] = used
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@") and upload["with"]["sarif_file"] == "hullscan.sarif"


def test_the_github_action_gates_on_exit_code_and_passes_inputs(tmp_path: Path, test_image: Path) -> None:
    rc, used, _ = run_action(tmp_path, image=str(test_image), install="false", **{"exit-code": "1"})
    assert rc == 1 and used  # the upload still runs (always())
    rc, used, _ = run_action(tmp_path, image=str(test_image), install="false", format="json", output="r.json",
                             severity="LOW", **{"exit-code": "1"})
    assert rc == 0 and used == []  # only LOW findings count: none; json is not uploaded
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["findings"] == [] and report["suppressed"]


# --------------------------------------------------------------------------- GitLab CI template


def test_the_gitlab_template_writes_a_container_scanning_report(tmp_path: Path, test_image: Path) -> None:
    doc = yaml.safe_load((ROOT / "ci" / "hullscan.gitlab-ci.yml").read_text())
    job = doc["hullscan"]
    assert job["artifacts"]["reports"]["container_scanning"] == "gl-container-scanning-report.json"
    env = {**base_env(tmp_path), **{k: str(v) for k, v in job["variables"].items() if "$CI_" not in str(v)},
           "HULLSCAN_IMAGE": str(test_image)}
    for line in job["script"]:
        proc = subprocess.run(["bash", "-e", "-c", line], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "gl-container-scanning-report.json").read_text())
    jsonschema.validate(report, GITLAB_SCHEMA)
    assert [v["identifiers"][0]["value"] for v in report["vulnerabilities"]] == ["PYSEC-2024-9"]
    assert json.loads((tmp_path / "hullscan.sarif").read_text())["version"] == "2.1.0"


# --------------------------------------------------------------------------- pre-commit


def test_the_pre_commit_hooks_run_their_entries(tmp_path: Path, test_image: Path) -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    env = base_env(tmp_path)
    sbom = tmp_path / "app.cdx.json"
    subprocess.run([str(HULLSCAN), "sbom", str(test_image), "-q", "-o", str(sbom)], env=env, check=True, timeout=300,
                   capture_output=True)
    sbom_hook = hooks["hullscan-sbom"]
    assert re.search(sbom_hook["files"], sbom.name) and not re.search(sbom_hook["files"], "README.md")
    clean = tmp_path / "clean.cdx.json"
    clean.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []}))

    def hook(entry: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", f"{entry} \"$@\"", "hook", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, check=False)

    assert hook(sbom_hook["entry"], str(clean)).returncode == 0
    failing = hook(sbom_hook["entry"], str(clean), str(sbom))
    assert failing.returncode == 1 and "PYSEC-2024-9" in failing.stdout
    image_hook = hooks["hullscan-image"]
    assert image_hook["pass_filenames"] is False and re.search(image_hook["files"], "docker/Dockerfile.prod")
    assert hook(image_hook["entry"], "--input", str(test_image), "--scanners", "secret").returncode == 1


# --------------------------------------------------------------------------- the image


def test_one_multi_stage_non_root_dockerfile() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert not (ROOT / "Dockerfile").exists()  # one Dockerfile, for the CLI and the server
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    froms = [ln for ln in lines if ln.upper().startswith("FROM ")]
    assert len(froms) >= 2 and " AS build" in froms[0]
    assert any(ln.startswith("COPY --from=build ") for ln in lines)
    users = [ln.split()[1] for ln in lines if ln.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_stage = text[text.rindex("\nFROM "):]
    assert "pip install" not in last_stage and "apt-get install" in last_stage  # build tools stay in the first stage
    assert 'CMD ["hullscan", "server"' in text


def test_the_dockerfile_builds_with_buildah_where_the_sandbox_allows(tmp_path: Path) -> None:
    buildah = shutil.which("buildah") or shutil.which("podman")
    if buildah is None:
        pytest.skip("neither buildah nor podman is installed (scripts/setup installs buildah)")
    tool = ["bud"] if buildah.endswith("buildah") else ["build"]
    cmd = [buildah, *tool, "--pull=never", "--layers=false", "-f", str(ROOT / "deploy" / "Dockerfile"),
           "-t", "localhost/hullscan-test:latest", str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False,
                          env={**os.environ, "STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"})
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"buildah could not build the image here: {reason}")
        pytest.skip(f"the sandbox does not allow the image build: {reason[:300]}")
    run = subprocess.run([buildah, "run" if tool == ["bud"] else "run", "localhost/hullscan-test:latest",
                          "hullscan", "--version"], capture_output=True, text=True, timeout=300, check=False)
    assert "hullscan" in run.stdout, run.stderr
