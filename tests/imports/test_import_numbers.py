"""The CSV import reads numbers as people write them, in the account's country (issue 10,
item 10): a cell that writes the stored number another way changes nothing."""

from __future__ import annotations

import csv
import io

from tests.mivb.test_phone_numbers import in_france


def _phones_url(m, user_id):
    return m.user_url(user_id, "/mivb/phones")


def test_import_reads_numbers_in_the_accounts_country(client, mivb_account, session, tenant_a, run_import):
    m = in_france(mivb_account, session, tenant_a)
    user_id = m.new_user("Telephony")
    assert client.post(_phones_url(m, user_id), headers=m.admin, json={
        "type": "hot_desk", "external_phone": {"number": "+33612345678"}}).status_code == 201
    exported = client.get(m.url("/users/export"), headers=m.admin).text
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    row = next(r for r in rows if r["phone2_type"] == "hot_desk")

    def _import(number: str) -> dict:
        row["phone2_external_number"] = number
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
        return run_import(buffer.getvalue(), mode="apply")

    same = _import("06 12 34 56 78")  # the stored number, written the French way: nothing to do
    assert [r["status"] for r in same["result"]["rows"]] == ["unchanged"], same
    changed = _import("07 98 76 54 32")
    assert [r["status"] for r in changed["result"]["rows"]] == ["updated"], changed
    hot = next(p for p in client.get(m.user_url(user_id, "/mivb"), headers=m.admin).json()["phones"]
               if p["type"] == "hot_desk")
    assert hot["external_phone"] == {"number": "+33798765432"}
    refused = _import("+12345678")
    assert [(e["code"], e.get("field")) for r in refused["result"]["rows"] for e in r["errors"]] == [
        ("invalid_phone_number", "phone2_external_number")]
