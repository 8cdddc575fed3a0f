"""The JSON report: :class:`~hullscan.model.ScanReport` as data, schema in ``docs/report-schema.md``."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

from hullscan import serde
from hullscan.model import ScanReport


def report_data(report: ScanReport) -> dict[str, Any]:
    """The report as JSON-ready data (``suppressed`` as objects with the finding and the reason)."""
    data: dict[str, Any] = serde.to_data(report)
    data["suppressed"] = [{"finding": serde.to_data(f), "reason": reason} for f, reason in report.suppressed]
    return data


def write(report: ScanReport, out: TextIO) -> None:
    """Write the JSON report (in one write: ``json.dump`` writes piece by piece, one system call per piece on an
    unbuffered stdout, e.g. under ``PYTHONUNBUFFERED``)."""
    out.write(dumps_indented(report_data(report)) + "\n")


def dumps_indented(data: Any) -> str:
    """``json.dumps(data, indent=2)``, byte for byte, in a fraction of the time: with ``indent`` the standard
    library leaves its C encoder for a generator per container (~5 ms for a 300 KB report). Strings go through
    the same C escaper (``ensure_ascii``); anything but JSON data (dicts with str keys, lists, tuples, str, int,
    float, bool, None, and their subclasses) is handed to ``json.dumps`` as a whole, which gives its result or
    its error."""
    parts: list[str] = []
    try:
        _encode(data, "\n", parts)
    except _NotPlain:
        return json.dumps(data, indent=2)
    return "".join(parts)


class _NotPlain(Exception):
    """A value the fast path does not handle (a non-str key, an object ``json`` would reject, a cycle...)."""


def _scalar(o: Any) -> str:
    """The JSON text of a scalar, as ``json``'s encoder writes it (same checks, same order)."""
    if isinstance(o, str):
        return encode_basestring_ascii(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if o != o:
            return "NaN"
        if o == _INF:
            return "Infinity"
        if o == -_INF:
            return "-Infinity"
        return float.__repr__(o)
    raise _NotPlain


_INF = float("inf")
#: exact types written without a container check (``type(o) in``: subclasses take the general path)
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _encode(o: Any, nl: str, parts: list[str], _depth: int = 0) -> None:
    """Append the JSON text of ``o`` to ``parts``; ``nl``: a newline and the indentation of ``o``'s own line."""
    if _depth > 200:  # json.dumps raises RecursionError or ValueError (circular reference): let it say which
        raise _NotPlain
    append = parts.append
    tp = type(o)
    if tp is dict or (tp not in _LEAVES and isinstance(o, dict) and not isinstance(o, str)):
        if not o:
            append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for key, value in o.items():
            if type(key) is not str:
                raise _NotPlain
            vt = type(value)
            if vt is str:
                append(sep + encode_basestring_ascii(key) + ": " + encode_basestring_ascii(value))
            elif vt in _LEAVES:
                append(sep + encode_basestring_ascii(key) + ": " + _scalar(value))
            else:
                append(sep + encode_basestring_ascii(key) + ": ")
                _encode(value, inner, parts, _depth + 1)
            sep = "," + inner
        append(nl + "}")
    elif tp is list or tp is tuple or (tp not in _LEAVES and isinstance(o, (list, tuple)) and not isinstance(o, str)):
        if not o:
            append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for value in o:
            vt = type(value)
            if vt is str:
                append(sep + encode_basestring_ascii(value))
            elif vt in _LEAVES:
                append(sep + _scalar(value))
            else:
                append(sep)
                _encode(value, inner, parts, _depth + 1)
            sep = "," + inner
        append(nl + "]")
    else:
        append(_scalar(o))
