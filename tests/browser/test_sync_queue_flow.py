"""The account's "Sync status" page in a real browser, against the real mivb-sim process
with a sync worker running: a PBX refusal shows on the queue in the PBX's own words; once
the fault is fixed, "Retry all failed" queues it again and the page, polling by itself,
sees it go."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from switchboard.core.uow import unit_of_work
from switchboard.accounts.tenancy import actor_for
from switchboard.core.context import ServiceContext
from switchboard.sync import queue as sync
from tests.browser.test_mivb_flows import _admin, configure, setup, sign_in, wait_until_synced, worker  # noqa: F401

pytestmark = pytest.mark.browser


def _push_again(live_server, s) -> None:
    with unit_of_work(live_server.session_factory) as session:
        ctx = ServiceContext(session=session, actor=actor_for(_admin(session, s)), runtime=live_server.app.state.runtime)
        sync.push_now(ctx, s.account_id, s.user_id)


def test_a_pbx_refusal_shows_on_the_queue_and_retry_all_failed_clears_it(page: Page, setup, live_server, sim_api,
                                                                          screenshot):
    desk = configure(live_server, setup, "Telephony")["phones"][0]
    sim_api.post("/_sim/faults", json={"reject": {"dn": desk["dn"]}}).raise_for_status()
    # Whether or not the worker pushed before the fault was set, this push is refused.
    _push_again(live_server, setup)

    sign_in(page, setup.admin_email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Sync status").click()
    expect(page.get_by_role("heading", name="Sync status")).to_be_visible()
    queue = page.locator("#sync-queue")
    # The page polls while the push is pending or running, then shows the refusal.
    expect(queue.locator("[data-count=failed] .count")).to_have_text("1", timeout=20_000)
    page.get_by_role("link", name="Failed").click()
    row = page.locator("#sync-jobs tbody tr[data-state=failed]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"The PBX rejected the programming of DN {desk['dn']}.")
    expect(row).to_contain_text("said the PBX")
    expect(row.get_by_role("link", name=setup.user_name)).to_have_attribute(
        "href", f"/accounts/{setup.account_id}/users/{setup.user_id}")
    screenshot(page, "30-sync-queue-pbx-refusal")

    # fix the fault, then retry everything that failed
    sim_api.delete("/_sim/faults").raise_for_status()
    page.get_by_role("button", name="Retry all failed").click()
    expect(page.get_by_role("status")).to_contain_text("1 failed push queued again.")
    expect(queue.locator("[data-count=failed] .count")).to_have_text("0")
    expect(page.locator("#sync-queue")).to_have_attribute("data-polling", "off", timeout=20_000)
    expect(page.locator("#sync-queue [data-count=all] .count")).to_have_text("0")
    expect(page.locator("#sync-jobs")).to_contain_text("No push in this state.")
    wait_until_synced(live_server, setup.user_id)
    screenshot(page, "31-sync-queue-retried")

    # and the users list's failed filter leads here
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("link", name="See the sync queue")).to_have_attribute(
        "href", f"/accounts/{setup.account_id}/sync")
