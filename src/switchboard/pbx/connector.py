"""The PBX connector interface and its typed failures.

The sync and the settings pages talk to a PBX only through `PbxConnector`, so a test or
another PBX family can plug in its own implementation.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchboard.core.config import Network
from switchboard.core.i18n import N_, composed

# What every failure to reach the PBX reads (refused, timeout, unknown name, TLS, an
# address outside the allowed networks, something that is not a gateway): one sentence,
# so "Test connection" cannot be used to map which hosts and ports answer.
UNREACHABLE = composed(N_("The PBX did not answer at this address."))

# What a connector says went wrong, stored in English (the sync state, the last
# connection test, the API) and shown in the reader's language (core.i18n.localize).
# "said" is the PBX's own words, kept as it said them.
UNAVAILABLE = composed(N_("The PBX is unavailable: %(said)s"))
ANSWERED_AN_ERROR = composed(N_("The PBX answered with an error: %(said)s"))
REFUSED = composed(N_("The PBX refused the request (HTTP %(status)s): %(said)s"))
REFUSED_CREDENTIALS = composed(N_("The PBX refused the credentials of this connection."))
BAD_PUSH_ANSWER = composed(N_("The PBX answered a push with an unexpected body (%(count)s problems)."))
SILENT_REFUSAL = composed(N_("The PBX refused a push without saying why."))
BAD_USER_LIST = composed(N_("The PBX's user list is not a list of users."))
TOO_LARGE = composed(N_("The PBX's answer is larger than %(limit)s bytes."))
NOT_JSON = composed(N_("The PBX answered (HTTP %(status)s) with something that is not JSON."))
NOT_AN_OBJECT = composed(N_("The PBX's answer is not a JSON object."))
BAD_CATALOG = composed(N_("The PBX's catalogue is malformed (%(count)s problems)."))
# What the sync worker records when it could not even try.
NOT_CONNECTED = composed(N_("This account is not connected to a MiVoice Business yet."))
UNEXPECTED = composed(N_("Unexpected error while pushing: %(kind)s"))


@dataclass(frozen=True)
class PbxIssue:
    """One error as the PBX said it: its code, the field at fault, its own words."""

    code: str
    message: str
    field: str | None = None
    phone: str | None = None


@dataclass
class PhoneOutcome:
    phone: str
    status: str  # applied | rejected | removed
    errors: list[PbxIssue] = field(default_factory=list)


@dataclass
class PushOutcome:
    """What the PBX did with a full desired state: stored user, per-phone results."""

    user: dict[str, Any] | None
    phones: list[PhoneOutcome]
    errors: list[PbxIssue]

    @property
    def ok(self) -> bool:
        return not self.errors


class PbxError(Exception):
    """A call that did not complete. `retryable` failures are retried with backoff."""

    code = "pbx_error"
    retryable = True
    # Whether the issues are the PBX's own answer (a refusal, its error), rather than the
    # way to it failing (no answer, garbage).
    said_by_pbx = True

    def __init__(self, message: str, issues: list[PbxIssue] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues or [PbxIssue(self.code, message)]


class PbxUnreachable(PbxError):
    """No connection, a timeout, or the gateway says the PBX is unavailable."""

    said_by_pbx = False

    code = "pbx_unreachable"


class PbxTransient(PbxError):
    """The PBX answered with a server error; trying again later may work."""

    code = "pbx_error"


class PbxBadResponse(PbxError):
    """The answer is not what the protocol promises (not JSON, wrong types, too large)."""

    code = "pbx_bad_response"
    said_by_pbx = False


class PbxRefused(PbxError):
    """The PBX refused the request itself (credentials, a malformed request): retrying the
    same thing cannot help until someone changes it."""

    code = "pbx_refused"
    retryable = False


class PbxConnector(Protocol):
    def system(self) -> dict[str, Any]: ...

    def catalog(self) -> dict[str, Any]: ...

    def push_user(self, user_key: str, state: dict[str, Any]) -> PushOutcome: ...

    def remove_user(self, user_key: str) -> bool:
        """True if removed, False if the PBX did not have it (already gone)."""

    def read_user(self, user_key: str) -> dict[str, Any] | None: ...

    def list_users(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def addresses_within(host: str, port: int, networks: tuple[Network, ...]) -> list[str]:
    """The addresses of `host` (itself when it is an IP literal) when every one of them is
    inside `networks`; [] when any is outside or the name does not resolve."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError):
            return []
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]

    def inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:10.0.0.1 is 10.0.0.1
        return any((mapped or address) in network for network in networks)

    if not addresses or not all(inside(a) for a in addresses):
        return []
    return [str(a) for a in addresses]
