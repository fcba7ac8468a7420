"""Survey responses come back as a file, are validated like any return and matched
to the pupil index like any dataset."""

from __future__ import annotations

from datetime import date

from rich.console import Console
from tests.integration.test_match_run import _census

from pupilshare import catalogue
from pupilshare.collect import collect_files
from pupilshare.config import Home
from pupilshare.match import run_match
from pupilshare.store import Store
from pupilshare.synth.labelled_records import add_records

UPN = "A201361424123"


def test_responses_are_collected_and_matched(home: Home) -> None:
    with Store.open(home) as store:
        add_records(store, "census", [_census(UPN, "2012-03-04")])
        run_match(store, home, reference_date=date(2025, 6, 1))
        fore, sur = store.rows("SELECT forename, surname FROM pupils")[0]
    cols = catalogue.dataset("survey_responses").columns
    path = home.root / "responses.csv"
    rows = [
        {
            "survey_id": "PARENTS-2025",
            "response_date": "2025-05-01",
            "upn": UPN,
            "surname": sur,
            "forename": fore,
            "date_of_birth": "2012-03-04",
            "sex": "F",
            "postcode": "",
            "question": "Q1",
            "answer": "Agree",
        },
        {
            "survey_id": "PARENTS-2025",
            "response_date": "2025-05-01",
            "upn": UPN,
            "surname": sur,
            "forename": fore,
            "date_of_birth": "2012-03-04",
            "sex": "F",
            "postcode": "",
            "question": "Q2",
            "answer": "=cmd()",
        },
    ]
    path.write_text(
        ",".join(cols)
        + "\n"
        + "".join(",".join(r.get(c, "") for c in cols) + "\n" for r in rows)
    )
    result = collect_files(home, "survey_responses", [path], Console(quiet=True))
    assert [o.status for o in result.outcomes] == ["loaded"]
    with Store.open(home) as store:
        run_match(store, home, reference_date=date(2025, 6, 1))
        links = store.rows(
            "SELECT DISTINCT pupil_key FROM pupil_links "
            "WHERE dataset = 'survey_responses'"
        )
        assert links == store.rows("SELECT pupil_key FROM pupils")
