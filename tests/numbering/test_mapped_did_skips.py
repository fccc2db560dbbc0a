"""A DN whose mapped DID another phone holds (a phone renumbered before the DID followed
its DN, or found so on an adopted PBX) is skipped by allocation and not counted free."""

from __future__ import annotations

from switchboard.numbering import service as numbering
from tests.numbering.conftest import add_phone, did_range, dn_range


def test_a_dn_whose_mapped_did_is_held_elsewhere_is_skipped_and_not_counted_free(session, tenant_a, phone_holder):
    """As left by the old behaviour, or found on an adopted PBX: DN 2090 holds the DID
    mapped onto 2003."""
    account = tenant_a.account
    dns = dn_range(session, account, "2000", "2099")
    dids = did_range(session, account, "+33150000000", "+33150000099", first_dn="2000")
    for n in range(3):
        add_phone(session, account, f"200{n}", dn_range_id=dns.id, did=f"+3315000000{n}", did_range_id=dids.id,
                  service=phone_holder)
    add_phone(session, account, "2090", dn_range_id=dns.id, did="+33150000003", did_range_id=dids.id,
              service=phone_holder)
    info = numbering.get_dn_range(_ctx(session, tenant_a), account.id, dns.id)
    assert (info.size, info.used, info.free) == (100, 5, 95)  # 4 on phones, 2003 unusable
    assert "2003" not in numbering.next_free_dns(_ctx(session, tenant_a), account.id, limit=5)
    dn, _ = numbering.allocate_dn(session, account.id, with_mapped_did=True)
    assert dn == "2004"
    did, _ = numbering.allocate_did(session, account.id, dn=dn)
    assert did == "+33150000004"
    # without a DID to take along, 2003 is a fine DN
    assert numbering.allocate_dn(session, account.id)[0] == "2003"


def _ctx(session, tenant):
    from tests.factories import ctx_for

    return ctx_for(session, tenant.partner_admin)
