"""Severity: CVSS vectors parsed with the ``cvss`` library (v2, v3.0, v3.1, v4.0) and the mapping of
scores and vendor words onto :class:`~hullscan.model.Severity`.

Score bands are CVSS v3/v4's qualitative scale: 0 none (NEGLIGIBLE), 0.1-3.9 LOW, 4.0-6.9 MEDIUM,
7.0-8.9 HIGH, 9.0-10 CRITICAL (applied to v2 scores too). When a record carries several vectors,
v3.1 is preferred, then v3.0, v4.0 and v2 (v3 is what most feeds and consumers rate with).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from hullscan.model import Severity

_PREFERENCE = {"3.1": 0, "3.0": 1, "4.0": 2, "2.0": 3}


@dataclass(frozen=True)
class Cvss:
    """A parsed CVSS vector."""

    version: str  # 2.0 | 3.0 | 3.1 | 4.0
    vector: str
    score: float

    @property
    def severity(self) -> Severity:
        """The qualitative rating of the base score."""
        return from_score(self.score)


def from_score(score: float) -> Severity:
    """The CVSS qualitative rating of a base score."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.NEGLIGIBLE


@lru_cache(maxsize=65536)
def parse_cvss(vector: str) -> Cvss | None:
    """Parse a CVSS vector of any version; None when the library rejects it."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    text = vector.strip()
    try:
        if text.startswith("CVSS:4.0/"):
            v4 = CVSS4(text)
            return Cvss("4.0", text, float(v4.base_score))
        if text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            v3 = CVSS3(text)
            return Cvss(text[5:8], text, float(v3.base_score))
        bare = text.removeprefix("CVSS:2.0/").strip("()")
        v2 = CVSS2(bare)
        return Cvss("2.0", bare, float(v2.base_score))
    except (CVSSError, ValueError, KeyError, IndexError):
        return None


def best_cvss(vectors: Iterable[str]) -> Cvss | None:
    """The preferred valid vector of ``vectors`` (v3.1 > v3.0 > v4.0 > v2, then the highest score)."""
    return _best(tuple(vectors))


@lru_cache(maxsize=65536)
def _best(vectors: tuple[str, ...]) -> Cvss | None:
    if not vectors:
        return None
    parsed = [c for c in (parse_cvss(v) for v in vectors) if c is not None]
    if not parsed:
        return None
    return min(parsed, key=lambda c: (_PREFERENCE.get(c.version, 9), -c.score, c.vector))


@lru_cache(maxsize=1024)
def from_word(word: str) -> Severity:
    """A vendor severity word (``important``, ``moderate``, ``unimportant``, ``low**``...) on the scale."""
    return Severity.parse(word.strip().rstrip("*").strip()) if word else Severity.UNKNOWN
