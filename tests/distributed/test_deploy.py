"""deploy/: every command the compose file, the Kubernetes manifests and the Dockerfile run exists in the CLI with
the options they pass, and every HULLSCAN_* setting they give is one the code reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _commands_and_env() -> tuple[list[tuple[str, list[str]]], dict[str, str]]:
    commands: list[tuple[str, list[str]]] = []
    env: dict[str, str] = {}
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if service.get("command") and service["command"][0] == "hullscan":
            commands.append((f"compose {name}", service["command"]))
        env.update({k: f"compose {name}" for k in (service.get("environment") or {})})
    for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / "hullscan.yaml").read_text()):
        if doc["kind"] == "ConfigMap":
            env.update({k: "kubernetes ConfigMap" for k in doc["data"]})
        if doc["kind"] == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                commands.append((f"kubernetes {doc['metadata']['name']}", c["command"] + c.get("args", [])))
    # the Secret's keys, as the manifest's comment tells to create them
    for key in re.findall(r"--from-literal=(HULLSCAN_\w+)=", (DEPLOY / "kubernetes" / "hullscan.yaml").read_text()):
        env[key] = "kubernetes Secret"
    docker = (DEPLOY / "Dockerfile").read_text()
    commands.append(("Dockerfile CMD", json.loads(re.search(r"^CMD (\[.*\])$", docker, re.M).group(1))))  # type: ignore[union-attr]
    env.update({k: "Dockerfile" for k in re.findall(r"^ENV (HULLSCAN_\w+)=", docker, re.M)})
    return commands, env


def test_deployment_commands_exist_with_their_options() -> None:
    import typer

    from hullscan.cli import COMMANDS, build_app

    group: Any = typer.main.get_command(build_app())
    commands, _ = _commands_and_env()
    assert {c[1][1] for c in commands} == {"server", "worker", "scheduler"} and {"worker", "scheduler"} <= set(COMMANDS)
    for where, argv in commands:
        assert argv[0] == "hullscan", where
        command = group.commands.get(argv[1])
        assert command is not None, f"{where}: 'hullscan {argv[1]}' is no command of the CLI"
        known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        for arg in argv[2:]:
            if arg.startswith("--"):
                assert arg.split("=")[0] in known, f"{where}: 'hullscan {argv[1]}' has no option {arg}"
        # and the arguments parse (types, values)
        ctx = command.make_context(argv[1], list(argv[2:]), resilient_parsing=False)
        ctx.close()


def test_deployment_settings_are_read_by_the_code() -> None:
    _, env = _commands_and_env()
    assert {"HULLSCAN_DB_URL", "HULLSCAN_BROKER_URL", "HULLSCAN_SECRET_KEY"} <= set(env)
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "hullscan").rglob("*.py"))
    for key, where in env.items():
        if key.startswith("HULLSCAN_"):
            assert f'"{key}"' in source, f"{where} sets {key}, which no code reads"
