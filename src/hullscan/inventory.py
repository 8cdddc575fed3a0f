"""Squash per-layer results into the image's :class:`~hullscan.model.Inventory`. Pure and small.

Rules (OCI image spec, "Applying changesets"):

* layers apply in order; a path written by a later layer replaces the lower one (topmost wins);
* a whiteout ``.wh.x`` deletes ``x`` (and everything below it) from the *lower* layers;
* an opaque marker hides everything the lower layers had below its directory;
* packages come from the files that survive in the squashed view, each attributed to the lowest layer
  since which its database file has continuously listed it (the layer that installed it); their file
  lists are resolved through the squashed view's symlinks (:func:`hullscan.owners.join_owners`: dpkg's
  ``/bin/mount`` is ``/usr/bin/mount`` on a merged-/usr image);
* sensitive-file and malware findings are kept from **every** layer: a file deleted or replaced later is
  still extractable by anyone who pulls the image, so the finding keeps its layer and gains
  ``removed_in`` (the layer that deleted or replaced it); other findings come from the squashed view only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from hullscan.model import (
    Category,
    Distro,
    FileResult,
    Finding,
    Inventory,
    Layer,
    LayerResult,
    Package,
    ScanWarning,
)
from hullscan.owners import join_owners

#: finding categories that are reported from every layer, not only from the squashed view
EVERY_LAYER = frozenset({Category.SENSITIVE, Category.MALICIOUS})

DistroResolver = Callable[[list[tuple[str, Distro]]], Distro | None]
DistroAttacher = Callable[[list[Package], Distro | None], list[Package]]


def _under(path: str, directory: str) -> bool:
    return directory == "/" or path == directory or path.startswith(directory.rstrip("/") + "/")


def _deleted_by(path: str, result: LayerResult) -> bool:
    """Whether ``result``'s layer deletes or replaces ``path`` as it was in a lower layer."""
    if path in result.written:
        return True
    if any(_under(path, w) for w in result.whiteouts):
        return True
    return any(path != d and _under(path, d) for d in result.opaque_dirs)


def squash(
    layers: Sequence[tuple[Layer, LayerResult]],
    resolve_distro: DistroResolver | None = None,
    attach_distro: DistroAttacher | None = None,
) -> Inventory:
    """The squashed inventory of ``layers`` (base first)."""
    # path -> (layer index, results for that path in that layer)
    alive: dict[str, tuple[int, list[FileResult]]] = {}
    links: dict[str, str] = {}  # the squashed view's symlinks: path -> target
    first_seen: dict[tuple[str, str], dict[tuple[str, str, str], int]] = {}  # (path, analyzer) -> pkg key -> layer index
    warnings: list[ScanWarning] = []
    written_sets = [set(r.written) for _, r in layers]

    for idx, (_layer, result) in enumerate(layers):
        warnings.extend(result.warnings)
        if result.opaque_dirs or result.whiteouts:
            for path in list(alive):
                lower_idx, _ = alive[path]
                if lower_idx < idx and (
                    any(_under(path, w) for w in result.whiteouts)
                    or any(path != d and _under(path, d) for d in result.opaque_dirs)
                ):
                    del alive[path]
            for path in [p for p in links if any(_under(p, w) for w in result.whiteouts)
                         or any(p != d and _under(p, d) for d in result.opaque_dirs)]:
                del links[path]
        for path in written_sets[idx]:
            if path in alive and alive[path][0] < idx:
                del alive[path]
            links.pop(path, None)
        links.update(result.links)
        by_path: dict[str, list[FileResult]] = {}
        for fr in result.files:
            by_path.setdefault(fr.path, []).append(fr)
            warnings.extend(fr.result.warnings)
        for path, frs in by_path.items():
            alive[path] = (idx, frs)
        # layer attribution: track when each package appeared in each database file
        for slot in [s for s in first_seen if s[0] not in alive]:
            del first_seen[slot]  # the database file was deleted: a later copy starts afresh
        for path, frs in by_path.items():
            for fr in frs:
                slot = (path, fr.analyzer)
                keys = {(p.ecosystem, p.name, p.version) for p in fr.result.packages}
                prev = first_seen.get(slot, {})
                first_seen[slot] = {k: prev.get(k, idx) for k in keys}

    layer_ids = [layer.diff_id for layer, _ in layers]
    packages: list[Package] = []
    distros: list[tuple[str, Distro]] = []
    owners: dict[str, list[str]] = {}
    facts: dict[str, list[str]] = {}
    findings: list[Finding] = []
    for path in sorted(alive):
        _idx, frs = alive[path]
        for fr in frs:
            res = fr.result
            seen = first_seen.get((path, fr.analyzer), {})
            for pkg in res.packages:
                intro = seen.get((pkg.ecosystem, pkg.name, pkg.version))
                layer_id = layer_ids[intro] if intro is not None else pkg.layer
                packages.append(dataclasses.replace(pkg, layer=layer_id))
            if res.distro is not None:
                distros.append((path, res.distro))
            for key, files in res.owners.items():
                owners.setdefault(key, []).extend(files)
            for key, values in res.facts.items():
                facts.setdefault(key, []).extend(values)
            findings.extend(f for f in res.findings if f.category not in EVERY_LAYER)

    findings.extend(_every_layer_findings(layers))

    if owners or links:
        packages = join_owners(packages, owners, links)
    distro = resolve_distro(distros) if resolve_distro else (distros[0][1] if distros else None)
    if attach_distro is not None:
        packages = attach_distro(packages, distro)
    packages.sort(key=lambda p: p.key())
    findings.sort(key=lambda f: f.sort_key())
    for values in facts.values():
        values.sort()
    return Inventory(distro=distro, packages=_dedupe(packages), findings=findings, warnings=warnings, facts=facts)


def _every_layer_findings(layers: Sequence[tuple[Layer, LayerResult]]) -> list[Finding]:
    """Sensitive/malicious findings from every layer, with ``removed_in`` where a later layer deleted or replaced
    the file. A finding repeated unchanged by the replacing layer is reported once, from the upper layer."""
    out: list[Finding] = []
    for idx, (layer, result) in enumerate(layers):
        for fr in result.files:
            for f in fr.result.findings:
                if f.category not in EVERY_LAYER:
                    continue
                loc = f.location
                path = loc.path or fr.path
                removed_in = ""
                for later_idx in range(idx + 1, len(layers)):
                    later_layer, later = layers[later_idx]
                    if _deleted_by(path, later):
                        if _repeats(f, path, later):
                            removed_in = "<repeated>"
                        else:
                            removed_in = later_layer.diff_id
                        break
                if removed_in == "<repeated>":
                    continue
                out.append(
                    dataclasses.replace(
                        f, location=dataclasses.replace(loc, path=path, layer=loc.layer or layer.diff_id, removed_in=removed_in)
                    )
                )
    return out


def _repeats(f: Finding, path: str, later: LayerResult) -> bool:
    for fr in later.files:
        if fr.path != path:
            continue
        for g in fr.result.findings:
            if g.id == f.id and g.location.line == f.location.line and g.evidence == f.evidence:
                return True
    return False


def _dedupe(packages: list[Package]) -> list[Package]:
    out: list[Package] = []
    last: tuple[str, str, str, str] | None = None
    for p in packages:
        k = p.key()
        if k != last:
            out.append(p)
        last = k
    return out
