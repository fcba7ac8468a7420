"""The submission rules: each refusal, and the rules as properties of the catalogue."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pupilshare import catalogue
from pupilshare.governance import rules, terms
from pupilshare.plan import LEVELS

TODAY = date(2026, 12, 1)
GATEWAY = {
    "gateway_id": "gw",
    "levels": list(LEVELS),
    "datasets": ["census", "ks_results", "pupil"],
    "min_age": None,
    "max_age": None,
}
ORG = {
    "org_id": "org",
    "name": "Org",
    "status": "active",
    "min_pupil_age": None,
    "users": ["u1"],
}


def make(
    level: str = "pseudonymised",
    items: dict[str, list[str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    items = items or {"census": ["ncyear", "sex"]}
    raw = {
        "id": "a1",
        "title": "t",
        "recipient": "org",
        "gateway": "gw",
        "purpose": "study things",
        "level": level,
        "start": "today",
        "expiry": "today+100",
        "destroy_by": "today+200",
        "users": ["u1"],
        "datasets": {
            ds: {"justification": "needed", "items": {i: "needed" for i in names}}
            for ds, names in items.items()
        },
        **extra,
    }
    return terms.normalise(raw, TODAY)


def check(
    t: dict[str, Any],
    gw: dict[str, Any] | None = None,
    org: dict[str, Any] | None = None,
) -> list[str]:
    return rules.check(t, {**GATEWAY, **(gw or {})}, {**ORG, **(org or {})})


def test_a_proper_submission_passes() -> None:
    assert check(make()) == []


def test_identifying_items_refused_unless_identified() -> None:
    for level in ("pseudonymised", "anonymised", "aggregate"):
        t = make(
            level,
            {"census": ["upn", "surname", "ncyear"]},
            tables=[{"name": "x", "dataset": "census", "rows": ["ncyear"]}]
            if level == "aggregate"
            else [],
        )
        reasons = check(t)
        assert any("census.upn identifies" in r for r in reasons)
        assert any("census.surname identifies" in r for r in reasons)
        assert not any("ncyear" in r for r in reasons)
    assert check(make("identified", {"census": ["upn"]})) == []


def test_under_14s_refused_to_the_learning_records_service() -> None:
    lrs = {"name": "Learning Records Service", "min_pupil_age": 14}
    reasons = check(make(population={"year_groups": ["9", "10"]}), org=lrs)
    assert any("only pupils aged 14 and over" in r for r in reasons)
    assert check(make(population={"min_age": 14}), org=lrs) == []
    # no stated population means every age, under-14s included
    assert check(make(), org=lrs)


def test_items_from_a_dataset_the_gateway_does_not_cover() -> None:
    reasons = check(make(items={"ncmp": ["height_cm"], "census": ["sex"]}))
    assert reasons == ["gateway gw does not cover dataset ncmp"]


def test_population_outside_the_gateways_age_limits() -> None:
    gw = {"min_age": 4, "max_age": 12}
    assert check(make(population={"year_groups": ["R", "6"]}), gw) == []
    low = check(make(population={"min_age": 3}), gw)
    assert any("younger than 4" in r for r in low)
    high = check(make(population={"year_groups": ["9"]}), gw)
    assert any("older than 12" in r for r in high)


def test_every_reason_is_given_at_once() -> None:
    t = make(
        "anonymised",
        {"census": ["upn"], "ncmp": ["height_cm"]},
        population={"min_age": 10},
    )
    t["items"]["census.upn"] = ""
    reasons = check(
        t, {"levels": ["aggregate"], "min_age": 14}, {"status": "suspended"}
    )
    for fragment in (
        "no justification",
        "identifies",
        "does not allow level",
        "does not cover dataset ncmp",
        "younger than 14",
        "re-approved",
    ):
        assert any(fragment in r for r in reasons), fragment


def test_aggregate_needs_tables_over_requested_items() -> None:
    assert "an aggregate share must specify its tables" in check(make("aggregate"))
    t = make(
        "aggregate", tables=[{"name": "x", "dataset": "census", "rows": ["ethnicity"]}]
    )
    assert any("census.ethnicity is not one of the requested" in r for r in check(t))
    f = make(
        "aggregate",
        tables=[
            {
                "name": "x",
                "dataset": "census",
                "rows": ["sex"],
                "filters": {"ncyear": ["6"]},
            }
        ],
    )
    assert check(f) == []
    f["tables"][0]["filters"] = {"fsm_eligible": ["Y"]}
    assert check(f) == [
        "table x: census.fsm_eligible is not one of the requested items"
    ]


def test_named_users_of_the_recipient_only() -> None:
    assert any("not a named user" in r for r in check(make(users=["stranger"])))


PUPIL_ITEMS = [
    i.ref
    for d in catalogue.DATASETS.values()
    for i in d.items
    if d.name in GATEWAY["datasets"]
]


@given(
    st.sets(st.sampled_from(PUPIL_ITEMS), min_size=1, max_size=8),
    st.sampled_from(LEVELS),
)
def test_identifying_refusal_is_exactly_the_catalogue_flag(
    refs: set[str], level: str
) -> None:
    items: dict[str, list[str]] = {}
    for ref in refs:
        ds, name = ref.split(".")
        items.setdefault(ds, []).append(name)
    t = make(level, items)
    flagged = {r.split()[1] for r in check(t) if "identifies a pupil" in r}
    expected = {r for r in refs if catalogue.item(r).identifying}
    assert flagged == (expected if level != "identified" else set())


@given(
    st.lists(st.sampled_from(["R", *map(str, range(1, 14))]), min_size=1),
    st.integers(3, 18),
)
def test_year_groups_bound_the_population_ages(groups: list[str], floor: int) -> None:
    lo, hi = rules.population_ages({"year_groups": groups})
    assert lo == min(rules.year_group_ages(g)[0] for g in groups)
    assert hi == max(rules.year_group_ages(g)[1] for g in groups)
    refused = bool(
        check(make(population={"year_groups": groups}), org={"min_pupil_age": floor})
    )
    assert refused == (lo < floor)


def test_a_per_candidate_lookup_names_where_its_candidates_are() -> None:
    """A lookup (an awarding body's candidates) never receives a national file: the
    submission must say where its candidates have a record."""
    items = {"census": ["upn", "census_date"]}
    national = make("identified", items, access_route="learning records service lookup")
    assert any("per-candidate lookup" in r for r in check(national))
    own = make(
        "identified",
        items,
        access_route="learning records service lookup",
        population={
            "records_at": {"dataset": "census", "item": "laestab", "value": "8734600"}
        },
    )
    assert check(own) == []
    unknown = make(
        "identified",
        items,
        access_route="lookup",
        population={"records_at": {"dataset": "census", "item": "nope", "value": "x"}},
    )
    assert any("records_at" in r for r in check(unknown))


def test_an_awarding_body_or_college_never_gets_a_national_file_by_wording() -> None:
    """The attack on the demo: an awarding body submitted an identified census
    file for "its candidates" with the access route "secure download" (no word
    "lookup"), or with ``records_at`` on a column that names no organisation (the
    census's sex: half the nation); both were accepted. What the recipient is
    decides it, not how the terms are worded: its candidates are those with a
    record at it, placed by a column that names where a learner has a record."""
    items = {"census": ["uln", "census_date", "surname"]}
    body = {**ORG, "name": "Northern Awarding Body", "type": "awarding organisation"}
    college = {**ORG, "type": "school/post-16 institution"}
    for org in (body, college):
        for level in ("identified", "pseudonymised", "anonymised"):
            wide = make(level, {"census": ["census_date", "sex"]}, access_route="sftp")
            assert any("per-candidate" in r for r in check(wide, org=org)), org
    women = {"records_at": {"dataset": "census", "item": "sex", "value": "F"}}
    refused = check(make("identified", items, population=women), org=body)
    assert any("names no organisation" in r for r in refused)
    other = {
        "records_at": {
            "dataset": "qualifications",
            "item": "awarding_body",
            "value": "Another Board",
        }
    }
    refused = check(make("identified", items, population=other), org=body)
    assert any("Northern Awarding Body" in r for r in refused)
    own = {**other, "records_at": {**other["records_at"], "value": body["name"]}}
    assert check(make("identified", items, population=own), org=body) == []
    school = {
        "records_at": {"dataset": "census", "item": "laestab", "value": "8734600"}
    }
    assert check(make("identified", items, population=school), org=college) == []
    tables = [{"name": "t", "dataset": "census", "rows": ["sex"], "columns": []}]
    assert check(make("aggregate", {"census": ["sex"]}, tables=tables), org=body) == []


LOOSER = {
    "threshold": 3,
    "dominance_n": 1,
    "dominance_k": 0.99,
    "p_ratio": 0.01,
    "k_anonymity": 1,
    "min_interval": 1,
    "ptable_max": 2,
    "ptable_variance": 0.5,
}


@given(st.sets(st.sampled_from(sorted(LOOSER)), min_size=1))
def test_an_agreement_may_tighten_disclosure_control_never_loosen_it(
    loosened: set[str],
) -> None:
    """The attack on the demo: the health department submitted its NCMP share as
    "anonymised" with ``sdc: {k_anonymity: 1}`` and it was accepted: anonymised
    in name, every record unique. An agreement's ``sdc`` terms may make the
    department's standard (``plan.Sdc``'s defaults) stricter, never looser."""
    sdc = {name: LOOSER[name] for name in loosened}
    refused = check(make("anonymised", {"census": ["ncyear", "sex"]}, sdc=sdc))
    assert {r.split(" ")[0] for r in refused} == {f"sdc.{n}" for n in loosened}
    stricter = {"threshold": 20, "k_anonymity": 25, "dominance_k": 0.8, "rounding": 5}
    assert check(make("anonymised", sdc=stricter)) == []


def test_only_an_aggregate_share_is_published() -> None:
    for level in ("identified", "pseudonymised", "anonymised"):
        t = make(level, {"census": ["ncyear", "sex"]}, access_route="publication")
        assert any("only an aggregate share" in r for r in check(t)), level
    tables = [{"name": "t", "dataset": "census", "rows": ["sex"], "columns": []}]
    published = make(
        "aggregate", {"census": ["sex"]}, access_route="publication", tables=tables
    )
    assert check(published) == []


def test_an_opt_out_scope_nobody_can_opt_out_of_is_refused() -> None:
    """A research share submitted with ``opt_out_scope: reserach`` (or any word
    that is neither a purpose people may refuse nor a legal duty) was accepted,
    and its releases then honoured only opt-outs of everything: every research
    opt-out silently ignored. The scope must be one people may opt out of
    (``plan.OPT_OUT_TYPES``) or a use under a legal duty (``plan.DUTY_SCOPES``)."""
    from pupilshare.plan import DUTY_SCOPES, OPT_OUT_TYPES

    for typo in ("reserach", "none", ""):
        refused = check(make(opt_out_scope=typo))
        assert any("opt_out_scope" in r for r in refused), typo
    for scope in (*OPT_OUT_TYPES, *DUTY_SCOPES):
        assert check(make(opt_out_scope=scope)) == [], scope


def test_key_stages_bound_the_population_ages() -> None:
    assert rules.population_ages({"key_stages": ["2"]}) == (7, 11)
    assert rules.population_ages({"key_stages": ["1"], "min_age": 6}) == (6, 7)
