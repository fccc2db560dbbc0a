"""Figures 4 and 5, the API and the console at scale: many users in many accounts (bulk
inserts), the largest account's configured users queued for the worker, then 8 clients
at once for a fixed time, each going round the five requests below while the workers
push. Latency is measured at the client over loopback (server time plus well under a
millisecond), the percentiles per request kind; the rate is requests per second."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import httpx

from switchboard.bench import world
from switchboard.bench.clients import api_client, console_client, percentile, sync_summary
from switchboard.bench.processes import Stack
from switchboard.bench.profile import profiled
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes

FIRST_ACCOUNT = 10
OTHERS_CONFIGURED_EVERY = 4  # in the other accounts, one user in 4 has the MiVB service
CONSOLE_PAGE_ROWS = 25


@dataclass
class Kind:
    figure: str
    target: float | None
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    first_failure: str = ""


@dataclass
class Scale:
    big: world.Account
    configured: list[str]
    users: int
    seeded_seconds: float
    # which configured user gets the next desk phone (shared by the clients: each user gets
    # one more phone in turn, never past the PBX's 8)
    next_phone: Iterator[int] = field(default_factory=itertools.count)


def seed(stack: Stack, sizes: Sizes, partner: world.Partner) -> Scale:
    """The accounts (all on one shared simulator) and their users; the largest account's
    configured users are queued last, just before the load starts."""
    started = time.monotonic()
    sim = stack.start_sim()
    big = world.create_account(stack, partner, FIRST_ACCOUNT, sim.url, shared=True)
    others = [world.create_account(stack, partner, FIRST_ACCOUNT + 1 + i, sim.url, shared=True)
              for i in range(sizes.scale_accounts - 1)]
    rest = sizes.scale_users - sizes.scale_configured
    for i, account in enumerate(others):
        share = rest // len(others) + (1 if i < rest % len(others) else 0)
        world.bulk_users(stack, account, share, configured_every=OTHERS_CONFIGURED_EVERY)
    configured = world.bulk_users(stack, big, sizes.scale_configured, queued=True)
    return Scale(big, configured, sizes.scale_users, time.monotonic() - started)


def _requests(scale: Scale, rng: random.Random) -> dict[str, Callable[[httpx.Client, httpx.Client], httpx.Response]]:
    base = f"/api/v1/accounts/{scale.big.id}"
    pages = max(1, len(scale.configured) // CONSOLE_PAGE_ROWS)

    def user() -> str:
        return rng.choice(scale.configured)

    return {
        "search": lambda api, _: api.get(f"{base}/users", params={"search": rng.choice(world.LAST_NAMES).lower(),
                                                                   "limit": 50}),
        "config": lambda api, _: api.get(f"{base}/users/{user()}/mivb"),
        "add_phone": lambda api, _: api.post(
            f"{base}/users/{scale.configured[next(scale.next_phone) % len(scale.configured)]}/mivb/phones",
            json={"type": "desk_phone", "model": world.DESK_MODEL}),
        "console_list": lambda _, console: console.get(f"/accounts/{scale.big.id}/users",
                                                       params={"page": rng.randint(1, pages)}),
        "console_user": lambda _, console: console.get(f"/accounts/{scale.big.id}/users/{user()}"),
    }


def load(stack: Stack, sizes: Sizes, partner: world.Partner, scale: Scale) -> tuple[dict[str, Kind], float]:
    kinds = {"search": Kind("4. users list with search", 50), "config": Kind("4. user MiVB configuration", 30),
             "add_phone": Kind("4. add a desk phone (allocation)", 100),
             "console_list": Kind("5. console users list", 80), "console_user": Kind("5. console user page", 80)}
    clients = [(api_client(stack, partner), console_client(stack, partner)) for _ in range(sizes.load_clients)]
    lock = threading.Lock()
    start = threading.Barrier(len(clients) + 1)
    stop = threading.Event()

    def client(number: int) -> None:
        requests = _requests(scale, random.Random(number))
        order = list(requests)
        api, console = clients[number]
        start.wait()
        i = number
        while not stop.is_set():
            name = order[i % len(order)]
            i += 1
            began = time.perf_counter()
            response = requests[name](api, console)
            took = (time.perf_counter() - began) * 1000
            ok = response.status_code < 400
            with lock:
                kind = kinds[name]
                kind.latencies.append(took)
                if not ok:
                    kind.failures += 1
                    kind.first_failure = kind.first_failure or f"{response.status_code} {response.text[:120]}"

    threads = [threading.Thread(target=client, args=(i,), name=f"load-{i}") for i in range(len(clients))]
    for thread in threads:
        thread.start()
    with profiled(stack, "4"):
        start.wait()
        started = time.monotonic()
        time.sleep(sizes.load_seconds)
        stop.set()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
    for api, console in clients:
        api.close()
        console.close()
    return kinds, seconds


def measure(stack: Stack, sizes: Sizes, partner: world.Partner) -> list[Figure]:
    scale = seed(stack, sizes, partner)
    before = sync_summary(stack, [scale.big.id])["open_jobs"]
    kinds, seconds = load(stack, sizes, partner, scale)
    after = sync_summary(stack, [scale.big.id])["open_jobs"]
    stack.stop_sims()
    common = {"engine": stack.engine_name, "mode": sizes.mode, "size": sizes.describe("scale")}
    figures = []
    for name, kind in kinds.items():
        p95, rate = percentile(kind.latencies, 95), len(kind.latencies) / seconds
        note = f"p50 {percentile(kind.latencies, 50) or 0:.1f} ms, {len(kind.latencies)} requests"
        if kind.failures:
            note += f", {kind.failures} failed (first: {kind.first_failure})"
        if name == "console_list":
            note += f", pages of {CONSOLE_PAGE_ROWS} rows"
        figures.append(Figure(f"{kind.figure} p95", value=round(p95, 1) if p95 is not None else None, unit="ms",
                              target=kind.target, better="lower", note=note, **common))
        figures.append(Figure(f"{kind.figure}, rate", value=round(rate, 1), unit="requests/s", **common))
    figures[0].note += (f"; seeded in {scale.seeded_seconds:.0f} s; pushes open {before} before the load, "
                        f"{after} after")
    return figures
