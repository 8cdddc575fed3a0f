"""Every ordered-pair table holds for our scheme, both ways round, and for the real reference tool."""

from __future__ import annotations

import pytest

from hullscan.version import get_scheme

from . import references
from .tables import load_table, table_names

TABLES = table_names()


def test_every_scheme_has_a_table() -> None:
    from hullscan.version import SCHEMES

    assert sorted(SCHEMES.names()) == TABLES


@pytest.mark.parametrize("name", TABLES)
def test_table_holds_for_scheme(name: str) -> None:
    scheme = get_scheme(name)
    rows = load_table(name)
    assert len(rows) >= 8
    wrong = [(a, want, b, got) for a, want, b in rows if (got := scheme.compare(a, b)) != want]
    assert wrong == []
    reversed_wrong = [(b, -want, a) for a, want, b in rows if scheme.compare(b, a) != -want]
    assert reversed_wrong == []


@pytest.mark.parametrize("name", sorted(references.RUNNERS))
def test_table_agrees_with_reference_tool(name: str) -> None:
    if not references.available(name):
        pytest.skip(f"reference tool for {name} not installed")
    rows = load_table(name)
    pairs = [(a, b) for a, _, b in rows]
    got = references.RUNNERS[name](pairs)
    wrong = [(a, want, b, ref) for (a, want, b), ref in zip(rows, got) if ref != want]
    assert wrong == []
