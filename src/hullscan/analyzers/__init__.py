"""Analyzer plugins and their registry.

:data:`CATALOG` is the one explicit list of analyzer classes (``"module:Class"``), grouped by the tag that selects
them (``os`` and ``lang`` always run; the others with their scanner); a new analyzer is one module plus one line
here. :func:`registry` imports them on first use, only the groups asked for (start-up stays cheap: a scan without
``--scanners secret`` never imports the secret rules), and fails on a duplicate name.
"""

from __future__ import annotations

import functools
import importlib

from hullscan.analyzers.base import Analyzer, FileInput
from hullscan.plugins import Entry, Registry

CATALOG: dict[str, list[str]] = {
    # OS detection and OS package databases
    "os": [
        "hullscan.analyzers.os.osrelease:OSReleaseAnalyzer",
        "hullscan.analyzers.os.dpkg:DpkgAnalyzer",
        "hullscan.analyzers.os.apk:ApkAnalyzer",
        "hullscan.analyzers.os.rpm:RpmAnalyzer",
    ],
    # language packages
    "lang": [
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
    ],
    # files: secrets, malware, baseline
    "secret": [
        "hullscan.analyzers.files.secrets:SecretAnalyzer",
        "hullscan.analyzers.files.sensitive:SensitiveFileAnalyzer",
    ],
    "malware": ["hullscan.analyzers.files.malware:MalwareAnalyzer"],
    "baseline": [
        "hullscan.analyzers.files.baseline:BaselineFileAnalyzer",
        "hullscan.analyzers.files.baseline:PermissionAnalyzer",
    ],
}


@functools.cache
def registry(groups: frozenset[str] | None = None) -> Registry[Analyzer]:
    """The analyzer registry, built from :data:`CATALOG` on first use: every group, or only ``groups``. Each class
    must carry its group's tag (selection by tag then sees the same analyzers either way)."""
    reg: Registry[Analyzer] = Registry("analyzer")
    for group, specs in CATALOG.items():
        if groups is not None and group not in groups:
            continue
        for spec in specs:
            module, _, cls_name = spec.partition(":")
            cls: type[Analyzer] = getattr(importlib.import_module(module), cls_name)
            if group not in cls.tags:
                raise ValueError(f"{spec} is listed under {group!r} but its tags are {sorted(cls.tags)}")
            reg.add(Entry(name=cls.name, version=cls.version, factory=cls, tags=cls.tags))
    return reg


__all__ = ["CATALOG", "Analyzer", "FileInput", "registry"]
