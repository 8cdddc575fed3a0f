"""Pulling real images from real registries (Debian's docker-registry): anonymous, basic over TLS, token flow."""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
from dataclasses import replace

import pytest

from hullscan.errors import AuthError, InputError, NotFoundError, RegistryError
from hullscan.image.registry_source import RegistrySource
from hullscan.oci import DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, Descriptor
from hullscan.registry.client import RegistryClient
from tests.helpers.imagebuild import ImageBuilder
from tests.helpers.registry_server import RegistryServer, pull_image, push_image, put_manifest


def build(marker: str, layers: int = 2, compression: str = "gzip") -> ImageBuilder:
    b = ImageBuilder()
    b.add_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n', "etc/marker": marker}, compression=compression,
                created_by="ADD base")
    for i in range(1, layers):
        b.add_layer({f"app/file{i}.txt": f"{marker} {i}\n" * 50}, compression=compression, created_by=f"RUN step {i}")
    b.add_history("ENV A=1")
    return b


def repo() -> str:
    return f"test/{uuid.uuid4().hex[:10]}"


def assert_pulled(builder: ImageBuilder, image, blobs: dict[str, bytes]) -> None:
    assert image.artifact.digest == builder.digest
    assert image.artifact.config_digest == "sha256:" + __import__("hashlib").sha256(builder.config_bytes()).hexdigest()
    assert [d.digest for d in image.layers] == [layer.digest for layer in builder.layers]
    assert image.diff_ids == [layer.diff_id for layer in builder.layers]
    assert blobs == {layer.digest: layer.blob for layer in builder.layers}
    assert image.layer_history == [h["created_by"] for h in builder.history if not h.get("empty_layer")]


@pytest.mark.parametrize("fixture", ["registry", "basic_registry", "token_registry"])
def test_pull_every_blob(request: pytest.FixtureRequest, fixture: str) -> None:
    server: RegistryServer = request.getfixturevalue(fixture)
    builder = build(fixture, layers=3)
    name = repo()
    ref = push_image(server, builder, name, "v1")
    image, blobs = pull_image(ref, server.options())
    assert_pulled(builder, image, blobs)
    art = image.artifact
    assert (art.kind, art.name, art.repository, art.tag) == ("registry", ref, f"{server.host}/{name}", "v1")
    assert str(art.platform) == "linux/amd64"


def test_pull_by_digest_and_by_tag_and_digest(registry: RegistryServer) -> None:
    builder = build("pinned")
    name = repo()
    push_image(registry, builder, name, "t")
    for ref in (f"{registry.host}/{name}@{builder.digest}", f"{registry.host}/{name}:t@{builder.digest}"):
        image, blobs = pull_image(ref, registry.options())
        assert_pulled(builder, image, blobs)


def test_zstd_and_uncompressed_layers(registry: RegistryServer) -> None:
    builder = build("zstd", compression="zstd").add_layer({"x": "plain"}, compression="none")
    image, blobs = pull_image(push_image(registry, builder, repo()), registry.options())
    assert_pulled(builder, image, blobs)
    assert image.layers[0].media_type.endswith("+zstd") and image.layers[-1].media_type.endswith(".tar")


def test_docker_schema2_manifest(registry: RegistryServer) -> None:
    """A Docker (not OCI) schema 2 manifest with Docker media types is pulled the same way."""
    builder = build("docker")
    name = repo()
    push_image(registry, builder, name, "oci")
    manifest = json.loads(builder.manifest_bytes())
    manifest["mediaType"] = DOCKER_MANIFEST
    manifest["config"]["mediaType"] = DOCKER_CONFIG
    for layer in manifest["layers"]:
        layer["mediaType"] = DOCKER_LAYER_GZIP
    body = json.dumps(manifest, indent=3).encode()
    digest = put_manifest(registry, name, "docker", body, DOCKER_MANIFEST)
    image, blobs = pull_image(registry.ref(name, "docker"), registry.options())
    assert image.artifact.digest == digest != builder.digest
    assert image.layers[0].media_type == DOCKER_LAYER_GZIP
    assert gzip.decompress(blobs[builder.layers[0].digest])  # real gzip layer bytes
    with RegistryClient(registry.host, registry.options()) as client:
        data, media_type, got = client.get_manifest(name, "docker")
        assert (data, media_type, got) == (body, DOCKER_MANIFEST, digest)


def test_schema1_is_refused_clearly(faulty_registry) -> None:
    """Schema 1 manifests cannot be pushed to registry 2.8, so the proxy serves one in place of a real manifest."""
    from tests.helpers.registry_server import push_image as push

    name = repo()
    push(faulty_registry.upstream, build("s1"), name)
    schema1 = json.dumps({"schemaVersion": 1, "name": name, "tag": "latest", "architecture": "amd64",
                          "fsLayers": [], "history": [], "signatures": []}).encode()
    faulty_registry.inject("replace", match="/manifests/", body=schema1,
                           content_type="application/vnd.docker.distribution.manifest.v1+prettyjws")
    from hullscan.errors import ManifestError

    with pytest.raises(ManifestError, match="schema 1 manifests .* are unsupported"):
        pull_image(faulty_registry.ref(name), faulty_registry.options())


def test_missing_tag_and_repository_are_not_found(registry: RegistryServer) -> None:
    name = repo()
    push_image(registry, build("nf"), name, "exists")
    with pytest.raises(NotFoundError) as err:
        pull_image(registry.ref(name, "nope"), registry.options())
    assert f"manifest {name}:nope not found" in str(err.value) and "MANIFEST_UNKNOWN" in str(err.value)
    with pytest.raises(NotFoundError, match="not found"):
        pull_image(registry.ref("no/such-repo", "x"), registry.options())
    with RegistrySource(registry.ref(name, "exists"), registry.options()) as src:
        src.resolve()
        with pytest.raises(NotFoundError, match="blob sha256:0{64}"):
            src.open_blob(Descriptor("application/octet-stream", "sha256:" + "0" * 64, 10))


def test_tls_without_the_ca_is_a_clear_error(basic_registry: RegistryServer) -> None:
    ref = push_image(basic_registry, build("tls"), repo())
    with pytest.raises(RegistryError) as err:
        pull_image(ref, replace(basic_registry.options(), ca_bundle=None))
    assert "TLS verification failed" in str(err.value) and "--ca-bundle" in str(err.value)
    with pytest.raises(InputError, match="no such file"):
        pull_image(ref, replace(basic_registry.options(), ca_bundle="/nonexistent/ca.pem"))


def test_plain_http_client_against_tls_registry_fails_clearly(basic_registry: RegistryServer) -> None:
    with pytest.raises(RegistryError):
        pull_image(basic_registry.ref("x"), replace(basic_registry.options(), insecure=True, retries=0))


def test_catalog_and_tags_follow_pagination(registry: RegistryServer) -> None:
    name = repo()
    builder = build("tags")
    tags = [f"t{i}" for i in range(7)]
    for tag in tags:
        push_image(registry, builder, name, tag)
    with RegistryClient(registry.host, registry.options()) as client:
        assert client.tags(name, page_size=3) == sorted(tags)  # registry 2.8 answers tags in one page
        for page_size in (1, 2, 1000):  # the catalog is paginated with Link: <...>; rel="next"
            catalog = client.catalog(page_size=page_size)
            assert name in catalog and catalog == sorted(set(catalog))
        assert client.catalog(page_size=1) == client.catalog(page_size=1000)
        assert client.head_manifest(name, "t3") == builder.digest
        assert client.head_manifest(name, builder.digest) == builder.digest
        client.check()


def test_open_blob_streams_in_chunks(registry: RegistryServer) -> None:
    """A large layer is streamed: small reads, verified at the end."""
    import os

    big = os.urandom(3 * 1024 * 1024)
    builder = ImageBuilder().add_layer({"big.bin": big}, compression="none")
    ref = push_image(registry, builder, repo())
    with RegistrySource(ref, registry.options()) as src:
        image = src.resolve()
        reader = src.open_blob(image.layers[0])
        total = 0
        while chunk := reader.read(65536):
            assert len(chunk) <= 65536
            total += len(chunk)
        reader.close()
    assert total == len(builder.layers[0].blob)


# ----------------------------------------------------------------------------- authentication


def test_basic_auth_wrong_password_and_anonymous(basic_registry: RegistryServer) -> None:
    ref = push_image(basic_registry, build("basic"), repo())
    with pytest.raises(AuthError) as err:
        pull_image(ref, basic_registry.options(password="wrong-password"))
    message = str(err.value)
    assert "401" in message and "user 'hulltester'" in message and "wrong-password" not in message
    with pytest.raises(AuthError, match="anonymous access"):
        pull_image(ref, basic_registry.options(with_credentials=False))


def test_token_flow_caches_tokens_per_scope(token_registry: RegistryServer) -> None:
    assert token_registry.token_server is not None
    builder = build("token", layers=3)
    name = repo()
    ref = push_image(token_registry, builder, name)
    token_registry.token_server.reset()
    with RegistrySource(ref, token_registry.options()) as src:
        image = src.resolve()
        for desc in image.layers:
            src.open_blob(desc).drain()
        # manifest, config and three layers with a single token
        assert src.client.auth.token_fetches == 1
    requests = token_registry.token_server.requests
    assert requests == [{"method": "GET", "user": "hulltester", "scopes": [f"repository:{name}:pull"],
                         "service": "hullscan-test-registry"}]


def test_token_flow_wrong_password(token_registry: RegistryServer) -> None:
    ref = push_image(token_registry, build("tokbad"), repo())
    with pytest.raises(AuthError) as err:
        pull_image(ref, token_registry.options(password="nope"))
    message = str(err.value)
    assert "token service 127.0.0.1:" in message and "refused user 'hulltester'" in message
    assert "nope" not in message


def test_token_flow_anonymous_gets_no_access(token_registry: RegistryServer) -> None:
    ref = push_image(token_registry, build("tokanon"), repo())
    with pytest.raises(AuthError) as err:
        pull_image(ref, token_registry.options(with_credentials=False))
    assert "401" in str(err.value) and "anonymous access" in str(err.value)


def test_given_registry_token_is_used_as_is(token_registry: RegistryServer) -> None:
    assert token_registry.token_server is not None
    name = repo()
    builder = build("given")
    ref = push_image(token_registry, builder, name)
    token = token_registry.token_server.make_token(
        "ci", [{"type": "repository", "name": name, "actions": ["pull"]}])
    token_registry.token_server.reset()
    image, blobs = pull_image(ref, token_registry.options(with_credentials=False, registry_token=token))
    assert_pulled(builder, image, blobs)
    assert token_registry.token_server.requests == []  # never asked the token service
    other = token_registry.token_server.make_token("ci", [{"type": "repository", "name": "other", "actions": ["pull"]}])
    with pytest.raises(AuthError, match="a registry token"):
        pull_image(ref, token_registry.options(with_credentials=False, registry_token=other))


def test_docker_config_auth(tmp_path, basic_registry: RegistryServer, token_registry: RegistryServer) -> None:
    import base64

    b_ref = push_image(basic_registry, build("cfg-basic"), repo())
    t_ref = push_image(token_registry, build("cfg-token"), repo())
    auth = base64.b64encode(b"hulltester:s3cret-Pa55").decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {
        f"https://{basic_registry.host}": {"auth": auth},
        token_registry.host: {"username": "hulltester", "password": "s3cret-Pa55"},
    }}))
    for server, ref in ((basic_registry, b_ref), (token_registry, t_ref)):
        image, blobs = pull_image(ref, server.options(with_credentials=False, docker_config=str(config)))
        assert len(blobs) == len(image.layers) == 2


def test_docker_config_identity_token(tmp_path, token_registry: RegistryServer) -> None:
    """An ``identitytoken`` is an OAuth2 refresh token: POSTed to the realm with grant_type=refresh_token."""
    from tests.helpers.registry_server import TEST_REFRESH_TOKEN

    assert token_registry.token_server is not None
    ref = push_image(token_registry, build("idtoken"), repo())
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {token_registry.host: {"identitytoken": TEST_REFRESH_TOKEN}}}))
    token_registry.token_server.reset()
    image, blobs = pull_image(ref, token_registry.options(with_credentials=False, docker_config=str(config)))
    assert len(blobs) == 2
    assert [r["method"] for r in token_registry.token_server.requests] == ["POST"]
    config.write_text(json.dumps({"auths": {token_registry.host: {"identitytoken": "revoked"}}}))
    with pytest.raises(AuthError, match="refused an identity token"):
        pull_image(ref, token_registry.options(with_credentials=False, docker_config=str(config)))


def test_environment_credentials(monkeypatch: pytest.MonkeyPatch, basic_registry: RegistryServer) -> None:
    ref = push_image(basic_registry, build("env"), repo())
    monkeypatch.setenv("HULLSCAN_USERNAME", "hulltester")
    monkeypatch.setenv("HULLSCAN_PASSWORD", "s3cret-Pa55")
    image, blobs = pull_image(ref, basic_registry.options(with_credentials=False))
    assert len(blobs) == 2


def test_check_catalog_and_tags_behind_auth(token_registry: RegistryServer, basic_registry: RegistryServer) -> None:
    """What the server uses for asset sync: a credential check, the catalog and tag lists, on both auth kinds."""
    for server in (token_registry, basic_registry):
        name = repo()
        push_image(server, build("sync"), name, "a")
        push_image(server, build("sync"), name, "b")
        with RegistryClient(server.host, server.options()) as client:
            client.check()
            assert name in client.catalog(page_size=1)
            assert client.tags(name) == ["a", "b"]
        with RegistryClient(server.host, server.options(password="wrong")) as client, \
                pytest.raises(AuthError, match="user 'hulltester'"):
            client.check()
    if token_registry.token_server is not None:
        scopes = [s for r in token_registry.token_server.requests for s in r["scopes"]]
        assert "registry:catalog:*" in scopes


def test_expired_tokens_are_fetched_again(token_registry: RegistryServer) -> None:
    server = token_registry.token_server
    assert server is not None
    ref = push_image(token_registry, build("expiry"), repo())
    server.expires_in = 2  # cached for max(1, 2 - 5) = 1 second
    try:
        with RegistrySource(ref, token_registry.options()) as src:
            image = src.resolve()
            src.open_blob(image.layers[0]).drain()
            assert src.client.auth.token_fetches == 1
            time.sleep(1.2)
            src.open_blob(image.layers[1]).drain()
            assert src.client.auth.token_fetches == 2
    finally:
        server.expires_in = 300


def test_parallel_blob_reads_share_one_client(token_registry: RegistryServer) -> None:
    """The scan reads layers from several threads through one source: every blob verifies, one token serves all."""
    from concurrent.futures import ThreadPoolExecutor

    builder = build("parallel", layers=8)
    ref = push_image(token_registry, builder, repo())
    with RegistrySource(ref, token_registry.options()) as src:
        image = src.resolve()

        def read(desc: Descriptor) -> tuple[str, bytes]:
            reader = src.open_blob(desc)
            try:
                return desc.digest, reader.read()
            finally:
                reader.close()

        with ThreadPoolExecutor(max_workers=4) as pool:
            blobs = dict(pool.map(read, image.layers))
        assert src.client.auth.token_fetches == 1
    assert blobs == {layer.digest: layer.blob for layer in builder.layers}


def test_a_rejected_cached_token_is_replaced(token_registry: RegistryServer) -> None:
    """A cached token the registry refuses (here: one granting nothing) is dropped and a new one fetched."""
    server = token_registry.token_server
    assert server is not None
    ref = push_image(token_registry, build("revoked"), repo())
    with RegistrySource(ref, token_registry.options()) as src:
        image = src.resolve()
        auth = src.client.auth
        assert auth.token_fetches == 1
        # replace every cached token with a validly signed one that grants no access
        useless = server.make_token("hulltester", [])
        auth._tokens = {key: (useless, expiry) for key, (_, expiry) in auth._tokens.items()}
        assert src.open_blob(image.layers[0]).read()
        assert auth.token_fetches == 2
        assert useless not in {tok for tok, _ in auth._tokens.values()}


def test_credentials_never_reach_the_logs(caplog: pytest.LogCaptureFixture, token_registry: RegistryServer,
                                          basic_registry: RegistryServer) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    assert token_registry.token_server is not None
    for server in (token_registry, basic_registry):
        ref = push_image(server, build("logs"), repo())
        pull_image(ref, server.options())
        with pytest.raises(AuthError):
            pull_image(ref, server.options(password="Wr0ng-Secret"))
    ref = push_image(token_registry, build("logs2"), repo())
    token_registry.token_server.fail_next = 1  # a retried token request is logged too
    try:
        pull_image(ref, token_registry.options(max_retry_seconds=0.2))
    finally:
        token_registry.token_server.reset()
    text = caplog.text
    assert "HTTP Request" in text and "retrying" in text  # httpx and hullscan did log
    for secret in ("s3cret-Pa55", "Wr0ng-Secret", base64.b64encode(b"hulltester:s3cret-Pa55").decode()):
        assert secret not in text
    assert "eyJ" not in text  # no JWT either
