"""The one scan settings object: defaults, validation (pydantic) and optimistic versioned updates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from hullscan.server.db.models import SettingsRow, utcnow

SETTINGS_ID = 1
RegistryType = Literal["harbor", "quay", "gitlab", "registry"]
REGISTRY_TYPES: tuple[RegistryType, ...] = ("harbor", "quay", "gitlab", "registry")


class CheckItems(BaseModel):
    """Which image checks run besides vulnerability matching."""

    model_config = ConfigDict(extra="forbid")

    baseline: bool = True
    sensitive: bool = True
    #: sensitive-file and secret finding ids to keep (``sensitive-<id>``, ``secret-<id>`` or a glob matching some;
    #: empty: every rule)
    sensitive_types: list[str] = Field(default_factory=list, max_length=500)
    malware: bool = True
    history: bool = True

    @field_validator("sensitive_types")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        import fnmatch

        known = sensitive_check_ids()
        unknown = [x for x in v if x not in known and not any(fnmatch.fnmatchcase(k, x) for k in known)]
        if unknown:
            raise ValueError(f"unknown check ids {', '.join(repr(u) for u in unknown[:10])}; valid ids: "
                             f"{', '.join(sorted(known))}")
        return v


_CHECK_IDS: list[frozenset[str]] = []


def sensitive_check_ids() -> frozenset[str]:
    """Finding ids a sensitive-type selection may name: ``sensitive-<id>`` of rules/sensitive.yaml and
    ``secret-<id>`` of rules/secrets.yaml (read once)."""
    if not _CHECK_IDS:
        from importlib.resources import files

        import yaml

        rules = files("hullscan") / "rules"
        sensitive = yaml.safe_load((rules / "sensitive.yaml").read_text())["items"]
        secrets = yaml.safe_load((rules / "secrets.yaml").read_text())["rules"]
        _CHECK_IDS.append(frozenset([f"sensitive-{i['id']}" for i in sensitive] + [f"secret-{r['id']}" for r in secrets]))
    return _CHECK_IDS[0]


class ImageFixSettings(BaseModel):
    """Image risk fix (``hullscan fix`` run by the server): patch the OS vulnerabilities of images in scope and push
    the result under ``<tag><tag_suffix>`` in the same repository."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    #: a periodic fix every N hours; None: only when started by hand
    cycle_hours: int | None = Field(default=24, ge=1, le=24 * 366)
    #: repositories whose images are fixed (empty: none; the scan scope is not implied)
    repository_ids: list[int] = Field(default_factory=list, max_length=100_000)
    #: only images updated in the last N days (creation time when never updated); None: every image in scope
    time_range_days: int | None = Field(default=None, ge=1, le=36500)
    tag_suffix: str = Field(default="-patched", min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    #: package mirrors per release (air-gapped sites): ``{"debian:bookworm": ["deb http://mirror/debian bookworm main"],
    #: "alpine:3.18": ["http://mirror/alpine/v3.18/main"]}``; a release not listed uses the image's own sources
    mirrors: dict[str, list[str]] = Field(default_factory=dict, max_length=200)


class ScanSettings(BaseModel):
    """Editable scan settings (the repository scope itself lives on each repository: ``in_scope``)."""

    model_config = ConfigDict(extra="forbid")

    auto_add_new_repositories: bool = True
    #: only images updated in the last N days (creation time when never updated); None: every image
    time_range_days: int | None = Field(default=None, ge=1, le=36500)
    #: periodic scan every N hours; None: no periodic scan
    scan_cycle_hours: int | None = Field(default=24, ge=1, le=24 * 366)
    #: findings not seen for this many days are purged
    retention_days: int = Field(default=90, ge=1, le=36500)
    #: daily asset sync, local time HH:MM
    sync_time: str = "03:00"
    checks: CheckItems = Field(default_factory=CheckItems)
    #: a task stops by itself after this many seconds
    task_time_limit_seconds: int = Field(default=4 * 3600, ge=1, le=7 * 24 * 3600)
    #: URLs that receive event POSTs (findings changed after a DB update, task finished)
    webhook_urls: list[str] = Field(default_factory=list, max_length=50)
    registry_types: list[RegistryType] = Field(default_factory=lambda: list(REGISTRY_TYPES))
    image_fix: ImageFixSettings = Field(default_factory=ImageFixSettings)

    @field_validator("sync_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parts = v.split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or not (0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60):
            raise ValueError("sync_time must be HH:MM (24-hour clock)")
        return f"{int(parts[0]):02d}:{int(parts[1]):02d}"

    @field_validator("webhook_urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        import httpx

        for url in v:
            bad = not url.startswith(("http://", "https://")) or len(url) > 2000 or not url.isprintable() or " " in url
            if not bad:
                try:
                    bad = not httpx.URL(url).host
                except httpx.InvalidURL:
                    bad = True
            if bad:
                raise ValueError(f"webhook URL must be http(s)://host/...: {url[:80]!r}")
        return v

    def scanners(self) -> frozenset[str]:
        """The ``ScanOptions.scanners`` these settings turn on."""
        on = {"vuln"}
        if self.checks.sensitive:
            on.add("secret")
        if self.checks.malware:
            on.add("malware")
        if self.checks.baseline:
            on.add("baseline")
        if self.checks.history:
            on.add("history")
        return frozenset(on)


class VersionConflict(Exception):
    """The settings were changed by someone else since the given version."""


def get_settings(session: Session) -> tuple[ScanSettings, int]:
    """The current settings and their version."""
    row = session.get(SettingsRow, SETTINGS_ID)
    if row is None:
        return ScanSettings(), 0
    return ScanSettings.model_validate(row.data), row.version


def update_settings(session: Session, data: dict[str, Any], version: int, user: str) -> tuple[ScanSettings, int]:
    """Replace the fields given in ``data`` if ``version`` is current; the version goes up by one."""
    row = session.get(SettingsRow, SETTINGS_ID, with_for_update=True)
    current = ScanSettings.model_validate(row.data) if row else ScanSettings()
    if row is None or row.version != version:
        raise VersionConflict(f"settings are at version {row.version if row else 0}, not {version}; reload and retry")
    merged = ScanSettings.model_validate({**current.model_dump(), **data})
    from sqlalchemy import update

    res = session.execute(
        update(SettingsRow)
        .where(SettingsRow.id == SETTINGS_ID, SettingsRow.version == version)
        .values(data=merged.model_dump(), version=version + 1, updated_at=utcnow(), updated_by=user)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise VersionConflict("settings changed concurrently; reload and retry")
    return merged, version + 1
