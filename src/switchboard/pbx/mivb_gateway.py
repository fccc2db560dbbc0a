"""PbxConnector for a MiVB reached through its HTTP+JSON gateway (see docs/mivb-sim.md)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from switchboard.pbx.connector import (
    PbxBadResponse,
    PbxIssue,
    PbxRefused,
    PbxTransient,
    PbxUnreachable,
    PhoneOutcome,
    PushOutcome,
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


class MivbGatewayConnector:
    def __init__(self, url: str, username: str, password: str, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(
            base_url=url.rstrip("/"), auth=(username, password), timeout=timeout, transport=transport,
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            headers={"accept": "application/json", "user-agent": "switchboard"},
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
            raise PbxBadResponse(f"The PBX answered a push with an unexpected body ({exc.error_count()} problems).")
        if status == 422 and not parsed.errors:
            raise PbxBadResponse("The PBX refused a push without saying why.")
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
            raise PbxBadResponse("The PBX's user list is not a list of users.")
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
        except httpx.TimeoutException as exc:
            raise PbxUnreachable(f"The PBX did not answer in time ({type(exc).__name__}).") from exc
        except httpx.TransportError as exc:
            raise PbxUnreachable(f"Cannot reach the PBX at {self._client.base_url}: {type(exc).__name__}.") from exc
        body = self._decode(raw, status)
        if status in accept:
            return status, body
        issues = self._issues(body)
        said = issues[0].message if issues else f"HTTP {status}"
        # Our stable code first; the PBX's own words stay in the message.
        if status == 503:
            raise PbxUnreachable(f"The PBX is unavailable: {said}")
        if status >= 500 or status == 429:
            raise PbxTransient(f"The PBX answered with an error: {said}")
        if status == 401:
            raise PbxRefused("The PBX refused the credentials of this connection.",
                             [PbxIssue("pbx_auth_failed", "The PBX refused the credentials of this connection.")])
        raise PbxRefused(f"The PBX refused the request (HTTP {status}): {said}", issues or None)

    @staticmethod
    def _read_capped(response: httpx.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise PbxBadResponse(f"The PBX's answer is larger than {MAX_RESPONSE_BYTES} bytes.")
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
            raise PbxBadResponse(f"The PBX answered (HTTP {status}) with something that is not JSON.") from None

    @staticmethod
    def _issues(body: Any) -> list[PbxIssue]:
        try:
            return [_issue(e) for e in _ErrorBody.model_validate(body).errors]
        except ValidationError:
            return []

    @staticmethod
    def _expect_object(status: int, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise PbxBadResponse("The PBX's answer is not a JSON object.")
        return body
