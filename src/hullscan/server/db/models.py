"""SQLAlchemy 2 models of the security center store.

Portable SQL only (SQLite by default, PostgreSQL by URL): generic types, ``JSON`` columns, no
dialect-specific features. Secrets (registry passwords, organisation/group tokens) are stored as Fernet
tokens (see :mod:`hullscan.server.crypto`); API tokens and passwords only as hashes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class Registry(Base):
    """A connected registry (Harbor, Quay, GitLab or plain Distribution v2)."""

    __tablename__ = "registries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(20))  # harbor | quay | gitlab | registry
    version: Mapped[str] = mapped_column(String(20), default="")  # harbor: v2 | v1; quay: v1; gitlab: v4; registry: v2
    protocol: Mapped[str] = mapped_column(String(5), default="https")
    network_type: Mapped[str] = mapped_column(String(20), default="public")  # public | private | vpc
    region: Mapped[str] = mapped_column(String(100), default="")
    ip: Mapped[str] = mapped_column(String(100), default="")
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    domain: Mapped[str] = mapped_column(String(255), default="")
    rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=10)  # images/hour; 0: unlimited
    username: Mapped[str] = mapped_column(String(200), default="")
    password_enc: Mapped[str] = mapped_column(Text, default="")
    #: organisations (quay) or groups (gitlab) with their tokens: Fernet-encrypted JSON list
    namespaces_enc: Mapped[str] = mapped_column(Text, default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column(nullable=True)

    repositories: Mapped[list[Repository]] = relationship(back_populates="owner", cascade="all, delete-orphan")


class Repository(Base):
    """A repository of a registry, as found by the asset sync."""

    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("registry_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[int] = mapped_column(ForeignKey("registries.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    #: ``host[:port]/path`` to pull from (GitLab serves images from its registry host, not the API host)
    pull_prefix: Mapped[str] = mapped_column(String(800), default="")
    in_scope: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[Registry] = relationship(back_populates="repositories")
    tags: Mapped[list[ImageTag]] = relationship(back_populates="repository", cascade="all, delete-orphan")


class Image(Base):
    """An image manifest, unique by digest; its inventory is stored once for re-matching."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(100), unique=True)
    os: Mapped[str] = mapped_column(String(100), default="")
    #: {"os": Distro data or None, "packages": [Package data]} (see hullscan.serde)
    inventory: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    inventory_fingerprint: Mapped[str] = mapped_column(String(100), default="")  # vuln DB fingerprint last matched
    scan_status: Mapped[str] = mapped_column(String(40), default="not scanned")
    scan_error: Mapped[str] = mapped_column(Text, default="")
    last_scanned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    image_created: Mapped[datetime | None] = mapped_column(nullable=True)  # config "created"
    #: the task scanning this digest right now: another task waits for its result instead of pulling and scanning
    #: the same digest again (the claim of a task that is no longer running is void)
    scan_claim_task: Mapped[int | None] = mapped_column(nullable=True)
    #: which run of a job holds the claim, and until when (clock seconds): renewed while the scan runs, so the
    #: claim of a worker that died lapses and another worker takes the digest over
    scan_claim_owner: Mapped[str] = mapped_column(String(120), default="", server_default="")
    scan_claim_expires: Mapped[float | None] = mapped_column(Float, nullable=True)

    tags: Mapped[list[ImageTag]] = relationship(back_populates="image", cascade="all, delete-orphan")


class ImageTag(Base):
    """A tag of a repository pointing at an image, with its push and update time."""

    __tablename__ = "image_tags"
    __table_args__ = (UniqueConstraint("repository_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(300))
    pushed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    repository: Mapped[Repository] = relationship(back_populates="tags")
    image: Mapped[Image] = relationship(back_populates="tags")


class Scan(Base):
    """One scan of one image within a task."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(30))  # succeeded | failed
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FindingRow(Base):
    """A current finding of an image (all categories), unique per image by fingerprint."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("image_id", "fingerprint"),
        Index("ix_findings_image_category", "image_id", "category"),
        Index("ix_findings_order", text("severity_rank DESC"), "category", "rule_id", "id"),
        Index("ix_findings_last_seen", "last_seen"),
        # the console: counts per category/severity of open findings (index-only), pages in severity order, trend
        Index("ix_findings_console_totals", "category", "state", "suppressed_by", "ecosystem", "severity"),
        Index("ix_findings_console_list", "category", "state", "severity_rank", "id"),
        Index("ix_findings_first_seen", "first_seen"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id", ondelete="SET NULL"), nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(20), index=True)
    rule_id: Mapped[str] = mapped_column(String(200), index=True)  # CVE/GHSA id or check id
    severity: Mapped[str] = mapped_column(String(20), index=True)
    severity_rank: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text, default="")
    line: Mapped[int] = mapped_column(Integer, default=0)
    layer: Mapped[str] = mapped_column(String(100), default="")
    removed_in: Mapped[str] = mapped_column(String(100), default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    remediation: Mapped[str] = mapped_column(Text, default="")
    package_name: Mapped[str] = mapped_column(String(300), default="", index=True)
    package_version: Mapped[str] = mapped_column(String(200), default="")
    ecosystem: Mapped[str] = mapped_column(String(40), default="")
    purl: Mapped[str] = mapped_column(Text, default="")
    fix_status: Mapped[str] = mapped_column(String(20), default="")
    fixed_versions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cvss_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    data_source: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # full serde Finding
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | handled | ignored
    state_reason: Mapped[str] = mapped_column(Text, default="")
    state_by: Mapped[str] = mapped_column(String(200), default="")
    state_at: Mapped[datetime | None] = mapped_column(nullable=True)
    suppressed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # whitelist rule id
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class WhitelistRule(Base):
    """A suppression rule: a vulnerability id or a risky-file alert, over all images or a scope."""

    __tablename__ = "whitelist_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # vulnerability | sensitive | history | malicious
    value: Mapped[str] = mapped_column(String(500))  # vulnerability id, or check id / path glob for file alerts
    scope: Mapped[str] = mapped_column(String(20), default="all")  # all | images | repositories
    scope_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    expired: Mapped[bool] = mapped_column(Boolean, default=False)  # set once the expiry passed and findings re-evaluated


class SettingsRow(Base):
    """The one scan settings object (id 1), versioned for optimistic concurrency."""

    __tablename__ = "settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class Task(Base):
    """A unit of background work (sync, scan, rematch, purge) run by a queue."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # sync | scan | rematch
    status: Mapped[str] = mapped_column(String(30), default="pending", index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trigger: Mapped[str] = mapped_column(String(30), default="manual")  # manual | schedule | webhook | harbor | db-update
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    time_limit_seconds: Mapped[int] = mapped_column(Integer, default=4 * 3600)
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # run time accumulated over restarts
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TaskItem(Base):
    """One image a scan task covers, with its outcome (resumable after a restart)."""

    __tablename__ = "task_items"
    __table_args__ = (UniqueConstraint("task_id", "image_id"), Index("ix_task_items_task_status", "task_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    registry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reference: Mapped[str] = mapped_column(Text)  # host/repo@digest to pull
    status: Mapped[str] = mapped_column(String(40), default="pending")  # pending | succeeded | failed | not scanned: ...
    error: Mapped[str] = mapped_column(Text, default="")
    dispatched_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # distributed: last sent to the workers
    #: pull credentials of an image of no configured registry (a pod's imagePullSecret): Fernet-encrypted JSON
    credentials_enc: Mapped[str] = mapped_column(Text, default="")


class TaskLog(Base):
    """One line of a task's log."""

    __tablename__ = "task_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)


class User(Base):
    """A console/API user with a role (admin, operator, viewer)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """An API token of a user; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Quota(Base):
    """The purchased quota of image scans (id 1) and how much of it is used."""

    __tablename__ = "quota"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchased: Mapped[int] = mapped_column(Integer, default=1000)
    used: Mapped[int] = mapped_column(Integer, default=0)


class QuotaUsage(Base):
    """One consumed quota unit: a digest scanned for the first time."""

    __tablename__ = "quota_usage"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(100), unique=True)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    consumed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateBucket(Base):
    """Token bucket of one registry's scan rate limit, shared by every worker through the store."""

    __tablename__ = "rate_buckets"

    registry_id: Mapped[int] = mapped_column(ForeignKey("registries.id", ondelete="CASCADE"), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)  # clock seconds of the last refill


class Event(Base):
    """Something that happened (findings changed after a DB update, ...) and was sent to webhooks."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # url -> status


class Meta(Base):
    """Small key/value facts of the server (vulnerability DB fingerprint, last daily sync...)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class PackageRow(Base):
    """A distinct package of the fleet at its place (distro, identity, path and layer), stored once however many
    images hold it. ``match_key`` is its identity without the place: what matching depends on."""

    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the distro, the identity and the place
    match_key: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the distro and the identity
    distro: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # serde Package


class PackageVerdict(Base):
    """What matching said about a package identity (a ``match_key``) against the vulnerability DB ``verdict_db``:
    its findings (serde, at one holder's place) and their digest."""

    __tablename__ = "package_verdicts"

    match_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(64), default="")
    verdict_db: Mapped[str] = mapped_column(String(100), default="")
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ImagePackage(Base):
    """Which image holds which package (re-matching fans verdicts out through this table)."""

    __tablename__ = "image_packages"
    __table_args__ = (Index("ix_image_packages_package", "package_id", "image_id"),)

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)


class Lease(Base):
    """A named lease held by one process until ``expires`` (clock seconds): the scheduler's leadership, a layer
    being analysed. Taken and renewed with conditional updates, the same on SQLite and PostgreSQL."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires: Mapped[float] = mapped_column(Float)


class LayerResultRow(Base):
    """One layer's analysis (compressed serde JSON of a LayerResult), content-addressed by
    :func:`hullscan.cache.layer_key` (blob digest, diff_id, analyzer names, versions and rule digests):
    shared by every worker of a cluster."""

    __tablename__ = "layer_results"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HarborScanRequest(Base):
    """A scan request received through the Harbor pluggable scanner API."""

    __tablename__ = "harbor_scan_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registry_url: Mapped[str] = mapped_column(Text)
    authorization_enc: Mapped[str] = mapped_column(Text, default="")
    repository: Mapped[str] = mapped_column(String(500))
    digest: Mapped[str] = mapped_column(String(100))
    tag: Mapped[str] = mapped_column(String(300), default="")
    mime_type: Mapped[str] = mapped_column(String(200), default="")
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cluster(Base):
    """A Kubernetes cluster: API server, CA, credentials (encrypted, never returned) and its environment label."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    server: Mapped[str] = mapped_column(String(500))
    context: Mapped[str] = mapped_column(String(200), default="")  # the kubeconfig context it came from
    environment: Mapped[str] = mapped_column(String(50), default="")  # e.g. production | staging (for filters)
    auth_type: Mapped[str] = mapped_column(String(30), default="token")  # token | client-certificate
    ca_pem: Mapped[str] = mapped_column(Text, default="")
    insecure_skip_tls_verify: Mapped[bool] = mapped_column(Boolean, default=False)
    #: {"token", "client_cert_pem", "client_key_pem"}: Fernet-encrypted JSON
    credentials_enc: Mapped[str] = mapped_column(Text, default="")
    #: extra CA certificates (PEM) for registries reached with the pods' imagePullSecrets
    registry_ca_pem: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(nullable=True)

    workloads: Mapped[list[ClusterWorkload]] = relationship(back_populates="cluster", cascade="all, delete-orphan")


class ClusterWorkload(Base):
    """An application of a cluster (Deployment, StatefulSet, DaemonSet, Job, CronJob or bare Pod), from the sync."""

    __tablename__ = "cluster_workloads"
    __table_args__ = (UniqueConstraint("cluster_id", "namespace", "kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), index=True)
    namespace: Mapped[str] = mapped_column(String(253))
    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(253))
    containers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"name", "image"}]
    in_scope: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    cluster: Mapped[Cluster] = relationship(back_populates="workloads")


class RunningContainer(Base):
    """A container seen running by the last runtime scan of its cluster, linked to the image digest it runs."""

    __tablename__ = "running_containers"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), index=True)
    namespace: Mapped[str] = mapped_column(String(253))
    workload_kind: Mapped[str] = mapped_column(String(30))
    workload_name: Mapped[str] = mapped_column(String(253))
    pod: Mapped[str] = mapped_column(String(253))
    container: Mapped[str] = mapped_column(String(253))
    image: Mapped[str] = mapped_column(Text)  # the pod spec's image reference
    image_digest: Mapped[str] = mapped_column(String(100), default="", index=True)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"), nullable=True, index=True)
    registry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    access: Mapped[str] = mapped_column(String(30), default="")  # registry | pull-secret | anonymous | none
    drift: Mapped[str] = mapped_column(String(40), default="")  # "" | not-in-registry | tag-moved
    drift_detail: Mapped[str] = mapped_column(Text, default="")
    problem: Mapped[str] = mapped_column(Text, default="")  # why it can't be scanned
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
