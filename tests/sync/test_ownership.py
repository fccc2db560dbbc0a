"""Finding 1 of the security review: `verify --repair` deleted users it does not own. A
PBX user belongs to an account only if the account's database says so; everything else on
the PBX is unmanaged: reported by count and key, never changed nor removed."""

from __future__ import annotations

from switchboard.core.uow import unit_of_work
from switchboard.sync import drift
from tests.sync.conftest import build_world, sim_users


def test_verify_repair_never_deletes_users_of_another_account_on_the_same_gateway(
        committed_factory, runtime, sim, sim_api):
    alpha = build_world(committed_factory, runtime, sim, dn_start=4100)
    bravo = build_world(committed_factory, runtime, sim, dn_start=4300)
    mine = alpha.configured_user("Telephony")
    theirs = [bravo.configured_user("Telephony"), bravo.configured_user("Entry")]
    alpha.drain()
    bravo.drain()
    with unit_of_work(alpha.factory) as session:
        report = drift.verify(alpha.ctx(session), alpha.account_id, repair=True)
    assert report == []  # nothing of bravo's is a difference of alpha's
    assert set(theirs) <= set(report.unmanaged) and mine not in report.unmanaged
    alpha.drain()
    assert {mine, *theirs} <= set(sim_users(sim_api))
    with unit_of_work(bravo.factory) as session:
        assert drift.verify(bravo.ctx(session), bravo.account_id) == []
