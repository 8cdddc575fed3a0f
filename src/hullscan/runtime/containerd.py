"""containerd through its gRPC API: images from the content store, containers of a namespace.

* ``Images.Get`` names the image's target descriptor (an index or a manifest);
* ``Content.Read`` streams a blob by digest (index, manifest, config, layers), verified as it flows;
* ``Containers.List`` and ``Tasks.List`` name the namespace's containers, their images and whether they run.

Every call carries the ``containerd-namespace`` gRPC metadata header. The stubs are generated from containerd's own
.proto files (``hullscan.runtime.containerd_api``, see ``scripts/gen-containerd-api``); nothing parses ``ctr`` output.
The socket is ``$CONTAINERD_ADDRESS``, else ``/run/containerd/containerd.sock``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Self

from hullscan.errors import ContainerRuntimeError, InputError, ManifestError
from hullscan.image.source import ImageSource, ResolvedImage, parse_image, parse_json, select_manifest
from hullscan.model import Artifact, Platform
from hullscan.oci import INDEX_TYPES, Descriptor, VerifyingReader, valid_digest

if TYPE_CHECKING:
    import grpc

DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
NAMESPACE_HEADER = "containerd-namespace"
#: the largest index / manifest / config read into memory
MAX_DOC_BYTES = 16 * 1024 * 1024
#: gRPC messages containerd may send (Content.Read chunks are 1 MiB; container specs can be large)
MAX_MESSAGE = 64 * 1024 * 1024


def default_address() -> str:
    """``$CONTAINERD_ADDRESS``, else containerd's default socket."""
    return os.environ.get("CONTAINERD_ADDRESS") or DEFAULT_ADDRESS


def _api() -> Any:
    """The generated stubs (imported on first use: grpc is an optional dependency, the ``runtime`` extra)."""
    try:
        import grpc  # noqa: F401

        from hullscan.runtime.containerd_api.services.containers.v1 import containers_pb2, containers_pb2_grpc
        from hullscan.runtime.containerd_api.services.content.v1 import content_pb2, content_pb2_grpc
        from hullscan.runtime.containerd_api.services.images.v1 import images_pb2, images_pb2_grpc
        from hullscan.runtime.containerd_api.services.tasks.v1 import tasks_pb2, tasks_pb2_grpc
        from hullscan.runtime.containerd_api.services.version.v1 import version_pb2_grpc
    except ModuleNotFoundError as exc:
        from hullscan.errors import MissingDependencyError

        missing = MissingDependencyError.of(exc) if exc.name and exc.name.startswith("grpc") else None
        raise missing or MissingDependencyError(f"containerd support needs grpcio and protobuf: pip install "
                                                f"'hullscan[runtime]' ({exc})") from None
    from types import SimpleNamespace

    return SimpleNamespace(containers_pb2=containers_pb2, containers_grpc=containers_pb2_grpc, content_pb2=content_pb2,
                           content_grpc=content_pb2_grpc, images_pb2=images_pb2, images_grpc=images_pb2_grpc,
                           tasks_pb2=tasks_pb2, tasks_grpc=tasks_pb2_grpc, version_grpc=version_pb2_grpc)


@dataclass(frozen=True)
class ContainerInfo:
    """One container of a containerd namespace."""

    id: str
    image: str  # the image name the container was created from
    status: str  # running, created, stopped, paused, ... ("" when it has no task)
    labels: tuple[tuple[str, str], ...] = ()


class ContainerdClient:
    """A gRPC connection to one containerd socket, scoped to one namespace."""

    def __init__(self, address: str | None = None, namespace: str = "default", timeout: float = 30.0) -> None:
        import grpc

        self.api = _api()
        self.address = address or default_address()
        self.namespace = namespace
        self.timeout = timeout
        target = self.address if "://" in self.address else f"unix://{self.address}"
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", MAX_MESSAGE)])
        self._metadata = ((NAMESPACE_HEADER, namespace),)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, exc: grpc.RpcError, what: str) -> ContainerRuntimeError:
        import grpc

        code = exc.code() if hasattr(exc, "code") else None
        detail = exc.details() if hasattr(exc, "details") else str(exc)
        if code == grpc.StatusCode.UNAVAILABLE:
            return ContainerRuntimeError(f"cannot reach containerd at {self.address}: {detail}")
        if code == grpc.StatusCode.NOT_FOUND:
            return ContainerRuntimeError(f"{what}: not found in containerd namespace {self.namespace!r} ({detail})")
        if code == grpc.StatusCode.PERMISSION_DENIED:
            return ContainerRuntimeError(f"containerd at {self.address} refused {what}: {detail}")
        name = code.name if code is not None else type(exc).__name__
        return ContainerRuntimeError(f"containerd at {self.address}: {what}: {name}: {detail}")

    def version(self) -> str:
        """containerd's version (a cheap call to check the socket)."""
        import grpc
        from google.protobuf import empty_pb2

        try:
            resp = self.api.version_grpc.VersionStub(self._channel).Version(empty_pb2.Empty(), timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._error(exc, "version") from None
        return str(resp.version)

    def image_target(self, name: str) -> tuple[str, Descriptor]:
        """The stored name and target descriptor of image ``name`` (tried as given, then normalised the way
        containerd's CRI and nerdctl store it: ``alpine`` -> ``docker.io/library/alpine:latest``)."""
        import grpc

        stub = self.api.images_grpc.ImagesStub(self._channel)
        for candidate in _name_candidates(name):
            try:
                resp = stub.Get(self.api.images_pb2.GetImageRequest(name=candidate), metadata=self._metadata,
                                timeout=self.timeout)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    continue
                raise self._error(exc, f"image {candidate}") from None
            return candidate, _descriptor(resp.image.target, f"image {candidate}")
        if valid_digest(name):
            for image_name, desc in self.images():
                if desc.digest == name:
                    return image_name, desc
        raise ContainerRuntimeError(f"image {name!r}: not found in containerd namespace {self.namespace!r} at {self.address}")

    def images(self) -> list[tuple[str, Descriptor]]:
        """Every image of the namespace: (name, target descriptor)."""
        import grpc

        stub = self.api.images_grpc.ImagesStub(self._channel)
        try:
            resp = stub.List(self.api.images_pb2.ListImagesRequest(), metadata=self._metadata, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._error(exc, "list images") from None
        return [(img.name, _descriptor(img.target, f"image {img.name}")) for img in resp.images]

    def containers(self) -> list[ContainerInfo]:
        """The namespace's containers, with each one's task status."""
        import grpc

        try:
            resp = self.api.containers_grpc.ContainersStub(self._channel).List(
                self.api.containers_pb2.ListContainersRequest(), metadata=self._metadata, timeout=self.timeout)
            tasks = self.api.tasks_grpc.TasksStub(self._channel).List(
                self.api.tasks_pb2.ListTasksRequest(), metadata=self._metadata, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._error(exc, "list containers") from None
        from hullscan.runtime.containerd_api.types.task import task_pb2

        status = {t.id: task_pb2.Status.Name(t.status).lower() for t in tasks.tasks}
        return sorted((ContainerInfo(c.id, c.image, status.get(c.id, ""), tuple(sorted(c.labels.items())))
                       for c in resp.containers), key=lambda c: c.id)

    def read_stream(self, digest: str) -> Iterator[bytes]:
        """The bytes of blob ``digest`` from the content store, chunk by chunk."""
        import grpc

        stub = self.api.content_grpc.ContentStub(self._channel)
        call = stub.Read(self.api.content_pb2.ReadContentRequest(digest=digest), metadata=self._metadata)
        try:
            for chunk in call:
                yield chunk.data
        except grpc.RpcError as exc:
            raise self._error(exc, f"blob {digest}") from None
        finally:
            call.cancel()  # a reader closed early: end the stream on the server too

    def read(self, digest: str, what: str, limit: int = MAX_DOC_BYTES) -> bytes:
        """A small blob in full, verified against its digest."""
        fh = VerifyingReader(_ChunkReader(self.read_stream(digest)), digest, None, what)  # type: ignore[arg-type]
        try:
            data = fh.read(limit + 1)
            if len(data) > limit:
                raise ManifestError(f"{what}: larger than {limit} bytes")
            fh.read()
        finally:
            fh.close()
        return data


def _descriptor(raw: Any, what: str) -> Descriptor:
    if not valid_digest(raw.digest):
        raise ManifestError(f"{what}: invalid target digest {raw.digest!r}")
    return Descriptor(raw.media_type, raw.digest, int(raw.size))


def _name_candidates(name: str) -> list[str]:
    out = [name]
    if valid_digest(name):
        return out
    try:
        from hullscan.registry.reference import parse_reference

        ref = parse_reference(name)
    except InputError:
        return out
    full = ref.name + (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")
    if full != name:
        out.append(full)
    return out


class _ChunkReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while not self._buf and not self._done:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                self._done = True
        n = min(len(buf), len(self._buf))
        buf[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


def parse_target(target: str) -> tuple[str, str]:
    """``containerd://NAMESPACE/REF`` (the scheme already removed or not) -> (namespace, image name)."""
    rest = target.removeprefix("containerd://")
    namespace, sep, name = rest.partition("/")
    if not sep or not namespace or not name:
        raise InputError(f"{target!r}: expected containerd://NAMESPACE/IMAGE, e.g. containerd://k8s.io/docker.io/library/nginx:1.27")
    return namespace, name


class ContainerdSource(ImageSource):
    """An image in containerd's content store."""

    kind = "containerd"

    def __init__(self, name: str, namespace: str = "default", address: str | None = None,
                 client: ContainerdClient | None = None) -> None:
        self.name = name
        self._own = client is None
        self.client = client or ContainerdClient(address, namespace)
        self.namespace = self.client.namespace
        #: the digest of the index the image's name points at ("" when it names a manifest)
        self.index_digest = ""

    def resolve(self, platform: Platform | None = None) -> ResolvedImage:
        """The image's target, narrowed to one platform through an index, and its verified manifest and config."""
        stored, target = self.client.image_target(self.name)
        what = f"containerd://{self.namespace}/{stored}"
        desc = target
        if desc.media_type in INDEX_TYPES:
            self.index_digest = desc.digest
            index = parse_json(self.client.read(desc.digest, f"{what} index"), f"{what} index")
            desc = select_manifest(index, platform, f"{what} index {desc.digest}")
        manifest = self.client.read(desc.digest, f"{what} manifest")
        doc = parse_json(manifest, f"{what} manifest")
        if "manifests" in doc:
            raise ManifestError(f"{what}: nested image index {desc.digest} is not supported")
        config_desc = Descriptor.parse(doc.get("config"), f"{what} manifest config")
        config = self.client.read(config_desc.digest, f"{what} config")
        repository, tag = _split_name(stored)
        artifact = Artifact(name=what, kind=self.kind, digest=desc.digest, config_digest=config_desc.digest,
                            repository=repository, tag=tag)
        return parse_image(artifact, manifest, config, what)

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        """A layer streamed by ``Content.Read``, verified against its digest and size."""
        raw = io.BufferedReader(_ChunkReader(self.client.read_stream(desc.digest)), 1 << 20)
        return VerifyingReader(raw, desc.digest, desc.size, f"layer {desc.digest}")  # type: ignore[arg-type, return-value]

    def close(self) -> None:
        """Close the channel (when this source opened it)."""
        if self._own:
            self.client.close()


def _split_name(stored: str) -> tuple[str, str]:
    """``docker.io/library/nginx:1.27`` -> (``docker.io/library/nginx``, ``1.27``); a name that is no reference
    stays whole."""
    try:
        from hullscan.registry.reference import parse_reference

        ref = parse_reference(stored)
    except InputError:
        return stored, ""
    return ref.name, ref.tag


class ContainerdRuntime:
    """A containerd namespace as a :class:`~hullscan.runtime.node.NodeRuntime`: its containers, their images."""

    kind = "containerd"

    def __init__(self, address: str | None = None, namespace: str = "k8s.io") -> None:
        self.client = ContainerdClient(address, namespace)
        self.address = self.client.address
        self.namespace = namespace

    def containers(self) -> list[ContainerInfo]:
        """The namespace's containers."""
        return self.client.containers()

    def image_digest(self, image: str) -> str:
        """The digest of the image's target (index or manifest)."""
        return self.client.image_target(image)[1].digest

    def source(self, image: str) -> ImageSource:
        """The image read from the content store (sharing this runtime's channel)."""
        return ContainerdSource(image, client=self.client)

    def close(self) -> None:
        """Close the channel."""
        self.client.close()
