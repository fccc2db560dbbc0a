"""A process's start-up wiring: the runtime from the settings, and the subscriptions of
the higher layers to the hooks of the lower ones. Called by the app, the CLI and the
tests; calling it again changes nothing."""

from __future__ import annotations

from functools import partial

from switchboard.accounts import events as accounts_events
from switchboard.adoption import service as adoption
from switchboard.core.config import Settings
from switchboard.core.runtime import Runtime
from switchboard.core.security import SecretBox
from switchboard.imports import service as imports
from switchboard.jobs import runner
from switchboard.mivb import events as mivb_events
from switchboard.mivb import subscriptions
from switchboard.numbering import allocation
from switchboard.pbx import catalog
from switchboard.pbx.mivb_gateway import MivbGatewayConnector
from switchboard.sync import queue


def runtime_from_settings(settings: Settings) -> Runtime:
    install()
    networks = settings.allowed_pbx_networks()
    # With an allow-list, the connector checks every address it connects to as well (a
    # name may resolve elsewhere later than when the connection was saved).
    factory = partial(MivbGatewayConnector, allowed_networks=networks) if networks else MivbGatewayConnector
    return Runtime(secret_box=SecretBox(settings.key_ring()), connector_factory=factory,
                   catalog_ttl_seconds=settings.catalog_ttl_seconds, pbx_allowed_networks=networks,
                   dns_max_age_seconds=settings.dns_in_use_max_age_seconds)


def install() -> None:
    """Subscribes every capability to the hooks it reacts to (idempotent)."""
    accounts_events.user_changed.subscribe(subscriptions.on_user_changed)
    accounts_events.user_deleting.subscribe(subscriptions.on_user_deleting)
    accounts_events.account_deleted.subscribe(queue.on_account_deleted)
    catalog.catalog_refreshed.subscribe(allocation.on_catalog_refreshed)
    mivb_events.push_requested.subscribe(queue.enqueue_push)
    mivb_events.remove_requested.subscribe(queue.enqueue_remove)
    runner.register("import", imports.run, imports.result_csv, checkpoints=True)
    runner.register("adoption", adoption.run, adoption.result_csv)
