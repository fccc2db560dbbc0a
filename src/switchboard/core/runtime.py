"""What services need beyond a session and an actor: the secret box and the way to reach
a PBX. Built once per process (``switchboard.wiring.runtime_from_settings``); tests swap
parts of it. The connector factory is given by the process's wiring, so this lowest layer
knows the PBX connector only as a type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from switchboard.core.config import Network
from switchboard.core.security import SecretBox

if TYPE_CHECKING:
    from switchboard.pbx.connector import PbxConnector

ConnectorFactory = Callable[[str, str, str], "PbxConnector"]


@dataclass
class Runtime:
    secret_box: SecretBox
    connector_factory: ConnectorFactory | None = None
    catalog_ttl_seconds: int = 600
    # A write that hands out numbers reads the PBX's catalogue (with the DNs it uses)
    # first when the copy is older than this: a DN configured on the PBX outside
    # Switchboard a moment ago is not handed out.
    dns_max_age_seconds: int = 5
    # Where PBX gateways may be (SWITCHBOARD_PBX_ALLOWED_NETWORKS); empty: anywhere.
    pbx_allowed_networks: tuple[Network, ...] = ()

    def connector(self, url: str, username: str, password: str) -> "PbxConnector":
        if self.connector_factory is None:
            raise RuntimeError("this runtime has no PBX connector factory")
        return self.connector_factory(url, username, password)
