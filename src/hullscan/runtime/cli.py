"""``hullscan runtime containerd|docker|podman``: scan the images of a node's containers (thin: see
:mod:`hullscan.runtime.node`).

No ``from __future__ import annotations``: Typer reads the annotations (see :mod:`hullscan.cli`).
"""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

runtime_app = typer.Typer(help="Scan the images of a node's containers (containerd, Docker, Podman).",
                          no_args_is_help=True)

_FORMAT = typer.Option("--format", "-f", help="table, json, sarif; cyclonedx and spdx-json: one file per image into --output FOLDER.")
_OUTPUT = typer.Option("--output", "-o", help="Write the report to this file (a folder for cyclonedx / spdx-json).")
_SCANNERS = typer.Option(help="Comma list of vuln,secret,malware,baseline,history; 'all' or 'none'.")


def _run(runtime: Any, format: str, output: Path | None, scanners: str, db: Path | None, cache_dir: Path | None,
         no_cache: bool, quiet: bool) -> None:
    from hullscan.cli import _scanners, _writer
    from hullscan.options import ScanOptions
    from hullscan.runtime.node import scan_node, write_node_report

    writer = _writer(format)
    extra: dict[str, Any] = {"cache_dir": cache_dir} if cache_dir is not None else {}
    if db is not None:
        extra["db_path"] = db
    options = ScanOptions(scanners=_scanners(scanners), use_cache=not no_cache, quiet=True, **extra)

    def log(msg: str) -> None:
        if not quiet:
            sys.stderr.write(f"hullscan: {msg}\n")
    try:
        node = scan_node(runtime, options, log=log)
    finally:
        runtime.close()
    for path in write_node_report(node, format, output, writer):
        log(f"wrote {path}")
    for failed in node.failed:
        sys.stderr.write(f"hullscan: error: {failed.image} (containers {', '.join(failed.containers)}): {failed.error}\n")
    if node.failed:
        sys.exit(2)


@runtime_app.command("containerd")
def containerd_cmd(
    address: Annotated[str | None, typer.Option(envvar="CONTAINERD_ADDRESS", help="containerd socket (default: $CONTAINERD_ADDRESS, then /run/containerd/containerd.sock).")] = None,
    namespace: Annotated[str, typer.Option(help="containerd namespace (k8s.io: Kubernetes' CRI).")] = "k8s.io",
    format: Annotated[str, _FORMAT] = "table",
    output: Annotated[Path | None, _OUTPUT] = None,
    scanners: Annotated[str, _SCANNERS] = "vuln,secret",
    db: Annotated[Path | None, typer.Option(envvar="HULLSCAN_DB", help="Vulnerability database file.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the layer cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """List a containerd namespace's containers and scan their images from the content store."""
    from hullscan.runtime.containerd import ContainerdRuntime

    _run(ContainerdRuntime(address, namespace), format, output, scanners, db, cache_dir, no_cache, quiet)


def register(app: typer.Typer) -> None:
    """Add ``hullscan runtime`` to the main app."""
    app.add_typer(runtime_app, name="runtime")


def _engine_cmd(engine: str) -> Any:
    def command(
        host: Annotated[str | None, typer.Option("--host", "-H", help=f"{engine} API socket: unix:///PATH or tcp://HOST:PORT (default: {'$CONTAINER_HOST, then podman' if engine == 'podman' else '$DOCKER_HOST, then /var/run/docker'}.sock).")] = None,
        format: Annotated[str, _FORMAT] = "table",
        output: Annotated[Path | None, _OUTPUT] = None,
        scanners: Annotated[str, _SCANNERS] = "vuln,secret",
        db: Annotated[Path | None, typer.Option(envvar="HULLSCAN_DB", help="Vulnerability database file.")] = None,
        cache_dir: Annotated[Path | None, typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")] = None,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the layer cache.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    ) -> None:
        from hullscan.runtime.dockerapi import DockerRuntime

        _run(DockerRuntime(host, engine), format, output, scanners, db, cache_dir, no_cache, quiet)

    command.__doc__ = f"List {engine}'s containers and scan their images through its Docker-compatible API."
    return command


runtime_app.command("docker")(_engine_cmd("docker"))
runtime_app.command("podman")(_engine_cmd("podman"))
