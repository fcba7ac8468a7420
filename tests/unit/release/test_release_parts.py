"""Release parts on their own: NCMP centiles against rcpchgrowth, categories, plans,
pseudonyms, population scope and k-anonymity on generated data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.config import Home
from pupilshare.plan import (
    Population,
    ReleasePlan,
    Sdc,
    TableSpec,
    plan_from_json,
)
from pupilshare.release import anonymise, minimise, ncmp, population, pseudonymise
from pupilshare.store import Store

NCMP_ITEMS = ("ncmp.sex", "ncmp.bmi", "ncmp.bmi_centile", "ncmp.weight_category")


def _ncmp_store(rows: list[tuple]) -> Store:
    store = Store()
    store.rows(
        "CREATE TABLE m (sex VARCHAR, date_of_birth DATE, measurement_date DATE, "
        "height_cm DOUBLE, weight_kg DOUBLE)"
    )
    store.rows(
        f"INSERT INTO m VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(rows))}",
        [v for r in rows for v in r],
    )
    ncmp.ensure_lms(store)
    return store


def test_bmi_centile_agrees_with_rcpchgrowth() -> None:
    from rcpchgrowth import Measurement

    cases = [
        ("M", date(2013, 3, 15), date(2024, 2, 1), 145.0, 42.0),
        ("F", date(2018, 6, 1), date(2023, 3, 1), 108.0, 17.5),
        ("M", date(2012, 11, 20), date(2023, 6, 30), 150.0, 33.0),
    ]
    store = _ncmp_store(cases)
    bmi, centile = (ncmp.derived_expr(n, "b") for n in ("bmi", "bmi_centile"))
    got = store.rows(
        f"SELECT {bmi}, {centile} FROM m b {ncmp.join_sql('b')} ORDER BY b.rowid"
    )
    for (sex, born, seen, h, w), (bmi, centile) in zip(cases, got, strict=True):
        m = Measurement(
            sex="male" if sex == "M" else "female",
            birth_date=born,
            observation_date=seen,
            measurement_method="bmi",
            observation_value=w / (h / 100) ** 2,
            reference="uk-who",
        )
        want = m.measurement["measurement_calculated_values"]["chronological_centile"]
        assert abs(bmi - w / (h / 100) ** 2) < 0.01
        assert abs(centile - want) < 0.1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=50))
def test_weight_categories_follow_the_population_thresholds(cs: list[float]) -> None:
    cs = [*cs, 2.0, 85.0, 95.0, 99.6]  # the boundaries themselves
    got = Store().rows(
        f"SELECT {ncmp.weight_category_sql('c')} FROM unnest(?::DOUBLE[]) t(c)", [cs]
    )
    want = [
        "underweight"
        if c <= 2
        else "obese"
        if c >= 95  # severely obese included
        else "overweight"
        if c >= 85
        else "healthy weight"
        for c in cs
    ]
    assert [g[0] for g in got] == want


def test_a_plan_survives_json() -> None:
    plan = ReleasePlan(
        "A",
        "r",
        "g",
        "p",
        "aggregate",
        ("ncmp.la_code", "ncmp.weight_category"),
        population=Population(min_age=4, year_groups=("R",)),
        tables=(
            TableSpec(
                "t",
                "ncmp",
                ("la_code",),
                ("weight_category",),
                filters=(("school_year", ("R",)),),
            ),
        ),
        sdc=Sdc(threshold=7, rounding=5, p_ratio=0.2),
        reference_date=date(2025, 1, 2),
    )
    assert plan_from_json(plan.to_json()) == plan


def test_disclosure_parameters_out_of_range_are_refused_with_every_reason() -> None:
    import pytest

    with pytest.raises(ValueError) as e:
        Sdc(p_ratio=1.5, dominance_k=0, threshold=0)
    assert all(n in str(e.value) for n in ("p_ratio", "dominance_k", "threshold"))
    assert Sdc().p_ratio == 0.10  # ACRO's safe_pratio_p


def test_pseudonymised_level_drops_names_and_coarsens_dates() -> None:
    plan = ReleasePlan(
        "A",
        "r",
        "g",
        "p",
        "pseudonymised",
        (
            "census.surname",
            "census.upn",
            "census.date_of_birth",
            "census.postcode",
            "census.sex",
            "pupil.pupil_pseudonym",
            "pupil.upn",
        ),
    )
    sel = minimise.select(plan, "census")
    names = [c.name for c in sel.columns]
    assert names == ["date_of_birth_month", "postcode_area", "sex", "pupil_pseudonym"]
    assert len(sel.removed) == 3


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2**62), min_size=1, max_size=200, unique=True))
def test_pseudonyms_are_a_keyed_permutation(keys: list[int]) -> None:
    a = pseudonymise.encrypt_keys(np.array(keys), b"k" * 32).to_pylist()
    b = pseudonymise.encrypt_keys(np.array(keys), b"j" * 32).to_pylist()
    assert len(set(a)) == len(keys)  # no collisions
    assert not set(a) & set(b)  # another secret, other pseudonyms
    assert a == pseudonymise.encrypt_keys(np.array(keys), b"k" * 32).to_pylist()


def test_each_agreement_gets_its_own_secret(home: Home) -> None:
    one = pseudonymise.secret(home, "A/1")
    assert pseudonymise.secret(home, "A/1") == one
    assert pseudonymise.secret(home, "A-2") != one
    assert not home.store_path.exists() or b"" not in (one,)


def test_population_scope_filters_in_sql() -> None:
    plan = ReleasePlan(
        "A",
        "r",
        "g",
        "p",
        "anonymised",
        ("census.sex",),
        population=Population(
            min_age=5,
            max_age=6,
            year_groups=("1",),
            la_codes=("201",),
            academic_years=(2024,),
        ),
        reference_date=date(2024, 10, 1),
    )
    sql = population.eligible_sql(plan, "census", set())
    parts = (
        "ncyear IN ('1')",
        "substr(s.laestab, 1, 3) IN ('201')",
        "IN (2024)",
        ">= 5",
        "<= 6",
        "scope IN ('all', 'research')",
    )
    for part in parts:
        assert part in sql


quasi_rows = st.lists(
    st.tuples(
        st.sampled_from("MF"),
        st.sampled_from(["201", "202", "203"]),
        st.sampled_from(["WBRI", "AIND", "BAFR", "CHNE"]),
    ),
    min_size=30,
    max_size=300,
)


@settings(max_examples=20, deadline=None)
@given(quasi_rows, st.integers(2, 8))
def test_anonymised_output_is_k_anonymous_for_any_input(rows: list, k: int) -> None:
    store = Store()
    store.register(
        "src_arrow",
        pa.table(
            {
                "sex": [r[0] for r in rows],
                "la_code": [r[1] for r in rows],
                "ethnicity": [r[2] for r in rows],
                "__pupil_key": list(range(len(rows))),
            }
        ),
    )
    sel = minimise.Selection(
        (
            minimise.Column("sex", "s.sex", "census.sex", True),
            minimise.Column("la_code", "s.la_code", "census.la_code", True),
            minimise.Column(
                "ethnicity", "s.ethnicity", "census.ethnicity", True, ("major_group",)
            ),
        ),
        (),
    )
    result = anonymise.anonymise(
        store, sel, "SELECT * FROM src_arrow", Sdc(k_anonymity=k, max_suppression=0.1)
    )
    out = store.arrow(result.sql)
    if out.num_rows:
        sizes = out.group_by(["sex", "la_code", "ethnicity"]).aggregate(
            [([], "count_all")]
        )
        assert min(sizes.column("count_all").to_pylist()) >= k
    assert result.risk["records_suppressed"] <= 0.1 * len(rows)
    assert result.risk["prosecutor_risk_max"] <= 1 / k + 1e-4


def test_checker_sees_a_group_revealed_by_published_zeros() -> None:
    from pupilshare.release import check

    v = np.array([[30.0, 0.0, 30.0], [40.0, 25.0, 65.0], [70.0, 25.0, 95.0]])
    shown = np.zeros(v.shape, bool)
    assert check._revealing_zeros(v, shown, range(1, 2)) == 1
    hidden = shown.copy()
    hidden[0, :2] = True  # both of the group's cells suppressed
    assert check._revealing_zeros(v, hidden, range(1, 2)) == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=50))
def test_severely_obese_is_shown_as_of_which_within_obese(cs: list[float]) -> None:
    cs = [*cs, 94.99, 95.0, 99.59, 99.6]
    got = Store().rows(
        f"SELECT {ncmp.weight_category_sql('c')}, {ncmp.severely_obese_sql('c')} "
        "FROM unnest(?::DOUBLE[]) t(c)",
        [cs],
    )
    for c, (category, severe) in zip(cs, got, strict=True):
        assert (severe == "Y") == (c >= 99.6)
        assert severe == "N" or category == "obese"  # a subset of obese
    assert "severely obese" not in ncmp.CATEGORIES


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 199.99), st.sampled_from([2, 5, 6, 10, 12, 20]))
def test_a_measurement_band_holds_its_value(x: float, width: int) -> None:
    from pupilshare.release.derive import generalise_sql

    label = Store().one(
        f"SELECT {generalise_sql(f'band{width}', 'x')} FROM (SELECT ?::DOUBLE AS x)",
        [x],
    )
    lo, hi = map(int, label.split("-"))
    assert lo <= x < hi and hi - lo == width
