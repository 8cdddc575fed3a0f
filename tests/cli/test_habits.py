"""CLI habits, end to end through the installed ``hullscan`` command (run with PYTHONPATH at this tree):
``--version`` / ``version --format json``, shell completion, ``--skip-dirs`` / ``--skip-files``, the whole-scan
``--timeout``, exit codes, and one configuration (``hullscan.yaml``, ``HULLSCAN_<OPTION>``, flags) for every option.

The round-trip test is generated from the commands' own option definitions: a new option is covered without
editing this file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import hullscan
from hullscan.cli import config as cli_config
from tests.helpers.imagebuild import ImageBuilder

SRC = Path(hullscan.__file__).resolve().parents[1]
HULLSCAN = shutil.which("hullscan")
pytestmark = pytest.mark.skipif(HULLSCAN is None, reason="the hullscan command is not installed (scripts/setup)")

SECRET = 'AWS_ACCESS_KEY_ID = "AKIAQ4LZ7XK2M9TRB3WD"\nAWS_SECRET_ACCESS_KEY = "q8Zr2Lm4Nx7Vb1Kc9Hs3Jd6Fg0Tw5Ye8Up2Io4Ra"\n'


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, check_rc: int | None = None,
        cache: bool = True) -> subprocess.CompletedProcess[str]:
    """``hullscan ARGS`` with this tree first on PYTHONPATH and no HULLSCAN_* variable but ``env``'s."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HULLSCAN_") and not k.startswith("_HULLSCAN")}
    base.update({"PYTHONPATH": str(SRC), **({"HULLSCAN_CACHE_DIR": str(cwd / "cache")} if cache else {}),
                 **(env or {})})
    proc = subprocess.run([str(HULLSCAN), *args], capture_output=True, text=True, cwd=cwd, env=base, timeout=300,
                          stdin=subprocess.DEVNULL, check=False)
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def image(tmp_path: Path) -> Path:
    b = ImageBuilder()
    b.add_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n', "app/app.conf": "debug = true\n",
                 "app/keys/settings.py": SECRET, "opt/tools/settings.py": SECRET})
    archive = tmp_path / "image.tar"
    b.write_docker_archive(archive, "test/habits:1")
    return archive


# --------------------------------------------------------------------------- version


def test_version_flag_and_json_name_the_database_build_time_age_and_schema(tmp_path: Path) -> None:
    from hullscan.vulndb.db import SCHEMA_VERSION
    from tests.vulndb.fixtures import osv, rng, write_osv_zip

    db = tmp_path / "vuln.db"
    zipped = write_osv_zip(tmp_path / "feeds" / "PyPI" / "all.zip",
                           [osv("PYSEC-1", "PyPI", "demo", rng({"introduced": "0"}, {"fixed": "1.0"}))])
    run("db", "import", "--db", str(db), "-q", str(zipped), cwd=tmp_path, check_rc=0)
    text = run("--version", cwd=tmp_path, env={"HULLSCAN_DB": str(db)}, check_rc=0).stdout
    assert text.startswith(f"hullscan {hullscan.__version__}\n")
    assert f"schema version {SCHEMA_VERSION}, built 20" in text and "old" in text
    info = json.loads(run("version", "--format", "json", "--db", str(db), cwd=tmp_path, check_rc=0).stdout)
    assert info["version"] == hullscan.__version__
    assert info["database"]["present"] is True and info["database"]["schema_version"] == SCHEMA_VERSION
    assert info["database"]["built_at"].endswith("Z") and 0 <= info["database"]["age_seconds"] < 600
    assert info["database"]["sources"] == ["osv:PyPI"]
    missing = json.loads(run("version", "-f", "json", "--db", str(tmp_path / "none.db"), cwd=tmp_path,
                             check_rc=0).stdout)
    assert missing["database"]["present"] is False and "no vulnerability database" in missing["database"]["error"]


# --------------------------------------------------------------------------- completion


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completion_script_loads_and_completes_commands_and_options(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HULLSCAN_")}
    env["PYTHONPATH"] = str(SRC)
    script = ("source <(hullscan completion bash) && complete -p hullscan && "
              "COMP_WORDS=(hullscan ima); COMP_CWORD=1; _hullscan_completion hullscan; echo \"cmds=${COMPREPLY[*]}\"; "
              "COMP_WORDS=(hullscan image --skip-d); COMP_CWORD=2; _hullscan_completion hullscan; echo \"opts=${COMPREPLY[*]}\"")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "complete -o default -F _hullscan_completion hullscan" in proc.stdout
    assert "cmds=image" in proc.stdout
    assert "opts=--skip-dirs" in proc.stdout


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_hullscan(tmp_path: Path, shell: str) -> None:
    out = run("completion", shell, cwd=tmp_path, check_rc=0).stdout
    assert "hullscan" in out and "_HULLSCAN_COMPLETE" in out
    bad = run("completion", "tcsh", cwd=tmp_path, check_rc=2)
    assert bad.stderr == "hullscan: error: unknown shell 'tcsh': choose from bash, zsh, fish, powershell\n"


# --------------------------------------------------------------------------- skips, timeout, exit codes


def _secret_paths(report: dict[str, Any]) -> set[str]:
    return {f["location"]["path"] for f in report["findings"] if f["category"] == "sensitive"}


def test_skip_dirs_and_skip_files_keep_files_from_the_analyzers(tmp_path: Path) -> None:
    archive = image(tmp_path)
    base = ("image", "--input", str(archive), "--scanners", "secret", "-f", "json", "-q")
    found = _secret_paths(json.loads(run(*base, cwd=tmp_path, check_rc=0).stdout))
    assert {"/app/keys/settings.py", "/opt/tools/settings.py"} <= found
    skipped = _secret_paths(json.loads(run(*base, "--skip-dirs", "app/keys", "--skip-files", "*/tools/*.py",
                                           cwd=tmp_path, check_rc=0).stdout))
    assert "/app/keys/settings.py" not in skipped and "/opt/tools/settings.py" not in skipped
    # the layer cache keys include the skips: without them again, everything is found again
    assert _secret_paths(json.loads(run(*base, cwd=tmp_path, check_rc=0).stdout)) == found


def test_skip_globs_are_matched_without_reading_the_file() -> None:
    from hullscan.scan import skip_matcher

    skipped = skip_matcher(["**/node_modules", "usr/share/doc"], ["*.pem", "opt/app/test/*"])
    assert skipped is not None
    for path in ("/node_modules/a.js", "/srv/x/node_modules/y/z.js", "/usr/share/doc/x/copyright",
                 "/etc/ssl/key.pem", "/opt/app/test/data.txt"):
        assert skipped(path), path
    for path in ("/usr/share/docs/x", "/srv/node_modules_x/a", "/etc/ssl/key.pem.txt", "/opt/app/tests/a"):
        assert not skipped(path), path
    assert skip_matcher([], []) is None


def test_timeout_takes_durations_and_stops_the_scan(tmp_path: Path) -> None:
    archive = image(tmp_path)
    ok = run("image", "--input", str(archive), "--scanners", "none", "-f", "json", "-q", "--timeout", "5m",
             cwd=tmp_path, check_rc=0)
    assert json.loads(ok.stdout)["findings"] == []
    late = run("image", "--input", str(archive), "--scanners", "none", "-q", "--no-cache", "--timeout", "1ms",
               cwd=tmp_path, check_rc=2)
    assert late.stderr.startswith("hullscan: error: the scan's time limit was reached")
    bad = run("image", "--input", str(archive), "--timeout", "soon", cwd=tmp_path, check_rc=2)
    assert "--timeout 'soon': give a duration such as 90s, 5m or 1h30m" in bad.stderr


@pytest.mark.parametrize("code", [2, 70, 130])
def test_exit_code_may_not_be_an_error_code(tmp_path: Path, code: int) -> None:
    proc = run("image", "x", "--exit-code", str(code), cwd=tmp_path, check_rc=2)
    assert proc.stderr.startswith(f"hullscan: error: --exit-code {code}: {code} means ")


def test_exit_codes_are_documented_in_help_and_readme(tmp_path: Path) -> None:
    from hullscan.cli.process import EXIT_CODES_HELP

    help_text = " ".join(run("--help", cwd=tmp_path, check_rc=0).stdout.split())
    for needle in ("Exit codes: 0 success", "2 error", "70 internal error", "130 interrupted"):
        assert needle in help_text and needle in EXIT_CODES_HELP
    readme = (SRC.parent / "README.md").read_text(encoding="utf-8")
    assert "## Exit codes" in readme and "| 70 |" in readme


def test_exit_code_for_findings_and_error_code_differ(tmp_path: Path) -> None:
    archive = image(tmp_path)
    found = run("image", "--input", str(archive), "--scanners", "secret", "-q", "-f", "json", "--exit-code", "1",
                cwd=tmp_path, check_rc=1)
    assert json.loads(found.stdout)["findings"]
    err = run("image", "--input", str(tmp_path / "missing.tar"), "-q", "--exit-code", "1", cwd=tmp_path, check_rc=2)
    assert err.stderr.startswith("hullscan: error:")


# --------------------------------------------------------------------------- one configuration


def _commands() -> dict[str, list[Any]]:
    group = cli_config.full_group()
    return {name: [p for p in cli_config.options_of(group.commands[name]) if p.name != "config"]
            for name in cli_config.CONFIGURED_COMMANDS}


def _sample(param: Any, variant: int) -> Any:
    """A value of ``param``'s type that differs from its default (``variant`` 0, 1, 2 give three different ones)."""
    kind = cli_config._type_kind(param)
    if kind == "boolean":
        return bool(param.default) if variant == 1 else not bool(param.default)  # env: back to the default
    if kind == "integer":
        low = getattr(param.type, "min", None) or 0
        value = low + 3 + variant * 2  # 3, 5, 7 (never an error exit code)
        high = getattr(param.type, "max", None)
        return min(value, high) if high is not None else value
    if kind == "float":
        return float((getattr(param.type, "min", None) or 0) + 1.5 + variant)
    text = f"v{variant}-{param.name.replace('_', '-')}"
    return [text + "-a", text + "-b"] if param.multiple else text


def _as_flag(param: Any, value: Any) -> list[str]:
    flag = next(o for o in param.opts if o.startswith("--"))
    if cli_config._type_kind(param) == "boolean":
        secondary = [o for o in param.secondary_opts if o.startswith("--")]
        if value:
            return [flag]
        return [secondary[0]] if secondary else []
    if param.multiple:
        return [a for v in value for a in (flag, str(v))]
    return [flag, str(value)]


def _as_env(param: Any, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return ",".join(value) if isinstance(value, list) else str(value)


def _effective(command: str, args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    positional = ["sbom.json"] if command == "sbom-scan" else ["registry.local/app:1"]
    return json.loads(run("config", command, *positional, *args, cwd=cwd, env=env, check_rc=0, cache=False).stdout)


@pytest.mark.parametrize("command", cli_config.CONFIGURED_COMMANDS)
def test_every_option_round_trips_through_file_env_and_flag(tmp_path: Path, command: str) -> None:
    params = _commands()[command]
    assert len(params) >= 5
    file_values = {p: _sample(p, 0) for p in params}
    env_values = {p: _sample(p, 1) for p in params}
    flag_values = {p: _sample(p, 2) for p in params}
    cfg = tmp_path / "hullscan.yaml"
    cfg.write_text(yaml.safe_dump({command: {cli_config.key_name(p): v for p, v in file_values.items()}}))
    env = {cli_config.env_name(p): _as_env(p, v) for p, v in env_values.items()}
    flags = [a for p, v in flag_values.items() for a in _as_flag(p, v)]

    def expect(got: dict[str, Any], values: dict[Any, Any], source: str) -> None:
        for p, v in values.items():
            key = cli_config.key_name(p)
            if isinstance(v, bool) and v == bool(p.default) and source == "commandline" and not p.secondary_opts:
                continue  # a flag without a --no- form cannot give its default on the command line
            assert got[key]["value"] == v, (key, source, got[key])
            assert got[key]["source"] == source, (key, got[key])
            assert got[key]["env"] == cli_config.env_name(p)

    expect(_effective(command, [], tmp_path, {}), file_values, "config")          # file alone
    expect(_effective(command, [], tmp_path, env), env_values, "environment")     # env beats file
    expect(_effective(command, flags, tmp_path, env), flag_values, "commandline")  # flag beats env and file
    cfg.unlink()
    expect(_effective(command, [], tmp_path, env), env_values, "environment")     # env alone
    expect(_effective(command, flags, tmp_path, {}), flag_values, "commandline")  # flag alone
    alt = tmp_path / "other.yaml"
    alt.write_text(yaml.safe_dump({cli_config.key_name(p): v for p, v in file_values.items()}))
    expect(_effective(command, ["--config", str(alt)], tmp_path, {}), file_values, "config")  # --config, top level
    expect(_effective(command, [], tmp_path, {"HULLSCAN_CONFIG": str(alt)}), file_values, "config")


def test_severity_and_format_from_the_file_take_effect(tmp_path: Path) -> None:
    archive = image(tmp_path)
    (tmp_path / "hullscan.yaml").write_text("format: json\nseverity: [LOW]\nscanners: secret\nquiet: true\n")
    report = json.loads(run("image", "--input", str(archive), cwd=tmp_path, check_rc=0).stdout)
    assert report["findings"] == []  # secrets are not LOW: all suppressed
    assert report["suppressed"]
    (tmp_path / "hullscan.yaml").write_text("format: json\nseverity: [CRITICAL, HIGH, MEDIUM, LOW]\nscanners: secret\n"
                                             "quiet: true\n")
    assert json.loads(run("image", "--input", str(archive), cwd=tmp_path, check_rc=0).stdout)["findings"]


@pytest.mark.parametrize(("text", "needle"), [
    ("severty: HIGH\n", "hullscan.yaml: unknown key 'severty' (did you mean 'severity'?)"),
    ("workers: many\n", "hullscan.yaml: key 'workers': expected an integer, got text ('many')"),
    ("quiet: 'yes'\n", "hullscan.yaml: key 'quiet': expected true or false, got text ('yes')"),
    ("format: {a: 1}\n", "hullscan.yaml: key 'format': expected text, got a mapping"),
    ("image: [1]\n", "hullscan.yaml: key 'image': expected a mapping of image's options, got a list"),
    ("image:\n  exit-code: true\n", "hullscan.yaml: key 'image.exit-code': expected an integer, got a boolean"),
    ("- a\n", "hullscan.yaml: expected a mapping of option names to values, got a list"),
    ("a: [\n", "hullscan.yaml: not valid YAML"),
])
def test_unknown_keys_and_wrong_types_are_errors_naming_the_key(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "hullscan.yaml").write_text(text)
    proc = run("image", "x", cwd=tmp_path, check_rc=2)
    assert proc.stderr.startswith("hullscan: error: ") and needle in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    proc = run("image", "x", "--config", str(tmp_path / "nope.yaml"), cwd=tmp_path, check_rc=2)
    assert proc.stderr == f"hullscan: error: {tmp_path / 'nope.yaml'}: no such config file\n"


# --------------------------------------------------------------------------- database freshness


def _vuln_image(tmp_path: Path) -> Path:
    b = ImageBuilder()
    b.add_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
                 "usr/lib/python3/dist-packages/demo-0.5.dist-info/METADATA":
                     "Metadata-Version: 2.1\nName: demo\nVersion: 0.5\n"})
    archive = tmp_path / "vuln-image.tar"
    b.write_docker_archive(archive, "test/habits-vuln:1")
    return archive


@pytest.fixture()
def feed_mirror(tmp_path: Path) -> Any:
    """An offline mirror of the feeds (``<Ecosystem>/all.zip``) served over HTTP on 127.0.0.1, counting requests."""
    import http.server
    import threading

    from tests.vulndb.fixtures import osv, rng, write_osv_zip

    root = tmp_path / "mirror"
    write_osv_zip(root / "PyPI" / "all.zip",
                  [osv("PYSEC-2024-1", "PyPI", "demo", rng({"introduced": "0"}, {"fixed": "1.0"}))])
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a: Any) -> None:
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", hits
    server.shutdown()
    server.server_close()


def test_first_scan_downloads_the_database_and_the_report_records_it(tmp_path: Path, feed_mirror: Any) -> None:
    url, hits = feed_mirror
    archive = _vuln_image(tmp_path)
    db = tmp_path / "db" / "vuln.db"
    env = {"HULLSCAN_DB_SOURCES": url, "HULLSCAN_DB": str(db)}
    base = ("image", "--input", str(archive), "--scanners", "vuln", "-f", "json")
    refused = run(*base, "--skip-db-update", cwd=tmp_path, env=env, check_rc=2)
    assert refused.stderr.startswith(f"hullscan: error: no vulnerability database at {db}")
    assert "updates are off: --skip-db-update / --offline" in refused.stderr and not db.exists()
    assert run(*base, "--offline", cwd=tmp_path, env=env, check_rc=2).stderr == refused.stderr
    proc = run(*base, cwd=tmp_path, env=env, check_rc=0)
    assert f"no vulnerability database at {db}: downloading it" in proc.stderr
    assert any(h.endswith("/PyPI/all.zip") for h in hits)
    report = json.loads(proc.stdout)
    assert [f["id"] for f in report["findings"]] == ["PYSEC-2024-1"]
    assert report["database"]["schema_version"] >= 1 and report["database"]["built_at"].endswith("Z")
    assert [s["name"] for s in report["database"]["sources"]] == ["osv:PyPI"]
    assert report["database"]["sources"][0]["records"] == 1
    # the second scan uses it as is: no request, no notice
    hits.clear()
    again = run(*base, cwd=tmp_path, env=env, check_rc=0)
    assert hits == [] and again.stderr == ""
    # validated against the committed JSON schema
    import jsonschema

    schema = json.loads((SRC.parent / "docs" / "report-schema.json").read_text())
    jsonschema.validate(json.loads(again.stdout), schema)


def test_a_stale_database_is_refreshed_or_warned_about(tmp_path: Path, feed_mirror: Any) -> None:
    import sqlite3

    url, hits = feed_mirror
    archive = _vuln_image(tmp_path)
    db = tmp_path / "vuln.db"
    env = {"HULLSCAN_DB_SOURCES": url, "HULLSCAN_DB": str(db)}
    run("db", "update", "-q", cwd=tmp_path, env=env, check_rc=0)

    def age(built: str) -> None:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'built_at'", (built,))

    age("2020-01-01T00:00:00Z")
    base = ("image", "--input", str(archive), "--scanners", "vuln", "-f", "json")
    warned = run(*base, "--skip-db-update", cwd=tmp_path, env=env, check_rc=0)
    assert "hullscan: warning: the vulnerability database" in warned.stderr and "older than --db-max-age" in warned.stderr
    assert any("older than --db-max-age" in n for n in json.loads(warned.stdout)["notes"])
    assert json.loads(warned.stdout)["database"]["built_at"] == "2020-01-01T00:00:00Z"
    assert run(*base, "--skip-db-update", "-q", cwd=tmp_path, env=env, check_rc=0).stderr == ""  # --quiet
    hits.clear()
    fresh = run(*base, "--db-max-age", "30d", cwd=tmp_path, env=env, check_rc=0)
    assert "vulnerability database refreshed" in fresh.stderr and hits
    assert json.loads(fresh.stdout)["database"]["built_at"] > "2020-01-01T00:00:00Z"
    # a refresh that fails (the mirror is gone) keeps the old database, with a warning
    age("2020-01-01T00:00:00Z")
    gone = {**env, "HULLSCAN_DB_SOURCES": "http://127.0.0.1:9/"}
    kept = run(*base, cwd=tmp_path, env=gone, check_rc=0)
    assert "could not be refreshed" in kept.stderr and json.loads(kept.stdout)["findings"]
    assert run(*base, "--db-max-age", "never", cwd=tmp_path, env=gone, check_rc=0).stderr == ""
    # a database holding a source imported by hand is never rebuilt behind the user's back
    from tests.vulndb.fixtures import osv, write_osv_zip

    extra = write_osv_zip(tmp_path / "own" / "Internal" / "all.zip", [osv("INT-2024-1", "Go", "example.com/m")])
    run("db", "import", "-q", str(extra), cwd=tmp_path, env=env, check_rc=0)
    age("2020-01-01T00:00:00Z")
    hits.clear()
    own = run(*base, cwd=tmp_path, env=env, check_rc=0)
    assert "holds imported sources (osv:Internal)" in own.stderr and hits == []
