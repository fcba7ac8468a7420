"""Identifier builders and fault expressions, checked against the rules they imitate."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare import identifiers
from pupilshare.synth import faults, names
from pupilshare.synth.people import _rank_within, census_day, make_ulns, make_upns

LAS = sorted(identifiers.LA_NUMBERS)
CON = duckdb.connect()


@given(
    st.sampled_from(LAS),
    st.integers(1000, 7999),
    st.integers(2000, 2030),
    st.integers(0, 999),
    st.integers(0, 2299),
)
def test_upns_match_the_identifier_module(
    la: str, estab: int, year: int, serial: int, tserial: int
) -> None:
    laestab = np.array([f"{la}{estab:04d}"])
    upn = make_upns(laestab, np.array([year]), np.array([serial]))[0]
    assert upn == identifiers.make_upn(int(la), estab, year, serial)
    temp = make_upns(laestab, np.array([year]), np.array([tserial]), temporary=True)[0]
    tail = f"{tserial // 23:02d}{identifiers.UPN_LETTERS[tserial % 23]}"
    assert temp == identifiers.make_upn(int(la), estab, year, tail)
    assert identifiers.is_temporary_upn(temp) and identifiers.is_valid_upn(temp)


@given(st.integers(1, 3000), st.integers(100_000_000, 900_000_000))
@settings(max_examples=30)
def test_ulns_are_valid_and_distinct(n: int, base: int) -> None:
    ulns = make_ulns(n, base)
    assert len(ulns) == n == len(set(ulns.tolist()))
    assert all(identifiers.is_valid_uln(u) for u in ulns.tolist())


@given(st.lists(st.integers(0, 5), max_size=60))
def test_rank_within_counts_earlier_equal_keys(keys: list[int]) -> None:
    got = _rank_within(np.array(keys, dtype=np.int64)).tolist()
    assert got == [keys[:i].count(k) for i, k in enumerate(keys)]


@given(st.integers(2000, 2040))
def test_census_days_are_the_right_thursdays(year: int) -> None:
    autumn, spring, summer = (census_day(year, t) for t in range(3))
    assert all(d.weekday() == 3 for d in (autumn, spring, summer))
    assert autumn.month == 10 and autumn.day <= 7
    assert (spring.year, spring.month) == (year + 1, 1) and 15 <= spring.day <= 21
    assert (summer.year, summer.month) == (year + 1, 5) and 15 <= summer.day <= 21


def _one_slip_apart(a: str, b: str) -> bool:
    """Equal, or one character dropped, added, replaced or two neighbours swapped
    (counted in characters: DuckDB's edit distances count UTF-8 bytes)."""
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        swap = (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
        return len(diff) == 1 or swap
    short, long_ = sorted((a, b), key=len)
    return len(long_) == len(short) + 1 and any(
        long_[:i] + long_[i + 1 :] == short for i in range(len(long_))
    )


@given(
    st.sampled_from(names.BOYS + names.GIRLS + names.SURNAMES), st.integers(0, 2**30)
)
@settings(max_examples=300, deadline=None)  # the shared machine can be slow
def test_a_typo_is_one_slip_and_still_a_name(name: str, k: int) -> None:
    (typo,) = CON.execute(
        f"SELECT {faults.typo_sql('$1', '$2')}", [name, k]
    ).fetchall()[0]
    assert _one_slip_apart(name, typo)
    assert typo[0] == name[0] and len(typo) >= len(name) - 1
    assert CON.execute(
        "SELECT regexp_full_match($1, '\\pL[\\pL'' -]*')", [typo]
    ).fetchall()[0][0]


def _school_year(d: date) -> int:
    return d.year + (d.month >= 9)


@given(st.dates(date(2000, 1, 1), date(2024, 12, 31)))
def test_swapped_dates_stay_in_the_same_school_year(d: date) -> None:
    if not (d.day <= 12 and d.day != d.month and (d.month >= 9) == (d.day >= 9)):
        return  # the generator only swaps such dates
    (swapped,) = CON.execute(
        f"SELECT {faults.swapped_sql('$1::DATE')}", [d]
    ).fetchall()[0]
    assert (swapped.day, swapped.month, swapped.year) == (d.month, d.day, d.year)
    assert _school_year(swapped) == _school_year(d)
    assert abs(swapped - d) < timedelta(days=366)


@given(st.sampled_from(LAS), st.integers(1000, 7999), st.integers(0, 999))
def test_a_moved_check_letter_is_always_wrong(la: str, estab: int, serial: int) -> None:
    upn = identifiers.make_upn(int(la), estab, 2020, serial)
    (bad,) = CON.execute(
        f"SELECT {faults.bad_check_letter_sql('$1')}", [upn]
    ).fetchall()[0]
    assert bad[1:] == upn[1:] and bad != upn
    assert (
        identifiers.upn_problem(bad) == "UPN check letter is wrong (census error 1510)"
    )
