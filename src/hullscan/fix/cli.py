"""``hullscan fix IMAGE``: a thin adapter over :func:`hullscan.fix.service.fix_image`.

Exit 0 when a patched image was written or pushed; 3 with the refusal's reason when nothing was (see
:mod:`hullscan.fix.errors`); 2 for bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: Any) -> None:
    """Add ``hullscan fix`` to the Typer app."""

    @app.command("fix")
    def fix_cmd(
        image: Annotated[str, typer.Argument(help="Image: registry reference, OCI layout dir, docker-save/OCI archive.")],
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
        platform: Annotated[str | None, typer.Option(help="Platform in an image index, e.g. linux/arm64.")] = None,
        username: Annotated[str | None, typer.Option(envvar="HULLSCAN_USERNAME", help="Registry user name.")] = None,
        password: Annotated[str | None, typer.Option(envvar="HULLSCAN_PASSWORD", help="Registry password or token.")] = None,
        insecure: Annotated[bool, typer.Option(help="Plain http and no TLS verification for the registry.")] = False,
        ca_bundle: Annotated[Path | None, typer.Option(help="PEM file of extra CA certificates for the registry.")] = None,
        timeout: Annotated[float, typer.Option(help="Registry and repository request timeout in seconds.")] = 60.0,
        cache_dir: Annotated[Path | None, typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")] = None,
    ) -> None:
        """Patch the image's OS packages that have fixed versions into one new layer; write or push the result."""
        from hullscan.fix.service import FixOptions, fix_image, replace
        from hullscan.options import RegistryOptions, ScanOptions

        if (output is None) == (push is None):
            from hullscan.errors import InputError

            raise InputError("give exactly one of --output ARCHIVE and --push REF")
        scan = ScanOptions(registry=RegistryOptions(username=username, password=password, insecure=insecure,
                                                    ca_bundle=str(ca_bundle) if ca_bundle else None, timeout=timeout))
        if platform:
            from hullscan.image.source import parse_platform

            scan = replace(scan, platform=parse_platform(platform))
        if db is not None:
            scan = replace(scan, db_path=db)
        if cache_dir is not None:
            scan = replace(scan, cache_dir=cache_dir)
        opts = FixOptions(scan=scan, apt_sources=list(apt_source or []), apk_repositories=list(apk_repository or []),
                          keyrings=list(keyring or []), output=output, push=push, tag_suffix=tag_suffix,
                          overwrite=overwrite)
        result = fix_image(image, opts)
        doc = result.to_dict()
        if log is not None:
            log.write_text(json.dumps(doc, indent=2) + "\n")
        if vex is not None and result.vex is not None:
            vex.write_text(json.dumps(result.vex, indent=2) + "\n")
        _summary(doc)
        if result.status != "patched":
            sys.stderr.write(f"hullscan: error: fix refused: {result.reason}: {result.message}\n")
            sys.exit(3)  # typer.Exit's code is lost under standalone_mode=False


def _summary(doc: dict[str, Any]) -> None:
    """A short human summary on stdout."""
    out = [f"{doc['target']}: {doc['status']}"]
    for u in doc["upgraded"]:
        out.append(f"  upgraded {u['name']} {u['old'] or '(new)'} -> {u['new']}")
    for u in doc["unfixed"]:
        out.append(f"  not fixed {u['package']} {u['installed']}: {u['reason']}: {u['message']}")
    if doc["status"] == "patched":
        counts = lambda d: ", ".join(f"{k} {v}" for k, v in d.items() if v) or "none"
        out.append(f"  vulnerabilities before: {counts(doc['before'])}; after: {counts(doc['after'])}")
        out.append(f"  image {doc['patched_digest']} -> {doc['pushed_to'] or doc['written_to']}")
        if doc["skipped_scripts"]:
            out.append(f"  maintainer scripts not run: {', '.join(doc['skipped_scripts'])}")
    typer.echo("\n".join(out))
