"""REST routes for the account's PBX connection and catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from switchboard.api_support import PROBLEM_RESPONSES, CtxDep, IfMatchDep, set_etag
from switchboard.core.errors import NotFound
from switchboard.pbx import catalog, connection as connections
from switchboard.pbx.models import MivbConnection
from switchboard.pbx.schemas import CatalogOut, ConnectionIn, ConnectionOut, ConnectionTestOut

router = APIRouter(prefix="/api/v1/accounts/{account_id}/mivb", responses=PROBLEM_RESPONSES, tags=["mivb connection"])


def _out(connection: MivbConnection) -> ConnectionOut:
    return ConnectionOut.model_validate(connection, from_attributes=True)


@router.get("/connection", response_model=ConnectionOut, summary="The account's MiVB connection (password masked)")
def get_connection(account_id: str, ctx: CtxDep, response: Response) -> ConnectionOut:
    connection = connections.get_connection(ctx, account_id)
    if connection is None:
        raise NotFound("not_connected", "This account is not connected to a MiVoice Business yet.")
    set_etag(response, connection)
    return _out(connection)


@router.put("/connection", response_model=ConnectionOut, summary="Connect the account's MiVB (gateway)")
def put_connection(account_id: str, body: ConnectionIn, ctx: CtxDep, if_match: IfMatchDep,
                   response: Response) -> ConnectionOut:
    connection = connections.set_connection(ctx, account_id, body, expected_version=if_match)
    set_etag(response, connection)
    return _out(connection)


@router.post("/connection/test", response_model=ConnectionTestOut, summary="Try the connection now")
def test_connection(account_id: str, ctx: CtxDep) -> ConnectionTestOut:
    return ConnectionTestOut.model_validate(connections.test_connection(ctx, account_id))


@router.get("/catalog", response_model=CatalogOut,
            summary="What the PBX offers (cached; read again when stale or with refresh=true)")
def get_catalog(account_id: str, ctx: CtxDep,
                refresh: Annotated[bool, Query(description="Read the PBX now")] = False) -> CatalogOut:
    return CatalogOut.model_validate(catalog.get_catalog(ctx, account_id, refresh=refresh))
