"""Password logins: throttled per account and per client address (429 with Retry-After, before any hashing),
the same cost for an unknown user, and bad Basic credentials from many anonymous threads don't slow a token."""

from __future__ import annotations

import base64
import os
import signal
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from hullscan.server.logins import LoginGuard
from hullscan.server.runtime import Runtime
from tests.helpers.registry_server import free_port
from tests.server.load import seed, start_server


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_wrong_passwords_are_throttled_per_account(api: Any, rt: Runtime) -> None:
    rt.logins = LoginGuard(account_limit=4, address_limit=100)
    codes = [api.get("/api/users/me", headers=basic("admin", f"wrong{i}")).status_code for i in range(60)]
    assert codes[:4] == [401] * 4 and set(codes[4:]) == {429}
    resp = api.get("/api/users/me", headers=basic("admin", "wrong"))
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert resp.json()["code"] == "TooManyLogins"
    # the account's token still works: only password guessing is held back
    assert api.get("/api/users/me").status_code == 200


def test_wrong_passwords_are_throttled_per_client_address(api: Any, rt: Runtime) -> None:
    rt.logins = LoginGuard(account_limit=4, address_limit=6)
    codes = [api.get("/api/users/me", headers=basic(f"someone{i}", "wrong-password")).status_code for i in range(60)]
    assert codes[:6] == [401] * 6 and set(codes[6:]) == {429}
    # the default limits: 10 per account, 30 per address within 15 minutes
    assert (LoginGuard().account_limit, LoginGuard().address_limit, LoginGuard().window) == (10, 30, 900.0)


def test_an_unknown_user_costs_as_much_as_a_real_one(api: Any) -> None:
    def took(user: str) -> float:
        t0 = time.perf_counter()
        assert api.get("/api/users/me", headers=basic(user, "not-the-password")).status_code == 401
        return time.perf_counter() - t0

    took("nobody-warmup")  # the dummy hash is made once
    real = statistics.median(took("admin") for _ in range(3))
    unknown = statistics.median(took(f"nobody{i}") for i in range(3))
    assert unknown > real / 3, (real, unknown)  # both pay one bcrypt check (main: ~6 ms vs ~800 ms)


def test_bad_basic_credentials_do_not_slow_token_users(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tokens, _ = seed(data, users=1, findings=10)
    port = free_port()
    proc = start_server(data, port)
    stop = threading.Event()
    answers: list[int] = []

    def attacker(n: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            i = 0
            while not stop.is_set():
                answers.append(http.get("/api/users/me", headers=basic(f"load{n % 2}-{i}", "guess")).status_code)
                i += 1

    try:
        threads = [threading.Thread(target=attacker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        # until the address is throttled (a slow machine hashes fewer guesses a second), then the flood goes on
        deadline = time.monotonic() + 60
        while answers.count(429) <= 40 and time.monotonic() < deadline:
            time.sleep(0.1)
        latencies = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {tokens[0]}"},
                          timeout=60) as http:
            for _ in range(20):
                t0 = time.perf_counter()
                assert http.get("/api/users/me").status_code == 200
                latencies.append(time.perf_counter() - t0)
        stop.set()
        for t in threads:
            t.join()
    finally:
        stop.set()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert answers.count(429) > answers.count(401)  # most guesses refused before any hashing
    assert answers.count(401) <= 31
    assert statistics.median(latencies) < 1.0, latencies  # main: ~2.7 s
