"""The worker pushes to many PBXs at once, never more than `per_pbx` calls in flight to any
one of them, and a PBX that does not answer holds back only its own jobs."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter

from sqlalchemy import func, select, update

from switchboard.core.uow import unit_of_work
from switchboard.pbx.connector import UNREACHABLE, PbxUnreachable, PushOutcome
from switchboard.pbx.models import MivbConnection
from switchboard.sync.dispatch import PushPool
from switchboard.sync.models import SyncJob, SyncStatus
from switchboard.sync.worker import Worker
from tests.sync.conftest import FAST_RETRY, build_world


class FakePbxs:
    """PBX connectors that count the calls in flight to each PBX (by URL)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.pushed: Counter[str] = Counter()
        self.dead: dict[str, threading.Event] = {}  # url -> set when the call may fail at last
        self.together: dict[str, threading.Barrier] = {}  # url -> its first calls wait for each other
        self.started: Counter[str] = Counter()
        self.closed = 0
        self.pause = 0.0  # seconds each push takes

    def connector(self, url: str, username: str, password: str) -> "_Connector":
        return _Connector(self, url.rstrip("/"))


class _Connector:
    def __init__(self, pbxs: FakePbxs, url: str) -> None:
        self.pbxs, self.url = pbxs, url

    def push_user(self, user_key: str, state: dict) -> PushOutcome:
        pbxs = self.pbxs
        with pbxs.lock:
            pbxs.in_flight[self.url] += 1
            pbxs.most[self.url] = max(pbxs.most[self.url], pbxs.in_flight[self.url])
            pbxs.started[self.url] += 1
            barrier = pbxs.together.get(self.url)
            if barrier is not None and pbxs.started[self.url] > barrier.parties:
                barrier = None
        try:
            if self.url in pbxs.dead:
                pbxs.dead[self.url].wait(60)
                raise PbxUnreachable(UNREACHABLE)
            if barrier is not None:
                barrier.wait(30)  # raises unless `parties` calls are in flight together
            if pbxs.pause:
                time.sleep(pbxs.pause)
            with pbxs.lock:
                pbxs.pushed[self.url] += 1
            return PushOutcome(user={"user_key": user_key}, phones=[], errors=[])
        finally:
            with pbxs.lock:
                pbxs.in_flight[self.url] -= 1

    def remove_user(self, user_key: str) -> bool:
        return True

    def close(self) -> None:
        self.pbxs.closed += 1


def _own_pbx(world, url: str) -> None:
    with unit_of_work(world.factory) as session:
        session.execute(update(MivbConnection).where(MivbConnection.account_id == world.account_id)
                        .values(url=url, url_key=url))


def _states(world) -> Counter:
    with unit_of_work(world.factory) as session:
        return Counter(dict(session.execute(select(SyncJob.state, func.count()).where(
            SyncJob.account_id == world.account_id).group_by(SyncJob.state)).all()))


def _wait_until(predicate, what: str, timeout: float = 90, detail=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {detail() if detail else None}")
        time.sleep(0.05)


def test_the_pool_never_has_more_than_per_pbx_calls_in_flight_to_one_pbx():
    pool = PushPool(threads=8, per_pbx=3)
    lock, in_flight, most = threading.Lock(), Counter(), Counter()
    stuck = threading.Event()

    def call(pbx: str):
        with lock:
            in_flight[pbx] += 1
            most[pbx] = max(most[pbx], in_flight[pbx])
        if pbx == "dead":
            stuck.wait(30)
        with lock:
            in_flight[pbx] -= 1
        return pbx

    for n in range(10):
        pool.submit("dead", n, lambda: call("dead"))
    for n in range(40):
        pool.submit(f"pbx-{n % 4}", n, lambda n=n: call(f"pbx-{n % 4}"))
    done = []
    while len(done) < 40:  # every call to the live PBXs ends while the dead one holds its places
        done += pool.collect(timeout=5)
    assert sorted(item for item, _ in done) == list(range(40))
    assert pool.in_flight("dead") == 3 and pool.outstanding == 10
    stuck.set()
    while pool.outstanding:
        done += pool.collect(timeout=5)
    pool.close()
    assert max(most.values()) <= 3 and most["dead"] == 3


def _fake_runtime(fake: FakePbxs, runtime):
    return dataclasses.replace(runtime, connector_factory=fake.connector)


def test_a_worker_keeps_to_per_pbx_calls_in_flight_and_reuses_one_client_per_pbx(committed_factory, runtime, sim,
                                                                                  sim_api):
    fake = FakePbxs()
    world = build_world(committed_factory, runtime, sim)
    users = [world.configured_user("Telephony") for _ in range(15)]
    _own_pbx(world, "http://pbx-a.invalid")  # the users are pushed there, to the fake PBX
    runtime = _fake_runtime(fake, runtime)
    fake.together["http://pbx-a.invalid"] = threading.Barrier(3)  # proof that 3 go at once
    worker = Worker(world.factory, runtime, retry=FAST_RETRY, threads=8, per_pbx=3, batch_size=50)
    try:
        assert worker.run_once() == len(users)
    finally:
        worker.close()
    assert _states(world) == Counter(succeeded=len(users))
    assert fake.most["http://pbx-a.invalid"] == 3  # the barrier let 3 through together, never more
    assert fake.closed == 1  # one client for the PBX, closed with the worker


def test_a_dead_pbx_does_not_hold_back_the_others(committed_factory, runtime, sim, sim_api):
    fake = FakePbxs()
    dead, alive = build_world(committed_factory, runtime, sim), build_world(committed_factory, runtime, sim)
    dead_users = [dead.configured_user("Telephony") for _ in range(8)]  # queued first: claimed first
    alive_users = [alive.configured_user("Telephony") for _ in range(12)]
    _own_pbx(dead, "http://pbx-dead.invalid")
    _own_pbx(alive, "http://pbx-alive.invalid")
    fake.dead["http://pbx-dead.invalid"] = threading.Event()
    runtime = _fake_runtime(fake, runtime)
    worker = Worker(dead.factory, runtime, retry=FAST_RETRY, threads=4, per_pbx=2, batch_size=5)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), kwargs={"idle_seconds": 0.05})
    thread.start()
    try:
        _wait_until(lambda: _states(alive)["succeeded"] == len(alive_users), "the live PBX's pushes",
                    detail=lambda: (_states(alive), _states(dead), dict(fake.in_flight), worker.pool.outstanding, __import__('traceback').format_stack(__import__('sys')._current_frames()[thread.ident])))
        assert fake.in_flight["http://pbx-dead.invalid"] == 2  # still waiting for the dead one
        assert fake.most["http://pbx-dead.invalid"] == 2 and _states(dead)["succeeded"] == 0
    finally:
        fake.dead["http://pbx-dead.invalid"].set()
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    # Nothing of the dead PBX's is lost: every job waits for its next attempt.
    assert _states(dead) == Counter(queued=len(dead_users))
    with unit_of_work(dead.factory) as session:
        states = Counter(session.scalars(select(SyncStatus.state).where(SyncStatus.account_id == dead.account_id)))
    assert states["synced"] == 0 and sum(states.values()) == len(dead_users)
