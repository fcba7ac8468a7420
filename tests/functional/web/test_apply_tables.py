"""An aggregate share's tables on the apply form and the API: each table picked from
the catalogue's items with its justification, and every problem flagged before
anything is submitted (a table without a justification, one using an item not
asked for, a sum of something that is not a number, two tables of one name)."""

from __future__ import annotations

from typing import Any

from tests.functional.web.conftest import post_form

GOOD_TABLE = {
    "name": "obesity_by_area",
    "dataset": "ncmp",
    "rows": ["health_area"],
    "columns": ["weight_category"],
    "justification": "Prevalence of obesity in each health area.",
}


def application(ref: str, **tables: Any) -> dict[str, Any]:
    return {
        "id": ref,
        "title": "Obesity prevalence by area",
        "gateway": "pp-health",
        "purpose": "monitor childhood obesity in each health area",
        "level": "aggregate",
        "expiry": "today+300",
        "destroy_by": "today+330",
        "population": {"year_groups": ["R", "6"]},
        "datasets": {
            "ncmp": {
                "justification": "The measurements.",
                "items": {
                    "health_area": "The area of each table row.",
                    "weight_category": "The category counted.",
                    "school_year": "Reception and year 6 apart.",
                },
            }
        },
        "tables": [GOOD_TABLE],
        **tables,
    }


def flags_of(clients, body: dict[str, Any]) -> list[str]:  # type: ignore[no-untyped-def]
    c = clients["recipient"]
    token = _api_token(c)
    r = c.post("/api/applications/check", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    return r.json()["flags"]


def _api_token(c) -> str:  # type: ignore[no-untyped-def]
    from tests.functional.web.conftest import csrf_of

    return csrf_of(c.get("/apply").text)


def test_a_justified_table_of_requested_items_is_not_flagged(clients) -> None:  # type: ignore[no-untyped-def]
    assert flags_of(clients, application("obesity-tables-ok")) == []


def test_every_table_problem_is_flagged_before_submission(clients) -> None:  # type: ignore[no-untyped-def]
    bad = [
        {**GOOD_TABLE, "justification": "  "},
        {**GOOD_TABLE, "name": "by_sex", "rows": ["sex"]},
        {**GOOD_TABLE, "name": "summed", "measure": "weight_category"},
        {**GOOD_TABLE, "name": "no_rows", "rows": []},
    ]
    flags = flags_of(clients, application("obesity-tables-bad", tables=bad))
    assert "table obesity_by_area: no justification given" in flags
    assert "table by_sex: ncmp.sex is not one of the requested items" in flags
    assert (
        "table summed: ncmp.weight_category is not a number, so it cannot be summed"
        in flags
    )
    assert "table no_rows: give at least one item to group its rows by" in flags
    twice = flags_of(
        clients, application("obesity-twice", tables=[GOOD_TABLE, GOOD_TABLE])
    )
    assert "each table needs a name of its own" in twice


def test_an_aggregate_share_without_tables_is_flagged(clients) -> None:  # type: ignore[no-untyped-def]
    flags = flags_of(clients, application("obesity-no-tables", tables=[]))
    assert "an aggregate share must specify its tables" in flags


def _form(ref: str, why: str) -> list[tuple[str, str]]:
    body = application(ref)
    pairs = [
        (k, body[k])
        for k in ("id", "title", "gateway", "purpose", "level", "expiry", "destroy_by")
    ]
    pairs += [("year_groups", "R, 6"), ("dataset:ncmp", "The measurements.")]
    for item, item_why in body["datasets"]["ncmp"]["items"].items():
        pairs += [("items", f"ncmp.{item}"), (f"why:ncmp.{item}", item_why)]
    pairs += [
        ("table:0:name", "obesity_by_area"),
        ("table:0:dataset", "ncmp"),
        ("table:0:rows", "health_area, school_year"),
        ("table:0:columns", "weight_category"),
        ("table:0:measure", ""),
        ("table:0:why", why),
    ]
    return pairs


def test_the_form_flags_a_table_then_submits_it_with_its_justification(
    clients,
) -> None:  # type: ignore[no-untyped-def]
    c = clients["recipient"]
    page = c.get("/apply").text
    assert "Tables (aggregate shares only)" in page
    assert "Published service level" in page  # how long a decision takes
    assert 'name="table:0:name"' in page and 'name="table:1:name"' not in page
    flagged = post_form(c, "/apply", "/apply", _form("obesity-form", ""))
    assert flagged.status_code == 400  # nothing submitted
    assert "table obesity_by_area: no justification given" in flagged.text
    assert 'href="#table-0-why"' in flagged.text  # the summary links to the field
    assert 'name="table:1:name"' in flagged.text  # room for another table
    assert c.get("/agreements/obesity-form").status_code in (403, 404)
    why = "Prevalence by area and year group."
    done = post_form(c, "/apply", "/apply", _form("obesity-form", why))
    assert done.status_code == 303, done.text[-2000:]
    shown = c.get("/agreements/obesity-form")
    assert shown.status_code == 200
    assert "Tables and why each is needed" in shown.text and why in shown.text
    terms = c.get("/api/agreements/obesity-form").json()["terms"]
    assert terms["tables"] == [
        {
            "name": "obesity_by_area",
            "dataset": "ncmp",
            "rows": ["health_area", "school_year"],
            "columns": ["weight_category"],
            "measure": None,
            "filters": {},
            "justification": why,
        }
    ]
