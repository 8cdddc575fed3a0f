"""Option groups shared by several commands, defined once so that ``image``, ``sbom`` and ``sbom-scan`` cannot
drift apart: where the image comes from (:func:`image_source`), where the report goes (:func:`report_output`) and
how findings are matched and filtered (:func:`finding_filters`).

A group is a function whose parameters are Typer options and which returns a small dataclass of their values,
checked. :func:`command` registers a command whose parameters name groups: Typer sees the group's options in
their place, and the command receives the built dataclass.

(No ``from __future__ import annotations`` in the CLI modules: Typer reads the annotations, and as objects they are
built once, at import, instead of being evaluated from strings for every command on every run.)
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from hullscan.errors import InputError
from hullscan.model import Platform
from hullscan.options import ALL_SCANNERS, Limits, RegistryOptions, ScanOptions

F = TypeVar("F", bound=Callable[..., Any])


def command(app: typer.Typer, name: str, **groups: Callable[..., Any]) -> Callable[[F], F]:
    """Register the decorated function as command ``name`` of ``app``. Each keyword names one of its parameters
    and the group function that builds it: the command line offers that group's options instead, and the
    function is called with the group's result."""

    def register(fn: F) -> F:
        params: list[inspect.Parameter] = []
        plan: list[tuple[str, Callable[..., Any], list[str]]] = []
        for param in inspect.signature(fn).parameters.values():
            group = groups.get(param.name)
            if group is None:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
                continue
            own = list(inspect.signature(group).parameters.values())
            plan.append((param.name, group, [p.name for p in own]))
            params.extend(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own)
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise TypeError(f"command {name}: an option is defined twice: {sorted({n for n in names if names.count(n) > 1})}")

        def run(**values: Any) -> Any:
            for param_name, group, own_names in plan:
                values[param_name] = group(**{n: values.pop(n) for n in own_names})
            return fn(**values)

        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        run.__doc__ = fn.__doc__
        run.__name__ = fn.__name__
        app.command(name)(run)
        return fn

    return register


# --------------------------------------------------------------------------- where the image comes from


@dataclass(frozen=True, slots=True)
class ImageInput:
    """The image to read and how to reach it (``hullscan image`` and ``hullscan sbom``)."""

    target: str
    platform: Platform | None
    registry: RegistryOptions
    limits: Limits
    cache_dir: Path | None
    use_cache: bool
    quiet: bool
    timeout: float | None = None  # seconds for the whole scan
    skip_dirs: tuple[str, ...] = ()
    skip_files: tuple[str, ...] = ()

    def scan_options(self, scanners: frozenset[str], **more: Any) -> ScanOptions:
        """The scan's options: these plus ``scanners`` and ``more`` (other :class:`ScanOptions` fields). The
        ``--timeout`` clock starts now."""
        import time

        deadline = time.monotonic() + self.timeout if self.timeout else None
        options = ScanOptions(scanners=scanners, platform=self.platform, use_cache=self.use_cache, quiet=self.quiet,
                              registry=self.registry, limits=self.limits, deadline=deadline,
                              skip_dirs=self.skip_dirs, skip_files=self.skip_files, **more)
        return options if self.cache_dir is None else replace(options, cache_dir=self.cache_dir)


def image_source(
    ref: Annotated[Optional[str], typer.Argument(help="Image: registry reference, OCI layout dir, docker-save/OCI archive, or rootfs dir.")] = None,
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="Image archive or layout path (instead of REF).")] = None,
    platform: Annotated[Optional[str], typer.Option(help="Platform in an image index, e.g. linux/arm64 (default: this host's).")] = None,
    username: Annotated[Optional[str], typer.Option(envvar="HULLSCAN_USERNAME", help="Registry user name.")] = None,
    password: Annotated[Optional[str], typer.Option(envvar="HULLSCAN_PASSWORD", help="Registry password or token.")] = None,
    registry_token: Annotated[Optional[str], typer.Option(envvar="HULLSCAN_REGISTRY_TOKEN", help="Bearer token for the registry, used as is.")] = None,
    docker_config: Annotated[Optional[Path], typer.Option(help="Docker config.json with registry credentials (default: $DOCKER_CONFIG or ~/.docker/config.json).")] = None,
    insecure: Annotated[bool, typer.Option(help="Plain http and no TLS verification for the registry.")] = False,
    ca_bundle: Annotated[Optional[Path], typer.Option(help="PEM file of extra CA certificates for the registry.")] = None,
    timeout: Annotated[str | None, typer.Option(help="Time limit of the whole scan: 90s, 5m, 1h30m (a bare number: seconds). Past it the scan stops with an error.")] = None,
    request_timeout: Annotated[float, typer.Option(min=0.001, help="Timeout of one registry request, in seconds.")] = 60.0,
    retries: Annotated[int, typer.Option(min=0, help="Registry retries on 5xx, 429, timeouts and connection errors.")] = 5,
    max_retry_seconds: Annotated[float, typer.Option(min=0, help="Total seconds spent backing off between registry retries.")] = 60.0,
    cache_dir: Annotated[Optional[Path], typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the layer cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no notices on stderr (errors are still printed).")] = False,
    skip_dirs: Annotated[list[str] | None, typer.Option(help="Do not analyse files under directories matching this glob, e.g. usr/share/doc or **/node_modules (repeatable, or a comma list). Skipped files are never read.")] = None,
    skip_files: Annotated[list[str] | None, typer.Option(help="Do not analyse files matching this glob, e.g. *.pem or opt/app/test/* (repeatable, or a comma list). Skipped files are never read.")] = None,
    max_file_size: Annotated[Optional[str], typer.Option(help="Largest file an analyzer reads, e.g. 256MiB (larger ones: a warning).")] = None,
    max_layer_size: Annotated[Optional[str], typer.Option(help="Largest uncompressed layer, e.g. 32GiB (beyond: an error).")] = None,
    max_image_size: Annotated[Optional[str], typer.Option(help="Most uncompressed bytes read over the image, e.g. 64GiB (beyond: an error).")] = None,
    max_entries: Annotated[Optional[int], typer.Option(min=1, help="Most tar entries over the image (beyond: an error).")] = None,
) -> ImageInput:
    """The image options, checked (nothing is opened yet)."""
    if input is not None and not input.strip():
        raise InputError("--input is empty: give the path of an image archive or layout (an unset CI variable?)")
    target = input if input is not None else ref
    if not target:
        raise InputError("give an image reference or --input PATH")
    plat = None
    if platform:
        from hullscan.image.source import parse_platform

        plat = parse_platform(platform)
    limits = Limits()
    if max_file_size is not None:
        limits = replace(limits, max_file_size=parse_size(max_file_size, "--max-file-size"))
    if max_layer_size is not None:
        limits = replace(limits, max_layer_bytes=parse_size(max_layer_size, "--max-layer-size"))
    if max_image_size is not None:
        limits = replace(limits, max_total_bytes=parse_size(max_image_size, "--max-image-size"))
    if max_entries is not None:
        limits = replace(limits, max_entries=max_entries)
    registry = RegistryOptions(username=username, password=password, registry_token=registry_token,
                               docker_config=str(docker_config) if docker_config else None, insecure=insecure,
                               ca_bundle=str(ca_bundle) if ca_bundle else None, timeout=request_timeout,
                               retries=retries, max_retry_seconds=max_retry_seconds)
    return ImageInput(target, plat, registry, limits, cache_dir, not no_cache, quiet,
                      parse_duration(timeout, "--timeout") if timeout is not None else None,
                      split_globs(skip_dirs), split_globs(skip_files))


def split_globs(values: list[str] | None) -> tuple[str, ...]:
    """Repeated and comma-separated globs, as one tuple (empty ones dropped)."""
    return tuple(g.strip() for v in values or () for g in v.split(",") if g.strip())


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, flag: str) -> float:
    """``90s``, ``5m``, ``1h30m``, ``250ms``, ``45`` (seconds) -> seconds (> 0); InputError naming ``flag``."""
    import re

    raw = str(text).strip().lower()
    if re.fullmatch(r"\d{1,9}(?:\.\d{1,6})?", raw):
        seconds = float(raw)
    elif re.fullmatch(r"(?:\d{1,9}(?:\.\d{1,6})?(?:ms|s|m|h|d))+", raw):
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", raw))
    else:
        seconds = -1.0
    if seconds <= 0:
        raise InputError(f"{flag} {text!r}: give a duration such as 90s, 5m or 1h30m (a bare number: seconds)")
    return seconds


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


def parse_scanners(text: str) -> frozenset[str]:
    """``--scanners``: a comma list of scanner names, ``all`` or ``none``."""
    if text.strip().lower() in ("", "none"):
        return frozenset()
    names = {s.strip().lower() for s in text.split(",") if s.strip()}
    if "all" in names:
        return frozenset(ALL_SCANNERS)
    unknown = names - set(ALL_SCANNERS)
    if unknown:
        raise InputError(f"unknown scanner(s) {', '.join(sorted(unknown))}: choose from {', '.join(ALL_SCANNERS)}, all, none")
    return frozenset(names)


# --------------------------------------------------------------------------- where the report goes


@dataclass(frozen=True, slots=True)
class ReportOutput:
    """The report's format and destination (standard output when ``output`` is None)."""

    format: str
    output: Path | None
    template: str | None = None  # --format template: a file, or @html / @junit / @gitlab


def report_output(default: str = "table", formats: str = "table, json, sarif, cyclonedx, spdx-json, html, template.",
                  what: str = "report") -> Callable[..., ReportOutput]:
    """The output group of a command whose format is ``default`` unless chosen among ``formats``."""

    def build(
        format: Annotated[str, typer.Option("--format", "-f", help=formats)] = default,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help=f"Write the {what} to this file.")] = None,
        template: Annotated[str | None, typer.Option("--template", "-t", help="With --format template: a Jinja2 template file (sandboxed), or a shipped one: @html, @junit, @gitlab.")] = None,
    ) -> ReportOutput:
        if template is not None and format != "template":
            raise InputError(f"--template is for --format template (the format is {format!r})")
        return ReportOutput(format, output, template)

    return build


# --------------------------------------------------------------------------- matching and filtering findings


@dataclass(frozen=True, slots=True)
class FindingFilters:
    """The vulnerability database, which findings are reported and the exit code when some remain."""

    db: Path | None
    severity: str | None
    ignore_unfixed: bool
    ignorefile: Path | None
    vex: tuple[Path, ...] = field(default_factory=tuple)
    exit_code: int = 0
    show_suppressed: bool = False
    skip_db_update: bool = False
    db_max_age: float | None = 7 * 86400.0  # seconds

    def preparer(self, quiet: bool, feed: Any = None) -> Callable[[Path], str]:
        """The ``ScanOptions.prepare_db`` of a CLI scan: download a missing database, refresh one older than
        ``--db-max-age`` (unless ``--skip-db-update``/``--offline``), with ``feed`` as the download's progress
        (a :data:`hullscan.vulndb.manage.Progress`); notices on stderr unless ``quiet``. Returns the report note."""

        def prepare(path: Path) -> str:
            import sys

            from hullscan.vulndb.freshness import ensure

            if not quiet and not path.is_file() and not self.skip_db_update:
                sys.stderr.write(f"hullscan: no vulnerability database at {path}: downloading it\n")
            done = ensure(path, allow_update=not self.skip_db_update, max_age=self.db_max_age, progress=feed)
            if not quiet and done.action in ("downloaded", "refreshed"):
                sys.stderr.write(f"hullscan: vulnerability database {done.action} (built {done.built_at})\n")
            if done.warning and not quiet:
                sys.stderr.write(f"hullscan: warning: {done.warning}\n")
            return done.warning

        return prepare

    def build(self) -> Any:
        """The :class:`hullscan.suppress.Filters` (reads the ignore file and VEX documents)."""
        from hullscan.suppress import build_filters

        return build_filters(self.severity, self.ignore_unfixed, self.ignorefile, self.vex)


def finding_filters(
    db: Annotated[Optional[Path], typer.Option(envvar="HULLSCAN_DB", help="Vulnerability database file.")] = None,
    severity: Annotated[Optional[str], typer.Option(help="Report only these severities, e.g. HIGH,CRITICAL (others are suppressed; UNKNOWN, "
                                                                        "nothing rates it, only when named).")] = None,
    ignore_unfixed: Annotated[bool, typer.Option("--ignore-unfixed", help="Suppress vulnerabilities without a released fix.")] = False,
    ignorefile: Annotated[Optional[Path], typer.Option(help="Ignore file (default: .hullscanignore when present).")] = None,
    vex: Annotated[Optional[list[Path]], typer.Option(help="OpenVEX document (repeatable).")] = None,
    exit_code: Annotated[int, typer.Option(min=0, max=255, help="Exit with this code when findings remain after filtering (CI gate); it may not be an error code (2, 70, 130).")] = 0,
    show_suppressed: Annotated[bool, typer.Option("--show-suppressed", help="List suppressed findings and why (table format).")] = False,
    skip_db_update: Annotated[bool, typer.Option("--skip-db-update", help="Never download or refresh the vulnerability database (a missing one is an error, a stale one a warning).")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="For hosts without internet: the same as --skip-db-update.")] = False,
    db_max_age: Annotated[str, typer.Option(help="Refresh the vulnerability database when it is older than this (e.g. 24h, 7d; 'never': no limit); with --skip-db-update: a warning.")] = "7d",
) -> FindingFilters:
    from hullscan.cli.process import RESERVED_EXIT_CODES

    if exit_code in RESERVED_EXIT_CODES:
        raise InputError(f"--exit-code {exit_code}: {exit_code} means {RESERVED_EXIT_CODES[exit_code]}; "
                         "choose another code for findings (e.g. 1)")
    max_age = None if db_max_age.strip().lower() in ("never", "none", "off") else parse_duration(db_max_age, "--db-max-age")
    return FindingFilters(db, severity, ignore_unfixed, ignorefile, tuple(vex or ()), exit_code, show_suppressed,
                          skip_db_update or offline, max_age)
