"""A process's start-up wiring: the runtime from the settings, and the subscriptions of
the higher layers to the hooks of the lower ones. Called by the app, the CLI and the
tests; calling it again changes nothing."""

from __future__ import annotations

from switchboard.core.config import Settings
from switchboard.core.runtime import Runtime
from switchboard.core.security import SecretBox
from switchboard.pbx.mivb_gateway import MivbGatewayConnector


def runtime_from_settings(settings: Settings) -> Runtime:
    install()
    return Runtime(secret_box=SecretBox(settings.resolved_secret_key()), connector_factory=MivbGatewayConnector,
                   catalog_ttl_seconds=settings.catalog_ttl_seconds)


def install() -> None:
    """Subscribes every capability to the hooks it reacts to (idempotent)."""
