"""Load the ordered-pair tables in ``tests/data/version/<scheme>.txt`` (lines ``a OP b``)."""

from __future__ import annotations

from pathlib import Path

TABLE_DIR = Path(__file__).resolve().parents[1] / "data" / "version"
OPS = {"<": -1, "=": 0, ">": 1}


def table_names() -> list[str]:
    """Every scheme that has a table."""
    return sorted(p.stem for p in TABLE_DIR.glob("*.txt"))


def load_table(name: str) -> list[tuple[str, int, str]]:
    """Rows ``(a, expected, b)`` of one table; comments (#) and blank lines are skipped."""
    rows: list[tuple[str, int, str]] = []
    for lineno, line in enumerate((TABLE_DIR / f"{name}.txt").read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or parts[1] not in OPS:
            raise ValueError(f"{name}.txt:{lineno}: expected 'a OP b', got {line!r}")
        rows.append((parts[0], OPS[parts[1]], parts[2]))
    return rows
