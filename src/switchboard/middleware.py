"""Pure ASGI middleware: request ids, body size limit, Prometheus metrics."""

from __future__ import annotations

import json
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram

from switchboard.core.context import current_request_id


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
