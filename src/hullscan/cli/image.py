"""``hullscan image``: scan one image (thin over :func:`hullscan.scan.scan`)."""

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from hullscan.cli.groups import (
    FindingFilters,
    ImageInput,
    ReportOutput,
    command,
    finding_filters,
    image_source,
    parse_scanners,
    report_output,
)
from hullscan.cli.output import load_writer, write_report
from hullscan.model import ScanReport
from hullscan.options import ScanOptions


def register(app: typer.Typer) -> None:
    """Add ``hullscan image``."""
    command(app, "image", source=image_source, out=report_output(), found=finding_filters)(image_cmd)


def image_cmd(
    source: ImageInput,
    out: ReportOutput,
    found: FindingFilters,
    scanners: Annotated[str, typer.Option(help="Comma list of vuln,secret,malware,baseline,history; 'all' or 'none'.")] = "vuln,secret",
    workers: Annotated[int, typer.Option(help="Layers analysed in parallel (0: number of cores).")] = 0,
    package_files: Annotated[bool, typer.Option("--package-files", help="Keep each package's installed-file list in the JSON report (large).")] = False,
    checks: Annotated[Optional[str], typer.Option("--checks", help="Keep only these checks: comma list of ids, globs (secret-*) or categories (baseline, history...).")] = None,
    skip_checks: Annotated[Optional[str], typer.Option("--skip-checks", help="Drop these checks: comma list of ids, globs or categories.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="hullscan.yaml with checks, skip-checks and whitelist (default: ./hullscan.yaml when present).")] = None,
    clamd_socket: Annotated[Optional[str], typer.Option(help="Also scan files with ClamAV through this clamd socket (path or tcp://host:port).")] = None,
    secret_package_files: Annotated[bool, typer.Option("--secret-package-files", help="Report secrets in files installed by OS packages too.")] = False,
    secret_config: Annotated[Optional[Path], typer.Option(help="YAML adding secret rules, disabling rule ids, adding allow-listed paths/patterns.")] = None,
) -> None:
    """Scan one image: packages, and the risks chosen with --scanners."""
    writer = load_writer(out.format, template=out.template)
    options = source.scan_options(
        parse_scanners(scanners),
        workers=workers,
        checks=_words(checks),
        skip_checks=_words(skip_checks),
        plugin_settings={"malware": {"clamd-socket": clamd_socket} if clamd_socket else {},
                         "secret": {"include-package-files": secret_package_files,
                                    **({"config": str(secret_config)} if secret_config else {})}},
    )
    if found.db is not None:
        options = replace(options, db_path=found.db)
    opened = open_early(source.target, options)
    try:
        from hullscan.checks import selection

        filters = found.build()
        config_path = config if config is not None else (Path("hullscan.yaml") if Path("hullscan.yaml").is_file() else None)
        selection_config = selection.load_config(config_path) if config_path is not None else None
    except BaseException:
        if not isinstance(opened, Path):
            opened.close()
        raise
    from hullscan.suppress import apply_filters, write_suppressed

    report = run_scan(source.target, options, opened, found)
    report = apply_filters(selection.apply(report, options, selection_config), filters)
    if out.format == "json" and not package_files:
        report.packages = [replace(p, files=()) if p.files else p for p in report.packages]  # 100,000s of paths
    write_report(writer, report, out.output)
    if found.show_suppressed and out.format == "table" and out.output is None:
        write_suppressed(report, sys.stdout)
    if found.exit_code and report.findings:
        sys.exit(found.exit_code)  # typer.Exit's code is lost under standalone_mode=False


def _words(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in (text or "").split(",") if c.strip())


def open_early(target: str, options: ScanOptions) -> Any:
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


def run_scan(target: str, options: ScanOptions, source: Any = None, found: FindingFilters | None = None) -> ScanReport:
    """Scan ``target`` (``source``: it opened already), with a progress bar on a terminal. ``found``: the database
    options (a missing database is downloaded, a stale one refreshed, when the scan has packages to match)."""
    from hullscan.cli.progress import RichProgress, interactive
    from hullscan.scan import scan

    if interactive() and not options.quiet:
        with RichProgress() as progress:
            if found is not None:
                options = replace(options, prepare_db=found.preparer(options.quiet, progress.feed))
            return scan(target, options, progress, source=source)
    if found is not None:
        options = replace(options, prepare_db=found.preparer(options.quiet))
    return scan(target, options, source=source)
