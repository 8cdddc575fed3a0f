"""An image pulled from a registry (OCI Distribution API v2).

``resolve()`` fetches the manifest for the reference's tag or digest. An image index / Docker manifest
list is narrowed to one platform with :func:`~hullscan.image.source.select_manifest` (default: this
machine's), and that platform manifest is fetched by digest and verified. Docker schema 2 and OCI
manifests are supported; schema 1 ends with a clear :class:`~hullscan.errors.ManifestError`. The config
blob is fetched and verified, then :func:`~hullscan.image.source.parse_image` builds the result.

``Artifact.digest`` is the digest of the **platform manifest** that was scanned (what
``docker inspect`` calls the image's repo digest for that platform); when the reference named an index,
its digest is kept in :attr:`RegistrySource.index_digest`. ``Artifact.repository`` is ``domain/repository``
(``docker.io/library/nginx``) and ``Artifact.tag`` the tag given (empty for a digest-only reference).
"""

from __future__ import annotations

from typing import BinaryIO

from hullscan.errors import ManifestError
from hullscan.image.source import (
    ImageSource,
    ResolvedImage,
    parse_image,
    parse_json,
    select_manifest,
)
from hullscan.model import Artifact, Platform
from hullscan.oci import INDEX_TYPES, Descriptor
from hullscan.options import RegistryOptions
from hullscan.registry.client import MAX_CONFIG_BYTES, SCHEMA1_TYPES, RegistryClient
from hullscan.registry.reference import Reference, parse_reference


class RegistrySource(ImageSource):
    """An image in a registry, named by a Docker-style reference."""

    kind = "registry"

    def __init__(self, reference: str | Reference, options: RegistryOptions | None = None) -> None:
        self.name = str(reference)
        self.reference = reference if isinstance(reference, Reference) else parse_reference(reference)
        self.options = options or RegistryOptions()
        self._client: RegistryClient | None = None
        #: the digest of the index / manifest list the reference pointed at ("" for a single manifest)
        self.index_digest = ""

    @property
    def client(self) -> RegistryClient:
        """The registry client, created on first use."""
        if self._client is None:
            self._client = RegistryClient(self.reference, self.options)
        return self._client

    def resolve(self, platform: Platform | None = None) -> ResolvedImage:
        """Fetch and verify manifest (through an index when needed) and config."""
        ref = self.reference
        repo = ref.repository
        what = str(ref)
        data, media_type, digest = self.client.get_manifest(repo, ref.ref)
        _refuse_schema1(data, media_type, what)
        doc = parse_json(data, f"{what} manifest")
        if media_type in INDEX_TYPES or ("manifests" in doc and "layers" not in doc):
            self.index_digest = digest
            chosen = select_manifest(doc, platform, f"{what} index {digest}")
            if chosen.media_type in INDEX_TYPES:
                raise ManifestError(f"{what}: nested image index {chosen.digest} is not supported")
            data, media_type, digest = self.client.get_manifest(repo, chosen.digest)
            _refuse_schema1(data, media_type, what)
            doc = parse_json(data, f"{what} manifest {digest}")
            if media_type in INDEX_TYPES or "manifests" in doc:
                raise ManifestError(f"{what}: platform entry {digest} is an index, not an image manifest")
        config_desc = Descriptor.parse(doc.get("config"), f"{what} manifest {digest} config")
        if config_desc.size > MAX_CONFIG_BYTES:
            raise ManifestError(
                f"{what}: config {config_desc.digest} is {config_desc.size} bytes (limit {MAX_CONFIG_BYTES})"
            )
        config = self.client.get_blob(repo, config_desc, MAX_CONFIG_BYTES)
        artifact = Artifact(
            name=self.name,
            kind=self.kind,
            digest=digest,
            config_digest=config_desc.digest,
            repository=ref.name,
            tag=ref.tag,
        )
        image = parse_image(artifact, data, config, f"{what} ({digest})")
        if platform is not None and not self.index_digest:
            got = image.artifact.platform
            if (got.os, got.architecture) != (platform.os, platform.architecture) or (
                platform.variant and got.variant and platform.variant != got.variant
            ):
                raise ManifestError(f"{what}: the image is for {got}, not the requested platform {platform}")
        return image

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        """Stream a layer blob, verified against its digest and size as it is read."""
        return self.client.open_blob(self.reference.repository, desc)  # type: ignore[return-value]

    def close(self) -> None:
        """Close the registry connections."""
        if self._client is not None:
            self._client.close()
            self._client = None


def _refuse_schema1(data: bytes, media_type: str, what: str) -> None:
    """Docker schema 1 manifests are deprecated and carry no content-addressed config: refuse them clearly."""
    if media_type in SCHEMA1_TYPES:
        raise ManifestError(f"{what}: Docker schema 1 manifests ({media_type}) are unsupported; re-push the image")
    if b'"schemaVersion"' in data[:4096]:
        try:
            import json

            doc = json.loads(data)
        except ValueError:
            return
        if isinstance(doc, dict) and doc.get("schemaVersion") == 1:
            raise ManifestError(f"{what}: Docker schema 1 manifests are unsupported; re-push the image")
