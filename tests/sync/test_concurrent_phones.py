"""Concurrent phone additions through the service layer on PostgreSQL: never a shared
number, never a ninth phone."""

from __future__ import annotations

import threading

import pytest

from switchboard.core.uow import unit_of_work
from switchboard.core.errors import Conflict
from switchboard.mivb import service as mivb
from tests.sync.conftest import build_world

pytestmark = pytest.mark.slow


def run_concurrently(n: int, action) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # collected and asserted on below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.fixture
def pg_world(committed_factory, runtime, sim, sim_api, backend):
    if backend != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    return build_world(committed_factory, runtime, sim)


def test_32_concurrent_phone_additions_get_32_distinct_numbers(pg_world):
    world = pg_world
    users = [world.configured_user("Agent") for _ in range(32)]

    def add_phone(i: int) -> str:
        with unit_of_work(world.factory) as session:
            return mivb.add_phone(world.ctx(session), world.account_id, users[i], {"type": "desk_phone"})["dn"]

    dns = run_concurrently(32, add_phone)
    assert all(isinstance(dn, str) for dn in dns), dns
    assert len(set(dns)) == 32


def test_concurrent_additions_to_one_user_stop_at_eight(pg_world):
    world = pg_world
    user_id = world.configured_user("Agent")  # the template brings one hot desk

    def add_phone(i: int):
        with unit_of_work(world.factory) as session:
            return mivb.add_phone(world.ctx(session), world.account_id, user_id, {"type": "hot_desk"})

    results = run_concurrently(12, add_phone)
    added = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(added) == 7 and len(refused) == 5
    assert {r.code for r in refused} == {"too_many_phones"}
