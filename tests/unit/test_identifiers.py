"""UPN and ULN rules: the domain's test vectors, property tests, and Python = SQL."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.identifiers import (
    LA_NUMBERS,
    UPN_LETTERS,
    UlnIssuer,
    is_temporary_upn,
    is_valid_uln,
    is_valid_upn,
    make_upn,
    uln_check_digit,
    uln_problem,
    uln_problem_sql,
    upn_check_letter,
    upn_problem,
    upn_problem_sql,
)

LAS = sorted(int(n) for n in LA_NUMBERS)


@pytest.mark.parametrize(
    "upn",
    [
        "H801200001001",
        "B801200005001",
        "A201361424123",
        "R936401223457",
        "G80120000101A",
        "M33020012412A",
    ],
)
def test_domain_valid_upns(upn: str) -> None:
    assert upn_problem(upn) is None


@pytest.mark.parametrize("upn", ["A950000178301", "H243278544154"])
def test_check_letter_right_but_la_not_recognised(upn: str) -> None:
    # The domain lists these as check-letter valid; their LA numbers (950, 243) are
    # not in the census 1530 list, so the census rejects them with that reason.
    assert upn[0] == upn_check_letter(upn[1:])
    assert "1530" in (upn_problem(upn) or "")


@pytest.mark.parametrize(
    ("upn", "code"),
    [("Z801200001001", "1510"), ("A801200005001", "1510"), ("R900400001001", "1530")],
)
def test_domain_invalid_upns(upn: str, code: str) -> None:
    assert code in (upn_problem(upn) or "")


def test_vendor_example_check_letter_is_p() -> None:
    assert upn_check_letter("207000016049") == "P"


@pytest.mark.parametrize(
    "uln", ["9276308686", "1234567899", "5000000004", "7123456784"]
)
def test_domain_valid_ulns(uln: str) -> None:
    assert is_valid_uln(uln)


def test_temporary_uln_fails_the_check_digit() -> None:
    assert uln_problem("9999999999") == "ULN check digit is wrong"


upns = st.builds(
    make_upn,
    st.sampled_from(LAS),
    st.integers(0, 9999),
    st.integers(0, 99),
    st.one_of(
        st.integers(0, 999),
        st.builds(
            lambda n, c: f"{n:02d}{c}", st.integers(0, 99), st.sampled_from(UPN_LETTERS)
        ),
    ),
)


def _ulns() -> st.SearchStrategy[str]:
    stems = st.integers(100_000_000, 999_999_999).map(lambda n: f"{n:09d}")
    return stems.filter(lambda s: (uln_check_digit(s) or 10) < 10).map(
        lambda s: f"{s}{uln_check_digit(s)}"
    )


@given(upns)
def test_every_generated_upn_validates(upn: str) -> None:
    assert is_valid_upn(upn)


@given(upns, st.integers(0, 12), st.sampled_from("0123456789" + UPN_LETTERS))
def test_every_single_character_change_to_a_upn_is_caught(
    upn: str, pos: int, ch: str
) -> None:
    changed = upn[:pos] + ch + upn[pos + 1 :]
    if changed != upn and not _kind_alias(upn, changed):
        assert not is_valid_upn(changed)


def _kind_alias(upn: str, changed: str) -> bool:
    """The one change the check letter cannot see, by the scheme's design: the last
    character swapped between a digit and the letter whose table index is that digit
    (3 <-> D) turns a permanent UPN into a well-formed temporary one with the same
    weighted sum, or back."""
    a, b = upn[12], changed[12]
    value = {c: (int(c) if c.isdigit() else UPN_LETTERS.index(c)) for c in (a, b)}
    return (
        upn[:12] == changed[:12]
        and a.isdigit() != b.isdigit()
        and (value[a] == value[b])
    )


@given(upns)
def test_the_kind_alias_is_the_only_escape_and_changes_the_upn_kind(upn: str) -> None:
    last = upn[12]
    twin = str(UPN_LETTERS.index(last)) if last.isalpha() else UPN_LETTERS[int(last)]
    if len(twin) == 1:
        changed = upn[:12] + twin
        assert is_valid_upn(changed)
        assert is_temporary_upn(changed) != is_temporary_upn(upn)


@given(_ulns())
def test_every_generated_uln_validates(uln: str) -> None:
    assert is_valid_uln(uln)


@given(_ulns(), st.integers(0, 9), st.sampled_from("0123456789"))
def test_every_single_digit_change_to_a_uln_is_caught(
    uln: str, pos: int, d: str
) -> None:
    changed = uln[:pos] + d + uln[pos + 1 :]
    if changed != uln:
        assert not is_valid_uln(changed)


@settings(max_examples=300)
@given(
    st.one_of(
        upns, st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=0, max_size=14)
    )
)
def test_upn_sql_agrees_with_python(value: str) -> None:
    sql = f"SELECT {upn_problem_sql('v')} FROM (SELECT ?::VARCHAR AS v)"
    assert duckdb.execute(sql, [value]).fetchone()[0] == upn_problem(value)


@settings(max_examples=300)
@given(st.one_of(_ulns(), st.text("0123456789", min_size=0, max_size=11)))
def test_uln_sql_agrees_with_python(value: str) -> None:
    sql = f"SELECT {uln_problem_sql('v')} FROM (SELECT ?::VARCHAR AS v)"
    assert duckdb.execute(sql, [value]).fetchone()[0] == uln_problem(value)


def test_issuer_never_repeats_and_skips_numbers_in_use() -> None:
    first = UlnIssuer()
    taken = [first.issue() for _ in range(50)]
    issued: list[str] = []
    second = UlnIssuer(in_use=taken[::2], persist=issued.append)
    more = [second.issue() for _ in range(500)]
    assert len(set(more)) == 500
    assert not set(more) & set(taken[::2])
    assert issued == more
    assert all(is_valid_uln(u) for u in more)
