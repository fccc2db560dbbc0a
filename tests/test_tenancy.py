"""The most important security property: nobody reaches another partner's or another
account's data. This walks every route of the served OpenAPI document, so a new route is
covered the day it is added (a new path parameter must be given a value below)."""

from __future__ import annotations

import re

import pytest

from switchboard.core.security import SecretBox
from switchboard.jobs.models import Job
from switchboard.mivb.models import MivbService, Phone, ServiceCategory
from switchboard.numbering.models import DidRange, DnRange
from tests.factories import Tenant

# Values for names the body generator cannot guess from a schema alone.
HINTS = {"email": "walker@intruder.example", "password": "intruder-password", "new_password": "intruder-pass-2",
         "current_password": "wrong-password", "country": "CA", "default_language": "en", "mac": "08000F123456",
         "dn": "4002", "did": None, "number": "+33612345678", "language": "en", "start": "5000", "end": "5099",
         "prefix": "", "first_dn": None, "url": "http://127.0.0.1:9/", "template": "Telephony User",
         "user_pin": "4821", "product": "mivb", "allowed_phone_types": None}
UNAUTHENTICATED = {("POST", "/api/v1/auth/token"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}


@pytest.fixture
def victim(session, tenant_a, settings) -> Tenant:
    """Tenant A with one of every MiVB object, so each route is tried on a real object."""
    dn_range = DnRange(account_id=tenant_a.account.id, prefix="", start="4000", end="4099", next_hint="4000")
    did_range = DidRange(account_id=tenant_a.account.id, start="+4930555000", end="+4930555099",
                         next_hint="+4930555000")
    category = ServiceCategory(account_id=tenant_a.account.id, name="Victim Category", name_key="victim category",
                               template="Telephony User", licences=5)
    session.add_all([dn_range, did_range, category])
    session.flush()
    service = MivbService(user_id=tenant_a.user.id, account_id=tenant_a.account.id, service_category_id=category.id,
                          template="Telephony User")
    session.add(service)
    session.flush()
    phone = Phone(account_id=tenant_a.account.id, user_id=tenant_a.user.id, type="desk_phone", dn="4001",
                  dn_range_id=dn_range.id, model="6920")
    session.add(phone)
    job = Job(account_id=tenant_a.account.id, kind="import", mode="dry_run", on_error="all_or_nothing",
              state="succeeded", created_by=tenant_a.account_admin.id,
              input_encrypted=SecretBox(settings.secret_key).encrypt("email\nvictim@a.example\n"),
              options={}, summary={"counts": {"unchanged": 1}})
    session.add(job)
    session.commit()
    tenant_a.mivb = {"range_id": dn_range.id, "did_range_id": did_range.id, "category_id": category.id,
                     "phone_id": phone.id, "job_id": job.id}
    return tenant_a


def path_values(victim: Tenant) -> dict[str, str]:
    return {"account_id": victim.account.id, "user_id": victim.user.id, "product": "mivb", **victim.mivb}


def value_for(name: str, path: str, values: dict[str, str]) -> str:
    # one {range_id} name serves both DN and DID ranges
    if name == "range_id" and "/did-ranges/" in path:
        return values["did_range_id"]
    return values[name]


def sample(schema: dict, spec: dict, name: str = "") -> object:
    """A plausible instance of a JSON schema, so writes reach the service layer."""
    if "$ref" in schema:
        return sample(spec["components"]["schemas"][schema["$ref"].split("/")[-1]], spec, name)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return sample(options[0], spec, name) if options else None
    if name in HINTS:
        return HINTS[name]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {key: sample(sub, spec, key) for key, sub in props.items()}
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    return "Intruder " + name if schema.get("minLength", 1) <= 20 else "x" * schema["minLength"]


def routes(spec: dict):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                yield method.upper(), path, operation


def body_for(operation: dict, spec: dict):
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return sample(content["application/json"]["schema"], spec)
    return None


def fingerprints(victim: Tenant) -> list[str]:
    return [victim.account.id, victim.account.name, victim.partner.id, victim.user.id, victim.user.email,
            victim.account_admin.id, victim.account_admin.email, victim.partner_admin.email,
            "Victim Category", "+4930555", *victim.mivb.values()]


@pytest.mark.parametrize("intruder_role", ["partner_admin", "account_admin"])
def test_every_route_hides_another_tenant(client, app, session, victim, tenant_b, login, intruder_role):
    tenant_a = victim
    spec = app.openapi()
    values = path_values(tenant_a)
    intruder = getattr(tenant_b, intruder_role)
    headers = login(intruder.email)
    secrets = fingerprints(tenant_a)
    walked = 0
    for method, path, operation in routes(spec):
        if (method, path) in UNAUTHENTICATED:
            continue
        names = re.findall(r"{(\w+)}", path)
        missing = [n for n in names if n not in values]
        assert not missing, f"{method} {path}: give the tenancy walk a value for {missing}"
        url = path.format(**{n: value_for(n, path, values) for n in names})
        response = client.request(method, url, headers=headers, json=body_for(operation, spec))
        walked += 1
        assert response.status_code < 500, f"{method} {url}: {response.status_code} {response.text}"
        if names:
            # an object of another tenant does not exist for the intruder
            assert response.status_code in (404, 422), f"{method} {url} answered {response.status_code}"
        for secret in secrets:
            assert secret not in response.text, f"{method} {url} leaked {secret!r}"
    assert walked >= 10

    # and nothing of tenant A was changed by the walk
    owner = login(tenant_a.partner_admin.email)
    account = client.get(f"/api/v1/accounts/{tenant_a.account.id}", headers=owner).json()
    assert account["name"] == tenant_a.account.name and account["version"] == tenant_a.account.version
    user = client.get(f"/api/v1/accounts/{tenant_a.account.id}/users/{tenant_a.user.id}", headers=owner).json()
    assert user["version"] == tenant_a.user.version
    session.expire_all()
    assert session.get(Phone, tenant_a.mivb["phone_id"]).version == 1
    assert session.get(ServiceCategory, tenant_a.mivb["category_id"]).version == 1
    assert session.get(DnRange, tenant_a.mivb["range_id"]) is not None


def test_walk_also_refuses_without_a_token(client, app, victim):
    spec = app.openapi()
    values = path_values(victim)
    for method, path, operation in routes(spec):
        if (method, path) in UNAUTHENTICATED:
            continue
        names = re.findall(r"{(\w+)}", path)
        url = path.format(**{n: value_for(n, path, values) for n in names})
        response = client.request(method, url, json=body_for(operation, spec))
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.headers["www-authenticate"] == "Bearer"
