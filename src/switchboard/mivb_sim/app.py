"""HTTP face of the simulator: the gateway API under /api/v1 and test controls under /_sim."""

import asyncio
import base64
import binascii
import json
import random
import secrets
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .faults import Faults
from .schema import FaultsIn, UserIn, describe
from .state import Pbx, PbxError

MAX_BODY_BYTES = 1024 * 1024
MAX_USER_KEY = 128  # same bound as a seed file's user_key
ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """Ends a request with a PBX-style error body: {"errors": [...]}."""

    def __init__(self, status: int, errors: list[PbxError]) -> None:
        super().__init__(errors[0].message)
        self.status = status
        self.errors = errors


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [PbxError(code, None, message).as_dict()]}, status, headers=headers)


async def read_json(request: Request) -> Any:
    """The request body as JSON, refusing bodies over MAX_BODY_BYTES without reading them whole."""
    too_large = ApiError(413, [PbxError("payload_too_large", None,
                                        f"The request body is larger than {MAX_BODY_BYTES} bytes.")])
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, [PbxError("bad_request", None, "The request body is not valid JSON.")]) from None


def parse(model: type[ModelT], data: Any, status: int = 400) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        code = "bad_request" if status == 400 else "invalid_value"
        raise ApiError(status, [PbxError(code, field, message) for field, message in describe(exc)]) from None


class Guard:
    """Basic auth on every route, then the injected faults on /api routes."""

    def __init__(self, app: ASGIApp, username: str, password: str, faults: Faults, rng: random.Random) -> None:
        self.app = app
        self.expected = f"{username}:{password}".encode()
        self.faults = faults
        self.rng = rng

    def _authorised(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return False
        return secrets.compare_digest(given, self.expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            response: Response = error_response(401, "unauthorized", "Sign-in to the PBX gateway failed.",
                                                headers={"WWW-Authenticate": 'Basic realm="mivb-sim"'})
            await response(scope, receive, send)
            return
        if scope["path"].startswith("/api/"):
            faulty = await self._fault_response()
            if faulty is not None:
                await faulty(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _fault_response(self) -> Response | None:
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.down:
            faults.injected["down"] += 1
            return error_response(503, "pbx_unavailable", "The MiVoice Business system is not reachable.")
        if faults.error_rate and self.rng.random() < faults.error_rate:
            faults.injected["errors"] += 1
            if self.rng.random() < 0.5:
                return error_response(500, "internal_error", "The PBX gateway failed to process the request.")
            return error_response(503, "pbx_busy", "The MiVoice Business system is busy; try again later.")
        if faults.garbage:
            return Response(b'{"user": {"user_key": ', 200, media_type="application/json")
        return None


def create_app(pbx: Pbx, username: str, password: str, rng: random.Random | None = None) -> Starlette:
    faults = Faults()

    async def get_system(request: Request) -> JSONResponse:
        return JSONResponse(pbx.system_info())

    async def get_catalog(request: Request) -> JSONResponse:
        return JSONResponse(pbx.catalog_view())

    async def list_users(request: Request) -> JSONResponse:
        return JSONResponse({"users": pbx.list_users()})

    async def get_user(request: Request) -> JSONResponse:
        key = request.path_params["user_key"]
        user = pbx.get_user(key)
        if user is None:
            raise user_not_found(key)
        return JSONResponse(user)

    async def put_user(request: Request) -> JSONResponse:
        key = request.path_params["user_key"]
        if len(key) > MAX_USER_KEY:
            raise ApiError(400, [PbxError("bad_request", "user_key",
                                          f"A user key is at most {MAX_USER_KEY} characters long.")])
        desired = parse(UserIn, await read_json(request))
        if desired.user_key is not None and desired.user_key != key:
            raise ApiError(400, [PbxError("bad_request", "user_key",
                                          f"The body names user '{desired.user_key}' but the path names '{key}'.")])
        result = pbx.put_user(key, desired, reject_dn=faults.reject_dn)
        return JSONResponse(result.as_dict(), 422 if result.errors else 200)

    async def delete_user(request: Request) -> JSONResponse:
        key = request.path_params["user_key"]
        if not pbx.delete_user(key):
            raise user_not_found(key)
        return JSONResponse({"user_key": key, "deleted": True})

    async def sim_state(request: Request) -> JSONResponse:
        return JSONResponse({**pbx.sim_state(), "faults": faults.as_dict(), "injected": dict(faults.injected)})

    async def set_faults(request: Request) -> JSONResponse:
        faults.merge(parse(FaultsIn, await read_json(request), status=422))
        return JSONResponse({"faults": faults.as_dict()})

    async def clear_faults(request: Request) -> JSONResponse:
        faults.clear()
        return JSONResponse({"faults": faults.as_dict()})

    async def reset(request: Request) -> JSONResponse:
        pbx.reset()
        faults.clear()
        return JSONResponse({"revision": pbx.revision})

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse({"errors": [e.as_dict() for e in exc.errors]}, exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(404, "not_found", f"There is no {request.url.path} on this gateway.")
        if exc.status_code == 405:
            return error_response(405, "method_not_allowed",
                                  f"{request.method} is not allowed on {request.url.path}.", headers=exc.headers)
        return error_response(exc.status_code, "bad_request", exc.detail, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response(500, "internal_error", "The PBX gateway failed to process the request.")

    routes = [
        Route("/api/v1/system", get_system, methods=["GET"]),
        Route("/api/v1/catalog", get_catalog, methods=["GET"]),
        Route("/api/v1/users", list_users, methods=["GET"]),
        Route("/api/v1/users/{user_key}", get_user, methods=["GET"]),
        Route("/api/v1/users/{user_key}", put_user, methods=["PUT"]),
        Route("/api/v1/users/{user_key}", delete_user, methods=["DELETE"]),
        Route("/_sim/state", sim_state, methods=["GET"]),
        Route("/_sim/faults", set_faults, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, username=username, password=password, faults=faults,
                               rng=rng or random.Random())],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error},
    )


def user_not_found(key: str) -> ApiError:
    return ApiError(404, [PbxError("user_not_found", None, f"User '{key}' is not configured on this PBX.")])
