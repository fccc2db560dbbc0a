"""Pure ASGI middleware: request ids, body size limit, Prometheus metrics, security
headers, and the guard that refuses control characters and unparseable JSON."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response

from switchboard.api_support import problem_response
from switchboard.core.context import current_request_id
from switchboard.core.db import NeedsWriteLock
from switchboard.core.errors import ServiceError, ValidationFailed
from switchboard.core.validation import CONTROL_CHARACTERS, first_control_character, invalid_character


class RequestIdMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane) so the change log can
    group what one request wrote."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if incoming.isalnum() and 8 <= len(incoming) <= 64 else uuid.uuid4().hex
        token = current_request_id.set(request_id)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


WRITE_LOCK = "switchboard.write_lock"  # in the scope: this request's transactions take SQLite's write lock


class ReadMostlyMiddleware:
    """A GET or HEAD reads without SQLite's write lock (core.db.read_mostly); one that
    turns out to write (a reveal's change-log entry, a one-time message taken) stops at its
    first write, is rolled back, and runs once more holding the lock from the start. It has
    no body to read again, and nothing of it was sent yet. Innermost of the middleware."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        started = False

        async def watching(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        first = dict(scope)
        cookie = dict(scope["session"]) if isinstance(scope.get("session"), dict) else None
        try:
            await self.app(scope, receive, watching)
        except NeedsWriteLock:
            if started:
                raise
            if cookie is not None:  # the signed cookie as it came: the first run's changes are void
                scope["session"].clear()
                scope["session"].update(cookie)
            await self.app({**first, WRITE_LOCK: True}, receive, send)


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413, whether announced or streamed."""

    def __init__(self, app, max_bytes: int, large: tuple[tuple[str, int], ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # (path suffix, limit): routes that take larger bodies (a bulk import's file).
        self.large = large

    def _limit(self, path: str) -> int:
        return next((limit for suffix, limit in self.large if path.endswith(suffix)), self.max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self._limit(scope.get("path", ""))
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await self._refuse(send, limit)
        received = 0
        too_large = refused = False

        async def limited_receive():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message):
            nonlocal refused
            if too_large:
                # The app may turn our exception into its own error; answer 413 instead.
                if not refused and message["type"] == "http.response.start":
                    refused = True
                    await self._refuse(send, limit)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not refused:
            await self._refuse(send, limit)

    async def _refuse(self, send, limit: int):
        body = json.dumps({
            "type": "https://switchboard.invalid/problems/body_too_large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"The request body is larger than {limit} bytes.",
            "errors": [{"code": "body_too_large",
                        "message": f"The request body is larger than {limit} bytes."}],
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("switchboard_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("switchboard_http_request_seconds", "HTTP request duration",
                                 ["method", "route"], registry=self.registry)


class MetricsMiddleware:
    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def recording_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            # The route template, never the raw path: ids would explode the label set.
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.latency.labels(scope["method"], label).observe(time.perf_counter() - started)


# ----------------------------------------------------------------- security headers

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class SecurityHeadersMiddleware:
    """Every answer (pages, API, static files, errors) carries the browser protections:
    no inline script or style, no framing, no MIME sniffing, no referrer to other sites,
    and HSTS when the console is served over HTTPS."""

    def __init__(self, app, *, hsts: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ------------------------------------------------------------------ the input guard

Refusal = Callable[[Request, ServiceError], Awaitable[Response]]
_JSON_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BadJson(ServiceError):
    status, title, default_code = 400, "Bad request", "invalid_json"


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON, strictly: a key twice in one object, NaN or Infinity, invalid
    UTF-8, a number too long to read or nesting too deep to walk is a 400, never a 500."""
    try:
        return json.loads(raw, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except _DuplicateKey as exc:
        clean = not CONTROL_CHARACTERS.search(exc.key)
        raise BadJson("duplicate_key", "The key %(key)s appears more than once in the same object.",
                      field=exc.key if clean else None, key=exc.key if clean else "?") from None
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise BadJson("invalid_json", "The body is not valid JSON.") from None


def _is_json(scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
    kind, _, subtype = content_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_address(path: str, query_string: bytes) -> None:
    """Refuses a control character in the path (its parameters) or the query string."""
    if CONTROL_CHARACTERS.search(path):
        raise ValidationFailed("invalid_character", "The address must not contain control characters.")
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if CONTROL_CHARACTERS.search(key) or CONTROL_CHARACTERS.search(value):
            clean = not CONTROL_CHARACTERS.search(key)
            raise invalid_character(key if clean else None)


class InputGuardMiddleware:
    """Refuses, before any route runs, what no route may ever see: a control character in
    the path, the query string or a JSON body (422 `invalid_character`), and a JSON body
    that does not parse strictly (400 `invalid_json`, `duplicate_key`). The API answers
    problem+json; a console page answers through `refusal` (the error page). Console
    forms are checked where they are read (`console.web.form_data`)."""

    def __init__(self, app, *, refusal: Refusal, api_prefix: str = "/api/") -> None:
        self.app = app
        self.refusal = refusal
        self.api_prefix = api_prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            check_address(scope.get("path", ""), scope.get("query_string", b""))
        except ServiceError as exc:
            return await self._refuse(scope, receive, send, exc)
        if not (scope["path"].startswith(self.api_prefix) and scope["method"] in _JSON_METHODS and _is_json(scope)):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        if raw:
            try:
                bad = first_control_character(parse_json_body(raw))
                if bad is not None:
                    raise invalid_character(bad or "body")
            except ServiceError as exc:
                return await self._refuse(scope, receive, send, exc)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send, exc: ServiceError) -> None:
        if scope["path"].startswith(self.api_prefix):
            response: Response = problem_response(exc.status, exc.title, exc.errors)
        else:
            response = await self.refusal(Request(scope, receive), exc)
        await response(scope, receive, send)
