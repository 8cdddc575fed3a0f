"""A misbehaving registry: 5xx, 429, hangs, dropped connections, truncated/corrupt blobs, bad manifests.

Faults are injected by a real HTTP proxy in front of a real registry (``faulty_registry``). Retry settings
are small (``retries=3``, ``max_retry_seconds=1``) so these tests stay fast.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from hullscan.errors import BlobError, DigestMismatchError, ManifestError, NotFoundError, RegistryUnavailableError
from hullscan.image.registry_source import RegistrySource
from hullscan.options import RegistryOptions
from tests.helpers.imagebuild import ImageBuilder
from tests.helpers.registry_server import (
    MALFORMED_MANIFEST,
    FaultProxy,
    RegistryServer,
    free_port,
    pull_image,
    push_image,
)


def pushed(proxy: FaultProxy, size: int = 200_000) -> tuple[str, ImageBuilder]:
    """Push a two-layer image to the upstream registry; returns (reference through the proxy, builder)."""
    import os

    builder = ImageBuilder()
    builder.add_layer({"etc/os-release": "ID=alpine\n"})
    builder.add_layer({"data.bin": os.urandom(size)}, compression="none")
    name = f"faults/{uuid.uuid4().hex[:10]}"
    push_image(proxy.upstream, builder, name)
    return proxy.ref(name), builder


# ----------------------------------------------------------------------------- outlasting the retries


def test_500_outlasting_retries(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("status", times=100, match="/manifests/", status=500)
    with pytest.raises(RegistryUnavailableError) as err:
        pull_image(ref, faulty_registry.options())
    repo = ref.split("/", 1)[1].split(":")[0]
    assert str(err.value) == (f"registry {faulty_registry.host} answered 500 Internal Server Error 4 times "
                              f"for GET /v2/{repo}/manifests/latest")
    assert faulty_registry.count("/manifests/", "500") == 4  # 1 try + retries=3


def test_429_outlasting_retries(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("status", times=100, match="/blobs/", status=429, retry_after="0")
    with pytest.raises(RegistryUnavailableError,
                       match="answered 429 Too Many Requests 4 times for GET /v2/.*/blobs/sha256:"):
        pull_image(ref, faulty_registry.options())


def test_retry_after_beyond_the_budget_gives_up_at_once(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("status", times=100, match="/manifests/", status=429, retry_after="120")
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError) as err:
        pull_image(ref, faulty_registry.options())
    assert time.monotonic() - started < 10  # did not wait the 120 s
    assert "answered 429 Too Many Requests once" in str(err.value)
    assert "the next wait (120s) would pass the 1s retry budget" in str(err.value)


def test_timeouts_outlasting_retries(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("hang", times=100, match="/manifests/", seconds=3)
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError) as err:
        pull_image(ref, faulty_registry.options(timeout=0.3))
    assert "timed out (read timeout 0.3s) 4 times for GET /v2/" in str(err.value)
    # 4 x 0.3 s timeouts + at most the 1 s back-off budget, far below the 4 x 3 s the hangs would take
    assert time.monotonic() - started < 7


def test_dropped_connections_outlasting_retries(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("drop", times=100, match="/manifests/")
    with pytest.raises(RegistryUnavailableError, match="broke the connection .* 4 times for GET"):
        pull_image(ref, faulty_registry.options())


def test_connection_refused() -> None:
    port = free_port()
    with pytest.raises(RegistryUnavailableError) as err:
        pull_image(f"127.0.0.1:{port}/x:y", RegistryOptions(insecure=True, retries=2, max_retry_seconds=0.2))
    assert str(err.value) == f"registry 127.0.0.1:{port} refused the connection 3 times for GET /v2/x/manifests/y"


def test_not_found_is_not_retried(faulty_registry: FaultProxy) -> None:
    with pytest.raises(NotFoundError):
        pull_image(faulty_registry.ref("missing/repo"), faulty_registry.options())
    assert faulty_registry.count("/manifests/") == 1


# ----------------------------------------------------------------------------- transient faults recover


@pytest.mark.parametrize("kind,kw", [
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("status", {"status": 503}),
    ("status", {"status": 429}),
    ("drop", {}),
])
def test_transient_faults_recover(faulty_registry: FaultProxy, kind: str, kw: dict) -> None:
    ref, builder = pushed(faulty_registry)
    faulty_registry.inject(kind, times=2, match="/manifests/", **kw)
    faulty_registry.inject(kind, times=1, match="/blobs/", **kw)
    with RegistrySource(ref, faulty_registry.options()) as src:
        image = src.resolve()
        blobs = {d.digest: src.open_blob(d).read() for d in image.layers}
        assert len(src.client.retry_log) == 3
    assert blobs == {layer.digest: layer.blob for layer in builder.layers}
    assert faulty_registry.count("/manifests/") == 3


def test_retry_after_is_honoured(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("status", times=1, match="/manifests/", status=429, retry_after="1")
    started = time.monotonic()
    with RegistrySource(ref, faulty_registry.options(max_retry_seconds=5)) as src:
        src.resolve()
        assert [(cause, delay) for _, _, cause, delay in src.client.retry_log] == [
            ("answered 429 Too Many Requests", 1.0)]
    assert time.monotonic() - started >= 1.0


def test_a_hang_recovers(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    faulty_registry.inject("hang", times=1, match="/manifests/", seconds=2)
    image, _ = pull_image(ref, faulty_registry.options(timeout=0.3))
    assert image.artifact.digest == builder.digest


def test_backoff_stays_within_the_budget(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("status", times=100, match="/manifests/", status=503)
    opts = faulty_registry.options(retries=6, max_retry_seconds=0.5)
    with RegistrySource(ref, opts) as src:
        with pytest.raises(RegistryUnavailableError, match="answered 503 Service Unavailable 7 times"):
            src.resolve()
        delays = [delay for _, _, _, delay in src.client.retry_log]
    assert len(delays) == 6
    assert sum(delays) <= 0.5
    base = 0.5 / 2**6
    for n, delay in enumerate(delays):  # exponential with jitter in [0.5, 1]
        assert base * 2**n * 0.5 <= delay <= base * 2**n


def test_token_service_outage_is_retried(token_registry: RegistryServer) -> None:
    assert token_registry.token_server is not None
    builder = ImageBuilder().add_layer({"a": "b"})
    ref = push_image(token_registry, builder, f"tok/{uuid.uuid4().hex[:8]}")
    token_registry.token_server.reset()
    token_registry.token_server.fail_next = 2
    opts = token_registry.options(max_retry_seconds=0.3)
    image, _ = pull_image(ref, opts)
    assert image.artifact.digest == builder.digest
    assert len(token_registry.token_server.requests) == 3
    token_registry.token_server.fail_next = 100
    try:
        with pytest.raises(RegistryUnavailableError, match="token service 127.0.0.1:.* answered 503"):
            pull_image(ref.replace(":latest", f"@{builder.digest}"), opts)
    finally:
        token_registry.token_server.reset()


# ----------------------------------------------------------------------------- broken content


def test_truncated_blob_resumes_with_range(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    layer = builder.layers[1]
    faulty_registry.inject("truncate", times=1, match=f"/blobs/{layer.digest}")
    with RegistrySource(ref, faulty_registry.options()) as src:
        image = src.resolve()
        assert src.open_blob(image.layers[1]).read() == layer.blob
        assert len(src.client.retry_log) == 1
    assert faulty_registry.count(f"/blobs/{layer.digest}") == 2


def test_truncated_blob_outlasting_retries(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    layer = builder.layers[1]
    faulty_registry.inject("truncate", times=100, match=f"/blobs/{layer.digest}")
    with pytest.raises(BlobError) as err:
        pull_image(ref, faulty_registry.options())
    message = str(err.value)
    assert f"blob {layer.digest}" in message and "truncated" in message and f"of {len(layer.blob)} bytes" in message


def test_corrupt_layer_blob(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    layer = builder.layers[1]
    faulty_registry.inject("corrupt", times=1, match=f"/blobs/{layer.digest}")
    with pytest.raises(DigestMismatchError) as err:
        pull_image(ref, faulty_registry.options())
    assert f"blob {layer.digest}: digest mismatch: expected {layer.digest}, got sha256:" in str(err.value)


def test_corrupt_config_blob(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    config_digest = json.loads(builder.manifest_bytes())["config"]["digest"]
    faulty_registry.inject("corrupt", times=1, match=f"/blobs/{config_digest}")
    with pytest.raises(DigestMismatchError, match=f"blob {config_digest}: digest mismatch"):
        pull_image(ref, faulty_registry.options())


def test_malformed_manifest(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("replace", match="/manifests/", body=MALFORMED_MANIFEST,
                           content_type="application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(ManifestError) as err:
        pull_image(ref, faulty_registry.options())
    assert str(err.value).startswith(f"{faulty_registry.host}/faults/") and "manifest: not valid JSON" in str(err.value)


@pytest.mark.parametrize("body,why", [
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}',
     "descriptor is not an object"),
    (b'{"schemaVersion": 2, "config": {"digest": "sha256:zz", "size": 1}, "layers": []}', "invalid digest"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}',
     "image index has no manifests"),
    (b'[1, 2, 3]', "expected a JSON object"),
])
def test_structurally_wrong_manifests(faulty_registry: FaultProxy, body: bytes, why: str) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("replace", match="/manifests/", body=body, content_type="application/json")
    with pytest.raises(ManifestError, match=why):
        pull_image(ref, faulty_registry.options())


def test_manifest_not_matching_the_registry_digest(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    altered = builder.manifest_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":2')
    faulty_registry.inject("replace", match="/manifests/", body=altered, keep_digest=True,
                           content_type="application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(DigestMismatchError) as err:
        pull_image(ref, faulty_registry.options())
    assert f"says {builder.digest}, the content hashes to sha256:" in str(err.value)


def test_pinned_manifest_digest_is_verified(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    pinned = ref.replace(":latest", f"@{builder.digest}")
    other = ImageBuilder().add_layer({"evil": "x"}).manifest_bytes()
    faulty_registry.inject("replace", match="/manifests/", body=other,
                           content_type="application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(DigestMismatchError) as err:
        pull_image(pinned, faulty_registry.options())
    assert f"expected {builder.digest}" in str(err.value)


def test_oversized_manifest_is_refused(faulty_registry: FaultProxy) -> None:
    ref, _ = pushed(faulty_registry)
    faulty_registry.inject("replace", match="/manifests/", body=b" " * (4 * 1024 * 1024 + 1),
                           content_type="application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(ManifestError, match="over the 4194304-byte limit"):
        pull_image(ref, faulty_registry.options())


def test_resume_when_the_registry_ignores_range(faulty_registry: FaultProxy) -> None:
    """The second request gets the whole blob (200, no Range): the bytes already read are skipped."""
    ref, builder = pushed(faulty_registry)
    layer = builder.layers[1]
    faulty_registry.inject("truncate", times=1, match=f"/blobs/{layer.digest}")
    faulty_registry.inject("ignore-range", times=1, match=f"/blobs/{layer.digest}")
    with RegistrySource(ref, faulty_registry.options()) as src:
        image = src.resolve()
        assert src.open_blob(image.layers[1]).read() == layer.blob
    sent = [hdrs for path, hdrs in faulty_registry.request_headers if layer.digest in path]
    assert "range" not in sent[0] and sent[1]["range"].startswith("bytes=")


def test_resume_fails_again_while_skipping(faulty_registry: FaultProxy) -> None:
    ref, builder = pushed(faulty_registry)
    layer = builder.layers[1]
    faulty_registry.inject("truncate", times=1, match=f"/blobs/{layer.digest}", keep=0.5)
    # every resume gets the whole blob again and breaks before reaching the bytes already read
    faulty_registry.inject("truncate", times=3, match=f"/blobs/{layer.digest}", keep=0.25, strip_range=True)
    with pytest.raises(BlobError) as err:
        pull_image(ref, faulty_registry.options())
    assert f"blob {layer.digest} of faults/" in str(err.value)
    assert f"truncated: the connection broke after {len(layer.blob) // 2} of {len(layer.blob)} bytes" in str(err.value)
    assert "(4 attempts" in str(err.value)
    assert faulty_registry.count(layer.digest, "truncate") == 4


def test_blob_redirect_to_another_host_drops_credentials(token_registry: RegistryServer,
                                                         registry: RegistryServer) -> None:
    """Registries redirect blob downloads to a CDN: follow it, but never send the registry's token there."""
    builder = ImageBuilder().add_layer({"etc/x": "y"})
    name = f"redir/{uuid.uuid4().hex[:8]}"
    push_image(token_registry, builder, name)
    push_image(registry, builder, name)  # the "CDN" holds the same blobs
    front, cdn = FaultProxy(token_registry), FaultProxy(registry)
    try:
        front.inject("redirect", times=10, match="/blobs/", location=cdn.url)
        image, blobs = pull_image(front.ref(name), token_registry.options())
        assert blobs == {builder.layers[0].digest: builder.layers[0].blob}
        assert front.count("/blobs/", "redirect") == 2  # config + layer
        cdn_requests = [hdrs for path, hdrs in cdn.request_headers if "/blobs/" in path]
        assert len(cdn_requests) == 2
        assert all("authorization" not in hdrs for hdrs in cdn_requests)
        assert any(hdrs.get("authorization", "").startswith("Bearer ") for p, hdrs in front.request_headers
                   if "/blobs/" in p)
    finally:
        front.stop()
        cdn.stop()


def test_token_service_outage_outside_the_client_is_a_registry_error(token_registry: RegistryServer) -> None:
    """Other code (the server's providers) uses RegistryAuth with its own httpx client: still a HullscanError."""
    import httpx

    from hullscan.registry.auth import RegistryAuth
    from hullscan.registry.dockerconfig import Credentials

    assert token_registry.token_server is not None
    token_registry.token_server.fail_next = 1
    auth = RegistryAuth(Credentials("hulltester", "s3cret-Pa55"), token_registry.host)
    try:
        with httpx.Client(base_url=token_registry.url, auth=auth) as client, \
                pytest.raises(RegistryUnavailableError) as err:
            client.get("/v2/")
        assert str(err.value) == f"registry {token_registry.host}: token service " \
                                 f"127.0.0.1:{token_registry.token_server.port} answered 503 Service Unavailable"
    finally:
        token_registry.token_server.reset()
