"""Server under load: 50 clients mixing reads and writes for 30 s against a real ``hullscan server`` (uvicorn) on
the embedded SQLite store. Prints requests per second, p50/p99 latency (all requests and writes only), errors
(5xx, dropped connections, timeouts) and acknowledged writes the server lost. The goal: 0 errors, p99 < 500 ms.

The mix per client (see tests/server/load.py): 45 % finding lists, 15 % finding details, 10 % task lists,
5 % quota, 18 % finding state changes, 7 % API token create + list + revoke.

``--baseline SRC`` runs the same load against the code of another checkout's ``src`` folder (for example the
main branch) and prints both side by side. Usage:
``python bench/server_load_bench.py [--clients 50] [--seconds 30] [--baseline /path/to/other/src]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.helpers.registry_server import free_port
from tests.server.load import SRC, LoadResult, lost_writes, run_load, seed, start_server


def measure(src: Path, clients: int, seconds: float) -> tuple[LoadResult, int]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        tokens, findings = seed(data, clients, 500)
        port = free_port()
        proc = start_server(data, port, src)
        try:
            base = f"http://127.0.0.1:{port}"
            result = run_load(base, tokens, findings, seconds)
            lost = len(lost_writes(base, tokens[0], result.acknowledged))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        return result, lost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--baseline", type=Path, help="src folder of another checkout to compare with")
    args = ap.parse_args()
    runs = [("this tree", SRC)] + ([("baseline", args.baseline)] if args.baseline else [])
    rows = []
    for name, src in runs:
        print(f"{name}: {args.clients} clients for {args.seconds:g} s ({src}) ...", flush=True)
        result, lost = measure(src, args.clients, args.seconds)
        rows.append((name, result, lost))
    print(f"\n{'':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'w p50':>8} {'w p99':>8} {'errors':>7} "
          f"{'lost':>5}  error kinds")
    for name, r, lost in rows:
        errors = sum(r.errors.values())
        print(f"{name:12} {r.requests / r.seconds:8.1f} {r.percentile(50):8.1f} {r.percentile(99):8.1f} "
              f"{r.percentile(50, True):8.1f} {r.percentile(99, True):8.1f} {errors:7d} {lost:5d}  {r.errors or ''}"
              f"{' unexpected ' + str(r.unexpected) if r.unexpected else ''}")
    print(f"\ngoal: 0 errors, p99 < 500 ms ({args.clients} clients, {args.seconds:g} s, SQLite)")


if __name__ == "__main__":
    main()
