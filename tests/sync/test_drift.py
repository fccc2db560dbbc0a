"""`switchboard mivb verify`: reads the PBX back, lists differences, repairs them."""

from __future__ import annotations

from typer.testing import CliRunner

from switchboard.core.uow import unit_of_work
from switchboard import cli
from switchboard.core.config import get_settings
from sqlalchemy import update

from switchboard.mivb import service as mivb
from switchboard.sync import drift
from switchboard.sync.models import SyncJob
from tests.sync.conftest import sim_users


def test_verify_finds_every_kind_of_drift_and_repair_fixes_it(world, sim_api, monkeypatch):
    kept = world.configured_user("Premium")
    edited = world.configured_user("Telephony")
    vanished = world.configured_user("Entry")
    removed = world.configured_user("Entry")
    world.drain()
    with unit_of_work(world.factory) as session:
        assert drift.verify(world.ctx(session), world.account_id) == []

    # the account removed this user, but its removal gave up (PBX down for too long):
    # the PBX still has it, and it is the account's to remove
    with unit_of_work(world.factory) as session:
        mivb.remove_product(world.ctx(session), world.account_id, removed, "mivb")
    with unit_of_work(world.factory) as session:
        session.execute(update(SyncJob).where(SyncJob.user_id == removed, SyncJob.kind == "remove_user")
                        .values(state="failed"))

    # someone changes the PBX behind Switchboard's back
    on_pbx = sim_users(sim_api)[edited]
    on_pbx["location"] = "Montreal"
    on_pbx["phones"][0]["voicemail"] = False
    sim_api.put(f"/api/v1/users/{edited}", json={k: v for k, v in on_pbx.items() if k != "user_key"}).raise_for_status()
    sim_api.delete(f"/api/v1/users/{vanished}").raise_for_status()
    stray = "f" * 32  # looks like a Switchboard key, but no account here ever had it: unmanaged
    sim_api.put(f"/api/v1/users/{stray}", json={"first_name": "Old", "last_name": "Timer", "template": "Entry User",
                                                "phones": []}).raise_for_status()
    sim_api.put("/api/v1/users/attendant-console", json={"first_name": "Not", "last_name": "Ours",
                                                         "template": "Entry User", "phones": []}).raise_for_status()

    url = world.factory.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
    monkeypatch.setenv("SWITCHBOARD_SECRET_KEY", "sync-tests-secret")
    get_settings.cache_clear()
    try:
        found = CliRunner().invoke(cli.app, ["mivb", "verify", "--account", world.account_id])
        assert found.exit_code == 1, found.output
        assert "location: Switchboard has 'Head Office', the PBX has 'Montreal'" in found.output
        assert "voicemail" in found.output and "not on the PBX" in found.output
        assert "on the PBX but not in Switchboard" in found.output and removed in found.output
        assert "unmanaged users on the PBX" in found.output and stray in found.output
        assert "attendant-console" in found.output.split("unmanaged users on the PBX")[1].split("\n")[0]
        assert kept not in found.output
        repaired = CliRunner().invoke(cli.app, ["mivb", "verify", "--account", world.account_id, "--repair"])
        assert repaired.exit_code == 0 and "Repairs queued" in repaired.output
        world.drain()
        clean = CliRunner().invoke(cli.app, ["mivb", "verify", "--account", world.account_id])
        assert clean.exit_code == 0 and "No difference" in clean.output
        unknown = CliRunner().invoke(cli.app, ["mivb", "verify", "--account", "nope"])
        assert unknown.exit_code == 2 and "Account not found" in unknown.output
    finally:
        get_settings.cache_clear()
    assert removed not in sim_users(sim_api)
    # repair never touches a user the account does not manage
    assert stray in sim_users(sim_api) and "attendant-console" in sim_users(sim_api)
