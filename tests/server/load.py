"""Mixed read/write load against a real ``hullscan server`` process (uvicorn): used by the concurrency test and by
``bench/server_load_bench.py``.

Each client is a thread with its own connection and API token, looping over a fixed mix: finding lists and
details, task lists and the quota (reads), finding state changes and token create + revoke (writes). Every
answer is checked: a 5xx, a dropped connection or a timeout is an error, and every acknowledged state change
must be what the server shows at the end.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"


def seed(data: Path, users: int, findings: int) -> tuple[list[str], list[int]]:
    """A store in ``data`` with ``users`` operators (one API token each) and ``findings`` findings."""
    from hullscan.server.auth import create_token, create_user
    from hullscan.server.db.models import FindingRow, Image
    from hullscan.server.runtime import ServerConfig, build_runtime

    rt = build_runtime(ServerConfig(data_dir=data, scheduler=False))
    tokens, ids = [], []
    with rt.session() as s:
        for i in range(users):
            tokens.append(create_token(s, create_user(s, f"load{i}", "load-password-1", "operator"), "load"))
        for i in range(0, findings, 10):
            image = Image(digest=f"sha256:{i:064x}")
            s.add(image)
            s.flush()
            for j in range(10):
                row = FindingRow(image_id=image.id, fingerprint=f"{i + j:064x}", category="vulnerability",
                                 rule_id=f"CVE-2026-{i + j:05d}", severity=("LOW", "MEDIUM", "HIGH")[j % 3],
                                 package_name=f"pkg{j}", package_version="1.0", title="a seeded finding")
                s.add(row)
                s.flush()
                ids.append(row.id)
    rt.engine.dispose()
    return tokens, ids


def start_server(data: Path, port: int, src: Path = SRC, timeout: float = 60) -> subprocess.Popen[bytes]:
    """``python -m hullscan.server server`` on ``data`` with the code of ``src``, once it answers ``/healthz``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(SRC.parent)])}
    proc = subprocess.Popen([sys.executable, "-m", "hullscan.server", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(data / "server.log", "wb"), start_new_session=True)  # noqa: SIM115
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start: " + (data / "server.log").read_text())


@dataclass
class LoadResult:
    """What the clients saw."""

    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    write_latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # "503", "ConnectError", ...
    unexpected: dict[str, int] = field(default_factory=dict)  # 4xx where a 2xx was due
    acknowledged: dict[int, str] = field(default_factory=dict)  # finding id -> last acknowledged reason

    @property
    def requests(self) -> int:
        """Requests answered or failed."""
        return len(self.latencies) + sum(self.errors.values())

    def percentile(self, p: float, writes: bool = False) -> float:
        """The ``p`` percentile latency in milliseconds."""
        data = sorted(self.write_latencies if writes else self.latencies)
        if not data:
            return 0.0
        return 1000 * data[min(len(data) - 1, int(p / 100 * len(data)))]


def run_load(base: str, tokens: list[str], finding_ids: list[int], seconds: float, seed_value: int = 1) -> LoadResult:
    """One client per token for ``seconds``; returns latencies, errors and the acknowledged state changes."""
    result = LoadResult(seconds)
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def count(bucket: dict[str, int], key: str) -> None:
        with lock:
            bucket[key] = bucket.get(key, 0) + 1

    def client(n: int, token: str) -> None:
        rnd = random.Random(seed_value * 1000 + n)
        mine = finding_ids[n::len(tokens)]  # each client changes its own findings: the last answer must stick
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            while time.monotonic() < stop:
                roll = rnd.random()
                write = roll >= 0.75
                t0 = time.perf_counter()
                try:
                    if roll < 0.45:
                        resp = http.get("/api/findings", params={"page_size": 50, "page": rnd.randint(1, 4)})
                    elif roll < 0.60:
                        resp = http.get(f"/api/findings/{rnd.choice(finding_ids)}")
                    elif roll < 0.70:
                        resp = http.get("/api/tasks")
                    elif roll < 0.75:
                        resp = http.get("/api/quota")
                    elif roll < 0.93:
                        fid, reason = rnd.choice(mine), f"client {n} at {time.time_ns()}"
                        resp = http.put(f"/api/findings/{fid}/state", json={"state": "ignored", "reason": reason})
                        if resp.status_code == 200:
                            with lock:
                                result.acknowledged[fid] = reason
                    else:
                        resp = http.post("/api/tokens", json={"name": f"load {n}"})
                        if resp.status_code == 201:
                            new = resp.json()["token"]
                            tid = next(t["id"] for t in http.get("/api/tokens").json() if t["prefix"] == new[:8])
                            resp = http.delete(f"/api/tokens/{tid}")
                except httpx.HTTPError as exc:
                    count(result.errors, type(exc).__name__)
                    continue
                elapsed = time.perf_counter() - t0
                if resp.status_code >= 500:
                    count(result.errors, str(resp.status_code))
                    continue
                if resp.status_code >= 400:
                    count(result.unexpected, f"{resp.status_code} {resp.request.method} {resp.request.url.path}")
                with lock:
                    result.latencies.append(elapsed)
                    if write:
                        result.write_latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(n, t)) for n, t in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


def lost_writes(base: str, token: str, acknowledged: dict[int, str]) -> list[int]:
    """Findings whose acknowledged state change the server does not show."""
    lost = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for fid, reason in sorted(acknowledged.items()):
            row = http.get(f"/api/findings/{fid}").json()
            if row.get("state") != "ignored" or row.get("state_reason") != reason:
                lost.append(fid)
    return lost
