"""``hullscan runtime containerd|docker|podman``: the containers of a node and their images, each image scanned once
(thin over :mod:`hullscan.runtime.node`)."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hullscan.cli.groups import ReportOutput, command, parse_scanners, report_output
from hullscan.cli.output import load_writer, write_report, write_text

_FORMATS = "table, json, sarif; cyclonedx and spdx-json: one file per image into the --output folder."
_SCANNERS = typer.Option(help="Comma list of vuln,secret,malware,baseline,history; 'all' or 'none'.")
_DB = typer.Option(envvar="HULLSCAN_DB", help="Vulnerability database file.")
_CACHE = typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")
_NO_CACHE = typer.Option("--no-cache", help="Do not read or write the layer cache.")
_QUIET = typer.Option("--quiet", "-q", help="No progress output.")


def register(app: typer.Typer) -> None:
    """Add ``hullscan runtime``."""
    runtime_app = typer.Typer(help="Scan the images of a node's containers (containerd, Docker, Podman).",
                              no_args_is_help=True)
    command(runtime_app, "containerd", out=report_output(formats=_FORMATS))(containerd_cmd)
    command(runtime_app, "docker", out=report_output(formats=_FORMATS))(docker_cmd)
    command(runtime_app, "podman", out=report_output(formats=_FORMATS))(podman_cmd)
    app.add_typer(runtime_app, name="runtime")


def _run(runtime: Any, out: ReportOutput, scanners: str, db: Path | None, cache_dir: Path | None, no_cache: bool,
         quiet: bool) -> None:
    from hullscan.options import ScanOptions
    from hullscan.runtime.node import SINGLE_ARTIFACT, render_node_report, sbom_files, scan_node

    writer = load_writer(out.format, template=out.template)
    if out.format in SINGLE_ARTIFACT and out.output is None:
        from hullscan.errors import InputError

        raise InputError(f"--format {out.format} describes one image: give --output FOLDER to write one file per image")
    extra: dict[str, Any] = {"cache_dir": cache_dir} if cache_dir is not None else {}
    if db is not None:
        extra["db_path"] = db
    options = ScanOptions(scanners=parse_scanners(scanners), use_cache=not no_cache, quiet=True, **extra)

    def log(msg: str) -> None:
        if not quiet:
            sys.stderr.write(f"hullscan: {msg}\n")

    try:
        node = scan_node(runtime, options, log=log)
    finally:
        runtime.close()
    if out.format in SINGLE_ARTIFACT:
        assert out.output is not None
        out.output.mkdir(parents=True, exist_ok=True)
        for path, report in sbom_files(node, out.format, out.output):
            write_report(writer, report, path)
            log(f"wrote {path}")
    else:
        text = render_node_report(node, out.format, writer)
        write_text(out.output, lambda fh: fh.write(text))
    for failed in node.failed:
        sys.stderr.write(f"hullscan: error: {failed.image} (containers {', '.join(failed.containers)}): {failed.error}\n")
    if node.failed:
        sys.exit(2)


def containerd_cmd(
    out: ReportOutput,
    address: Annotated[str | None, typer.Option(envvar="CONTAINERD_ADDRESS", help="containerd socket (default: $CONTAINERD_ADDRESS, then /run/containerd/containerd.sock).")] = None,
    namespace: Annotated[str, typer.Option(help="containerd namespace (k8s.io: Kubernetes' CRI).")] = "k8s.io",
    scanners: Annotated[str, _SCANNERS] = "vuln,secret",
    db: Annotated[Path | None, _DB] = None,
    cache_dir: Annotated[Path | None, _CACHE] = None,
    no_cache: Annotated[bool, _NO_CACHE] = False,
    quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """List a containerd namespace's containers and scan their images from the content store."""
    from hullscan.runtime.containerd import ContainerdRuntime

    _run(ContainerdRuntime(address, namespace), out, scanners, db, cache_dir, no_cache, quiet)


def docker_cmd(
    out: ReportOutput,
    host: Annotated[str | None, typer.Option("--host", "-H", help="Docker API socket: unix:///PATH or tcp://HOST:PORT (default: $DOCKER_HOST, then /var/run/docker.sock).")] = None,
    scanners: Annotated[str, _SCANNERS] = "vuln,secret",
    db: Annotated[Path | None, _DB] = None,
    cache_dir: Annotated[Path | None, _CACHE] = None,
    no_cache: Annotated[bool, _NO_CACHE] = False,
    quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """List Docker's containers and scan their images through the Docker Engine API."""
    from hullscan.runtime.dockerapi import DockerRuntime

    _run(DockerRuntime(host, "docker"), out, scanners, db, cache_dir, no_cache, quiet)


def podman_cmd(
    out: ReportOutput,
    host: Annotated[str | None, typer.Option("--host", "-H", help="Podman API socket: unix:///PATH or tcp://HOST:PORT (default: $CONTAINER_HOST, then podman's service socket).")] = None,
    scanners: Annotated[str, _SCANNERS] = "vuln,secret",
    db: Annotated[Path | None, _DB] = None,
    cache_dir: Annotated[Path | None, _CACHE] = None,
    no_cache: Annotated[bool, _NO_CACHE] = False,
    quiet: Annotated[bool, _QUIET] = False,
) -> None:
    """List Podman's containers and scan their images through its Docker-compatible API."""
    from hullscan.runtime.dockerapi import DockerRuntime

    _run(DockerRuntime(host, "podman"), out, scanners, db, cache_dir, no_cache, quiet)
