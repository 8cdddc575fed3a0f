"""Human-readable tables (Rich). Secrets are already masked by the analyzers; nothing here unmasks."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from hullscan.model import Category, Finding, ScanReport, Severity

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.NEGLIGIBLE: "dim",
    Severity.UNKNOWN: "dim",
}


def write(report: ScanReport, out: TextIO) -> None:
    """Write the tables to ``out`` (colour only on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=max(120, Console(file=out).width), highlight=False, soft_wrap=False)
    a = report.artifact
    layer_no = {layer.diff_id: layer.index + 1 for layer in report.layers if layer.diff_id}
    os_name = report.os.pretty_name or f"{report.os.id} {report.os.version_id}" if report.os else "unknown"
    console.print(f"[bold]{a.name}[/] ({a.kind}{', ' + a.digest if a.digest else ''})")
    console.print(
        f"platform {a.platform}  os {os_name}  layers {len(report.layers)}  packages {len(report.packages)}"
        f"  findings {len(report.findings)}  suppressed {len(report.suppressed)}"
    )
    stages_ran = any(p.kind == "stage" for p in report.plugins)
    if not stages_ran and not report.findings:
        table = Table(title="Packages", show_lines=False)
        for col in ("Package", "Version", "Type", "Source", "Layer", "Path"):
            table.add_column(col)
        for p in report.packages:
            src = f"{p.source_name} {p.source_version}".strip() if p.source_name and p.source_name != p.name else ""
            table.add_row(p.name, p.version, p.ecosystem, src, str(layer_no.get(p.layer, "")), p.path)
        console.print(table)
    else:
        counts = Counter(p.ecosystem for p in report.packages)
        console.print("packages by type: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
    for category in Category:
        found = [f for f in report.findings if f.category == category]
        if found:
            console.print(_findings_table(category, found, layer_no))
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    if report.warnings:
        console.print(f"[yellow]{len(report.warnings)} warning(s):[/]")
        for w in report.warnings[:25]:
            console.print(f"  {w.code}: {w.message}", markup=False)
        if len(report.warnings) > 25:
            console.print(f"  ... {len(report.warnings) - 25} more (see --format json)")
    for plugin in report.plugins:
        if plugin.status == "failed":
            console.print(f"[red]plugin {plugin.name} failed:[/] {plugin.message}", markup=True)
    sev = Counter(f.severity.value for f in report.findings)
    summary = ", ".join(f"{s.value} {sev[s.value]}" for s in reversed(list(Severity)) if sev[s.value])
    console.print(f"total: {len(report.findings)} finding(s)" + (f" ({summary})" if summary else "")
                  + (f"; {len(report.suppressed)} suppressed" if report.suppressed else ""))


def _findings_table(category: Category, findings: list[Finding], layer_no: dict[str, int]):  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title=f"{category.value.capitalize()} ({len(findings)})", show_lines=False)
    if category == Category.VULNERABILITY:
        for col in ("Package", "Installed", "Fixed", "Status", "Severity", "ID", "Title"):
            table.add_column(col, overflow="fold")
        for f in findings:
            v = f.vuln
            table.add_row(
                v.package_name if v else "", v.installed_version if v else "", ", ".join(v.fixed_versions) if v else "",
                v.fix_status.value if v else "", f"[{_STYLE[f.severity]}]{f.severity.value}[/]", f.id, f.title[:80],
            )
        return table
    for col in ("Severity", "ID", "Title", "Location", "Layer", "Evidence"):
        table.add_column(col, overflow="fold")
    for f in findings:
        loc = f.location
        where = f"{loc.path}:{loc.line}" if loc.line else loc.path
        layer = str(layer_no.get(loc.layer, "")) if loc.layer else ""
        if loc.removed_in:
            layer += f" (removed in {layer_no.get(loc.removed_in, '?')}: still extractable)"
        table.add_row(f"[{_STYLE[f.severity]}]{f.severity.value}[/]", f.id, f.title, where, layer, f.evidence[:80])
    return table
