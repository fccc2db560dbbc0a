"""The ASGI application: REST API, console and operational endpoints in one process."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Match, Route

from switchboard import __version__
from switchboard.accounts import api as accounts_api
from switchboard.accounts import views as accounts_views
from switchboard.api_support import PROBLEM_JSON, document_problems, problem_response
from switchboard.adoption import api as adoption_api
from switchboard.adoption import views as adoption_views
from switchboard.audit import api as audit_api
from switchboard.imports import api as imports_api
from switchboard.imports import views as imports_views
from switchboard.imports.csv_format import MAX_BYTES as IMPORT_MAX_BYTES
from switchboard.jobs import api as jobs_api
from switchboard.core.config import Settings, get_settings
from switchboard.console import views as console_views
from switchboard.console.web import (CsrfFailed, LoginRequired, login_redirect, make_templates,
                                    method_not_allowed, render, unflash)
from switchboard.core.db import make_engine, make_session_factory
from switchboard.core.errors import ErrorItem, NotFound, PreconditionFailed, ServiceError, Unavailable
from switchboard.mivb import api as mivb_api
from switchboard.mivb import settings_views as mivb_settings_views
from switchboard.mivb import views as mivb_views
from switchboard.numbering import api as numbering_api
from switchboard.pbx import api as pbx_api
from switchboard.middleware import (
    BodySizeLimitMiddleware,
    InputGuardMiddleware,
    Metrics,
    MetricsMiddleware,
    ReadMostlyMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from switchboard.sync import api as sync_api
from switchboard.sync import views as sync_views
from switchboard.wiring import runtime_from_settings
from switchboard.sync.queue import pbx_reachability
from switchboard.core.security import CookieSigner, TokenSigner, constant_time_equals
from switchboard.sync.metrics import SyncCollector
from switchboard.core.validation import items_from_pydantic

API_PREFIX = "/api/"
STATUS_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Not allowed for your role",
                 404: "Not found", 405: "Method not allowed", 413: "Request body too large",
                 415: "Unsupported media type"}
API_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def create_app(settings: Settings | None = None, session_factory: sessionmaker | None = None) -> FastAPI:
    settings = settings or get_settings()
    key_ring = settings.key_ring()
    if session_factory is None:
        engine = make_engine(settings.resolved_database_url(), echo=settings.sql_echo)
        session_factory = make_session_factory(engine)

    app = FastAPI(
        title="Switchboard API",
        version=__version__,
        description="Manage the MiVoice Business features of a customer's users. "
        "Errors are RFC 9457 problem+json with stable codes.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.signer = TokenSigner(key_ring, settings.token_ttl_seconds)
    app.state.runtime = runtime_from_settings(settings)
    app.state.templates = make_templates()
    metrics = Metrics()
    metrics.registry.register(SyncCollector(session_factory))
    app.state.metrics = metrics

    # Order matters: /users/export and /users/import are not user ids.
    routers = (imports_api.router, jobs_api.router, adoption_api.router, accounts_api.router, audit_api.router,
               numbering_api.router, pbx_api.router, mivb_api.router, sync_api.router,
               imports_views.router, adoption_views.router, console_views.router, accounts_views.router,
               mivb_views.router, mivb_settings_views.router, sync_views.router)
    for router in routers:
        app.include_router(router)
    app.state.routes = [route for router in routers for route in router.routes]  # for allowed_methods
    app.mount("/static", StaticFiles(packages=[("switchboard.console", "static")]), name="static")

    _install_error_handlers(app)
    _install_operational_routes(app, metrics)
    _install_openapi(app)

    # Outermost last: security headers on everything, ids, metrics, size limit, sessions,
    # then the input guard (inside the session, so a refused page can be rendered).
    app.add_middleware(ReadMostlyMiddleware)  # innermost: what it runs again is the route alone
    app.add_middleware(InputGuardMiddleware, refusal=refusal, api_prefix=API_PREFIX)
    app.add_middleware(KeyRingSessionMiddleware, key_ring=key_ring, session_cookie="switchboard_session",
                       max_age=settings.token_ttl_seconds, same_site="lax",
                       https_only=settings.secure_cookies)
    # A bulk import's file may be larger than other bodies (and its form's envelope).
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       large=(("/imports", IMPORT_MAX_BYTES + 65536), ("/users/import", IMPORT_MAX_BYTES + 65536)))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    return app


class KeyRingSessionMiddleware(SessionMiddleware):
    """Starlette's signed session cookie, signed with the newest key and accepted under
    any key of the ring: rotating the secret key signs nobody out."""

    def __init__(self, app, key_ring, **options) -> None:
        super().__init__(app, secret_key=key_ring.primary, **options)
        self.signer = CookieSigner(key_ring)


def _install_openapi(app: FastAPI) -> None:
    """The served document lists, per route, every status it can answer (see
    api_support.document_problems)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate(), API_PREFIX)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


async def refusal(request: Request, exc: ServiceError) -> Response:
    """A refusal as the caller reads it: problem+json for the API, the error page for the
    console."""
    if _is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.title, exc.errors, headers)
    unflash(request)  # refused as it committed: what the page had announced did not happen
    return render(request, "error.html", {"status": exc.status, "error": exc}, status_code=exc.status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return await refusal(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = list(exc.errors())
        # A body that does not parse is a bad request, not invalid input.
        status = 400 if any(e["type"] == "json_invalid" for e in errors) else 422
        return problem_response(status, STATUS_TITLES[400] if status == 400 else "Invalid input",
                                items_from_pydantic(errors))

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError):
        """The database cannot be reached (or is locked past the wait): a 503 with its
        reason, never a bare 500; clients may try again."""
        if not exc.connection_invalidated and not isinstance(exc, (OperationalError, InterfaceError)):
            raise exc
        response = await refusal(request, Unavailable(
            "database_unavailable", "The database cannot be reached right now. Try again in a moment."))
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError):
        return await service_error(request, PreconditionFailed(
            "version_mismatch", "This object was changed by someone else at the same time. Reload it and try again."))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        title = STATUS_TITLES.get(exc.status_code, "Error")
        headers = getattr(exc, "headers", None)
        allow = allowed_methods(request.app, request.scope) if exc.status_code == 405 else ""
        if allow:  # every method of the resource, not only the first route's
            headers = {**(headers or {}), "Allow": allow}
        if _is_api(request):
            code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
            return problem_response(exc.status_code, title, [ErrorItem(code, str(exc.detail) or title)],
                                    headers=headers)
        if exc.status_code == 404:
            return await service_error(request, NotFound("not_found", "This page does not exist."))
        if exc.status_code == 405:
            response = method_not_allowed(request)
            if response.status_code == 405 and allow:
                response.headers["Allow"] = allow
            return response
        return PlainTextResponse(title, status_code=exc.status_code)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        return login_redirect(request)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed):
        error = ServiceError("csrf_failed", "This form has expired. Reload the page and try again.")
        error.status = 403
        return render(request, "error.html", {"status": 403, "error": error}, status_code=403)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, scope: dict) -> str:
    """The Allow header of a 405 (RFC 9110): the methods of the resource at this address.
    FastAPI makes one route per method, and Starlette's 405 named only one's. A literal
    segment makes another resource than a parameter: /users/export is not /users/{user_id}
    (whose PATCH answers 404 there), so only the routes with the fewest parameters count."""
    routes = [*app.state.routes, *(r for r in app.router.routes if isinstance(r, Route))]
    found: dict[str, int] = {}
    for method in HTTP_METHODS:
        for route in routes:
            match, child = route.matches({**scope, "method": method})
            if match == Match.FULL:
                found[method] = len(child.get("path_params") or {})
                break
    fewest = min(found.values(), default=0)
    return ", ".join(method for method, params in found.items() if params == fewest)


def _install_operational_routes(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/api/v1/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        # FastAPI's own page starts Swagger UI with an inline script, which the
        # Content-Security-Policy forbids: static/api-docs.js starts it instead.
        return HTMLResponse(API_DOCS_PAGE.format(openapi_url=html.escape(app.openapi_url or "", quote=True)))

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"],
             summary="Readiness: the database answers; PBX reachability as the sync last saw it",
             responses={503: {"description": "The database does not answer",
                              "content": {"application/json": {"schema": {"type": "object"}}}}})
    def readyz(request: Request) -> Response:
        checks: dict = {}
        try:
            with request.app.state.session_factory() as session:
                session.execute(text("SELECT 1"))
                checks["pbx"] = pbx_reachability(session)
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it never raises
            checks["database"] = f"error: {type(exc).__name__}"
        # A customer's PBX being down must not take this process out of rotation.
        ready = checks["database"] == "ok"
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    token = app.state.settings.metrics_token

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (text exposition format)",
             description="With SWITCHBOARD_METRICS_TOKEN set, send `Authorization: Bearer <token>`.",
             response_class=PlainTextResponse,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                        401: {"description": "SWITCHBOARD_METRICS_TOKEN is set and the request does not carry it",
                              "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}})
    def prometheus(request: Request) -> Response:
        if token:
            scheme, _, sent = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not constant_time_equals(sent.strip(), token):
                return problem_response(401, "Not signed in", [ErrorItem(
                    "unauthorized", "Send the metrics token: Authorization: Bearer <token>.")],
                    headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
