"""Credential resolution: flags, environment, docker config.json (auths and credential helpers)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from hullscan.errors import InputError
from hullscan.options import RegistryOptions
from hullscan.registry.dockerconfig import Credentials, resolve_credentials


def write_config(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_anonymous_when_nothing_is_configured(tmp_path: Path) -> None:
    creds = resolve_credentials("ghcr.io", RegistryOptions(), env={"HOME": str(tmp_path)})
    assert creds == Credentials()
    assert creds.anonymous
    assert creds.describe() == "anonymous access"


def test_flags_beat_environment_and_config(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"auths": {"ghcr.io": {"auth": b64("cfguser:cfgpass")}}})
    env = {"HULLSCAN_USERNAME": "envuser", "HULLSCAN_PASSWORD": "envpass"}
    creds = resolve_credentials("ghcr.io", RegistryOptions(username="flag", password="pw", docker_config=str(cfg)), env)
    assert (creds.username, creds.password, creds.source) == ("flag", "pw", "--username/--password")
    creds = resolve_credentials("ghcr.io", RegistryOptions(docker_config=str(cfg)), env)
    assert (creds.username, creds.password) == ("envuser", "envpass")
    creds = resolve_credentials("ghcr.io", RegistryOptions(docker_config=str(cfg)), {})
    assert (creds.username, creds.password) == ("cfguser", "cfgpass")
    assert str(cfg) in creds.source


def test_registry_token_from_flag_and_environment(tmp_path: Path) -> None:
    creds = resolve_credentials("x.io", RegistryOptions(registry_token="tok1"), {"HULLSCAN_REGISTRY_TOKEN": "tok2"})
    assert creds.registry_token == "tok1"
    creds = resolve_credentials("x.io", RegistryOptions(), {"HULLSCAN_REGISTRY_TOKEN": "tok2", "HOME": str(tmp_path)})
    assert creds.registry_token == "tok2"
    assert "tok2" not in repr(creds) and "tok2" not in creds.describe()


def test_secrets_stay_out_of_repr() -> None:
    creds = Credentials("user", "hunter2", identity_token="idtok", registry_token="regtok", source="x")
    text = repr(creds) + creds.describe()
    for secret in ("hunter2", "idtok", "regtok"):
        assert secret not in text


@pytest.mark.parametrize("key", ["https://index.docker.io/v1/", "docker.io", "index.docker.io",
                                 "registry-1.docker.io", "https://registry.hub.docker.com"])
def test_docker_hub_aliases_match(tmp_path: Path, key: str) -> None:
    cfg = write_config(tmp_path, {"auths": {key: {"auth": b64("hubuser:hubpass")}}})
    creds = resolve_credentials("registry-1.docker.io", RegistryOptions(docker_config=str(cfg)), {})
    assert (creds.username, creds.password) == ("hubuser", "hubpass")


def test_config_keys_with_scheme_and_path_and_other_hosts(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"auths": {
        "http://127.0.0.1:5000/v2/": {"username": "u1", "password": "p1"},
        "other.example": {"auth": b64("u2:p2")},
        "id.example": {"identitytoken": "refresh-abc", "username": "ignored"},
    }})
    opts = RegistryOptions(docker_config=str(cfg))
    assert resolve_credentials("127.0.0.1:5000", opts, {}).username == "u1"
    assert resolve_credentials("other.example", opts, {}).password == "p2"
    assert resolve_credentials("id.example", opts, {}).identity_token == "refresh-abc"
    assert resolve_credentials("unknown.example", opts, {}).anonymous
    assert resolve_credentials("127.0.0.1:5001", opts, {}).anonymous  # the port is part of the host


def test_docker_config_env_var_and_home(tmp_path: Path) -> None:
    (tmp_path / "dc").mkdir()
    write_config(tmp_path / "dc", {"auths": {"a.io": {"auth": b64("x:y")}}})
    assert resolve_credentials("a.io", RegistryOptions(), {"DOCKER_CONFIG": str(tmp_path / "dc")}).username == "x"
    (tmp_path / "home" / ".docker").mkdir(parents=True)
    write_config(tmp_path / "home" / ".docker", {"auths": {"a.io": {"auth": b64("h:z")}}})
    assert resolve_credentials("a.io", RegistryOptions(), {"HOME": str(tmp_path / "home")}).username == "h"


@pytest.mark.parametrize("content,why", [
    ("{not json", "cannot read"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({"auths": {"a.io": {"auth": "!!!notbase64"}}}), "not valid base64"),
    (json.dumps({"auths": {"a.io": {"auth": b64("no-colon")}}}), "not 'user:password'"),
])
def test_malformed_config_is_a_clear_input_error(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        resolve_credentials("a.io", RegistryOptions(docker_config=str(path)), {})
    assert why in str(err.value) and str(path) in str(err.value)


def _helper(tmp_path: Path, name: str, script: str) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    prog = bindir / f"docker-credential-{name}"
    prog.write_text("#!/bin/sh\n" + script)
    prog.chmod(prog.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bindir}:{os.environ.get('PATH', '')}"}


def test_credential_helper_is_asked_with_the_server_url(tmp_path: Path) -> None:
    env = _helper(tmp_path, "fake", 'read server; [ "$1" = get ] || exit 3\n'
                  'if [ "$server" = "https://index.docker.io/v1/" ]; then '
                  'echo \'{"Username":"<token>","Secret":"idtok"}\'; '
                  'elif [ "$server" = "ghcr.io" ]; then echo \'{"Username":"gh","Secret":"ghpass"}\'; '
                  'else echo "credentials not found in native keychain"; exit 1; fi\n')
    cfg = write_config(tmp_path, {"credHelpers": {"ghcr.io": "fake"}, "credsStore": "fake",
                                  "auths": {"fallback.io": {"auth": b64("fb:fbpass")}}})
    opts = RegistryOptions(docker_config=str(cfg))
    gh = resolve_credentials("ghcr.io", opts, env)
    assert (gh.username, gh.password) == ("gh", "ghpass") and "docker-credential-fake" in gh.source
    hub = resolve_credentials("registry-1.docker.io", opts, env)
    assert hub.identity_token == "idtok" and not hub.username
    # the store knows nothing about fallback.io: the plain auths entry is used
    assert resolve_credentials("fallback.io", opts, env).username == "fb"


def test_missing_credential_helper_falls_back_to_auths(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"credsStore": "does-not-exist-anywhere", "auths": {"a.io": {"auth": b64("a:b")}}})
    creds = resolve_credentials("a.io", RegistryOptions(docker_config=str(cfg)), {"PATH": str(tmp_path)})
    assert creds.username == "a"
