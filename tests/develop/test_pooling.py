"""Pooling on SQLite and PostgreSQL: rights holders and parcels, authorizations, the consent gap
(missing, expired, revoked), sharing rules and payouts that sum exactly; refusals change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from dev_world import PDF, REGION, build, counts, resident_id

from tanhui.develop.library import DocumentUpload
from tanhui.develop.pooling import mask_id_number
from tanhui.develop.sharing import SharingRule
from tanhui.errors import ConflictError, InputError, NotFoundError, PermissionDenied, StateError

D = dt.date
ZHANG = resident_id("35042819800101001")
LI = resident_id("35042819751224002")


@pytest.fixture
def w(db_engine):
    return build(db_engine)


@pytest.fixture
def pooled(w):
    """A candidate project on XB-001..003 and four holders of the village:

    XB-001 (10 ha): 张三 6 ha, 李四 4 ha; XB-002 (4 ha): 王五 4 ha; XB-003 (6 ha): the collective
    3 ha (the other 3 ha have no recorded holder); XB-004 is not in the project (赵六).
    """
    p = w.project()
    farm = w.a["farm"]
    h = {
        "zhang": w.pooling.register_holder(
            farm,
            kind="household",
            name="张三",
            village="常口村",
            region_code=REGION,
            id_number=ZHANG,
        ),
        "li": w.pooling.register_holder(
            farm, kind="household", name="李四", village="常口村", id_number=LI
        ),
        "wang": w.pooling.register_holder(farm, kind="household", name="王五", village="常口村"),
        "village": w.pooling.register_holder(
            farm, kind="collective", name="常口村村民委员会", village="常口村"
        ),
        "zhao": w.pooling.register_holder(farm, kind="household", name="赵六", village="常口村"),
    }
    parcels = {
        "zhang": w.pooling.add_parcel(
            farm, h["zhang"].id, region_code=REGION, subcompartment_id="XB-001", area_ha=6.0
        ),
        "li": w.pooling.add_parcel(
            farm, h["li"].id, region_code=REGION, subcompartment_id="XB-001", area_ha=4.0
        ),
        "wang": w.pooling.add_parcel(
            farm, h["wang"].id, region_code=REGION, subcompartment_id="XB-002", area_ha=4.0
        ),
        "village": w.pooling.add_parcel(
            farm, h["village"].id, region_code=REGION, subcompartment_id="XB-003", area_ha=3.0
        ),
        "zhao": w.pooling.add_parcel(
            farm, h["zhao"].id, region_code=REGION, subcompartment_id="XB-004", area_ha=2.0
        ),
    }
    return p, h, parcels


def consent(w, p, holder, **kw):
    values = dict(holder_id=holder.id, signatory=holder.name, signed_on=D(2025, 12, 1))
    values.update(kw)
    return w.pooling.record_authorization(w.a["farm"], p.id, **values)


# ------------------------------------------------------------------------- rights holders


def test_holders_and_parcels(w, pooled):
    _, h, parcels = pooled
    zhang = w.pooling.get_holder(w.a["farm"], h["zhang"].id)
    assert zhang.id_number == "350***********" + ZHANG[-4:] and ZHANG not in repr(zhang)
    assert zhang.kind == "household" and zhang.village == "常口村" and zhang.region_code == REGION
    assert zhang.pooled_by_organisation_id == w.org("farm")
    assert [p.subcompartment_id for p in zhang.parcels] == ["XB-001"] and zhang.area_ha == 6.0
    assert h["wang"].id_number is None
    holders, total = w.pooling.list_holders(w.a["audit"], village="常口村")
    assert total == 5 and all(ZHANG not in repr(x) for x in holders)
    assert w.pooling.list_holders(w.a["forestry"], kind="collective")[1] == 1
    assert w.pooling.list_holders(w.a["farm"], limit=2, offset=4)[0][0].name == "赵六"
    # another holder organisation sees and changes none of them
    assert w.pooling.list_holders(w.a["village"])[1] == 0
    with pytest.raises(PermissionDenied):
        w.pooling.get_holder(w.a["village"], h["zhang"].id)
    with pytest.raises(PermissionDenied):
        w.pooling.add_parcel(
            w.a["village"], h["zhang"].id, region_code=REGION, subcompartment_id="X", area_ha=1
        )
    for who in ("bank", "public", "eco"):
        with pytest.raises(PermissionDenied):
            w.pooling.list_holders(w.a[who])
    assert parcels["zhao"].subcompartment_id == "XB-004"


def test_mask():
    assert mask_id_number("350428198001010019") == "350***********0019"
    assert mask_id_number("91350400MA2XXXXX1K") == "913***********XX1K"
    assert mask_id_number("1234") == "**34"
    assert mask_id_number(None) is None and mask_id_number("") is None


def test_bad_holders_and_parcels_write_nothing(w, pooled):
    _, h, _ = pooled
    farm = w.a["farm"]
    before = counts(w.engine)
    bad_id = ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")
    cases = [
        dict(kind="household", name="甲", id_number=bad_id),
        dict(kind="household", name="甲", id_number="12345"),
        dict(kind="company", name="甲公司", id_number="91350400MA2XXXXXIO"),  # I, O not allowed
        dict(kind="cooperative", name="甲"),
        dict(kind="household", name=""),
        dict(kind="household", name="甲", region_code="35"),
    ]
    for case in cases:
        with pytest.raises(InputError):
            w.pooling.register_holder(farm, **case)
    with pytest.raises(ConflictError):
        w.pooling.register_holder(
            farm, kind="household", name="张三（重复）", id_number=ZHANG.lower()
        )
    with pytest.raises(PermissionDenied):  # a holder pools for its own organisation only
        w.pooling.register_holder(
            farm, kind="household", name="甲", pooled_by_organisation_id=w.org("village")
        )
    with pytest.raises(NotFoundError):
        w.pooling.register_holder(
            w.a["forestry"], kind="household", name="甲", pooled_by_organisation_id=99_999
        )
    with pytest.raises(ConflictError):
        w.pooling.add_parcel(
            farm, h["zhang"].id, region_code=REGION, subcompartment_id="XB-001", area_ha=1
        )
    with pytest.raises(InputError):
        w.pooling.add_parcel(
            farm, h["zhang"].id, region_code=REGION, subcompartment_id="XB-9", area_ha=0
        )
    with pytest.raises(NotFoundError):
        w.pooling.add_parcel(farm, 99_999, region_code=REGION, subcompartment_id="XB-9", area_ha=1)
    with pytest.raises(PermissionDenied):
        w.pooling.register_holder(w.a["audit"], kind="household", name="甲")
    assert counts(w.engine) == before
    # the forestry bureau keeps records for nobody in particular, or for any organisation
    kept = w.pooling.register_holder(w.a["forestry"], kind="state_farm", name="国有林场")
    assert kept.pooled_by_organisation_id is None
    company = w.pooling.register_holder(
        w.a["forestry"], kind="company", name="甲公司", id_number="91350400ma2xxxxx1k"
    )
    assert company.id_number == "913***********XX1K"


# ------------------------------------------------------------------------- authorizations


def test_authorizations_and_their_terms(w, pooled):
    p, h, parcels = pooled
    a = consent(w, p, h["zhang"], term_years=20, share_bp=3000, note="二十年")
    assert (a.valid_from, a.expires_on) == (D(2025, 12, 1), D(2045, 12, 1))
    assert a.status == "valid" and a.share_bp == 3000 and a.holder_name == "张三"
    leap = consent(w, p, h["li"], signed_on=D(2024, 2, 29), term_years=1)
    assert leap.expires_on == D(2025, 2, 28)  # no 29 February in 2025: the month's last day
    assert leap.status == "expired"
    later = consent(w, p, h["wang"], valid_from=D(2027, 1, 1), expires_on=D(2030, 12, 31))
    assert later.status == "not_yet_valid"
    one = consent(w, p, h["village"], parcel_id=parcels["village"].id, signatory="村主任 某某")
    assert one.parcel_id == parcels["village"].id and one.expires_on is None
    listed = w.pooling.list_authorizations(w.a["audit"], p.id, on=D(2028, 1, 1))
    assert [(x.holder_name, x.status) for x in listed] == [
        ("张三", "valid"),
        ("李四", "expired"),
        ("王五", "valid"),
        ("常口村村民委员会", "valid"),
    ]
    assert [
        x.id for x in w.pooling.list_authorizations(w.a["farm"], p.id, holder_id=h["li"].id)
    ] == [leap.id]


def test_an_authorization_with_its_document_is_all_or_nothing(w, pooled):
    p, h, _ = pooled
    before = counts(w.engine)
    with pytest.raises(InputError):
        consent(w, p, h["zhang"], document=DocumentUpload("授权书.docx", b"PK\x03\x04"))
    assert counts(w.engine) == before
    a = consent(w, p, h["zhang"], document=DocumentUpload("授权书.pdf", PDF, note="签字页"))
    assert len(a.documents) == 1 and a.documents[0].kind == "authorization"
    assert a.documents[0].authorization_id == a.id
    assert [d.id for d in w.library.list_documents(w.a["farm"], p.id, authorization_id=a.id)] == [
        a.documents[0].id
    ]
    extra = w.library.attach_document(
        w.a["farm"],
        p.id,
        DocumentUpload("林权证.png", b"\x89PNG\r\n\x1a\n0", kind="tenure_certificate"),
        authorization_id=a.id,
    )
    assert extra.authorization_id == a.id
    assert len(w.pooling.list_authorizations(w.a["farm"], p.id)[0].documents) == 2
    # consents carry personal data: roles that read projects but not rights holders see neither
    plan = w.library.attach_document(
        w.a["farm"], p.id, DocumentUpload("设计.pdf", PDF, kind="design")
    )
    assert [d.id for d in w.library.list_documents(w.a["verifier"], p.id)] == [plan.id]
    assert len(w.library.list_documents(w.a["audit"], p.id)) == 3
    with pytest.raises(PermissionDenied):
        w.library.download_document(w.a["verifier"], a.documents[0].id)
    with pytest.raises(PermissionDenied):
        w.library.list_documents(w.a["eco"], p.id, authorization_id=a.id)
    assert w.library.download_document(w.a["audit"], a.documents[0].id)[1] == PDF
    assert w.library.download_document(w.a["verifier"], plan.id)[1] == PDF


BAD_CONSENTS = {
    "expiry before start": dict(expires_on=D(2025, 1, 1)),
    "both expiry and term": dict(expires_on=D(2030, 1, 1), term_years=5),
    "zero term": dict(term_years=0),
    "share above 100%": dict(share_bp=10_001),
    "share not whole": dict(share_bp=12.5),
    "no signatory": dict(signatory=" "),
    "signed is a datetime": dict(signed_on=dt.datetime(2025, 12, 1, tzinfo=dt.UTC)),
    "a parcel of another holder": "parcel",
}


@pytest.mark.parametrize("bad", BAD_CONSENTS.values(), ids=BAD_CONSENTS.keys())
def test_bad_authorizations_write_nothing(w, pooled, bad):
    p, h, parcels = pooled
    if bad == "parcel":
        bad = dict(parcel_id=parcels["li"].id)
    before = counts(w.engine)
    with pytest.raises(InputError):
        consent(w, p, h["zhang"], **bad)
    assert counts(w.engine) == before


def test_authorization_refusals(w, pooled):
    p, h, _ = pooled
    before = counts(w.engine)
    with pytest.raises(InputError, match="has no parcel"):
        consent(w, p, h["zhao"])  # 赵六's parcel is outside the project
    with pytest.raises(NotFoundError):
        w.pooling.record_authorization(
            w.a["farm"], p.id, holder_id=99_999, signatory="x", signed_on=D(2025, 1, 1)
        )
    for who in ("village", "audit", "bank"):
        with pytest.raises(PermissionDenied):
            w.pooling.record_authorization(
                w.a[who], p.id, holder_id=h["zhang"].id, signatory="x", signed_on=D(2025, 1, 1)
            )
    assert counts(w.engine) == before
    w.library.withdraw(w.a["farm"], p.id, reason="撤销")
    before = counts(w.engine)
    with pytest.raises(StateError):
        consent(w, p, h["zhang"])
    assert counts(w.engine) == before


def test_a_second_consent_for_the_same_parcels_and_period_is_refused(w, pooled):
    p, h, parcels = pooled
    first = consent(w, p, h["zhang"], valid_from=D(2026, 1, 1), expires_on=D(2030, 12, 31))
    before = counts(w.engine)
    for overlapping in (
        dict(valid_from=D(2030, 12, 31)),  # its first day is the old one's last
        dict(valid_from=D(2020, 1, 1), expires_on=D(2026, 1, 1)),  # ends on the first one's start
        dict(parcel_id=parcels["zhang"].id),  # one parcel inside the whole-holder consent
    ):
        with pytest.raises(ConflictError, match=f"no. {first.id}"):
            consent(w, p, h["zhang"], **overlapping)
    assert counts(w.engine) == before
    # a renewal starting the day after, and an earlier term ending the day before, are fine
    renewal = consent(w, p, h["zhang"], valid_from=D(2031, 1, 1), term_years=10)
    earlier = consent(w, p, h["zhang"], valid_from=D(2024, 1, 1), expires_on=D(2025, 12, 31))
    assert renewal.expires_on == D(2041, 1, 1) and earlier.status == "expired"
    # another holder is independent; a revoked consent holds until the day before its revocation
    other = consent(w, p, h["li"], valid_from=D(2026, 1, 1))
    w.pooling.revoke_authorization(w.a["farm"], other.id, revoked_on=D(2026, 6, 1), reason="收回")
    with pytest.raises(ConflictError):
        consent(w, p, h["li"], valid_from=D(2026, 5, 31))
    again = consent(w, p, h["li"], valid_from=D(2026, 6, 1))
    assert again.status == "not_yet_valid" and again.expires_on is None  # today is 2026-05-10


def test_revocation(w, pooled):
    p, h, _ = pooled
    a = consent(w, p, h["zhang"])
    with pytest.raises(InputError):
        w.pooling.revoke_authorization(
            w.a["farm"], a.id, revoked_on=D(2025, 1, 1), reason="早于签署"
        )
    with pytest.raises(InputError):
        w.pooling.revoke_authorization(w.a["farm"], a.id, revoked_on=D(2026, 3, 1), reason="")
    with pytest.raises(PermissionDenied):
        w.pooling.revoke_authorization(w.a["village"], a.id, revoked_on=D(2026, 3, 1), reason="x")
    with pytest.raises(NotFoundError):
        w.pooling.revoke_authorization(w.a["farm"], 99_999, revoked_on=D(2026, 3, 1), reason="x")
    revoked = w.pooling.revoke_authorization(
        w.a["farm"], a.id, revoked_on=D(2026, 3, 1), reason="外出务工，收回"
    )
    assert revoked.status == "revoked" and revoked.revoke_reason == "外出务工，收回"
    assert w.pooling.list_authorizations(w.a["farm"], p.id, on=D(2026, 2, 28))[0].status == "valid"
    with pytest.raises(ConflictError):
        w.pooling.revoke_authorization(w.a["forestry"], a.id, revoked_on=D(2026, 4, 1), reason="x")


# ---------------------------------------------------------------------------- consent gap


def test_consent_gap_missing_expired_revoked(w, pooled):
    p, h, parcels = pooled
    consent(w, p, h["zhang"], expires_on=D(2026, 6, 30))
    consent(w, p, h["li"], expires_on=D(2026, 1, 31))
    revoked = consent(w, p, h["wang"])
    w.pooling.revoke_authorization(w.a["farm"], revoked.id, revoked_on=D(2026, 4, 1), reason="收回")
    # the collective has not signed yet (nothing recorded): missing

    gap = w.pooling.consent_gap(w.a["farm"], p.id)  # today: 2026-05-10
    assert gap.on == D(2026, 5, 10)
    got = {g.holder_name: (g.reason, g.since, g.subcompartment_id, g.area_ha) for g in gap.parcels}
    assert got == {
        "李四": ("expired", D(2026, 1, 31), "XB-001", 4.0),
        "王五": ("revoked", D(2026, 4, 1), "XB-002", 4.0),
        "常口村村民委员会": ("missing", None, "XB-003", 3.0),
    }
    assert (gap.count("missing"), gap.count("expired"), gap.count("revoked")) == (1, 1, 1)
    assert [(s.subcompartment_id, s.area_ha) for s in gap.unowned] == []  # every sub has a holder
    assert (gap.parcels_total, gap.area_total_ha, gap.area_covered_ha) == (4, 17.0, 6.0)
    assert not gap.complete

    # on other dates
    early = w.pooling.consent_gap(w.a["audit"], p.id, on=D(2026, 1, 31))  # the last valid day
    assert {g.holder_name for g in early.parcels} == {"常口村村民委员会"}
    assert {
        g.holder_name: g.reason
        for g in w.pooling.consent_gap(w.a["farm"], p.id, on=D(2026, 7, 1)).parcels
    } == {
        "张三": "expired",
        "李四": "expired",
        "王五": "revoked",
        "常口村村民委员会": "missing",
    }
    before_signing = w.pooling.consent_gap(w.a["farm"], p.id, on=D(2025, 11, 30))
    assert {g.reason for g in before_signing.parcels} == {"missing"}

    # a renewal closes the gap; a parcel-only consent covers that parcel
    consent(w, p, h["li"], signed_on=D(2026, 5, 1), term_years=10)
    consent(w, p, h["wang"], signed_on=D(2026, 5, 2), parcel_id=parcels["wang"].id)
    consent(w, p, h["village"], signed_on=D(2026, 5, 3))
    gap = w.pooling.consent_gap(w.a["farm"], p.id)
    assert gap.parcels == () and gap.complete and gap.area_covered_ha == 17.0


def test_consent_gap_reports_subcompartments_without_a_holder(w, pooled):
    p, _, _ = pooled
    w.library.update_project(w.a["farm"], p.id, subcompartments=[("XB-001", 10.0), ("XB-007", 2.0)])
    gap = w.pooling.consent_gap(w.a["farm"], p.id, on=D(2026, 1, 1))
    assert [(s.subcompartment_id, s.area_ha) for s in gap.unowned] == [("XB-007", 2.0)]
    assert {g.holder_name for g in gap.parcels} == {"张三", "李四"}
    with pytest.raises(PermissionDenied):
        w.pooling.consent_gap(w.a["village"], p.id)
    with pytest.raises(PermissionDenied):
        w.pooling.consent_gap(w.a["eco"], p.id)


# -------------------------------------------------------------------------------- payouts


def test_payout_by_area_among_the_valid_consents(w, pooled):
    p, h, _ = pooled
    consent(w, p, h["zhang"])
    consent(w, p, h["li"])
    consent(w, p, h["wang"], expires_on=D(2026, 1, 31))  # lapsed before the sale
    consent(w, p, h["village"])
    assert w.pooling.sharing_rule(w.a["audit"], p.id) == SharingRule("by_area")
    out = w.pooling.pay_out(
        w.a["farm"],
        p.id,
        revenue_fen=1_300_001,
        sold_on=D(2026, 3, 15),
        reference="HT-1",
        tonnes=200,
    )
    # areas 6, 4, 3 of 13
    assert [(x.payee, x.amount_fen) for x in out.lines] == [
        ("张三", 600_001),
        ("李四", 400_000),
        ("常口村村民委员会", 300_000),
    ]
    assert sum(x.amount_fen for x in out.lines) == out.revenue_fen == 1_300_001
    assert out.rule == {
        "method": "by_area",
        "holders_bp": 10_000,
        "collective_bp": 0,
        "developer_bp": 0,
    }
    assert out.lines[0].weight == "6"
    assert [x.id for x in w.pooling.list_payouts(w.a["audit"], p.id)] == [out.id]
    before = counts(w.engine)
    with pytest.raises(ConflictError):  # the same sale again
        w.pooling.pay_out(
            w.a["farm"], p.id, revenue_fen=5, sold_on=D(2026, 3, 15), reference="HT-1"
        )
    assert counts(w.engine) == before


def test_payout_with_a_fixed_split_and_agreed_shares(w, pooled):
    p, h, _ = pooled
    consent(w, p, h["zhang"], share_bp=2000)
    consent(w, p, h["li"], share_bp=1500)
    consent(w, p, h["wang"], share_bp=1000)
    consent(w, p, h["village"], share_bp=500)
    rule = SharingRule("fixed_split", holders_bp=6000, collective_bp=2000, developer_bp=2000)
    assert w.pooling.set_sharing_rule(w.a["farm"], p.id, rule) == rule
    split = w.pooling.pay_out(w.a["farm"], p.id, revenue_fen=1_000_003, sold_on=D(2026, 5, 1))
    got = {(x.pool, x.payee): x.amount_fen for x in split.lines}
    # pools 600,001.8 / 200,000.6 / 200,000.6 → 600,002 / 200,001 / 200,000 (ties to the first pool)
    # holders by area 6:4:4 of 600,002 → 257,143.7 / 171,429.1 / 171,429.1
    assert got == {
        ("holders", "张三"): 257_144,
        ("holders", "李四"): 171_429,
        ("holders", "王五"): 171_429,
        ("collective", "常口村村民委员会"): 200_001,
        ("developer", "将乐县常口村"): 200_000,
    }
    assert sum(got.values()) == 1_000_003
    developer = next(x for x in split.lines if x.pool == "developer")
    assert developer.holder_id is None and developer.organisation_id == w.org("farm")

    w.pooling.set_sharing_rule(w.a["forestry"], p.id, SharingRule("by_agreed_share"))
    shares = w.pooling.pay_out(
        w.a["farm"], p.id, revenue_fen=10_000, sold_on=D(2026, 5, 1), reference="HT-2"
    )
    assert {x.payee: x.amount_fen for x in shares.lines} == {
        "张三": 2_000,
        "李四": 1_500,
        "王五": 1_000,
        "常口村村民委员会": 500,
        "将乐县常口村": 5_000,
    }
    assert shares.rule["method"] == "by_agreed_share" and shares.rule["collective_bp"] == 0


def test_payout_refusals_write_nothing(w, pooled):
    p, h, _ = pooled
    farm = w.a["farm"]
    before = counts(w.engine)
    with pytest.raises(InputError, match="No rights holder"):  # nobody has consented yet
        w.pooling.pay_out(farm, p.id, revenue_fen=100, sold_on=D(2026, 5, 1))
    consent(w, p, h["zhang"])
    before = counts(w.engine)
    for bad in (dict(revenue_fen=0), dict(revenue_fen=1.5), dict(revenue_fen=100, tonnes=0)):
        with pytest.raises(InputError):
            w.pooling.pay_out(farm, p.id, sold_on=D(2026, 5, 1), **bad)
    w.pooling.set_sharing_rule(farm, p.id, SharingRule("by_agreed_share"))
    with pytest.raises(InputError, match="agreed share"):
        w.pooling.pay_out(farm, p.id, revenue_fen=100, sold_on=D(2026, 5, 1))
    w.pooling.set_sharing_rule(farm, p.id, SharingRule("fixed_split", 8000, 2000, 0))
    with pytest.raises(InputError, match="collective"):  # no collective has consented
        w.pooling.pay_out(farm, p.id, revenue_fen=100, sold_on=D(2026, 5, 1))
    for who in ("audit", "village", "bank"):
        with pytest.raises(PermissionDenied):
            w.pooling.pay_out(w.a[who], p.id, revenue_fen=100, sold_on=D(2026, 5, 1))
        if who != "audit":
            with pytest.raises(PermissionDenied):
                w.pooling.set_sharing_rule(w.a[who], p.id, SharingRule())
    with pytest.raises(InputError):
        w.pooling.set_sharing_rule(farm, p.id, {"method": "by_area"})  # type: ignore[arg-type]
    w.pooling.set_sharing_rule(farm, p.id, SharingRule())
    after_rules = counts(w.engine)
    assert {k: v for k, v in after_rules.items() if k != "dev_sharing_rules"} == {
        k: v for k, v in before.items() if k != "dev_sharing_rules"
    }
    w.library.withdraw(farm, p.id, reason="撤销")
    after_rules = counts(w.engine)
    with pytest.raises(StateError):
        w.pooling.pay_out(farm, p.id, revenue_fen=100, sold_on=D(2026, 5, 1))
    assert counts(w.engine) == after_rules
