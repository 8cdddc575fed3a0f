"""The ``hullscan`` command: thin adapters over :mod:`hullscan.scan` and friends (no logic here).

Every error a user can cause ends in one line on stderr naming the cause and a non-zero exit;
a Python traceback is shown only with ``HULLSCAN_DEBUG=1``.

No ``from __future__ import annotations`` here: Typer reads the commands' annotations, and string annotations
are evaluated twice per command on every run (``inspect.signature(eval_str=True)`` and ``get_type_hints``),
~7 ms of a ``hullscan image`` start-up; written as objects they are built once, at import.
"""

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from hullscan.errors import HullscanError, InputError

app = typer.Typer(
    name="hullscan",
    help="Container image security center: vulnerabilities, packages, secrets, malware, baseline and build risks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="The layer analysis cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
#: the commands defined in this module; the others are registered by :func:`full_app`
LOCAL_COMMANDS = frozenset({"image", "cache", "version"})
_registered: list[bool] = []


def full_app() -> typer.Typer:
    """The app with every command: the ones in other modules (db, server, admin, sbom, sbom-scan, checks) are added
    on first call. ``hullscan image`` never needs them, and importing them and turning their signatures into click
    commands is a good part of a pipeline scan's start-up (the lazy-subcommand pattern of click's documentation)."""
    if not _registered:
        from hullscan.checks.cli import register as register_checks
        from hullscan.sbom import register as register_sbom
        from hullscan.server.cli import register as register_server
        from hullscan.vulndb.cli import db_app

        app.add_typer(db_app, name="db")
        register_server(app)  # hullscan server, hullscan admin create
        register_sbom(app)  # hullscan sbom, hullscan sbom-scan
        register_checks(app)  # hullscan checks
        _registered.append(True)
    return app


def _err(message: str) -> None:
    """Write ``message`` as one line on stderr (a library's multi-line message is folded, never shown raw)."""
    parts = (part.strip().removeprefix("- ").strip() for part in str(message).splitlines())  # "- " bullets
    one_line = "; ".join(part for part in parts if part)
    sys.stderr.write(f"hullscan: error: {one_line}\n")


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


class _RichProgress:
    """Progress on a terminal (stderr): layers done of all, and the layer bytes pulled/read so far."""

    def __init__(self) -> None:
        import threading

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[read]}"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        )
        self._task = None
        self._bytes = 0
        self._lock = threading.Lock()

    def __enter__(self) -> "_RichProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def start(self, total_layers: int) -> None:
        self._task = self._progress.add_task("pulling and analysing layers", total=total_layers, read="")  # type: ignore[assignment]

    def blob_bytes(self, n: int) -> None:
        """``n`` more stored layer bytes were read (pulled from the registry or read from the archive)."""
        with self._lock:
            self._bytes += n
            read = self._bytes
        if self._task is not None:
            self._progress.update(self._task, read=_human_bytes(read))  # type: ignore[arg-type]

    def layer_done(self, layer: object, cached: bool) -> None:
        if self._task is not None:
            self._progress.advance(self._task)  # type: ignore[arg-type]


def _human_bytes(n: int) -> str:
    """``1536`` -> ``1.5 KiB`` (binary units, one decimal)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns


def _scanners(text: str) -> frozenset[str]:
    from hullscan.options import ALL_SCANNERS

    if text.strip().lower() in ("", "none"):
        return frozenset()
    names = {s.strip().lower() for s in text.split(",") if s.strip()}
    if "all" in names:
        return frozenset(ALL_SCANNERS)
    unknown = names - set(ALL_SCANNERS)
    if unknown:
        raise InputError(f"unknown scanner(s) {', '.join(sorted(unknown))}: choose from {', '.join(ALL_SCANNERS)}, all, none")
    return frozenset(names)


@app.command("image")
def image_cmd(
    ref: Annotated[Optional[str], typer.Argument(help="Image: registry reference, OCI layout dir, docker-save/OCI archive, or rootfs dir.")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="Image archive or layout path (instead of REF).")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json, sarif, cyclonedx, spdx-json.")] = "table",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    scanners: Annotated[str, typer.Option(help="Comma list of vuln,secret,malware,baseline,history; 'all' or 'none'.")] = "vuln,secret",
    platform: Annotated[Optional[str], typer.Option(help="Platform in an image index, e.g. linux/arm64 (default: this host's).")] = None,
    username: Annotated[Optional[str], typer.Option(envvar="HULLSCAN_USERNAME", help="Registry user name.")] = None,
    password: Annotated[Optional[str], typer.Option(envvar="HULLSCAN_PASSWORD", help="Registry password or token.")] = None,
    insecure: Annotated[bool, typer.Option(help="Plain http and no TLS verification for the registry.")] = False,
    ca_bundle: Annotated[Optional[Path], typer.Option(help="PEM file of extra CA certificates for the registry.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the layer cache.")] = False,
    db: Annotated[Optional[Path], typer.Option(envvar="HULLSCAN_DB", help="Vulnerability database file.")] = None,
    workers: Annotated[int, typer.Option(help="Layers analysed in parallel (0: number of cores).")] = 0,
    timeout: Annotated[float, typer.Option(help="Registry request timeout in seconds.")] = 60.0,
    registry_token: Annotated[Optional[str], typer.Option(envvar="HULLSCAN_REGISTRY_TOKEN", help="Bearer token for the registry, used as is.")] = None,
    docker_config: Annotated[Optional[Path], typer.Option(help="Docker config.json with registry credentials (default: $DOCKER_CONFIG or ~/.docker/config.json).")] = None,
    retries: Annotated[int, typer.Option(min=0, help="Registry retries on 5xx, 429, timeouts and connection errors.")] = 5,
    max_retry_seconds: Annotated[float, typer.Option(min=0, help="Total seconds spent backing off between registry retries.")] = 60.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    severity: Annotated[Optional[str], typer.Option(help="Report only these severities, e.g. HIGH,CRITICAL (others are suppressed).")] = None,
    ignore_unfixed: Annotated[bool, typer.Option("--ignore-unfixed", help="Suppress vulnerabilities without a released fix.")] = False,
    exit_code: Annotated[int, typer.Option(help="Exit with this code when findings remain after filtering (CI gate).")] = 0,
    ignorefile: Annotated[Optional[Path], typer.Option(help="Ignore file (default: .hullscanignore when present).")] = None,
    vex: Annotated[Optional[list[Path]], typer.Option(help="OpenVEX document (repeatable).")] = None,
    show_suppressed: Annotated[bool, typer.Option("--show-suppressed", help="List suppressed findings and why (table format).")] = False,
    package_files: Annotated[bool, typer.Option("--package-files", help="Keep each package's installed-file list in the JSON report (large).")] = False,
    checks: Annotated[Optional[str], typer.Option("--checks", help="Keep only these checks: comma list of ids, globs (secret-*) or categories (baseline, history...).")] = None,
    skip_checks: Annotated[Optional[str], typer.Option("--skip-checks", help="Drop these checks: comma list of ids, globs or categories.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="hullscan.yaml with checks, skip-checks and whitelist (default: ./hullscan.yaml when present).")] = None,
    clamd_socket: Annotated[Optional[str], typer.Option(help="Also scan files with ClamAV through this clamd socket (path or tcp://host:port).")] = None,
    secret_package_files: Annotated[bool, typer.Option("--secret-package-files", help="Report secrets in files installed by OS packages too.")] = False,
    secret_config: Annotated[Optional[Path], typer.Option(help="YAML adding secret rules, disabling rule ids, adding allow-listed paths/patterns.")] = None,
    max_file_size: Annotated[Optional[str], typer.Option(help="Largest file an analyzer reads, e.g. 256MiB (larger ones: a warning).")] = None,
    max_layer_size: Annotated[Optional[str], typer.Option(help="Largest uncompressed layer, e.g. 32GiB (beyond: an error).")] = None,
    max_image_size: Annotated[Optional[str], typer.Option(help="Most uncompressed bytes read over the image, e.g. 64GiB (beyond: an error).")] = None,
    max_entries: Annotated[Optional[int], typer.Option(min=1, help="Most tar entries over the image (beyond: an error).")] = None,
) -> None:
    """Scan one image: packages, and the risks chosen with --scanners."""
    from dataclasses import replace

    from hullscan.model import Platform
    from hullscan.options import RegistryOptions, ScanOptions

    target = str(input) if input is not None else ref
    if not target:
        raise InputError("give an image reference or --input PATH")
    writer = _writer(format)
    plat: Platform | None = None
    if platform:
        from hullscan.image.source import parse_platform

        plat = parse_platform(platform)
    options = ScanOptions(
        scanners=_scanners(scanners),
        platform=plat,
        use_cache=not no_cache,
        workers=workers,
        quiet=quiet,
        checks=tuple(c.strip() for c in (checks or "").split(",") if c.strip()),
        skip_checks=tuple(c.strip() for c in (skip_checks or "").split(",") if c.strip()),
        plugin_settings={"malware": {"clamd-socket": clamd_socket} if clamd_socket else {},
                         "secret": {"include-package-files": secret_package_files,
                                    **({"config": str(secret_config)} if secret_config else {})}},
        registry=RegistryOptions(username=username, password=password, insecure=insecure,
                                 ca_bundle=str(ca_bundle) if ca_bundle else None, timeout=timeout,
                                 registry_token=registry_token, docker_config=str(docker_config) if docker_config else None,
                                 retries=retries, max_retry_seconds=max_retry_seconds),
    )
    options = replace(options, limits=_limits(options.limits, max_file_size, max_layer_size, max_image_size, max_entries))
    if cache_dir is not None:
        options = replace(options, cache_dir=cache_dir)
    if db is not None:
        options = replace(options, db_path=db)
    source = _open_early(target, options)
    try:
        from hullscan.suppress import DEFAULT_IGNOREFILE, apply_filters, build_filters, write_suppressed

        filters = build_filters(severity, ignore_unfixed, ignorefile, vex or ())
        from hullscan.checks import selection

        config_path = config if config is not None else (Path("hullscan.yaml") if Path("hullscan.yaml").is_file() else None)
        selection_config = selection.load_config(config_path) if config_path is not None else None
    except BaseException:
        if not isinstance(source, Path):
            source.close()
        raise
    report = apply_filters(selection.apply(_run_scan(target, options, source), options, selection_config), filters)
    if format == "json" and not package_files:
        report = _without_package_files(report)
    code = exit_code if exit_code and report.findings else 0
    if format == "json" and not clamd_socket and not isinstance(source, Path) and source.kind in _ARCHIVES:
        # a local archive file: the report is kept for a repeated request (hullscan.resultcache; a live clamd's
        # answers are not the archive's to vouch for)
        import io

        from hullscan import resultcache

        buf = io.StringIO()
        writer(report, buf)
        text = buf.getvalue()
        _emit(lambda _report, fh: fh.write(text), report, output)
        if options.use_cache:
            depends = [target, ignorefile or DEFAULT_IGNOREFILE, config or "hullscan.yaml", *(vex or ()),
                       *([secret_config] if secret_config else [])]
            if "vuln" in options.scanners:
                depends += [options.db_path, f"{options.db_path}-wal"]
            resultcache.store(sys.argv[1:], text, report.scanned_at, report.duration_seconds, code, output, depends)
    else:
        _emit(writer, report, output)
    if show_suppressed and format == "table" and output is None:
        write_suppressed(report, sys.stdout)
    if code:
        sys.exit(code)  # typer.Exit's code is lost under standalone_mode=False


#: local image archive files (a report of one is kept by the report cache, keyed by the file's identity)
_ARCHIVES = frozenset({"docker-archive", "oci-archive"})

_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000**2, "mb": 1000**2, "mib": 1 << 20,
               "g": 1000**3, "gb": 1000**3, "gib": 1 << 30, "t": 1000**4, "tb": 1000**4, "tib": 1 << 40}


def parse_size(text: str, flag: str) -> int:
    """``512MiB``, ``2GB``, ``1000`` -> bytes; InputError naming ``flag`` otherwise."""
    import re

    m = re.fullmatch(r"\s*(\d{1,15}(?:\.\d{1,6})?)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _SIZE_UNITS or float(m.group(1)) * _SIZE_UNITS[unit] < 1:
        raise InputError(f"{flag} {text!r}: give a size such as 512MiB, 2GB or 1000000 (bytes)")
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


def _limits(limits: "Limits", file_size: str | None, layer_size: str | None, image_size: str | None,  # type: ignore[name-defined]  # noqa: F821
            entries: int | None) -> "Limits":  # type: ignore[name-defined]  # noqa: F821
    """``limits`` with the sizes given on the command line."""
    from dataclasses import replace

    if file_size is not None:
        limits = replace(limits, max_file_size=parse_size(file_size, "--max-file-size"))
    if layer_size is not None:
        limits = replace(limits, max_layer_bytes=parse_size(layer_size, "--max-layer-size"))
    if image_size is not None:
        limits = replace(limits, max_total_bytes=parse_size(image_size, "--max-image-size"))
    if entries is not None:
        limits = replace(limits, max_entries=entries)
    return limits


def _without_package_files(report: "ScanReport") -> "ScanReport":  # type: ignore[name-defined]  # noqa: F821
    """The report with packages' installed-file lists emptied (they can run to 100,000s of paths)."""
    from dataclasses import replace

    report.packages = [replace(p, files=()) if p.files else p for p in report.packages]
    return report


def _open_early(target: str, options: "ScanOptions") -> Any:  # type: ignore[name-defined]  # noqa: F821
    """``target`` opened before the scan pipeline is imported: a local image is resolved at once and its layers'
    digest checks start on helper threads while the rest of the program loads (a registry image is only opened)."""
    from hullscan.image.targets import open_source

    source = open_source(target, options)
    if not isinstance(source, Path) and source.kind != "registry":
        try:
            source.prefetch(source.resolve(options.platform).layers)
        except BaseException:
            source.close()
            raise
    return source


def _run_scan(target: str, options: "ScanOptions", source: Any = None) -> "ScanReport":  # type: ignore[name-defined]  # noqa: F821
    from hullscan.scan import scan

    if _interactive() and not options.quiet:
        with _RichProgress() as progress:
            return scan(target, options, progress, source=source)
    return scan(target, options, source=source)


def _writer(name: str):  # type: ignore[no-untyped-def]
    from hullscan.report import writer

    return writer(name)


def _emit(writer, report, output: Optional[Path]) -> None:  # type: ignore[no-untyped-def]
    from hullscan.resultcache import write_output

    try:
        write_output(output, lambda fh: writer(report, fh))
    except OSError as exc:
        raise InputError(f"cannot write {output or 'the report to standard output'}: {exc.strerror}") from None


@cache_app.command("clean")
def cache_clean(
    cache_dir: Annotated[Optional[Path], typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")] = None,
) -> None:
    """Remove every cached layer analysis."""
    from hullscan import resultcache
    from hullscan.cache import clean
    from hullscan.options import default_cache_dir

    folder = cache_dir or default_cache_dir()
    entries, size = clean(folder)
    reports, report_bytes = resultcache.clean(folder)
    print(f"removed {entries} cached layer result(s), {size} bytes; {reports} cached report(s), {report_bytes} bytes")


@app.command("version")
def version_cmd() -> None:
    """Print the version."""
    from hullscan import __version__

    print(__version__)


def _exit_now(code: int) -> None:
    """End a finished scan's process at once: the report is written and flushed, and tearing down the heap of a
    big scan (every object freed one by one, a last garbage collection) took ~25 ms of a 0.35 s run for nothing."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
        pass
    os._exit(code)


def main() -> None:
    """Console entry point: run the app; map errors to one line and an exit code."""
    debug = bool(os.environ.get("HULLSCAN_DEBUG"))
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    if command == "image":
        # helper threads (layer digest checks) need the GIL back after each read and hash update: hand it over
        # within 0.5 ms instead of 5 ms for the whole (short) life of a scan (see hullscan.scan.analyze_image);
        # a long-running command such as the server keeps the default
        sys.setswitchinterval(0.0005)
        # a scan makes hundreds of thousands of short-lived, acyclic objects (entries, names, tuples), freed as they
        # go by reference counting: the cycle collector's default young-generation threshold (700) ran hundreds of
        # collections for nothing, each older one walking every object the imports made (frozen here, out of its way)
        import gc

        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
    try:
        (app if command in LOCAL_COMMANDS else full_app())(standalone_mode=False)
        if command == "image":
            _exit_now(0)
    except HullscanError as exc:
        if debug:
            raise
        _err(str(exc))
        sys.exit(exc.exit_code)
    except SystemExit as exc:
        if command == "image" and isinstance(exc.code, int):
            _exit_now(exc.code)  # --exit-code: the report is written
        raise
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unexpected: one line, no traceback
        # by class name: typer >= 0.26 raises the exceptions of its own vendored click (typer._click)
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "Exit" in kinds:
            sys.exit(getattr(exc, "exit_code", 0))
        if "ClickException" in kinds:
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        if "Abort" in kinds:
            _err("aborted")
            sys.exit(1)
        if debug:
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (set HULLSCAN_DEBUG=1 for details)")
        sys.exit(70)


if __name__ == "__main__":  # pragma: no cover
    main()
