"""Reference parsing: the same normalisation as ``docker pull``."""

from __future__ import annotations

import pytest

from hullscan.errors import InputError
from hullscan.registry.reference import Reference, parse_reference, parse_registry

D = "sha256:" + "0123456789abcdef" * 4

VALID = [
    # text, registry, repository, tag, digest, str()
    ("nginx", "registry-1.docker.io", "library/nginx", "latest", "", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "registry-1.docker.io", "library/nginx", "1.25", "", "docker.io/library/nginx:1.25"),
    ("docker.io/nginx", "registry-1.docker.io", "library/nginx", "latest", "", "docker.io/library/nginx:latest"),
    ("index.docker.io/library/nginx", "registry-1.docker.io", "library/nginx", "latest", "",
     "docker.io/library/nginx:latest"),
    ("registry-1.docker.io/bitnami/redis:7", "registry-1.docker.io", "bitnami/redis", "7", "",
     "docker.io/bitnami/redis:7"),
    ("bitnami/redis", "registry-1.docker.io", "bitnami/redis", "latest", "", "docker.io/bitnami/redis:latest"),
    ("ghcr.io/org/team/app:v1.2.3", "ghcr.io", "org/team/app", "v1.2.3", "", "ghcr.io/org/team/app:v1.2.3"),
    ("host:5000/ns/repo:tag", "host:5000", "ns/repo", "tag", "", "host:5000/ns/repo:tag"),
    ("host:5000/repo", "host:5000", "repo", "latest", "", "host:5000/repo:latest"),
    ("localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"),
    ("localhost:5000/x:y", "localhost:5000", "x", "y", "", "localhost:5000/x:y"),
    ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", "", "127.0.0.1:5000/a/b:latest"),
    ("[::1]:5000/x", "[::1]:5000", "x", "latest", "", "[::1]:5000/x:latest"),
    ("[fe80::1]/x:t", "[fe80::1]", "x", "t", "", "[fe80::1]/x:t"),
    (f"repo@{D}", "registry-1.docker.io", "library/repo", "", D, f"docker.io/library/repo@{D}"),
    (f"repo:tag@{D}", "registry-1.docker.io", "library/repo", "tag", D, f"docker.io/library/repo:tag@{D}"),
    (f"host:5000/ns/repo@{D}", "host:5000", "ns/repo", "", D, f"host:5000/ns/repo@{D}"),
    ("Example.COM/x", "Example.COM", "x", "latest", "", "Example.COM/x:latest"),
    ("a.b-c/d__e/f--g.h_i", "a.b-c", "d__e/f--g.h_i", "latest", "", "a.b-c/d__e/f--g.h_i:latest"),
    ("quay.io/prometheus/node-exporter:v1.7.0_x-y", "quay.io", "prometheus/node-exporter", "v1.7.0_x-y", "",
     "quay.io/prometheus/node-exporter:v1.7.0_x-y"),
]


@pytest.mark.parametrize("text,registry,repository,tag,digest,canonical", VALID)
def test_valid_references(text: str, registry: str, repository: str, tag: str, digest: str, canonical: str) -> None:
    ref = parse_reference(text)
    assert ref == Reference(registry, repository, tag, digest)
    assert str(ref) == canonical
    assert parse_reference(str(ref)) == ref  # the canonical form round-trips


INVALID = [
    ("", "empty"),
    ("UPPER", "lower-case"),
    ("ns/Repo", "lower-case"),
    ("repo:", "invalid tag"),
    ("repo:-tag", "invalid tag"),
    ("repo:" + "t" * 129, "invalid tag"),
    ("repo@sha256:abc", "invalid digest"),
    ("repo@sha256:" + "A" * 64, "lower-case"),
    ("repo@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("repo@sha256:" + "a" * 63, "must have 64 hex digits"),
    ("repo@", "empty digest"),
    ("a@b@c", "more than one"),
    ("https://ghcr.io/x", "no scheme"),
    ("host:99999/x", "invalid registry port"),
    ("host:/x", "invalid registry port"),
    ("[::1/x", "invalid IPv6"),
    ("-bad.com/x", "invalid registry host"),
    ("a_b.com/x", "invalid registry host"),
    ("ns//repo", "empty path component"),
    ("ns/repo-", "invalid path component"),
    ("ns/_repo", "invalid path component"),
    ("x" * 256, "longer than 255"),
]


@pytest.mark.parametrize("text,why", INVALID)
def test_invalid_references_name_the_input(text: str, why: str) -> None:
    with pytest.raises(InputError) as err:
        parse_reference(text)
    message = str(err.value)
    assert why in message
    assert f"invalid image reference {text!r}"[:60] in message
    assert "\n" not in message


def test_api_base_and_domain() -> None:
    hub = parse_reference("nginx")
    assert hub.domain == "docker.io"
    assert hub.name == "docker.io/library/nginx"
    assert hub.api_base() == "https://registry-1.docker.io"
    assert parse_reference("[::1]:5000/x").api_base(insecure=True) == "http://[::1]:5000"
    assert parse_reference("127.0.0.1:5000/x").api_base() == "https://127.0.0.1:5000"
    assert hub.ref == "latest"
    pinned = parse_reference(f"nginx:1@{D}")
    assert pinned.ref == D  # the digest wins over the tag when asking the registry
    assert hub.with_digest(D).ref == D


@pytest.mark.parametrize("text,host", [
    ("docker.io", "registry-1.docker.io"),
    ("https://index.docker.io/v1/", "registry-1.docker.io"),
    ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
    ("ghcr.io", "ghcr.io"),
])
def test_parse_registry(text: str, host: str) -> None:
    assert parse_registry(text) == host


def test_parse_registry_rejects_garbage() -> None:
    with pytest.raises(InputError, match="invalid registry"):
        parse_registry("https://")
    with pytest.raises(InputError, match="port"):
        parse_registry("host:0")
