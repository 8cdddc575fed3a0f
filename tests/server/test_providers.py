"""Harbor (v2.0 and 1.x), Quay and GitLab providers against recorded API responses served over real HTTP."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hullscan.server.providers import provider_for
from hullscan.server.providers.base import Connection, Namespace, ProviderError
from tests.server.recorded import free_port, serve_recording

D1, D2, D3 = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32, "sha256:" + "c3" * 32


def conn(base: str, type_: str, version: str, **kw: object) -> Connection:
    host, port = base.removeprefix("http://").split(":")
    return Connection(type=type_, version=version, protocol="http", host=host, port=int(port), **kw)  # type: ignore[arg-type]


def code_of(fn: object) -> str:
    with pytest.raises(ProviderError) as err:
        fn()  # type: ignore[operator]
    assert err.value.message  # a human message, not just the code
    return err.value.code


# ------------------------------------------------------------------ Harbor 2.x


def test_harbor_v2_verify_lists_projects_repositories_and_tags() -> None:
    with serve_recording("harbor_v2") as (base, seen):
        p = provider_for(conn(base, "harbor", "v2", username="admin", password="Harbor12345"))
        p.verify()
        repos = p.repositories()
        assert [r.name for r in repos] == ["library/nginx", "library/tools/busybox", "team-a/api"]
        assert repos[0].pull_prefix == base.removeprefix("http://") + "/library/nginx"
        nginx = p.tags(repos[0])
        assert [(t.tag, t.digest) for t in nginx] == [("1.25", D1), ("latest", D1)]
        assert nginx[1].pushed_at == datetime(2026, 11, 21, 10, tzinfo=timezone.utc)
        assert nginx[1].updated_at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)  # the artifact's push time
        # nested repository names are URL-encoded twice, as Harbor requires
        assert [(t.tag, t.digest) for t in p.tags(repos[1])] == [("1.36", D2)]
        assert any("tools%252Fbusybox" in path for _, path in seen)
        # untagged artifacts are not listed as tags
        assert [(t.tag, t.digest) for t in p.tags(repos[2])] == [("v3", D3)]


def test_harbor_v2_error_codes() -> None:
    with serve_recording("harbor_v2") as (base, _):
        assert code_of(provider_for(conn(base, "harbor", "v2", username="admin", password="wrong")).verify) == "FailedToVerifyUsernameOrPwd"
        assert code_of(provider_for(conn(base, "harbor", "v2", username="dev", password="devpass123")).verify) == "UserDoesNotHaveAdminRole"
        # a Harbor 2.x set up as version v1: /api/systeminfo does not exist
        assert code_of(provider_for(conn(base, "harbor", "v1", username="admin", password="Harbor12345")).verify) == "RegistryVersionError"
    with serve_recording("harbor_v1") as (base, _):
        # a Harbor 1.x set up as v2: no /api/v2.0
        assert code_of(provider_for(conn(base, "harbor", "v2", username="admin", password="Harbor12345")).verify) == "RegistryVersionError"
    dead = Connection(type="harbor", version="v2", protocol="http", host="127.0.0.1", port=free_port(), username="admin", password="x")
    assert code_of(provider_for(dead).verify) == "NetworkConnectError"
    assert code_of(lambda: provider_for(Connection(type="harbor", version="v9", host="h"))) == "RegistryVersionError"


# ------------------------------------------------------------------ Harbor 1.x


def test_harbor_v1_lists_repositories_and_tags() -> None:
    with serve_recording("harbor_v1") as (base, _):
        p = provider_for(conn(base, "harbor", "v1", username="admin", password="Harbor12345"))
        p.verify()
        repos = p.repositories()
        assert [r.name for r in repos] == ["library/redis"]
        tags = p.tags(repos[0])
        assert [(t.tag, t.digest) for t in tags] == [("6", D1), ("7", D2)]
        assert tags[0].pushed_at == datetime(2025, 4, 1, 1, tzinfo=timezone.utc)


def test_harbor_v1_error_codes() -> None:
    with serve_recording("harbor_v1") as (base, _):
        assert code_of(provider_for(conn(base, "harbor", "v1", username="admin", password="nope")).verify) == "FailedToVerifyUsernameOrPwd"
        assert code_of(provider_for(conn(base, "harbor", "v1", username="dev", password="devpass123")).verify) == "UserDoesNotHaveAdminRole"


# ------------------------------------------------------------------ Quay


def quay(base: str, *ns: Namespace, version: str = "v1") -> Connection:
    return conn(base, "quay", version, namespaces=ns)


def test_quay_organisations_each_with_their_token() -> None:
    with serve_recording("quay") as (base, _):
        p = provider_for(quay(base, Namespace("acme", "quay-org-token-acme"), Namespace("beta", "quay-org-token-beta")))
        p.verify()
        repos = p.repositories()  # acme has two pages (next_page)
        assert [r.name for r in repos] == ["acme/web", "acme/worker", "beta/db"]
        web = p.tags(repos[0])  # two tag pages (has_additional)
        assert [(t.tag, t.digest) for t in web] == [("latest", D1), ("v1", D2)]
        assert web[0].pushed_at == datetime.fromtimestamp(1732400000, tz=timezone.utc)
        assert p.tags(repos[1]) == []
        assert [(t.tag, t.digest) for t in p.tags(repos[2])] == [("16", D3)]  # beta's own token


def test_quay_error_codes() -> None:
    with serve_recording("quay") as (base, _):
        assert code_of(provider_for(quay(base, Namespace("acme", "bad-token"))).verify) == "FailedToVerifyUsernameOrPwd"
        assert code_of(provider_for(quay(base, Namespace("acme", "quay-read-only"))).verify) == "UserDoesNotHaveAdminRole"
        assert code_of(lambda: provider_for(quay(base, Namespace("acme", "quay-org-token-acme"), version="v2"))) == "RegistryVersionError"
    with serve_recording("harbor_v2") as (base, _):  # not a Quay
        assert code_of(provider_for(quay(base, Namespace("acme", "t"))).verify) == "RegistryVersionError"
    dead = Connection(type="quay", version="v1", protocol="http", host="127.0.0.1", port=free_port(), namespaces=(Namespace("a", "t"),))
    assert code_of(provider_for(dead).verify) == "NetworkConnectError"


# ------------------------------------------------------------------ GitLab


def gitlab(base: str, password: str = "glpat-admin-token", token: str = "glpat-group-platform") -> Connection:
    return conn(base, "gitlab", "v4", username="root", password=password, namespaces=(Namespace("42", token),))


def test_gitlab_groups_repositories_and_tags() -> None:
    with serve_recording("gitlab") as (base, _):
        p = provider_for(gitlab(base))
        p.verify()
        repos = p.repositories()  # two pages via X-Next-Page
        assert [(r.name, r.pull_prefix) for r in repos] == [
            ("platform/api", "registry.gitlab.example.test/platform/api"),
            ("platform/web/frontend", "registry.gitlab.example.test/platform/web/frontend"),
        ]
        api = p.tags(repos[0])
        assert [(t.tag, t.digest) for t in api] == [("main", D1), ("v1.0.0", D2)]
        assert api[0].pushed_at == datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
        assert [(t.tag, t.digest) for t in p.tags(repos[1])] == [("latest", D3)]


def test_gitlab_error_codes() -> None:
    with serve_recording("gitlab") as (base, _):
        assert code_of(provider_for(gitlab(base, password="glpat-wrong")).verify) == "FailedToVerifyUsernameOrPwd"
        assert code_of(provider_for(gitlab(base, password="glpat-dev-token")).verify) == "UserDoesNotHaveAdminRole"
        assert code_of(provider_for(gitlab(base, token="glpat-revoked")).verify) == "FailedToVerifyUsernameOrPwd"
    with serve_recording("quay") as (base, _):  # no /api/v4 there
        assert code_of(provider_for(gitlab(base)).verify) == "RegistryVersionError"
    dead = Connection(type="gitlab", version="v4", protocol="http", host="127.0.0.1", port=free_port(), password="x")
    assert code_of(provider_for(dead).verify) == "NetworkConnectError"


def test_connection_repr_hides_secrets() -> None:
    c = Connection(type="quay", version="v1", host="h", password="s3cret", namespaces=(Namespace("o", "tok3n"),))
    assert "s3cret" not in repr(c) and "tok3n" not in repr(c)
