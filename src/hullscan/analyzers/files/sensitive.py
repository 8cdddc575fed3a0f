"""Sensitive file types found by path and content (``--scanners secret``), driven by ``rules/sensitive.yaml``.

Private keys, key stores, credential files of cloud and registry tools, kubeconfigs, ``.env`` files, shell
histories, database dumps... A file is wanted only when its path matches an item; its content then has to
match every ``content`` regex (text) or one ``magic`` prefix (binary). Findings never quote the content.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from hullscan.analyzers.base import Analyzer, FileInput, FileMeta
from hullscan.analyzers.files.paths import PathPatterns, PathRule, path_rules
from hullscan.analyzers.files.rulefiles import rule_yaml, rules_digest
from hullscan.analyzers.files.secrets import RULES_FILE as SECRET_RULES
from hullscan.analyzers.files.secrets import SecretRules, builtin_rules, configured_rules
from hullscan.model import AnalysisResult, Category, Finding, Location, Severity
from hullscan.options import ScanOptions

RULES_FILE = "sensitive.yaml"
#: content regexes look at this many leading bytes
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)  # no slots: functools.cached_property keeps the compiled regexes in the instance dict
class SensitiveItem:
    """One sensitive file type. Its regexes are compiled on first use (most items never see a file)."""

    id: str
    title: str
    severity: Severity
    path_rules: tuple[PathRule, ...]  # path entries (regexes, literals: see hullscan.analyzers.files.paths)
    exclude_rules: tuple[PathRule, ...]
    content_sources: tuple[str, ...]
    content_not_sources: tuple[str, ...]
    magic: tuple[bytes, ...]
    remediation: str

    @functools.cached_property
    def paths(self) -> PathPatterns:
        """The path entries (most are literals, never compiled: see :class:`PathPatterns`)."""
        return PathPatterns(self.path_rules)

    @functools.cached_property
    def exclude(self) -> PathPatterns | None:
        """The excluded paths (None: no exclusion)."""
        return PathPatterns(self.exclude_rules) if self.exclude_rules else None

    @functools.cached_property
    def content(self) -> tuple[re.Pattern[str], ...]:
        """Regexes the head of the text must all match."""
        return tuple(re.compile(c, re.MULTILINE) for c in self.content_sources)

    @functools.cached_property
    def content_not(self) -> tuple[re.Pattern[str], ...]:
        """Regexes the head of the text must not match."""
        return tuple(re.compile(c, re.MULTILINE) for c in self.content_not_sources)

    def path_matches(self, path: str) -> bool:
        """True when ``path`` is of this type by name."""
        return self.paths.search(path) and not (self.exclude and self.exclude.search(path))

    def content_matches(self, data: bytes) -> bool:
        """True when the content confirms the type (every content regex, or one magic prefix)."""
        if self.magic and not any(data.startswith(m) for m in self.magic):
            return False
        if self.content_sources or self.content_not_sources:
            text = data[:HEAD_BYTES].decode("utf-8", errors="replace")
            return all(p.search(text) for p in self.content) and not any(p.search(text) for p in self.content_not)
        return bool(data)


def compile_items(data: dict[str, Any]) -> list[SensitiveItem]:
    """Read a parsed sensitive-files YAML document into items (their regexes are compiled on first use)."""
    items = []
    for raw in data.get("items") or []:
        magic = raw.get("magic") or []
        magic = [magic] if isinstance(magic, str) else magic
        items.append(
            SensitiveItem(
                id=str(raw["id"]),
                title=str(raw["title"]),
                severity=Severity.parse(str(raw.get("severity", "MEDIUM"))),
                path_rules=path_rules(raw["paths"]),
                exclude_rules=path_rules(raw.get("exclude") or ()),
                content_sources=tuple(str(c) for c in raw.get("content") or ()),
                content_not_sources=tuple(str(c) for c in raw.get("content_not") or ()),
                magic=tuple(bytes.fromhex(str(m)) for m in magic),
                remediation=str(raw.get("remediation", "")),
            )
        )
    return items


@functools.cache
def builtin_items() -> list[SensitiveItem]:
    """The shipped sensitive-file items, read once per process."""
    return compile_items(rule_yaml(RULES_FILE))


@functools.cache
def _any_path() -> PathPatterns:
    """The path entries of every shipped item, arranged to be tried at every layer entry (see :class:`PathPatterns`)."""
    return PathPatterns([p for item in builtin_items() for p in item.path_rules])


class SensitiveFileAnalyzer(Analyzer):
    """Reports sensitive file types in every layer."""

    name = "files/sensitive"
    version = 1
    tags = frozenset({"secret"})
    kinds = frozenset({"file"})  # wants() refuses hard links (their target is reported where it is stored)
    max_size = 256 * 1024 * 1024

    def __init__(self) -> None:
        self.allow: SecretRules | None = None  # None: the shipped allow list
        self.config_digest = ""

    def configure(self, options: ScanOptions) -> None:
        """Honour the allow-listed paths of the user's secret config (``plugin_settings["secret"]["config"]``)."""
        config = (options.plugin_settings.get("secret") or {}).get("config")
        if config:
            self.allow, self.config_digest = configured_rules(str(config))

    def path_hint(self) -> None:
        """None: no hint can hold what :meth:`wants` accepts (``/\\.ssh/[^/]+$``, ``/private/[^/]+$`` or
        ``/kubeconfig[^/]*$`` end in any name), so ``wants`` is asked about every entry and has to be cheap."""

    def wants(self, path: str, info: FileMeta) -> bool:
        """Regular, non-empty files whose path matches a sensitive item and is not allow-listed. The allow list is
        asked first: the secret analyzer has just asked it about the same path (its answer is kept), and it holds
        most paths of an image (libraries, documentation, binaries)."""
        if info.kind != "file" or info.size == 0 or (self.allow or builtin_rules()).path_allowed(path):
            return False
        return _any_path().search(path)

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """One finding per matching item (the content must confirm what the name suggests)."""
        data = file.read()
        findings = []
        for item in builtin_items():
            if item.path_matches(file.path) and item.content_matches(data):
                findings.append(
                    Finding(
                        id=f"sensitive-{item.id}",
                        category=Category.SENSITIVE,
                        severity=item.severity,
                        title=item.title,
                        description=f"{item.title}: {file.path} ({len(data)} bytes) is stored in the image.",
                        location=Location(path=file.path, layer=file.layer),
                        evidence=f"file {file.path}, {len(data)} bytes, mode {file.info.mode & 0o7777:04o}",
                        remediation=item.remediation,
                    )
                )
        return AnalysisResult(findings=findings) if findings else None

    def cache_salt(self) -> str:
        """Digest of ``rules/sensitive.yaml`` and ``rules/secrets.yaml`` (its allow-listed paths), and of the user's
        secret config when one is set."""
        return rules_digest(RULES_FILE, SECRET_RULES) + (f"+{self.config_digest}" if self.config_digest else "")
