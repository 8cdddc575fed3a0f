"""``hullscan fix IMAGE``: a thin adapter over :func:`hullscan.fix.service.fix_image`.

The image options are the ``image_source`` group ``hullscan image`` uses (reference or archive, registry
credentials, TLS, limits, cache). Exit 0 when a patched image was written or pushed; 3 with the refusal's reason
when nothing was (see :mod:`hullscan.fix.errors`); 2 for bad input.
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hullscan.cli.groups import ImageInput, command, image_source


def register(app: typer.Typer) -> None:
    """Add ``hullscan fix``."""
    command(app, "fix", source=image_source)(fix_cmd)


def fix_cmd(
    source: ImageInput,
    apt_source: Annotated[list[str] | None, typer.Option("--apt-source", help="sources.list one-line entry 'deb URL SUITE COMPONENT...' (repeatable; default: the image's own, then the distribution's mirrors).")] = None,
    apk_repository: Annotated[list[str] | None, typer.Option("--apk-repository", help="apk repository URL (repeatable; default: the image's /etc/apk/repositories).")] = None,
    keyring: Annotated[list[Path] | None, typer.Option("--keyring", help="Extra trusted OpenPGP keyring or apk RSA public key (repeatable).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the patched image as an OCI archive.")] = None,
    push: Annotated[str | None, typer.Option("--push", help="Push the patched image to REF (a repository without tag: <tag><suffix>).")] = None,
    tag_suffix: Annotated[str, typer.Option("--tag-suffix", help="Suffix of the patched image's tag.")] = "-patched",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow pushing over the original image's tag.")] = False,
    log: Annotated[Path | None, typer.Option("--log", help="Write the fix log (JSON) here.")] = None,
    vex: Annotated[Path | None, typer.Option("--vex", help="Write the OpenVEX document of the fixed vulnerabilities here.")] = None,
    db: Annotated[Path | None, typer.Option(envvar="HULLSCAN_DB", help="Vulnerability database file.")] = None,
) -> None:
    """Patch the image's OS packages that have fixed versions into one new layer; write or push the result."""
    from hullscan.errors import InputError
    from hullscan.fix.service import FixOptions, fix_image

    if (output is None) == (push is None):
        raise InputError("give exactly one of --output ARCHIVE and --push REF")
    scan = source.scan_options(frozenset({"vuln"}), **({"db_path": db} if db is not None else {}))
    opts = FixOptions(scan=scan, apt_sources=list(apt_source or []), apk_repositories=list(apk_repository or []),
                      keyrings=list(keyring or []), output=output, push=push, tag_suffix=tag_suffix,
                      overwrite=overwrite)
    result = fix_image(source.target, opts)
    doc = result.to_dict()
    if log is not None:
        log.write_text(json.dumps(doc, indent=2) + "\n")
    if vex is not None and result.vex is not None:
        vex.write_text(json.dumps(result.vex, indent=2) + "\n")
    _summary(doc)
    if result.status != "patched":
        sys.stderr.write(f"hullscan: error: fix refused: {result.reason}: {result.message}\n")
        sys.exit(3)


def _summary(doc: dict[str, Any]) -> None:
    """A short human summary on stdout."""

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items() if v) or "none"

    out = [f"{doc['target']}: {doc['status']}"]
    out += [f"  upgraded {u['name']} {u['old'] or '(new)'} -> {u['new']}" for u in doc["upgraded"]]
    out += [f"  not fixed {u['package']} {u['installed']}: {u['reason']}: {u['message']}" for u in doc["unfixed"]]
    if doc["status"] == "patched":
        out.append(f"  vulnerabilities before: {counts(doc['before'])}; after: {counts(doc['after'])}")
        out.append(f"  image {doc['patched_digest']} -> {doc['pushed_to'] or doc['written_to']}")
        if doc["skipped_scripts"]:
            out.append(f"  maintainer scripts not run: {', '.join(doc['skipped_scripts'])}")
    typer.echo("\n".join(out))
