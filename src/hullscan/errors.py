"""The exception hierarchy. Every error the CLI can meet derives from :class:`HullscanError`,
so the CLI prints one clear line (what went wrong, naming the input) and exits non-zero,
never a traceback.

    HullscanError
    ├── InputError            bad user input: reference, flag, file that does not exist
    ├── ImageError            the image itself is broken
    │   ├── ManifestError     malformed or unsupported manifest / index / config
    │   ├── DigestMismatchError  a blob's bytes do not match its digest
    │   ├── BlobError         truncated or undecodable blob / layer
    │   └── LimitExceededError   a configured limit (bytes read, file size, entries) was hit
    ├── RegistryError         talking to a registry failed
    │   ├── AuthError         401/403 after the auth flow
    │   ├── NotFoundError     404 for a manifest or blob
    │   └── RegistryUnavailableError  5xx/429/timeouts/connection errors that outlasted the retries
    ├── DatabaseError         vulnerability database missing, corrupt or wrong schema
    ├── FeedError             a feed could not be fetched or parsed
    ├── MissingDependencyError  an optional dependency (an extra of the package) is not installed
    └── ContainerRuntimeError talking to containerd, a Docker-API socket or a cluster failed
"""

from __future__ import annotations


class HullscanError(Exception):
    """Base of all hullscan errors; ``str(e)`` is the one-line message for the user."""

    exit_code = 2


class InputError(HullscanError):
    """Bad user input."""


class ImageError(HullscanError):
    """The image is broken."""


class ManifestError(ImageError):
    """Malformed or unsupported manifest, index or config."""


class DigestMismatchError(ImageError):
    """A blob's content does not match its digest."""


class BlobError(ImageError):
    """Truncated or undecodable blob or layer."""


class LimitExceededError(ImageError):
    """A configured safety limit was exceeded."""


class TimeLimitError(LimitExceededError):
    """The scan ran past its deadline (``ScanOptions.deadline``): it stops between entries, layers or stages."""


class RegistryError(HullscanError):
    """Talking to a registry failed."""


class AuthError(RegistryError):
    """Authentication or authorisation failed."""


class NotFoundError(RegistryError):
    """The manifest or blob does not exist."""


class RegistryUnavailableError(RegistryError):
    """The registry kept failing (5xx, 429, timeouts, connection errors) past the retries."""


class DatabaseError(HullscanError):
    """The vulnerability database is missing, corrupt or of another schema."""


class FeedError(HullscanError):
    """A vulnerability feed could not be fetched or parsed."""


#: top-level modules of the optional dependencies -> the extra of ``hullscan`` that installs them
EXTRAS = {
    "yara_x": "checks",
    "passlib": "checks",
    "cyclonedx": "sbom",
    "spdx_tools": "sbom",
    "isal": "fast",
    "sqlalchemy": "server",
    "alembic": "server",
    "fastapi": "server",
    "uvicorn": "server",
    "bcrypt": "server",
    "cryptography": "server",
    "prometheus_client": "server",
    "celery": "distributed",
    "redis": "distributed",
    "psycopg": "distributed",
    "grpc": "runtime",
}


class MissingDependencyError(HullscanError):
    """An optional dependency is not installed; the message names the extra that installs it."""

    @classmethod
    def of(cls, exc: ModuleNotFoundError) -> MissingDependencyError | None:
        """The error for ``exc`` when it is about an optional dependency (else None: a real bug)."""
        module = (exc.name or "").partition(".")[0]
        extra = EXTRAS.get(module)
        if extra is None:
            return None
        return cls(f"{module} is not installed: it comes with the {extra!r} extra (pip install 'hullscan[{extra}]')")


class ContainerRuntimeError(HullscanError):
    """Talking to a container runtime (containerd, a Docker-API socket) or a cluster API failed."""
