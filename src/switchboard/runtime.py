"""What services need beyond a session and an actor: the secret box and the way to reach
a PBX. Built once per process from the settings; tests swap parts of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from switchboard.config import Settings
from switchboard.pbx.connector import PbxConnector
from switchboard.pbx.mivb_gateway import MivbGatewayConnector
from switchboard.security import SecretBox

ConnectorFactory = Callable[[str, str, str], PbxConnector]


@dataclass
class Runtime:
    secret_box: SecretBox
    connector_factory: ConnectorFactory = MivbGatewayConnector
    catalog_ttl_seconds: int = 600

    def connector(self, url: str, username: str, password: str) -> PbxConnector:
        return self.connector_factory(url, username, password)


def runtime_from_settings(settings: Settings) -> Runtime:
    return Runtime(secret_box=SecretBox(settings.resolved_secret_key()),
                   catalog_ttl_seconds=settings.catalog_ttl_seconds)
