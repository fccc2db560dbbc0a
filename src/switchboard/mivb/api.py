"""REST routes for MiVB features: categories, PIN policy, add-on licences, and a user's
product, service, programming and phones. Each route calls one service function."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from switchboard.api_support import PROBLEM_RESPONSES, CtxDep, IfMatchDep, Page, set_etag
from switchboard.mivb import service
from switchboard.mivb.schemas import (
    AddonLicences,
    AddonLicencesOut,
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    ConfigOut,
    ConfigPatch,
    GeneratedPin,
    PhoneIn,
    PhoneOut,
    PhonePatch,
    PinPolicy,
    ProductIn,
    ProductOut,
    ServiceChoice,
)

router = APIRouter(prefix="/api/v1/accounts/{account_id}", responses=PROBLEM_RESPONSES)
USER = "/users/{user_id}"
Reveal = Annotated[bool, Query(description="Show secrets (user pin, SIP password); written to the change log")]


# ------------------------------------------------------------------ account settings

@router.get("/mivb/pin-policy", response_model=PinPolicy, tags=["mivb settings"])
def get_pin_policy(account_id: str, ctx: CtxDep, response: Response):
    policy, version = service.get_pin_policy(ctx, account_id)
    set_etag(response, version)
    return policy


@router.put("/mivb/pin-policy", response_model=PinPolicy, tags=["mivb settings"])
def put_pin_policy(account_id: str, body: PinPolicy, ctx: CtxDep, if_match: IfMatchDep, response: Response):
    policy, version = service.set_pin_policy(ctx, account_id, body, expected_version=if_match)
    set_etag(response, version)
    return policy


@router.get("/mivb/licences", response_model=AddonLicencesOut, tags=["mivb settings"],
            summary="Add-on licences (EHDU, ACD agent) with their use")
def get_licences(account_id: str, ctx: CtxDep):
    return service.get_addon_licences(ctx, account_id)


@router.put("/mivb/licences", response_model=AddonLicencesOut, tags=["mivb settings"])
def put_licences(account_id: str, body: AddonLicences, ctx: CtxDep):
    return service.set_addon_licences(ctx, account_id, body)


@router.get("/mivb/service-categories", response_model=Page[CategoryOut], tags=["mivb settings"])
def list_categories(account_id: str, ctx: CtxDep):
    items = service.list_categories(ctx, account_id)
    return {"total": len(items), "items": items}


@router.post("/mivb/service-categories", response_model=CategoryOut, status_code=201, tags=["mivb settings"])
def create_category(account_id: str, body: CategoryIn, ctx: CtxDep, response: Response):
    category = service.create_category(ctx, account_id, body)
    set_etag(response, category["version"])
    return category


@router.get("/mivb/service-categories/{category_id}", response_model=CategoryOut, tags=["mivb settings"])
def get_category(account_id: str, category_id: str, ctx: CtxDep, response: Response):
    category = service.get_category(ctx, account_id, category_id)
    set_etag(response, category["version"])
    return category


@router.patch("/mivb/service-categories/{category_id}", response_model=CategoryOut, tags=["mivb settings"])
def update_category(account_id: str, category_id: str, body: CategoryPatch, ctx: CtxDep, if_match: IfMatchDep,
                    response: Response):
    category = service.update_category(ctx, account_id, category_id, body, expected_version=if_match)
    set_etag(response, category["version"])
    return category


@router.delete("/mivb/service-categories/{category_id}", status_code=204, tags=["mivb settings"])
def delete_category(account_id: str, category_id: str, ctx: CtxDep, if_match: IfMatchDep):
    service.delete_category(ctx, account_id, category_id, expected_version=if_match)
    return Response(status_code=204)


# ------------------------------------------------------------------ a user's product and service

@router.get(USER + "/products", response_model=Page[ProductOut], tags=["mivb users"])
def list_products(account_id: str, user_id: str, ctx: CtxDep):
    items = service.list_products(ctx, account_id, user_id)
    return {"total": len(items), "items": items}


@router.post(USER + "/products", response_model=ProductOut, status_code=201, tags=["mivb users"],
             summary="Add a product (\"mivb\": MiVoice Business Service)")
def add_product(account_id: str, user_id: str, body: ProductIn, ctx: CtxDep):
    return service.add_product(ctx, account_id, user_id, body)


@router.delete(USER + "/products/{product}", status_code=204, tags=["mivb users"],
               summary="Remove a product: the PBX configuration goes, numbers return to their pools")
def remove_product(account_id: str, user_id: str, product: str, ctx: CtxDep, if_match: IfMatchDep):
    service.remove_product(ctx, account_id, user_id, product, expected_version=if_match)
    return Response(status_code=204)


@router.put(USER + "/mivb/service", response_model=ConfigOut, tags=["mivb users"],
            summary="Choose or upgrade the service category")
def choose_category(account_id: str, user_id: str, body: ServiceChoice, ctx: CtxDep, if_match: IfMatchDep,
                    response: Response):
    config = service.choose_category(ctx, account_id, user_id, body, expected_version=if_match)
    set_etag(response, config["version"])
    return config


@router.get(USER + "/mivb", response_model=ConfigOut, tags=["mivb users"],
            summary="The user's MiVB configuration with its sync state")
def get_config(account_id: str, user_id: str, ctx: CtxDep, response: Response, reveal: Reveal = False):
    config = service.get_config(ctx, account_id, user_id, reveal=reveal)
    set_etag(response, config["version"])
    return config


@router.patch(USER + "/mivb", response_model=ConfigOut, tags=["mivb users"],
              summary="Change the service programming (group, user pin, location, department)")
def update_config(account_id: str, user_id: str, body: ConfigPatch, ctx: CtxDep, if_match: IfMatchDep,
                  response: Response):
    config = service.update_config(ctx, account_id, user_id, body, expected_version=if_match)
    set_etag(response, config["version"])
    return config


@router.post(USER + "/mivb/user-pin/generate", response_model=GeneratedPin, tags=["mivb users"],
             summary="Generate a compliant user pin, store it and return it once")
def generate_pin(account_id: str, user_id: str, ctx: CtxDep):
    return {"user_pin": service.generate_user_pin(ctx, account_id, user_id)}


@router.get(USER + "/mivb/phones", response_model=Page[PhoneOut], tags=["mivb phones"])
def list_phones(account_id: str, user_id: str, ctx: CtxDep):
    items = service.list_phones(ctx, account_id, user_id)
    return {"total": len(items), "items": items}


@router.post(USER + "/mivb/phones", response_model=PhoneOut, status_code=201, tags=["mivb phones"],
             summary="Add a phone (numbers allocated when not given; a SIP password is shown this once)")
def add_phone(account_id: str, user_id: str, body: PhoneIn, ctx: CtxDep, if_match: IfMatchDep, response: Response):
    phone = service.add_phone(ctx, account_id, user_id, body, expected_version=if_match)
    set_etag(response, phone["version"])
    return phone


@router.get(USER + "/mivb/phones/{phone_id}", response_model=PhoneOut, tags=["mivb phones"])
def get_phone(account_id: str, user_id: str, phone_id: str, ctx: CtxDep, response: Response, reveal: Reveal = False):
    phone = service.get_phone(ctx, account_id, user_id, phone_id, reveal=reveal)
    set_etag(response, phone["version"])
    return phone


@router.patch(USER + "/mivb/phones/{phone_id}", response_model=PhoneOut, tags=["mivb phones"],
              summary="Change a phone (a new DN recreates its voicemail box)")
def update_phone(account_id: str, user_id: str, phone_id: str, body: PhonePatch, ctx: CtxDep, if_match: IfMatchDep,
                 response: Response):
    phone = service.update_phone(ctx, account_id, user_id, phone_id, body, expected_version=if_match)
    set_etag(response, phone["version"])
    return phone


@router.delete(USER + "/mivb/phones/{phone_id}", status_code=204, tags=["mivb phones"])
def delete_phone(account_id: str, user_id: str, phone_id: str, ctx: CtxDep, if_match: IfMatchDep):
    service.delete_phone(ctx, account_id, user_id, phone_id, expected_version=if_match)
    return Response(status_code=204)

