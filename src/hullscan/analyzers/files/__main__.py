"""Rebuild the JSON sidecars of YAML rule files: ``python -m hullscan.analyzers.files secrets.yaml``.

Run it after editing a rule file that ships a sidecar (see :mod:`hullscan.analyzers.files`); it writes
``hullscan/rules/<stem>.json`` next to the YAML (the package must be installed from a source tree).
"""

from __future__ import annotations

import sys
from importlib import resources

from hullscan.analyzers.files import build_sidecar, sidecar_name


def main(names: list[str]) -> int:
    """Write the sidecar of every named rule file; returns the exit status."""
    if not names:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    rules = resources.files("hullscan").joinpath("rules")
    for name in names:
        target = rules.joinpath(sidecar_name(name))
        with resources.as_file(target) as path:
            path.write_text(build_sidecar(name), encoding="utf-8")
        print(f"wrote {sidecar_name(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
