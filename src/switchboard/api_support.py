"""What every REST route shares: sessions, the signed-in actor, paging, ETags, problems."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, Iterator, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from switchboard.accounts import auth
from switchboard.accounts.tenancy import actor_for
from switchboard.core.context import ServiceContext
from switchboard.core.errors import ErrorItem, PreconditionFailed, Unauthorized
from switchboard.core.db import read_mostly
from switchboard.core.uow import unit_of_work

T = TypeVar("T")

PROBLEM_JSON = "application/problem+json"
_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/auth/token")


class Page(BaseModel, Generic[T]):
    total: int
    items: list[T]


class ErrorOut(BaseModel):
    code: str
    message: str
    field: str | None = None
    phone_id: str | None = None
    row: int | None = None


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[ErrorOut]


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}}
    for status in (401, 403, 404, 409, 412, 422)
}

# What the OpenAPI document says beyond each router's PROBLEM_RESPONSES (document_problems).
PROBLEM_DESCRIPTIONS = {
    400: "The body is not valid JSON, or holds a key twice (`invalid_json`, `duplicate_key`)",
    401: "Not signed in, or the token is invalid or expired",
    403: "Not allowed for your role",
    404: "Not found, or not yours",
    409: "Conflict: taken, exhausted, or not allowed now",
    412: "If-Match names another version (`version_mismatch`)",
    413: "The body is larger than the configured limit (`body_too_large`)",
    422: "Invalid input, a control character included (`invalid_character`)",
    429: "Too many failed sign-ins (`signin_locked`)",
    502: "The PBX cannot be reached or read (`pbx_unreachable`)",
    503: "The database cannot be reached right now (`database_unavailable`); try again after Retry-After",
}
# Routes that can answer more than the common statuses: (method, path) -> statuses. 502:
# the route reads the PBX catalogue (choices are checked against it) or the PBX itself.
EXTRA_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/api/v1/auth/token"): (429,),
    ("get", "/api/v1/accounts/{account_id}/mivb/catalog"): (502,),
    ("post", "/api/v1/accounts/{account_id}/mivb/service-categories"): (502,),
    ("patch", "/api/v1/accounts/{account_id}/mivb/service-categories/{category_id}"): (502,),
    ("put", "/api/v1/accounts/{account_id}/users/{user_id}/mivb/service"): (502,),
    ("patch", "/api/v1/accounts/{account_id}/users/{user_id}/mivb"): (502,),
    ("post", "/api/v1/accounts/{account_id}/users/{user_id}/mivb/phones"): (502,),
    ("patch", "/api/v1/accounts/{account_id}/users/{user_id}/mivb/phones/{phone_id}"): (502,),
    ("delete", "/api/v1/accounts/{account_id}/users/{user_id}/mivb/phones/{phone_id}"): (502,),
    ("get", "/api/v1/accounts/{account_id}/mivb/adoption"): (502,),
}


def document_problems(spec: dict[str, Any], api_prefix: str = "/api/") -> dict[str, Any]:
    """Every API operation lists every status it can answer, each error as problem+json:
    the common ones, 400 and 413 where a body is read, and EXTRA_STATUSES."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith(api_prefix):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            statuses.add(422)  # the input guard checks every path and query string
            statuses.add(503)  # every route needs the database
            if "requestBody" in operation:
                statuses.update((400, 413))
            statuses.update(EXTRA_STATUSES.get((method, path), ()))
            for status in sorted(statuses):
                responses[str(status)] = {"description": PROBLEM_DESCRIPTIONS.get(status, "Error"),
                                          "content": problem}
    return spec


def problem_response(status: int, title: str, errors: list[ErrorItem], headers: dict | None = None) -> JSONResponse:
    detail = "; ".join(e.render() for e in errors) or title
    body = {
        "type": f"https://switchboard.invalid/problems/{errors[0].code if errors else 'error'}",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [e.as_json() for e in errors],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed once when the route has returned (before the
    answer is sent, so a failing commit is still answered as an error), rolled back when it
    raises. Routes and pages never commit themselves."""
    factory = request.app.state.session_factory
    if request.method in ("GET", "HEAD") and not request.scope.get("switchboard.write_lock"):
        factory = read_mostly(factory)  # SQLite: read without the write lock (middleware.ReadMostlyMiddleware)
    with unit_of_work(factory) as session:
        yield session


# scope="function": the unit of work ends when the route returns, before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_ctx(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ServiceContext:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("unauthorized", "Sign in first: send a bearer token.")
    token = request.app.state.signer.read(credentials.credentials)
    user = auth.load_signed_in_user(session, *token) if token else None
    if user is None:
        raise Unauthorized("invalid_token", "The token is invalid or has expired.")
    return ServiceContext(session=session, actor=actor_for(user), runtime=request.app.state.runtime)


CtxDep = Annotated[ServiceContext, Depends(get_ctx)]


class Paging(BaseModel):
    limit: int
    offset: int
    search: str | None


def get_paging(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    search: Annotated[str | None, Query(max_length=200, description="Text to look for")] = None,
) -> Paging:
    return Paging(limit=limit, offset=offset, search=search or None)


PagingDep = Annotated[Paging, Depends(get_paging)]


def set_etag(response: Response, version_or_obj: Any) -> None:
    """The ETag of an object (its version), given the object or the version itself."""
    version = version_or_obj if isinstance(version_or_obj, int) else version_or_obj.version
    response.headers["ETag"] = f'"{version}"'


# Versions are integer columns: an ETag naming a larger number can never match.
MAX_VERSION = 2**31 - 1
_ETAG = re.compile(r'(W/)?"([^"]*)"|[^",\s]+')


def version_number(text: str) -> int | None:
    """The version a text names (ASCII digits within the column's range), else None.
    str.isdigit() is not enough: it accepts '²' and '١', and a digit string of any length."""
    if not (0 < len(text) <= len(str(MAX_VERSION))) or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 1 <= number <= MAX_VERSION else None


def parse_if_match(header: str | None) -> int | None:
    """The version an If-Match header names: None when absent or "*"; one strong ETag
    ("3", or 3 bare) this API could have issued otherwise. Anything else (stale aside: a weak
    tag, a list, a number out of range, garbage) can never match: 412, never a 500."""
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.fullmatch(header.strip())
    if match is None or match.group(1):  # not one tag, or weak (W/"3" never matches strongly)
        raise PreconditionFailed("version_mismatch", "If-Match must be an ETag this API returned.")
    version = version_number(match.group(2) if match.group(2) is not None else match.group(0))
    if version is None:
        raise PreconditionFailed("version_mismatch", "If-Match must be an ETag this API returned.")
    return version


def if_match_version(request: Request) -> int | None:
    """The version the request's If-Match header names (see parse_if_match)."""
    return parse_if_match(request.headers.get("if-match"))


IfMatchDep = Annotated[int | None, Depends(if_match_version)]
