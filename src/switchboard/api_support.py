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
    with unit_of_work(request.app.state.session_factory) as session:
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
