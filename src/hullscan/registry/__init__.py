"""Talking to container registries over httpx: references, credentials, auth flows and the API client."""

from hullscan.registry.client import RegistryClient
from hullscan.registry.dockerconfig import Credentials, resolve_credentials
from hullscan.registry.reference import Reference, parse_reference

__all__ = ["Credentials", "Reference", "RegistryClient", "parse_reference", "resolve_credentials"]
