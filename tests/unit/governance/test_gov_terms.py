"""Agreement terms: reading, relative dates, and amendments as exact differences."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pupilshare.errors import InvalidInput
from pupilshare.governance import terms
from pupilshare.governance.amend import to_raw
from pupilshare.governance.seeds import read_seeds

TODAY = date(2026, 12, 1)


@given(st.integers(-5000, 5000))
def test_relative_dates(days: int) -> None:
    text = f"today{'+' if days >= 0 else '-'}{abs(days)}"
    assert terms.parse_date(text, TODAY) == TODAY + timedelta(days=days)


def test_unreadable_terms_list_every_problem() -> None:
    with pytest.raises(InvalidInput) as e:
        terms.normalise(
            {"id": "x", "level": "secret", "colour": "red", "frequency": "hourly"},
            TODAY,
        )
    text = " ".join(e.value.errors)
    for fragment in (
        "colour: not a term",
        "purpose: required",
        "'secret'",
        "'hourly'",
        "expiry: required",
        "datasets",
    ):
        assert fragment in text


def test_disclosure_terms_are_refused_at_submission_not_at_release() -> None:
    seed = read_seeds()["agreements"][0]
    for sdc, fragment in (
        ({"threshold": 0}, "threshold must be 1 or more"),
        ({"p_ratio": 1.5}, "p_ratio must be in [0, 1)"),
        ({"thresold": 5}, "unknown keys thresold"),
    ):
        with pytest.raises(InvalidInput) as e:
            terms.normalise({**seed, "sdc": sdc}, TODAY)
        assert any(fragment in err for err in e.value.errors), e.value.errors
    assert terms.normalise({**seed, "sdc": {"threshold": 5}}, TODAY)["sdc"] == {
        "threshold": 5
    }


SEEDS = [terms.normalise(a, TODAY) for a in read_seeds()["agreements"]]


@given(st.sampled_from(SEEDS), st.sampled_from(SEEDS))
def test_a_diff_applied_gives_the_amended_terms(a: dict, b: dict) -> None:
    d = terms.diff(a, b)
    assert terms.normalise(to_raw(terms.apply_diff(a, d)), TODAY) == b
    assert (d == {}) == (a == b)


@pytest.mark.parametrize("bad", ["../../etc", "A1", "x", "a b", "a/b", "-a"])
def test_ids_are_safe_directory_names(bad: str) -> None:
    raw = {**read_seeds()["agreements"][0], "id": bad}
    with pytest.raises(InvalidInput) as e:
        terms.normalise(raw, TODAY)
    assert any(x.startswith("id:") for x in e.value.errors)


def test_to_raw_inverts_normalise() -> None:
    for t in SEEDS:
        assert terms.normalise(to_raw(t), TODAY) == t


@given(
    st.sampled_from(SEEDS),
    st.data(),
    st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()),
)
def test_the_terms_digest_changes_with_any_term(t: dict, data, value) -> None:  # type: ignore[no-untyped-def]
    """A decision's digest fingerprints every term: a change to any one leaf
    (flattened as amendments see them) changes it; key order never does."""
    flat = terms.flatten(t)
    key = data.draw(st.sampled_from(sorted(flat)))
    changed = terms.unflatten({**flat, key: value})
    same = terms.unflatten(dict(reversed(list(flat.items()))))
    assert terms.digest(same) == terms.digest(t)
    assert (terms.digest(changed) == terms.digest(t)) == (changed == t)


def test_a_synthetic_nation_gives_the_seed_college_one_of_its_schools() -> None:
    """The seeds' post-16 college is a real DfE number, which a synthetic nation has
    no pupils at: its lookup agreement is pointed at a school the nation has, and
    only that agreement's ``records_at`` changes."""
    from pupilshare.governance.seeds import for_nation

    seeds = read_seeds()
    out = for_nation(seeds, ["201", "202"], ["2014001"])
    at = {
        a["id"]: a["population"]["records_at"]
        for a in out["agreements"]
        if a.get("population", {}).get("records_at")
    }
    before = {
        a["id"]: a["population"]["records_at"]
        for a in seeds["agreements"]
        if a.get("population", {}).get("records_at")
    }
    changed = {k for k in at if at[k] != before[k]}
    assert changed == {"riverside-plr"}
    assert at["riverside-plr"] == {**before["riverside-plr"], "value": "2014001"}
    # without schools every records_at is left as the seeds have it
    kept = for_nation(seeds, ["201", "202"])["agreements"]
    assert [a.get("population", {}).get("records_at") for a in kept] == [
        a.get("population", {}).get("records_at") for a in seeds["agreements"]
    ]
