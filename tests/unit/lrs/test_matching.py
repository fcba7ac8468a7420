"""The learner matcher's decision rule: a ULN only for one unambiguous candidate."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pupilshare.lrs.details import Details, name_key
from pupilshare.lrs.matching import decide, score
from pupilshare.lrs.models import Learner

NAMES = st.sampled_from(["Ada", "Alan", "Grace", "Tim", "Mary", "Bill", "William"])
SURNAMES = st.sampled_from(["Lovelace", "Turing", "Hopper", "Lee", "Smith", "Smyth"])
DATES = st.dates(date(2000, 1, 1), date(2012, 12, 31))
POSTCODES = st.sampled_from(["SW1A1AA", "M11AE", "LS12AB", "B11AA"])


def learner(n: int, d: Details) -> Learner:
    return Learner(
        learner_id=n,
        uln=f"{n:010d}",
        forenames=d.forenames,
        surname=d.surname,
        date_of_birth=d.date_of_birth,
        sex=d.sex,
        postcode=d.postcode,
        upn=d.upn,
        forename_key=name_key(d.forenames),
        surname_key=name_key(d.surname),
        birth_year=d.date_of_birth.year,
    )


details = st.builds(
    Details,
    forenames=NAMES,
    surname=SURNAMES,
    date_of_birth=DATES,
    sex=st.sampled_from("MFU"),
    postcode=POSTCODES,
)


@given(details, details)
def test_two_learners_alike_never_give_a_uln(query: Details, person: Details) -> None:
    twins = [learner(1, person), learner(2, person)]
    assert decide(query, twins).kind != "match"


@given(details, st.lists(details, max_size=6))
def test_a_match_is_the_best_candidate_and_stands_alone(
    query: Details, people: list[Details]
) -> None:
    found = [learner(n, p) for n, p in enumerate(people, start=1)]
    out = decide(query, found)
    if out.kind == "match":
        assert out.learner is not None
        best = score(query, out.learner)
        others = [score(query, c) for c in found if c is not out.learner]
        assert all(s < 6.0 for s in others)
        assert all(best >= s for s in others)


@given(details)
def test_exact_details_find_their_learner(person: Details) -> None:
    out = decide(person, [learner(1, person)])
    assert out.kind == "match" and out.learner is not None


@given(details)
def test_a_different_date_of_birth_and_name_is_not_a_match(person: Details) -> None:
    other = Details(
        "Zebedee",
        "Quartermaine",
        person.date_of_birth + timedelta(days=400),
        "U",
        "ZZ99ZZ",
    )
    assert decide(other, [learner(1, person)]).kind == "none"
