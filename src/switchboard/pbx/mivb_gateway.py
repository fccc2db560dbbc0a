"""PbxConnector for a MiVB reached through its HTTP+JSON gateway (see docs/mivb-sim.md)."""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import quote

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from switchboard.core.config import Network
from switchboard.pbx.connector import (
    ANSWERED_AN_ERROR,
    BAD_PUSH_ANSWER,
    BAD_USER_LIST,
    NOT_AN_OBJECT,
    NOT_JSON,
    REFUSED,
    REFUSED_CREDENTIALS,
    SILENT_REFUSAL,
    TOO_LARGE,
    UNAVAILABLE,
    UNREACHABLE,
    PbxBadResponse,
    PbxIssue,
    PbxRefused,
    PbxTransient,
    PbxUnreachable,
    PhoneOutcome,
    PushOutcome,
    addresses_within,
)

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=3.0)


class _Issue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: str
    message: str
    field: str | None = None
    phone: str | None = None


class _PhoneResult(BaseModel):
    model_config = ConfigDict(extra="ignore")
    phone: str
    status: str
    errors: list[_Issue] = []


class _PushBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user: dict[str, Any] | None = None
    results: list[_PhoneResult] = []
    errors: list[_Issue] = []


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    errors: list[_Issue] = []


def _issue(item: _Issue) -> PbxIssue:
    return PbxIssue(code=item.code, message=item.message[:1000], field=item.field, phone=item.phone)


# Kept alive between pushes: a worker sends a PBX several pushes at once, one after another.
LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=30)


_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One SSL context (the system's CAs) for every client: building one reads the CA
    store, a few milliseconds that a request reading the catalogue used to pay each time."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


class _AllowedNetworksBackend(httpcore.SyncBackend):
    """Connects only to addresses inside the allowed networks, and to the very address it
    checked (a name that resolves elsewhere now than when it was saved is refused)."""

    def __init__(self, networks: tuple[Network, ...]) -> None:
        self.networks = networks

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = addresses_within(host, port, self.networks)
        if not addresses:
            raise httpcore.ConnectError("the address is outside the allowed networks")
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


def _allowed_networks_transport(networks: tuple[Network, ...]) -> httpx.HTTPTransport:
    # A transport given explicitly also means no proxy from the environment: the
    # connection goes straight to the checked address.
    transport = httpx.HTTPTransport(limits=LIMITS, verify=shared_ssl_context())
    transport._pool = httpcore.ConnectionPool(
        ssl_context=shared_ssl_context(), max_connections=LIMITS.max_connections,
        max_keepalive_connections=LIMITS.max_keepalive_connections, keepalive_expiry=LIMITS.keepalive_expiry,
        network_backend=_AllowedNetworksBackend(networks))
    return transport


class MivbGatewayConnector:
    def __init__(self, url: str, username: str, password: str, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None, allowed_networks: tuple[Network, ...] = ()) -> None:
        if transport is None and allowed_networks:
            transport = _allowed_networks_transport(allowed_networks)
        self._client = httpx.Client(
            base_url=url.rstrip("/"), auth=(username, password), timeout=timeout, transport=transport,
            limits=LIMITS, verify=shared_ssl_context(), headers={"accept": "application/json", "user-agent": "switchboard"},
        )

    # -- the interface

    def system(self) -> dict[str, Any]:
        return self._expect_object(*self._call("GET", "/api/v1/system"))

    def catalog(self) -> dict[str, Any]:
        return self._expect_object(*self._call("GET", "/api/v1/catalog"))

    def push_user(self, user_key: str, state: dict[str, Any]) -> PushOutcome:
        status, body = self._call("PUT", f"/api/v1/users/{quote(user_key, safe='')}", json_body=state,
                                  accept=(200, 422))
        try:
            parsed = _PushBody.model_validate(body)
        except ValidationError as exc:
            raise PbxBadResponse(BAD_PUSH_ANSWER % {"count": exc.error_count()})
        if status == 422 and not parsed.errors:
            raise PbxBadResponse(SILENT_REFUSAL)
        return PushOutcome(
            user=parsed.user,
            phones=[PhoneOutcome(r.phone, r.status, [_issue(e) for e in r.errors]) for r in parsed.results],
            errors=[_issue(e) for e in parsed.errors],
        )

    def remove_user(self, user_key: str) -> bool:
        status, _ = self._call("DELETE", f"/api/v1/users/{quote(user_key, safe='')}", accept=(200, 404))
        return status == 200

    def read_user(self, user_key: str) -> dict[str, Any] | None:
        status, body = self._call("GET", f"/api/v1/users/{quote(user_key, safe='')}", accept=(200, 404))
        return None if status == 404 else self._expect_object(status, body)

    def list_users(self) -> list[dict[str, Any]]:
        body = self._expect_object(*self._call("GET", "/api/v1/users"))
        users = body.get("users")
        if not isinstance(users, list) or not all(isinstance(u, dict) and isinstance(u.get("user_key"), str)
                                                  for u in users):
            raise PbxBadResponse(BAD_USER_LIST)
        return users

    def close(self) -> None:
        self._client.close()

    # -- transport

    def _call(self, method: str, path: str, *, json_body: Any = None,
              accept: tuple[int, ...] = (200,)) -> tuple[int, Any]:
        try:
            with self._client.stream(method, path, json=json_body) as response:
                raw = self._read_capped(response)
                status = response.status_code
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            # Refused, timed out, unknown name, TLS failure, outside the allowed networks:
            # all read the same (no map of which hosts and ports answer).
            raise PbxUnreachable(UNREACHABLE) from exc
        body = self._decode(raw, status)
        if status in accept:
            return status, body
        issues = self._issues(body)
        said = issues[0].message if issues else f"HTTP {status}"
        # Our stable code first; the PBX's own words stay in the message.
        if status == 503:
            raise PbxUnreachable(UNAVAILABLE % {"said": said})
        if status >= 500 or status == 429:
            raise PbxTransient(ANSWERED_AN_ERROR % {"said": said})
        if status == 401:
            raise PbxRefused(REFUSED_CREDENTIALS, [PbxIssue("pbx_auth_failed", REFUSED_CREDENTIALS)])
        raise PbxRefused(REFUSED % {"status": status, "said": said}, issues or None)

    @staticmethod
    def _read_capped(response: httpx.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise PbxBadResponse(TOO_LARGE % {"limit": MAX_RESPONSE_BYTES})
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _decode(raw: bytes, status: int) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            if status >= 500:
                return None  # a proxy's HTML error page: the status says enough
            raise PbxBadResponse(NOT_JSON % {"status": status}) from None

    @staticmethod
    def _issues(body: Any) -> list[PbxIssue]:
        try:
            return [_issue(e) for e in _ErrorBody.model_validate(body).errors]
        except ValidationError:
            return []

    @staticmethod
    def _expect_object(status: int, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise PbxBadResponse(NOT_AN_OBJECT)
        return body
