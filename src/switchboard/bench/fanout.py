"""Figure 2, many PBXs at once: K accounts, each with its own simulator answering in
50 ms, U users each configured and queued in one transaction while the workers run; the
time until every simulator holds its users and no push is left open. The simulators
count the pushes they serve at once: the most seen at one PBX is the figure to hold
under the per-PBX bound. Then one simulator goes down and U more users per account are
queued: the time the other K-1 take."""

from __future__ import annotations

import time

from sqlalchemy import update

from switchboard.bench import world
from switchboard.bench.clients import sims_hold, sync_summary, wait_until
from switchboard.bench.processes import Sim, Stack
from switchboard.bench.profile import profiled
from switchboard.bench.results import Figure
from switchboard.bench.sizes import Sizes
from switchboard.core.db import utcnow
from switchboard.sync.models import OPEN_JOB_STATES, SyncJob

FIRST_ACCOUNT = 100  # account numbers (and DID ranges) of this figure


def _round(stack: Stack, accounts: list[world.Account], sims: list[Sim], users: int, first: int,
           timeout: float) -> tuple[float, dict[str, int]]:
    """Queues `users` more users on every account at once; the seconds until the simulators
    that are up hold them all and their accounts have no open push."""
    for sim in sims:
        sim.reset_counters()
    rows = world.Rows()
    for account in accounts:
        world.plan_users(account, users, first=first, queued=True, rows=rows)
    up = [a.id for a, s in zip(accounts, sims) if not s.down]
    wanted = first + users
    started = time.monotonic()
    world.insert_rows(stack, rows)
    live = [s for s in sims if not s.down]
    ready = sims_hold(live, wanted)
    finished = wait_until(lambda: ready() and sync_summary(stack, up)["open_jobs"] == 0, timeout,
                          f"{len(up)} PBXs × {users} users synced")
    return finished - started, sync_summary(stack, up)


def measure(stack: Stack, sizes: Sizes, partner: world.Partner) -> list[Figure]:
    k, users = sizes.fanout_accounts, sizes.fanout_users
    sims = [stack.start_sim(latency_ms=sizes.fanout_latency_ms) for _ in range(k)]
    accounts = [world.create_account(stack, partner, FIRST_ACCOUNT + i, sim.url) for i, sim in enumerate(sims)]
    timeout = 60 + 4 * k * users * sizes.fanout_latency_ms / 1000  # one push at a time would take k·u·50 ms
    with profiled(stack, "2"):
        seconds, summary = _round(stack, accounts, sims, users, 0, timeout)
    most = max(sim.counters()["max"] for sim in sims)
    sims[-1].faults(down=True)
    sims[-1].down = True
    with profiled(stack, "2-one-down"):
        others, others_summary = _round(stack, accounts, sims, users, users, timeout)
    with stack.db.begin() as conn:  # the down PBX's pushes would retry for ever: closed
        conn.execute(update(SyncJob).where(SyncJob.account_id == accounts[-1].id,
                                           SyncJob.state.in_(OPEN_JOB_STATES))
                     .values(state="failed", finished_at=utcnow()))
    for sim in sims:
        stack.stop_sim(sim)
    common = {"engine": stack.engine_name, "mode": sizes.mode, "size": sizes.describe("fanout")}
    return [
        Figure("2. many PBXs", value=round(k * users / seconds, 1), unit="users/s", target=400,
               note=f"{k * users:,} users in {seconds:.1f} s; {summary.get('failed', 0)} failed", **common),
        Figure("2. most pushes in flight to one PBX", value=most, unit="requests", target=4, better="lower",
               note="counted by the simulators", **common),
        Figure("2. one PBX down: the others", value=round((k - 1) * users / others, 1), unit="users/s",
               target=400, note=f"{(k - 1) * users:,} users in {others:.1f} s; "
                                f"{others_summary.get('failed', 0)} failed", **common),
    ]
