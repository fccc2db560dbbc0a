"""The ASGI application: REST API, console and operational endpoints in one process."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from switchboard import __version__
from switchboard.accounts import api as accounts_api
from switchboard.accounts import views as accounts_views
from switchboard.api_support import problem_response
from switchboard.audit import api as audit_api
from switchboard.imports import api as imports_api
from switchboard.imports import views as imports_views
from switchboard.imports.csv_format import MAX_BYTES as IMPORT_MAX_BYTES
from switchboard.jobs import api as jobs_api
from switchboard.core.config import Settings, get_settings
from switchboard.console import views as console_views
from switchboard.console.web import (CsrfFailed, LoginRequired, login_redirect, make_templates,
                                    method_not_allowed, render)
from switchboard.core.db import make_engine, make_session_factory
from switchboard.core.errors import ErrorItem, NotFound, PreconditionFailed, ServiceError
from switchboard.mivb import api as mivb_api
from switchboard.mivb import settings_views as mivb_settings_views
from switchboard.mivb import views as mivb_views
from switchboard.numbering import api as numbering_api
from switchboard.pbx import api as pbx_api
from switchboard.middleware import BodySizeLimitMiddleware, Metrics, MetricsMiddleware, RequestIdMiddleware
from switchboard.wiring import runtime_from_settings
from switchboard.sync.queue import pbx_reachability
from switchboard.core.security import TokenSigner
from switchboard.sync.metrics import SyncCollector
from switchboard.core.validation import items_from_pydantic

API_PREFIX = "/api/"
STATUS_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Not allowed for your role",
                 404: "Not found", 405: "Method not allowed", 413: "Request body too large",
                 415: "Unsupported media type"}


def create_app(settings: Settings | None = None, session_factory: sessionmaker | None = None) -> FastAPI:
    settings = settings or get_settings()
    secret_key = settings.resolved_secret_key()
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
    app.state.signer = TokenSigner(secret_key, settings.token_ttl_seconds)
    app.state.runtime = runtime_from_settings(settings)
    app.state.templates = make_templates()
    metrics = Metrics()
    metrics.registry.register(SyncCollector(session_factory))
    app.state.metrics = metrics

    app.include_router(imports_api.router)  # before the accounts routes: /users/export is not a user id
    app.include_router(jobs_api.router)
    app.include_router(accounts_api.router)
    app.include_router(audit_api.router)
    app.include_router(numbering_api.router)
    app.include_router(pbx_api.router)
    app.include_router(mivb_api.router)
    app.include_router(imports_views.router)  # before the accounts pages: /users/import is not a user id
    app.include_router(console_views.router)
    app.include_router(accounts_views.router)
    app.include_router(mivb_views.router)
    app.include_router(mivb_settings_views.router)
    app.mount("/static", StaticFiles(packages=[("switchboard.console", "static")]), name="static")

    _install_error_handlers(app)
    _install_operational_routes(app, metrics)

    # Outermost last: ids first, then metrics, size limit, sessions.
    app.add_middleware(SessionMiddleware, secret_key=secret_key, session_cookie="switchboard_session",
                       max_age=settings.token_ttl_seconds, same_site="lax",
                       https_only=settings.secure_cookies)
    # A bulk import's file may be larger than other bodies (and its form's envelope).
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       large=(("/imports", IMPORT_MAX_BYTES + 65536), ("/users/import", IMPORT_MAX_BYTES + 65536)))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        if _is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return problem_response(exc.status, exc.title, exc.errors, headers)
        return render(request, "error.html", {"status": exc.status, "error": exc}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return problem_response(422, "Invalid input", items_from_pydantic(list(exc.errors())))

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError):
        return await service_error(request, PreconditionFailed(
            "version_mismatch", "This object was changed by someone else at the same time. Reload it and try again."))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        title = STATUS_TITLES.get(exc.status_code, "Error")
        if _is_api(request):
            code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
            return problem_response(exc.status_code, title, [ErrorItem(code, str(exc.detail) or title)],
                                    headers=getattr(exc, "headers", None))
        if exc.status_code == 404:
            return await service_error(request, NotFound("not_found", "This page does not exist."))
        if exc.status_code == 405:
            return method_not_allowed(request)
        return PlainTextResponse(title, status_code=exc.status_code)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        return login_redirect(request)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed):
        error = ServiceError("csrf_failed", "This form has expired. Reload the page and try again.")
        error.status = 403
        return render(request, "error.html", {"status": 403, "error": error}, status_code=403)


def _install_operational_routes(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/api/v1/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title="Switchboard API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"],
             summary="Readiness: the database answers; PBX reachability as the sync last saw it")
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

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
