"""Multi-platform images: an index pushed to a real registry, narrowed to one platform."""

from __future__ import annotations

import uuid

import pytest

from hullscan.errors import InputError, ManifestError
from hullscan.image.registry_source import RegistrySource
from hullscan.image.source import host_platform, parse_platform
from hullscan.oci import DOCKER_MANIFEST_LIST, OCI_INDEX
from tests.helpers.imagebuild import ImageBuilder
from tests.helpers.registry_server import RegistryServer, pull_image, push_image, push_index


def arch_image(arch: str, variant: str = "") -> ImageBuilder:
    """A one-layer image whose config says ``arch`` (distinct content, so distinct digests)."""
    b = ImageBuilder(architecture=arch)
    b.config_extra = {"Labels": {"arch": arch + variant}}
    b.add_layer({"etc/arch": f"{arch}{variant}\n"})
    return b


@pytest.fixture(scope="module")
def multi(registry: RegistryServer) -> dict:
    """amd64, arm64, arm/v7 and s390x images under one OCI index, and under one Docker manifest list."""
    images = {"amd64": arch_image("amd64"), "arm64": arch_image("arm64"), "arm": arch_image("arm", "v7"),
              "s390x": arch_image("s390x")}
    name = f"multi/{uuid.uuid4().hex[:8]}"
    builders = list(images.values())
    oci_ref, oci_digest = push_index(registry, builders, name, "oci", OCI_INDEX, variants={2: "v7"})
    docker_ref, docker_digest = push_index(registry, builders, name, "docker", DOCKER_MANIFEST_LIST,
                                           variants={2: "v7"})
    return {"images": images, "oci": (oci_ref, oci_digest), "docker": (docker_ref, docker_digest), "name": name}


@pytest.mark.parametrize("kind", ["oci", "docker"])
@pytest.mark.parametrize("platform,key", [("linux/arm64", "arm64"), ("linux/amd64", "amd64"),
                                          ("linux/arm/v7", "arm"), ("linux/s390x", "s390x")])
def test_platform_selection(registry: RegistryServer, multi: dict, kind: str, platform: str, key: str) -> None:
    ref, index_digest = multi[kind]
    want = multi["images"][key]
    with RegistrySource(ref, registry.options()) as src:
        image = src.resolve(parse_platform(platform))
        assert src.index_digest == index_digest
        assert image.artifact.digest == want.digest  # the platform manifest, not the index
        blob = src.open_blob(image.layers[0]).read()
    assert blob == want.layers[0].blob
    assert image.artifact.platform.architecture == want.architecture


def test_default_is_the_host_platform(registry: RegistryServer, multi: dict) -> None:
    host = host_platform()
    if host.architecture not in ("amd64", "arm64", "s390x"):
        pytest.skip(f"no image for {host} in the fixture index")
    image, _ = pull_image(multi["oci"][0], registry.options())
    assert image.artifact.digest == multi["images"][host.architecture].digest


def test_unknown_platform_lists_what_is_available(registry: RegistryServer, multi: dict) -> None:
    with pytest.raises(ManifestError) as err:
        pull_image(multi["oci"][0], registry.options(), parse_platform("linux/riscv64"))
    message = str(err.value)
    assert "no manifest for platform linux/riscv64" in message
    assert "linux/amd64" in message and "linux/arm64" in message and "linux/arm/v7" in message
    assert multi["oci"][1] in message  # names the index digest
    with pytest.raises(ManifestError, match="windows/amd64"):
        pull_image(multi["oci"][0], registry.options(), parse_platform("windows/amd64"))


def test_bad_platform_flag() -> None:
    with pytest.raises(InputError, match="expected os/arch"):
        parse_platform("arm64")


def test_single_manifest_for_another_platform_is_refused(registry: RegistryServer) -> None:
    ref = push_image(registry, arch_image("arm64"), f"single/{uuid.uuid4().hex[:8]}")
    image, _ = pull_image(ref, registry.options())  # no platform asked: take what is there
    assert image.artifact.platform.architecture == "arm64"
    image, _ = pull_image(ref, registry.options(), parse_platform("linux/arm64"))
    with pytest.raises(ManifestError, match="is for linux/arm64, not the requested platform linux/amd64"):
        pull_image(ref, registry.options(), parse_platform("linux/amd64"))


def test_index_by_digest(registry: RegistryServer, multi: dict) -> None:
    ref = f"{registry.host}/{multi['name']}@{multi['oci'][1]}"
    image, _ = pull_image(ref, registry.options(), parse_platform("linux/arm64"))
    assert image.artifact.digest == multi["images"]["arm64"].digest
    assert image.artifact.tag == ""
