"""What the figures share on the client side: signing in, waiting for the simulators to
hold what was pushed, percentiles."""

from __future__ import annotations

import math
import re
import time
from typing import Callable, Sequence

import httpx
from sqlalchemy import func, select

from switchboard.bench.processes import Sim, Stack
from switchboard.bench.world import Partner
from switchboard.sync.models import OPEN_JOB_STATES, SyncJob, SyncStatus


def api_client(stack: Stack, partner: Partner, timeout: float = 60) -> httpx.Client:
    """An API client signed in as the partner admin (keep-alive: one connection)."""
    response = httpx.post(stack.server_url + "/api/v1/auth/token",
                          json={"email": partner.email, "password": partner.password}, timeout=timeout)
    response.raise_for_status()
    return httpx.Client(base_url=stack.server_url, timeout=timeout,
                        headers={"Authorization": f"Bearer {response.json()['access_token']}"})


def console_client(stack: Stack, partner: Partner, timeout: float = 60) -> httpx.Client:
    """A browser-like client signed in to the console (session cookie)."""
    client = httpx.Client(base_url=stack.server_url, timeout=timeout)
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    response = client.post("/login", data={"email": partner.email, "password": partner.password,
                                           "csrf_token": token.group(1) if token else ""})
    if response.status_code not in (200, 303):
        raise RuntimeError(f"console sign-in answered {response.status_code}")
    return client


def wait_until(done: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Polls `done` until true; the monotonic time it first was."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
    return time.monotonic()


def sims_hold(sims: Sequence[Sim], users: int, devices: int | None = None) -> Callable[[], bool]:
    """True once every simulator holds at least `users` users (and `devices` devices)."""
    def check() -> bool:
        for sim in sims:
            counters = sim.counters()
            if counters["users"] < users or (devices is not None and counters["devices"] < devices):
                return False
        return True
    return check


def sync_summary(stack: Stack, account_ids: Sequence[str]) -> dict[str, int]:
    """Sync states of the accounts' users, and their jobs still open."""
    with stack.db.connect() as conn:
        states = dict(conn.execute(select(SyncStatus.state, func.count()).where(SyncStatus.account_id.in_(account_ids))
                                   .group_by(SyncStatus.state)).all())
        states["open_jobs"] = conn.scalar(select(func.count()).select_from(SyncJob).where(
            SyncJob.account_id.in_(account_ids), SyncJob.state.in_(OPEN_JOB_STATES))) or 0
    return states


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of values, None without any."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
