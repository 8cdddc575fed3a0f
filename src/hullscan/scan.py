"""The scan pipeline: ``scan(target, options) -> ScanReport``.

source (registry / layout / archive / rootfs) -> resolve (manifest, config, verified) -> each layer walked
once, in parallel, every analyzer asked ``wants()`` per entry, content read only when wanted, results
cached per layer blob -> :func:`hullscan.inventory.squash` -> post-inventory stages (matchers, checks)
-> a deterministic, sorted :class:`~hullscan.model.ScanReport`.
"""

from __future__ import annotations

import dataclasses
import os
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from hullscan.analyzers import ANALYZERS, Analyzer, FileInput, create
from hullscan.analyzers.base import FileMeta
from hullscan.cache import LayerCache, analyzer_fingerprint, layer_key
from hullscan.errors import BlobError, HullscanError, InputError, MissingDependencyError, TimeLimitError
from hullscan.image.layer import Budget, Entry, walk_layer
from hullscan.image.source import Descriptor, ImageSource, ResolvedImage
from hullscan.image.targets import open_source
from hullscan.inventory import squash
from hullscan.model import (
    AnalysisResult,
    Artifact,
    FileResult,
    ImageConfigSummary,
    Inventory,
    Layer,
    LayerResult,
    PluginStatus,
    ScanReport,
    ScanWarning,
)
from hullscan.options import ScanOptions
from hullscan.stages import STAGES, ScanContext

#: analyzer tags that always run (the inventory), and the scanner that enables each other tag
ALWAYS_TAGS = frozenset({"os", "lang"})
SCANNER_TAGS = {"secret": "secret", "malware": "malware", "baseline": "baseline"}

#: keep the content of read files this small, so hard links to them can be analysed too
_HARDLINK_KEEP = 8 * 1024 * 1024
#: ... and no more than this in all, per layer (a hard link to a file read beyond it is analysed as empty)
_HARDLINK_KEEP_TOTAL = 64 * 1024 * 1024


class Progress(Protocol):
    """What the pipeline reports while it works (the CLI draws it; the server logs it)."""

    def start(self, total_layers: int) -> None:
        """The image is resolved and has ``total_layers`` layers."""

    def layer_done(self, layer: Layer, cached: bool) -> None:
        """One layer is analysed (or came from the cache)."""


class _NoProgress:
    def start(self, total_layers: int) -> None:
        pass

    def layer_done(self, layer: Layer, cached: bool) -> None:
        pass


# --------------------------------------------------------------------------- sources


# --------------------------------------------------------------------------- analyzers


#: optional modules a scanner cannot work without (the analyzers import them on first use, which may be never on a
#: given image: checked up front, so that a scan never looks complete without them)
SCANNER_NEEDS = {"malware": ("yara_x",)}


def check_dependencies(scanners: frozenset[str]) -> None:
    """MissingDependencyError naming the extra when a chosen scanner's optional dependency is not installed."""
    import importlib.util

    for scanner in sorted(scanners):
        for module in SCANNER_NEEDS.get(scanner, ()):
            if importlib.util.find_spec(module) is None:
                missing = MissingDependencyError.of(ModuleNotFoundError(name=module))
                raise MissingDependencyError(f"--scanners {scanner}: {missing or f'{module} is not installed'}")


def select_analyzers(options: ScanOptions) -> list[Analyzer]:
    """Instances of the analyzers this scan needs, by scanner tags (inventory analyzers always)."""
    check_dependencies(options.scanners)
    wanted_tags = set(ALWAYS_TAGS) | {tag for scanner, tag in SCANNER_TAGS.items() if scanner in options.scanners}
    entries = ANALYZERS.select(tags=wanted_tags)
    if options.analyzers is not None:  # analyzers named one by one
        names = set(options.analyzers)
        unknown = names - set(ANALYZERS.names())
        if unknown:
            raise InputError(f"unknown analyzer(s): {', '.join(sorted(unknown))} (known: {', '.join(ANALYZERS.names())})")
        entries = [e for e in entries if e.name in names]
    instances = []
    for entry in entries:
        analyzer = create(entry)
        configure = getattr(analyzer, "configure", None)
        if callable(configure):
            configure(options)
        instances.append(analyzer)
    return instances


class _Tally:
    """Per-analyzer failures (an analyzer that raised is reported as failed, never silently skipped)."""

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}

    def fail(self, name: str, message: str) -> None:
        self.failures.setdefault(name, message)


def analyze_entries(
    entries: Iterator[Entry], layer_id: str, analyzers: Sequence[Analyzer], options: ScanOptions,
    warnings: list[ScanWarning], tally: _Tally,
) -> LayerResult:
    """Run the analyzers over one layer's entries (read each wanted file once)."""
    result = LayerResult(diff_id=layer_id, warnings=warnings)
    kept: dict[str, bytes] = {}
    kept_bytes = [0]  # what ``kept`` holds: bounded, else a layer's every wanted file stayed in memory
    broken: list[HullscanError] = []  # a read of the layer failed (truncated, corrupt): the layer cannot be trusted
    limit = options.limits.max_file_size
    bound, always, suffixes, prefixes, min_size = _Dispatch.of(analyzers)
    deadline = options.deadline
    skipped = skip_matcher(options.skip_dirs, options.skip_files)
    for count, entry in enumerate(entries):
        if deadline is not None and not count % 512:
            check_deadline(options, f"layer {layer_id}")
        path, kind = entry.path, entry.kind
        if entry.whiteout:
            result.whiteouts.append(path)
            continue
        if entry.opaque:
            result.opaque_dirs.append(path)
            continue
        if kind != "dir":
            result.written.append(path)
            if kind == "symlink":
                result.links[path] = entry.linkname
        if skipped is not None and skipped(path):
            continue
        low = path.lower()
        asked = (bound if low.endswith(suffixes) or low.startswith(prefixes) or entry.size >= min_size else always).get(kind)
        if not asked:
            continue
        # the entry answers for its metadata (a FileMeta): the FileInfo of FileInput is made for wanted entries only
        try:
            wanting = [a for a, wants in asked if wants(path, entry)]
        except Exception:  # a plugin bug in wants(): find the culprit, report it, go on with the rest
            wanting = [a for a in analyzers if kind in a.kinds and _wants(a, entry, tally)]
        if not wanting:
            continue
        info = entry.info
        content: list[bytes] = []

        def read(entry: Entry = entry, content: list[bytes] = content) -> bytes:
            if not content:
                if entry.info.kind == "hardlink":
                    content.append(bytes(kept.get(entry.info.linkname, b"")))
                else:
                    try:
                        content.append(entry.read())
                    except HullscanError as exc:
                        broken.append(exc)  # the layer itself is bad: ends the scan even if an analyzer catches it
                        raise
                    except (OSError, EOFError, ValueError, zlib.error) as exc:
                        broken.append(BlobError(f"layer {layer_id}: cannot read {entry.info.path}: {exc}"))
                        raise broken[-1] from None
                    if len(content[0]) <= _HARDLINK_KEEP and kept_bytes[0] + len(content[0]) <= _HARDLINK_KEEP_TOTAL:
                        kept[entry.info.path] = content[0]
                        kept_bytes[0] += len(content[0])
            return content[0]

        for analyzer in wanting:
            size = info.size
            if info.kind == "hardlink":
                size = len(kept.get(info.linkname, b""))
            if not analyzer.metadata_only and size > min(limit, analyzer.max_size):
                warnings.append(
                    ScanWarning("size-limit", f"{info.path} ({size} bytes) is larger than {analyzer.name}'s limit: not read", info.path, layer_id)
                )
                continue
            file = FileInput(path=info.path, info=info, layer=layer_id, _reader=read)
            try:
                res = analyzer.analyze(file)
            except HullscanError:
                raise
            except Exception as exc:  # an analyzer bug must not end the scan: report it
                if broken:
                    raise broken[0] from None
                tally.fail(analyzer.name, _failure(exc))
                warnings.append(ScanWarning("analyzer-error", f"{analyzer.name} failed on {info.path}: {_failure(exc)}", info.path, layer_id))
                continue
            if broken:  # an analyzer that caught the failed read of its file does not hide a bad layer
                raise broken[0]
            if res is not None and _nonempty(res):
                result.files.append(FileResult(info.path, analyzer.name, res))
    return result


_Bound = dict[str, list[tuple[Analyzer, Callable[[str, FileMeta], bool]]]]


class _Dispatch(NamedTuple):
    """Who is asked about an entry: ``bound`` (every analyzer, by entry kind) for an entry that matches one of the
    analyzers' hints (the union of their suffixes and prefixes, or at least the smallest ``min_size``), else only
    ``always`` (the analyzers without a hint). On a Debian base layer this skips ~95% of the ``wants`` calls."""

    bound: _Bound
    always: _Bound
    suffixes: tuple[str, ...]
    prefixes: tuple[str, ...]
    min_size: float

    @classmethod
    def of(cls, analyzers: Sequence[Analyzer]) -> _Dispatch:
        kinds = ("file", "hardlink", "dir", "symlink")
        hints = {a.name: a.path_hint() for a in analyzers}
        given = [h for h in hints.values() if h is not None]
        bound: _Bound = {kind: [(a, a.wants) for a in analyzers if kind in a.kinds] for kind in kinds}
        always: _Bound = {kind: [(a, w) for a, w in pairs if hints[a.name] is None] for kind, pairs in bound.items()}
        return cls(bound, always, tuple(sorted({s for h in given for s in h.suffixes})),
                   tuple(sorted({p for h in given for p in h.prefixes})),
                   min((h.min_size for h in given if h.min_size is not None), default=float("inf")))


def skip_matcher(dirs: Sequence[str], files: Sequence[str]) -> Callable[[str], bool] | None:
    """A predicate telling whether an image path is skipped (``--skip-dirs`` / ``--skip-files``), None when nothing
    is: a path matching a file glob, or lying under a directory matching a dir glob. Globs are ``fnmatch`` patterns
    over paths without the leading ``/`` (``usr/share/doc``, ``**/node_modules``, ``*.pem``); ``**/`` also matches
    no directory at all, and a glob without ``/`` also matches the path's base name."""
    if not dirs and not files:
        return None
    import fnmatch
    import re

    def compile_globs(globs: Sequence[str]) -> re.Pattern[str] | None:
        forms: list[str] = []
        for glob in globs:
            g = glob.strip().strip("/")
            if not g:
                continue
            forms.append(fnmatch.translate(g))
            if g.startswith("**/"):
                forms.append(fnmatch.translate(g[3:]))
        return re.compile("|".join(forms)) if forms else None

    dir_re, file_re = compile_globs(dirs), compile_globs(files)
    base_file = compile_globs([g for g in files if "/" not in g.strip("/")])
    base_dir = compile_globs([g for g in dirs if "/" not in g.strip("/")])

    def skipped(path: str) -> bool:
        rel = path.lstrip("/")
        name = rel.rsplit("/", 1)[-1]
        if file_re is not None and (file_re.match(rel) or (base_file is not None and base_file.match(name))):
            return True
        if dir_re is not None:
            parts = rel.split("/")
            for i in range(1, len(parts) + 1):
                if dir_re.match("/".join(parts[:i])) or (base_dir is not None and base_dir.match(parts[i - 1])):
                    return True
        return False

    return skipped


def check_deadline(options: ScanOptions, where: str) -> None:
    """Raise TimeLimitError when the scan's deadline has passed (naming where it stopped)."""
    if options.deadline is not None and time.monotonic() > options.deadline:
        raise TimeLimitError(f"the scan's time limit was reached in {where}")


def _wants(analyzer: Analyzer, info: Any, tally: _Tally) -> bool:
    try:
        return analyzer.wants(info.path, info)
    except Exception as exc:  # a plugin bug is reported, not fatal
        tally.fail(analyzer.name, f"wants() raised {type(exc).__name__}: {exc}")
        return False


def _nonempty(res: AnalysisResult) -> bool:
    return bool(res.packages or res.distro or res.findings or res.warnings or res.owners or res.facts)


# --------------------------------------------------------------------------- the pipeline


def scan(target: str, options: ScanOptions | None = None, progress: Progress | None = None,
         source: ImageSource | Path | None = None) -> ScanReport:
    """Scan an image (or a root filesystem directory) and return the report. ``source``: ``target`` already opened
    with :func:`~hullscan.image.targets.open_source` (the CLI opens a local archive early, so its digest checks
    start while the rest of the program loads); the scan closes it."""
    options = options or ScanOptions()
    progress = progress or _NoProgress()
    started = time.monotonic()
    if source is None:
        source = open_source(target, options)
    tally = _Tally()
    if isinstance(source, Path):
        analyzers = select_analyzers(options)
        artifact, layers, layer_results, config, raw_config = _scan_rootfs(source, analyzers, options, progress, tally)
    else:
        with source:
            resolved = source.resolve(options.platform)
            source.prefetch(resolved.layers)  # e.g. digest checks start on other cores while the analyzers load
            analyzers = select_analyzers(options)
            if source.kind == "registry":
                artifact = resolved.artifact
            else:
                artifact = dataclasses.replace(resolved.artifact, name=target)
            layers, layer_results = analyze_image(source, resolved, analyzers, options, progress, tally)
            config = config_summary(resolved.config)
            raw_config = resolved.config
    inventory = build_inventory(layers, layer_results)
    report = ScanReport(artifact=artifact, os=inventory.distro, layers=layers, config=config, packages=inventory.packages)
    report.warnings = inventory.warnings
    report.plugins = [
        PluginStatus(a.name, a.version, "analyzer", "failed" if a.name in tally.failures else "ok", tally.failures.get(a.name, ""))
        for a in sorted(analyzers, key=lambda a: a.name)
    ]
    ctx = ScanContext(options=options, inventory=inventory, config=config, layers=layers, raw_config=raw_config)
    report.findings = list(inventory.findings)
    run_stages(ctx, report)
    report.findings.sort(key=lambda f: f.sort_key())
    report.scanned_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    report.duration_seconds = round(time.monotonic() - started, 3)
    return report


def run_stages(ctx: ScanContext, report: ScanReport) -> None:
    """Run every enabled post-inventory stage, adding findings, notes and plugin statuses to ``report``."""
    for stage in STAGES.select(tags=ctx.options.scanners):
        check_deadline(ctx.options, f"the {stage.name} stage")
        try:
            found = stage.factory()(ctx)
        except HullscanError:
            raise
        except Exception as exc:  # a stage bug is reported as a failed plugin, with the cause
            report.plugins.append(PluginStatus(stage.name, stage.version, "stage", "failed", _failure(exc)))
            report.warnings.append(ScanWarning("stage-error", f"{stage.name} failed: {_failure(exc)}"))
            continue
        report.findings.extend(found)
        report.plugins.append(PluginStatus(stage.name, stage.version, "stage"))
    report.notes.extend(n for n in ctx.notes if n not in report.notes)
    report.database = ctx.database


def _failure(exc: Exception) -> str:
    """How a plugin's failure is reported: the missing extra for an optional dependency, else the exception."""
    missing = MissingDependencyError.of(exc) if isinstance(exc, ModuleNotFoundError) else None
    return str(missing) if missing is not None else f"{type(exc).__name__}: {exc}"


def build_inventory(layers: Sequence[Layer], results: Sequence[LayerResult]) -> Inventory:
    """Squash the layer results, resolving the distro and OS purls through the OS analyzers' helpers."""
    resolve = attach = None
    try:
        from hullscan.analyzers import os as os_analyzers

        resolve = getattr(os_analyzers, "resolve_distro", None)
        attach = getattr(os_analyzers, "attach_distro", None)
    except ImportError:  # pragma: no cover - the OS analyzers are part of the package
        pass
    return squash(list(zip(layers, results)), resolve, attach)


def analyze_image(
    source: ImageSource, resolved: ResolvedImage, analyzers: Sequence[Analyzer], options: ScanOptions,
    progress: Progress, tally: _Tally,
) -> tuple[list[Layer], list[LayerResult]]:
    """Analyse every layer (cached ones are not read at all), in parallel."""
    cache = LayerCache(options.cache_dir) if options.use_cache else None
    fingerprint = analyzer_fingerprint(analyzers)
    if options.skip_dirs or options.skip_files:  # a layer analysed with skips is another result
        fingerprint += f"|skip:{sorted(options.skip_dirs)}|{sorted(options.skip_files)}"
    budget = Budget(options.limits)
    layers = [
        Layer(i, d.digest, diff_id, d.size, d.media_type, resolved.layer_history[i] if i < len(resolved.layer_history) else "")
        for i, (d, diff_id) in enumerate(zip(resolved.layers, resolved.diff_ids))
    ]
    progress.start(len(layers))

    def one(i: int) -> LayerResult:
        desc: Descriptor = resolved.layers[i]
        layer = layers[i]
        check_deadline(options, f"layer {layer.diff_id or desc.digest}")
        key = layer_key(desc.digest, layer.diff_id, fingerprint)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                budget.take_layer(hit.bytes_read, hit.entries, f"layer {layer.diff_id}")
                progress.layer_done(layer, True)
                return hit
        warnings: list[ScanWarning] = []
        raw = source.open_blob(desc)
        on_bytes = getattr(progress, "blob_bytes", None)  # optional: byte-level pull progress (the CLI's bar)
        if callable(on_bytes):
            raw = _CountingReader(raw, on_bytes)  # type: ignore[assignment]
        try:
            sizes: list[tuple[int, int]] = []
            entries = walk_layer(raw, layer.diff_id, options.limits, budget, warnings,
                                 lambda size, count: sizes.append((size, count)))
            result = analyze_entries(entries, layer.diff_id, analyzers, options, warnings, tally)
            if sizes:
                result.bytes_read, result.entries = sizes[0]
            drain = getattr(raw, "drain", None)
            if callable(drain):
                drain()  # the digest check happens at the end of the blob
        finally:
            close = getattr(raw, "close", None)
            if callable(close):
                close()
        if cache is not None and layer.diff_id:
            cache.put(key, result)
        progress.layer_done(layer, False)
        return result

    workers = options.workers or min(len(layers), os.cpu_count() or 1, 8) or 1
    if not options.workers and source.in_memory(resolved.layers):
        workers = 1  # a pure-Python walk over local plain layers: threads would only take turns (see ImageSource.in_memory)
    if workers <= 1 or len(layers) <= 1 or not source.parallel:
        results = [one(i) for i in range(len(layers))]
    else:
        from concurrent.futures import ThreadPoolExecutor  # (only here: its import, logging's too, is ~2.5 ms)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="layer") as pool:
            results = list(pool.map(one, range(len(layers))))
    return layers, results


class _CountingReader:
    """A blob stream that reports how many stored bytes were read (for progress); forwards drain and close."""

    def __init__(self, raw: Any, report: Callable[[int], None]) -> None:
        self._raw = raw
        self._report = report

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        if data:
            self._report(len(data))
        return data

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(1 << 20):
            pass
        drain = getattr(self._raw, "drain", None)
        if callable(drain):
            drain()

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if callable(close):
            close()


def _scan_rootfs(
    root: Path, analyzers: Sequence[Analyzer], options: ScanOptions, progress: Progress, tally: _Tally
) -> tuple[Artifact, list[Layer], list[LayerResult], ImageConfigSummary, dict[str, object]]:
    from hullscan.image.rootfs import walk_dir

    layer = Layer(index=0, digest="", diff_id="", size=0, media_type="directory", created_by=str(root))
    progress.start(1)
    warnings: list[ScanWarning] = []
    budget = Budget(options.limits)
    result = analyze_entries(walk_dir(root, "", options.limits, budget, warnings), "", analyzers, options, warnings, tally)
    progress.layer_done(layer, False)
    artifact = Artifact(name=str(root), kind="rootfs")
    return artifact, [layer], [result], ImageConfigSummary(), {}


def config_summary(config: dict[str, Any]) -> ImageConfigSummary:
    """The parts of an image config that checks and reports use."""
    def mapping(value: object) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    cfg = mapping(config.get("config"))

    def strs(value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    labels = mapping(cfg.get("Labels"))
    health = mapping(cfg.get("Healthcheck"))
    ports = mapping(cfg.get("ExposedPorts"))
    entries = config.get("history")
    history = [h for h in entries if isinstance(h, dict)] if isinstance(entries, list) else []
    return ImageConfigSummary(
        user=str(cfg.get("User") or ""),
        env=strs(cfg.get("Env")),
        entrypoint=strs(cfg.get("Entrypoint")),
        cmd=strs(cfg.get("Cmd")),
        working_dir=str(cfg.get("WorkingDir") or ""),
        exposed_ports=tuple(sorted(str(p) for p in ports)),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        healthcheck=strs(health.get("Test")),
        created=str(config.get("created") or ""),
        history=tuple((str(h.get("created_by", "")), bool(h.get("empty_layer", False))) for h in history),
    )


ProgressFactory = Callable[[], Progress]
