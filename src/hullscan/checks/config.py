"""Image-level checks over the image config and the squashed inventory.

* :func:`baseline_config` (scanner ``baseline``): runs as root, no HEALTHCHECK, setuid/setgid files that no
  package installed (the ``setuid`` fact of the permissions analyzer against ``Package.files``);
* :func:`secrets_in_config` (scanner ``secret``): the secret rules over ``Env``, labels and history lines.
"""

from __future__ import annotations

from hullscan.model import Finding, Location
from hullscan.stages import ScanContext

#: HEALTHCHECK values that mean "none"
_NO_HEALTHCHECK = ((), ("NONE",))


def _is_root(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name in ("", "root", "0")


def baseline_config(ctx: ScanContext) -> list[Finding]:
    """Stage (scanner ``baseline``): root user, missing HEALTHCHECK, unowned setuid/setgid files.

    The config checks need an image config: a root filesystem scanned as a directory has none, so they are
    skipped there (with a note).
    """
    from hullscan.analyzers.files.baseline import finding

    out: list[Finding] = []
    if ctx.raw_config:
        if _is_root(ctx.config.user):
            out.append(finding("baseline-root-user", f"config.User={ctx.config.user!r}", "config.User",
                               detail="the container process runs as root"))
        if tuple(ctx.config.healthcheck) in _NO_HEALTHCHECK:
            out.append(finding("baseline-no-healthcheck", f"config.Healthcheck={list(ctx.config.healthcheck)!r}", "config.Healthcheck"))
    else:
        ctx.notes.append("baseline: no image config (root filesystem scan): USER and HEALTHCHECK checks skipped")
    from hullscan.owners import file_owners

    owned = file_owners(ctx.inventory.packages)  # package files resolved through the image's symlinks
    for path in sorted(set(ctx.inventory.facts.get("setuid", []))):
        if path not in owned:
            out.append(finding("baseline-setuid-unowned", f"setuid/setgid file {path}", path,
                               detail="no installed package lists this file"))
    return out


def secrets_in_config(ctx: ScanContext) -> list[Finding]:
    """Stage (scanner ``secret``): secrets in ``Env``, labels and history ``created_by`` (masked)."""
    import dataclasses

    from hullscan.analyzers.files.secrets import finding_for, load_rules, scan_text

    config = (ctx.options.plugin_settings.get("secret") or {}).get("config")
    rules = load_rules(str(config) if config else None)
    out: list[Finding] = []
    places: list[tuple[str, str]] = [(f"config.Env[{i}]", e) for i, e in enumerate(ctx.config.env)]
    places += [(f"config.Labels[{k}]", f"{k}={v}") for k, v in ctx.config.labels]
    places += [(f"history[{i}]", c) for i, (c, _e) in enumerate(ctx.config.history)]
    for where, text in places:
        for m in scan_text(text, rules):
            f = finding_for(m, where, "", where=where)
            out.append(dataclasses.replace(f, location=Location(path=where)))
    return out
