"""DN and DID ranges, and allocation of numbers from them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from switchboard.api_support import (
    PROBLEM_RESPONSES,
    CtxDep,
    IfMatchDep,
    Page,
    PagingDep,
    set_etag,
)
from switchboard.numbering import ranges as service
from switchboard.numbering.schemas import (
    AvailableDns,
    DidRangeCreate,
    DidRangeOut,
    DnRangeCreate,
    DnRangeOut,
)

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["numbering"])

DN_RANGES = "/accounts/{account_id}/mivb/dn-ranges"
DID_RANGES = "/accounts/{account_id}/mivb/did-ranges"


def dn_range_out(info: service.RangeInfo) -> DnRangeOut:
    rng = info.range
    return DnRangeOut(id=rng.id, account_id=rng.account_id, prefix=rng.prefix or "", start=rng.start, end=rng.end,
                      first_dn=(rng.prefix or "") + rng.start, last_dn=(rng.prefix or "") + rng.end,
                      size=info.size, used=info.used, free=info.free, version=rng.version,
                      created_at=rng.created_at, updated_at=rng.updated_at)


def did_range_out(info: service.RangeInfo) -> DidRangeOut:
    rng = info.range
    return DidRangeOut(id=rng.id, account_id=rng.account_id, start=rng.start, end=rng.end, first_dn=rng.first_dn,
                       last_dn=info.last_dn, size=info.size, used=info.used, free=info.free, version=rng.version,
                       created_at=rng.created_at, updated_at=rng.updated_at)


# ---------------------------------------------------------------- DN ranges

@router.get(DN_RANGES, response_model=Page[DnRangeOut],
            summary="DN ranges of the account, in order of prefix + start, with their usage")
def list_dn_ranges(account_id: str, ctx: CtxDep, paging: PagingDep) -> Page[DnRangeOut]:
    total, rows = service.list_dn_ranges(ctx, account_id, search=paging.search, limit=paging.limit,
                                         offset=paging.offset)
    return Page(total=total, items=[dn_range_out(r) for r in rows])


@router.post(DN_RANGES, response_model=DnRangeOut, status_code=201,
             summary="Add a DN range (partner admins); 409 range_overlap when it overlaps another")
def create_dn_range(account_id: str, body: DnRangeCreate, ctx: CtxDep, response: Response) -> DnRangeOut:
    info = service.create_dn_range(ctx, account_id, body)
    set_etag(response, info.range)
    return dn_range_out(info)


@router.get(DN_RANGES + "/{range_id}", response_model=DnRangeOut, summary="One DN range, with its usage")
def get_dn_range(account_id: str, range_id: str, ctx: CtxDep, response: Response) -> DnRangeOut:
    info = service.get_dn_range(ctx, account_id, range_id)
    set_etag(response, info.range)
    return dn_range_out(info)


@router.delete(DN_RANGES + "/{range_id}", status_code=204,
               summary="Delete a DN range (partner admins); 409 range_in_use while a phone has one of its DNs")
def delete_dn_range(account_id: str, range_id: str, ctx: CtxDep, if_match: IfMatchDep) -> Response:
    service.delete_dn_range(ctx, account_id, range_id, expected_version=if_match)
    return Response(status_code=204)


@router.get(DN_RANGES + "/{range_id}/available", response_model=AvailableDns,
            summary='The next free DNs of the range, lowest first: {"items": ["2001", …]} (not a page: '
                    'no total, no offset; nothing is reserved)')
def available_dns(account_id: str, range_id: str, ctx: CtxDep,
                  limit: Annotated[int, Query(ge=1, le=service.MAX_AVAILABLE,
                                              description="How many DNs (1 to 100)")] = 10) -> AvailableDns:
    return AvailableDns(items=service.available_dns(ctx, account_id, range_id, limit))


# ---------------------------------------------------------------- DID ranges

@router.get(DID_RANGES, response_model=Page[DidRangeOut], summary="DID ranges of the account, with their usage")
def list_did_ranges(account_id: str, ctx: CtxDep, paging: PagingDep) -> Page[DidRangeOut]:
    total, rows = service.list_did_ranges(ctx, account_id, search=paging.search, limit=paging.limit,
                                          offset=paging.offset)
    return Page(total=total, items=[did_range_out(r) for r in rows])


@router.post(DID_RANGES, response_model=DidRangeOut, status_code=201,
             summary="Add a DID range (partner admins); DIDs are unique across all accounts")
def create_did_range(account_id: str, body: DidRangeCreate, ctx: CtxDep, response: Response) -> DidRangeOut:
    info = service.create_did_range(ctx, account_id, body)
    set_etag(response, info.range)
    return did_range_out(info)


@router.get(DID_RANGES + "/{range_id}", response_model=DidRangeOut, summary="One DID range, with its usage")
def get_did_range(account_id: str, range_id: str, ctx: CtxDep, response: Response) -> DidRangeOut:
    info = service.get_did_range(ctx, account_id, range_id)
    set_etag(response, info.range)
    return did_range_out(info)


@router.delete(DID_RANGES + "/{range_id}", status_code=204,
               summary="Delete a DID range (partner admins); 409 range_in_use while a phone has one of its DIDs")
def delete_did_range(account_id: str, range_id: str, ctx: CtxDep, if_match: IfMatchDep) -> Response:
    service.delete_did_range(ctx, account_id, range_id, expected_version=if_match)
    return Response(status_code=204)
