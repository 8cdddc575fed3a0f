"""Analyzer plugins and their registry.

:data:`ANALYZERS` is the one explicit registry of analyzer classes, each with its name, version and the tags that
select it (``os`` and ``lang`` always run; the others with their scanner); a new analyzer is one module plus one
line here. The entries are lazy: a class is imported when a scan first instantiates it, so a scan without
``--scanners secret`` never imports the secret rules. Each class carries the same name, version and tags as its
entry (checked when it is instantiated, and for all of them by the tests).
"""

from __future__ import annotations

from hullscan.analyzers.base import Analyzer, FileInput
from hullscan.plugins import Entry, Registry, lazy


def _analyzer(name: str, version: int, target: str, *tags: str) -> Entry[Analyzer]:
    return Entry(name, version, lazy(target), frozenset(tags))


ANALYZERS: Registry[Analyzer] = Registry("analyzer", [
    # OS detection and OS package databases
    _analyzer("os/release", 1, "hullscan.analyzers.os.osrelease:OSReleaseAnalyzer", "os"),
    _analyzer("os/dpkg", 1, "hullscan.analyzers.os.dpkg:DpkgAnalyzer", "os"),
    _analyzer("os/apk", 1, "hullscan.analyzers.os.apk:ApkAnalyzer", "os"),
    _analyzer("os/rpm", 1, "hullscan.analyzers.os.rpm:RpmAnalyzer", "os"),
    # language packages
    _analyzer("lang/java-archive", 4, "hullscan.analyzers.lang.java:JavaArchiveAnalyzer", "java", "lang"),
    _analyzer("lang/go-binary", 3, "hullscan.analyzers.lang.golang:GoBinaryAnalyzer", "go", "lang"),
    _analyzer("lang/go-mod", 2, "hullscan.analyzers.lang.golang:GoModAnalyzer", "go", "lang"),
    _analyzer("lang/rust-binary", 2, "hullscan.analyzers.lang.rust:RustBinaryAnalyzer", "lang", "rust"),
    _analyzer("lang/cargo-lock", 1, "hullscan.analyzers.lang.rust:CargoLockAnalyzer", "lang", "rust"),
    _analyzer("lang/python", 2, "hullscan.analyzers.lang.python:PythonAnalyzer", "lang", "python"),
    _analyzer("lang/npm", 2, "hullscan.analyzers.lang.npm:NpmAnalyzer", "javascript", "lang", "node"),
    _analyzer("lang/ruby", 1, "hullscan.analyzers.lang.ruby:RubyAnalyzer", "lang", "ruby"),
    _analyzer("lang/php", 1, "hullscan.analyzers.lang.php:PhpAnalyzer", "lang", "php"),
    _analyzer("lang/dotnet", 2, "hullscan.analyzers.lang.dotnet:DotnetAnalyzer", "dotnet", "lang"),
    # files: secrets, malware, baseline
    _analyzer("files/secrets", 3, "hullscan.analyzers.files.secrets:SecretAnalyzer", "secret"),
    _analyzer("files/sensitive", 1, "hullscan.analyzers.files.sensitive:SensitiveFileAnalyzer", "secret"),
    _analyzer("files/malware", 2, "hullscan.analyzers.files.malware:MalwareAnalyzer", "malware"),
    _analyzer("files/suspicious", 1, "hullscan.analyzers.files.suspicious:SuspiciousAnalyzer", "malware"),
    _analyzer("files/baseline", 2, "hullscan.analyzers.files.baseline:BaselineFileAnalyzer", "baseline"),
    _analyzer("files/permissions", 1, "hullscan.analyzers.files.baseline:PermissionAnalyzer", "baseline"),
    _analyzer("files/hardening", 1, "hullscan.analyzers.files.hardening:HardeningAnalyzer", "baseline"),
])


def create(entry: Entry[Analyzer]) -> Analyzer:
    """An instance of the analyzer of ``entry``; ValueError when the class disagrees with its entry."""
    analyzer = entry.factory()
    if (analyzer.name, analyzer.version, analyzer.tags) != (entry.name, entry.version, entry.tags):
        raise ValueError(f"analyzer {entry.target} is {analyzer.name} v{analyzer.version} {sorted(analyzer.tags)}, "
                         f"registered as {entry.name} v{entry.version} {sorted(entry.tags)}")
    return analyzer


__all__ = ["ANALYZERS", "Analyzer", "FileInput", "create"]
