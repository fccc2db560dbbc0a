"""DN and DID ranges through the REST API: rules and codes, roles and tenancy, usage,
deletion, ETags."""

from __future__ import annotations

from sqlalchemy import select

from switchboard.audit.models import AuditEntry
from tests.numbering.conftest import add_phone, did_range, dn_range, reserve

DN = "/api/v1/accounts/{}/mivb/dn-ranges"
DID = "/api/v1/accounts/{}/mivb/did-ranges"


def _errors(response) -> dict[str, str]:
    return {e.get("field"): e["code"] for e in response.json()["errors"]}


# ---------------------------------------------------------------- DN ranges

def test_partner_admin_creates_lists_reads_and_deletes_a_dn_range(client, session, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    url = DN.format(tenant_a.account.id)
    created = client.post(url, headers=headers, json={"start": "2000", "end": "2999"})
    assert created.status_code == 201, created.text
    item = created.json()
    assert {k: item[k] for k in ("prefix", "start", "end", "first_dn", "last_dn", "size", "used", "free")} == {
        "prefix": "", "start": "2000", "end": "2999", "first_dn": "2000", "last_dn": "2999",
        "size": 1000, "used": 0, "free": 1000}
    assert created.headers["etag"] == f'"{item["version"]}"'
    starred = client.post(url, headers=headers, json={"start": "00", "end": "49", "prefix": "*7"})
    assert starred.status_code == 201 and starred.json()["first_dn"] == "*700"

    listing = client.get(url, headers=headers).json()
    assert listing["total"] == 2
    assert [i["first_dn"] for i in listing["items"]] == ["*700", "2000"]  # order of prefix + start
    assert client.get(url + "?search=*70", headers=headers).json()["total"] == 1

    one = client.get(f"{url}/{item['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["id"] == item["id"] and one.headers["etag"] == created.headers["etag"]

    assert client.delete(f"{url}/{item['id']}", headers=headers).status_code == 204
    assert client.get(f"{url}/{item['id']}", headers=headers).status_code == 404
    assert client.delete(f"{url}/{item['id']}", headers=headers).status_code == 404
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == item["id"])
                              .order_by(AuditEntry.id)).all()
    assert list(actions) == ["create", "delete"]


def test_dn_range_validation_names_fields_with_stable_codes(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    url = DN.format(tenant_a.account.id)
    cases = [
        ({"start": "2a00", "end": "2999"}, {"start": "invalid_digits"}),
        ({"start": "2000", "end": "12345678"}, {"end": "invalid_digits"}),
        ({"start": "2000", "end": "299"}, {"end": "length_mismatch"}),
        ({"start": "2999", "end": "2000"}, {"end": "invalid_dn_range"}),
        ({"start": "2000", "end": "2999", "prefix": "*7ab"}, {"prefix": "invalid_prefix"}),
        ({"start": "2000", "end": "2999", "prefix": "*7#*0"}, {"prefix": "invalid_prefix"}),
        ({"start": "200000", "end": "299999", "prefix": "*7"}, {"start": "range_too_long"}),
        ({"start": "2000", "end": "2999", "colour": "red"}, {"colour": "unknown_field"}),
        ({"start": 2000, "end": "2999"}, {"start": "invalid_type"}),
        ({"end": "2999"}, {"start": "required"}),
    ]
    for body, expected in cases:
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
        assert _errors(response) == expected, body
    assert client.get(url, headers=headers).json()["total"] == 0


def test_overlapping_dn_ranges_are_refused_naming_the_other(client, tenant_a, tenant_b, login):
    headers = login(tenant_a.partner_admin.email)
    url = DN.format(tenant_a.account.id)
    assert client.post(url, headers=headers, json={"start": "2000", "end": "2999"}).status_code == 201
    assert client.post(url, headers=headers, json={"start": "000", "end": "999", "prefix": "*7"}).status_code == 201
    for body, other in [({"start": "2500", "end": "3499"}, "2000–2999"),
                        ({"start": "000", "end": "999", "prefix": "2"}, "2000–2999"),
                        ({"start": "50", "end": "59", "prefix": "29"}, "2000–2999"),
                        ({"start": "00", "end": "99", "prefix": "*71"}, "*7000–*7999")]:
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 409, body
        error = response.json()["errors"][0]
        assert error["code"] == "range_overlap" and other in error["message"], error
    # a different length, a prefix that cannot collide, or another account: no overlap
    for body in [{"start": "20000", "end": "29999"}, {"start": "000", "end": "999", "prefix": "#7"},
                 {"start": "3000", "end": "3999"}]:
        assert client.post(url, headers=headers, json=body).status_code == 201, body
    other_account = client.post(DN.format(tenant_b.account.id), headers=login(tenant_b.partner_admin.email),
                                json={"start": "2000", "end": "2999"})
    assert other_account.status_code == 201


def test_account_admin_reads_ranges_but_cannot_change_them(client, session, tenant_a, login):
    rng = dn_range(session, tenant_a.account, "2000", "2099")
    drng = did_range(session, tenant_a.account, "+14155550100", "+14155550199")
    headers = login(tenant_a.account_admin.email)
    dn_url, did_url = DN.format(tenant_a.account.id), DID.format(tenant_a.account.id)
    assert client.get(dn_url, headers=headers).json()["total"] == 1
    assert client.get(f"{dn_url}/{rng.id}", headers=headers).status_code == 200
    assert client.get(f"{dn_url}/{rng.id}/available", headers=headers).json() == {
        "items": [f"20{i:02d}" for i in range(10)]}
    assert client.get(did_url, headers=headers).json()["total"] == 1
    assert client.get(f"{did_url}/{drng.id}", headers=headers).status_code == 200
    for method, url, body in [("POST", dn_url, {"start": "3000", "end": "3099"}),
                              ("DELETE", f"{dn_url}/{rng.id}", None),
                              ("POST", did_url, {"start": "+14155550200", "end": "+14155550299"}),
                              ("DELETE", f"{did_url}/{drng.id}", None)]:
        response = client.request(method, url, headers=headers, json=body)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["errors"][0]["code"] == "forbidden"
    # a plain user of the account does not see the settings at all
    user_headers = login(tenant_a.user.email)
    assert client.get(dn_url, headers=user_headers).status_code == 403


def test_another_tenant_gets_404_everywhere(client, session, tenant_a, tenant_b, login):
    rng = dn_range(session, tenant_a.account, "2000", "2099")
    drng = did_range(session, tenant_a.account, "+14155550100", "+14155550199")
    for intruder in (tenant_b.partner_admin, tenant_b.account_admin):
        headers = login(intruder.email)
        for method, url in [("GET", DN.format(tenant_a.account.id)),
                            ("POST", DN.format(tenant_a.account.id)),
                            ("GET", f"{DN.format(tenant_a.account.id)}/{rng.id}"),
                            ("GET", f"{DN.format(tenant_a.account.id)}/{rng.id}/available"),
                            ("DELETE", f"{DN.format(tenant_a.account.id)}/{rng.id}"),
                            ("GET", DID.format(tenant_a.account.id)),
                            ("POST", DID.format(tenant_a.account.id)),
                            ("GET", f"{DID.format(tenant_a.account.id)}/{drng.id}"),
                            ("DELETE", f"{DID.format(tenant_a.account.id)}/{drng.id}")]:
            body = {"start": "+14155550300", "end": "+14155550399"} if "did" in url else {"start": "3000",
                                                                                           "end": "3099"}
            response = client.request(method, url, headers=headers, json=body if method == "POST" else None)
            assert response.status_code == 404, (intruder.email, method, url, response.status_code)
    # nor through its own account with the other's range id
    headers = login(tenant_b.partner_admin.email)
    assert client.get(f"{DN.format(tenant_b.account.id)}/{rng.id}", headers=headers).status_code == 404
    assert client.delete(f"{DID.format(tenant_b.account.id)}/{drng.id}", headers=headers).status_code == 404
    assert client.get(f"{DN.format(tenant_b.account.id)}/{rng.id}/available", headers=headers).status_code == 404


def test_usage_counts_phones_and_pbx_reserved_dns(client, session, tenant_a, tenant_b, login):
    rng = dn_range(session, tenant_a.account, "2000", "2099")
    starred = dn_range(session, tenant_a.account, "00", "99", prefix="*7")
    add_phone(session, tenant_a.account, "2000", dn_range_id=rng.id)
    add_phone(session, tenant_a.account, "2042", dn_range_id=rng.id)
    add_phone(session, tenant_a.account, "*705", dn_range_id=starred.id)
    add_phone(session, tenant_a.account, "3000")  # outside every range
    add_phone(session, tenant_a.account, "20000")  # sorts inside 2000–2099 but is longer
    add_phone(session, tenant_b.account, "2001")  # another account's PBX
    reserve(session, tenant_a.account, "2099", "2100", "*799")
    headers = login(tenant_a.account_admin.email)
    items = {i["first_dn"]: i for i in client.get(DN.format(tenant_a.account.id), headers=headers).json()["items"]}
    assert (items["2000"]["size"], items["2000"]["used"], items["2000"]["free"]) == (100, 3, 97)
    assert (items["*700"]["size"], items["*700"]["used"], items["*700"]["free"]) == (100, 2, 98)
    available = client.get(f"{DN.format(tenant_a.account.id)}/{rng.id}/available?limit=3", headers=headers)
    assert available.json() == {"items": ["2001", "2002", "2003"]}
    for bad in ("0", "101", "x"):
        response = client.get(f"{DN.format(tenant_a.account.id)}/{rng.id}/available?limit={bad}", headers=headers)
        assert response.status_code == 422 and _errors(response).keys() == {"limit"}


def test_a_dn_range_in_use_cannot_be_deleted_and_if_match_is_honoured(client, session, tenant_a, login):
    rng = dn_range(session, tenant_a.account, "2000", "2099")
    phone = add_phone(session, tenant_a.account, "2005", dn_range_id=rng.id)
    headers = login(tenant_a.partner_admin.email)
    url = f"{DN.format(tenant_a.account.id)}/{rng.id}"
    etag = client.get(url, headers=headers).headers["etag"]
    refused = client.delete(url, headers=headers)
    assert refused.status_code == 409 and refused.json()["errors"][0]["code"] == "range_in_use"
    session.delete(phone)
    session.flush()
    stale = client.delete(url, headers={**headers, "If-Match": '"999"'})
    assert stale.status_code == 412 and stale.json()["errors"][0]["code"] == "version_mismatch"
    assert client.delete(url, headers={**headers, "If-Match": "garbage"}).status_code == 412
    assert client.delete(url, headers={**headers, "If-Match": etag}).status_code == 204


def test_allocation_does_not_change_the_etag(client, session, tenant_a, login):
    """Handing numbers out and taking them back is not a change of the range as the admin
    defined it: neither its ETag nor its time of change move."""
    from switchboard.numbering import service as numbering

    rng = dn_range(session, tenant_a.account, "2000", "2099")
    session.commit()
    headers = login(tenant_a.partner_admin.email)
    url = f"{DN.format(tenant_a.account.id)}/{rng.id}"
    before = client.get(url, headers=headers)
    dn, _ = numbering.allocate_dn(session, tenant_a.account.id)
    phone = add_phone(session, tenant_a.account, dn, dn_range_id=rng.id)
    session.commit()
    after = client.get(url, headers=headers)
    assert after.headers["etag"] == before.headers["etag"] and after.json()["used"] == 1
    assert after.json()["updated_at"] == before.json()["updated_at"]
    numbering.release_dn(session, rng.id, phone.dn)
    session.delete(phone)
    session.commit()
    given_back = client.get(url, headers=headers)
    assert given_back.json()["used"] == 0
    assert (given_back.headers["etag"], given_back.json()["updated_at"]) == (before.headers["etag"],
                                                                              before.json()["updated_at"])


# ---------------------------------------------------------------- DID ranges

def test_partner_admin_creates_and_deletes_did_ranges(client, session, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    url = DID.format(tenant_a.account.id)
    created = client.post(url, headers=headers, json={"start": "+14155550100", "end": "+14155550199"})
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["size"], item["used"], item["free"], item["first_dn"], item["last_dn"]) == (100, 0, 100, None, None)
    mapped = client.post(url, headers=headers, json={"start": "+14155550200", "end": "+14155550299",
                                                     "first_dn": "2100"})
    assert mapped.status_code == 201 and (mapped.json()["first_dn"], mapped.json()["last_dn"]) == ("2100", "2199")
    # the mapping stops where the DN's digits would overflow
    short = client.post(url, headers=headers, json={"start": "+14155550300", "end": "+14155550399",
                                                    "first_dn": "*#95"})
    assert short.json()["last_dn"] == "*#99" and short.json()["size"] == 100
    listing = client.get(url, headers=headers).json()
    assert listing["total"] == 3 and [i["start"] for i in listing["items"]] == [
        "+14155550100", "+14155550200", "+14155550300"]
    one = client.get(f"{url}/{item['id']}", headers=headers)
    assert one.json()["id"] == item["id"] and one.headers["etag"] == created.headers["etag"]
    assert client.delete(f"{url}/{item['id']}", headers={**headers, "If-Match": '"7"'}).status_code == 412
    assert client.delete(f"{url}/{item['id']}", headers={**headers, "If-Match": one.headers["etag"]}).status_code == 204
    assert client.get(f"{url}/{item['id']}", headers=headers).status_code == 404
    assert session.scalar(select(AuditEntry.id).where(AuditEntry.object_id == item["id"],
                                                      AuditEntry.action == "delete")) is not None


def test_did_range_validation(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    url = DID.format(tenant_a.account.id)
    cases = [
        ({"start": "14155550100", "end": "+14155550199"}, {"start": "invalid_phone_number"}),  # no country
        ({"start": "+14155550100", "end": "+0415555019"}, {"end": "invalid_phone_number"}),
        ({"start": "+1415555", "end": "+1415555"}, {"start": "invalid_phone_number", "end": "invalid_phone_number"}),
        ({"start": "+12345678", "end": "+12345679"}, {"start": "invalid_phone_number", "end": "invalid_phone_number"}),
        ({"start": "+14155550100", "end": "+141555501999"}, {"end": "invalid_phone_number"}),
        ({"start": "+4930123450", "end": "+49301234599"}, {"end": "length_mismatch"}),  # both Berlin numbers
        ({"start": "+14155550199", "end": "+14155550100"}, {"end": "invalid_did_range"}),
        ({"start": "+14152000000", "end": "+14159999999"}, {"end": "range_too_large"}),
        ({"start": "+14155550100", "end": "+14155550199", "first_dn": "2*"}, {"first_dn": "invalid_dn"}),
        ({"start": "+14155550100", "end": "+14155550199", "first_dn": "12345678"}, {"first_dn": "invalid_dn"}),
        ({"start": "+14155550100", "end": "+14155550199", "prefix": "1"}, {"prefix": "unknown_field"}),
    ]
    for body, expected in cases:
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 422, body
        assert _errors(response) == expected, body


def test_did_ranges_never_overlap_across_accounts_and_hide_the_other(client, tenant_a, tenant_b, login):
    headers_a = login(tenant_a.partner_admin.email)
    headers_b = login(tenant_b.partner_admin.email)
    assert client.post(DID.format(tenant_a.account.id), headers=headers_a,
                       json={"start": "+14155550100", "end": "+14155550199"}).status_code == 201
    own = client.post(DID.format(tenant_a.account.id), headers=headers_a,
                      json={"start": "+14155550150", "end": "+14155550249"})
    assert own.status_code == 409 and own.json()["errors"][0]["code"] == "range_overlap"
    assert "+14155550100" in own.json()["errors"][0]["message"]
    other = client.post(DID.format(tenant_b.account.id), headers=headers_b,
                        json={"start": "+14155550000", "end": "+14155550100"})
    assert other.status_code == 409 and other.json()["errors"][0]["code"] == "range_overlap"
    assert "+1415555" not in other.text and tenant_a.account.name not in other.text
    # the same digits with another length are other numbers (Berlin has numbers of both lengths)
    assert client.post(DID.format(tenant_b.account.id), headers=headers_b,
                       json={"start": "+49301234500", "end": "+49301234599"}).status_code == 201
    assert client.post(DID.format(tenant_b.account.id), headers=headers_b,
                       json={"start": "+493012345000", "end": "+493012345999"}).status_code == 201
    assert client.post(DID.format(tenant_b.account.id), headers=headers_b,
                       json={"start": "+14155550200", "end": "+14155550299"}).status_code == 201


def test_two_mapped_did_ranges_cannot_map_the_same_dn(client, tenant_a, login):
    headers = login(tenant_a.partner_admin.email)
    url = DID.format(tenant_a.account.id)
    assert client.post(url, headers=headers, json={"start": "+14155550100", "end": "+14155550199",
                                                   "first_dn": "2100"}).status_code == 201
    clash = client.post(url, headers=headers, json={"start": "+14155550300", "end": "+14155550399",
                                                    "first_dn": "2150"})
    assert clash.status_code == 409 and _errors(clash) == {"first_dn": "mapping_overlap"}
    assert client.post(url, headers=headers, json={"start": "+14155550300", "end": "+14155550399",
                                                   "first_dn": "2200"}).status_code == 201


def test_did_usage_and_delete_in_use(client, session, tenant_a, login):
    rng = did_range(session, tenant_a.account, "+14155550100", "+14155550199")
    phone = add_phone(session, tenant_a.account, "2000", did="+14155550107", did_range_id=rng.id)
    add_phone(session, tenant_a.account, "2001", did="+14155550300")
    headers = login(tenant_a.partner_admin.email)
    url = f"{DID.format(tenant_a.account.id)}/{rng.id}"
    item = client.get(url, headers=headers).json()
    assert (item["used"], item["free"]) == (1, 99)
    refused = client.delete(url, headers=headers)
    assert refused.status_code == 409 and refused.json()["errors"][0]["code"] == "range_in_use"
    phone.did, phone.did_range_id = None, None
    session.flush()
    assert client.delete(url, headers=headers).status_code == 204
