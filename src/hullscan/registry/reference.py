"""Image references parsed and normalised exactly like Docker does.

Grammar (from ``distribution/reference``)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component ( "/" path-component )*
    domain     := host [ ":" port ]           host: DNS name, IPv4 or "[" IPv6 "]"

The first component is a domain when it contains ``.`` or ``:``, is ``localhost``, or has an upper-case
letter; otherwise the image lives on Docker Hub: ``nginx`` is ``docker.io/library/nginx:latest``, pulled
from ``registry-1.docker.io``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hullscan.errors import InputError

#: the display name of Docker Hub, and the host that actually serves its API
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
#: every spelling of Docker Hub met in references and ``config.json``
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DNS_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_IPV6_HOST = re.compile(r"\[[a-fA-F0-9:]+\]")
_PORT = re.compile(r"[0-9]+")
_DIGEST_HEX = {"sha256": 64, "sha512": 128}
_MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    """A parsed image reference.

    ``registry`` is the host (and port) whose API is called (``registry-1.docker.io`` for Docker Hub);
    ``domain`` is how people write it (``docker.io``). ``tag`` is ``latest`` unless a tag or a digest was given.
    """

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def domain(self) -> str:
        """The registry as written in references (``docker.io`` for Docker Hub)."""
        return DOCKER_HUB if self.registry == DOCKER_HUB_API else self.registry

    @property
    def name(self) -> str:
        """``domain/repository`` (no tag, no digest)."""
        return f"{self.domain}/{self.repository}"

    @property
    def ref(self) -> str:
        """What to ask the registry for: the digest when known, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def api_base(self, insecure: bool = False) -> str:
        """``https://host[:port]`` (``http://`` when ``insecure``)."""
        return f"{'http' if insecure else 'https'}://{self.registry}"

    def with_digest(self, digest: str) -> Reference:
        """The same reference pinned to ``digest``."""
        return Reference(self.registry, self.repository, self.tag, digest)


def parse_reference(text: str) -> Reference:
    """Parse ``text`` like ``docker pull`` does; raise InputError naming the reference when it is invalid."""
    raw = text
    if not isinstance(text, str) or not text.strip():
        raise InputError("invalid image reference '': empty")
    text = text.strip()
    if "://" in text:
        raise InputError(f"invalid image reference {raw!r}: a reference has no scheme (drop the '{text.split('://')[0]}://')")

    def bad(why: str) -> InputError:
        return InputError(f"invalid image reference {raw!r}: {why}")

    name, _, digest = text.partition("@")
    if "@" in digest:
        raise bad("more than one '@'")
    if _ and not digest:
        raise bad("empty digest after '@'")
    if digest:
        if not _DIGEST.fullmatch(digest):
            raise bad(f"invalid digest {digest!r}")
        algo, hexpart = digest.split(":", 1)
        if algo in _DIGEST_HEX and len(hexpart) != _DIGEST_HEX[algo]:
            raise bad(f"digest {digest!r} must have {_DIGEST_HEX[algo]} hex digits")
        if algo not in _DIGEST_HEX:
            raise bad(f"unsupported digest algorithm {algo!r} (sha256 or sha512)")
        if hexpart != hexpart.lower():
            raise bad(f"digest {digest!r} must be lower-case hex")

    # the tag is after the last ':' that follows the last '/' (so "host:5000/repo" has no tag)
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise bad(f"invalid tag {tag!r}")
    if not name:
        raise bad("empty repository name")

    domain, path = _split_domain(name)
    if domain is None:
        domain = DOCKER_HUB
    else:
        _check_domain(domain, bad)
    if domain in DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    for comp in path.split("/"):
        if not comp:
            raise bad("empty path component")
        if not _COMPONENT.fullmatch(comp):
            if comp.lower() != comp:
                raise bad("repository name must be lower-case")
            raise bad(f"invalid path component {comp!r}")
    if len(f"{domain}/{path}") > _MAX_NAME:
        raise bad(f"name longer than {_MAX_NAME} characters")
    registry = DOCKER_HUB_API if domain == DOCKER_HUB else domain
    return Reference(registry, path, tag or ("" if digest else "latest"), digest)


def _split_domain(name: str) -> tuple[str | None, str]:
    """Docker's rule: the first component is a domain if it has '.', ':' or upper case, or is ``localhost``."""
    first, sep, rest = name.partition("/")
    if not sep:
        return None, name
    if "." in first or ":" in first or first == "localhost" or first.lower() != first:
        return first, rest
    return None, name


def _check_domain(domain: str, bad: Callable[[str], InputError]) -> None:
    """Validate ``host[:port]`` (IPv6 in brackets)."""
    if domain.startswith("["):
        end = domain.find("]")
        host, port_part = domain[: end + 1], domain[end + 1 :]
        if end < 0 or not _IPV6_HOST.fullmatch(host):
            raise bad(f"invalid IPv6 registry host {domain!r}")
    else:
        host, _, port = domain.partition(":")
        port_part = f":{port}" if _ else ""
        if not _DNS_HOST.fullmatch(host):
            raise bad(f"invalid registry host {domain!r}")
    if port_part and (
        not port_part.startswith(":") or not _PORT.fullmatch(port_part[1:]) or not 0 < int(port_part[1:]) < 65536
    ):
        raise bad(f"invalid registry port in {domain!r}")


def parse_registry(text: str) -> str:
    """Normalise a registry host given on its own (``docker.io``, ``https://host:5000/``) to the API host."""
    host = text.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    host = host.split("/", 1)[0]
    if not host:
        raise InputError(f"invalid registry {text!r}: empty host")

    def bad(why: str) -> InputError:
        return InputError(f"invalid registry {text!r}: {why}")

    _check_domain(host, bad)
    return DOCKER_HUB_API if host in DOCKER_HUB_ALIASES else host
