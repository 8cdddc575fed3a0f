"""Reports from Jinja2 templates: ``--format html`` (the shipped self-contained HTML page) and ``--format template
--template FILE`` (a user's template, or a shipped one by name: ``@html``, ``@junit``, ``@gitlab``).

Templates run in Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` (a template from a pipeline's repository
cannot reach Python internals) and see plain data, never hullscan objects: ``report`` (the JSON report's data,
``docs/report-schema.md``), ``summary`` (finding counts by severity and by category), ``layers`` (each layer with
the packages it added and the findings located in it), ``version`` (hullscan's) and the filter ``tojson``.
HTML templates (``.html`` names) are autoescaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from hullscan.errors import InputError
from hullscan.model import ScanReport

#: shipped templates, by the name given after ``@``
SHIPPED = {"html": "report.html.j2", "junit": "junit.xml.j2", "gitlab": "gitlab.json.j2"}


def _source(spec: str) -> tuple[str, str]:
    """(name, text) of a template: ``@name`` for a shipped one, else a file path."""
    if spec.startswith("@"):
        name = spec[1:]
        if name not in SHIPPED:
            raise InputError(f"--template {spec}: no such shipped template; choose from "
                             f"{', '.join('@' + n for n in SHIPPED)}, or give a file")
        return SHIPPED[name], resources.files("hullscan.report").joinpath("templates", SHIPPED[name]).read_text("utf-8")
    path = Path(spec)
    try:
        return path.name, path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--template {spec}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--template {spec}: cannot read it ({exc})") from None


def context(report: ScanReport) -> dict[str, Any]:
    """What a template sees (see the module docstring)."""
    from hullscan import __version__
    from hullscan.report.json import report_data

    data = report_data(report)
    findings = data["findings"]
    by_layer: dict[str, dict[str, list[Any]]] = {}
    for pkg in data["packages"]:
        by_layer.setdefault(pkg.get("layer") or "", {"packages": [], "findings": []})["packages"].append(pkg)
    for f in findings:
        by_layer.setdefault(f["location"].get("layer") or "", {"packages": [], "findings": []})["findings"].append(f)
    layers = [{**layer, **by_layer.get(layer.get("diff_id") or "", {"packages": [], "findings": []})}
              for layer in data["layers"]]
    return {
        "report": data,
        "summary": {"by_severity": dict(Counter(f["severity"] for f in findings)),
                    "by_category": dict(Counter(f["category"] for f in findings)), "total": len(findings)},
        "layers": layers,
        "severities": ["CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN"],
        "categories": sorted({f["category"] for f in findings}),
        "version": __version__,
    }


def renderer(spec: str) -> Callable[[ScanReport, TextIO], None]:
    """A report writer rendering the template ``spec`` (compiled now: a syntax error is an InputError naming it)."""
    import json

    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    name, text = _source(spec)
    env = SandboxedEnvironment(autoescape=name.endswith((".html", ".html.j2", ".htm", ".xml", ".xml.j2")),
                               trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, indent=indent, ensure_ascii=False)
    try:
        template = env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"--template {spec}: line {exc.lineno}: {exc.message}") from None

    def write(report: ScanReport, out: TextIO) -> None:
        try:
            out.write(template.render(context(report)))
        except jinja2.exceptions.SecurityError as exc:
            raise InputError(f"--template {spec}: refused by the sandbox: {exc}") from None
        except jinja2.TemplateError as exc:
            raise InputError(f"--template {spec}: {exc}") from None

    return write


def write_html(report: ScanReport, out: TextIO) -> None:
    """``--format html``: the shipped self-contained page."""
    renderer("@html")(report, out)


def write_template(report: ScanReport, out: TextIO) -> None:
    """``--format template`` without ``--template``: refused (the CLI passes the template with :func:`renderer`)."""
    raise InputError("--format template needs --template FILE (or @html, @junit, @gitlab)")
