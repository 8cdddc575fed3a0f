"""JSON Schema of the JSON report, derived from the dataclasses in :mod:`hullscan.model` (so it cannot drift).

``python -m hullscan.report.schema > docs/report-schema.json`` regenerates the committed copy; a test checks
the copy is current and that real reports validate against it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any

from hullscan.model import SCHEMA_VERSION, Finding, ScanReport


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        subs = [_schema(a, defs) for a in args if a is not type(None)]
        if type(None) in args:
            subs.append({"type": "null"})
        return subs[0] if len(subs) == 1 else {"anyOf": subs}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            hints = typing.get_type_hints(tp)
            props = {f.name: _schema(hints[f.name], defs) for f in dataclasses.fields(tp)}
            doc = (tp.__doc__ or "").strip().split("\n")[0]
            defs[name] = {"type": "object", "description": doc, "properties": props,
                          "required": sorted(props), "additionalProperties": False}
        return {"$ref": f"#/$defs/{name}"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", "prefixItems": [_schema(a, defs) for a in args], "minItems": len(args),
                    "maxItems": len(args)}
        return {"type": "array", "items": _schema(args[0], defs) if args else {}}
    if origin is dict:
        _, vt = typing.get_args(tp)
        return {"type": "object", "additionalProperties": _schema(vt, defs)}
    return {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"}}.get(tp, {})


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``hullscan image --format json``."""
    defs: dict[str, Any] = {}
    root = _schema(ScanReport, defs)
    report = dict(defs["ScanReport"])
    props = dict(report["properties"])
    props["schema_version"] = {"const": SCHEMA_VERSION}
    props["suppressed"] = {"type": "array", "items": {
        "type": "object", "properties": {"finding": _schema(Finding, defs), "reason": {"type": "string"}},
        "required": ["finding", "reason"], "additionalProperties": False}}
    report["properties"] = props
    del defs["ScanReport"]
    del root
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://hullscan.dev/schemas/report-v{SCHEMA_VERSION}.json",
        "title": f"hullscan JSON report, schema version {SCHEMA_VERSION}",
        **report,
        "$defs": defs,
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(report_schema(), indent=2))
