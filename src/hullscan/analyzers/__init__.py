"""Analyzer plugins and their registry.

:data:`CATALOG` is the one explicit list of analyzer classes (``"module:Class"``); a new analyzer is
one module plus one line here. :func:`registry` imports them on first use (start-up stays cheap)
and fails on a duplicate name.
"""

from __future__ import annotations

import functools
import importlib

from hullscan.analyzers.base import Analyzer, FileInput
from hullscan.plugins import Entry, Registry

CATALOG: list[str] = [
    # OS detection and OS package databases
    "hullscan.analyzers.os.osrelease:OSReleaseAnalyzer",
    "hullscan.analyzers.os.dpkg:DpkgAnalyzer",
    "hullscan.analyzers.os.apk:ApkAnalyzer",
    "hullscan.analyzers.os.rpm:RpmAnalyzer",
    # language packages
    "hullscan.analyzers.lang.java:JavaArchiveAnalyzer",
    "hullscan.analyzers.lang.golang:GoBinaryAnalyzer",
    "hullscan.analyzers.lang.golang:GoModAnalyzer",
    "hullscan.analyzers.lang.rust:RustBinaryAnalyzer",
    "hullscan.analyzers.lang.rust:CargoLockAnalyzer",
    "hullscan.analyzers.lang.python:PythonAnalyzer",
    "hullscan.analyzers.lang.npm:NpmAnalyzer",
    "hullscan.analyzers.lang.ruby:RubyAnalyzer",
    "hullscan.analyzers.lang.php:PhpAnalyzer",
    "hullscan.analyzers.lang.dotnet:DotnetAnalyzer",
    # files: secrets, malware, baseline
    "hullscan.analyzers.files.secrets:SecretAnalyzer",
    "hullscan.analyzers.files.sensitive:SensitiveFileAnalyzer",
    "hullscan.analyzers.files.malware:MalwareAnalyzer",
    "hullscan.analyzers.files.baseline:BaselineFileAnalyzer",
    "hullscan.analyzers.files.baseline:PermissionAnalyzer",
]


@functools.cache
def registry() -> Registry[type[Analyzer]]:
    """The analyzer registry, built from :data:`CATALOG` on first use."""
    reg: Registry[type[Analyzer]] = Registry("analyzer")
    for spec in CATALOG:
        module, _, cls_name = spec.partition(":")
        cls: type[Analyzer] = getattr(importlib.import_module(module), cls_name)
        reg.add(Entry(name=cls.name, version=cls.version, factory=cls, tags=cls.tags))
    return reg


__all__ = ["CATALOG", "Analyzer", "FileInput", "registry"]
