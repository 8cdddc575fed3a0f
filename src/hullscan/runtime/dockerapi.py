"""Images and containers behind a Docker-Engine-API socket: Docker Engine, and Podman's compatible service
(``podman system service``).

``GET /images/{name}/json`` names the image (its ID, the registry digests it was pulled by); ``GET
/images/{name}/get`` streams a ``docker save`` tar, spooled to a temporary file and read by the docker-archive
reader (:class:`~hullscan.image.local.DockerArchiveSource`, which checks every layer against the config's
diff_ids); ``GET /containers/json?all=1`` lists the containers. httpx talks HTTP over the unix socket
(``HTTPTransport(uds=...)``); ``tcp://host:port`` addresses are plain HTTP (no TLS client certificates).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, Self
from urllib.parse import quote

import httpx

from hullscan.errors import ContainerRuntimeError
from hullscan.image.source import ImageSource, ResolvedImage
from hullscan.model import Platform
from hullscan.oci import Descriptor
from hullscan.runtime.containerd import ContainerInfo

API_VERSION = "v1.41"  # Docker 20.10; Podman 4 answers it too
DOCKER_SOCKET = "/var/run/docker.sock"
PODMAN_ROOT_SOCKET = "/run/podman/podman.sock"


def default_socket(engine: str = "docker") -> str:
    """``docker``: ``$DOCKER_HOST``, else ``/var/run/docker.sock``. ``podman``: ``$CONTAINER_HOST``, else podman's
    rootful socket (as root) or ``$XDG_RUNTIME_DIR/podman/podman.sock``."""
    if engine == "podman":
        env = os.environ.get("CONTAINER_HOST")
        if env:
            return env
        if os.geteuid() == 0:
            return PODMAN_ROOT_SOCKET
        return str(Path(os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}") / "podman" / "podman.sock")
    return os.environ.get("DOCKER_HOST") or DOCKER_SOCKET


class DockerAPIClient:
    """HTTP over one Docker-API socket (``unix:///path``, a bare path, or ``tcp://host:port``)."""

    def __init__(self, address: str, engine: str = "docker", timeout: float = 60.0) -> None:
        self.address = address
        self.engine = engine
        if address.startswith(("tcp://", "http://")):
            base = "http://" + address.split("://", 1)[1]
            transport = httpx.HTTPTransport(retries=1)
        elif address.startswith(("unix://", "/")):
            path = address.removeprefix("unix://")
            base = "http://localhost"
            transport = httpx.HTTPTransport(uds=path, retries=1)
        else:
            raise ContainerRuntimeError(f"{engine} socket {address!r}: expected unix:///PATH, /PATH or tcp://HOST:PORT")
        self._http = httpx.Client(base_url=f"{base}/{API_VERSION}", transport=transport, timeout=timeout)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.get(path, **kwargs)
        except httpx.TransportError as exc:
            raise ContainerRuntimeError(f"cannot reach the {self.engine} API at {self.address}: {exc}") from None
        self._check(resp, what)
        return resp

    def _check(self, resp: httpx.Response, what: str) -> None:
        if resp.status_code < 400:
            return
        try:
            message = str(resp.json().get("message") or "")
        except ValueError:
            message = resp.text[:200]
        if resp.status_code == 404:
            raise ContainerRuntimeError(f"{what}: not found in {self.engine} at {self.address} ({message})")
        raise ContainerRuntimeError(f"{self.engine} at {self.address}: {what}: HTTP {resp.status_code}: {message}")

    def version(self) -> dict[str, Any]:
        """``GET /version``."""
        data: dict[str, Any] = self._get("/version", "version").json()
        return data

    def inspect_image(self, name: str) -> dict[str, Any]:
        """``GET /images/{name}/json``: Id, RepoTags, RepoDigests..."""
        data: dict[str, Any] = self._get(f"/images/{quote(name, safe='/:@')}/json", f"image {name}").json()
        if not isinstance(data, dict) or not isinstance(data.get("Id"), str):
            raise ContainerRuntimeError(f"{self.engine} at {self.address}: image {name}: the answer has no image Id")
        return data

    def save_image(self, name: str, dest: Path) -> None:
        """Stream ``GET /images/{name}/get`` (a ``docker save`` tar) into ``dest``."""
        what = f"image {name}"
        try:
            with self._http.stream("GET", f"/images/{quote(name, safe='/:@')}/get", timeout=None) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._check(resp, what)
                with open(dest, "wb") as out:
                    out.writelines(resp.iter_bytes(1 << 20))
        except httpx.TransportError as exc:
            raise ContainerRuntimeError(f"{self.engine} at {self.address}: exporting {what} failed: {exc}") from None

    def containers(self) -> list[ContainerInfo]:
        """``GET /containers/json?all=1``: every container, running or not, with the image it was created from."""
        rows = self._get("/containers/json", "list containers", params={"all": "1"}).json()
        out = []
        for row in rows if isinstance(rows, list) else []:
            names = row.get("Names") or []
            name = str(names[0]).lstrip("/") if names else str(row.get("Id", ""))[:12]
            labels = row.get("Labels") or {}
            out.append(ContainerInfo(name, str(row.get("Image", "")), str(row.get("State", "")).lower(),
                                     tuple(sorted((str(k), str(v)) for k, v in labels.items()))))
        return sorted(out, key=lambda c: c.id)


class DockerAPISource(ImageSource):
    """An image of a Docker-API engine, exported with ``GET /images/{name}/get`` and read as a docker-save archive."""

    def __init__(self, name: str, address: str | None = None, engine: str = "docker",
                 client: DockerAPIClient | None = None) -> None:
        from hullscan.errors import InputError

        if not name:
            raise InputError(f"{engine}://: name an image, e.g. {engine}://docker.io/library/nginx:1.27")
        self.name = name
        self.kind = engine
        self._own = client is None
        self.client = client or DockerAPIClient(address or default_socket(engine), engine)
        self._tmp: str | None = None
        self._inner: ImageSource | None = None

    def resolve(self, platform: Platform | None = None) -> ResolvedImage:
        """Export the image and resolve the archive; the artifact names the engine, the image ID (config digest) and
        the registry digest it was pulled by (when the engine knows one)."""
        from hullscan.image.local import DockerArchiveSource
        from hullscan.model import Artifact

        info = self.client.inspect_image(self.name)
        if self._inner is None:
            self._tmp = tempfile.mkdtemp(prefix="hullscan-export-")
            path = Path(self._tmp) / "image.tar"
            self.client.save_image(self.name, path)
            self._inner = DockerArchiveSource(path)
            self.parallel = self._inner.parallel
        resolved = self._inner.resolve(platform)
        repository, tag = _split(self.name)
        digests = [str(d) for d in info.get("RepoDigests") or []]
        digest = next((d.partition("@")[2] for d in digests if d.partition("@")[0] == repository), "")
        if not digest and digests:
            digest = digests[0].partition("@")[2]
        got = resolved.artifact
        resolved.artifact = Artifact(name=f"{self.kind}://{self.name}", kind=self.kind, digest=digest,
                                     config_digest=got.config_digest, repository=repository, tag=tag,
                                     platform=got.platform)
        if resolved.artifact.config_digest != info["Id"]:
            from hullscan.errors import ManifestError

            raise ManifestError(f"{self.kind}://{self.name}: the exported image's config is "
                                f"{resolved.artifact.config_digest}, not the image ID {info['Id']}")
        return resolved

    def _source(self) -> ImageSource:
        if self._inner is None:
            raise ContainerRuntimeError(f"{self.kind}://{self.name}: resolve() first")
        return self._inner

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        """A layer of the exported archive, verified against its diff_id."""
        return self._source().open_blob(desc)

    def prefetch(self, layers: Sequence[Descriptor]) -> None:
        """Start the archive's digest checks."""
        self._source().prefetch(layers)

    def in_memory(self, layers: Sequence[Descriptor]) -> bool:
        """As the archive reader says."""
        return self._source().in_memory(layers)

    def close(self) -> None:
        """Close the archive, delete the export, close the connection (when this source opened it)."""
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._own:
            self.client.close()


def _split(name: str) -> tuple[str, str]:
    from hullscan.errors import InputError
    from hullscan.registry.reference import parse_reference

    try:
        ref = parse_reference(name)
    except InputError:
        return name, ""
    return ref.name, ref.tag


class DockerRuntime:
    """A Docker-API engine as a :class:`~hullscan.runtime.node.NodeRuntime`."""

    def __init__(self, address: str | None = None, engine: str = "docker") -> None:
        self.kind = engine
        self.client = DockerAPIClient(address or default_socket(engine), engine)
        self.address = self.client.address
        self.namespace = ""

    def containers(self) -> list[ContainerInfo]:
        """Every container of the engine."""
        return self.client.containers()

    def image_digest(self, image: str) -> str:
        """The image ID (the config digest: what the engine runs)."""
        return str(self.client.inspect_image(image)["Id"])

    def source(self, image: str) -> ImageSource:
        """The image exported from the engine (sharing this runtime's connection)."""
        return DockerAPISource(image, engine=self.kind, client=self.client)

    def close(self) -> None:
        """Close the connection."""
        self.client.close()
