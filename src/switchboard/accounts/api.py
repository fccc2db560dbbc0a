"""REST routes for sign-in, accounts and users. Thin: each calls one service function."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from switchboard.accounts import auth, service
from switchboard.mivb import service as mivb
from switchboard.accounts.models import Account, User
from switchboard.accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountUpdate,
    Me,
    MeUpdate,
    PasswordChange,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
    UserUpdate,
)
from switchboard.api_support import (
    PROBLEM_RESPONSES,
    CtxDep,
    IfMatchDep,
    Page,
    PagingDep,
    SessionDep,
    set_etag,
)

SyncState = Literal["pending", "syncing", "synced", "failed"]

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


def account_out(account: Account) -> AccountOut:
    return AccountOut.model_validate(account, from_attributes=True)


def user_out(user: User, mivb_summary: dict | None = None) -> UserOut:
    summary = mivb_summary or {}
    return UserOut(
        id=user.id, account_id=user.account_id, first_name=user.first_name, last_name=user.last_name,
        email=user.email, role=user.role, can_sign_in=user.password_hash is not None,
        extensions=summary.get("extensions", []), licences=summary.get("licences", []),
        location=summary.get("location"), version=user.version,
        created_at=user.created_at, updated_at=user.updated_at,
    )


@router.post("/auth/token", response_model=TokenOut, tags=["auth"], summary="Sign in")
def sign_in(body: TokenRequest, request: Request, session: SessionDep) -> TokenOut:
    user = auth.authenticate(session, body.email, body.password, client=request.client.host if request.client else None)
    signer = request.app.state.signer
    return TokenOut(access_token=signer.issue(user.id, user.token_version), expires_in=signer.ttl_seconds)


def me_out(ctx, user: User) -> Me:
    return Me(id=user.id, email=user.email, first_name=user.first_name, last_name=user.last_name,
              role=user.role, partner_id=ctx.actor.partner_id, account_id=user.account_id, language=user.language)


@router.get("/me", response_model=Me, tags=["auth"], summary="Who am I")
def me(ctx: CtxDep) -> Me:
    return me_out(ctx, ctx.session.get(User, ctx.actor.user_id))


@router.patch("/me", response_model=Me, tags=["auth"],
              summary="Change my own preferences: my console language (null: the browser's, then the account's)")
def update_me(body: MeUpdate, ctx: CtxDep) -> Me:
    return me_out(ctx, service.update_me(ctx, body))


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"],
             summary="Change my own password (API tokens issued before stop working)")
def change_password(body: PasswordChange, ctx: CtxDep) -> Response:
    auth.change_own_password(ctx, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/accounts", response_model=Page[AccountOut], tags=["accounts"])
def list_accounts(ctx: CtxDep, paging: PagingDep) -> Page[AccountOut]:
    total, rows = service.list_accounts(ctx, search=paging.search, limit=paging.limit, offset=paging.offset)
    return Page(total=total, items=[account_out(a) for a in rows])


@router.post("/accounts", response_model=AccountOut, status_code=201, tags=["accounts"])
def create_account(body: AccountCreate, ctx: CtxDep, response: Response) -> AccountOut:
    account = service.create_account(ctx, body)
    set_etag(response, account)
    return account_out(account)


@router.get("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
def get_account(account_id: str, ctx: CtxDep, response: Response) -> AccountOut:
    account = service.get_account(ctx, account_id)
    set_etag(response, account)
    return account_out(account)


@router.patch("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
def update_account(account_id: str, body: AccountUpdate, ctx: CtxDep, if_match: IfMatchDep,
                   response: Response) -> AccountOut:
    account = service.update_account(ctx, account_id, body, expected_version=if_match)
    set_etag(response, account)
    return account_out(account)


@router.delete("/accounts/{account_id}", status_code=204, tags=["accounts"])
def delete_account(account_id: str, ctx: CtxDep, if_match: IfMatchDep) -> Response:
    service.delete_account(ctx, account_id, expected_version=if_match)
    return Response(status_code=204)


@router.get("/accounts/{account_id}/users", response_model=Page[UserOut], tags=["users"])
def list_users(account_id: str, ctx: CtxDep, paging: PagingDep,
               sync_state: Annotated[SyncState | None, Query(
                   description="Only users whose MiVB service is in this sync state")] = None) -> Page[UserOut]:
    total, rows = service.list_users(ctx, account_id, search=paging.search, limit=paging.limit,
                                     offset=paging.offset, sync_state=sync_state)
    summaries = mivb.user_summaries(ctx.session, [u.id for u in rows])
    return Page(total=total, items=[user_out(u, summaries.get(u.id)) for u in rows])


@router.post("/accounts/{account_id}/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(account_id: str, body: UserCreate, ctx: CtxDep, response: Response) -> UserOut:
    user = service.create_user(ctx, account_id, body)
    set_etag(response, user)
    return user_out(user)


@router.get("/accounts/{account_id}/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(account_id: str, user_id: str, ctx: CtxDep, response: Response) -> UserOut:
    user = service.get_user(ctx, account_id, user_id)
    set_etag(response, user)
    return user_out(user, mivb.user_summaries(ctx.session, [user.id]).get(user.id))


@router.patch("/accounts/{account_id}/users/{user_id}", response_model=UserOut, tags=["users"])
def update_user(account_id: str, user_id: str, body: UserUpdate, ctx: CtxDep, if_match: IfMatchDep,
                response: Response) -> UserOut:
    user = service.update_user(ctx, account_id, user_id, body, expected_version=if_match)
    set_etag(response, user)
    return user_out(user)


@router.delete("/accounts/{account_id}/users/{user_id}", status_code=204, tags=["users"])
def delete_user(account_id: str, user_id: str, ctx: CtxDep, if_match: IfMatchDep) -> Response:
    service.delete_user(ctx, account_id, user_id, expected_version=if_match)
    return Response(status_code=204)
