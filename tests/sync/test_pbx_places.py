"""Every worker process together keeps to a PBX's limit of pushes in flight (issue 13,
figure 2: two workers of four calls each had eight in flight to one PBX): the places are
rows of sync_pbx_slots, taken, renewed and given back by the workers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from switchboard.core.db import utcnow
from switchboard.core.uow import unit_of_work
from switchboard.sync.dispatch import PushPool
from switchboard.sync.models import PbxSlot, PbxWaiter
from switchboard.sync.slots import Places
from switchboard.sync.worker import Worker
from tests.sync.conftest import FAST_RETRY, build_world
from tests.sync.test_push_concurrency import FakePbxs, _fake_runtime, _own_pbx, _states, _wait_until

LEASE = timedelta(seconds=30)


def _adjust(factory, places: Places, wanted: dict[str, int], now=None) -> dict[str, int]:
    with unit_of_work(factory) as session:
        return places.adjust(session, wanted, now or utcnow())


def test_two_workers_share_the_places_of_a_pbx(committed_factory):
    pbx = "http://places-a.invalid"
    first, second = Places("first", 4, LEASE), Places("second", 4, LEASE)
    assert _adjust(committed_factory, first, {pbx: 4}) == {pbx: 4}  # alone: every place
    assert _adjust(committed_factory, second, {pbx: 4}) == {}  # every place is taken: it waits
    with unit_of_work(committed_factory) as session:
        assert session.scalars(select(PbxWaiter.holder).where(PbxWaiter.pbx == pbx)).all() == ["second"]
    assert _adjust(committed_factory, first, {pbx: 4}) == {pbx: 2}  # it sees the waiter: gives back its half
    assert _adjust(committed_factory, second, {pbx: 4}) == {pbx: 2}
    assert _adjust(committed_factory, first, {pbx: 4}) == {pbx: 2}  # no more than its share
    with unit_of_work(committed_factory) as session:
        assert session.scalars(select(PbxWaiter.holder).where(PbxWaiter.pbx == pbx)).all() == []
    assert _adjust(committed_factory, first, {pbx: 0}) == {}  # nothing more for that PBX
    assert _adjust(committed_factory, second, {pbx: 4}) == {pbx: 4}  # alone again
    with unit_of_work(committed_factory) as session:
        holders = Counter(session.scalars(select(PbxSlot.holder).where(PbxSlot.pbx == pbx)))
    assert holders == Counter(second=4)


def test_a_place_is_given_back_only_once_its_call_has_ended(committed_factory):
    """A worker above its share keeps the places its calls in flight still use: given back
    at once, the other worker pushed in them while the calls were still at the PBX (figure 2
    saw 6 requests at once at one PBX whose limit is 4)."""
    pbx = "http://places-f.invalid"
    first, second = Places("first", 4, LEASE), Places("second", 4, LEASE)

    def adjust(places: Places, wanted: dict[str, int], in_flight: int) -> dict[str, int]:
        with unit_of_work(committed_factory) as session:
            return places.adjust(session, wanted, utcnow(), {pbx: in_flight})

    def holders() -> Counter:
        with unit_of_work(committed_factory) as session:
            return Counter(session.scalars(select(PbxSlot.holder).where(PbxSlot.pbx == pbx, PbxSlot.holder.is_not(None))))

    assert adjust(first, {pbx: 4}, 0) == {pbx: 4}
    assert adjust(second, {pbx: 4}, 0) == {}  # it waits
    assert adjust(first, {pbx: 4}, 4) == {pbx: 2}  # its share is 2: no new call above it...
    assert holders() == Counter(first=4)  # ...but its 4 calls still at the PBX keep their places
    assert adjust(second, {pbx: 4}, 0) == {}  # nothing free: it still waits
    assert adjust(first, {pbx: 4}, 3) == {pbx: 2} and holders() == Counter(first=3)  # one call ended
    assert adjust(first, {pbx: 4}, 1) == {pbx: 2} and holders() == Counter(first=2)  # never under its share
    assert adjust(second, {pbx: 4}, 0) == {pbx: 2}
    assert holders() == Counter(first=2, second=2)


def test_a_worker_takes_no_more_places_than_it_asks_for(committed_factory):
    pbx = "http://places-d.invalid"
    one, two = Places("one", 4, LEASE), Places("two", 4, LEASE)
    assert _adjust(committed_factory, one, {pbx: 1}) == {pbx: 1}
    assert _adjust(committed_factory, two, {pbx: 4}) == {pbx: 2}  # its share of two sharers
    assert _adjust(committed_factory, one, {pbx: 4}) == {pbx: 2}


def test_the_places_of_a_worker_that_died_free_when_their_lease_runs_out(committed_factory):
    pbx = "http://places-b.invalid"
    dead, alive = Places("dead", 4, LEASE), Places("alive", 4, LEASE)
    assert _adjust(committed_factory, dead, {pbx: 4}) == {pbx: 4}
    assert _adjust(committed_factory, alive, {pbx: 4}, utcnow() + LEASE - timedelta(seconds=5)) == {}
    assert _adjust(committed_factory, alive, {pbx: 4}, utcnow() + LEASE + timedelta(seconds=1)) == {pbx: 4}
    # the dead one comes back: its places are gone, it gets none
    assert _adjust(committed_factory, dead, {pbx: 4}) == {}


def test_places_are_renewed_and_given_back_when_the_worker_stops(committed_factory):
    pbx = "http://places-c.invalid"
    worker, other = Places("worker", 2, LEASE), Places("other", 2, LEASE)
    assert _adjust(committed_factory, worker, {pbx: 2}) == {pbx: 2}
    later = utcnow() + LEASE - timedelta(seconds=1)
    assert _adjust(committed_factory, worker, {pbx: 2}, later) == {pbx: 2}  # renewed from `later` on
    assert _adjust(committed_factory, other, {pbx: 2}, later + timedelta(seconds=2)) == {}
    with unit_of_work(committed_factory) as session:
        worker.release_all(session)
    assert _adjust(committed_factory, other, {pbx: 2}) == {pbx: 2}


def test_a_shared_pool_pushes_nothing_to_a_pbx_before_it_holds_places():
    pool = PushPool(threads=2, per_pbx=4, shared=True)
    ran = threading.Event()
    pool.submit("pbx", 1, ran.set)
    assert pool.collect(timeout=0.2) == [] and not ran.is_set() and pool.outstanding_for("pbx") == 1
    pool.set_limit("pbx", 1)
    assert pool.collect(timeout=5) == [(1, None)] and ran.is_set()
    pool.close()


def _two_workers_on_one_pbx(committed_factory, runtime, sim, fake, url: str, users: int, **options):
    """A world whose `users` configured users all live on the fake PBX at `url`, and two
    workers (not started) that push to it: (world, users, stop, threads)."""
    world = build_world(committed_factory, runtime, sim)
    configured = [world.configured_user("Telephony") for _ in range(users)]
    _own_pbx(world, url)
    runtime = _fake_runtime(fake, runtime)
    workers = [Worker(world.factory, runtime, retry=FAST_RETRY, **options) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run_forever, args=(stop,), kwargs={"idle_seconds": 0.05}) for w in workers]
    return world, configured, stop, threads


def _stop(stop: threading.Event, threads: list[threading.Thread]) -> None:
    stop.set()
    for thread in threads:
        if thread.ident is not None:  # started
            thread.join(60)


def test_two_workers_never_have_more_than_the_limit_in_flight_to_one_pbx(committed_factory, runtime, sim, sim_api):
    fake = FakePbxs()
    fake.pause = 0.03
    url = "http://places-shared.invalid"
    world, users, stop, threads = _two_workers_on_one_pbx(committed_factory, runtime, sim, fake, url, 40,
                                                          threads=4, per_pbx=3, batch_size=5)
    for thread in threads:
        thread.start()
    try:
        _wait_until(lambda: _states(world)["succeeded"] == len(users), "every push",
                    detail=lambda: (_states(world), dict(fake.most)))
    finally:
        _stop(stop, threads)
    assert not any(thread.is_alive() for thread in threads)
    assert fake.pushed[url] >= len(users)
    assert fake.most[url] == 3  # the limit is reached, never passed, by the two workers together
    with unit_of_work(world.factory) as session:  # both gave their places back when they stopped
        assert session.scalars(select(PbxSlot.holder).where(PbxSlot.pbx == url)).all() == [None] * 3


def test_a_worker_arriving_while_calls_are_at_the_pbx_never_pushes_beside_them(committed_factory, runtime, sim,
                                                                                sim_api):
    """The first worker holds every place, its calls slow at the PBX; the second arrives and
    asks for its share: it gets places only as the first one's calls end (figure 2 counted
    6 at once at a PBX of 4 when the places were given back under calls still in flight)."""
    fake = FakePbxs()
    fake.pause = 1.0
    url = "http://places-arriving.invalid"
    world, users, stop, threads = _two_workers_on_one_pbx(committed_factory, runtime, sim, fake, url, 16,
                                                          threads=4, per_pbx=4, batch_size=4)
    threads[0].start()
    try:
        _wait_until(lambda: fake.in_flight[url] == 4, "the first worker's calls at the PBX")
        threads[1].start()
        _wait_until(lambda: _states(world)["succeeded"] == len(users), "every push",
                    detail=lambda: (_states(world), dict(fake.most)))
    finally:
        _stop(stop, threads)
    assert fake.most[url] == 4  # the limit is reached, never passed


def test_a_waiter_that_stopped_long_ago_is_forgotten(committed_factory):
    pbx = "http://places-e.invalid"
    gone, holder = Places("gone", 2, LEASE), Places("holder", 2, LEASE)
    long_ago = utcnow() - timedelta(minutes=5)
    assert _adjust(committed_factory, holder, {pbx: 2}, long_ago) == {pbx: 2}
    assert _adjust(committed_factory, gone, {pbx: 2}, long_ago) == {}  # it waited, five minutes ago
    assert _adjust(committed_factory, holder, {pbx: 2}) == {pbx: 2}  # its lease had run out: renewed
    with unit_of_work(committed_factory) as session:
        assert session.scalars(select(PbxWaiter.holder).where(PbxWaiter.pbx == pbx)).all() == []
